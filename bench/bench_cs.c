// SPDX-License-Identifier: MIT
/*
 * The critical sections of percpu/cs.h, each on its own (bench cs_<name>,
 * ns per completed sequence, pick and retries included), on the backend
 * PCPU_BACKEND selects (pcpu-rseq: restartable sequences; pcpu-atomic:
 * the per-copy locks; pcpu-gs*: restartable sequences too, since gs only
 * changes the single-word ops):
 *
 *   cs_cmpeqv_storev          compare and store a counter word
 *   cs_trystorev_storev       a slab push and a pop (two sequences per op:
 *                             cmpeqv_trystorev_storev, cmpeqv_load_storev)
 *   cs_list_pop_push          a list pop (cmpnev_storeoffp_load) and push
 *                             (cmpeqv_storev) of one node (two per op)
 *   cs_memcpy_16, cs_memcpy_64  copy 16 / 64 bytes and commit a position
 *   cs_addv                   add to a word
 *
 * Also cache_alloc_free impl pcpu-cs-list: the object cache's other
 * candidate design, a per-CPU linked free list on this layer (pop with
 * cmpnev_storeoffp_load, push with cmpeqv_storev), with the same checks
 * as pcpu_cache_free (range, alignment, a free cookie in the object's
 * first word): the measurement behind the choice of slabs in
 * src/cache.c.  Its objects' links live in the objects (the cookie's word
 * holds the link of a free object), so it touches one line per object as
 * the slab does.
 */
#include "bench.h"

#define NODES_PER_CPU	256
#define OBJ_SIZE	64

struct cpu_words {
	intptr_t w[8];
	intptr_t slab_n;
	intptr_t slab[64];
	unsigned char buf[4096];
};

static struct cpu_words *pw;	/* per-CPU */

static void cas_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		struct pcpu_cs cs;

		for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
			intptr_t *v = &pcpu_cs_ptr(&cs, pw)->w[0];
			intptr_t o = __atomic_load_n(v, __ATOMIC_RELAXED);

			if (pcpu_cs_cmpeqv_storev(&cs, v, o, o + 1) ==
			    PCPU_CS_OK)
				break;
		}
	}
}

static void addv_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		struct pcpu_cs cs;

		for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs))
			if (pcpu_cs_addv(&cs, &pcpu_cs_ptr(&cs, pw)->w[1], 1) ==
			    PCPU_CS_OK)
				break;
	}
}

/* Push a token onto this CPU's slab and pop one back: two sequences. */
static void slab_loop(void *x, int tid, long n)
{
	(void)x;
	for (long i = 0; i < n; i++) {
		struct pcpu_cs cs;
		intptr_t got;

		for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
			struct cpu_words *d = pcpu_cs_ptr(&cs, pw);
			intptr_t k = __atomic_load_n(&d->slab_n,
						     __ATOMIC_RELAXED);

			if (k >= 64)
				continue;	/* full here: not in this bench */
			if (pcpu_cs_cmpeqv_trystorev_storev(&cs, &d->slab_n, k,
					&d->slab[k], tid + 1, k + 1) ==
			    PCPU_CS_OK)
				break;
		}
		for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
			struct cpu_words *d = pcpu_cs_ptr(&cs, pw);
			intptr_t k = __atomic_load_n(&d->slab_n,
						     __ATOMIC_RELAXED);

			if (k <= 0)
				break;	/* another thread on this CPU has it */
			if (pcpu_cs_cmpeqv_load_storev(&cs, &d->slab_n, k,
					&d->slab[k - 1], &got, k - 1) ==
			    PCPU_CS_OK)
				break;
		}
	}
}

static void memcpy_loop(long n, size_t len)
{
	static const unsigned char rec[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	for (long i = 0; i < n; i++) {
		struct pcpu_cs cs;

		for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
			struct cpu_words *d = pcpu_cs_ptr(&cs, pw);
			intptr_t pos = __atomic_load_n(&d->w[2],
						       __ATOMIC_RELAXED);

			if (pcpu_cs_cmpeqv_trymemcpy_storev(&cs, &d->w[2], pos,
					&d->buf[(size_t)pos & (4096 - 64)], rec,
					len, pos + 64) == PCPU_CS_OK)
				break;
		}
	}
}

static void memcpy16_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	memcpy_loop(n, 16);
}

static void memcpy64_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	memcpy_loop(n, 64);
}

