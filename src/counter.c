// SPDX-License-Identifier: MIT
/* Per-CPU counters: the out-of-line part, see percpu/counter.h. */
#include <errno.h>

#include "internal.h"

int pcpu_counter_init(struct pcpu_counter *c, int64_t initial, int64_t batch)
{
	if (!c || batch < 0 || batch > INT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	c->deltas = PCPU_ALLOC(int64_t);
	if (!c->deltas)
		return -1;
	c->batch = batch ? batch : PCPU_COUNTER_DEFAULT_BATCH;
	__atomic_store_n(&c->count, initial, __ATOMIC_RELAXED);
	return 0;
}

int pcpu_counter_destroy(struct pcpu_counter *c)
{
	if (!c || !c->deltas) {
		errno = EINVAL;
		return -1;
	}
	if (pcpu_free(c->deltas))
		return -1;
	c->deltas = NULL;
	return 0;
}

int pcpu__einval(void)
{
	errno = EINVAL;
	return -1;
}

int64_t pcpu_counter_sum(const struct pcpu_counter *c)
{
	int64_t sum;
	unsigned int cpu;

	if (!PCPU__COUNTER_OK(c))
		return pcpu__einval() + 1;
	sum = __atomic_load_n(&c->count, __ATOMIC_RELAXED);

	pcpu_for_each_cpu(cpu)
		sum += __atomic_load_n(pcpu_ptr(c->deltas, cpu),
				       __ATOMIC_RELAXED);
	return sum;
}

int64_t pcpu_counter_error_bound(const struct pcpu_counter *c)
{
	unsigned int cpu, n = 0;

	if (!PCPU__COUNTER_OK(c))
		return pcpu__einval();
	pcpu_for_each_cpu(cpu)
		n++;
	return (c->batch - 1) * (int64_t)n;
}

int pcpu_counter_set(struct pcpu_counter *c, int64_t v)
{
	unsigned int cpu;

	if (!PCPU__COUNTER_OK(c))
		return pcpu__einval();
	pcpu_for_each_cpu(cpu)
		__atomic_store_n(pcpu_ptr(c->deltas, cpu), 0,
				 __ATOMIC_RELAXED);
	__atomic_store_n(&c->count, v, __ATOMIC_RELAXED);
	return 0;
}
