#!/bin/bash
# The examples are real programs: run them and check what they print.
#  - wordfreq on a real text file: the same top words with the same counts
#    as tr | sort | uniq -c computes, and "exact" (the per-CPU sums equal
#    what the threads counted);
#  - reqcount: every request counted exactly across configuration reloads,
#    no torn configuration seen;
#  - reqcount --serve under pcpu-stat: its counters are visible while it
#    serves (--json, and a refreshing view), SIGHUP reloads, SIGTERM ends
#    it with exact totals no smaller than what pcpu-stat saw;
#  - ringtrace --serve tailed by pcpu-stat -T: every event of every
#    thread exactly once and in request order, then nothing left (the
#    tail consumed them); ringtrace with its own consumer, tailed too:
#    pcpu-stat warns about the other consumer.
# Needs the built examples and tools (make tests); B as for tests/run.sh.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
B=${B:-build}
ex=$B/examples
stat=$B/tools/pcpu-stat
for f in "$ex/wordfreq" "$ex/reqcount" "$ex/ringtrace" "$stat"; do
	if [ ! -x "$f" ]; then
		echo "skip: $f is not built (make tests)"
		exit 77
	fi
done
tmp=$(mktemp -d)
serve_pid=
trace_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill -KILL "$serve_pid" 2>/dev/null
	[ -n "$trace_pid" ] && kill -KILL "$trace_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAILED: $*"; fails=$((fails + 1)); }

# ---- wordfreq ----
text=/usr/share/common-licenses/GPL-3
[ -r "$text" ] || text=README.md
for threads in 1 3; do
	"$ex/wordfreq" -t "$threads" -n 15 "$text" >"$tmp/wf" 2>&1 ||
		fail "wordfreq -t $threads exited $?: $(tail -3 "$tmp/wf")"
	grep -q '^exact: ' "$tmp/wf" || fail "wordfreq -t $threads: no exact line"
done
LC_ALL=C tr -cs 'A-Za-z' '\n' <"$text" | LC_ALL=C tr 'A-Z' 'a-z' |
	grep -v '^$' | LC_ALL=C sort | uniq -c |
	LC_ALL=C sort -k1,1nr -k2,2 | head -15 |
	awk '{ printf "%7d %s\n", $1, $2 }' >"$tmp/want"
sed -n '2,16p' "$tmp/wf" >"$tmp/got"
if ! cmp -s "$tmp/want" "$tmp/got"; then
	fail "wordfreq's top 15 of $text differ from tr|sort|uniq -c:"
	diff "$tmp/want" "$tmp/got" | head -10
fi
words=$(LC_ALL=C tr -cs 'A-Za-z' '\n' <"$text" | grep -c .)
grep -q ": $words words," "$tmp/wf" ||
	fail "wordfreq total: want $words words: $(head -1 "$tmp/wf")"
echo "wordfreq: $(head -1 "$tmp/wf")"
echo "  top: $(sed -n 2,4p "$tmp/wf" | tr -s ' \n' ' ')(same as tr|sort|uniq -c)"

# ---- reqcount ----
"$ex/reqcount" 4 50000 >"$tmp/rc" 2>&1 || fail "reqcount exited $?: $(tail -3 "$tmp/rc")"
grep -q '^requests 200000 (threads counted 200000), .* torn configs 0$' "$tmp/rc" ||
	fail "reqcount: $(grep '^requests' "$tmp/rc")"
grep -qx exact "$tmp/rc" || fail "reqcount: not exact"
echo "reqcount: $(grep '^requests' "$tmp/rc")"

# ---- reqcount --serve, seen by pcpu-stat ----
"$ex/reqcount" --serve 2 >"$tmp/serve" 2>&1 &
serve_pid=$!
for _ in $(seq 300); do
	grep -q '^reqcount: serving' "$tmp/serve" && break
	kill -0 "$serve_pid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q '^reqcount: serving' "$tmp/serve"; then
	fail "reqcount --serve did not start: $(tail -3 "$tmp/serve")"
else
	# Wait until it has served something (liveness, not timing).
	seen=0
	for _ in $(seq 300); do
		"$stat" --json "$serve_pid" >"$tmp/json" 2>&1 || break
		seen=$(grep -o '"name":"requests","kind":"ulong","total":[0-9]*' \
			"$tmp/json" | grep -o '[0-9]*$')
		[ "${seen:-0}" -gt 0 ] && break
		sleep 0.1
	done
	[ "${seen:-0}" -gt 0 ] || fail "pcpu-stat --json saw no requests: $(head -c 300 "$tmp/json")"
	for name in requests rejected 'route:/' 'route:/api' 'route:/admin'; do
		grep -q "\"name\":\"$name\"" "$tmp/json" ||
			fail "pcpu-stat --json: no entry $name"
	done
	"$stat" -i 0.2 -n 2 "$serve_pid" >"$tmp/top" 2>&1 ||
		fail "pcpu-stat -i 0.2 -n 2 exited $?: $(tail -3 "$tmp/top")"
	[ "$(grep -c '^NAME' "$tmp/top")" = 2 ] || fail "pcpu-stat -n 2: not 2 tables"
	grep -q 'RATE/s' "$tmp/top" || fail "pcpu-stat -i: no rates"
	echo "pcpu-stat on reqcount --serve:"
	sed -n '/^pid/,$p' "$tmp/top" | tail -n 8 | sed 's/^/  /'
	kill -HUP "$serve_pid"
	for _ in $(seq 300); do
		grep -q '^reqcount: reloaded' "$tmp/serve" && break
		sleep 0.1
	done
	grep -q '^reqcount: reloaded (generation 1)' "$tmp/serve" || fail "SIGHUP: no reload"
	kill -TERM "$serve_pid"
	wait "$serve_pid"
	rc=$?
	serve_pid=
	[ $rc = 0 ] || fail "reqcount --serve exited $rc: $(tail -3 "$tmp/serve")"
	grep -qx exact "$tmp/serve" || fail "reqcount --serve: not exact"
	final=$(sed -n 's/^requests \([0-9]*\) .*/\1/p' "$tmp/serve")
	[ "${final:-0}" -ge "${seen:-0}" ] ||
		fail "final total ${final:-?} below what pcpu-stat saw ($seen)"
	echo "reqcount --serve: pcpu-stat saw $seen requests, final $(grep '^requests' "$tmp/serve")"
