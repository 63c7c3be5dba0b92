#!/bin/bash
# vm/build-kernel.sh - build (once) the small test kernel for vm/run.sh.
#
# Usage: vm/build-kernel.sh [--arch x86_64|arm64] [--unpatched | --packages-only]
#
# Extracts Debian's linux-source-6.12 into a cache directory outside the
# clone, applies the series kernel/*.patch (all but the cover letter) and
# then the test kernel's own kernel/test-only/*.patch (unless --unpatched),
# configures it from "make tinyconfig" + kernel/config.fragment and builds
# bzImage. The result goes to $CACHE/kernel-<key>/ (bzImage, gen_init_cpio,
# .config, build.log, and for the patched kernel the series' selftest
# built static as selftest_gs_percpu) where <key> is a sha256 of all those
# patches, the config fragment, the variant, the recipe version below, the
# compiler version and the source package's version and size: the second
# run with the same inputs does not rebuild.
# Prints the bzImage path as the last line on stdout; progress on stderr.
#
# --arch arm64: the AArch64 guest of vm/run.sh --arch aarch64. Built with
# aarch64-linux-gnu-gcc from tinyconfig + kernel/config-arm64.fragment and
# no patch (the series is x86 only); prints the path of arch/arm64/boot/
# Image, cached in the same way (the key also names the architecture and
# the cross compiler). The same directory gets a static arm64 busybox
# from Debian's busybox-static, fetched with apt-get into a private state
# directory under the cache (no foreign architecture is added to the
# system's dpkg).
#
# Environment:
#   PCPU_CACHE       cache directory (default /var/cache/libpercpu, or
#                    ~/.cache/libpercpu when that is not writable)
#   VM_KERNEL_SRC    source tarball (default /usr/src/linux-source-6.12.tar.xz)
#   VM_KEEP_SRC=1    keep the build tree (about 1.5 GB) after a build
#   VM_JOBS          make -j (default: nproc)
#   VM_APT_LOCK_WAIT seconds apt-get waits for a busy dpkg lock (default 300)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PCPU_CACHE:-/var/cache/libpercpu}
TARBALL=${VM_KERNEL_SRC:-/usr/src/linux-source-6.12.tar.xz}
JOBS=${VM_JOBS:-$(nproc)}
PKGS="linux-source-6.12 qemu-system-x86 busybox-static flex bison bc \
libelf-dev libssl-dev cpio lz4 xz-utils make gcc gcc-multilib"

# Bump to force a rebuild. The key also covers the build section of this
# script itself (from "# ---- build" on), so editing how the kernel is
# patched, configured or built changes it too; the package section does not.
RECIPE=3

variant=patched
arch=x86_64
usage() { echo "usage: $0 [--arch x86_64|arm64] [--unpatched | --packages-only]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) [ $# -ge 2 ] || usage; arch=$2; shift ;;
	--unpatched) variant=unpatched ;;
	--packages-only) variant=none ;;	# install what is missing, build nothing
	*) usage ;;
	esac
	shift
done
[ "$variant" != none ] || variant=
# What differs per architecture: make's arguments, the image, the fragment.
case "$arch" in
x86_64|x86)
	arch=x86_64 karch=x86_64
	kmake=(make ARCH=x86_64)
	kimage=bzImage kimage_src=arch/x86/boot/bzImage
	kfragment=config.fragment
	;;
arm64|aarch64)
	arch=arm64 karch=arm64
	kmake=(make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
	kimage=Image kimage_src=arch/arm64/boot/Image
	kfragment=config-arm64.fragment
	# The series is x86 only: the arm64 kernel is Debian's source as is.
	[ "$variant" != patched ] || variant=unpatched
	# No 32-bit toolchain (gcc-multilib conflicts with the cross compiler)
	# and no host busybox: the guest's comes from busybox-static:arm64.
	PKGS="linux-source-6.12 qemu-system-arm gcc-aarch64-linux-gnu \
libc6-dev-arm64-cross flex bison bc libelf-dev libssl-dev cpio xz-utils \
make gcc"
	;;
*) usage ;;
esac

log() { echo "build-kernel: $*" >&2; }

# ---- packages ----------------------------------------------------------
installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }
missing=
for p in $PKGS; do
	installed "$p" && continue
	# What -m32 -static needs, when gcc-multilib itself cannot be installed.
	[ "$p" = gcc-multilib ] && installed libc6-dev-i386 &&
		installed lib32gcc-12-dev && continue
	missing="$missing $p"
