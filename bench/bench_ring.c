// SPDX-License-Identifier: MIT
/*
 * The ring's benches (the ring owner's; bench_ring_write.c measures
 * pcpu_ring_write against the peers through the public API only).
 *
 * Writers against the usual alternative, a mutex ring: one shared ring
 * of the same record format (16-byte header with length and TSC
 * timestamp, payload) under a pthread mutex.
 *  ring_reserve_commit(_noclock): one 16-byte record per op, reserved,
 *    written in place, committed; discard mode, 4 MiB per CPU.  Both rings
 *    need a consumer or they fill: each writer plays an infinitely fast
 *    one every 256 records, moving the tail to half a buffer behind its
 *    write position (pcpu) or to the head (mutex).  That costs both the
 *    same amortized load and store and leaves the writer path alone.
 *  ring_write: the mutex-ring row for the pcpu rows of bench_ring_write.c
 *    (pcpu_ring_write on a 4 MiB flight recorder, no consumer): a mutex
 *    ring that overwrites its oldest bytes, same record.
 *  ring_write_noclock: both, without the timestamp (PCPU_RING_NO_CLOCK;
 *    the mutex ring skips its rdtsc): what the ring itself costs.  rdtsc
 *    alone takes about 11 ns back to back on the AMD EPYC VMs here.
 *
 * The consumer (pcpu rows only; 1 writer pinned to CPU 0, the consumer
 * pinned to CPU 1, 16-byte records, timestamped):
 *  ring_write_consumed: the writer at full speed into a discard-mode ring
 *    of 1 MiB buffers while the consumer drains it with
 *    pcpu_ring_read_batch(); ns per write, and "lost" the writes dropped
 *    because the consumer was behind (the target: < 1 %);
 *  ring_drain: the consumer's own cost, ns per record while it had
 *    records to read (1e9 / that = its drain rate, printed), and its
 *    records per second of the run;
 *  ring_write_waited / ring_write_waited_page: the same writer with a
 *    consumer that sleeps in pcpu_ring_wait() whenever it has read all
 *    (min_bytes 0: woken at the first record; min_bytes a page: once a
 *    page is there).  Against ring_write_consumed, the cost of waking
 *    for the writer; the wakes are printed.  With nobody asleep the
 *    writer's whole cost is one load of a line only sleepers write: not
 *    separable from noise in these runs.
 *
 * The flight recorder's promises (pcpu rows):
 *  ring_overwrite_3w: 3 writers on 2 CPUs (two share CPU 0 and preempt
 *    each other, often between reserve and commit), overwrite mode, 1 MiB
 *    buffers; "lost": writes refused (the target: < 1 %);
 *  ring_abandoned_overwrite: one reservation never committed, then 1000
 *    writes on that CPU of an 8 KiB flight recorder of 1 KiB pages (three
 *    laps round it); "lost": the refused ones (the target: accepts >=
 *    99 %);
 *  ring_abandoned_discard: the same in a discard ring that a consumer
 *    drains: the ring fills behind the reservation, and ns_per_op is the
 *    time from the reservation to the first write accepted again (the
 *    target: within PCPU_RING_STUCK_NS and half a second).
 */
#include "bench.h"

#include <x86intrin.h>

#define MAXT		256
#define KEEP_UP		256
#define MRING_SIZE	(1u << 22)

struct mring {
	pthread_mutex_t lock;
	uint64_t head, tail;
	char buf[MRING_SIZE];
};

static struct pcpu_ring *ring, *ring_nc, *ring_ow_nc;
static struct mring mr = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct {
	_Alignas(64) long ok;
	long dropped;
} done[MAXT];
static long lost_run;

/* The infinitely fast consumer of this CPU's buffer: tail only moves
 * forward (another thread of this CPU may have moved it further). */
