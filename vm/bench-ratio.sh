#!/bin/sh
# vm/bench-ratio.sh PATCHED.txt UNPATCHED.txt - compare the context-switch
# benchmark (bench_ctxswitch) run by vm/run.sh on the patched and the
# unpatched kernel. Under QEMU TCG the absolute numbers mean little and
# run-to-run noise is several percent: read the ratios as rough.
set -eu
get() {	# get FILE MODE -> ns per round trip
	sed -n "s/^# BENCH\[[^]]*\] ctxswitch $2 ns_per_roundtrip=\([0-9]*\).*/\1/p" "$1" | head -1
}
up=$(get "$2" plain)
pp=$(get "$1" plain)
pg=$(get "$1" gs_percpu)
if [ -z "$up" ] || [ -z "$pp" ]; then
	echo "# bench-ratio: missing results" >&2
	exit 1
fi
ratio() { printf "%.3f" "$(echo "scale=4; $1 / $2" | bc)"; }
echo "# ctxswitch round trip (2 context switches), ns:"
echo "#   unpatched kernel, plain tasks:     $up"
echo "#   patched kernel, plain tasks:       $pp  (x$(ratio "$pp" "$up") vs unpatched)"
[ -n "$pg" ] &&
echo "#   patched kernel, striped tasks:     $pg  (x$(ratio "$pg" "$up") vs unpatched)"
echo "# (QEMU TCG timings: rough, compare ratios only)"
