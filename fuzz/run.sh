#!/bin/sh
# Builds each libFuzzer target with ASan+UBSan and runs it for
# $FUZZ_SECONDS (default 30) from its seed corpus fuzz/seeds/<target>/.
# New corpus entries go to build-fuzz/corpus/<target>/ (the seeds stay as
# committed); crashes are written to build-fuzz/ and fail the run.
set -eu
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang}
OUT=build-fuzz
mkdir -p "$OUT"
CFLAGS="-std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc $(pkg-config --cflags jansson yaml-0.1)"
LIBS="$(pkg-config --libs jansson yaml-0.1) -lm"
MODEL="src/model/job.c src/model/template.c src/base/error.c src/base/util.c src/base/parse.c src/base/fs.c"

build() { # target, sources...
    t=$1; shift
    echo "fuzz: building $t"
    # shellcheck disable=SC2086
    $CC $CFLAGS -o "$OUT/$t" "fuzz/$t.c" "$@" $LIBS
}

build fuzz_job_json $MODEL
build fuzz_jobfile src/config/jobfile.c $MODEL

status=0
for t in fuzz_job_json fuzz_jobfile; do
    mkdir -p "$OUT/corpus/$t"
    echo "fuzz: running $t for ${FUZZ_SECONDS}s"
    if ! "$OUT/$t" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/$t-" -print_final_stats=1 "$OUT/corpus/$t" "fuzz/seeds/$t" \
        >"$OUT/$t.log" 2>&1; then
        echo "fuzz: $t FAILED (see $OUT/$t.log and $OUT/$t-crash-*)"
        tail -n 40 "$OUT/$t.log"
        status=1
    else
        grep -E '^stat::number_of_executed_units' "$OUT/$t.log" || true
        echo "fuzz: $t ok"
    fi
done
exit $status