/* ---- the list-based cache, for the slab-or-list measurement ---------- */

struct list_cache {
	intptr_t __pcpu *heads;		/* per-CPU: first free object, 0 */
	char *base;
	size_t limit;
	intptr_t cookie;
};

static struct list_cache lc;

/* A free object's first word holds its link; the cookie is its second. */
static inline void *list_alloc(void)
{
	struct pcpu_cs cs;
	intptr_t obj = 0;
	int r;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		r = pcpu_cs_cmpnev_storeoffp_load(&cs,
				pcpu_cs_ptr(&cs, lc.heads), 0, 0, &obj);
		if (r != PCPU_CS_RETRY)
			break;
	}
	if (r != PCPU_CS_OK)
		return NULL;	/* empty: the bench keeps every list full */
	((intptr_t *)obj)[1] = 0;
	return (void *)obj;
}

static inline int list_free(void *p)
{
	uint64_t off = (uint64_t)((char *)p - lc.base);
	intptr_t *o = p;
	struct pcpu_cs cs;

	if (off >= lc.limit || (off & (OBJ_SIZE - 1)))
		return -1;
	__asm__("" : "+r"(o));
	if (o[1] == lc.cookie)
		return -1;	/* the cache would confirm, then refuse */
	o[1] = lc.cookie;
	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		intptr_t *head = pcpu_cs_ptr(&cs, lc.heads);
		intptr_t h = __atomic_load_n(head, __ATOMIC_RELAXED);

		o[0] = h;
		if (pcpu_cs_cmpeqv_storev(&cs, head, h, (intptr_t)o) ==
		    PCPU_CS_OK)
			return 0;
	}
}

static void list_loop(void *x, int tid, long n)
{
	(void)x;
	for (long i = 0; i < n; i++) {
		long *o = list_alloc();

		if (!o) {
			fprintf(stderr, "pcpu-cs-list: a list ran dry\n");
			abort();
		}
		o[2] = tid;
		__asm__ __volatile__("" : : "r"(o) : "memory");
		list_free(o);
	}
}

static int list_setup(void)
{
	unsigned int copies = pcpu_nr_copies();
	size_t total = (size_t)copies * NODES_PER_CPU;

	lc.heads = PCPU_ALLOC(intptr_t);
	lc.base = aligned_alloc(OBJ_SIZE, total * OBJ_SIZE);
	if (!lc.heads || !lc.base)
		return -1;
	memset(lc.base, 0, total * OBJ_SIZE);
	lc.limit = total * OBJ_SIZE;
	lc.cookie = 0x5bd1e995 | 1;
	for (size_t i = 0; i < total; i++) {
		intptr_t *o = (intptr_t *)(lc.base + i * OBJ_SIZE);
		intptr_t *head = pcpu_ptr(lc.heads, i % copies);

		o[0] = *head;
		o[1] = lc.cookie;
		*head = (intptr_t)o;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*loop)(void *, int, long);
	} cases[] = {
		{ "cs_cmpeqv_storev", cas_loop },
		{ "cs_addv", addv_loop },
		{ "cs_trystorev_storev", slab_loop },
		{ "cs_memcpy_16", memcpy16_loop },
		{ "cs_memcpy_64", memcpy64_loop },
	};
	int counts[BENCH_MAX_COUNTS], nc, rc = 0;

	if (!bench_mode_pcpu(argc, argv))
		return 0;	/* no baselines: the peers are elsewhere */
	nc = bench_thread_counts(counts);
	pw = PCPU_ALLOC(struct cpu_words);
	if (!pw || list_setup()) {
		perror("alloc");
		return 1;
	}
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int k = 0; k < nc; k++) {
			struct bench b = {
				.bench = cases[c].name,
				.impl = bench_pcpu_impl(),
				.threads = counts[k],
				.loop = cases[c].loop,
			};

			rc |= bench_run(&b);
		}
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "cache_alloc_free",
			.impl = !strcmp(bench_pcpu_impl(), "pcpu-rseq") ?
				"pcpu-cs-list" : "pcpu-cs-list-other",
			.kind = "ours",
			.threads = counts[k],
			.loop = list_loop,
			.note = "the cache's other design: a per-CPU list on "
				"cs.h, same checks (bench/bench_cs.c)",
		};

		/* Only with rseq: the comparison is between designs. */
		if (strcmp(bench_pcpu_impl(), "pcpu-rseq"))
			break;
		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
