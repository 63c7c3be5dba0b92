// SPDX-License-Identifier: MIT
/*
 * The table pcpu-stat(1) reads (percpu/stat.h).  One mapping per process,
 * made at the first registration, MAP_PRIVATE so that fork() children keep
 * their own, named so that the tool finds it in /proc/PID/maps.  Writers
 * (registrations) are serialized by a mutex and publish each change with
 * a sequence count; the reader is another process and never takes part in
 * any lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"
#include "percpu/stat.h"
#include "percpu/version.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA		0x53564d41
#define PR_SET_VMA_ANON_NAME	0
#endif

_Static_assert(sizeof(struct pcpu_stat_entry) == 64, "entry layout");
_Static_assert(sizeof(struct pcpu_stat_table) == 256, "table layout");

/* The entries follow the header. */
#define ENTRIES(t)	((struct pcpu_stat_entry *)((t) + 1))

static pthread_mutex_t stat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcpu_stat_table *table;

/* A fork while another thread registers must not leave the child's lock
 * held; the child keeps the (private) table as it was. */
static void stat_atfork_prepare(void)
{
	pthread_mutex_lock(&stat_lock);
}

static void stat_atfork_release(void)
{
	pthread_mutex_unlock(&stat_lock);
}

__attribute__((constructor)) static void stat_atfork(void)
{
	pthread_atfork(stat_atfork_prepare, stat_atfork_release,
		       stat_atfork_release);
}

/*
 * The table's mapping: anonymous and named where the kernel names
 * anonymous mappings, else a private mapping of a memfd of the same name
 * (its pages are copied on write, so it stays private to the process).
 */
static void *map_table(void)
{
	void *p = mmap(NULL, PCPU_STAT_MAP_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd, err;

	if (p == MAP_FAILED) {
		pcpu__error(errno, "pcpu_stat: cannot map the table (%zu bytes): %s",
			    PCPU_STAT_MAP_SIZE, strerror(errno));
		return NULL;
	}
	if (!prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p,
		   PCPU_STAT_MAP_SIZE, (unsigned long)PCPU_STAT_MAP_NAME))
		return p;
	munmap(p, PCPU_STAT_MAP_SIZE);
	fd = memfd_create(PCPU_STAT_MAP_NAME, MFD_CLOEXEC);
	if (fd < 0) {
		pcpu__error(errno, "pcpu_stat: the kernel names no anonymous "
			    "mapping (PR_SET_VMA_ANON_NAME) and memfd_create() "
			    "failed: %s; pcpu-stat could not find the table",
			    strerror(errno));
		return NULL;
	}
	p = MAP_FAILED;
	if (!ftruncate(fd, (off_t)PCPU_STAT_MAP_SIZE))
		p = mmap(NULL, PCPU_STAT_MAP_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE, fd, 0);
	err = errno;
	close(fd);
	if (p == MAP_FAILED) {
		pcpu__error(err, "pcpu_stat: cannot map the memfd table: %s",
			    strerror(err));
		return NULL;
	}
	return p;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* The table, made on first use (under stat_lock). */
static struct pcpu_stat_table *get_table(void)
{
	struct pcpu_stat_table *t;

	if (table)
		return table;
	if (pcpu__ensure_init()) {
		pcpu__error(errno, "pcpu_stat: the library cannot initialize: %s",
			    pcpu_init_error());
		return NULL;
	}
	t = map_table();
	if (!t)
		return NULL;
	t->version = PCPU_STAT_VERSION;
	t->header_size = sizeof(*t);
	t->entry_size = sizeof(struct pcpu_stat_entry);
	t->capacity = (uint32_t)((PCPU_STAT_MAP_SIZE - sizeof(*t)) /
				 sizeof(struct pcpu_stat_entry));
	t->base = pcpu_base();
	t->stride = pcpu_stride();
	t->nr_copies = pcpu_nr_copies();
	t->index = (uint32_t)pcpu_index_source();
	copy_str(t->backend, sizeof(t->backend), pcpu_backend_name());
	copy_str(t->lib_version, sizeof(t->lib_version), pcpu_version_string());
	t->counter_size = sizeof(struct pcpu_counter);
	t->counter_deltas_off = offsetof(struct pcpu_counter, deltas);
	t->counter_batch_off = offsetof(struct pcpu_counter, batch);
	t->counter_count_off = offsetof(struct pcpu_counter, count);
	/* The magic last: a reader that sees it sees the rest. */
	__atomic_store_n(&t->magic, PCPU_STAT_MAGIC, __ATOMIC_RELEASE);
	table = t;
	return t;
}

static int name_ok(const char *name)
{
	size_t n;

	if (!name)
		return 0;
	for (n = 0; name[n]; n++) {
		char ch = name[n];

		if (n >= PCPU_STAT_NAME_MAX - 1)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("_.:/-", ch)))
			return 0;
	}
	return n > 0;
}

