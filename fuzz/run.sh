#!/bin/sh
# Builds every libFuzzer target fuzz/fuzz_NAME.c into build-fuzz/ (with
# ASan + UBSan, see fuzz/fuzz.mk) and runs each for $FUZZ_SECONDS (default
# 30), starting from its committed seeds fuzz/seeds/fuzz_NAME/. New corpus
# entries go to fuzz/corpus-fuzz_NAME/ (gitignored, kept across runs); a
# crash, leak, UB report or timeout is written to build-fuzz/fuzz_NAME-* and
# fails the run.
#
#   sh fuzz/run.sh                    every target, $FUZZ_SECONDS each
#   sh fuzz/run.sh fuzz_bind ...      only these targets
#   sh fuzz/run.sh --smoke            (or FUZZ_SECONDS=0) replay the seeds
#                                     through every target once: a fast
#                                     regression check for `make test`
set -eu
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
if [ "${1:-}" = "--smoke" ]; then
    FUZZ_SECONDS=0
    shift
fi
CC=${FUZZ_CC:-clang}
OUT=build-fuzz
JOBS=$(nproc 2>/dev/null || echo 2)

make -s -f fuzz/fuzz.mk -j"$JOBS" CC="$CC"

if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)
fi

status=0
for t in $targets; do
    [ -x "$OUT/$t" ] || { echo "fuzz: no target $t"; status=1; continue; }
    [ -d "fuzz/seeds/$t" ] || { echo "fuzz: $t has no seeds in fuzz/seeds/$t"; status=1; continue; }
    rm -f "$OUT/$t"-crash-* "$OUT/$t"-leak-* "$OUT/$t"-timeout-* "$OUT/$t"-oom-*
    # Targets that reach logging or CLI code print on every input: libFuzzer
    # keeps its own and the sanitizers' reports when the target's stdout and
    # stderr are closed (-close_fd_mask=3).
    common="-timeout=10 -rss_limit_mb=2048 -max_len=65536 -close_fd_mask=3 -artifact_prefix=$OUT/$t-"
    if [ "$FUZZ_SECONDS" = 0 ]; then
        # shellcheck disable=SC2086
        if ! "$OUT/$t" $common -runs=0 "fuzz/seeds/$t" >"$OUT/$t.log" 2>&1; then
            echo "fuzz: $t FAILED on its seeds (see $OUT/$t.log)"
            tail -n 40 "$OUT/$t.log"
            status=1
        else
            echo "fuzz: $t seeds ok ($(ls "fuzz/seeds/$t" | wc -l) inputs)"
        fi
        continue
    fi
    mkdir -p "fuzz/corpus-$t"
    echo "fuzz: running $t for ${FUZZ_SECONDS}s"
    # shellcheck disable=SC2086
    if ! "$OUT/$t" $common -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
        "fuzz/corpus-$t" "fuzz/seeds/$t" >"$OUT/$t.log" 2>&1; then
        echo "fuzz: $t FAILED (see $OUT/$t.log and $OUT/$t-crash-*)"
        tail -n 40 "$OUT/$t.log"
        status=1
    else
        grep -E '^stat::number_of_executed_units' "$OUT/$t.log" || true
        echo "fuzz: $t ok"
    fi
done
exit $status