static void keep_up(struct pcpu_ring *r)
{
	unsigned int c = pcpu_index();
	uint64_t w, t;

	if (c >= r->nbufs)
		c = r->nbufs - 1;
	w = __atomic_load_n(&r->ctl[c].wpos, __ATOMIC_RELAXED) & ~7ull;
	if (w < r->buf_size / 2)
		return;
	w -= r->buf_size / 2;
	t = __atomic_load_n(&r->ctl[c].tail, __ATOMIC_RELAXED);
	while (t < w && !__atomic_compare_exchange_n(&r->ctl[c].tail, &t, w,
						     0, __ATOMIC_RELEASE,
						     __ATOMIC_RELAXED))
		;
}

static void rc_loop(void *x, int tid, long n)
{
	struct pcpu_ring *r = x;
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	long ok = 0, dropped = 0;

	for (long i = 0; i < n; i++) {
		void *p = pcpu_ring_reserve(r, sizeof(payload));

		if (p) {
			payload[1] = (uint64_t)i;
			memcpy(p, payload, sizeof(payload));
			if (pcpu_ring_commit(r, p) == 0)
				ok++;
		} else {
			dropped++;
		}
		if (i % KEEP_UP == 0)
			keep_up(r);
	}
	done[tid % MAXT].ok += ok;
	done[tid % MAXT].dropped += dropped;
}

static void write_loop(void *x, int tid, long n)
{
	struct pcpu_ring *r = x;
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	long ok = 0, dropped = 0;

	for (long i = 0; i < n; i++) {
		payload[1] = (uint64_t)i;
		if (pcpu_ring_write(r, payload, sizeof(payload)) == 0)
			ok++;
		else
			dropped++;
	}
	done[tid % MAXT].ok += ok;
	done[tid % MAXT].dropped += dropped;
}

/* ctx: &clock (1: rdtsc), the keep-up consumer every KEEP_UP records. */
static void mutex_rc_loop(void *x, int tid, long n)
{
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	int clock = *(int *)x;
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

/* The flight-recorder mutex ring: no consumer, the oldest bytes go. */
static void mutex_write_loop(void *x, int tid, long n)
{
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	int clock = *(int *)x;

	for (long i = 0; i < n; i++) {
		uint64_t hdr[2];
		size_t off;

		payload[1] = (uint64_t)i;
		pthread_mutex_lock(&mr.lock);
		off = mr.head % MRING_SIZE;
		hdr[0] = sizeof(payload);
		hdr[1] = clock ? __rdtsc() : 0;
		memcpy(mr.buf + off, hdr, sizeof(hdr));
		memcpy(mr.buf + off + 16, payload, sizeof(payload));
		mr.head += 32;
		pthread_mutex_unlock(&mr.lock);
	}
	done[tid % MAXT].ok += n;
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
	lost_run = dropped;
	if (ok + dropped != ops)
		fprintf(stderr, "expected %ld records, observed %ld + %ld "
			"dropped\n", ops, ok, dropped);
	return ok + dropped != ops;
}

static long lost(void *x)
{
	(void)x;
	return lost_run;
}

/* ---- consumer and promises: runs of our own, rows in bench.h's form -- */

/* The runs below are not bench_run()'s, so they look at BENCH_ONLY
 * themselves (bench_selected(), bench.h). */
#define selected(name)	bench_selected(name)

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % bench_ncpus(), &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (bench_gs_pinned())
		pcpu_gs_pin_thread(-1);
}

