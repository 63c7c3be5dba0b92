/* SPDX-License-Identifier: MIT */
/*
 * Benchmark harness.  A bench program registers configurations (bench,
 * impl, threads) and bench_run() measures each: threads start together on
 * a barrier, each runs the same number of iterations, and ns_per_op is the
 * wall time of the whole run divided by the total number of operations of
 * all threads (perfect scaling halves it from 1 to 2 threads).  Each
 * configuration is repeated BENCH_REPS times; the median is reported with
 * min and max.  Threads are pinned round-robin to the online CPUs (every
 * impl alike; the gs-pinned backend needs it), so with 16 threads on 2
 * CPUs eight threads share each CPU.
 *
 * Every bench sweeps the same thread counts (bench_thread_counts():
 * 1, 2, 4, 8, 16; BENCH_THREADS=1,2 for a quick run), and every row says
 * what kind of thing it measures: "ours" (pcpu-<backend>), "peer" (a
 * library people use instead: ck, liburcu, LTTng, an allocator, the
 * kernel's rseq selftest) or "baseline" (a hand-written reference such as
 * a __thread increment).
 *
 * Output: one JSON object per line on stdout (bench/report.c collects
 * them), a human line on stderr.
 */
#ifndef PCPU_BENCH_H
#define PCPU_BENCH_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <percpu/percpu.h>

#define BENCH_REPS		5
#define BENCH_MAX_COUNTS	8

enum bench_mode { BENCH_BASELINE, BENCH_PCPU, BENCH_PEER };

struct bench {
	const char *bench;	/* e.g. "counter_add" */
	const char *impl;	/* e.g. "pcpu-rseq" */
	int threads;
	void *ctx;		/* shared state, from the caller */
	/* Run iters operations as thread tid; may not be NULL. */
	void (*loop)(void *ctx, int tid, long iters);
	/* Optional: per-thread set-up before the clock starts. */
	void (*thread_init)(void *ctx, int tid);
	/* Optional: per-thread tear-down after the loop (inside the timed
	 * run, once per thread: keep it to a few microseconds). */
	void (*thread_fini)(void *ctx, int tid);
	/* Optional: check and reset after every run (calibration runs
	 * too): 0 if the run counted exactly total_ops. */
	int (*verify)(void *ctx, long total_ops);
	/* Optional, for loops that can stop early (bench_expired()):
	 * the operations the last run really did.  NULL: all of them. */
	long (*ops_done)(void *ctx);
	/* Optional, for rings: records the last run lost (dropped or
	 * discarded), read and reset after every run; the row reports the
	 * sum over its repetitions ("lost"). */
	long (*lost)(void *ctx);
	/* Operations per loop iteration (default 1). */
	int ops_per_iter;
	/* Threads that together make one stream of operations (default 1):
	 * 2 when a producer allocates and its partner frees, so that an op
	 * is one object's whole life.  Thread counts that are not a
	 * multiple of it are skipped. */
	int group;
	/* "ours", "peer" or "baseline"; NULL: from the impl name. */
	const char *kind;
	/* Optional: what this row measures differently from ours (printed
	 * under the table). */
	const char *note;
};

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int bench_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/*
 * "pcpu-<backend>", named for what runs: on a stock kernel the gs
 * instructions are measured through gs-pinned threads (the state the
 * patched kernel gives a thread, same instructions, same addresses), and
 * that row is pcpu-gs-pinned; pcpu-gs is the kernel-striped backend.
 */
static inline const char *bench_pcpu_impl(void)
{
	static char name[32];

	snprintf(name, sizeof(name), "pcpu-%s", pcpu_backend_name());
	return name;
}

static inline const char *bench_kind(const struct bench *b)
{
	if (b->kind)
		return b->kind;
	return strncmp(b->impl, "pcpu-", 5) ? "baseline" : "ours";
}

struct bench_thread {
	const struct bench *b;
	pthread_barrier_t *start;
	int tid;
	long iters;
	int failed;
	double t0, t1;		/* this thread's loop, seconds */
};

static inline int bench_gs_pinned(void)
{
	/* "none" in the baseline and peer modes (never initialized). */
	return !strcmp(pcpu_backend_name(), "gs-pinned");
}

