#!/bin/bash
# vm/run.sh - boot a kernel under QEMU with static test binaries and report
# one line per test on stdout:
#	PASS: vm[<variant>] <name>
#	FAIL: vm[<variant>] <name>
#	SKIP: vm[<variant>] <name> (<reason>)
# Every other line starts with "# ". Exit status 0 only if nothing failed
# (a test missing from the guest's output, a panic or a timeout is a FAIL).
#
# Usage: vm/run.sh --kernel BZIMAGE [options]
#   --kernel PATH     bzImage (gen_init_cpio is taken from the same dir
#                     unless --cpio-tool is given)
#   --cpio-tool PATH  the kernel's usr/gen_init_cpio
#   --variant NAME    result name prefix, vm[NAME] (default: fsgsbase)
#   --append ARGS     extra kernel command line (e.g. nofsgsbase)
#   --abi "BINS"      ABI test binaries: run once each
#   --lib "BINS"      library test binaries: run once per backend
#   --backends "LIST" backends for --lib (default: gs rseq atomic); an
#                     entry NAME:K=V,K=V... runs the tests as test[NAME]
#                     with that environment instead of PCPU_BACKEND=NAME
#   --arch A          x86_64 (default) or aarch64: QEMU virt machine,
#                     -cpu max, TCG, console ttyAMA0, the busybox found
#                     next to the kernel (build-kernel.sh --arch arm64)
#   --bench "BINS"    benchmarks: run once, output lines starting "BENCH"
#                     are echoed as "# BENCH[<variant>] ..."
#   --log PATH        keep the guest console log there
#   --timeout SEC     whole-VM timeout (default 600)
#   --env "K=V ..."   environment exported to every test in the guest
#   --smp N --mem M   guest size (default 4, 512M)
# Environment: VM_ACCEL=tcg|kvm forces the accelerator; VM_TEST_TIMEOUT
# bounds each test inside the guest (default 300 s); VM_BENCH_ARGS is
# passed to every --bench binary; VM_QEMU_ARGS is added to the QEMU
# command line (vm-bench uses it for -icount).
set -u

kernel= cpio_tool= variant=fsgsbase append= abi= lib= bench= log= genv=
backends="gs rseq atomic" timeout=600 smp=4 mem=512M arch=x86_64
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--cpio-tool) cpio_tool=$2; shift ;;
	--variant) variant=$2; shift ;;
	--append) append=$2; shift ;;
	--abi) abi=$2; shift ;;
	--lib) lib=$2; shift ;;
	--backends) backends=$2; shift ;;
	--bench) bench=$2; shift ;;
	--log) log=$2; shift ;;
	--env) genv=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--smp) smp=$2; shift ;;
	--mem) mem=$2; shift ;;
	--arch) arch=$2; shift ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

V="vm[$variant]"
# The guest's architecture: QEMU binary, machine, console, and CPU model.
# AArch64 runs under TCG whatever the host offers (no KVM for a foreign
# architecture); pauth-impdef keeps -cpu max's pointer authentication but
# with QEMU's fast hash instead of emulating QARMA in software.
case "$arch" in
x86_64) qemu=qemu-system-x86_64 qemu_machine=() console=ttyS0 ;;
aarch64|arm64)
	arch=aarch64 qemu=qemu-system-aarch64 console=ttyAMA0
	qemu_machine=(-machine virt)
	;;
*) echo "run.sh: unknown --arch $arch" >&2; exit 2 ;;
esac
fail=0
say() { echo "# $*"; }
result() {	# result PASS|FAIL|SKIP name [reason]
	case "$1" in
	SKIP) echo "SKIP: $V $2 (${3:-skipped})" ;;
	FAIL) echo "FAIL: $V $2"; fail=1 ;;
	*) echo "$1: $V $2" ;;
	esac
}

if [ -z "$kernel" ] || [ ! -f "$kernel" ]; then
	result FAIL boot
	say "no kernel image: '${kernel}'"
	exit 1
fi
[ -n "$cpio_tool" ] || cpio_tool=$(dirname "$kernel")/gen_init_cpio
busybox=$(command -v busybox || echo /bin/busybox)
[ "$arch" = x86_64 ] || busybox=$(dirname "$kernel")/busybox
for f in "$cpio_tool" "$busybox"; do
	if [ ! -x "$f" ]; then
		result FAIL boot
		say "missing $f"
		exit 1
	fi