fi

# ---- ringtrace --serve, tailed by pcpu-stat -T ----
threads=2 events=3000
"$ex/ringtrace" --serve $threads $events >"$tmp/trace" 2>&1 &
trace_pid=$!
for _ in $(seq 300); do
	grep -q '^ringtrace: serving' "$tmp/trace" && break
	kill -0 "$trace_pid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q '^ringtrace: serving: [0-9]* events written, 0 dropped' "$tmp/trace"; then
	fail "ringtrace --serve did not start: $(tail -3 "$tmp/trace")"
else
	total=$((threads * events))
	"$stat" -T trace -n $total -x "$trace_pid" >"$tmp/tail" 2>"$tmp/tail.err" ||
		fail "pcpu-stat -T trace -n $total exited $?: $(tail -3 "$tmp/tail.err")"
	# struct event: thread (4 bytes), latency (4), request (8), little
	# endian: one line per event with its thread and request number.
	awk 'function hexval(s,  i, v) {
		v = 0
		for (i = length(s) - 1; i >= 1; i -= 2)
			v = v * 256 + (index("0123456789abcdef", substr(s, i, 1)) - 1) * 16 + \
			    index("0123456789abcdef", substr(s, i + 1, 1)) - 1
		return v
	}
	$3 == 16 && $4 == "hex" { print hexval(substr($5, 1, 8)), hexval(substr($5, 17, 16)) }
	$3 != 16 || $4 != "hex" { print "bad", $0 }' "$tmp/tail" >"$tmp/events"
	got=$(wc -l <"$tmp/events")
	[ "$got" = $total ] || fail "pcpu-stat -T: $got lines, want $total"
	grep -q '^bad' "$tmp/events" && fail "not events: $(grep -m3 '^bad' "$tmp/events")"
	for t in $(seq 0 $((threads - 1))); do
		# Thread t's requests, in the order printed: 0 .. events-1.
		awk -v t=$t '$1 == t { print $2 }' "$tmp/events" >"$tmp/got.$t"
		seq 0 $((events - 1)) >"$tmp/want.$t"
		cmp -s "$tmp/want.$t" "$tmp/got.$t" ||
			fail "thread $t: its events are not 0..$((events - 1)) in order ($(wc -l <"$tmp/got.$t") of them)"
	done
	"$stat" -T trace -t 0.3 "$trace_pid" >"$tmp/tail2" 2>&1 ||
		fail "second tail exited $?: $(tail -3 "$tmp/tail2")"
	grep -q ' 0 records from ring trace' "$tmp/tail2" ||
		fail "second tail found records: $(tail -3 "$tmp/tail2")"
	echo "pcpu-stat -T trace on ringtrace --serve: $got events, each thread's $events in order; then none left"
	head -2 "$tmp/tail" | sed 's/^/  /'
	kill -TERM "$trace_pid"
	wait "$trace_pid"
	rc=$?
	trace_pid=
	[ $rc = 0 ] || fail "ringtrace --serve exited $rc: $(tail -3 "$tmp/trace")"
fi

# ---- ringtrace with its own consumer: two consumers, a warning ----
# Long enough to outlive the tail (about 3 s here); stopped after it.
"$ex/ringtrace" 2 3000000 >"$tmp/trace" 2>&1 &
trace_pid=$!
sleep 0.3
"$stat" -T trace -n 1000 "$trace_pid" >/dev/null 2>"$tmp/tail.err"
rc=$?
if kill -0 "$trace_pid" 2>/dev/null; then
	[ $rc = 0 ] || fail "tail of ringtrace exited $rc: $(tail -3 "$tmp/tail.err")"
	grep -q 'warning: another consumer reads ring trace' "$tmp/tail.err" ||
		fail "no warning about ringtrace's own consumer: $(cat "$tmp/tail.err")"
	echo "two consumers: $(grep -o 'warning: another consumer[^.]*' "$tmp/tail.err")"
else
	echo "ringtrace ended before the tail: the warning is not checked"
fi
kill -TERM "$trace_pid" 2>/dev/null
wait "$trace_pid"
trace_pid=

[ $fails = 0 ] && echo ok
exit $((fails > 0))
