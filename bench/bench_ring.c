// SPDX-License-Identifier: MIT
/*
 * ring_reserve_commit: one 16-byte record per op (reserve, write the
 * payload, commit), timestamp included.
 *
 * pcpu-<backend>: pcpu_ring_reserve + pcpu_ring_commit on a discard-mode
 * per-CPU ring.  Baseline mutex-ring: one shared ring of the same record
 * format (16-byte header with length and TSC timestamp, payload) under a
 * pthread mutex, the usual alternative.
 *
 * Both rings need a consumer, or they fill and every op measures the drop
 * path.  Here each writer plays an infinitely fast consumer for its own
 * CPU's buffer every 256 records: it moves the buffer's tail to half a
 * buffer behind the current reservation position (pcpu) or tail to head
 * under the mutex (baseline).  That costs both the same amortized load
 * and store and leaves the writer path alone.  This consumer does not
 * wait for commits: a writer preempted between reserve and commit for
 * longer than half a buffer of other writers' records is lapped, and its
 * commit is then refused (EINVAL: commit checks the header against the
 * buffer's reservation word, so a reservation whose space a later lap
 * took is refused even before the later writer has overwritten its
 * header); the bench counts those apart.  Every op must either commit or
 * be lapped, exactly (the verify callback).
 *
 * ring_reserve_commit_noclock: the same without the timestamp
 * (PCPU_RING_NO_CLOCK; the baseline skips its rdtsc too).  rdtsc alone
 * costs about 7.6 ns back to back on these VMs.
 */
#include "bench.h"

#include <x86intrin.h>

#define MAXT		256
#define KEEP_UP		256
#define MRING_SIZE	(1u << 20)

struct mring {
	pthread_mutex_t lock;
	uint64_t head, tail;
	char buf[MRING_SIZE];
};

static struct pcpu_ring *ring, *ring_nc;
static struct mring mr = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct {
	_Alignas(64) long ok;
	long lapped;
} done[MAXT];
static long lapped_total;

/* The infinitely fast consumer of this CPU's buffer: tail only moves
 * forward (another thread of this CPU may have moved it further). */
static void keep_up(struct pcpu_ring *r)
{
	unsigned int c = pcpu_index();
	uint64_t w, t;

	if (c >= r->nbufs)
		c = r->nbufs - 1;
	w = __atomic_load_n(pcpu_ptr(r->resv, c), __ATOMIC_RELAXED) &
	    r->pos_mask;
	if (w < r->buf_size / 2)
		return;
	w -= r->buf_size / 2;
	t = __atomic_load_n(&r->ctl[c].tail, __ATOMIC_RELAXED);
	while (t < w && !__atomic_compare_exchange_n(&r->ctl[c].tail, &t, w,
						     0, __ATOMIC_RELEASE,
						     __ATOMIC_RELAXED))
		;
}

static void pcpu_loop(void *x, int tid, long n)
{
	struct pcpu_ring *ring = x;
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	long ok = 0, lapped = 0;

	for (long i = 0; i < n; i++) {
		void *p = pcpu_ring_reserve(ring, sizeof(payload));

		if (p) {
			payload[1] = (uint64_t)i;
			memcpy(p, payload, sizeof(payload));
			if (pcpu_ring_commit(ring, p) == 0)
				ok++;
			else
				lapped++;
		}
		if (i % KEEP_UP == 0)
			keep_up(ring);
	}
	done[tid % MAXT].ok += ok;
	done[tid % MAXT].lapped += lapped;
}

static void mutex_loop(void *x, int tid, long n)
{
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	int clock = x != NULL;
	long ok = 0;

	for (long i = 0; i < n; i++) {
		uint64_t hdr[2];
		size_t off;

		pthread_mutex_lock(&mr.lock);
		if (i % KEEP_UP == 0)
			mr.tail = mr.head;
		if (mr.head + 32 - mr.tail <= MRING_SIZE) {
			off = mr.head % MRING_SIZE;
			hdr[0] = sizeof(payload);
			hdr[1] = clock ? __rdtsc() : 0;
			payload[1] = (uint64_t)i;
			memcpy(mr.buf + off, hdr, sizeof(hdr));
			memcpy(mr.buf + off + 16, payload, sizeof(payload));
			mr.head += 32;
			ok++;
		}
		pthread_mutex_unlock(&mr.lock);
	}
	done[tid % MAXT].ok += ok;
}

static int verify(void *x, long ops)
{
	long sum = 0, lapped = 0;

	(void)x;
	for (int i = 0; i < MAXT; i++) {
		sum += done[i].ok;
		lapped += done[i].lapped;
		done[i].ok = done[i].lapped = 0;
	}
	lapped_total += lapped;
	if (sum + lapped != ops)
		fprintf(stderr, "expected %ld records, observed %ld + %ld "
			"lapped\n", ops, sum, lapped);
	return sum + lapped != ops;
}

int main(int argc, char **argv)
{
	int pcpu = bench_mode_pcpu(argc, argv);
	int counts[3], nc = bench_thread_counts(counts), rc = 0;

	if (pcpu) {
		struct pcpu_ring_params p = { 1 << 22, 4096, 0 };

		ring = pcpu_ring_create(&p);
		p.flags = PCPU_RING_NO_CLOCK;
		ring_nc = pcpu_ring_create(&p);
		if (!ring || !ring_nc) {
			perror("pcpu_ring_create");
			return 1;
		}
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "ring_reserve_commit",
			.threads = counts[k],
			.verify = verify,
		};

		b.impl = pcpu ? bench_pcpu_impl() : "mutex-ring";
		b.loop = pcpu ? pcpu_loop : mutex_loop;
		b.ctx = pcpu ? (void *)ring : (void *)&mr;
		rc |= bench_run(&b);
		b.bench = "ring_reserve_commit_noclock";
		b.ctx = pcpu ? (void *)ring_nc : NULL;
		rc |= bench_run(&b);
	}
	if (lapped_total)
		fprintf(stderr, "  (%ld records lapped by the bench's "
			"consumer while preempted mid-record)\n",
			lapped_total);
	return rc ? 1 : 0;
}
