#!/bin/bash
# make bench: runs every bench program (bench_*) once per backend (mode
# "pcpu") and once for its baselines, and every peer program (peer_*,
# BENCH_PEERS) once (mode "peer"; the LTTng one inside the session that
# bench/lttng.sh sets up), one family of benches at a time (see below),
# then prints the table and the targets (bench/report.c), draws the plots
# and writes the summary.
#
# A skip (a backend this kernel lacks, a peer whose package is missing)
# is printed with its reason and the run goes on; a failure is printed,
# the run goes on too, and the exit status is 1 at the end.
set -u
B=${B:-build}
out=$B/bench
mkdir -p "$out"
raw=$out/raw.jsonl
: >"$raw"
export BENCH_CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
export BENCH_NCPUS=$(nproc)
export BENCH_KERNEL=$(uname -r)
export BENCH_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export BENCH_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
[ -n "${BENCH_TIME:-}" ] || unset BENCH_TIME
[ -n "${BENCH_THREADS:-}" ] || unset BENCH_THREADS
unset BENCH_ONLY
peers=${BENCH_PEERS:-}
echo "machine: $BENCH_CPU, $BENCH_NCPUS CPUs, Linux $BENCH_KERNEL," \
     "load average $BENCH_LOAD at the start"
echo "ns_per_op = wall time of the run / all threads' ops; threads pinned" \
     "round-robin; threads ${BENCH_THREADS:-1,2,4,8,16};" \
     "${BENCH_TIME:-0.3} s per repetition"

# Families of benches, measured one at a time with every program that
# has them (ours, then the peers; BENCH_ONLY selects the benches by name
# prefix), so that the rows a ratio compares are measured minutes apart
# at most, not across the whole run: on a shared machine the load changes
# in between.  A program in no family runs at the end with all it has.
families="counter brlock ring cache"
members_counter="bench_counter peer_ck peer_kselftest_rseq"
members_brlock="bench_lock peer_ck peer_urcu"
members_ring="bench_ring bench_ring_write peer_ck peer_lttng"
members_cache="bench_cache peer_cache_jemalloc peer_cache_tcmalloc"
members_cache="$members_cache peer_kselftest_rseq"
members_other=
known=" $members_counter $members_brlock $members_ring $members_cache "
for b in "$B"/bench/bench_* $peers; do
	name=$(basename "$b")
	case $name in
	*.*) continue ;;
	esac
	case "$known" in
	*" $name "*) ;;
	*) members_other="$members_other $name" ;;
	esac
done
[ -n "$members_other" ] && families="$families other"

steps=0
for f in $families; do
	eval "m=\$members_$f"
	for name in $m; do
		case $name in
		bench_*) steps=$((steps + 5)) ;;
		*) steps=$((steps + 1)) ;;
		esac
	done
done
step=0
start=$SECONDS
failed=()
backends=""
said="|"

# The load average on every line: other work on the machine is the main
# source of noise here, and this says when it came.
progress() {
	step=$((step + 1))
	local t=$((SECONDS - start))
	printf '[%2d/%d %2d:%02d, load %s] %s\n' "$step" "$steps" \
		$((t / 60)) $((t % 60)) "$(cut -d' ' -f1 /proc/loadavg)" "$*"
}

# Say a skip once, not once per family.
once() {
	case "$said" in
	*"|$1|"*) return ;;
	esac
	said="$said$1|"
	echo "$1"
}

# run LABEL CMD...: rows to raw.jsonl, human lines to the terminal.
# Returns the command's status; 77 is a skip, reason printed.
run() {
	local label=$1 rc
	shift
	"$@" >>"$raw" 2>"$out/err"
	rc=$?
	if [ $rc = 77 ]; then
		grep -v '^skip: ' "$out/err" >&2
		once "  $label skipped: $(grep -m1 '^skip: ' "$out/err" |
			sed 's/^skip: //')"
		return 77
	fi
	cat "$out/err" >&2
	if [ $rc != 0 ]; then
		echo "  $label FAILED (exit $rc)"
		failed+=("$label${BENCH_ONLY:+ ($BENCH_ONLY)}")
	fi
	return $rc
}

# run_bench NAME: once per backend, then the baselines.
run_bench() {
	local name=$1 b=$B/bench/$1 bk
	for bk in gs gs-pinned rseq atomic; do
		progress "$f: $name pcpu-$bk"
		PCPU_BACKEND=$bk run "$name pcpu-$bk" "$b" pcpu || continue
		case " $backends " in
		*" $bk "*) ;;
		*) backends="$backends $bk" ;;
		esac
	done
	progress "$f: $name baselines"
	run "$name baselines" "$b" baseline
}

run_peer() {
	local name=$1 b=$B/bench/$1
	progress "$f: $name"
	if [ ! -x "$b" ]; then
		once "  $name skipped: $(cat "$b.skip" 2>/dev/null ||
			echo "not built")"
		return
	fi
	case $name in
	peer_lttng) run "$name" bench/lttng.sh "$out" "$b" ;;
	*) run "$name" "$b" peer ;;
	esac
}

for f in $families; do
	eval "m=\$members_$f"
	if [ "$f" = other ]; then
		unset BENCH_ONLY
	else
		export BENCH_ONLY=$f
	fi
	for name in $m; do
		case $name in
		bench_*)
			if [ -x "$B/bench/$name" ]; then
				run_bench "$name"
			else
				step=$((step + 5))
			fi
			;;
		*)
			run_peer "$name"
			;;
		esac
	done
done
unset BENCH_ONLY
t=$((SECONDS - start))
export BENCH_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "measured in $((t / 60)) min $((t % 60)) s; load average $BENCH_LOAD_END" \
     "at the end"

export BENCH_BACKENDS="${backends# }"
export BENCH_SECONDS=$t
"$B"/bench/report "$out" <"$raw" || failed+=("report")

rm -f "$out"/*.png
if ! command -v gnuplot >/dev/null; then
	echo "plots NOT drawn: gnuplot is not installed (Debian gnuplot-nox;" \
	     "make bench tried to install it)"
elif ! gnuplot "$out/plots.gp" 2>"$out/gnuplot.err"; then
	echo "plots NOT drawn: gnuplot failed:"
	sed 's/^/  /' "$out/gnuplot.err"
else
	echo "plots: $(ls "$out"/*.png | wc -l) PNGs in $out/" \
	     "($(cd "$out" && ls *.png | tr '\n' ' '))"
fi
echo "results: $out/results.json   summary: $out/summary.md"
if [ ${#failed[@]} -gt 0 ]; then
	echo "bench FAILED: ${failed[*]}"
	exit 1
fi