/* One row: the median of BENCH_REPS values, min and max. */
static void emit(const char *bench, int threads, double *v, long ops,
		 long lostn, const char *note)
{
	double s[BENCH_REPS];

	memcpy(s, v, sizeof(s));
	qsort(s, BENCH_REPS, sizeof(s[0]), bench_cmp);
	printf("{\"bench\": \"%s\", \"impl\": \"%s\", \"kind\": \"ours\", "
	       "\"threads\": %d, \"ns_per_op\": %.4f, \"min\": %.4f, "
	       "\"max\": %.4f, \"reps\": %d, \"ops_per_rep\": %ld, "
	       "\"stopped\": false", bench, bench_pcpu_impl(), threads,
	       s[BENCH_REPS / 2], s[0], s[BENCH_REPS - 1], BENCH_REPS, ops);
	if (lostn >= 0)
		printf(", \"lost\": %ld", lostn);
	printf(", \"note\": \"");
	bench_json_str(note);
	printf("\"}\n");
	fflush(stdout);
	fprintf(stderr, "  %-22s %-22s %3d threads %9.3f ns/op  "
		"[%.3f .. %.3f]", bench, bench_pcpu_impl(), threads,
		s[BENCH_REPS / 2], s[0], s[BENCH_REPS - 1]);
	if (lostn > 0)
		fprintf(stderr, "  %ld of %ld lost (%.3f%%)", lostn,
			ops * BENCH_REPS, 100.0 * lostn / (ops * BENCH_REPS));
	fputc('\n', stderr);
}

struct duo {
	struct pcpu_ring *r;
	struct pcpu_ring_reader rd;
	size_t min_bytes;		/* sleeping consumer: its min_bytes */
	int sleeper;			/* the consumer waits when idle */
	int stop;			/* atomic: the writer is done */
	long written, dropped;		/* writer's */
	long consumed, batches, sleeps;	/* consumer's */
	double busy, secs;		/* consumer's time with records; run */
};

static int count_cb(void *arg, const struct pcpu_ring_entry *e,
		    const void *data)
{
	(void)arg;
	(void)e;
	(void)data;
	return 0;
}

static void *duo_consumer(void *arg)
{
	struct duo *d = arg;
	int n;

	pin_to(1);
	for (;;) {
		double t0 = bench_now();

		n = pcpu_ring_read_batch(&d->rd, count_cb, NULL, 4096);
		if (n > 0) {
			d->busy += bench_now() - t0;
			d->consumed += n;
			d->batches++;
			continue;
		}
		if (__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
			/* The writer is done: drain what is left. */
			while ((n = pcpu_ring_read_batch(&d->rd, count_cb,
							 NULL, 4096)) > 0)
				d->consumed += n;
			break;
		}
		if (d->sleeper) {
			d->sleeps++;
			pcpu_ring_wait(&d->rd, d->min_bytes, 10000000);
		} else {
			for (int i = 0; i < 64; i++)
				bench_cpu_relax();
		}
	}
	return NULL;
}

/* One run: the writer here on CPU 0 for about bench_target() seconds. */
static int duo_run(struct duo *d)
{
	uint64_t payload[2] = { 1, 0 };
	struct pcpu_ring_stats st;
	double t0, until;
	pthread_t th;
	long i = 0;
	int bad;

	if (pcpu_ring_reader_open_fd(&d->rd, pcpu_ring_fd(d->r)) &&
	    pcpu_ring_reader_open(&d->rd, pcpu_ring_mem(d->r),
				  pcpu_ring_mem_size(d->r)))
		return -1;
	d->stop = 0;
	d->written = d->dropped = d->consumed = d->batches = d->sleeps = 0;
	d->busy = 0;
	pin_to(0);
	pthread_create(&th, NULL, duo_consumer, d);
	usleep(1000);
	t0 = bench_now();
	until = t0 + bench_target();
	for (;; i++) {
		payload[1] = (uint64_t)i;
		if (pcpu_ring_write(d->r, payload, sizeof(payload)) == 0)
			d->written++;
		else
			d->dropped++;
		if (!(i & 4095) && bench_now() >= until)
			break;
	}
	d->secs = bench_now() - t0;
	__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	/* Every write is read or counted dropped, exactly. */
	bad = 0;
	for (unsigned int c = 0; c < pcpu_ring_reader_nbufs(&d->rd); c++) {
		pcpu_ring_reader_stats(&d->rd, c, &st);
		bad += st.corrupt + st.abandoned != 0;
	}
	pcpu_ring_reader_close(&d->rd);
	if (bad || d->consumed != d->written) {
		fprintf(stderr, "consumer: expected %ld records, read %ld\n",
			d->written, d->consumed);
		return -1;
	}
	return 0;
}

