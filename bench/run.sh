#!/bin/bash
# make bench: runs every bench program once per backend and once for the
# baselines, then prints the table and targets (bench/report.c) and plots.
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
echo "machine: $BENCH_CPU, $BENCH_NCPUS CPUs, Linux $BENCH_KERNEL"
echo "ns_per_op = wall time of the run / all threads' ops; threads pinned round-robin"
backends=""
for b in "$B"/bench/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	for bk in gs gs-pinned rseq atomic; do
		PCPU_BACKEND=$bk "$b" pcpu >>"$raw" 2>"$out/err"
		rc=$?
		if [ $rc = 77 ]; then
			echo "  pcpu[$bk] skipped: $(sed 's/^skip: //' "$out/err")"
			continue
		fi
		cat "$out/err" >&2
		[ $rc = 0 ] || { echo "  pcpu[$bk] FAILED (exit $rc)"; exit 1; }
		case " $backends " in *" $bk "*) ;; *) backends="$backends $bk" ;; esac
	done
	"$b" baseline >>"$raw" || { echo "  baselines FAILED"; exit 1; }
done
export BENCH_BACKENDS="${backends# }"
"$B"/bench/report "$out" <"$raw" || exit 1
if scripts/need-packages.sh gnuplot-nox && command -v gnuplot >/dev/null; then
	gnuplot "$out/plots.gp" && echo "plots: $(ls "$out"/*.png | tr '\n' ' ')"
else
	echo "plots skipped: gnuplot not available"
fi
echo "results: $out/results.json"
