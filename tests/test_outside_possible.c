// SPDX-License-Identifier: MIT
/*
 * A CPU outside the possible mask the library read (a container hiding
 * /sys, a stale mask): pretend only CPU 0 is possible (PCPU_TEST_POSSIBLE)
 * and run on CPU 1.  Every op must still complete, exactly once, through
 * the spare copy: never loop, never write outside the region.  Also run
 * with the library's own rseq area (run.sh), where a registered thread
 * with an out-of-range index once retried forever.
 */
#include "stress.h"

int main(void)
{
	cpu_set_t set;
	struct stress s;
	struct pcpu_rseq_stats st;
	long n = t_scale(100000);

	if (t_ncpus() < 2) {
		printf("skip: needs two CPUs\n");
		return T_SKIP;
	}
	if (!t_cpu_allowed(1)) {
		printf("skip: this process cannot run on CPU 1 (a cpuset)\n");
		return T_SKIP;
	}
	if (getenv("PCPU_BACKEND") && !strncmp(getenv("PCPU_BACKEND"), "gs", 2)) {
		printf("skip: the gs backends take the CPU from the kernel, "
		       "not from the mask\n");
		return T_SKIP;
	}
	setenv("PCPU_TEST_POSSIBLE", "0", 1);
	setenv("PCPU_ALLOW_FALLBACK", "1", 1);
	t_init(NULL);
	CHECK(pcpu_nr_copies() == 2, "copies %u", pcpu_nr_copies());
	stress_init(&s);
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0, "pin to CPU 1");
	CHECK(pcpu_index() == 1, "index %u: the spare copy", pcpu_index());
	for (long i = 0; i < n; i++)
		stress_one(&s, (unsigned long)i);
	stress_check(&s, n, "outside the mask");
	pcpu_rseq_stats(&st);
	if (!strcmp(pcpu_backend_name(), "rseq"))
		CHECK(st.fallbacks >= (unsigned long)n, "fallbacks %lu",
		      st.fallbacks);
	CHECK(*pcpu_ptr(s.inc, 0) == 0 && *pcpu_ptr(s.inc, 1) == n,
	      "copy 0 %ld, spare %ld", *pcpu_ptr(s.inc, 0),
	      *pcpu_ptr(s.inc, 1));
	return t_done();
}
