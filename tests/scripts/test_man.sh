#!/bin/bash
# The manual: every page under man/ is clean and findable.
#  - every page lints without a warning: mandoc -T lint -W warning (errors
#    and warnings; mandoc's style hints are not warnings) and groff -ww;
#  - a one-line ".so" page (an alias) points at a page that exists, which
#    is what mandoc's "fragile .so" warning asks to check;
#  - every name in a page's NAME section has a file of its own (a page or
#    an alias), so that "man NAME" finds it after install;
#  - every public function and function-like macro of include/percpu/*.h
#    (names without a double underscore) and every public structure the
#    manual promises has a page; every page a page refers to (SEE ALSO and
#    the text) exists when it is one of ours;
#  - each page's footer names this version (the Makefile's VERSION);
#  - after make install DESTDIR=..., man finds pcpu_for_each_cpu(3),
#    pcpu_params(3type), libpercpu(7) and pcpu-stat(1) there.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
B=${B:-build}
if ! scripts/need-packages.sh mandoc >/dev/null 2>&1 || ! command -v mandoc >/dev/null; then
	echo "skip: mandoc is not installed and cannot be installed"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAILED: $*"; fails=$((fails + 1)); }

version=$(sed -n 's/^VERSION *:= *//p' Makefile)
mm=${version%.*}
pages=0 aliases=0
cd man || exit 1
for f in man*/*; do
	[ -f "$f" ] || continue
	if [ "$(wc -l <"$f")" = 1 ] && grep -q '^\.so ' "$f"; then
		target=$(sed -n 's/^\.so //p' "$f")
		[ -f "$target" ] || fail "$f: .so $target: no such page"
		head -1 "$target" 2>/dev/null | grep -q '^\.so ' &&
			fail "$f: .so $target, itself an alias"
		aliases=$((aliases + 1))
		continue
	fi
	pages=$((pages + 1))
	out=$(mandoc -T lint -W warning "$f" 2>&1)
	[ -z "$out" ] || fail "mandoc: $out"
	out=$(groff -ww -z -man "$f" 2>&1)
	[ -z "$out" ] || fail "groff -ww $f: $out"
	head -1 "$f" | grep -q "\"libpercpu $mm\"" ||
		fail "$f: footer does not say libpercpu $mm: $(head -1 "$f")"
	# NAME: the lines between .SH NAME and the next .SH, up to "\-".
	sec=$(basename "$(dirname "$f")"); sec=${sec#man}
	ext=${f##*.}
	names=$(sed -n '/^\.SH NAME/,/^\.SH/{/^\.SH/d;p}' "$f" | tr '\n' ' ' |
		sed 's/\\-.*//; s/,/ /g')
	for n in $names; do
		[ -f "man$sec/$n.$ext" ] || fail "$f: NAME lists $n, but man$sec/$n.$ext does not exist"
	done
done
cd "$root" || exit 1

# Every public function and function-like macro has a page.
# A declaration or definition starts in column 0 with its return type
# (kernel style); calls inside inline bodies are indented.
funcs=$(grep -hE '^[A-Za-z_][^(;=#]*[ *](pcpu|this_cpu)_[a-z0-9_]+\(' include/percpu/*.h |
	grep -vE '^(typedef|return)' | sed -E 's/\(.*//; s/.*[ *]//' |
	grep -v '__' | sort -u)
macros=$(grep -ohE '^#define +(pcpu_|this_cpu_|PCPU_)[A-Za-z0-9_]+\(' include/percpu/*.h |
	sed -E 's/#define +//; s/\($//' | grep -v '__' | sort -u)
for n in $funcs $macros; do
	[ -f "man/man3/$n.3" ] || fail "no page for $n (man/man3/$n.3)"
done
for t in pcpu_params pcpu_ring_params pcpu_ring_entry pcpu_ring_stats \
	 pcpu_cache_stats pcpu_rseq_stats pcpu_index pcpu_cs; do
	[ -f "man/man3/$t.3type" ] || fail "no page for struct/enum $t (man/man3/$t.3type)"
done
[ -f man/man7/libpercpu.7 ] || fail "no libpercpu(7)"
# References to our own pages resolve.
grep -ohE '\.BR +(pcpu[-_][a-z0-9_]+|this_cpu_[a-z0-9_]+|PCPU_[A-Z_]+|libpercpu) \(([0-9][a-z]*)\)' \
	man/man*/* | sed -E 's/\.BR +//; s/ \(/ /; s/\)//' | sort -u |
while read -r n s; do
	[ -f "man/man${s%type}/$n.$s" ] || echo "$n($s)"
done >"$tmp/dangling"
[ -s "$tmp/dangling" ] && fail "references to pages that do not exist: $(tr '\n' ' ' <"$tmp/dangling")"

# Installed, man finds them.
if make -s --no-print-directory install B="$B" DESTDIR="$tmp/root" PREFIX=/usr/local \
	>"$tmp/install" 2>&1; then
	m=$tmp/root/usr/local/share/man
	for q in "pcpu_for_each_cpu" "3type pcpu_params" "7 libpercpu" "1 pcpu-stat" \
		 "pcpu_cs_begin" "PCPU_DEFINE" "pcpu_stat_ulong"; do
		# shellcheck disable=SC2086
		man -M "$m" -w $q >/dev/null 2>&1 || fail "installed: man $q finds nothing"
	done
	[ -x "$tmp/root/usr/local/bin/pcpu-stat" ] || fail "pcpu-stat not installed in bin"
else
	fail "make install: $(tail -3 "$tmp/install")"
fi

echo "man: $pages pages and $aliases aliases lint clean; every function has a page"
[ $fails = 0 ] && echo ok
exit $((fails > 0))