static int consumer_benches(void)
{
	struct pcpu_ring_params p = { 1 << 20, 4096, 0 };
	double w[BENCH_REPS], dr[BENCH_REPS], ww[2][BENCH_REPS];
	long wr = 0, dropped = 0, cons = 0, wakes[2] = { 0, 0 };
	long wrw[2] = { 0, 0 }, lostw[2] = { 0, 0 };
	double rate = 0, cap = 0;
	struct duo d;
	char note[400];

	if (bench_ncpus() < 2 || !selected("ring_write_consumed"))
		return 0;
	memset(&d, 0, sizeof(d));
	d.r = pcpu_ring_create(&p);
	if (!d.r)
		return -1;
	for (int k = 0; k < BENCH_REPS; k++) {
		if (duo_run(&d))
			return -1;
		w[k] = d.secs * 1e9 / (double)(d.written + d.dropped);
		dr[k] = d.consumed ? d.busy * 1e9 / (double)d.consumed : 0;
		wr += d.written + d.dropped;
		dropped += d.dropped;
		cons += d.consumed;
		rate += d.consumed / d.secs / BENCH_REPS;
		cap += d.busy > 0 ? d.consumed / d.busy / BENCH_REPS : 0;
	}
	snprintf(note, sizeof(note), "1 writer (CPU 0, pcpu_ring_write, 16 B) "
		 "+ 1 consumer (CPU 1, pcpu_ring_read_batch), discard mode, "
		 "1 MiB buffers; lost = writes dropped");
	emit("ring_write_consumed", 2, w, wr / BENCH_REPS, dropped, note);
	snprintf(note, sizeof(note), "the consumer of ring_write_consumed: "
		 "ns per record while it had records; drained %.1fM records/s "
		 "of the run, %.1fM/s while busy", rate / 1e6, cap / 1e6);
	emit("ring_drain", 2, dr, cons / BENCH_REPS, -1, note);
	fprintf(stderr, "  ring_drain: %.1fM records/s over the run, %.1fM/s "
		"while reading (%.3f%% of writes dropped)\n", rate / 1e6,
		cap / 1e6, wr ? 100.0 * dropped / wr : 0);

	/* The same with a consumer that sleeps when it has read all. */
	d.sleeper = 1;
	for (int m = 0; m < 2; m++) {
		d.min_bytes = m ? p.page_size : 0;
		for (int k = 0; k < BENCH_REPS; k++) {
			uint32_t s0 = __atomic_load_n(&d.r->wake->seq,
						      __ATOMIC_RELAXED);

			if (duo_run(&d))
				return -1;
			ww[m][k] = d.secs * 1e9 /
				   (double)(d.written + d.dropped);
			wrw[m] += d.written + d.dropped;
			lostw[m] += d.dropped;
			wakes[m] += (uint32_t)(__atomic_load_n(&d.r->wake->seq,
					__ATOMIC_RELAXED) - s0);
		}
		snprintf(note, sizeof(note), "ring_write_consumed with a "
			 "consumer that sleeps in pcpu_ring_wait(min_bytes %zu) "
			 "when it has read all: %.0f wakes per second, one "
			 "per %.0f writes", d.min_bytes,
			 wakes[m] / (BENCH_REPS * bench_target()),
			 wakes[m] ? (double)wrw[m] / wakes[m] : 0.0);
		emit(m ? "ring_write_waited_page" : "ring_write_waited", 2,
		     ww[m], wrw[m] / BENCH_REPS, lostw[m], note);
	}
	pcpu_ring_destroy(d.r);
	return 0;
}

