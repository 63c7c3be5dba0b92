#!/bin/bash
# make bench: runs every bench program (bench_*) once per backend (mode
# "pcpu") and once for its baselines, and every peer program (peer_*,
# BENCH_PEERS) once (mode "peer"; the LTTng one inside the session that
# bench/lttng.sh sets up), then prints the table and the targets
# (bench/report.c), draws the plots and writes the summary.
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
peers=${BENCH_PEERS:-}
echo "machine: $BENCH_CPU, $BENCH_NCPUS CPUs, Linux $BENCH_KERNEL," \
     "load average $BENCH_LOAD at the start"
echo "ns_per_op = wall time of the run / all threads' ops; threads pinned" \
     "round-robin; threads ${BENCH_THREADS:-1,2,4,8,16};" \
     "${BENCH_TIME:-0.3} s per repetition"

progs=()
for b in "$B"/bench/bench_*; do
	[ -x "$b" ] && progs+=("$b")
done
steps=$(( ${#progs[@]} * 5 + $(echo $peers | wc -w) ))
step=0
start=$SECONDS
failed=()
backends=""

# The load average on every line: other work on the machine is the main
# source of noise here, and this says when it came.
progress() {
	step=$((step + 1))
	local t=$((SECONDS - start))
	printf '[%2d/%d %2d:%02d, load %s] %s\n' "$step" "$steps" \
		$((t / 60)) $((t % 60)) "$(cut -d' ' -f1 /proc/loadavg)" "$*"
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
		echo "  $label skipped: $(grep -m1 '^skip: ' "$out/err" |
			sed 's/^skip: //')"
		return 77
	fi
	cat "$out/err" >&2
	if [ $rc != 0 ]; then
		echo "  $label FAILED (exit $rc)"
		failed+=("$label")
	fi
	return $rc
}

for b in "${progs[@]}"; do
	name=$(basename "$b")
	for bk in gs gs-pinned rseq atomic; do
		progress "$name pcpu-$bk"
		PCPU_BACKEND=$bk run "$name pcpu-$bk" "$b" pcpu &&
		case " $backends " in
		*" $bk "*) ;;
		*) backends="$backends $bk" ;;
		esac
	done
	progress "$name baselines"
	run "$name baselines" "$b" baseline
done
for p in $peers; do
	progress "$p"
	if [ ! -x "$B/bench/$p" ]; then
		echo "  $p skipped: $(cat "$B/bench/$p.skip" 2>/dev/null ||
			echo "not built")"
		continue
	fi
	case $p in
	peer_lttng) run "$p" bench/lttng.sh "$out" "$B/bench/$p" ;;
	*) run "$p" "$B/bench/$p" peer ;;
	esac
done
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
