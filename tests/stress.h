/* SPDX-License-Identifier: MIT */
/*
 * Shared body of the stress tests: every "increment" goes through five
 * different paths, each of which must count exactly:
 *   inc      this_cpu_inc
 *   ret32    this_cpu_add_return on a 32-bit word
 *   cas      a this_cpu_read + this_cpu_cmpxchg loop
 *   xchg     this_cpu_add, drained now and then by this_cpu_xchg(0) into a
 *            shared atomic (total = drained + what is left)
 *   counter  pcpu_counter_inc (folds into the shared total at the batch)
 */
#ifndef PCPU_TEST_STRESS_H
#define PCPU_TEST_STRESS_H

#include "harness.h"

#include <stdint.h>

struct stress {
	long *inc;
	int32_t *ret32;
	int64_t *cas;
	int64_t *xchg;
	int64_t drained;
	struct pcpu_counter counter;
};

static inline void stress_init(struct stress *s)
{
	s->inc = PCPU_ALLOC(long);
	s->ret32 = PCPU_ALLOC(int32_t);
	s->cas = PCPU_ALLOC(int64_t);
	s->xchg = PCPU_ALLOC(int64_t);
	s->drained = 0;
	if (!s->inc || !s->ret32 || !s->cas || !s->xchg ||
	    pcpu_counter_init(&s->counter, 0, 0)) {
		fprintf(stderr, "stress_init: %s\n", strerror(errno));
		exit(1);
	}
}

/* One increment on every path; async-signal-safe. */
static inline void stress_one(struct stress *s, unsigned long i)
{
	int64_t old, seen;

	this_cpu_inc(s->inc);
	(void)this_cpu_add_return(s->ret32, 1);
	old = this_cpu_read(s->cas);
	while ((seen = this_cpu_cmpxchg(s->cas, old, old + 1)) != old)
		old = seen;
	this_cpu_add(s->xchg, 1);
	if (i % 64 == 0)
		__atomic_fetch_add(&s->drained, this_cpu_xchg(s->xchg, 0),
				   __ATOMIC_RELAXED);
	pcpu_counter_inc(&s->counter);
}

static inline int64_t stress_sum64(int64_t *p)
{
	unsigned int cpu;
	int64_t s = 0;

	pcpu_for_each_cpu(cpu)
		s += __atomic_load_n(pcpu_ptr(p, cpu), __ATOMIC_RELAXED);
	return s;
}

/* The total of every path, in the order of struct stress. */
struct stress_snap {
	int64_t v[5];
};

static inline void stress_snap(struct stress *s, struct stress_snap *o)
{
	unsigned int cpu;

	memset(o, 0, sizeof(*o));
	pcpu_for_each_cpu(cpu) {
		o->v[0] += __atomic_load_n(pcpu_ptr(s->inc, cpu),
					   __ATOMIC_RELAXED);
		o->v[1] += __atomic_load_n(pcpu_ptr(s->ret32, cpu),
					   __ATOMIC_RELAXED);
	}
	o->v[2] = stress_sum64(s->cas);
	o->v[3] = stress_sum64(s->xchg) +
		  __atomic_load_n(&s->drained, __ATOMIC_RELAXED);
	o->v[4] = pcpu_counter_sum(&s->counter);
}

/*
 * Compare every path with base (NULL: zero) + expected; prints both.
 * Returns the number of paths that are off.
 */
static inline int stress_check_from(struct stress *s,
				    const struct stress_snap *base,
				    int64_t expected, const char *what)
{
	static const char *const names[5] = { "inc", "ret32", "cas", "xchg",
					       "counter" };
	struct stress_snap now;
	int bad = 0;

	stress_snap(s, &now);
	printf("%s: expected %lld observed", what, (long long)expected);
	for (int i = 0; i < 5; i++) {
		int64_t got = now.v[i] - (base ? base->v[i] : 0);

		printf(" %s %lld", names[i], (long long)got);
		bad += got != expected;
	}
	printf("\n");
	if (bad)
		t_failures++;
	return bad;
}

static inline int stress_check(struct stress *s, int64_t expected,
			       const char *what)
{
	return stress_check_from(s, NULL, expected, what);
}

/*
 * A pool of n workers, each doing ops increments and moving itself to a
 * random CPU every `every` ops; tids[] (for a t_repinner) holds each
 * worker's thread id while it runs.
 */
struct stress_job {
	struct stress *s;
	long ops;
	int every;
	unsigned int seed;
	pid_t *tid;
};

struct stress_pool {
	int n;
	pthread_t *th;
	struct stress_job *jobs;
	pid_t *tids;
};

static void *stress_worker(void *arg)
{
	struct stress_job *j = (struct stress_job *)arg;

	__atomic_store_n(j->tid, (pid_t)gettid(), __ATOMIC_RELAXED);
	for (long i = 0; i < j->ops; i++) {
		if (i % j->every == 0)
			t_migrate(0, &j->seed);
		stress_one(j->s, (unsigned long)i);
	}
	__atomic_store_n(j->tid, 0, __ATOMIC_RELAXED);
	return NULL;
}

static inline void stress_pool_start(struct stress_pool *p, struct stress *s,
				     int n, long ops, int every)
{
	p->n = n;
	p->th = (pthread_t *)calloc((size_t)n, sizeof(*p->th));
	p->jobs = (struct stress_job *)calloc((size_t)n, sizeof(*p->jobs));
	p->tids = (pid_t *)calloc((size_t)n, sizeof(*p->tids));
	for (int i = 0; i < n; i++) {
		p->jobs[i] = (struct stress_job){ s, ops, every,
						  (unsigned int)i * 7919u + 1,
						  &p->tids[i] };
		pthread_create(&p->th[i], NULL, stress_worker, &p->jobs[i]);
	}
}

static inline void stress_pool_join(struct stress_pool *p)
{
	for (int i = 0; i < p->n; i++)
		pthread_join(p->th[i], NULL);
}

/* After join, and after any t_repinner on pool.tids has stopped. */
static inline void stress_pool_free(struct stress_pool *p)
{
	free(p->th);
	free(p->jobs);
	free(p->tids);
}

/* Threads for stress runs: 8x the CPUs, at least 16. */
static inline int stress_nthreads(void)
{
	int n = 8 * (int)t_ncpus();

	return n < 16 ? 16 : n;
}

#endif /* PCPU_TEST_STRESS_H */
