#!/bin/bash
# vm/build-kernel.sh - build (once) the small test kernel for vm/run.sh.
#
# Usage: vm/build-kernel.sh [--unpatched]
#
# Extracts Debian's linux-source-6.12 into a cache directory outside the
# clone, applies kernel/*.patch (unless --unpatched), configures it from
# "make tinyconfig" + kernel/config.fragment and builds bzImage. The result
# goes to $CACHE/kernel-<key>/ (bzImage, gen_init_cpio, .config, build.log,
# and for the patched kernel the series' selftest built static as
# selftest_gs_percpu) where <key> is a sha256 of the patches, the config
# fragment, the variant, the recipe version below, the compiler version and
# the source package's version and size: the second run with the same
# inputs does not rebuild.
# Prints the bzImage path as the last line on stdout; progress on stderr.
#
# Environment:
#   PCPU_CACHE       cache directory (default /var/cache/libpercpu, or
#                    ~/.cache/libpercpu when that is not writable)
#   VM_KERNEL_SRC    source tarball (default /usr/src/linux-source-6.12.tar.xz)
#   VM_KEEP_SRC=1    keep the build tree (about 1.5 GB) after a build
#   VM_JOBS          make -j (default: nproc)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PCPU_CACHE:-/var/cache/libpercpu}
TARBALL=${VM_KERNEL_SRC:-/usr/src/linux-source-6.12.tar.xz}
JOBS=${VM_JOBS:-$(nproc)}
PKGS="linux-source-6.12 qemu-system-x86 busybox-static flex bison bc \
libelf-dev libssl-dev cpio lz4 xz-utils make gcc gcc-multilib"

# Bump when this script changes what ends up in the cache directory.
RECIPE=2

variant=patched
case "${1:-}" in
--unpatched) variant=unpatched ;;
"") ;;
*) echo "usage: $0 [--unpatched]" >&2; exit 2 ;;
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
apt_install() {
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends --no-remove "$@" >&2
}
if [ -n "$missing" ]; then
	log "installing:$missing"
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	if ! apt_install $missing; then
		$SUDO apt-get update >&2 || true
		if ! apt_install $missing; then
			case " $missing " in
			*" gcc-multilib "*)
				log "gcc-multilib cannot be installed without removing packages; using libc6-dev-i386 lib32gcc-12-dev for -m32"
				apt_install ${missing/gcc-multilib/} libc6-dev-i386 lib32gcc-12-dev ||
					{ log "apt-get failed"; exit 1; }
				;;
			*) log "apt-get failed"; exit 1 ;;
			esac
		fi
	fi
fi
[ -f "$TARBALL" ] || { log "no kernel source at $TARBALL"; exit 1; }

# ---- cache key ---------------------------------------------------------
patches=()
if [ $variant = patched ]; then
	for p in "$ROOT"/kernel/*.patch; do
		[ -f "$p" ] && patches+=("$p")
	done
	[ ${#patches[@]} -gt 0 ] || { log "no kernel/*.patch"; exit 1; }
fi
fragment=$ROOT/kernel/config.fragment
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
key=$( {
	echo "variant=$variant recipe=$RECIPE"
	echo "source=$(basename "$TARBALL") version=$srcver size=$(stat -c %s "$TARBALL")"
	echo "cc=$(gcc --version | head -1)"
	cat "$fragment"
	for p in "${patches[@]}"; do echo "patch=$(basename "$p")"; cat "$p"; done
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

if [ -f "$out/bzImage" ] && [ -x "$out/gen_init_cpio" ]; then
	log "cached $variant kernel: $out"
	echo "$out/bzImage"
	exit 0
fi

# ---- build -------------------------------------------------------------
log "building $variant kernel in $out (make -j$JOBS; a few minutes)"
start=$(date +%s)
tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
tar -C "$tmp" -xf "$TARBALL"
src=$(echo "$tmp"/linux-source-*)
for p in "${patches[@]}"; do
	log "applying $(basename "$p")"
	patch -d "$src" -p1 --batch --forward --quiet < "$p" >&2
done
(
	cd "$src"
	make ARCH=x86_64 tinyconfig > "$tmp/build.log" 2>&1
	ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config "$fragment" \
		>> "$tmp/build.log" 2>&1
	make ARCH=x86_64 olddefconfig >> "$tmp/build.log" 2>&1
) || { log "configuration failed, see $tmp/build.log"; tail -20 "$tmp/build.log" >&2; trap - EXIT; exit 1; }

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
[ $bad = 0 ] || { trap - EXIT; log "config check failed (tree kept in $tmp)"; exit 1; }

if ! make -C "$src" ARCH=x86_64 -j"$JOBS" bzImage >> "$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log" >&2
	trap - EXIT
	log "build failed, see $tmp/build.log"
	exit 1
fi
cp "$src/arch/x86/boot/bzImage" "$src/.config" "$tmp/"
gcc -O2 -o "$tmp/gen_init_cpio" "$src/usr/gen_init_cpio.c"
st=$src/tools/testing/selftests/x86/gs_percpu.c
if [ -f "$st" ]; then
	gcc -O2 -g -std=gnu99 -pthread -Wall -static -I"$src/usr/include" \
		-o "$tmp/selftest_gs_percpu" "$st" >> "$tmp/build.log" 2>&1 ||
		{ log "selftest gs_percpu.c does not build, see $tmp/build.log"; trap - EXIT; exit 1; }
fi
echo "$variant" > "$tmp/variant"
for p in "${patches[@]}"; do basename "$p"; done > "$tmp/patches"
if [ "${VM_KEEP_SRC:-0}" = 1 ]; then
	mv "$src" "$tmp/src"
else
	rm -rf "$src"
fi
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
secs=$(( $(date +%s) - start ))
echo "$secs" > "$out/build-seconds"
log "built $variant kernel in ${secs}s: $out/bzImage"
echo "$out/bzImage"
