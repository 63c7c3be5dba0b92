#!/bin/bash
# pcpu-selftest must tell a broken kernel from a good one. A kernel that
# does not abort is simulated by building the tool with its test sequence
# never armed (PCPU_SELFTEST_UNARMED): every abort check must then say
# BROKEN and the tool exit 1; the single-step check must catch the
# committed sequences too. Whether this kernel is good is the business of
# the pcpu-selftest runs in tests/run.sh.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$root/$B ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${SANITIZE:-}" ]; then
	echo "skip: instrumented build (SANITIZE=$SANITIZE)"
	exit 77
fi
if [ ! -f "$B/libpercpu.a" ]; then
	echo "no $B/libpercpu.a: run make first"
	exit 1
fi
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -DPCPU_SELFTEST_UNARMED \
	-I"$root/include" -pthread -o "$tmp/unarmed" \
	"$root/tools/pcpu-selftest.c" "$B/libpercpu.a" -pthread || exit 1
"$tmp/unarmed" -t 0.3 > "$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
if [ $rc = 77 ]; then
	echo "skip: $(grep -m1 '^pcpu-selftest: ' "$tmp/out" | sed 's/^pcpu-selftest: //')"
	exit 77
fi
fails=0
[ $rc = 1 ] || { echo "FAILED: exit $rc with an unarmed sequence, expected 1"; fails=$((fails + 1)); }
for c in preempt-abort preempt-abort-cid migrate-abort signal-abort single-step-abort; do
	line=$(grep -E "^$c +" "$tmp/out")
	case $line in
	*" BROKEN ("*) ;;
	*" skip: "*) echo "($c skipped here: ${line#*skip: })" ;;
	*) echo "FAILED: $c did not notice: '$line'"; fails=$((fails + 1)) ;;
	esac
done
grep -q '^verdict: BROKEN' "$tmp/out" || { echo "FAILED: no BROKEN verdict"; fails=$((fails + 1)); }
[ $fails = 0 ] || exit 1
echo "ok: every abort check caught the unarmed sequence"