/* 3 writers, 2 CPUs, overwrite, reserve + commit: refusals in lost. */
static void ow_loop(void *x, int tid, long n)
{
	struct pcpu_ring *r = x;
	uint64_t payload[2] = { (uint64_t)tid, 0 };
	long ok = 0, dropped = 0;

	for (long i = 0; i < n; i++) {
		void *q = pcpu_ring_reserve(r, sizeof(payload));

		if (!q) {
			dropped++;
			continue;
		}
		payload[1] = (uint64_t)i;
		memcpy(q, payload, sizeof(payload));
		ok += pcpu_ring_commit(r, q) == 0;
	}
	done[tid % MAXT].ok += ok;
	done[tid % MAXT].dropped += dropped;
}

static int overwrite_bench(void)
{
	struct pcpu_ring_params p = { 1 << 20, 4096, PCPU_RING_OVERWRITE };
	struct pcpu_ring *r = pcpu_ring_create(&p);
	struct bench b = {
		.bench = "ring_overwrite_3w",
		.threads = 3,
		.loop = ow_loop,
		.verify = verify,
		.lost = lost,
		.note = "3 writers on 2 CPUs, pcpu_ring_reserve + commit of "
			"16 B, overwrite mode, 1 MiB buffers, no consumer; "
			"lost = writes refused",
	};
	int rc;

	if (!r)
		return -1;
	if (!selected(b.bench)) {
		pcpu_ring_destroy(r);
		return 0;
	}
	b.impl = bench_pcpu_impl();
	b.ctx = r;
	rc = bench_run(&b);
	pcpu_ring_destroy(r);
	return rc;
}

