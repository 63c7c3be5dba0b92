// SPDX-License-Identifier: MIT
/*
 * Every critical section of cs.h, every return path, on the backend the
 * runner asks for (rseq sequences, or the per-copy locks of the atomic
 * backend):
 *  - PCPU_CS_OK: the final store happened, outputs set;
 *  - PCPU_CS_FAIL: the comparison failed, nothing was stored, outputs
 *    untouched (each sequence with a comparison);
 *  - PCPU_CS_RETRY: with rseq, an attempt on another CPU's copy than the
 *    one the thread runs on (the sequence's index check fails, as after a
 *    migration) commits nothing; then pcpu_cs_next() moves to the right
 *    copy and the operation completes;
 *  - the copy lengths of the copy sequence: 0 to 67 bytes, every
 *    alignment of source and destination;
 *  - pcpu_cs_fence() on every copy, and its bad argument.
 */
#include "harness.h"

#define W	64	/* words per copy in the test block */

static intptr_t *blk;	/* per-CPU: W words */

static intptr_t *word(struct pcpu_cs *cs, int i)
{
	return &pcpu_cs_ptr(cs, blk)[i];
}

static void clear_all(void)
{
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++)
		memset(pcpu_ptr(blk, k), 0, W * sizeof(intptr_t));
}

/* Run one attempt on this thread's copy, retrying aborts only. */
#define ONCE(cs, call)							\
	({								\
		int r_;							\
		for (pcpu_cs_begin(cs);; pcpu_cs_next(cs))		\
			if ((r_ = (call)) != PCPU_CS_RETRY)		\
				break;					\
		r_;							\
	})

static void test_cmpeqv_storev(void)
{
	struct pcpu_cs cs;
	int r;

	clear_all();
	r = ONCE(&cs, pcpu_cs_cmpeqv_storev(&cs, word(&cs, 0), 0, 5));
	CHECK(r == PCPU_CS_OK && *word(&cs, 0) == 5, "storev ok: %d %ld", r,
	      (long)*word(&cs, 0));
	r = ONCE(&cs, pcpu_cs_cmpeqv_storev(&cs, word(&cs, 0), 4, 9));
	CHECK(r == PCPU_CS_FAIL && *word(&cs, 0) == 5, "storev fail: %d %ld",
	      r, (long)*word(&cs, 0));
}

static void test_trystorev(int release)
{
	struct pcpu_cs cs;
	int r;

	clear_all();
#define TRY(e, n2, n)							\
	(release ? pcpu_cs_cmpeqv_trystorev_storev_release(&cs,		\
			word(&cs, 0), e, word(&cs, 1), n2, n) :		\
		   pcpu_cs_cmpeqv_trystorev_storev(&cs, word(&cs, 0), e,	\
			word(&cs, 1), n2, n))
	r = ONCE(&cs, TRY(0, 77, 1));
	CHECK(r == PCPU_CS_OK && *word(&cs, 0) == 1 && *word(&cs, 1) == 77,
	      "trystorev%s ok: %d %ld %ld", release ? "_release" : "", r,
	      (long)*word(&cs, 0), (long)*word(&cs, 1));
	r = ONCE(&cs, TRY(0, 88, 2));
	CHECK(r == PCPU_CS_FAIL && *word(&cs, 0) == 1 && *word(&cs, 1) == 77,
	      "trystorev%s fail stored something: %d %ld %ld",
	      release ? "_release" : "", r, (long)*word(&cs, 0),
	      (long)*word(&cs, 1));
#undef TRY
}

static void test_list_pop(void)
{
	struct pcpu_cs cs;
	intptr_t got = -7;
	int r;

	clear_all();
	/* A list of two nodes in words 8 and 12 (link at offset 8 bytes):
	 * head -> node8 -> node12 -> 0. */
	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		intptr_t *n8 = word(&cs, 8), *n12 = word(&cs, 12);

		n8[1] = (intptr_t)n12;
		n12[1] = 0;
		r = pcpu_cs_cmpeqv_storev(&cs, word(&cs, 0), 0, (intptr_t)n8);
		if (r != PCPU_CS_RETRY)
			break;
	}
	r = ONCE(&cs, pcpu_cs_cmpnev_storeoffp_load(&cs, word(&cs, 0), 0, 8,
						   &got));
	CHECK(r == PCPU_CS_OK && got == (intptr_t)word(&cs, 8) &&
	      *word(&cs, 0) == (intptr_t)word(&cs, 12),
	      "pop 1: %d got %#lx head %#lx", r, (long)got,
	      (long)*word(&cs, 0));
	r = ONCE(&cs, pcpu_cs_cmpnev_storeoffp_load(&cs, word(&cs, 0), 0, 8,
						   &got));
	CHECK(r == PCPU_CS_OK && got == (intptr_t)word(&cs, 12) &&
	      *word(&cs, 0) == 0, "pop 2: %d", r);
	got = -7;
	r = ONCE(&cs, pcpu_cs_cmpnev_storeoffp_load(&cs, word(&cs, 0), 0, 8,
						   &got));
	CHECK(r == PCPU_CS_FAIL && got == -7 && *word(&cs, 0) == 0,
	      "pop empty: %d got %ld", r, (long)got);
}