done
# Never let apt remove anything (--no-remove): this machine is shared, and
# gcc-multilib conflicts with Debian's cross compilers (gcc-aarch64-linux-gnu
# ...). When gcc-multilib cannot go in, the 32-bit test builds with
# libc6-dev-i386 + lib32gcc-12-dev instead (vm.mk supplies the asm/ headers).
#
# Another apt or dpkg may be running (unattended upgrades, another build on
# this machine): apt-get waits for the dpkg lock itself (DPkg::Lock::Timeout)
# and, if the lock is still busy after that, is retried once. On failure
# apt's own last lines are shown.
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
apt_out=$(mktemp)
trap 'rm -f "$apt_out"' EXIT
apt_run() {	# apt-get ARGS..., output kept in $apt_out
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get \
		-o DPkg::Lock::Timeout="${VM_APT_LOCK_WAIT:-300}" "$@" \
		> "$apt_out" 2>&1
}
apt_install() {
	apt_run install -y -q --no-install-recommends --no-remove "$@"
}
try_install() {	# one retry after "apt-get update", one after a busy lock
	apt_install "$@" && return 0
	if grep -q -E 'Unable to locate package|has no installation candidate|Failed to fetch' "$apt_out"; then
		apt_run update -q && apt_install "$@" && return 0
	fi
	if grep -q -i -E 'could not get lock|unable to acquire|lock.*held by' "$apt_out"; then
		log "the package manager is busy; retrying in 10s"
		sleep 10
		apt_install "$@" && return 0
	fi
	return 1
}
apt_failed() {
	log "apt-get install failed:"
	tail -n 15 "$apt_out" | sed 's/^/  apt: /' >&2
	exit 1
}
if [ -n "$missing" ]; then
	log "installing:$missing"
	if ! try_install $missing; then
		case " $missing " in
		*" gcc-multilib "*)
			grep -q -i -E 'could not get lock|unable to acquire|lock.*held by' "$apt_out" &&
				apt_failed
			log "gcc-multilib cannot be installed without removing packages; using libc6-dev-i386 lib32gcc-12-dev for -m32"
			try_install ${missing/gcc-multilib/} libc6-dev-i386 lib32gcc-12-dev ||
				apt_failed
			;;
		*) apt_failed ;;
		esac
	fi
fi
rm -f "$apt_out"
trap - EXIT
[ -n "$variant" ] || exit 0

# A static busybox for the arm64 guest (DIR/busybox): Debian's
# busybox-static for arm64, downloaded (and signature-checked) by apt-get
# with arm64 as its only architecture and lists of its own in
# $CACHE/apt-arm64, so the system's dpkg never learns about arm64.
fetch_busybox_arm64() {
	local d=$CACHE/apt-arm64 deb
	local opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
		-o Dir::State::Lists="$d/lists" -o Dir::State::Status="$d/status"
		-o Dir::Cache="$d" -o Dir::Cache::archives="$d/archives")

	mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/deb"
	touch "$d/status"
	rm -f "$d"/deb/busybox-static_*.deb
	if ! apt_run "${opts[@]}" update -q ||
	   ! (cd "$d/deb" && apt_run "${opts[@]}" download busybox-static); then
		log "cannot download busybox-static for arm64:"
		tail -n 15 "$apt_out" | sed 's/^/  apt: /' >&2
		return 1
	fi
	deb=$(echo "$d"/deb/busybox-static_*.deb)
	dpkg-deb -x "$deb" "$d/x" && cp "$d/x/bin/busybox" "$1/busybox" &&
		rm -rf "$d/x" && basename "$deb" > "$1/busybox.deb"
}
[ -f "$TARBALL" ] || { log "no kernel source at $TARBALL"; exit 1; }