static void *bench_thread_main(void *arg)
{
	struct bench_thread *t = (struct bench_thread *)arg;
	cpu_set_t set;
	int cpu = t->tid % bench_ncpus();

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		t->failed = 1;
	if (bench_gs_pinned() && pcpu_gs_pin_thread(-1) < 0)
		t->failed = 1;
	if (t->b->thread_init)
		t->b->thread_init(t->b->ctx, t->tid);
	pthread_barrier_wait(t->start);
	t->t0 = bench_now();
	t->b->loop(t->b->ctx, t->tid, t->iters);
	if (t->b->thread_fini)
		t->b->thread_fini(t->b->ctx, t->tid);
	t->t1 = bench_now();
	return NULL;
}

/* In a wait loop: let the sibling hyperthread (or the VM's host) run. */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" : : : "memory");
#endif
}

/*
 * Target time per repetition, seconds (BENCH_TIME overrides).  The sweep
 * is about 270 configurations of 5 repetitions plus calibration: a whole
 * make bench took 8 minutes at 0.3 s on 2 vCPUs (7 at 0.2 s), well inside
 * the 25-minute budget, with room for more benches.
 */
static inline double bench_target(void)
{
	const char *s = getenv("BENCH_TIME");

	return s && atof(s) > 0 ? atof(s) : 0.3;
}

/*
 * A loop whose op can stall for a scheduler time slice (a convoy behind a
 * preempted thread: ck_ring's MPMC enqueue waits for earlier producers)
 * may not finish its iterations in any bounded time.  Such a loop checks
 * bench_expired() (one load) after every op and stops once the main
 * thread has seen the run go well past its target time; it reports what
 * it did through ops_done.  The row is then throughput over the time it
 * ran, and says so ("stopped": true).
 */
static int bench_stop;

static inline int bench_expired(void)
{
	return __atomic_load_n(&bench_stop, __ATOMIC_RELAXED);
}

static inline double bench_deadline_secs(void)
{
	return 2 * bench_target() + 0.2;
}

