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

/*
 * Appended with the ring's record sequences: compare + try-store + copy
 * + commit, and compare + two copies + commit.  Every length 0..67 and
 * alignment of the copies, the try-store and the commit; on FAIL nothing
 * at all is stored; on a copy whose CPU we are not on (rseq), RETRY and
 * nothing committed.
 */
static int rseq_kind(void)
{
	return !strcmp(pcpu_backend_name(), "rseq") ||
	       !strncmp(pcpu_backend_name(), "gs", 2);
}

static void test_trystore_memcpy(int release)
{
	unsigned char src[80], *dst;
	struct pcpu_cs cs;
	int bad = 0, r;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 5 + 3);
#define TSM(e, n2, d, s, l, n)						\
	(release ? pcpu_cs_cmpeqv_trystorev_trymemcpy_storev_release(&cs,	\
			word(&cs, 0), e, word(&cs, 1), n2, d, s, l, n) :	\
		   pcpu_cs_cmpeqv_trystorev_trymemcpy_storev(&cs,	\
			word(&cs, 0), e, word(&cs, 1), n2, d, s, l, n))
	for (size_t len = 0; len <= 67; len++) {
		for (size_t so = 0; so < 8; so++) {
			for (size_t d0 = 0; d0 < 8; d0 += 3) {
				clear_all();
				r = ONCE(&cs, TSM(0, (intptr_t)len + 100,
					(char *)word(&cs, 2) + d0, src + so,
					len, (intptr_t)len + 1));
				dst = (unsigned char *)word(&cs, 2) + d0;
				if (r != PCPU_CS_OK ||
				    *word(&cs, 0) != (intptr_t)len + 1 ||
				    *word(&cs, 1) != (intptr_t)len + 100 ||
				    memcmp(dst, src + so, len) ||
				    (d0 && dst[-1]) || dst[len])
					bad++;
			}
		}
	}
	CHECK(!bad, "trystore_memcpy%s: %d bad copies",
	      release ? "_release" : "", bad);
	clear_all();
	r = ONCE(&cs, TSM(5, 9, word(&cs, 2), src, 16, 1));
	CHECK(r == PCPU_CS_FAIL && *word(&cs, 0) == 0 && *word(&cs, 1) == 0 &&
	      *word(&cs, 2) == 0 && *word(&cs, 3) == 0,
	      "trystore_memcpy%s fail stored something: %d",
	      release ? "_release" : "", r);
	if (rseq_kind() && t_ncpus() > 1 &&
	    pcpu_index_source() != PCPU_INDEX_CID) {
		unsigned int here;

		t_pin(0);
		clear_all();
		pcpu_cs_begin(&cs);
		here = cs.cpu;
		cs.cpu = here == 0 ? 1 : 0;
		r = TSM(0, 7, word(&cs, 2), src, 16, 1);
		CHECK(r == PCPU_CS_RETRY && *word(&cs, 0) == 0,
		      "trystore_memcpy on another CPU's copy: %d, word %ld", r,
		      (long)*word(&cs, 0));
		t_unpin();
	}
#undef TSM
}

static void test_memcpy2(int release)
{
	unsigned char a[40], b[80], *dst;
	struct pcpu_cs cs;
	int bad = 0, r;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (unsigned char)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 11 + 2);
#define M2(e, d, s1, l1, s2, l2, n)					\
	(release ? pcpu_cs_cmpeqv_trymemcpy2_storev_release(&cs,	\
			word(&cs, 0), e, d, s1, l1, s2, l2, n) :	\
		   pcpu_cs_cmpeqv_trymemcpy2_storev(&cs, word(&cs, 0), e,	\
			d, s1, l1, s2, l2, n))
	for (size_t l1 = 0; l1 <= 24; l1 += 1 + (l1 >= 8) * 7) {
		for (size_t l2 = 0; l2 <= 67; l2++) {
			for (size_t so = 0; so < 8; so += 3) {
				for (size_t d0 = 0; d0 < 8; d0 += 5) {
					clear_all();
					r = ONCE(&cs, M2(0,
						(char *)word(&cs, 2) + d0,
						a + so, l1, b + so, l2,
						(intptr_t)(l1 + l2 + 1)));
					dst = (unsigned char *)word(&cs, 2) +
					      d0;
					if (r != PCPU_CS_OK ||
					    *word(&cs, 0) !=
					    (intptr_t)(l1 + l2 + 1) ||
					    memcmp(dst, a + so, l1) ||
					    memcmp(dst + l1, b + so, l2) ||
					    (d0 && dst[-1]) || dst[l1 + l2])
						bad++;
				}
			}
		}
	}
	CHECK(!bad, "memcpy2%s: %d bad copies", release ? "_release" : "",
	      bad);
	clear_all();
	r = ONCE(&cs, M2(3, word(&cs, 2), a, 16, b, 16, 1));
	CHECK(r == PCPU_CS_FAIL && *word(&cs, 0) == 0 && *word(&cs, 2) == 0 &&
	      *word(&cs, 5) == 0, "memcpy2%s fail stored something: %d",
	      release ? "_release" : "", r);
	if (rseq_kind() && t_ncpus() > 1 &&
	    pcpu_index_source() != PCPU_INDEX_CID) {
		unsigned int here;

		t_pin(0);
		clear_all();
		pcpu_cs_begin(&cs);
		here = cs.cpu;
		cs.cpu = here == 0 ? 1 : 0;
		r = M2(0, word(&cs, 2), a, 16, b, 16, 1);
		CHECK(r == PCPU_CS_RETRY && *word(&cs, 0) == 0,
		      "memcpy2 on another CPU's copy: %d, word %ld", r,
		      (long)*word(&cs, 0));
		t_unpin();
	}
#undef M2
}

/* The checks read this thread's copy after each attempt, and the next
 * attempt must find the same one: stay on the CPU we are on (one the
 * mask allows, whatever a cpuset says). */
static void stay_here(void)
{
	int c = sched_getcpu();

	if (c >= 0)
		t_pin((unsigned int)c);
}

int main(void)
{
	t_init(NULL);
	stay_here();
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
	test_wrong_cpu();	/* pins and unpins by itself */
	stay_here();
	test_trystore_memcpy(0);
	test_trystore_memcpy(1);
	test_memcpy2(0);
	test_memcpy2(1);
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++)
		CHECK(pcpu_cs_fence(k) == 0, "fence %u: %s", k, strerror(errno));
	CHECK(pcpu_cs_fence(pcpu_nr_copies()) == -1 && errno == EINVAL,
	      "fence out of range");
	return t_done();
}
