// SPDX-License-Identifier: MIT
/*
 * The per-CPU allocator.  Offsets within one stride are handed out once
 * and valid in every copy.  Invariant: every free byte reads as zero in
 * every copy, so allocation never touches the copies (and a CPU that never
 * ran costs no RSS); freeing restores the invariant.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"

#define GRANULE		8
/* Offsets below this are never handed out: the library's own word of each
 * copy sits at offset 0 (the critical sections' lock, src/cs.c), and hot
 * per-CPU words stay off page offset 0, where they alias (4 KiB) with
 * other page-aligned hot data. */
#define FIRST_OFFSET	64

struct extent {
	size_t off;
	size_t len;
};

struct extents {
	struct extent *v;
	size_t n, cap;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct extents free_list;	/* sorted by off, coalesced */
static struct extents live;		/* sorted by off */
static int ready;

static void atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void atfork_release(void)
{
	pthread_mutex_unlock(&lock);
}

/* First index whose off >= off. */
static size_t lower_bound(const struct extents *e, size_t off)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int reserve(struct extents *e, size_t extra)
{
	struct extent *v;
	size_t cap;

	if (e->n + extra <= e->cap)
		return 0;
	cap = e->cap ? e->cap * 2 : 64;
	while (cap < e->n + extra)
		cap *= 2;
	v = realloc(e->v, cap * sizeof(*v));
	if (!v)
		return -1;
	e->v = v;
	e->cap = cap;
	return 0;
}

static void insert_at(struct extents *e, size_t i, size_t off, size_t len)
{
	memmove(&e->v[i + 1], &e->v[i], (e->n - i) * sizeof(e->v[0]));
	e->v[i] = (struct extent){ off, len };
	e->n++;
}

static void remove_at(struct extents *e, size_t i)
{
	memmove(&e->v[i], &e->v[i + 1], (e->n - i - 1) * sizeof(e->v[0]));
	e->n--;
}

static int setup_locked(void)
{
	size_t stride = pcpu_stride();

	if (ready)
		return 0;
	if (reserve(&free_list, 1))
		return -1;
	free_list.v[0] = (struct extent){ FIRST_OFFSET, stride - FIRST_OFFSET };
	free_list.n = 1;
	pthread_atfork(atfork_prepare, atfork_release, atfork_release);
	ready = 1;
	return 0;
}

/* Free bytes and the largest free extent, for a full region's message. */
static size_t free_bytes_locked(void)
{
	size_t sum = 0;

	for (size_t i = 0; i < free_list.n; i++)
		sum += free_list.v[i].len;
	return sum;
}

static size_t largest_free_locked(void)
{
	size_t best = 0;

	for (size_t i = 0; i < free_list.n; i++)
		if (free_list.v[i].len > best)
			best = free_list.v[i].len;
	return best;
}

void *pcpu_alloc(size_t size, size_t align)
{
	size_t i, start = 0, len;
	void *ret = NULL;

	pcpu__error_clear();
	if (pcpu__ensure_init()) {
		pcpu__error(errno, "pcpu_alloc: the library could not "
			    "initialize: %s", pcpu_init_error());
		return NULL;
	}
	if (!align)
		align = _Alignof(max_align_t);
	if (!size || align & (align - 1) || align > (size_t)getpagesize()) {
		pcpu__error(EINVAL, !size ? "pcpu_alloc: size 0" :
			    "pcpu_alloc: align %zu: must be a power of two "
			    "no larger than the page size (%d)", align,
			    getpagesize());
		return NULL;
	}
	if (align < GRANULE)
		align = GRANULE;
	if (size > pcpu_stride()) {
		pcpu__error(ENOMEM, "pcpu_alloc: %zu bytes is more than the "
			    "stride (%zu bytes per CPU): initialize with a "
			    "larger one (pcpu_init() params.stride, or "
			    "PCPU_STRIDE) before the first allocation",
			    size, pcpu_stride());
		return NULL;
	}
	len = (size + GRANULE - 1) & ~(size_t)(GRANULE - 1);

	pthread_mutex_lock(&lock);
	if (setup_locked() || reserve(&free_list, 1) || reserve(&live, 1)) {
		pcpu__error(ENOMEM, "pcpu_alloc: no memory for the "
			    "allocator's own lists");
		goto out;
	}
	for (i = 0; i < free_list.n; i++) {
		struct extent *e = &free_list.v[i];

		start = (e->off + align - 1) & ~(align - 1);
		if (start + len <= e->off + e->len)
			break;
	}
	if (i == free_list.n) {
		pcpu__error(ENOMEM, "pcpu_alloc: %zu bytes aligned to %zu do "
			    "not fit: %zu of the stride's %zu bytes are free, "
			    "the largest free piece is %zu; free handles, or "
			    "initialize with a larger stride (PCPU_STRIDE)",
			    len, align, free_bytes_locked(),
			    pcpu_stride(), largest_free_locked());
		goto out;
	}
	/* Carve [start, start + len) out of extent i. */
	{
		struct extent e = free_list.v[i];
		size_t tail = e.off + e.len - (start + len);

		remove_at(&free_list, i);
		if (tail)
			insert_at(&free_list, i, start + len, tail);
		if (start > e.off)
			insert_at(&free_list, i, e.off, start - e.off);
	}
	insert_at(&live, lower_bound(&live, start), start, len);
	ret = (void *)(pcpu_base() + start);
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

/*
 * Can the page at pg hold non-zero bytes?  Resident pages can.  A page that
 * is not resident may be swapped out (to disk or zram) with its contents,
 * or have no page at all (never touched, or given back with MADV_DONTNEED),
 * which reads as zero.  mincore() cannot tell the two apart; the page map
 * can (bit 62: swapped, bit 63: present; both are shown to unprivileged
 * readers, only the frame numbers are hidden).  Whenever either cannot be
 * read, assume the page may hold data: scanning it is always correct, and
 * only costs touching memory.
 */
static int page_maybe_nonzero(uintptr_t pg, size_t page, int *pagemap)
{
	unsigned char resident = 1;
	uint64_t ent;

	if (mincore((void *)pg, page, &resident) || (resident & 1))
		return 1;
	/*
	 * Opened by the scrub that needs it and closed when it ends, never
	 * kept: a descriptor held across calls would be the application's
	 * to lose (a daemon that closes what it inherited, then opens a file
	 * that gets the same number, saw its file closed by the next
	 * pcpu_free() in a fork child) and could be replaced under us by
	 * one the application opened.
	 */
	if (*pagemap == -2)
		*pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (*pagemap < 0)
		return 1;
	if (pread(*pagemap, &ent, sizeof(ent),
		  (off_t)(pg / page * sizeof(ent))) != (ssize_t)sizeof(ent))
		return 1;
	return (ent >> 62) != 0;
}

/* Zero [p, p + len) where it is not already, without touching pages that
 * cannot hold data (no RSS, no page tables for copies of CPUs that never
 * ran).  *pagemap: the page map's descriptor, -2 until opened. */
static void clear(char *p, size_t len, int *pagemap)
{
	size_t page = (size_t)getpagesize();

	while (len) {
		uintptr_t pg = (uintptr_t)p & ~(uintptr_t)(page - 1);
		size_t n = pg + page - (uintptr_t)p;

		if (n > len)
			n = len;
		if (page_maybe_nonzero(pg, page, pagemap)) {
			for (size_t i = 0; i < n; i++) {
				if (p[i]) {
					memset(p + i, 0, n - i);
					break;
				}
			}
		}
		p += n;
		len -= n;
	}
}

/*
 * Restore the zero invariant on [off, end) in every copy; whole pages
 * inside the coalesced free extent [fo, fo + fl) go back to the kernel
 * instead of being written (MADV_DONTNEED also drops swapped-out pages).
 * Every copy, not only those of possible CPUs: structures and users may
 * write any copy index below pcpu_nr_copies() (a sparse mask has holes),
 * and the scan of a copy nobody touched costs two system calls per page.
 */
static void scrub(size_t off, size_t end, size_t fo, size_t fl)
{
	size_t page = (size_t)getpagesize();
	size_t pg_lo = (fo + page - 1) & ~(page - 1);
	size_t pg_hi = (fo + fl) & ~(page - 1);
	unsigned int cpu, copies = pcpu_nr_copies();
	int pagemap = -2;

	if (pg_lo >= pg_hi)
		pg_lo = pg_hi = end;
	for (cpu = 0; cpu < copies; cpu++) {
		char *copy = (char *)pcpu_ptr((void *)pcpu_base(), cpu);

		if (pg_lo < pg_hi &&
		    madvise(copy + pg_lo, pg_hi - pg_lo, MADV_DONTNEED))
			clear(copy + pg_lo, pg_hi - pg_lo, &pagemap);
		if (off < pg_lo)
			clear(copy + off, (end < pg_lo ? end : pg_lo) - off,
			      &pagemap);
		if (end > pg_hi) {
			size_t from = off > pg_hi ? off : pg_hi;

			clear(copy + from, end - from, &pagemap);
		}
	}
	if (pagemap >= 0)
		close(pagemap);
}

int pcpu_free(void *p)
{
	size_t off, len, i, fo, fl;
	int ret = -1;

	pcpu__error_clear();
	if (!p)
		return 0;
	pthread_mutex_lock(&lock);
	if (!ready || (uintptr_t)p < pcpu_base() ||
	    (uintptr_t)p >= pcpu_base() + pcpu_stride()) {
		pcpu__error(EINVAL, "pcpu_free: %p is not a per-CPU handle "
			    "(outside the region's first copy)", p);
		goto out;
	}
	off = (uintptr_t)p - pcpu_base();
	i = lower_bound(&live, off);
	if (i == live.n || live.v[i].off != off) {
		pcpu__error(EINVAL, "pcpu_free: %p (offset %zu) is not the "
			    "start of a live allocation: freed already, "
			    "never allocated, or inside one", p, off);
		goto out;
	}
	len = live.v[i].len;
	if (reserve(&free_list, 1)) {
		pcpu__error(ENOMEM, "pcpu_free: no memory for the "
			    "allocator's own lists (nothing was freed)");
		goto out;
	}
	remove_at(&live, i);

	/* Insert and coalesce with the neighbours. */
	i = lower_bound(&free_list, off);
	insert_at(&free_list, i, off, len);
	if (i + 1 < free_list.n &&
	    free_list.v[i].off + free_list.v[i].len == free_list.v[i + 1].off) {
		free_list.v[i].len += free_list.v[i + 1].len;
		remove_at(&free_list, i + 1);
	}
	if (i > 0 && free_list.v[i - 1].off + free_list.v[i - 1].len == off) {
		free_list.v[i - 1].len += free_list.v[i].len;
		remove_at(&free_list, i);
		i--;
	}
	fo = free_list.v[i].off;
	fl = free_list.v[i].len;
	scrub(off, off + len, fo, fl);
	ret = 0;
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

size_t pcpu_free_bytes(void)
{
	size_t sum = 0;

	if (pcpu__ensure_init())
		return 0;
	pthread_mutex_lock(&lock);
	if (!setup_locked())
		sum = free_bytes_locked();
	pthread_mutex_unlock(&lock);
	return sum;
}
