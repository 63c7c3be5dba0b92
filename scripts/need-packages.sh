#!/bin/sh
# Install the Debian packages named as arguments that are missing.
# Usage: scripts/need-packages.sh pkg...
#
# A fresh machine often has another apt or dpkg running (unattended
# upgrades, a first-boot script): apt-get is then told to wait for the dpkg
# lock itself (DPkg::Lock::Timeout), and when it still reports a lock it
# is retried once after a pause.  On failure apt's own last lines are
# printed, never thrown away.
#
# Environment:
#   NEED_PACKAGES_LOCK_WAIT  seconds apt-get waits for a lock (default 300)
#   NEED_PACKAGES_RETRY_WAIT seconds before the one retry (default 10)
apt=apt-get
lock_wait=${NEED_PACKAGES_LOCK_WAIT:-300}
retry_wait=${NEED_PACKAGES_RETRY_WAIT:-10}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
		grep -q 'install ok installed'
}

missing=
for p in "$@"; do
	installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "need-packages: missing:$missing (run as root or install them)" >&2
	exit 1
fi
echo "need-packages: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# apt_run ARGS...: apt-get with the lock timeout; output kept in $out.
apt_run() {
	"$apt" -o DPkg::Lock::Timeout="$lock_wait" "$@" >"$out" 2>&1
}

locked() {
	grep -q -i -E 'could not get lock|unable to acquire|lock.*held by' "$out"
}

# install: update the lists first only when a package is unknown to them.
install() {
	apt_run install -y -q --no-install-recommends $missing && return 0
	if grep -q -E 'Unable to locate package|has no installation candidate' "$out"; then
		apt_run update -q || return 1
		apt_run install -y -q --no-install-recommends $missing && return 0
	fi
	return 1
}

install && exit 0
if locked; then
	echo "need-packages: the package manager is busy; retrying in ${retry_wait}s" >&2
	sleep "$retry_wait"
	install && exit 0
fi
echo "need-packages: apt-get install$missing failed:" >&2
tail -n 15 "$out" | sed 's/^/  apt: /' >&2
exit 1