static long find(const struct pcpu_stat_table *t, const char *name)
{
	for (uint32_t i = 0; i < t->count; i++)
		if (!strcmp(ENTRIES(t)[i].name, name))
			return i;
	return -1;
}

/* Writer side of the sequence count: odd while entries change. */
static void change_begin(struct pcpu_stat_table *t)
{
	__atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_RELAXED);
	PCPU__FENCE_REL();	/* the odd count before the entries */
}

static void change_end(struct pcpu_stat_table *t)
{
	__atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_RELEASE);
}

static int add(const char *name, uint32_t kind, uint64_t addr, int32_t aux)
{
	struct pcpu_stat_table *t;
	struct pcpu_stat_entry *e;
	int ret = -1;

	pthread_mutex_lock(&stat_lock);
	t = get_table();
	if (!t)
		goto out;
	if (find(t, name) >= 0) {
		pcpu__error(EEXIST, "pcpu_stat: the name \"%s\" is taken "
			    "(pcpu_stat_remove() it first)", name);
		goto out;
	}
	if (t->count >= t->capacity) {
		pcpu__error(ENOSPC, "pcpu_stat: the table is full (%u entries)",
			    t->capacity);
		goto out;
	}
	change_begin(t);
	e = &ENTRIES(t)[t->count];
	memset(e, 0, sizeof(*e));
	copy_str(e->name, sizeof(e->name), name);
	e->kind = kind;
	e->aux = aux;
	e->addr = addr;
	t->count++;
	change_end(t);
	ret = 0;
out:
	pthread_mutex_unlock(&stat_lock);
	return ret;
}

static int bad_name(const char *name)
{
	if (!name)
		return pcpu__error(EINVAL, "pcpu_stat: name is NULL");
	return pcpu__error(EINVAL, "pcpu_stat: bad name \"%.60s\": 1 to %d "
			   "letters, digits or _.:/-", name,
			   PCPU_STAT_NAME_MAX - 1);
}

int pcpu_stat_counter(const char *name, struct pcpu_counter *c)
{
	pcpu__error_clear();
	if (!name_ok(name))
		return bad_name(name);
	if (!PCPU__COUNTER_OK(c))
		return pcpu__error(EINVAL, "pcpu_stat_counter(\"%s\"): the "
				   "counter is %s", name, c ? "not initialized "
				   "(pcpu_counter_init() first)" : "NULL");
	return add(name, PCPU_STAT_COUNTER, (uint64_t)(uintptr_t)c, -1);
}

int pcpu_stat_ulong(const char *name, unsigned long __pcpu *h)
{
	uintptr_t a = (uintptr_t)h;

	pcpu__error_clear();
	if (!name_ok(name))
		return bad_name(name);
	if (pcpu__ensure_init())
		return pcpu__error(errno, "pcpu_stat_ulong(\"%s\"): the library "
				   "cannot initialize: %s", name,
				   pcpu_init_error());
	if (a < pcpu_base() || a - pcpu_base() > pcpu_stride() - sizeof(*h) ||
	    (a & (sizeof(*h) - 1)))
		return pcpu__error(EINVAL, "pcpu_stat_ulong(\"%s\"): %p is not "
				   "a per-CPU handle (pcpu_alloc() or "
				   "PCPU_DEFINE)", name, (void *)h);
	return add(name, PCPU_STAT_ULONG, (uint64_t)a, -1);
}

int pcpu_stat_ring(const char *name, struct pcpu_ring *r)
{
	void *mem = pcpu_ring_mem(r);
	int fd;

	pcpu__error_clear();
	if (!name_ok(name))
		return bad_name(name);
	if (!mem)
		return pcpu__error(EINVAL, "pcpu_stat_ring(\"%s\"): %s", name,
				   r ? "the ring has no mapping (destroyed?)" :
				   "the ring is NULL");
	fd = pcpu_ring_fd(r);
	return add(name, PCPU_STAT_RING, (uint64_t)(uintptr_t)mem,
		   fd >= 0 ? fd : -1);
}

int pcpu_stat_remove(const char *name)
{
	struct pcpu_stat_table *t;
	long i;
	int ret = -1;

	pcpu__error_clear();
	if (!name)
		return pcpu__error(EINVAL, "pcpu_stat_remove: name is NULL");
	pthread_mutex_lock(&stat_lock);
	t = table;
	i = t ? find(t, name) : -1;
	if (i < 0) {
		pcpu__error(ENOENT, "pcpu_stat_remove: no entry \"%.60s\"", name);
		goto out;
	}
	/* Dense: the last entry moves into the hole. */
	change_begin(t);
	ENTRIES(t)[i] = ENTRIES(t)[t->count - 1];
	memset(&ENTRIES(t)[t->count - 1], 0, sizeof(struct pcpu_stat_entry));
	t->count--;
	change_end(t);
	ret = 0;
out:
	pthread_mutex_unlock(&stat_lock);
	return ret;
}
