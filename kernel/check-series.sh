#!/bin/bash
# kernel/check-series.sh - is the series ready to send?
#
#   * it applies with "git am" to a clean Linux 6.12 tree (Debian's
#     linux-source-6.12, extracted and committed as a git repository);
#   * every patch passes scripts/checkpatch.pl --strict with no errors
#     (warnings and checks are printed, they do not fail);
#   * the cover letter (0000-cover-letter.patch) lists every patch's
#     subject, and the test-only patches (test-only/*.patch, applied to the
#     test kernel by vm/build-kernel.sh) still apply on top.
#
# The clean tree is made once and cached outside the clone, in
# ${PCPU_CACHE:-/var/cache/libpercpu}/series-tree-<key>, keyed like the
# kernel cache by the source package's name, version and size and the
# recipe version below; each run resets it to the clean commit, so a run
# with a warm cache takes seconds.
#
# Exit status 0 if everything holds, 77 (skip) if there is no kernel
# source, 1 otherwise. Progress and results on stdout; the last line says
# which.
#
# Environment: PCPU_CACHE, VM_KERNEL_SRC (as for vm/build-kernel.sh).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PCPU_CACHE:-/var/cache/libpercpu}
TARBALL=${VM_KERNEL_SRC:-/usr/src/linux-source-6.12.tar.xz}
# Bump when this script changes what the cached tree holds.
RECIPE=1

say() { echo "check-series: $*"; }
fail=0
bad() { say "FAIL: $*"; fail=1; }

series=()
for p in "$ROOT"/kernel/[0-9][0-9][0-9][0-9]-*.patch; do
	case $p in */0000-cover-letter.patch) continue ;; esac
	[ -f "$p" ] && series+=("$p")
done
testonly=()
for p in "$ROOT"/kernel/test-only/*.patch; do
	[ -f "$p" ] && testonly+=("$p")
done
cover=$ROOT/kernel/0000-cover-letter.patch
[ ${#series[@]} -gt 0 ] || { bad "no kernel/*.patch"; exit 1; }

if [ ! -f "$TARBALL" ]; then
	"$ROOT"/scripts/need-packages.sh linux-source-6.12 >/dev/null 2>&1
	[ -f "$TARBALL" ] || { echo "skip: no kernel source at $TARBALL (linux-source-6.12)"; exit 77; }
fi
# git, and what checkpatch's SPDX check runs (scripts/spdxcheck.py).
"$ROOT"/scripts/need-packages.sh git xz-utils perl python3 python3-ply python3-git ||
	say "note: some packages are missing; checkpatch may skip its SPDX check"

# ---- the clean tree, cached --------------------------------------------
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
key=$(printf 'recipe=%s source=%s version=%s size=%s\n' "$RECIPE" \
	"$(basename "$TARBALL")" "$srcver" "$(stat -c %s "$TARBALL")" |
	sha256sum | cut -c1-16)
if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/libpercpu
	mkdir -p "$CACHE"
fi
tree=$CACHE/series-tree-$key
exec 9> "$CACHE/.series-lock"
flock 9		# one run at a time in the shared tree

GIT() {
	git -C "$tree" -c user.name=check-series -c user.email=check-series@localhost \
		-c gc.auto=0 -c advice.detachedHead=false "$@"
}

if ! GIT rev-parse -q --verify refs/tags/clean >/dev/null 2>&1; then
	say "making the clean 6.12 tree in $tree (once; about a minute)"
	t0=$(date +%s)
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar -C "$tree.tmp" -xf "$TARBALL" || { bad "cannot extract $TARBALL"; exit 1; }
	mv "$tree.tmp"/linux-source-* "$tree" && rmdir "$tree.tmp"
	# Debian's top-level .gitignore ignores every top-level entry: -f.
	if ! { GIT init -q && GIT add -f -A . && GIT commit -q -m "clean $(basename "$TARBALL") $srcver" &&
	       GIT tag clean; } >/dev/null; then
		bad "cannot make a git repository of the tree"
		rm -rf "$tree"
		exit 1
	fi
	say "clean tree ready in $(( $(date +%s) - t0 ))s"
fi

# ---- git am ------------------------------------------------------------
GIT am --abort >/dev/null 2>&1
GIT checkout -q -f --detach clean && GIT clean -q -f -d -x ||
	{ bad "cannot reset $tree to the clean commit"; exit 1; }
if GIT am -q --whitespace=error "${series[@]}" > "$tree.am.log" 2>&1; then
	say "PASS: git am of ${#series[@]} patches onto clean $srcver"
	GIT log --format='  %h %s' clean..HEAD | tac
else
	bad "git am onto clean $srcver:"
	sed 's/^/  /' "$tree.am.log"
	GIT am --abort >/dev/null 2>&1
fi

if [ $fail = 0 ] && [ ${#testonly[@]} -gt 0 ]; then
	if GIT am -q "${testonly[@]}" > "$tree.am.log" 2>&1; then
		say "PASS: test-only patches apply on top: ${testonly[*]#"$ROOT"/kernel/}"
	else
		bad "test-only patches do not apply on top of the series:"
		sed 's/^/  /' "$tree.am.log"
		GIT am --abort >/dev/null 2>&1
	fi
fi

# ---- checkpatch --strict -----------------------------------------------
for p in "${series[@]}" "${testonly[@]}"; do
	n=${p#"$ROOT"/kernel/}
	out=$(cd "$tree" && perl scripts/checkpatch.pl --strict --no-color "$p" 2>&1)
	total=$(grep -m1 '^total:' <<<"$out")
	errs=$(sed -n 's/^total: \([0-9]*\) errors.*/\1/p' <<<"$total")
	if [ "${errs:-x}" = 0 ]; then
		say "PASS: checkpatch --strict $n: $total"
	else
		bad "checkpatch --strict $n: ${total:-no summary}"
	fi
	# Every finding, so that a warning is seen even when it does not fail.
	grep -E -A3 '^(ERROR|WARNING|CHECK):' <<<"$out" | sed 's/^/  /'
done
GIT checkout -q -f --detach clean

# ---- the cover letter --------------------------------------------------
if [ ! -f "$cover" ]; then
	bad "no cover letter ($cover)"
else
	n=${#series[@]}
	grep -q "^Subject: \[PATCH 0/$n\]" "$cover" ||
		bad "cover letter subject is not [PATCH 0/$n]"
	for p in "${series[@]}"; do
		# The subject, unfolded, without "[PATCH i/n] ".
		subj=$(sed -n '/^Subject: /{:a;N;/\n[^ ]/!ba;p;q}' "$p" |
			head -n -1 | tr '\n' ' ' | sed -e 's/^Subject: \[PATCH[^]]*\] //' -e 's/  */ /g' -e 's/ $//')
		# The shortlog may wrap it: compare the text with spaces squeezed.
		tr '\n' ' ' < "$cover" | sed 's/  */ /g' | grep -q -F -- "$subj" ||
			bad "cover letter does not list \"$subj\""
	done
	[ $fail = 0 ] && say "PASS: cover letter lists the $n patches"
fi

if [ $fail = 0 ]; then
	say "series OK"
	exit 0
fi
say "series NOT ready"
exit 1