/* One timed run of iters per thread; returns seconds, < 0 on error. */
static inline double bench_once(const struct bench *b, long iters)
{
	struct bench_thread *t = (struct bench_thread *)calloc(
		(size_t)b->threads, sizeof(*t));
	pthread_t *th = (pthread_t *)calloc((size_t)b->threads, sizeof(*th));
	pthread_barrier_t start;
	double t0, t1;
	int failed = 0, joined = 0;

	pthread_barrier_init(&start, NULL, (unsigned int)b->threads + 1);
	for (int i = 0; i < b->threads; i++) {
		t[i] = (struct bench_thread){
			.b = b, .start = &start, .tid = i, .iters = iters,
		};
		pthread_create(&th[i], NULL, bench_thread_main, &t[i]);
	}
	__atomic_store_n(&bench_stop, 0, __ATOMIC_RELAXED);
	pthread_barrier_wait(&start);
	if (b->ops_done) {
		struct timespec ts;
		double d;

		clock_gettime(CLOCK_REALTIME, &ts);
		d = ts.tv_sec + ts.tv_nsec * 1e-9 + bench_deadline_secs();
		ts.tv_sec = (time_t)d;
		ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
		for (; joined < b->threads; joined++)
			if (pthread_timedjoin_np(th[joined], NULL, &ts))
				break;
		__atomic_store_n(&bench_stop, 1, __ATOMIC_RELAXED);
	}
	for (int i = joined; i < b->threads; i++)
		pthread_join(th[i], NULL);
	/* From the first thread's start to the last one's end, as the
	 * threads saw them: the main thread may be preempted right after
	 * the barrier (a loaded machine), and its own clock would then miss
	 * part or all of the run. */
	t0 = t[0].t0;
	t1 = t[0].t1;
	for (int i = 0; i < b->threads; i++) {
		failed |= t[i].failed;
		t0 = t[i].t0 < t0 ? t[i].t0 : t0;
		t1 = t[i].t1 > t1 ? t[i].t1 : t1;
	}
	pthread_barrier_destroy(&start);
	free(t);
	free(th);
	return failed ? -1 : t1 - t0;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* JSON string body: the names and notes here are plain ASCII, but a
 * quote or backslash must not break the line. */
static inline void bench_json_str(const char *s)
{
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
}

/* One run and its check; *ops is what it did.  Seconds, or < 0. */
static inline double bench_timed(const struct bench *b, long iters,
				 long *ops, int *stopped, long *lost)
{
	int per = b->ops_per_iter > 0 ? b->ops_per_iter : 1;
	int group = b->group > 0 ? b->group : 1;
	double secs = bench_once(b, iters);

	if (secs < 0)
		return -1;
	*ops = iters * b->threads / group * per;
	if (b->ops_done) {
		long done = b->ops_done(b->ctx);

		*stopped |= done < *ops;
		*ops = done > 0 ? done : 1;
	}
	if (b->verify && b->verify(b->ctx, *ops))
		return -2;
	if (b->lost)
		*lost += b->lost(b->ctx);
	return secs;
}

/*
 * BENCH_ONLY=counter,cache: run only the benches whose name starts with
 * one of these.  run.sh measures one family of benches at a time with
 * every program (ours, then the peers), so that rows compared with each
 * other are measured minutes apart at most, not across the whole run:
 * on a shared machine the load changes in between.
 */
static inline int bench_selected(const char *name)
{
	const char *s = getenv("BENCH_ONLY");

	if (!s || !*s)
		return 1;
	while (*s) {
		size_t n = strcspn(s, ",");

		if (n && !strncmp(name, s, n))
			return 1;
		s += n;
		s += *s == ',';
	}
	return 0;
}

/* How much longer a run must be to last the target: at most 100x per
 * step, so that one absurd timing cannot ask for a run of minutes. */
static inline double bench_scale(double secs)
{
	double f = bench_target() / (secs > 1e-6 ? secs : 1e-6);

	return f < 100 ? f : 100;
}

static inline int bench_run_one(const struct bench *b)
{
	double ns[BENCH_REPS], secs;
	long iters = 16, ops, total = 0, lost = 0;
	int group = b->group > 0 ? b->group : 1, stopped = 0;

	if (b->threads < group || b->threads % group ||
	    !bench_selected(b->bench))
		return 0;
	/* Calibrate: grow until a run takes a tenth of the target.  The
	 * first run is short: an op that convoys may take milliseconds. */
	for (;;) {
		secs = bench_timed(b, iters, &ops, &stopped, &lost);
		if (secs < 0)
			goto fail;
		if (secs >= bench_target() / 10 || iters >= (1L << 40))
			break;
		iters *= 4;
	}
	/* Scale by the ops really done (a stopped run did fewer). */
	iters = (long)((double)ops / (b->threads / group) /
		       (b->ops_per_iter > 0 ? b->ops_per_iter : 1) *
		       bench_scale(secs));
	if (iters < 1)
		iters = 1;
	stopped = 0;
	for (int r = 0, retry = 0; r < BENCH_REPS;) {
		if (!r)
			lost = 0;	/* count the kept reps only */
		secs = bench_timed(b, iters, &ops, &stopped, &lost);
		if (secs < 0)
			goto fail;
		/* A rep far shorter than the target (the calibration run
		 * hit a stall this one did not) is measured again, longer:
		 * short runs would hide how often the op stalls. */
		if (secs < bench_target() / 3 && retry < 4) {
			iters = (long)(iters * bench_scale(secs));
			retry++;
			continue;
		}
		ns[r++] = secs * 1e9 / (double)ops;
		total += ops;
	}
	ops = total / BENCH_REPS;
	qsort(ns, BENCH_REPS, sizeof(ns[0]), bench_cmp);
	printf("{\"bench\": \"%s\", \"impl\": \"%s\", \"kind\": \"%s\", "
	       "\"threads\": %d, \"ns_per_op\": %.4f, \"min\": %.4f, "
	       "\"max\": %.4f, \"reps\": %d, \"ops_per_rep\": %ld, "
	       "\"stopped\": %s",
	       b->bench, b->impl, bench_kind(b), b->threads,
	       ns[BENCH_REPS / 2], ns[0], ns[BENCH_REPS - 1], BENCH_REPS, ops,
	       stopped ? "true" : "false");
	if (b->lost)
		printf(", \"lost\": %ld", lost);
	if (b->note) {
		printf(", \"note\": \"");
		bench_json_str(b->note);
		printf("\"");
	}
	printf("}\n");
	fflush(stdout);
	fprintf(stderr, "  %-22s %-22s %3d threads %9.3f ns/op  "
		"[%.3f .. %.3f]%s", b->bench, b->impl, b->threads,
		ns[BENCH_REPS / 2], ns[0], ns[BENCH_REPS - 1],
		stopped ? "  (stopped at the deadline)" : "");
	if (b->lost && lost)
		fprintf(stderr, "  %ld of %ld lost", lost,
			total);
	fputc('\n', stderr);
	return 0;
fail:
	fprintf(stderr, "%s/%s/%d: %s\n", b->bench, b->impl, b->threads,
		secs == -1 ? "could not pin threads" : "verification failed");
	return -1;
}

/*
 * The sweep: 1, 2, 4, 8, 16 threads, or the list in BENCH_THREADS
 * ("1,2").  16 is 8x the CPUs of the 2-CPU machines this runs on: the
 * oversubscribed case where preemption inside a sequence is common.
 */
static inline int bench_full_counts(int out[BENCH_MAX_COUNTS])
{
	static const int def[] = { 1, 2, 4, 8, 16 };
	const char *s = getenv("BENCH_THREADS");
	int n = 0;

	while (s && *s && n < BENCH_MAX_COUNTS) {
		int v = atoi(s);

		if (v > 0)
			out[n++] = v;
		s = strchr(s, ',');
		s = s ? s + 1 : NULL;
	}
	if (n)
		return n;
	for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
		out[n++] = def[i];
	return n;
}

/*
 * Callers that size their array for fewer counts than the sweep (an older
 * bench with `int counts[3]`) get one entry per group of consecutive
 * counts, the group's largest, and bench_run() runs the whole group when
 * it sees that count: the sweep stays complete and nothing writes past the
 * caller's array.  bench__groups[i] is the first full-sweep index after
 * group i.
 */
static int bench__full[BENCH_MAX_COUNTS], bench__nfull;
static int bench__groups[BENCH_MAX_COUNTS], bench__ngroups;

static inline int bench_thread_counts_n(int *out, int cap)
{
	int n = bench_full_counts(bench__full);

	bench__nfull = n;
	bench__ngroups = 0;
	if (cap >= n) {
		for (int i = 0; i < n; i++)
			out[i] = bench__full[i];
		return n;
	}
	for (int g = 0; g < cap; g++) {
		/* Groups of n / cap, the last ones one longer. */
		int end = (int)((long)n * (g + 1) / cap);

		bench__groups[g] = end;
		out[g] = bench__full[end - 1];
	}
	bench__ngroups = cap;
	return cap;
}

#define bench_thread_counts(out) \
	bench_thread_counts_n((out), (int)(sizeof(out) / sizeof((out)[0])))

static inline int bench_run(const struct bench *b)
{
	int begin = 0, rc = 0;

	for (int g = 0; g < bench__ngroups; g++) {
		int end = bench__groups[g];

		if (bench__full[end - 1] == b->threads) {
			for (int i = begin; i < end; i++) {
				struct bench c = *b;

				c.threads = bench__full[i];
				rc |= bench_run_one(&c);
			}
			return rc;
		}
		begin = end;
	}
	return bench_run_one(b);
}

/*
 * Mode from argv[1]: "pcpu" measures the library with the backend chosen
 * by PCPU_BACKEND (a missing backend is reported and exits 77); "baseline"
 * the hand-written references; "peer" the other libraries.
 */
static inline enum bench_mode bench_mode(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	if (!strcmp(m, "pcpu")) {
		if (pcpu_init(NULL)) {
			fprintf(stderr, "skip: %s\n", pcpu_init_error());
			exit(77);
		}
		return BENCH_PCPU;
	}
	if (!strcmp(m, "peer"))
		return BENCH_PEER;
	if (!strcmp(m, "baseline"))
		return BENCH_BASELINE;
	fprintf(stderr, "usage: %s pcpu|baseline|peer\n", argv[0]);
	exit(2);
}

/* The older entry point: 1 in pcpu mode, 0 otherwise. */
static inline int bench_mode_pcpu(int argc, char **argv)
{
	return bench_mode(argc, argv) == BENCH_PCPU;
}

/* A peer that cannot run here (exit 77: run.sh prints the reason). */
static inline void bench_skip(const char *why)
{
	fprintf(stderr, "skip: %s\n", why);
	exit(77);
}

#endif /* PCPU_BENCH_H */
