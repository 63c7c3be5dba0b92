/* SPDX-License-Identifier: MIT */
/*
 * percpu/counter.h - per-CPU counters, after the kernel's percpu_counter.
 *
 * A 64-bit signed count split into a shared, folded total and one small
 * delta per CPU copy.  pcpu_counter_add() touches only this CPU's delta
 * until its magnitude would reach the batch, then moves the whole delta into
 * the shared total with one atomic add.  Every delta stays strictly inside
 * (-batch, batch) at all times, because a delta is only ever replaced by
 * a compare-and-exchange against the value it was computed from.
 *
 * So: pcpu_counter_read() is O(1) and within pcpu_counter_error_bound()
 * (= (batch - 1) * copies that can hold a delta) of the exact value when no
 * add is in flight; pcpu_counter_sum() is exact when no add is in flight and
 * costs one load per copy.
 */
#ifndef PERCPU_COUNTER_H
#define PERCPU_COUNTER_H

#include <stdint.h>

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_COUNTER_DEFAULT_BATCH	256

/*
 * The folded total sits on its own cache line: folds write it, every add
 * reads deltas and batch, and sharing one line made each fold cost the
 * other CPUs a miss on their next add (2 threads were 2x slower than 1).
 */
struct pcpu_counter {
	int64_t __pcpu *deltas;		/* per-CPU, |delta| < batch */
	int64_t batch;
	int64_t count __attribute__((aligned(64)));	/* folded total, atomic */
};

/*
 * pcpu_counter_init - set up c with value initial.  batch 0 means
 * PCPU_COUNTER_DEFAULT_BATCH; otherwise 1..INT32_MAX (1: every add goes to
 * the shared total).  Returns 0, or -1 with errno EINVAL (bad batch, NULL)
 * or any pcpu_alloc() error.  Not MT-safe on the same c.
 */
int pcpu_counter_init(struct pcpu_counter *c, int64_t initial, int64_t batch);

/* Release c's per-CPU memory.  Returns 0 or -1/EINVAL; c is then unusable. */
int pcpu_counter_destroy(struct pcpu_counter *c);

/* A counter that pcpu_counter_init() set up (not NULL, not zero-filled,
 * not destroyed). */
#define PCPU__COUNTER_OK(c)	((c) && (c)->deltas)

/*
 * pcpu_counter_add - add v.  Returns 0, or -1 with errno EINVAL (c NULL
 * or not initialized: nothing is counted).  Lock-free; MT-safe,
 * async-signal-safe.
 * The fold computes the new delta from the value it read and installs it
 * with cmpxchg, on whichever copy the cmpxchg hits: if that copy still holds
 * the value read, the add is valid there too; if not, retry with the value
 * it does hold.  Nothing is ever added twice or dropped.
 */
static inline int pcpu_counter_add(struct pcpu_counter *c, int64_t v)
{
	int64_t old, seen, sum;

	if (PCPU__UNLIKELY(!PCPU__COUNTER_OK(c)))
		return pcpu__einval();
	if (v >= c->batch || v <= -c->batch) {
		__atomic_fetch_add(&c->count, v, __ATOMIC_RELAXED);
		return 0;
	}
	old = this_cpu_read(c->deltas);
	for (;;) {
		sum = old + v;	/* both in (-batch, batch): no overflow */
		if (sum < c->batch && sum > -c->batch) {
			seen = this_cpu_cmpxchg(c->deltas, old, sum);
			if (seen == old)
				return 0;
		} else {
			seen = this_cpu_cmpxchg(c->deltas, old, 0);
			if (seen == old) {
				__atomic_fetch_add(&c->count, sum,
						   __ATOMIC_RELAXED);
				return 0;
			}
		}
		old = seen;
	}
}

/* pcpu_counter_inc / pcpu_counter_dec - add 1 / -1 (as pcpu_counter_add). */
static inline int pcpu_counter_inc(struct pcpu_counter *c)
{
	return pcpu_counter_add(c, 1);
}

static inline int pcpu_counter_dec(struct pcpu_counter *c)
{
	return pcpu_counter_add(c, -1);
}

/*
 * pcpu_counter_read - the folded total: O(1), approximate (see above).
 * Returns 0 with errno EINVAL when c is NULL or not initialized (errno is
 * left alone otherwise: clear it first to tell).  MT-safe,
 * async-signal-safe.
 */
static inline int64_t pcpu_counter_read(const struct pcpu_counter *c)
{
	if (PCPU__UNLIKELY(!PCPU__COUNTER_OK(c)))
		return pcpu__einval() + 1;
	return __atomic_load_n(&c->count, __ATOMIC_RELAXED);
}

/*
 * pcpu_counter_sum - the folded total plus every delta: exact when no add
 * is in flight.  Returns 0 with errno EINVAL when c is NULL or not
 * initialized.  MT-safe, async-signal-safe.
 */
int64_t pcpu_counter_sum(const struct pcpu_counter *c);

/*
 * pcpu_counter_error_bound - maximum |read - sum| when no add is in
 * flight.  Returns -1 with errno EINVAL when c is NULL or not initialized.
 */
int64_t pcpu_counter_error_bound(const struct pcpu_counter *c);

/*
 * pcpu_counter_set - make the value v.  Exact when no add runs at the same
 * time; an add racing with it may or may not be included.  Returns 0, or
 * -1 with errno EINVAL (c NULL or not initialized).
 */
int pcpu_counter_set(struct pcpu_counter *c, int64_t v);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_COUNTER_H */
