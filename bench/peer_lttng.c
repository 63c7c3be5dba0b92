// SPDX-License-Identifier: MIT
/*
 * Peer lttng-ust: one LTTng-UST tracepoint per op with the 16-byte
 * payload of ring_write (two 64-bit integers: the thread and the
 * iteration), against pcpu_ring_write (bench_ring_write.c).
 *
 * Run it through bench/lttng.sh, which starts a session daemon of its
 * own, creates a session whose channel records this event, starts it,
 * runs this program, prints the channel's discarded-event count, and
 * tears everything down.  The channel is LTTng's default discard mode
 * (4 sub-buffers of 1 MiB per CPU, per-user buffers) and the session has
 * no output (--no-output): the consumer daemon still takes every full
 * sub-buffer off the ring, but writes it nowhere, so the disk is not in
 * the measurement.  Without a session the tracepoint is a disabled
 * branch: this program then skips instead of measuring that.
 */
#include "bench.h"

#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "peer_lttng_tp.h"

static void loop(void *x, int tid, long n)
{
	(void)x;
	for (long i = 0; i < n; i++)
		lttng_ust_tracepoint(pcpu_bench, record, (uint64_t)tid,
				     (uint64_t)i);
}

int main(int argc, char **argv)
{
	int counts[BENCH_MAX_COUNTS], rc = 0;
	int nc = bench_thread_counts(counts);

	if (bench_mode(argc, argv) != BENCH_PEER)
		return 0;
	/* liblttng-ust's constructor waited for the session daemon
	 * (LTTNG_UST_REGISTER_TIMEOUT): the event is enabled by now if a
	 * session records it. */
	if (!lttng_ust_tracepoint_enabled(pcpu_bench, record))
		bench_skip("lttng-ust: tracepoint pcpu_bench:record is not "
			   "enabled (no session daemon or session; run "
			   "through bench/lttng.sh)");
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "ring_write",
			.impl = "lttng-ust",
			.kind = "peer",
			.threads = counts[k],
			.loop = loop,
			.note = "LTTng-UST 2.13 tracepoint, discard mode, "
				"consumer daemon running with no output; "
				"events lost: see the lttng line",
		};

		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
