#!/bin/bash
# The build as a new user or a packager meets it, on a copy of the tree:
#  - plain "make" builds the library (the default goal);
#  - "make install PREFIX=/usr" after "make" writes a percpu.pc that says
#    /usr (the .pc follows the install paths);
#  - "make uninstall" removes everything install put there, man pages too;
#  - a packager's CFLAGS with extra warnings build (no -Werror forced on
#    them), and CPPFLAGS reach the compiler;
#  - the tree carries its license.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { if ! eval "$1"; then echo "FAILED: $2"; fails=$((fails + 1)); fi; }

src=$tmp/src
mkdir -p "$src"
(cd "$root" && git ls-files -co --exclude-standard | tar -cf - -T -) | tar -xf - -C "$src"
cd "$src" || exit 1
# As a user types it: not with the variables of the make that runs this
# test (make check B=... SANITIZE=... passes them down in MAKEFLAGS).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES B SANITIZE CFLAGS CPPFLAGS

make -s -j2 >"$tmp/make.log" 2>&1
rc=$?
check '[ $rc = 0 ]' "plain make failed (exit $rc): $(tail -3 "$tmp/make.log")"
check '[ -f build/libpercpu.so.1 ] && [ -f build/libpercpu.a ]' \
	"plain make did not build build/libpercpu.so.1 and build/libpercpu.a"

make -s -j2 lib >>"$tmp/make.log" 2>&1	# built with the default PREFIX
d=$tmp/root
make -s install PREFIX=/usr DESTDIR="$d" >"$tmp/install.log" 2>&1
check '[ $? = 0 ]' "make install PREFIX=/usr failed: $(tail -3 "$tmp/install.log")"
check 'grep -qx "prefix=/usr" "$d/usr/lib/pkgconfig/percpu.pc" 2>/dev/null' \
	"installed percpu.pc does not say prefix=/usr: $(head -1 "$d/usr/lib/pkgconfig/percpu.pc" 2>/dev/null)"
n_man=$(find "$d/usr/share/man" -type f 2>/dev/null | wc -l)
check '[ "$n_man" -gt 0 ]' "no man pages installed"
make -s uninstall PREFIX=/usr DESTDIR="$d" >>"$tmp/install.log" 2>&1
left=$(find "$d" -type f | sed "s|^$d||")
check '[ -z "$left" ]' "make uninstall left $(echo "$left" | wc -l) files, e.g. $(echo "$left" | head -1)"
echo "install: $n_man man pages, $(echo -n "$left" | grep -c .) files left after uninstall"

make -s -j2 lib B=build-pkg CFLAGS="-O3 -Wconversion" >"$tmp/pkg.log" 2>&1
rc=$?
check '[ $rc = 0 ]' "CFLAGS=\"-O3 -Wconversion\" failed to build (exit $rc): $(grep -m1 error "$tmp/pkg.log")"
check 'make -n B=build-cpp CPPFLAGS=-DPCPU_TEST_CPPFLAGS lib 2>/dev/null | grep -q PCPU_TEST_CPPFLAGS' \
	"CPPFLAGS do not reach the compiler"
check '[ -f LICENSE ] && grep -q MIT LICENSE' "no LICENSE file (the sources say MIT)"

[ $fails = 0 ] && echo ok
exit $((fails > 0))
