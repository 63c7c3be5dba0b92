#!/bin/bash
# Runs every test; prints PASS/FAIL/SKIP lines and the closing
# "N passed, N failed, N skipped" line.  Exit status 1 on any failure.
#
#   B          build directory (default build)
#   SANITIZE   set when the build is instrumented: valgrind and the kernel
#              VM are skipped (with the reason printed)
#   PCPU_TESTS only run tests whose name matches this pattern
#   PCPU_SKIP_VM  skip the kernel VM (reported as a skip)
set -u
B=${B:-build}
SANITIZE=${SANITIZE:-}
TIMEOUT=${TEST_TIMEOUT:-600}
pass=0 fail=0 skip=0
failed_names=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

result() {	# result STATUS NAME [REASON]
	case $1 in
	pass) pass=$((pass + 1)); echo "PASS: $2" ;;
	fail) fail=$((fail + 1)); failed_names+=("$2"); echo "FAIL: $2" ;;
	skip) skip=$((skip + 1)); echo "SKIP: $2 ($3)" ;;
	esac
}

# run NAME ENV... -- CMD...: one test program, exit 0 pass, 77 skip.
run() {
	local name=$1 out=$log/out rc reason
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" timeout "$TIMEOUT" "$@" >"$out" 2>&1
	rc=$?
	case $rc in
	0)	result pass "$name"
		grep -E 'expected|aborts|written|census' "$out" | sed 's/^/    /' ;;
	77)	reason=$(grep -m1 '^skip:' "$out" | sed 's/^skip: //')
		result skip "$name" "${reason:-skipped}" ;;
	*)	result fail "$name"
		[ $rc = 124 ] && echo "    timed out after ${TIMEOUT}s"
		tail -n 40 "$out" | sed 's/^/    /' ;;
	esac
}

want() { [[ -z "${PCPU_TESTS:-}" || "$1" == *${PCPU_TESTS}* ]]; }

# Tests that pick their own backend or test selection itself run once.
once='^(test_backend|test_gs_pinned|test_rseq_sections)$'

echo "== unit and stress tests, once per backend ($B)"
for t in "$B"/tests/test_*; do
	n=$(basename "$t")
	want "$n" || continue
	if [[ $n =~ $once ]]; then
		run "$n" PCPU_TEST=1 -- "$t"
		continue
	fi
	for bk in gs rseq atomic; do
		run "$n[$bk]" PCPU_BACKEND=$bk -- "$t"
	done
done
if want cxx_header; then
	for bk in rseq atomic; do
		run "cxx_header[$bk]" PCPU_BACKEND=$bk -- "$B/tests/cxx_header"
	done
