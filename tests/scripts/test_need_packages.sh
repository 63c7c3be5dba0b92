#!/bin/bash
# scripts/need-packages.sh against a fake apt-get (first in PATH):
#  - a package manager that is busy once: apt is asked to wait for the
#    lock (DPkg::Lock::Timeout), then retried, and the install succeeds;
#  - an apt error: apt's own message reaches the user, exit status 1;
#  - an unknown package: the lists are updated, then the install retried.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { if ! eval "$1"; then echo "FAILED: $2"; fails=$((fails + 1)); fi; }

fake() {	# fake SCRIPT-BODY: installs $tmp/bin/apt-get
	mkdir -p "$tmp/bin"
	printf '#!/bin/bash\necho "$*" >> %s/calls\n%s\n' "$tmp" "$1" > "$tmp/bin/apt-get"
	chmod +x "$tmp/bin/apt-get"
	: > "$tmp/calls"
}
run() {
	PATH="$tmp/bin:$PATH" NEED_PACKAGES_RETRY_WAIT=0 \
		"$root/scripts/need-packages.sh" pcpu-no-such-package-xyz >"$tmp/out" 2>&1
}
[ "$(id -u)" = 0 ] || { echo "skip: needs root (the script refuses otherwise)"; exit 77; }

# Busy once, then fine.
fake 'n=$(grep -c . '"$tmp"'/calls)
if [ "$n" -le 1 ]; then
	echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
	exit 100
fi
exit 0'
run; rc=$?
check '[ $rc = 0 ]' "busy package manager: exit $rc, expected 0 after the retry"
check 'grep -q "DPkg::Lock::Timeout" "$tmp/calls"' "apt-get was not asked to wait for the lock"
check 'grep -q busy "$tmp/out"' "no message about the busy package manager"
echo "busy once: exit $rc, $(grep -c . "$tmp/calls") apt-get calls"

# A real error: apt's words are shown.
fake 'echo "E: Sub-process /usr/bin/dpkg returned an error code (1) -- pcpu test marker" >&2; exit 100'
run; rc=$?
check '[ $rc = 1 ]' "apt error: exit $rc, expected 1"
check 'grep -q "pcpu test marker" "$tmp/out"' "apt's own error message was not printed"
echo "apt error: exit $rc, message shown: $(grep -c 'pcpu test marker' "$tmp/out")"

# Unknown to the lists: update, then install again.
fake 'if [[ " $* " == *" install "* ]] && ! grep -q update '"$tmp"'/calls; then
	echo "E: Unable to locate package pcpu-no-such-package-xyz" >&2; exit 100
fi
exit 0'
run; rc=$?
check '[ $rc = 0 ]' "stale lists: exit $rc, expected 0 after apt-get update"
check 'grep -q update "$tmp/calls"' "apt-get update was not run"

[ $fails = 0 ] && echo ok
exit $((fails > 0))
