#!/bin/bash
# Runs the LTTng-UST peer (bench/peer_lttng.c) inside a tracing session
# that this script sets up and tears down:
#
#   bench/lttng.sh OUTDIR BINARY    (rows on stdout, progress on stderr)
#
# It starts its own session daemon (lttng-sessiond --daemonize
# --no-kernel, LTTNG_HOME under OUTDIR), creates a session with no output
# and one user-space channel in discard mode (4 x 1 MiB sub-buffers per
# CPU), enables the bench's event, starts it, runs BINARY in peer mode,
# stops, reads the channel's discarded-event count and prints it as a
# JSON line for the report, then destroys the session and stops the
# daemon (and its consumer daemons), whatever happened.  Exit status 77
# (with "skip: reason" on stderr) when LTTng cannot run here, the
# binary's own status otherwise.
set -u
out=$1
bin=$2
session=pcpu-bench-$$
channel=bench
sessiond_pid=
children=

skip() {
	echo "skip: lttng-ust: $*" >&2
	exit 77
}

for t in lttng lttng-sessiond; do
	command -v $t >/dev/null || skip "$t not found (Debian lttng-tools)"
done
export LTTNG_HOME=$(realpath "$out")/lttng-home
rm -rf "$LTTNG_HOME"
mkdir -p "$LTTNG_HOME"
# A root session daemon lives in /var/run/lttng whatever LTTNG_HOME says.
if [ "$(id -u)" = 0 ]; then
	rundir=/var/run/lttng
else
	rundir=$LTTNG_HOME/.lttng
fi
if [ -s "$rundir/lttng-sessiond.pid" ] &&
   kill -0 "$(cat "$rundir/lttng-sessiond.pid")" 2>/dev/null; then
	skip "a session daemon not started by the bench is running" \
	     "(pid $(cat "$rundir/lttng-sessiond.pid")); the bench does not" \
	     "use or stop it"
fi

teardown() {
	lttng destroy "$session" >/dev/null 2>&1
	[ -n "$sessiond_pid" ] || return
	children=$(pgrep -P "$sessiond_pid" | tr '\n' ' ')
	kill "$sessiond_pid" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$sessiond_pid" 2>/dev/null || break
		sleep 0.2
	done
	for p in $sessiond_pid $children; do
		if kill -0 "$p" 2>/dev/null; then
			echo "  lttng: pid $p still running; killing it" >&2
			kill -9 "$p" 2>/dev/null
		fi
	done
}
trap teardown EXIT

log=$LTTNG_HOME/sessiond.log
lttng-sessiond --daemonize --no-kernel >"$log" 2>&1 ||
	skip "lttng-sessiond did not start: $(tail -n 2 "$log" | tr '\n' ' ')"
sessiond_pid=$(cat "$rundir/lttng-sessiond.pid" 2>/dev/null)
[ -n "$sessiond_pid" ] || skip "lttng-sessiond left no pid file in $rundir"

ctl() {
	"$@" >>"$log" 2>&1 ||
		skip "'$*' failed: $(tail -n 2 "$log" | tr '\n' ' ')"
}
ctl lttng create "$session" --no-output
ctl lttng enable-channel -u -s "$session" --subbuf-size=1M --num-subbuf=4 \
	"$channel"
ctl lttng enable-event -u -s "$session" -c "$channel" 'pcpu_bench:record'
ctl lttng start "$session"
echo "  lttng: session $session started (sessiond pid $sessiond_pid," \
     "discard mode, 4 x 1 MiB sub-buffers per CPU, no output)" >&2

LTTNG_UST_REGISTER_TIMEOUT=10000 "$bin" peer
rc=$?

lttng stop "$session" >>"$log" 2>&1
lost=$(lttng list "$session" 2>>"$log" |
	awk '/Discarded events:/ { n += $3 } END { print n + 0 }')
echo "  lttng: $lost events discarded over the whole run" >&2
printf '{"bench": "ring_write", "impl": "lttng-ust", "run_lost": %s, ' "$lost"
printf '"run_note": "LTTng discarded %s events over the whole run (all thread counts)"}\n' "$lost"
exit $rc
