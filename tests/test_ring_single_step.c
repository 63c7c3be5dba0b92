// SPDX-License-Identifier: MIT
/*
 * A debugger single-steps a ring writer: every step stops the thread, so
 * every restartable sequence it is in aborts, every time.  The writes
 * must still complete, exactly once each: after PCPU_CS_MAX_ABORTS aborts
 * the thread moves to the spare copy, whose buffer it then writes under
 * the copy's lock (the locked implementation of the ring's sequences,
 * padding and page entry included).  The child writes 3 records with
 * pcpu_ring_write() and 1 with pcpu_ring_reserve() + commit while its
 * parent single-steps it, then reads them back: expected 4 records,
 * intact, each once, and on the rseq backend at least 4 fallbacks.
 */
#include "single_step.h"

#include <stdint.h>

#define OPS	4

static int child(void)
{
	struct pcpu_ring_params p = { 1 << 14, 1024, 0 };
	struct pcpu_ring *r = pcpu_ring_create(&p);
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	struct pcpu_rseq_stats st;
	uint64_t v[2], seen = 0, bad = 0, *q;
	long n = 0;

	if (!r || pcpu_ring_reader_open(&rd, pcpu_ring_mem(r),
					pcpu_ring_mem_size(r)))
		return 2;
	if (t_step_begin())
		return 3;
	for (uint64_t i = 0; i < OPS - 1; i++) {
		v[0] = i;
		v[1] = ~i;
		if (pcpu_ring_write(r, v, sizeof(v)))
			return 5;
	}
	q = pcpu_ring_reserve(r, sizeof(v));
	if (!q)
		return 6;
	q[0] = OPS - 1;
	q[1] = ~(uint64_t)(OPS - 1);
	if (pcpu_ring_commit(r, q))
		return 7;
	t_step_end();
	while (pcpu_ring_read_next(&rd, &e, v, sizeof(v)) == 1) {
		n++;
		if (e.len != sizeof(v) || v[1] != ~v[0] || v[0] >= OPS ||
		    (seen & (1u << v[0])))
			bad++;
		else
			seen |= 1u << v[0];
	}
	pcpu_rseq_stats(&st);
	printf("child: %d records expected, %ld read, %llu bad (buffer %u of "
	       "%u); %lu aborts, %lu fallbacks\n", OPS, n,
	       (unsigned long long)bad, e.cpu, pcpu_ring_reader_nbufs(&rd),
	       st.aborts, st.fallbacks);
	fflush(stdout);
	if (n != OPS || bad)
		return 1;
	if (!strcmp(pcpu_backend_name(), "rseq") &&
	    (st.aborts < OPS || st.fallbacks < OPS))
		return 4;	/* the sequences did not abort under steps */
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
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
	printf("%ld single steps through %d ring writes\n", steps, OPS);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child status %#x", status);
	return t_done();
}