done
if ! command -v "$qemu" >/dev/null; then
	result FAIL boot
	say "$qemu not installed (run vm/build-kernel.sh${qemu_machine:+ --arch arm64})"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pcpu-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM	# so that the EXIT trap runs
[ -n "$log" ] || log=$work/console.log
mkdir -p "$(dirname "$log")"

# ---- initramfs ---------------------------------------------------------
expected=()	# result names, in order
list=$work/initramfs.list
init=$work/init
{
	echo "dir /dev 755 0 0"
	echo "nod /dev/console 600 0 0 c 5 1"
	echo "nod /dev/null 666 0 0 c 1 3"
	for d in /proc /sys /tmp /bin /sbin /t /t/abi /t/lib /t/bench; do
		echo "dir $d 755 0 0"
	done
	echo "file /bin/busybox $busybox 755 0 0"
	for a in sh mount mkdir poweroff cat cut env timeout echo sleep uname grep tr; do
		echo "slink /bin/$a busybox 777 0 0"
	done
	echo "file /init $init 755 0 0"
} > "$list"

cat > "$init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm
echo
echo "@@BOOTED uptime=$(cut -d' ' -f1 /proc/uptime) cpus=$(grep -c ^processor /proc/cpuinfo) fsgsbase=$(grep -q -w fsgsbase /proc/cpuinfo && echo yes || echo no) kernel=$(uname -r) machine=$(uname -m)"
T=${VM_TEST_TIMEOUT:-300}
run() {	# run NAME CMD...
	n=$1; shift
	echo "@@START $n"
	timeout "$T" "$@" < /dev/null 2>&1
	rc=$?
	echo
	echo "@@RESULT $n $rc"
}
EOF
{
	echo "VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-300}"
	for kv in $genv; do
		case "$kv" in
		[A-Za-z_]*=*) printf 'export %q\n' "$kv" ;;
		*) echo "run.sh: --env: ignoring '$kv'" >&2 ;;
		esac
	done
} > "$work/init.head"
sed -i "2r $work/init.head" "$init"

add_bin() {	# add_bin DIR PATH -> guest path
	local g="/t/$1/$(basename "$2")"
	echo "file $g $(realpath "$2") 755 0 0" >> "$list"
	echo "$g"
}
missing_bins=0
# add_runs KIND ARGS BIN...: one run per binary, named by its basename.
add_runs() {
	local kind=$1 args=$2 b n g
	shift 2
	for b in "$@"; do
		n=$(basename "$b")
		if [ ! -x "$b" ]; then result FAIL "$n"; say "$b not built"; missing_bins=1; continue; fi
		g=$(add_bin "$kind" "$b")
		echo "run '$n' $g${args:+ $args}" >> "$init"
		expected+=("$n")
	done
}
add_runs abi "" $abi
for b in $lib; do
	n=$(basename "$b")
	if [ ! -x "$b" ]; then
		for be in $backends; do result FAIL "$n[${be%%:*}]"; done
		say "$b not built"; missing_bins=1; continue
	fi
	g=$(add_bin lib "$b")
	for be in $backends; do
		# NAME:K=V,K=V: a named run with its own environment.
		case "$be" in
		*:*) benv=${be#*:}; be=${be%%:*}; benv=${benv//,/ } ;;
		*) benv=PCPU_BACKEND=$be ;;
		esac
		echo "run '$n[$be]' env $benv $g" >> "$init"
		expected+=("$n[$be]")
	done
done
add_runs bench "${VM_BENCH_ARGS:-}" $bench
cat >> "$init" <<'EOF'
echo "@@DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
EOF
"$cpio_tool" "$list" > "$work/initramfs.cpio" || { result FAIL boot; say "gen_init_cpio failed"; exit 1; }

