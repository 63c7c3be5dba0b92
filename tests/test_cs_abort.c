// SPDX-License-Identifier: MIT
/*
 * The abort path on purpose: a debugger single-steps a thread through
 * critical sections and this_cpu ops.  Every step stops the thread, so
 * every restartable sequence it is in aborts, every time: the operations
 * must still complete, exactly once each (after PCPU_CS_MAX_ABORTS aborts
 * they move to the spare copy), and count exactly.  With the locked
 * implementation nothing aborts; single-stepping only makes it slow.
 *
 * The child stops itself (SIGSTOP) right before the operations and again
 * right after; the parent single-steps it between the two stops.
 */
#include "single_step.h"


#define OPS	3

static int child(void)
{
	intptr_t *w = pcpu_alloc(64, 64);
	long *c = PCPU_ALLOC(long);
	struct pcpu_rseq_stats st;
	intptr_t sum = 0;
	long csum = 0;
	unsigned int k;

	if (!w || !c)
		return 2;
	if (t_step_begin())
		return 3;
	for (int i = 0; i < OPS; i++) {
		struct pcpu_cs cs;

		for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs))
			if (pcpu_cs_addv(&cs, pcpu_cs_ptr(&cs, w), 1) ==
			    PCPU_CS_OK)
				break;
		this_cpu_inc(c);
	}
	t_step_end();
	pcpu_for_each_cpu(k) {
		sum += *pcpu_ptr(w, k);
		csum += *pcpu_ptr(c, k);
	}
	pcpu_rseq_stats(&st);
	printf("child: expected %d observed cs %ld ops %ld; %lu aborts, "
	       "%lu fallbacks\n", OPS, (long)sum, csum, st.aborts,
	       st.fallbacks);
	fflush(stdout);
	if (sum != OPS || csum != OPS)
		return 1;
	if (!strcmp(pcpu_backend_name(), "rseq") &&
	    (st.aborts < OPS || st.fallbacks < OPS))
		return 4;	/* the sequences did not abort under steps */
	return 0;
}

int main(void)
{
	long steps;
	int status;

	t_init(NULL);
	setenv("PCPU_ALLOW_FALLBACK", "1", 1);
	if (t_single_step(child, &status, &steps))
		return T_SKIP;
	printf("%ld single steps through %d operations\n", steps, OPS);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child status %#x", status);
	return t_done();
}