/* After one reservation never committed, on CPU 0. */
static int abandoned_benches(void)
{
	struct pcpu_ring_params p = { 1 << 13, 1024, PCPU_RING_OVERWRITE };
	double ow[BENCH_REPS], dis[BENCH_REPS];
	long refused = 0;
	char note[300];

	if (!selected("ring_abandoned"))
		return 0;
	pin_to(0);
	for (int k = 0; k < BENCH_REPS; k++) {
		struct pcpu_ring *r = pcpu_ring_create(&p);
		uint64_t v = 0;
		double t0;

		if (!r || !pcpu_ring_reserve(r, 16))
			return -1;
		t0 = bench_now();
		for (v = 0; v < 1000; v++)
			refused += pcpu_ring_write(r, &v, sizeof(v)) != 0;
		ow[k] = (bench_now() - t0) * 1e9 / 1000;
		pcpu_ring_destroy(r);
	}
	snprintf(note, sizeof(note), "1000 writes on one CPU after a "
		 "reservation never committed there, overwrite mode, 8 KiB "
		 "buffers of 1 KiB pages (3 laps); lost = writes refused");
	emit("ring_abandoned_overwrite", 1, ow, 1000, refused, note);

	/* Discard: a consumer on CPU 1 drains; how long until the writes
	 * go in again behind the abandoned reservation? */
	p = (struct pcpu_ring_params){ 1 << 16, 4096, 0 };
	for (int k = 0; k < (bench_ncpus() > 1 ? BENCH_REPS : 0); k++) {
		struct duo d;
		pthread_t th;
		uint64_t v = 0;
		double t0, full = 0;
		int state = 0;

		memset(&d, 0, sizeof(d));
		d.r = pcpu_ring_create(&p);
		if (!d.r || pcpu_ring_reader_open(&d.rd, pcpu_ring_mem(d.r),
						  pcpu_ring_mem_size(d.r)))
			return -1;
		pthread_create(&th, NULL, duo_consumer, &d);
		pin_to(0);
		t0 = bench_now();
		if (!pcpu_ring_reserve(d.r, 16))
			return -1;
		/* Fill (refused once full), then wait for acceptance. */
		while (bench_now() - t0 < 10.0 * PCPU_RING_STUCK_NS / 1e9) {
			int ok = pcpu_ring_write(d.r, &v, sizeof(v)) == 0;

			v++;
			if (state == 0 && !ok) {
				state = 1;
				full = bench_now();
			} else if (state == 1 && ok) {
				state = 2;
				break;
			}
			if (state == 1)
				usleep(100);
		}
		dis[k] = state == 2 ? (bench_now() - t0) * 1e9 : 1e12;
		__atomic_store_n(&d.stop, 1, __ATOMIC_RELEASE);
		pthread_join(th, NULL);
		pcpu_ring_reader_close(&d.rd);
		pcpu_ring_destroy(d.r);
		(void)full;
	}
	if (bench_ncpus() > 1) {
		snprintf(note, sizeof(note), "discard mode, 64 KiB buffers, a "
			 "consumer draining: ns from a reservation never "
			 "committed until writes behind it are accepted again "
			 "(the reader skips it after PCPU_RING_STUCK_NS = %.1f "
			 "s)", PCPU_RING_STUCK_NS / 1e9);
		emit("ring_abandoned_discard", 1, dis, 1, -1, note);
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum bench_mode mode = bench_mode(argc, argv);
	int counts[BENCH_MAX_COUNTS], nc = bench_thread_counts(counts), rc = 0;
	int clock_on = 1, clock_off = 0;

	if (mode == BENCH_PEER)
		return 0;
	if (mode == BENCH_PCPU) {
		struct pcpu_ring_params p = { 1 << 22, 4096, 0 };

		ring = pcpu_ring_create(&p);
		p.flags = PCPU_RING_NO_CLOCK;
		ring_nc = pcpu_ring_create(&p);
		p.flags = PCPU_RING_NO_CLOCK | PCPU_RING_OVERWRITE;
		ring_ow_nc = pcpu_ring_create(&p);
		if (!ring || !ring_nc || !ring_ow_nc) {
			perror("pcpu_ring_create");
			return 1;
		}
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "ring_reserve_commit",
			.threads = counts[k],
			.verify = verify,
			.lost = lost,
		};

		if (mode == BENCH_PCPU) {
			b.impl = bench_pcpu_impl();
			b.loop = rc_loop;
			b.ctx = ring;
			rc |= bench_run(&b);
			b.bench = "ring_reserve_commit_noclock";
			b.ctx = ring_nc;
			rc |= bench_run(&b);
			b.bench = "ring_write_noclock";
			b.loop = write_loop;
			b.ctx = ring_ow_nc;
			b.note = "pcpu_ring_write of 16 B, flight recorder "
				 "(overwrite mode, 4 MiB per CPU), no "
				 "timestamp";
			rc |= bench_run(&b);
			continue;
		}
		b.impl = "mutex-ring";
		b.loop = mutex_rc_loop;
		b.ctx = &clock_on;
		rc |= bench_run(&b);
		b.bench = "ring_reserve_commit_noclock";
		b.ctx = &clock_off;
		rc |= bench_run(&b);
		b.loop = mutex_write_loop;
		b.note = "one 4 MiB ring under a pthread mutex, same record, "
			 "overwriting its oldest bytes (as ring_write's "
			 "flight recorder)";
		b.bench = "ring_write";
		b.ctx = &clock_on;
		rc |= bench_run(&b);
		b.bench = "ring_write_noclock";
		b.ctx = &clock_off;
		rc |= bench_run(&b);
	}
	if (mode == BENCH_PCPU) {
		if (consumer_benches() || overwrite_bench() ||
		    abandoned_benches()) {
			fprintf(stderr, "ring: consumer or promise bench "
				"failed\n");
			rc = 1;
		}
		pcpu_ring_destroy(ring);
		pcpu_ring_destroy(ring_nc);
		pcpu_ring_destroy(ring_ow_nc);
	}
	return rc ? 1 : 0;
}