fi
for e in "$B"/examples/*; do
	[ -x "$e" ] || continue
	want "$(basename "$e")" || continue
	run "example $(basename "$e")" PCPU_TEST=1 -- "$e"
done

echo "== build and set-up scripts (tests/scripts)"
for t in tests/scripts/test_*.sh; do
	n=$(basename "$t" .sh)
	want "$n" || continue
	run "$n" -- bash "$t"
done

if want install; then
	echo "== make install (DESTDIR), then an example built with pkg-config"
	d=$log/root
	if [ -n "$SANITIZE" ]; then
		result skip "install" "instrumented build (SANITIZE=$SANITIZE)"
	elif ! scripts/need-packages.sh pkg-config; then
		result skip "install" "pkg-config not installable"
	elif make -s --no-print-directory install B="$B" DESTDIR="$d" \
			PREFIX=/usr/local >"$log/install" 2>&1 &&
	     [ -L "$d/usr/local/lib/libpercpu.so" ] &&
	     [ -f "$d/usr/local/share/man/man3/this_cpu_add.3" ] &&
	     export PKG_CONFIG_SYSROOT_DIR="$d" \
		PKG_CONFIG_PATH="$d/usr/local/lib/pkgconfig" &&
	     cc -o "$d/netstats" examples/netstats.c \
		$(pkg-config --cflags --libs percpu) >>"$log/install" 2>&1 &&
	     cc -static -o "$d/netstats-static" examples/netstats.c \
		$(pkg-config --static --cflags percpu) "$d/usr/local/lib/libpercpu.a" \
		-pthread >>"$log/install" 2>&1 &&
	     LD_LIBRARY_PATH="$d/usr/local/lib" "$d/netstats" 4 20000 >>"$log/install" 2>&1 &&
	     "$d/netstats-static" 4 20000 >>"$log/install" 2>&1 &&
	     readelf -d "$d/usr/local/lib/libpercpu.so.1" | grep -q 'SONAME.*libpercpu.so.1'; then
		result pass "install"
	else
		result fail "install"
		tail -n 20 "$log/install" | sed 's/^/    /'
	fi
	unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
fi

echo "== rseq registered by the library (GLIBC_TUNABLES=glibc.pthread.rseq=0)"
for n in test_ops test_cs test_cs_stress test_stress_migration test_stress_signals test_stress_fork test_init_existing_threads test_outside_possible \
	 test_stress_thread_churn; do
	want "$n" || continue
	run "$n[rseq,own-area]" GLIBC_TUNABLES=glibc.pthread.rseq=0 \
		PCPU_BACKEND=rseq PCPU_EXPECT_OWN_RSEQ=1 -- "$B/tests/$n"
done

echo "== valgrind (no rseq there: the atomic backend must be chosen by itself)"
vg_tests="test_ops test_alloc test_counter test_stress_thread_churn"
if [ -n "$SANITIZE" ]; then
	for n in $vg_tests; do
		want "$n" && result skip "$n[valgrind]" "instrumented build (SANITIZE=$SANITIZE)"
	done
elif ! scripts/need-packages.sh valgrind; then
	for n in $vg_tests; do
		want "$n" && result skip "$n[valgrind]" "valgrind not installable"
	done
else
	for n in $vg_tests; do
		want "$n" || continue
		run "$n[valgrind]" PCPU_EXPECT_BACKEND=atomic PCPU_STRESS_SCALE=0.05 -- \
			valgrind -q --error-exitcode=99 --leak-check=no "$B/tests/$n"
	done
fi

# ---- pcpu-selftest: owned by tools/pcpu-selftest.c ----------------------
# Does the kernel this runs on keep the rseq promises the library relies
# on? Once on glibc's registration, once on the library's own. Every line
# it prints is shown: it is the answer to "can I trust this kernel".
if want pcpu-selftest; then
	echo "== pcpu-selftest: does this kernel keep rseq's promises?"
	selftest() {	# NAME ENV...
		local name=$1 rc
		shift
		env "$@" timeout "$TIMEOUT" "$B/tools/pcpu-selftest" >"$log/selftest" 2>&1
		rc=$?
		sed 's/^/    /' "$log/selftest"
		case $rc in
		0)	result pass "$name" ;;
		77)	result skip "$name" "$(grep -m1 '^pcpu-selftest: ' "$log/selftest" |
			sed 's/^pcpu-selftest: //')" ;;
		*)	result fail "$name" ;;
		esac
	}
	if [ -n "$SANITIZE" ]; then
		result skip "pcpu-selftest" "instrumented build (SANITIZE=$SANITIZE): it checks the kernel, run it without"
	else
		selftest "pcpu-selftest"
		selftest "pcpu-selftest[own-area]" GLIBC_TUNABLES=glibc.pthread.rseq=0
	fi
fi

if want vm; then
	echo "== kernel VM (ARCH_SET_GS_PERCPU under QEMU)"
	if [ -n "$SANITIZE" ]; then
		result skip "vm" "instrumented build (SANITIZE=$SANITIZE): run make check without SANITIZE"
	elif [ -n "${PCPU_SKIP_VM:-}" ]; then
		result skip "vm" "PCPU_SKIP_VM is set (a developer's quick run)"
	elif [ ! -f vm/vm.mk ]; then
		result skip "vm" "no vm/ harness in this tree"
	else
		make -s --no-print-directory vm-check B="$B" >"$log/vm" 2>&1
		rc=$?
		# Kernel build or cache, accelerator, boot and run times;
		# the guest tests' expected/observed lines.
		grep -E '^(build-kernel|# vm\[[a-z0-9]+\]: )' "$log/vm" | sed 's/^/    /'
		grep -E '^# vm\[.*(expected|total)' "$log/vm" | tail -n 20 | sed 's/^/    /'
		# pcpu-selftest's verdict in each VM, and any broken promise.
		grep -E '^# vm\[[a-z0-9]+\] pcpu-selftest: ' "$log/vm" | sed 's/^/    /'
		while IFS= read -r line; do
			case $line in
			PASS:\ *) result pass "${line#PASS: }" ;;
			FAIL:\ *) result fail "${line#FAIL: }" ;;
			SKIP:\ *) r=${line#SKIP: }; result skip "${r% (*}" "$(sed 's/.*(\(.*\))$/\1/' <<<"$r")" ;;
			esac
		done < <(grep -E '^(PASS|FAIL|SKIP): ' "$log/vm")
		[ $rc = 0 ] || result fail "vm-check (exit status $rc)"
	fi
fi

# ---- kernel series: owned by kernel/ (kept apart from the blocks above) ----
# The series applies with git am to a clean 6.12 tree and passes
# checkpatch --strict with no errors (kernel/check-series.sh; the clean
# tree is cached outside the clone, a warm run takes seconds).
if want kernel-series; then
	echo "== kernel series (kernel/check-series.sh: git am onto clean 6.12, checkpatch --strict)"
	if [ ! -x kernel/check-series.sh ]; then
		result skip "kernel-series" "no kernel/check-series.sh in this tree"
	else
		kernel/check-series.sh >"$log/series" 2>&1
		rc=$?
		grep -E '^check-series: (PASS|FAIL): ' "$log/series" |
			sed 's/^check-series: /    /'
		case $rc in
		0)	result pass "kernel-series" ;;
		77)	result skip "kernel-series" "$(sed -n 's/^skip: //p' "$log/series" | head -1)" ;;
		*)	result fail "kernel-series"
			tail -n 40 "$log/series" | sed 's/^/    /' ;;
		esac
	fi
fi

echo
if [ $fail -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed_names[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