# ---- accelerator -------------------------------------------------------
accel=${VM_ACCEL:-}
if [ -z "$accel" ]; then
	accel=tcg
	if [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
		[ -w /dev/kvm ] && accel=kvm
	fi
fi
if [ "$accel" = kvm ]; then
	cpu="host,-arch-capabilities"
else
	cpu=max
fi
if [ "$arch" = aarch64 ]; then
	accel=tcg cpu=max,pauth-impdef=on
fi
say "$V: accel=$accel cpu=$cpu smp=$smp mem=$mem append='$append'${VM_QEMU_ARGS:+ qemu: $VM_QEMU_ARGS}"

# ---- boot --------------------------------------------------------------
t0=$(date +%s.%N)
# --foreground keeps QEMU in our process group: killing run.sh's group
# (Ctrl-C, make being stopped) stops the VM too.
# shellcheck disable=SC2086 # VM_QEMU_ARGS is a list of words
timeout --foreground "$timeout" "$qemu" "${qemu_machine[@]}" -accel "$accel" -cpu "$cpu" \
	${VM_QEMU_ARGS:-} \
	-smp "$smp" -m "$mem" -nographic -no-reboot \
	-kernel "$kernel" -initrd "$work/initramfs.cpio" \
	-append "console=$console panic=-1 quiet loglevel=5 $append" \
	< /dev/null > "$log" 2>&1
qrc=$?
t1=$(date +%s.%N)
# Drop carriage returns and the terminal escapes SeaBIOS leaves on the
# first line, so that every marker starts a line.
sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' "$log" > "$work/clean.log"
clog=$work/clean.log
wall=$(echo "$t1 - $t0" | bc)
booted=$(grep -m1 '^@@BOOTED' "$clog")
done_line=$(grep -m1 '^@@DONE' "$clog")
say "$V: host wall time ${wall}s (qemu exit $qrc); guest: ${booted#@@BOOTED } ${done_line:+/ done at ${done_line#@@DONE }}"

if [ -z "$booted" ]; then
	result FAIL boot
elif grep -q 'Kernel panic' "$clog"; then
	result FAIL boot
	say "$V: kernel panic:"
	grep -A5 'Kernel panic' "$clog" | sed 's/^/#   /'
elif [ $qrc -eq 124 ]; then
	result FAIL boot
	say "$V: timed out after ${timeout}s"
elif [ -z "$done_line" ]; then
	result FAIL boot
	say "$V: guest did not finish"
else
	result PASS boot
fi
# No oops, BUG or WARNING in the guest's kernel log ("quiet loglevel=5"
# hides the boot chatter but still prints WARN()s).
if grep -q -E 'BUG:|Oops|WARNING:' "$clog"; then
	result FAIL kernel-log
	grep -E -A3 'BUG:|Oops|WARNING:' "$clog" | head -20 | sed 's/^/#   /'
elif [ -n "$booted" ]; then
	result PASS kernel-log
fi
# The variant must be what was asked for: nofsgsbase really takes the MSR path.
if [ -n "$booted" ] && [ "$arch" = aarch64 ]; then
	case "$booted" in
	*"machine=aarch64"*) result PASS variant ;;
	*) result FAIL variant; say "$V: expected machine=aarch64: $booted" ;;
	esac
elif [ -n "$booted" ]; then
	want=yes
	case " $append " in *" nofsgsbase "*) want=no ;; esac
	case "$booted" in
	*"fsgsbase=$want"*) result PASS variant ;;
	*) result FAIL variant; say "$V: expected fsgsbase=$want: $booted" ;;
	esac
fi

# ---- results -----------------------------------------------------------
for n in "${expected[@]}"; do
	r=$(grep -F -m1 "@@RESULT $n " "$clog")
	out=$(awk -v s="@@START $n" -v e="@@RESULT $n " \
		'index($0, s) == 1 && length($0) == length(s) {on=1; next}
		 index($0, e) == 1 {on=0} on' "$clog")
	if [ -z "$r" ]; then
		result FAIL "$n"
		say "$V $n: no result (crashed or hung the VM)"
		[ -n "$out" ] && echo "$out" | tail -20 | sed 's/^/#   /'
		continue
	fi
	rc=${r##* }
	case "$rc" in
	0)	result PASS "$n" ;;
	77)	reason=$(echo "$out" | grep -v '^$' | tail -1 |
			sed 's/^[A-Za-z0-9_.-]*: //' | tr -d '()' | cut -c1-100)
		result SKIP "$n" "${reason:-exit 77}" ;;
	*)	result FAIL "$n"
		say "$V $n: exit $rc"
		echo "$out" | grep -v '^$' | tail -30 | sed 's/^/#   /' ;;
	esac
	echo "$out" | grep '^BENCH ' | sed "s/^BENCH /# BENCH[$variant] /"
	# Stress tests print their expected and observed totals: show them.
	echo "$out" | grep -i 'expected.*observed' | head -5 |
		sed -e 's/^[A-Za-z0-9_.-]*: //' -e "s/^/# $V $n: /"
	# pcpu-selftest: the verdict, and every promise the kernel broke.
	echo "$out" | grep -E '^(verdict: |[a-z-]+ +BROKEN)' |
		sed "s/^/# $V $n: /"
done

[ $missing_bins -eq 0 ] || fail=1
exit $fail
