// SPDX-License-Identifier: MIT
/*
 * pcpu_counter: argument errors, exact sum, the error bound of the O(1)
 * read (checked on every copy with the worst deltas we can produce), set,
 * large adds, and batch 1.
 */
#include "harness.h"

#include <stdint.h>

int main(void)
{
	struct pcpu_counter c;
	int64_t bound;
	unsigned int n = t_ncpus();

	t_init(NULL);
	errno = 0;
	CHECK(pcpu_counter_init(NULL, 0, 0) == -1 && errno == EINVAL, "NULL");
	errno = 0;
	CHECK(pcpu_counter_init(&c, 0, -1) == -1 && errno == EINVAL, "batch<0");
	errno = 0;
	CHECK(pcpu_counter_init(&c, 0, (int64_t)INT32_MAX + 1) == -1 &&
	      errno == EINVAL, "batch too big");

	CHECK(pcpu_counter_init(&c, 100, 16) == 0, "init");
	CHECK(pcpu_counter_read(&c) == 100 && pcpu_counter_sum(&c) == 100,
	      "initial value");
	bound = pcpu_counter_error_bound(&c);
	CHECK(bound == 15 * (int64_t)(pcpu_nr_possible() + 1) ||
	      pcpu_index_source() == PCPU_INDEX_CID,
	      "bound %lld", (long long)bound);

	/* Push every CPU we can run on to the largest delta below the batch:
	 * read lags by the most it ever may, and no more. */
	for (unsigned int cpu = 0; cpu < n; cpu++) {
		t_pin(cpu);
		for (int i = 0; i < 15; i++)
			pcpu_counter_inc(&c);
	}
	{
		int64_t sum = pcpu_counter_sum(&c), rd = pcpu_counter_read(&c);

		CHECK(sum == 100 + 15 * (int64_t)n, "sum %lld", (long long)sum);
		CHECK(rd >= sum - bound && rd <= sum + bound,
		      "read %lld outside %lld +- %lld", (long long)rd,
		      (long long)sum, (long long)bound);
		printf("after 15 incs per CPU: read %lld sum %lld bound %lld\n",
		       (long long)rd, (long long)sum, (long long)bound);
	}
	/* One more on each CPU reaches the batch: everything folds. */
	for (unsigned int cpu = 0; cpu < n; cpu++) {
		t_pin(cpu);
		pcpu_counter_inc(&c);
	}
	CHECK(pcpu_counter_read(&c) == 100 + 16 * (int64_t)n,
	      "folded read %lld", (long long)pcpu_counter_read(&c));

	/* Negative side, large adds (straight to the total), dec. */
	t_pin(0);
	for (int i = 0; i < 1000; i++)
		pcpu_counter_dec(&c);
	pcpu_counter_add(&c, INT64_C(1) << 40);
	pcpu_counter_add(&c, -(INT64_C(1) << 40));
	CHECK(pcpu_counter_sum(&c) == 100 + 16 * (int64_t)n - 1000,
	      "sum after decs %lld", (long long)pcpu_counter_sum(&c));
	{
		int64_t s = pcpu_counter_sum(&c), r = pcpu_counter_read(&c);

		CHECK(r - s <= bound && s - r <= bound, "bound after decs");
	}
	pcpu_counter_set(&c, -5);
	CHECK(pcpu_counter_sum(&c) == -5 && pcpu_counter_read(&c) == -5,
	      "set");
	CHECK(pcpu_counter_destroy(&c) == 0, "destroy");
	errno = 0;
	CHECK(pcpu_counter_destroy(&c) == -1 && errno == EINVAL,
	      "destroy twice");

	/* batch 1: read is always exact. */
	CHECK(pcpu_counter_init(&c, 0, 1) == 0, "init batch 1");
	for (int i = 0; i < 100; i++)
		pcpu_counter_add(&c, i % 3 - 1);
	CHECK(pcpu_counter_read(&c) == pcpu_counter_sum(&c) &&
	      pcpu_counter_error_bound(&c) == 0, "batch 1 exact");
	pcpu_counter_destroy(&c);
	return t_done();
}
