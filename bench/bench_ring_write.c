// SPDX-License-Identifier: MIT
/*
 * ring_write: one 16-byte record per op, pcpu_ring_write(r, data, 16)
 * (reserve, copy, commit, timestamp included), the row the ring peers
 * are compared with (ck_ring in peer_ck.c, LTTng-UST in peer_lttng.c).
 *
 * The ring is a flight recorder (PCPU_RING_OVERWRITE, 4 MiB per CPU,
 * 4 KiB pages): with no consumer the writer path is the whole cost, and
 * nothing is dropped for lack of one.  That is the closest match to the
 * LTTng row, whose consumer daemon releases sub-buffers without writing
 * them anywhere (bench/lttng.sh).  Overwrite mode is the dearer of our
 * two modes (its commit adds two atomic adds), so the comparison does not
 * flatter us.  A write may still fail when a page it wraps onto holds a
 * record a preempted writer has not committed yet (with more threads than
 * CPUs): such drops are cheap ops, so each row reports how many of its
 * records were lost, and every op either wrote or was dropped (verified).
 *
 * Only the public API: this file keeps working while the ring's
 * internals change (bench_ring.c, the ring owner's, measures
 * reserve/commit with a consumer written against them).
 */
#include "bench.h"

#define MAXT	256

static struct pcpu_ring *ring;
static struct {
	_Alignas(64) long ok;
	long dropped;
} done[MAXT];
static long dropped_run;

static void loop(void *x, int tid, long n)
{
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	long ok = 0, dropped = 0;

	(void)x;
	for (long i = 0; i < n; i++) {
		payload[1] = (uint64_t)i;
		if (pcpu_ring_write(ring, payload, sizeof(payload)) == 0)
			ok++;
		else
			dropped++;
	}
	done[tid % MAXT].ok += ok;
	done[tid % MAXT].dropped += dropped;
}

static int verify(void *x, long ops)
{
	long ok = 0, dropped = 0;

	(void)x;
	for (int i = 0; i < MAXT; i++) {
		ok += done[i].ok;
		dropped += done[i].dropped;
		done[i].ok = done[i].dropped = 0;
	}
	dropped_run += dropped;
	if (ok + dropped != ops)
		fprintf(stderr, "expected %ld records, observed %ld + %ld "
			"dropped\n", ops, ok, dropped);
	return ok + dropped != ops;
}

static long lost(void *x)
{
	long n = dropped_run;

	(void)x;
	dropped_run = 0;
	return n;
}

int main(int argc, char **argv)
{
	struct pcpu_ring_params p = { 4 << 20, 4096, PCPU_RING_OVERWRITE };
	int counts[BENCH_MAX_COUNTS], rc = 0;
	int nc = bench_thread_counts(counts);

	if (bench_mode(argc, argv) != BENCH_PCPU)
		return 0;	/* the peers are other programs */
	ring = pcpu_ring_create(&p);
	if (!ring) {
		perror("pcpu_ring_create");
		return 1;
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "ring_write",
			.impl = bench_pcpu_impl(),
			.threads = counts[k],
			.loop = loop,
			.verify = verify,
			.lost = lost,
			.note = "per-CPU flight recorder (overwrite mode), "
				"copies the 16-byte record, timestamped",
		};

		rc |= bench_run(&b);
	}
	pcpu_ring_destroy(ring);
	return rc ? 1 : 0;
}
