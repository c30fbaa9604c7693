#!/bin/sh
# Runs every unit-test program given as arguments and prints one total.
passed=0; failed=0; status=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
    f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    [ -n "$p" ] && passed=$((passed + p))
    if [ -n "$f" ]; then failed=$((failed + f)); fi
    if [ $rc -ne 0 ]; then status=1; [ -z "$line" ] && failed=$((failed + 1)); fi
done
echo "unit: $passed passed, $failed failed"
exit $status
