// SPDX-License-Identifier: MIT
/*
 * The allocator: alignment, zeroing on every copy, reuse of freed space,
 * whole pages returned to the kernel, exhaustion (ENOMEM), and bad frees
 * (EINVAL, nothing changed).  Runs with the smallest stride so that the
 * stride fills quickly.
 */
#include "harness.h"

#include <stdint.h>
#include <sys/mman.h>

static int resident(void *p)
{
	unsigned char v = 0;
	uintptr_t page = (uintptr_t)p & ~(uintptr_t)(getpagesize() - 1);

	if (mincore((void *)page, (size_t)getpagesize(), &v))
		return -1;
	return v & 1;
}

static void test_align(void)
{
	for (size_t align = 1; align <= (size_t)getpagesize(); align *= 2) {
		void *p = pcpu_alloc(3, align);

		CHECK(p && ((uintptr_t)p & (align - 1)) == 0,
		      "align %zu: %p", align, p);
		CHECK(pcpu_free(p) == 0, "free aligned");
	}
	errno = 0;
	CHECK(!pcpu_alloc(8, 3) && errno == EINVAL, "align 3 -> EINVAL");
	errno = 0;
	CHECK(!pcpu_alloc(8, 2 * (size_t)getpagesize()) && errno == EINVAL,
	      "align > page -> EINVAL");
	errno = 0;
	CHECK(!pcpu_alloc(0, 8) && errno == EINVAL, "size 0 -> EINVAL");
}

/* Dirty every copy, free, reallocate the same range: all zero again. */
static void test_zeroing(void)
{
	size_t sizes[] = { 8, 24, 200, 4096, 3 * 4096 + 40 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		unsigned char *p = pcpu_alloc(n, 8), *q;
		unsigned int cpu;
		int dirty = 0;

		CHECK(p, "alloc %zu", n);
		if (!p)
			continue;
		pcpu_for_each_cpu(cpu)
			memset(pcpu_ptr(p, cpu), 0xa5, n);
		CHECK(pcpu_free(p) == 0, "free");
		q = pcpu_alloc(n, 8);
		CHECK(q == p, "freed space reused (%p vs %p)", (void *)q,
		      (void *)p);
		pcpu_for_each_cpu(cpu)
			for (size_t i = 0; i < n; i++)
				dirty |= pcpu_ptr(q, cpu)[i];
		CHECK(!dirty, "size %zu: not zero on every copy", n);
		pcpu_free(q);
	}
}

/* Freeing a page-sized allocation gives its pages back on every copy. */
static void test_release(void)
{
	size_t page = (size_t)getpagesize();
	char *p = pcpu_alloc(4 * page, page);
	unsigned int cpu;

	CHECK(p, "alloc 4 pages");
	if (!p)
		return;
	pcpu_for_each_cpu(cpu)
		memset(pcpu_ptr(p, cpu), 1, 4 * page);
	CHECK(resident(p + page) == 1, "touched page resident");
	CHECK(pcpu_free(p) == 0, "free");
	pcpu_for_each_cpu(cpu)
		CHECK(resident(pcpu_ptr(p, cpu) + page) == 0,
		      "copy %u: page still resident after free", cpu);
}

static void test_bad_free(void)
{
	char *p = pcpu_alloc(64, 8);
	size_t before;
	int x;

	errno = 0;
	CHECK(pcpu_free(p + 8) == -1 && errno == EINVAL, "interior pointer");
	errno = 0;
	CHECK(pcpu_free(&x) == -1 && errno == EINVAL, "foreign pointer");
	CHECK(pcpu_free(NULL) == 0, "NULL is a no-op");
	CHECK(pcpu_free(p) == 0, "first free");
	before = pcpu_free_bytes();
	errno = 0;
	CHECK(pcpu_free(p) == -1 && errno == EINVAL, "double free -> EINVAL");
	CHECK(pcpu_free_bytes() == before, "double free changed nothing");
}

/* Fill the stride: ENOMEM, then everything freed is usable again. */
static void test_exhaustion(void)
{
	size_t total = pcpu_free_bytes(), got = 0, n = 0, cap = 1024;
	void **v = calloc(cap, sizeof(*v));
	void *p;

	CHECK(!pcpu_alloc(pcpu_stride() + 1, 8) && errno == ENOMEM,
	      "larger than the stride");
	for (;;) {
		p = pcpu_alloc(1000, 8);
		if (!p)
			break;
		if (n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
		}
		v[n++] = p;
		got += 1000;
	}
	CHECK(errno == ENOMEM, "exhaustion errno %d", errno);
	CHECK(got > total / 2, "filled only %zu of %zu", got, total);
	/* Free every other block, then the rest: coalescing restores all. */
	for (size_t i = 0; i < n; i += 2)
		CHECK(pcpu_free(v[i]) == 0, "free even");
	p = pcpu_alloc(2000, 8);
	CHECK(!p, "2000 bytes fit in 1000-byte holes?");
	for (size_t i = 1; i < n; i += 2)
		CHECK(pcpu_free(v[i]) == 0, "free odd");
	CHECK(pcpu_free_bytes() == total, "free bytes %zu != %zu",
	      pcpu_free_bytes(), total);
	p = pcpu_alloc(total / 2, 8);
	CHECK(p, "one big block after coalescing");
	pcpu_free(p);
	free(v);
}

/* Concurrent alloc/free from many threads keeps the books straight. */
static void *churn(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	void *mine[16] = { 0 };

	for (int i = 0; i < 20000; i++) {
		int k = rand_r(&seed) % 16;

		if (mine[k]) {
			if (*(char *)this_cpu_ptr((char *)mine[k]) > 1)
				t_failures++;
			pcpu_free(mine[k]);
			mine[k] = NULL;
		} else {
			mine[k] = pcpu_alloc(1 + rand_r(&seed) % 300, 8);
			if (mine[k])
				this_cpu_add((char *)mine[k], 1);
		}
	}
	for (int k = 0; k < 16; k++)
		pcpu_free(mine[k]);
	return NULL;
}

static void test_threads(void)
{
	size_t total = pcpu_free_bytes();
	pthread_t th[8];

	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	CHECK(pcpu_free_bytes() == total, "leak after threads: %zu != %zu",
	      pcpu_free_bytes(), total);
}

int main(void)
{
	struct pcpu_params p = { .stride = PCPU_MIN_STRIDE };

	t_init(&p);
	test_align();
	test_zeroing();
	test_release();
	test_bad_free();
	test_threads();
	test_exhaustion();
	return t_done();
}
