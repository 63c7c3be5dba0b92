/* SPDX-License-Identifier: MIT */
/*
 * Test harness: one program per feature, exit 0 pass, 1 fail, 77 skip
 * (liburing's convention).  The runner (tests/run.sh) runs each program
 * once per backend through PCPU_BACKEND.
 */
#ifndef PCPU_TEST_HARNESS_H
#define PCPU_TEST_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <percpu/percpu.h>

#define T_SKIP 77

static int t_failures;

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ",	\
				__FILE__, __LINE__, #cond);		\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			t_failures++;					\
		}							\
	} while (0)

/* Initialize with the backend asked for in the environment; skip with the
 * library's reason when that backend does not exist here. */
static inline void t_init(const struct pcpu_params *p)
{
	const char *expect = getenv("PCPU_EXPECT_BACKEND");

	if (pcpu_init(p)) {
		if (errno == ENODEV) {
			printf("skip: %s\n", pcpu_init_error());
			exit(T_SKIP);
		}
		fprintf(stderr, "pcpu_init: %s (%s)\n", strerror(errno),
			pcpu_init_error());
		exit(1);
	}
	printf("backend %s, %u copies, stride %zu\n", pcpu_backend_name(),
	       pcpu_nr_copies(), pcpu_stride());
	if (expect && strcmp(expect, pcpu_backend_name())) {
		fprintf(stderr, "expected backend %s, got %s\n", expect,
			pcpu_backend_name());
		exit(1);
	}
}

static inline int t_done(void)
{
	struct pcpu_rseq_stats st;

	pcpu_rseq_stats(&st);
	if (!strncmp(pcpu_backend_name(), "rseq", 4))
		printf("rseq: %lu aborts, %lu fallbacks, %lu registrations, "
		       "%s area\n", st.aborts, st.fallbacks, st.registrations,
		       st.own_area ? "own" : "glibc");
	/* Normal runs never need the fallback: a fallback here means the
	 * sequences are not running (it would still count exactly). */
	if (st.fallbacks && !getenv("PCPU_ALLOW_FALLBACK")) {
		printf("unexpected rseq fallbacks: %lu\n", st.fallbacks);
		t_failures++;
	}
	if (getenv("PCPU_EXPECT_OWN_RSEQ") && !st.own_area) {
		printf("expected the library's own rseq registration\n");
		t_failures++;
	}
	if (t_failures) {
		printf("FAILED: %d check(s)\n", t_failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}

static inline unsigned int t_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned int)n : 1;
}

static inline double t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Scale of stress runs: PCPU_STRESS_SCALE (default 1) multiplies the work. */
static inline long t_scale(long base)
{
	const char *s = getenv("PCPU_STRESS_SCALE");
	double f = s ? atof(s) : 1.0;

	if (f <= 0)
		f = 1.0;
	return (long)(base * f) > 0 ? (long)(base * f) : 1;
}

/*
 * Can the caller be pinned to cpu?  Tried, then the old mask put back:
 * a narrower mask from taskset can be widened again (t_pin() works
 * there), a cpuset cannot (sched_setaffinity() refuses a mask with none
 * of its CPUs).
 */
static inline int t_cpu_allowed(unsigned int cpu)
{
	cpu_set_t old, one;
	int ok;

	if (cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(old), &old))
		return 0;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	ok = !sched_setaffinity(0, sizeof(one), &one);
	sched_setaffinity(0, sizeof(old), &old);
	return ok;
}

/*
 * Can it be pinned to each of CPUs 0 .. t_ncpus() - 1?  Tests that pin a
 * writer to CPU c and then look for its records in buffer c skip where
 * a cpuset says no (t_pin() cannot move them there).
 */
static inline int t_cpus_allowed_all(void)
{
	for (unsigned int c = 0; c < t_ncpus(); c++)
		if (!t_cpu_allowed(c))
			return 0;
	return 1;
}

/* Pin the calling thread to cpu; t_unpin() allows every online CPU. */
static inline void t_pin(unsigned int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static inline void t_unpin(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (unsigned int i = 0; i < t_ncpus(); i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Move thread tid (0: caller) to a random online CPU. */
static inline void t_migrate(pid_t tid, unsigned int *seed)
{
	cpu_set_t set;
	unsigned int n = t_ncpus();

	CPU_ZERO(&set);
	CPU_SET(rand_r(seed) % n, &set);
	if (rand_r(seed) % 4 == 0)
		for (unsigned int i = 0; i < n; i++)
			CPU_SET(i, &set);
	sched_setaffinity(tid, sizeof(set), &set);
}

/*
 * The re-pinner: another thread that keeps moving the workers (by tid)
 * while they work, until *stop.
 */
struct t_repinner {
	pthread_t thread;
	pid_t *tids;
	int n;
	int stop;		/* atomic */
	long moves;		/* re-pinner only, read after join */
};

static void *t_repin_main(void *arg)
{
	struct t_repinner *r = (struct t_repinner *)arg;
	unsigned int seed = 12345;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < r->n; i++) {
			pid_t tid = __atomic_load_n(&r->tids[i],
						    __ATOMIC_RELAXED);

			if (tid > 0)
				t_migrate(tid, &seed);
			r->moves++;
		}
		usleep(200);
	}
	return NULL;
}

static inline void t_repin_start(struct t_repinner *r, pid_t *tids, int n)
{
	r->tids = tids;
	r->n = n;
	r->stop = 0;
	r->moves = 0;
	pthread_create(&r->thread, NULL, t_repin_main, r);
}

static inline void t_repin_stop(struct t_repinner *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	pthread_join(r->thread, NULL);
}

/*
 * Run fn((void *)i) for i in [0, n) in n threads while a re-pinner moves
 * them; each worker publishes its tid in tids[i] (0 when done).  Returns
 * the number of moves.
 */
static inline long t_run_repinned(int n, void *(*fn)(void *), pid_t *tids)
{
	pthread_t *th = (pthread_t *)calloc((size_t)n, sizeof(*th));
	struct t_repinner rp;

	t_repin_start(&rp, tids, n);
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, fn, (void *)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	t_repin_stop(&rp);
	free(th);
	return rp.moves;
}

#endif /* PCPU_TEST_HARNESS_H */
