#!/bin/sh
# vm/bench-ratio.sh PATCHED.txt UNPATCHED.txt - compare the context-switch
# benchmark (bench_ctxswitch) run by vm/run.sh on the patched and the
# unpatched kernel. Under QEMU -icount shift=0 (what vm-bench uses) a
# guest "ns" is one guest instruction: the numbers count instructions per
# round trip and repeat to within a few; under plain TCG they are wall
# time, and vary by 15-30% from run to run on a loaded host.
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
ratio() { printf "%.4f" "$(echo "scale=5; $1 / $2" | bc)"; }
delta() { printf "%+d" $(( $1 - $2 )); }
case " ${VM_QEMU_ARGS:-} " in
*" -icount "*) unit="guest instructions (QEMU -icount shift=0)" ;;
*) unit="ns of TCG wall time: rough, compare ratios only" ;;
esac
echo "# ctxswitch round trip (2 context switches), $unit:"
echo "#   unpatched kernel, plain tasks:     $up"
echo "#   patched kernel, plain tasks:       $pp  (x$(ratio "$pp" "$up"), $(delta "$pp" "$up") vs unpatched)"
[ -n "$pg" ] &&
echo "#   patched kernel, striped tasks:     $pg  (x$(ratio "$pg" "$up"), $(delta "$pg" "$up") vs unpatched)"
exit 0