# ---- cache key ---------------------------------------------------------
# The series, then the patches that exist only in the test kernel (debug
# hooks such as a delay that widens a race window for a test; never sent).
patches=()
if [ $variant = patched ]; then
	for p in "$ROOT"/kernel/*.patch; do
		case $p in */0000-cover-letter.patch) continue ;; esac
		[ -f "$p" ] && patches+=("$p")
	done
	[ ${#patches[@]} -gt 0 ] || { log "no kernel/*.patch"; exit 1; }
	for p in "$ROOT"/kernel/test-only/*.patch; do
		[ -f "$p" ] && patches+=("$p")
	done
fi
# Work from a snapshot of the inputs, so that the build (which may first
# wait for another one) applies exactly what the key was computed from.
snap=$(mktemp -d)
trap 'rm -rf "$snap"' EXIT
cp "$ROOT/kernel/$kfragment" "$snap/config.fragment"
fragment=$snap/config.fragment
names=()
for i in "${!patches[@]}"; do
	names+=("${patches[$i]#"$ROOT"/}")
	cp "${patches[$i]}" "$snap/$i.patch"
	patches[$i]=$snap/$i.patch
done
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
key=$( {
	echo "variant=$variant recipe=$RECIPE"
	echo "source=$(basename "$TARBALL") version=$srcver size=$(stat -c %s "$TARBALL")"
	echo "cc=$(gcc --version | head -1)"
	[ $arch = x86_64 ] || echo "arch=$arch cross=$(aarch64-linux-gnu-gcc --version | head -1)"
	sed -n '/^# ---- build ----/,$p' "$0"
	cat "$fragment"
	for i in "${!patches[@]}"; do echo "patch=${names[$i]}"; cat "${patches[$i]}"; done
} | sha256sum | cut -c1-16)
out=$CACHE/kernel-$key

if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
	[ -z "${PCPU_CACHE:-}" ] || { log "cannot write PCPU_CACHE=$CACHE"; exit 1; }
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/libpercpu	# not root: per-user cache
	out=$CACHE/kernel-$key
	mkdir -p "$CACHE"
fi
exec 9> "$CACHE/.lock"
flock 9	# one build at a time; a waiter finds the result cached

if [ -f "$out/$kimage" ] && [ -x "$out/gen_init_cpio" ] &&
   { [ $arch = x86_64 ] || [ -x "$out/busybox" ]; }; then
	log "cached $arch $variant kernel: $out"
	echo "$out/$kimage"
	exit 0
fi

# ---- build -------------------------------------------------------------
log "building $arch $variant kernel in $out (make -j$JOBS; a few minutes)"
start=$(date +%s)
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp" "$snap"' EXIT
if [ $arch = arm64 ]; then
	apt_out=$tmp/apt.log
	fetch_busybox_arm64 "$tmp" || exit 1
fi
tar -C "$tmp" -xf "$TARBALL"
src=$(echo "$tmp"/linux-source-*)
for i in "${!patches[@]}"; do
	log "applying ${names[$i]}"
	patch -d "$src" -p1 --batch --forward --quiet < "${patches[$i]}" >&2
done
(
	cd "$src"
	"${kmake[@]}" tinyconfig > "$tmp/build.log" 2>&1
	ARCH=$karch scripts/kconfig/merge_config.sh -m .config "$fragment" \
		>> "$tmp/build.log" 2>&1
	"${kmake[@]}" olddefconfig >> "$tmp/build.log" 2>&1
) || { log "configuration failed, see $tmp/build.log"; tail -20 "$tmp/build.log" >&2; trap 'rm -rf "$snap"' EXIT; exit 1; }

# Every option the fragment asks for must have survived olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	if ! grep -qx "$line" "$src/.config"; then
		log "config: '$line' requested but .config has: $(grep "^${line%%=*}=" "$src/.config" || echo 'not set')"
		bad=1
	fi
done < "$fragment"
for opt in CONFIG_SCHED_MM_CID=y; do
	grep -qx "$opt" "$src/.config" || { log "config: $opt missing"; bad=1; }
done
[ $bad = 0 ] || { trap 'rm -rf "$snap"' EXIT; log "config check failed (tree kept in $tmp)"; exit 1; }

if ! "${kmake[@]}" -C "$src" -j"$JOBS" "$kimage" >> "$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log" >&2
	trap 'rm -rf "$snap"' EXIT
	log "build failed, see $tmp/build.log"
	exit 1
fi
cp "$src/$kimage_src" "$src/.config" "$tmp/"
gcc -O2 -o "$tmp/gen_init_cpio" "$src/usr/gen_init_cpio.c"
st=$src/tools/testing/selftests/x86/gs_percpu.c
if [ -f "$st" ]; then
	gcc -O2 -g -std=gnu99 -pthread -Wall -static -I"$src/usr/include" \
		-o "$tmp/selftest_gs_percpu" "$st" >> "$tmp/build.log" 2>&1 ||
		{ log "selftest gs_percpu.c does not build, see $tmp/build.log"; trap 'rm -rf "$snap"' EXIT; exit 1; }
fi
echo "$variant" > "$tmp/variant"
for n in "${names[@]}"; do echo "$n"; done > "$tmp/patches"
if [ "${VM_KEEP_SRC:-0}" = 1 ]; then
	mv "$src" "$tmp/src"
else
	rm -rf "$src"
fi
rm -rf "$out"
mv "$tmp" "$out"
trap 'rm -rf "$snap"' EXIT
secs=$(( $(date +%s) - start ))
echo "$secs" > "$out/build-seconds"
log "built $arch $variant kernel in ${secs}s: $out/$kimage"
echo "$out/$kimage"
