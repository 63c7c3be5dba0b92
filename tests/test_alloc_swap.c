// SPDX-License-Identifier: MIT
/*
 * Freed per-CPU memory reads zero again when it is reallocated, whatever
 * the kernel did with its pages meanwhile: here, swapped out.  Each copy's
 * page is written, pushed to swap (MADV_PAGEOUT) so that it is no longer
 * resident, then the allocation is freed and allocated again:
 *  - partial page: a neighbour on the same page stays allocated, so the
 *    freed bytes must be cleared in place (the page cannot be dropped);
 *  - whole pages: an allocation spanning pages is dropped with
 *    MADV_DONTNEED, its partial edges cleared.
 * Also the case from the field: a counter freed, a spinlock allocated at
 * the same offset, and the brand-new lock must be free.
 *
 * Needs swap: uses the swap that is on, or (as root) sets up a small zram
 * device for the duration of the test; skips with the reason otherwise.
 */
#include "harness.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static char zram_dev[64];
static int zram_id = -1;

static int write_file(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, v, strlen(v));
	close(fd);
	return n == (ssize_t)strlen(v) ? 0 : -1;
}

static int swap_is_on(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/swaps", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n > 1;	/* a header line, then one line per swap area */
}

static void zram_off(void)
{
	char id[16];

	if (zram_id < 0)
		return;
	swapoff(zram_dev);
	snprintf(id, sizeof(id), "%d", zram_id);
	write_file("/sys/class/zram-control/hot_remove", id);
	zram_id = -1;
}

/* 0 with swap on, or -1 with the reason printed as a skip. */
static int swap_on(void)
{
	char path[128], cmd[160];
	FILE *f;
	int st;

	if (swap_is_on())
		return 0;
	if (geteuid()) {
		printf("skip: no swap, and not root to set up zram\n");
		return -1;
	}
	f = fopen("/sys/class/zram-control/hot_add", "re");
	if (!f || fscanf(f, "%d", &zram_id) != 1) {
		if (f)
			fclose(f);
		printf("skip: no swap, and this kernel has no zram\n");
		return -1;
	}
	fclose(f);
	snprintf(zram_dev, sizeof(zram_dev), "/dev/zram%d", zram_id);
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", zram_id);
	snprintf(cmd, sizeof(cmd), "mkswap %s >/dev/null 2>&1", zram_dev);
	if (write_file(path, "64M") || (st = system(cmd)) != 0 ||
	    swapon(zram_dev, 0)) {
		printf("skip: could not put swap on %s: %s\n", zram_dev,
		       strerror(errno));
		zram_off();
		return -1;
	}
	printf("swap: %s, 64 MiB of zram, for this test\n", zram_dev);
	return 0;
}

static int resident(void *p)
{
	size_t page = (size_t)getpagesize();
	unsigned char v = 0;

	mincore((void *)((uintptr_t)p & ~(page - 1)), page, &v);
	return v & 1;
}

/* Write pattern into every copy of [p, p + len), then page the copies out.
 * Returns how many copies' first pages left memory. */
static unsigned int fill_and_page_out(void *p, size_t len, int pattern)
{
	size_t page = (size_t)getpagesize();
	unsigned int k, out = 0;

	for (k = 0; k < pcpu_nr_copies(); k++)
		memset(pcpu_ptr((char *)p, k), pattern, len);
	for (k = 0; k < pcpu_nr_copies(); k++) {
		char *c = pcpu_ptr((char *)p, k);
		uintptr_t lo = (uintptr_t)c & ~(page - 1);
		uintptr_t hi = ((uintptr_t)c + len + page - 1) & ~(page - 1);

		madvise((void *)lo, hi - lo, MADV_PAGEOUT);
		out += !resident(c);
	}
	return out;
}

static size_t nonzero_copies(void *p, size_t len)
{
	size_t bad = 0;

	for (unsigned int k = 0; k < pcpu_nr_copies(); k++) {
		const unsigned char *c = pcpu_ptr((unsigned char *)p, k);

		for (size_t i = 0; i < len; i++)
			if (c[i]) {
				bad++;
				break;
			}
	}
	return bad;
}

static int run_cases(void)
{
	size_t page = (size_t)getpagesize();
	unsigned int out;
	char *a, *b, *a2, *big, *big2;
	long *ctr;
	struct pcpu_spinlock sl;

	/* Partial page: a and its neighbour b share a page. */
	a = pcpu_alloc(64, 64);
	b = pcpu_alloc(64, 64);
	CHECK(a && b, "alloc: %s", strerror(errno));
	if (!a || !b)
		return 1;
	memset(b, 0, 64);
	out = fill_and_page_out(a, 64, 0x5a);
	if (!out) {
		printf("skip: MADV_PAGEOUT left every page resident\n");
		return T_SKIP;
	}
	printf("partial page: %u of %u copies swapped out\n", out,
	       pcpu_nr_copies());
	CHECK(pcpu_free(a) == 0, "free a");
	a2 = pcpu_alloc(64, 64);
	CHECK(a2 == a, "first fit gives the same offset back");
	CHECK(nonzero_copies(a2, 64) == 0,
	      "partial page: %zu copies of the new allocation are not zero",
	      nonzero_copies(a2, 64));

	/* Whole pages with ragged edges. */
	big = pcpu_alloc(3 * page + 200, 8);
	CHECK(big != NULL, "alloc big");
	if (!big)
		return 1;
	out = fill_and_page_out(big, 3 * page + 200, 0x77);
	printf("whole pages: %u of %u copies swapped out\n", out,
	       pcpu_nr_copies());
	CHECK(pcpu_free(big) == 0, "free big");
	big2 = pcpu_alloc(3 * page + 200, 8);
	CHECK(big2 == big, "same offset back");
	CHECK(big2 && nonzero_copies(big2, 3 * page + 200) == 0,
	      "whole pages: %zu copies are not zero",
	      big2 ? nonzero_copies(big2, 3 * page + 200) : 0);

	/* A counter's old value must not become a held lock. */
	ctr = PCPU_ALLOC(long);
	CHECK(ctr != NULL, "alloc counter");
	if (!ctr)
		return 1;
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++)
		*pcpu_ptr(ctr, k) = 1;
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++)
		madvise((void *)((uintptr_t)pcpu_ptr(ctr, k) & ~(page - 1)),
			page, MADV_PAGEOUT);
	CHECK(pcpu_free(ctr) == 0, "free counter");
	CHECK(pcpu_spin_init(&sl) == 0, "spin init");
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++)
		CHECK(*pcpu_ptr(sl.words, k) == 0,
		      "the new lock of copy %u reads %u: held", k,
		      *pcpu_ptr(sl.words, k));
	return 0;
}

int main(void)
{
	int rc;

	if (swap_on())
		return T_SKIP;
	t_init(NULL);
	rc = run_cases();
	zram_off();
	if (rc)
		return rc;
	return t_done();
}
