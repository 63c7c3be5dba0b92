/* SPDX-License-Identifier: MIT */
/*
 * Benchmark harness.  A bench program registers configurations (bench,
 * impl, threads) and bench_run() measures each: threads start together on
 * a barrier, each runs the same number of iterations, and ns_per_op is the
 * wall time of the whole run divided by the total number of operations of
 * all threads (perfect scaling halves it from 1 to 2 threads).  Each
 * configuration is repeated BENCH_REPS times; the median is reported with
 * min and max.  Threads are pinned round-robin to the online CPUs (every
 * impl alike; the gs-pinned backend needs it), so at 4x CPUs four threads
 * share each CPU.
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

#define BENCH_REPS	5

struct bench {
	const char *bench;	/* e.g. "counter_add" */
	const char *impl;	/* e.g. "pcpu-rseq" */
	int threads;
	void *ctx;		/* shared state, from the caller */
	/* Run iters operations as thread tid; may not be NULL. */
	void (*loop)(void *ctx, int tid, long iters);
	/* Optional: per-thread set-up before the clock starts. */
	void (*thread_init)(void *ctx, int tid);
	/* Optional: check and reset after every run (calibration runs
	 * too): 0 if the run counted exactly total_ops. */
	int (*verify)(void *ctx, long total_ops);
	/* Operations per loop iteration (default 1). */
	int ops_per_iter;
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
 * "pcpu-<backend>".  The host measures the gs ops through pinned threads
 * (gs-pinned: the state the patched kernel gives a thread, same
 * instructions, same addresses), reported as pcpu-gs; on a patched kernel
 * the kernel-striped backend is pcpu-gs-kernel.
 */
static inline const char *bench_pcpu_impl(void)
{
	static char name[32];
	const char *bk = pcpu_backend_name();

	if (!strcmp(bk, "gs-pinned"))
		bk = "gs";
	else if (!strcmp(bk, "gs"))
		bk = "gs-kernel";
	snprintf(name, sizeof(name), "pcpu-%s", bk);
	return name;
}

struct bench_thread {
	const struct bench *b;
	pthread_barrier_t *start;
	int tid;
	long iters;
	int failed;
};

static void *bench_thread_main(void *arg)
{
	struct bench_thread *t = (struct bench_thread *)arg;
	cpu_set_t set;
	int cpu = t->tid % bench_ncpus();

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		t->failed = 1;
	if (!strcmp(pcpu_backend_name(), "gs-pinned") &&
	    pcpu_gs_pin_thread(-1) < 0)
		t->failed = 1;
	if (t->b->thread_init)
		t->b->thread_init(t->b->ctx, t->tid);
	pthread_barrier_wait(t->start);
	t->b->loop(t->b->ctx, t->tid, t->iters);
	return NULL;
}

/* One timed run of iters per thread; returns seconds, < 0 on error. */
static inline double bench_once(const struct bench *b, long iters)
{
	struct bench_thread *t = (struct bench_thread *)calloc(
		(size_t)b->threads, sizeof(*t));
	pthread_t *th = (pthread_t *)calloc((size_t)b->threads, sizeof(*th));
	pthread_barrier_t start;
	double t0, t1;
	int failed = 0;

	pthread_barrier_init(&start, NULL, (unsigned int)b->threads + 1);
	for (int i = 0; i < b->threads; i++) {
		t[i] = (struct bench_thread){ b, &start, i, iters, 0 };
		pthread_create(&th[i], NULL, bench_thread_main, &t[i]);
	}
	pthread_barrier_wait(&start);
	t0 = bench_now();
	for (int i = 0; i < b->threads; i++) {
		pthread_join(th[i], NULL);
		failed |= t[i].failed;
	}
	t1 = bench_now();
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

/* Target time per repetition, seconds (BENCH_TIME overrides). */
static inline double bench_target(void)
{
	const char *s = getenv("BENCH_TIME");

	return s && atof(s) > 0 ? atof(s) : 0.15;
}

static inline int bench_run(const struct bench *b)
{
	double ns[BENCH_REPS], secs;
	long iters = 1000, ops;
	int per = b->ops_per_iter > 0 ? b->ops_per_iter : 1;

	/* Calibrate: grow until a run takes a tenth of the target. */
	for (;;) {
		secs = bench_once(b, iters);
		if (secs < 0)
			goto fail;
		if (b->verify && b->verify(b->ctx, iters * b->threads * per))
			goto bad;
		if (secs >= bench_target() / 10 || iters >= (1L << 40))
			break;
		iters *= 4;
	}
	iters = (long)(iters * (bench_target() / secs));
	if (iters < 1)
		iters = 1;
	ops = iters * b->threads * per;
	for (int r = 0; r < BENCH_REPS; r++) {
		secs = bench_once(b, iters);
		if (secs < 0)
			goto fail;
		if (b->verify && b->verify(b->ctx, ops))
			goto bad;
		ns[r] = secs * 1e9 / (double)ops;
	}
	qsort(ns, BENCH_REPS, sizeof(ns[0]), bench_cmp);
	printf("{\"bench\": \"%s\", \"impl\": \"%s\", \"threads\": %d, "
	       "\"ns_per_op\": %.4f, \"min\": %.4f, \"max\": %.4f, "
	       "\"reps\": %d, \"ops_per_rep\": %ld}\n",
	       b->bench, b->impl, b->threads, ns[BENCH_REPS / 2], ns[0],
	       ns[BENCH_REPS - 1], BENCH_REPS, ops);
	fflush(stdout);
	fprintf(stderr, "  %-22s %-22s %3d threads %9.3f ns/op  [%.3f .. %.3f]\n",
		b->bench, b->impl, b->threads, ns[BENCH_REPS / 2], ns[0],
		ns[BENCH_REPS - 1]);
	return 0;
fail:
	fprintf(stderr, "%s/%s/%d: could not pin threads\n", b->bench,
		b->impl, b->threads);
	return -1;
bad:
	fprintf(stderr, "%s/%s/%d: verification failed\n", b->bench,
		b->impl, b->threads);
	return -1;
}

/* Thread counts every bench uses: 1, CPUs, 4x CPUs. */
static inline int bench_thread_counts(int out[3])
{
	int n = bench_ncpus(), k = 0;

	out[k++] = 1;
	if (n > 1)
		out[k++] = n;
	out[k++] = 4 * n;
	return k;
}

/*
 * Mode from argv[1]: "pcpu" measures the library with the backend chosen
 * by PCPU_BACKEND; "baseline" measures the alternatives.  Initializes the
 * library in pcpu mode (a missing backend is reported and exits 77).
 */
static inline int bench_mode_pcpu(int argc, char **argv)
{
	int pcpu = argc > 1 && !strcmp(argv[1], "pcpu");

	if (pcpu && pcpu_init(NULL)) {
		fprintf(stderr, "skip: %s\n", pcpu_init_error());
		exit(77);
	}
	return pcpu;
}

#endif /* PCPU_BENCH_H */