static void test_load_storev(void)
{
	struct pcpu_cs cs;
	intptr_t got = -7;
	int r;

	clear_all();
	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		*word(&cs, 3) = 4242;
		r = pcpu_cs_cmpeqv_storev(&cs, word(&cs, 0), 0, 4);
		if (r != PCPU_CS_RETRY)
			break;
	}
	r = ONCE(&cs, pcpu_cs_cmpeqv_load_storev(&cs, word(&cs, 0), 4,
						 word(&cs, 3), &got, 3));
	CHECK(r == PCPU_CS_OK && got == 4242 && *word(&cs, 0) == 3,
	      "load_storev ok: %d %ld %ld", r, (long)got, (long)*word(&cs, 0));
	got = -7;
	r = ONCE(&cs, pcpu_cs_cmpeqv_load_storev(&cs, word(&cs, 0), 4,
						 word(&cs, 3), &got, 9));
	CHECK(r == PCPU_CS_FAIL && got == -7 && *word(&cs, 0) == 3,
	      "load_storev fail: %d %ld", r, (long)got);
}

static void test_memcpy(int release)
{
	unsigned char src[80], *dst;
	struct pcpu_cs cs;
	int bad = 0, r;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + 1);
	for (size_t len = 0; len <= 67; len++) {
		for (size_t so = 0; so < 8; so++) {
			for (size_t d0 = 0; d0 < 8; d0 += 3) {
				clear_all();
				r = ONCE(&cs, (release ?
					pcpu_cs_cmpeqv_trymemcpy_storev_release :
					pcpu_cs_cmpeqv_trymemcpy_storev)(&cs,
					word(&cs, 0), 0,
					(char *)word(&cs, 2) + d0, src + so,
					len, (intptr_t)len + 1));
				dst = (unsigned char *)word(&cs, 2) + d0;
				if (r != PCPU_CS_OK ||
				    *word(&cs, 0) != (intptr_t)len + 1 ||
				    memcmp(dst, src + so, len) ||
				    (d0 && dst[-1]) || dst[len])
					bad++;
			}
		}
	}
	CHECK(!bad, "memcpy%s: %d bad copies", release ? "_release" : "", bad);
	clear_all();
	*word(&cs, 2) = 0;
	r = ONCE(&cs, pcpu_cs_cmpeqv_trymemcpy_storev(&cs, word(&cs, 0), 5,
						     word(&cs, 2), src, 16, 1));
	CHECK(r == PCPU_CS_FAIL && *word(&cs, 0) == 0 && *word(&cs, 2) == 0,
	      "memcpy fail copied or stored: %d", r);
}

static void test_adds(void)
{
	struct pcpu_cs cs;
	int r;

	clear_all();
	r = ONCE(&cs, pcpu_cs_addv(&cs, word(&cs, 0), 40));
	CHECK(r == PCPU_CS_OK && *word(&cs, 0) == 40, "addv: %d", r);
	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		/* word 5 points at word 16 minus 8 bytes: *(p + 8) is 16. */
		*word(&cs, 5) = (intptr_t)word(&cs, 15);
		r = pcpu_cs_offset_deref_addv(&cs, word(&cs, 5), 8, 3);
		if (r != PCPU_CS_RETRY)
			break;
	}
	CHECK(r == PCPU_CS_OK && *word(&cs, 16) == 3 && *word(&cs, 15) == 0,
	      "offset_deref_addv: %d %ld", r, (long)*word(&cs, 16));
}

/*
 * rseq only: an attempt on a copy whose CPU we are not on must abort and
 * commit nothing; the next pick is the right one.
 */
static void test_wrong_cpu(void)
{
	struct pcpu_cs cs;
	unsigned int here;
	int r;

	if (strcmp(pcpu_backend_name(), "rseq") && strncmp(pcpu_backend_name(), "gs", 2))
		return;
	if (t_ncpus() < 2)
		return;
	t_pin(0);
	clear_all();
	pcpu_cs_begin(&cs);
	here = cs.cpu;
	if (pcpu_index_source() == PCPU_INDEX_CID) {
		t_unpin();
		return;
	}
	cs.cpu = here == 0 ? 1 : 0;	/* a CPU we are not on */
	r = pcpu_cs_cmpeqv_storev(&cs, word(&cs, 0), 0, 1);
	CHECK(r == PCPU_CS_RETRY, "wrong CPU: %d, expected PCPU_CS_RETRY", r);
	CHECK(*word(&cs, 0) == 0, "wrong CPU: the store happened");
	r = pcpu_cs_addv(&cs, word(&cs, 1), 1);
	CHECK(r == PCPU_CS_RETRY && *word(&cs, 1) == 0, "wrong CPU addv: %d",
	      r);
	pcpu_cs_next(&cs);
	CHECK(cs.cpu == here, "next picked %u, expected %u", cs.cpu, here);
	r = pcpu_cs_cmpeqv_storev(&cs, word(&cs, 0), 0, 1);
	CHECK(r == PCPU_CS_OK && *word(&cs, 0) == 1, "right CPU: %d", r);
	t_unpin();
}

int main(void)
{
	t_init(NULL);
	blk = pcpu_alloc(W * sizeof(intptr_t), 64);
	CHECK(blk != NULL, "alloc");
	if (!blk)
		return t_done();
	test_cmpeqv_storev();
	test_trystorev(0);
	test_trystorev(1);
	test_list_pop();
	test_load_storev();
	test_memcpy(0);
	test_memcpy(1);
	test_adds();
	test_wrong_cpu();
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++)
		CHECK(pcpu_cs_fence(k) == 0, "fence %u: %s", k, strerror(errno));
	CHECK(pcpu_cs_fence(pcpu_nr_copies()) == -1 && errno == EINVAL,
	      "fence out of range");
	return t_done();
}
