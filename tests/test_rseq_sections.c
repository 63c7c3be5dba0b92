// SPDX-License-Identifier: MIT
/*
 * The sections debuggers and binary instrumenters read: every pointer in
 * __rseq_cs_ptr_array leads to a version-0 descriptor whose critical
 * section lies inside this program's text, whose abort handler is preceded
 * by the signature, and every __rseq_exit_point_array entry starts at a
 * known critical section.  The program uses two this_cpu ops and a
 * critical section with an early exit (compare failed), so both arrays
 * must have entries.
 */
#include "harness.h"

#include <stdint.h>

struct cs {
	uint32_t version, flags;
	uint64_t start_ip, post_commit_offset, abort_ip;
};

extern const uint64_t __start___rseq_cs_ptr_array[] __attribute__((weak));
extern const uint64_t __stop___rseq_cs_ptr_array[] __attribute__((weak));
extern const uint64_t __start___rseq_exit_point_array[] __attribute__((weak));
extern const uint64_t __stop___rseq_exit_point_array[] __attribute__((weak));
extern const char __executable_start[], etext[];

int main(void)
{
	long *p;
	size_t n, m, bad = 0;
	struct pcpu_cs cs;

	t_init(NULL);
	p = PCPU_ALLOC(long);
	this_cpu_inc(p);	/* makes sure the ops are linked in */
	(void)this_cpu_cmpxchg(p, 1, 2);
	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs))
		if (pcpu_cs_cmpeqv_storev(&cs, (intptr_t *)pcpu_ptr(p, cs.cpu),
					  -1, 0) != PCPU_CS_RETRY)
			break;
	if (!__start___rseq_cs_ptr_array) {
		printf("skip: no rseq sequences on this architecture\n");
		return T_SKIP;
	}
	n = (size_t)(__stop___rseq_cs_ptr_array - __start___rseq_cs_ptr_array);
	m = (size_t)(__stop___rseq_exit_point_array -
		     __start___rseq_exit_point_array) / 2;
	printf("%zu critical sections, %zu exit points\n", n, m);
	/* this_cpu_inc, this_cpu_cmpxchg and the critical section. */
	CHECK(n >= 2, "expected the ops' sequences, found %zu", n);
	CHECK(m >= 1, "expected the critical section's exit point, found %zu",
	      m);
	for (size_t i = 0; i < n; i++) {
		const struct cs *d = (const struct cs *)__start___rseq_cs_ptr_array[i];
		uint32_t sig;

		if (((uintptr_t)d & 31) || d->version || d->flags ||
		    d->start_ip < (uintptr_t)__executable_start ||
		    d->start_ip + d->post_commit_offset > (uintptr_t)etext ||
		    d->abort_ip < (uintptr_t)__executable_start ||
		    d->abort_ip >= (uintptr_t)etext ||
		    (d->abort_ip >= d->start_ip &&
		     d->abort_ip < d->start_ip + d->post_commit_offset)) {
			bad++;
			continue;
		}
		memcpy(&sig, (const void *)(d->abort_ip - 4), 4);
		bad += sig != PCPU_RSEQ_SIG;
	}
	CHECK(!bad, "%zu bad descriptors", bad);
	bad = 0;
	for (size_t i = 0; i < m; i++) {
		uint64_t start = __start___rseq_exit_point_array[2 * i];
		int found = 0;

		for (size_t j = 0; j < n && !found; j++)
			found = ((const struct cs *)
				 __start___rseq_cs_ptr_array[j])->start_ip == start;
		bad += !found;
	}
	CHECK(!bad, "%zu exit points without a critical section", bad);
	return t_done();
}
