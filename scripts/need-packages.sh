#!/bin/sh
# Install the Debian packages named as arguments that are missing.
# Usage: scripts/need-packages.sh pkg...
missing=
for p in "$@"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "need-packages: missing:$missing (run as root or install them)" >&2
	exit 1
fi
echo "need-packages: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 || {
	echo "need-packages: apt-get install$missing failed" >&2
	exit 1
}
