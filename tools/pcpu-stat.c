// SPDX-License-Identifier: MIT
/*
 * pcpu-stat: show the named per-CPU counters of a running program that
 * opted in with pcpu_stat_counter() / pcpu_stat_ulong() (percpu/stat.h).
 *
 *   pcpu-stat [--json] [-a] [-i SECONDS [-n COUNT]] PID|NAME
 *   pcpu-stat -T RING [-n COUNT] [-t SECONDS] [-x] PID|NAME
 *
 * How: find the table's mapping in /proc/PID/maps ([anon:libpercpu-stat]
 * or /memfd:libpercpu-stat), read it and every item's per-CPU copies with
 * process_vm_readv(2).  The program is not stopped, signalled or made to
 * run anything.  -T tails a ring: pcpu-stat takes its memfd with
 * pidfd_getfd(2) and is its consumer (see "tailing a ring" below).
 *
 * The target is not trusted.  It may be corrupted or hostile: every length,
 * count, offset and address read from it is checked against a fixed bound
 * before it is used, every read goes through process_vm_readv (a bad
 * address is EFAULT, never a fault here), every loop has a bound, and the
 * names it shows are checked or escaped.  A bad table is an error (exit 4)
 * with what was wrong; an item that cannot be read is reported as invalid.
 *
 * Exit status: 0 shown; 1 usage or system error; 2 no such process, or it
 * has not opted in (no table), or it exited; 3 not allowed to read it
 * (ptrace rights); 4 the target's table or an item is invalid.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <percpu/region.h>
#include <percpu/ring.h>
#include <percpu/stat.h>
#include <percpu/version.h>

enum {
	EX_SHOWN = 0,
	EX_ERROR = 1,
	EX_NOTFOUND = 2,
	EX_PERM = 3,
	EX_CORRUPT = 4,
};

/* Bounds on what a target can make us do. */
#define MAX_MAP_SIZE	((uint64_t)16 << 20)	/* the table's mapping */
#define MAX_COPIES	65537u			/* CPU ids up to 2^16, + spare */
#define MAX_WORDS	((uint64_t)1 << 22)	/* entries x copies read */
#define MAX_COUNTER	4096u			/* struct pcpu_counter */
#define USER_TOP	((uint64_t)1 << 57)	/* above any user address */
#define SEQ_TRIES	200			/* a change in progress */
#define SNAP_TRIES	20			/* snapshots a change overlapped */
#define MAX_MATCHES	64			/* processes of one name */
#define IOV_BATCH	512
#define MAX_RING_BUFS	PCPU_RING_MAX_BUFS

static struct {
	int json, all, refresh, hex;
	double interval, timeout;
	long count;
	const char *tail;	/* --tail: the ring's name */
} opt;

static char msg[512];		/* why the last step failed */

static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return code;
}

/* ---- the target ---- */

struct target {
	pid_t pid;
	char comm[64];		/* escaped */
	uint64_t map_lo, map_hi;
};

/* Copy s into d escaped: printable ASCII as is, the rest as \xNN. */
static void escape(char *d, size_t len, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && s[i] && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			d[o++] = (char)c;
		else
			o += (size_t)snprintf(d + o, len - o, "\\x%02x", c);
	}
	d[o] = 0;
}

/* Up to len - 1 bytes of /proc/PID/<what>; -1 with errno. */
static ssize_t read_proc(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

static void read_comm(struct target *t)
{
	char buf[64];
	ssize_t n = read_proc(t->pid, "comm", buf, sizeof(buf));

	if (n <= 0) {
		snprintf(t->comm, sizeof(t->comm), "?");
		return;
	}
	if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
	escape(t->comm, sizeof(t->comm), buf, sizeof(buf));
}

static int perm_error(const struct target *t, int err, const char *what)
{
	return fail(EX_PERM, "may not read process %d (%s): %s: %s.  Reading "
		    "another process's memory needs the right to ptrace it: "
		    "run pcpu-stat as the process's user (a process that is "
		    "setuid or made itself non-dumpable with "
		    "prctl(PR_SET_DUMPABLE, 0) needs root) or with "
		    "CAP_SYS_PTRACE; a Yama ptrace_scope above 0 restricts "
		    "it further", (int)t->pid, t->comm, what, strerror(err));
}

/* The errno of a failed access to the target, as an exit code. */
static int access_error(const struct target *t, int err, const char *what)
{
	if (err == EPERM || err == EACCES)
		return perm_error(t, err, what);
	if (err == ESRCH || err == ENOENT)
		return fail(EX_NOTFOUND, "process %d (%s) has exited",
			    (int)t->pid, t->comm);
	return fail(EX_ERROR, "process %d (%s): %s: %s", (int)t->pid, t->comm,
		    what, strerror(err));
}

/* Find the table's mapping in /proc/PID/maps. */
static int find_table(struct target *t)
{
	char path[64], line[4096];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	f = fopen(path, "re");
	if (!f)
		return access_error(t, errno, "cannot open its maps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		size_t n = strlen(line);

		/* A line longer than the buffer: the rest is a path, skip. */
		if (n && line[n - 1] != '\n') {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
		if (sscanf(line, "%llx-%llx", &lo, &hi) != 2)
			continue;
		if (!strstr(line, "[anon:" PCPU_STAT_MAP_NAME "]") &&
		    !strstr(line, "/memfd:" PCPU_STAT_MAP_NAME " "))
			continue;
		t->map_lo = lo;
		t->map_hi = hi;
		found = 1;
		break;
	}
	if (ferror(f)) {
		int err = errno;

		fclose(f);
		return access_error(t, err, "cannot read its maps");
	}
	fclose(f);
	if (!found)
		return fail(EX_NOTFOUND, "process %d (%s) has not opted in: no "
			    PCPU_STAT_MAP_NAME " mapping (it registered nothing "
			    "with pcpu_stat_counter() or pcpu_stat_ulong(), or "
			    "its libpercpu has no pcpu-stat support)",
			    (int)t->pid, t->comm);
	if (t->map_hi <= t->map_lo || t->map_hi - t->map_lo < 256 ||
	    t->map_hi - t->map_lo > MAX_MAP_SIZE)
		return fail(EX_CORRUPT, "process %d (%s): the table's mapping "
			    "has a bad size (%" PRIu64 " bytes)", (int)t->pid,
			    t->comm, t->map_hi - t->map_lo);
	return 0;
}

/*
 * Read n words at addr, addr + step, ... of the target into out: one
 * process_vm_readv per IOV_BATCH words.  0, or -1 with errno (EFAULT for
 * a word that is not mapped: the kernel stops at the first).
 */
static int read_words(pid_t pid, uint64_t addr, uint64_t step, uint32_t n,
		      uint64_t *out)
{
	struct iovec local, remote[IOV_BATCH];

	for (uint32_t i = 0; i < n;) {
		uint32_t k = n - i < IOV_BATCH ? n - i : IOV_BATCH;
		ssize_t got;

		for (uint32_t j = 0; j < k; j++) {
			remote[j].iov_base = (void *)(uintptr_t)
					     (addr + (uint64_t)(i + j) * step);
			remote[j].iov_len = sizeof(uint64_t);
		}
		local.iov_base = out + i;
		local.iov_len = (size_t)k * sizeof(uint64_t);
		got = process_vm_readv(pid, &local, 1, remote, k, 0);
		if (got < 0)
			return -1;
		if ((size_t)got != local.iov_len) {
			errno = EFAULT;
			return -1;
		}
		i += k;
	}
	return 0;
}

static int read_mem(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (got < 0)
		return -1;
	if ((size_t)got != len) {
		errno = EFAULT;
		return -1;
	}
	return 0;
}

/* ---- one snapshot ---- */

/* A ring's control blocks, as read (struct pcpu_ring_ctl per buffer). */
struct ring_view {
	uint32_t nbufs, flags;
	uint64_t buf_size;
	struct pcpu_ring_ctl *ctl;
};

struct item {
	char name[PCPU_STAT_NAME_MAX];
	uint32_t kind;
	int32_t aux;		/* ring: the target's fd number of its memfd */
	uint64_t addr;
	int valid;
	char why[160];
	int64_t shared;		/* counter: the folded total */
	uint64_t total;		/* ulong: sum mod 2^64; counter: int64;
				 * ring: records dropped */
	uint64_t *vals;		/* nr_copies words */
	struct ring_view ring;
};

struct snap {
	struct pcpu_stat_table h;
	uint32_t n;
	struct item *items;
	uint64_t *words;	/* n * nr_copies */
	int invalid;		/* items that could not be read */
	double when;		/* CLOCK_MONOTONIC */
};

static void snap_free(struct snap *s)
{
	for (uint32_t i = 0; s->items && i < s->n; i++)
		free(s->items[i].ring.ctl);
	free(s->items);
	free(s->words);
	memset(s, 0, sizeof(*s));
}

static int is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* NUL-terminated within len, printable: the field is usable as is. */
static int field_ok(const char *f, size_t len)
{
	size_t n = strnlen(f, len);

	if (n == len)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)f[i]))
			return 0;
	return 1;
}

static int name_ok(const char *name)
{
	size_t n = strnlen(name, PCPU_STAT_NAME_MAX);

	if (n == 0 || n == PCPU_STAT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) &&
		    !strchr("_.:/-", name[i]))
			return 0;
	return 1;
}

#define CORRUPT(t, ...)							\
	fail(EX_CORRUPT, "process %d (%s): corrupt " PCPU_STAT_MAP_NAME	\
	     " table: " __VA_ARGS__)

/* The header, checked.  Everything later relies on these checks. */
static int check_header(const struct target *t, const struct pcpu_stat_table *h)
{
	uint64_t map = t->map_hi - t->map_lo;
	int pid = (int)t->pid;
	const char *c = t->comm;

	if (h->magic != PCPU_STAT_MAGIC)
		return CORRUPT(t, "bad magic %#" PRIx64, pid, c, h->magic);
	if (h->version != PCPU_STAT_VERSION)
		return fail(EX_CORRUPT, "process %d (%s): table version %u, "
			    "this pcpu-stat (libpercpu %s) reads version %d: "
			    "use the pcpu-stat of the program's libpercpu",
			    pid, c, h->version, PCPU_VERSION_STRING,
			    PCPU_STAT_VERSION);
	if (h->header_size != sizeof(*h) ||
	    h->entry_size != sizeof(struct pcpu_stat_entry))
		return CORRUPT(t, "header size %u, entry size %u", pid, c,
			       h->header_size, h->entry_size);
	if ((uint64_t)h->capacity * h->entry_size + h->header_size > map)
		return CORRUPT(t, "capacity %u does not fit its %" PRIu64
			       "-byte mapping", pid, c, h->capacity, map);
	if (h->count > h->capacity)
		return CORRUPT(t, "%u entries, capacity %u", pid, c, h->count,
			       h->capacity);
	if (!is_pow2(h->stride) || h->stride < PCPU_MIN_STRIDE ||
	    h->stride > PCPU_MAX_STRIDE)
		return CORRUPT(t, "stride %" PRIu64, pid, c, h->stride);
	if (h->nr_copies < 1 || h->nr_copies > MAX_COPIES)
		return CORRUPT(t, "%u copies", pid, c, h->nr_copies);
	if (h->base & 4095 || h->base >= USER_TOP ||
	    h->nr_copies * h->stride > USER_TOP - h->base)
		return CORRUPT(t, "region at %#" PRIx64 ", %u copies of %"
			       PRIu64 " bytes", pid, c, h->base, h->nr_copies,
			       h->stride);
	if ((uint64_t)h->count * h->nr_copies > MAX_WORDS)
		return CORRUPT(t, "%u entries of %u copies: more than %" PRIu64
			       " values", pid, c, h->count, h->nr_copies,
			       MAX_WORDS);
	if (h->index != PCPU_INDEX_CPU && h->index != PCPU_INDEX_CID)
		return CORRUPT(t, "index source %u", pid, c, h->index);
	if (!field_ok(h->backend, sizeof(h->backend)) ||
	    !field_ok(h->lib_version, sizeof(h->lib_version)))
		return CORRUPT(t, "backend or version is not a string", pid, c);
	if (h->counter_size < 24 || h->counter_size > MAX_COUNTER ||
	    h->counter_deltas_off > h->counter_size - 8 ||
	    h->counter_batch_off > h->counter_size - 8 ||
	    h->counter_count_off > h->counter_size - 8 ||
	    (h->counter_deltas_off | h->counter_batch_off |
	     h->counter_count_off) & 7)
		return CORRUPT(t, "struct pcpu_counter layout (%u bytes; "
			       "offsets %u, %u, %u)", pid, c, h->counter_size,
			       h->counter_deltas_off, h->counter_batch_off,
			       h->counter_count_off);
	return 0;
}

/* A per-CPU handle of the region described by h: inside copy 0. */
static int handle_ok(const struct pcpu_stat_table *h, uint64_t a)
{
	return a >= h->base && a - h->base <= h->stride - 8 && !(a & 7);
}

/* The table's header and entries, consistent (same even seq around). */
static int read_table(const struct target *t, struct snap *s)
{
	struct pcpu_stat_entry *e = NULL;
	uint32_t seq = 0;
	int ret;

	for (int tries = 0;; tries++) {
		struct pcpu_stat_table again;
		size_t len;

		if (tries >= SEQ_TRIES) {
			free(e);
			return CORRUPT(t, "its change count (%u) stays odd: a "
				       "change never completes", (int)t->pid,
				       t->comm, seq);
		}
		if (tries)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		if (read_mem(t->pid, t->map_lo, &s->h, sizeof(s->h))) {
			free(e);
			return access_error(t, errno, "cannot read its table");
		}
		/* The fields a change leaves alone first: a table that is
		 * not one is refused at once, not waited for. */
		ret = check_header(t, &s->h);
		if (ret) {
			free(e);
			return ret;
		}
		seq = s->h.seq;
		if (seq & 1)
			continue;
		len = (size_t)s->h.count * sizeof(*e);
		free(e);
		e = malloc(len ? len : 1);
		if (!e)
			return fail(EX_ERROR, "out of memory");
		if (len && read_mem(t->pid, t->map_lo + sizeof(s->h), e, len)) {
			free(e);
			return access_error(t, errno, "cannot read its table");
		}
		if (read_mem(t->pid, t->map_lo, &again, sizeof(again))) {
			free(e);
			return access_error(t, errno, "cannot read its table");
		}
		if (again.seq == seq)
			break;
	}
	s->n = s->h.count;
	s->items = calloc(s->n ? s->n : 1, sizeof(*s->items));
	s->words = calloc((size_t)s->n * s->h.nr_copies + 1, sizeof(uint64_t));
	if (!s->items || !s->words) {
		free(e);
		return fail(EX_ERROR, "out of memory");
	}
	for (uint32_t i = 0; i < s->n; i++) {
		struct item *it = &s->items[i];

		if (!name_ok(e[i].name)) {
			char bad[4 * PCPU_STAT_NAME_MAX + 1];

			escape(bad, sizeof(bad), e[i].name, sizeof(e[i].name));
			free(e);
			return CORRUPT(t, "entry %u: bad name \"%s\"",
				       (int)t->pid, t->comm, i, bad);
		}
		memcpy(it->name, e[i].name, sizeof(it->name));
		it->kind = e[i].kind;
		it->aux = e[i].aux;
		it->addr = e[i].addr;
		it->vals = s->words + (size_t)i * s->h.nr_copies;
		if (it->kind == PCPU_STAT_ULONG) {
			if (!handle_ok(&s->h, it->addr)) {
				free(e);
				return CORRUPT(t, "entry %s: %#" PRIx64 " is not "
					       "a handle of the region",
					       (int)t->pid, t->comm, it->name,
					       it->addr);
			}
		} else if (it->kind == PCPU_STAT_COUNTER ||
			   it->kind == PCPU_STAT_RING) {
			if (!it->addr || it->addr & 7 ||
			    it->addr >= USER_TOP - MAX_COUNTER) {
				free(e);
				return CORRUPT(t, "entry %s: %s address %#"
					       PRIx64, (int)t->pid, t->comm,
					       it->name, it->kind ==
					       PCPU_STAT_RING ? "ring" :
					       "counter", it->addr);
			}
		} else {
			free(e);
			return CORRUPT(t, "entry %s: unknown kind %u",
				       (int)t->pid, t->comm, it->name, it->kind);
		}
	}
	free(e);
	return 0;
}

static uint64_t word_at(const unsigned char *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/*
 * A ring: its shared header (checked as the ring's own reader checks it)
 * and its control blocks.  Nothing is written: pcpu-stat never consumes.
 */
static int read_ring(const struct target *t, struct item *it)
{
	struct pcpu_ring_shared sh;
	struct ring_view *v = &it->ring;
	uint64_t len;

	if (read_mem(t->pid, it->addr, &sh, sizeof(sh))) {
		if (errno != EFAULT)
			return access_error(t, errno, "cannot read a ring");
		snprintf(it->why, sizeof(it->why), "the ring at %#" PRIx64
			 " is not mapped (destroyed without pcpu_stat_remove()?)",
			 it->addr);
		return 0;
	}
	if (sh.magic != PCPU_RING_MAGIC) {
		snprintf(it->why, sizeof(it->why), "no ring at %#" PRIx64
			 " (bad magic)", it->addr);
		return 0;
	}
	if (sh.version != PCPU_RING_VERSION) {
		snprintf(it->why, sizeof(it->why), "ring format version %u, "
			 "this pcpu-stat reads %d", sh.version,
			 PCPU_RING_VERSION);
		return 0;
	}
	len = (uint64_t)sh.nbufs * sizeof(struct pcpu_ring_ctl);
	if (sh.nbufs < 1 || sh.nbufs > MAX_RING_BUFS || !is_pow2(sh.buf_size) ||
	    sh.buf_size > PCPU_RING_MAX_BUF || sh.ctl_off & 63 ||
	    sh.ctl_off < sizeof(sh) || sh.total_size > ((uint64_t)1 << 50) ||
	    sh.ctl_off > sh.total_size || len > sh.total_size - sh.ctl_off) {
		snprintf(it->why, sizeof(it->why), "the ring's header is "
			 "inconsistent (%u buffers of %" PRIu64 " bytes, "
			 "control at %" PRIu64 " of %" PRIu64 ")", sh.nbufs,
			 sh.buf_size, sh.ctl_off, sh.total_size);
		return 0;
	}
	free(v->ctl);
	v->ctl = malloc(len);
	if (!v->ctl)
		return fail(EX_ERROR, "out of memory");
	if (read_mem(t->pid, it->addr + sh.ctl_off, v->ctl, len)) {
		if (errno != EFAULT)
			return access_error(t, errno, "cannot read a ring");
		snprintf(it->why, sizeof(it->why), "the ring's control blocks "
			 "are not mapped");
		return 0;
	}
	v->nbufs = sh.nbufs;
	v->flags = sh.flags;
	v->buf_size = sh.buf_size;
	it->total = 0;
	for (uint32_t b = 0; b < v->nbufs; b++)
		it->total += v->ctl[b].discarded;
	it->valid = 1;
	return 0;
}

/* Bytes written to buffer b and not yet consumed (0 if the positions
 * make no sense: a hostile or damaged ring). */
static uint64_t ring_unread(const struct ring_view *v, uint32_t b)
{
	uint64_t w = v->ctl[b].wpos & ~(uint64_t)1, tail = v->ctl[b].tail;

	return w >= tail && w - tail <= v->buf_size ? w - tail : 0;
}

/* The values of one item; an item that cannot be read is marked. */
static int read_item(const struct target *t, const struct pcpu_stat_table *h,
		     struct item *it)
{
	uint64_t handle = it->addr, sum = 0;

	it->valid = 0;
	if (it->kind == PCPU_STAT_RING)
		return read_ring(t, it);
	if (it->kind == PCPU_STAT_COUNTER) {
		unsigned char c[MAX_COUNTER];
		int64_t batch;

		if (read_mem(t->pid, it->addr, c, h->counter_size)) {
			if (errno != EFAULT)
				return access_error(t, errno, "cannot read a "
						    "counter");
			snprintf(it->why, sizeof(it->why), "the counter at %#"
				 PRIx64 " is not mapped", it->addr);
			return 0;
		}
		handle = word_at(c, h->counter_deltas_off);
		batch = (int64_t)word_at(c, h->counter_batch_off);
		it->shared = (int64_t)word_at(c, h->counter_count_off);
		if (!handle_ok(h, handle) || batch < 1 || batch > INT32_MAX) {
			snprintf(it->why, sizeof(it->why), "the counter at %#"
				 PRIx64 " is not initialized (destroyed "
				 "without pcpu_stat_remove()?)", it->addr);
			return 0;
		}
	}
	if (read_words(t->pid, handle, h->stride, h->nr_copies, it->vals)) {
		if (errno != EFAULT)
			return access_error(t, errno, "cannot read its region");
		snprintf(it->why, sizeof(it->why), "its copies at %#" PRIx64
			 " are not mapped", handle);
		return 0;
	}
	for (uint32_t i = 0; i < h->nr_copies; i++)
		sum += it->vals[i];
	it->total = it->kind == PCPU_STAT_COUNTER ?
		    sum + (uint64_t)it->shared : sum;
	it->valid = 1;
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int snapshot(struct target *t, struct snap *s)
{
	int ret;

	for (int tries = 0; tries < SNAP_TRIES; tries++) {
		struct pcpu_stat_table again;

		snap_free(s);
		ret = find_table(t);
		if (!ret)
			ret = read_table(t, s);
		for (uint32_t i = 0; !ret && i < s->n; i++)
			ret = read_item(t, &s->h, &s->items[i]);
		if (ret)
			return ret;
		s->when = now();
		/* An entry removed while we read it: read all again. */
		if (read_mem(t->pid, t->map_lo, &again, sizeof(again)))
			return access_error(t, errno, "cannot read its table");
		if (again.seq != s->h.seq)
			continue;
		s->invalid = 0;
		for (uint32_t i = 0; i < s->n; i++)
			s->invalid += !s->items[i].valid;
		return 0;
	}
	return CORRUPT(t, "it changed during each of %d snapshots",
		       (int)t->pid, t->comm, SNAP_TRIES);
}

/* ---- output ---- */

/* Totals of the previous snapshot, for rates (refresh mode). */
static struct prev {
	char name[PCPU_STAT_NAME_MAX];
	uint64_t total;
} *prev;
static uint32_t nprev;
static double prev_when;

static int prev_total(const char *name, uint64_t *total)
{
	for (uint32_t i = 0; i < nprev; i++)
		if (!strcmp(prev[i].name, name)) {
			*total = prev[i].total;
			return 1;
		}
	return 0;
}

static void keep_prev(const struct snap *s)
{
	free(prev);
	nprev = 0;
	prev = calloc(s->n ? s->n : 1, sizeof(*prev));
	if (!prev)
		return;
	for (uint32_t i = 0; i < s->n; i++) {
		if (!s->items[i].valid)
			continue;
		memcpy(prev[nprev].name, s->items[i].name, sizeof(prev->name));
		prev[nprev++].total = s->items[i].total;
	}
	prev_when = s->when;
}

static void fmt_val(char *b, size_t len, const struct item *it, uint64_t v)
{
	if (it->kind == PCPU_STAT_COUNTER)
		snprintf(b, len, "%" PRId64, (int64_t)v);
	else
		snprintf(b, len, "%" PRIu64, v);
}

static void copy_label(char *b, size_t len, const struct snap *s, uint32_t i)
{
	if (i == s->h.nr_copies - 1)
		snprintf(b, len, "spare");
	else
		snprintf(b, len, "%s%u",
			 s->h.index == PCPU_INDEX_CID ? "cid" : "cpu", i);
}

/* A ring: one line per buffer that was ever written (all with -a). */
static void print_ring_text(const struct snap *s, const struct item *it)
{
	const struct ring_view *v = &it->ring;
	char b[32];

	if (it->kind != PCPU_STAT_RING)
		return;
	if (!it->valid) {
		printf("ring %s: invalid: %s\n", it->name, it->why);
		return;
	}
	printf("ring %s: %s mode, %u buffers of %" PRIu64 " KiB, %" PRIu64
	       " records dropped\n", it->name,
	       v->flags & PCPU_RING_OVERWRITE ? "overwrite" : "discard",
	       v->nbufs, v->buf_size >> 10, it->total);
	printf("  %-6s %16s %16s %10s %12s%s\n", "BUF", "WRITTEN", "READ",
	       "UNREAD", "DROPPED",
	       v->flags & PCPU_RING_OVERWRITE ? "      RECORDS" : "");
	for (uint32_t c = 0; c < v->nbufs; c++) {
		const struct pcpu_ring_ctl *x = &v->ctl[c];

		if (!opt.all && !x->wpos && !x->discarded)
			continue;
		if (c == v->nbufs - 1 && v->nbufs == s->h.nr_copies)
			snprintf(b, sizeof(b), "spare");
		else
			snprintf(b, sizeof(b), "%s%u", s->h.index ==
				 PCPU_INDEX_CID ? "cid" : "cpu", c);
		printf("  %-6s %16" PRIu64 " %16" PRIu64 " %10" PRIu64 " %12"
		       PRIu64, b, x->wpos & ~(uint64_t)1, x->tail,
		       ring_unread(v, c), x->discarded);
		if (v->flags & PCPU_RING_OVERWRITE)
			printf(" %12" PRIu64, x->written + x->written_remote);
		printf("\n");
	}
}

static void print_text(const struct target *t, const struct snap *s)
{
	unsigned char *show = calloc(s->h.nr_copies, 1);
	size_t namew = 4, w = 5;
	char b[32];
	int rates = opt.refresh && nprev;

	if (!show)
		return;
	for (uint32_t c = 0; c < s->h.nr_copies; c++)
		for (uint32_t i = 0; i < s->n; i++)
			if (opt.all || (s->items[i].valid &&
					s->items[i].kind != PCPU_STAT_RING &&
					s->items[i].vals[c]))
				show[c] = 1;
	for (uint32_t i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];

		if (it->kind == PCPU_STAT_RING)
			continue;
		if (strlen(it->name) > namew)
			namew = strlen(it->name);
		if (!it->valid)
			continue;
		fmt_val(b, sizeof(b), it, it->total);
		if (strlen(b) > w)
			w = strlen(b);
		for (uint32_t c = 0; c < s->h.nr_copies; c++) {
			fmt_val(b, sizeof(b), it, it->vals[c]);
			if (show[c] && strlen(b) > w)
				w = strlen(b);
		}
	}
	printf("pid %d (%s): libpercpu %s, backend %s, %u copies of %" PRIu64
	       " KiB, %u entries\n", (int)t->pid, t->comm, s->h.lib_version,
	       s->h.backend, s->h.nr_copies, s->h.stride >> 10, s->n);
	printf("%-*s %*s", (int)namew, "NAME", (int)w, "TOTAL");
	if (rates)
		printf(" %12s", "RATE/s");
	for (uint32_t c = 0; c < s->h.nr_copies; c++) {
		if (!show[c])
			continue;
		copy_label(b, sizeof(b), s, c);
		printf(" %*s", (int)w, b);
	}
	printf("\n");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];
		uint64_t p;

		if (it->kind == PCPU_STAT_RING)
			continue;
		printf("%-*s ", (int)namew, it->name);
		if (!it->valid) {
			printf("invalid: %s\n", it->why);
			continue;
		}
		fmt_val(b, sizeof(b), it, it->total);
		printf("%*s", (int)w, b);
		if (rates) {
			if (prev_total(it->name, &p) && s->when > prev_when)
				printf(" %12.1f", (double)(int64_t)(it->total - p) /
				       (s->when - prev_when));
			else
				printf(" %12s", "-");
		}
		for (uint32_t c = 0; c < s->h.nr_copies; c++) {
			if (!show[c])
				continue;
			fmt_val(b, sizeof(b), it, it->vals[c]);
			printf(" %*s", (int)w, b);
		}
		if (it->kind == PCPU_STAT_COUNTER)
			printf("  (counter: %" PRId64 " folded)", it->shared);
		printf("\n");
	}
	free(show);
	for (uint32_t i = 0; i < s->n; i++)
		print_ring_text(s, &s->items[i]);
}

/* A JSON string: names are checked, comm and why are escaped already;
 * quote and backslash still need escaping. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct target *t, const struct snap *s)
{
	struct timespec wall;

	clock_gettime(CLOCK_REALTIME, &wall);
	printf("{\"pid\":%d,\"comm\":", (int)t->pid);
	json_str(t->comm);
	printf(",\"time\":%lld.%03ld,\"version\":", (long long)wall.tv_sec,
	       wall.tv_nsec / 1000000);
	json_str(s->h.lib_version);
	printf(",\"backend\":");
	json_str(s->h.backend);
	printf(",\"index\":\"%s\",\"copies\":%u,\"stride\":%" PRIu64
	       ",\"entries\":[", s->h.index == PCPU_INDEX_CID ? "cid" : "cpu",
	       s->h.nr_copies, s->h.stride);
	for (uint32_t i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];
		char b[32];

		printf("%s{\"name\":", i ? "," : "");
		json_str(it->name);
		printf(",\"kind\":\"%s\"",
		       it->kind == PCPU_STAT_COUNTER ? "counter" :
		       it->kind == PCPU_STAT_RING ? "ring" : "ulong");
		if (!it->valid) {
			printf(",\"error\":");
			json_str(it->why);
			printf("}");
			continue;
		}
		if (it->kind == PCPU_STAT_RING) {
			const struct ring_view *v = &it->ring;

			printf(",\"mode\":\"%s\",\"buf_size\":%" PRIu64
			       ",\"dropped\":%" PRIu64 ",\"buffers\":[",
			       v->flags & PCPU_RING_OVERWRITE ? "overwrite" :
			       "discard", v->buf_size, it->total);
			/* written, read, unread: bytes of the buffer's
			 * stream (positions), not records.  records: only
			 * overwrite mode counts them (the writers' words);
			 * in discard mode nobody does, so null, not 0. */
			for (uint32_t c = 0; c < v->nbufs; c++) {
				printf("%s{\"written\":%" PRIu64 ",\"read\":%"
				       PRIu64 ",\"unread\":%" PRIu64
				       ",\"dropped\":%" PRIu64 ",\"records\":",
				       c ? "," : "",
				       v->ctl[c].wpos & ~(uint64_t)1,
				       v->ctl[c].tail, ring_unread(v, c),
				       v->ctl[c].discarded);
				if (v->flags & PCPU_RING_OVERWRITE)
					printf("%" PRIu64 "}", v->ctl[c].written +
					       v->ctl[c].written_remote);
				else
					printf("null}");
			}
			printf("]}");
			continue;
		}
		fmt_val(b, sizeof(b), it, it->total);
		printf(",\"total\":%s", b);
		if (it->kind == PCPU_STAT_COUNTER)
			printf(",\"folded\":%" PRId64, it->shared);
		printf(",\"per_copy\":[");
		for (uint32_t c = 0; c < s->h.nr_copies; c++) {
			fmt_val(b, sizeof(b), it, it->vals[c]);
			printf("%s%s", c ? "," : "", b);
		}
		printf("]}");
	}
	printf("]}\n");
}

/* ---- tailing a ring ----
 *
 * pcpu-stat becomes the ring's consumer: it takes the ring's memfd from
 * the target (pidfd_getfd(2), which needs the same ptrace right as the
 * reads above), checks that it is the file mapped where the table says
 * the ring is, and opens the library's own reader on it, which checks
 * the seals and treats every word in the mapping as hostile.  Records
 * read are consumed: the program's writers reuse their space.
 */

#define TAIL_BATCH	512		/* records per pcpu_ring_read_batch */
#define TAIL_SLICE_NS	100000000	/* longest sleep: then look at the
					 * process and the signals again */
#define TAIL_WAKE_BYTES	65536		/* writers wake us once a buffer has
					 * this much (at most a quarter of
					 * it); smaller amounts are picked up
					 * at the end of a slice.  Each sleep
					 * costs the writers' CPUs a membarrier
					 * IPI and one of them a wake-up call:
					 * 4 KiB cost a busy writer 40 ns per
					 * record, see the man page */
#define TAIL_PROBE_NS	100000000	/* watch the tails before reading */
/* After the process exits: read on while something is left unread, for
 * up to the reader's wait at a pending reservation (and some) after the
 * last progress, and TAIL_DRAIN_MAX_S in all: a dead writer's ring can
 * hold a chain of pending reservations, each waited out in turn. */
#define TAIL_DRAIN_S	(PCPU_RING_STUCK_NS / 1e9 + 0.5)
#define TAIL_DRAIN_MAX_S 10.0

static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
	stop_sig = sig;
}

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

/* Has the process behind pidfd exited?  (A pidfd polls readable then.) */
static int gone(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	return poll(&p, 1, 0) > 0;
}

/*
 * Is fd the file mapped at addr in the target, from offset 0?  Compared
 * by device and inode with the mapping's line in /proc/PID/maps: the fd
 * number in the table is only the target's word, and the target may have
 * closed it and opened something else under that number since.
 */
static int same_file(const struct target *t, uint64_t addr, int fd,
		     const char *name, int tfd)
{
	char path[64], line[4096];
	struct stat st;
	FILE *f;
	int found = 0;
	unsigned long long lo = 0, off = 0, ino = 0;
	unsigned int maj = 0, min = 0;

	if (fstat(fd, &st))
		return fail(EX_ERROR, "fstat: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	f = fopen(path, "re");
	if (!f)
		return access_error(t, errno, "cannot open its maps");
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		if (n && line[n - 1] != '\n') {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
		if (sscanf(line, "%llx-%*x %*4s %llx %x:%x %llu", &lo, &off,
			   &maj, &min, &ino) == 5 && lo == addr) {
			found = 1;
			break;
		}
	}
	fclose(f);
	if (!found)
		return fail(EX_CORRUPT, "process %d (%s): ring %s: nothing is "
			    "mapped at %#" PRIx64 ", where its table says the "
			    "ring is", (int)t->pid, t->comm, name, addr);
	if (off || maj != major(st.st_dev) || min != minor(st.st_dev) ||
	    ino != (unsigned long long)st.st_ino)
		return fail(EX_CORRUPT, "process %d (%s): ring %s: its fd %d "
			    "is not the ring's memfd (the mapping at %#" PRIx64
			    " is %02x:%02x inode %llu offset %llu; fd %d is "
			    "%02x:%02x inode %llu): refused", (int)t->pid,
			    t->comm, name, tfd, addr, maj, min, ino, off, tfd,
			    major(st.st_dev), minor(st.st_dev),
			    (unsigned long long)st.st_ino);
	return 0;
}

/*
 * Our own read-only view of the ring's control blocks and wake-up word,
 * to see whether another consumer moves the tails: the reader's state is
 * private.  The file's size is sealed (the reader checked), so a mapping
 * within it stays backed.
 */
struct watch {
	const struct pcpu_ring_shared *sh;
	const struct pcpu_ring_ctl *ctl;
	void *map;
	size_t len;
	uint32_t nbufs;
	uint64_t *tails;	/* as last seen */
};

static void watch_open(struct watch *w, int fd)
{
	struct pcpu_ring_shared sh;
	struct stat st;
	uint64_t len;

	memset(w, 0, sizeof(*w));
	if (fstat(fd, &st) ||
	    pread(fd, &sh, sizeof(sh), 0) != (ssize_t)sizeof(sh))
		return;
	len = sh.ctl_off + (uint64_t)sh.nbufs * sizeof(struct pcpu_ring_ctl);
	if (sh.nbufs < 1 || sh.nbufs > MAX_RING_BUFS || sh.ctl_off & 63 ||
	    sh.ctl_off < sizeof(sh) || sh.ctl_off > (uint64_t)st.st_size ||
	    len > (uint64_t)st.st_size)
		return;
	w->tails = calloc(sh.nbufs, sizeof(*w->tails));
	if (!w->tails)
		return;
	w->map = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, 0);
	if (w->map == MAP_FAILED) {
		free(w->tails);
		memset(w, 0, sizeof(*w));
		return;
	}
	w->len = (size_t)len;
	w->sh = w->map;
	w->ctl = (const void *)((const char *)w->map + sh.ctl_off);
	w->nbufs = sh.nbufs;
}

/* Remember the tails; returns how many moved since the last look, and
 * whether one went backwards (two consumers publishing in turn). */
static uint32_t watch_look(struct watch *w, int *back)
{
	uint32_t moved = 0;

	*back = 0;
	for (uint32_t c = 0; c < w->nbufs; c++) {
		uint64_t v = __atomic_load_n(&w->ctl[c].tail, __ATOMIC_RELAXED);

		if (v != w->tails[c]) {
			moved++;
			*back |= v < w->tails[c];
		}
		w->tails[c] = v;
	}
	return moved;
}

/*
 * Has our reader read all there is: every buffer's published tail at its
 * wpos?  (The reader publishes whenever it has read everything; one
 * stopped at a pending reservation has not.)  Words of a process that
 * may be hostile: only ever a reason to end sooner or later, within the
 * caller's bound.  Without the mapping: not known, so no.
 */
static int watch_drained(const struct watch *w)
{
	if (!w->map)
		return 0;
	for (uint32_t c = 0; c < w->nbufs; c++)
		if (__atomic_load_n(&w->ctl[c].tail, __ATOMIC_RELAXED) <
		    (__atomic_load_n(&w->ctl[c].wpos, __ATOMIC_RELAXED) &
		     ~(uint64_t)7))
			return 0;
	return 1;
}

static void watch_close(struct watch *w)
{
	if (w->map)
		munmap(w->map, w->len);
	free(w->tails);
	memset(w, 0, sizeof(*w));
}

struct tail {
	const struct target *t;
	const struct snap *s;
	struct pcpu_ring_reader rd;
	uint32_t nbufs;
	long shown;
	struct pcpu_ring_stats *seen;	/* per buffer: counts noted */
	int foreign;			/* warned about another consumer */
	int out_err;			/* stdout failed (closed pipe) */
};

static void buf_label(char *b, size_t len, const struct tail *tl, uint32_t c)
{
	if (c == tl->nbufs - 1 && tl->nbufs == tl->s->h.nr_copies)
		snprintf(b, len, "spare");
	else
		snprintf(b, len, "%s%u", tl->s->h.index == PCPU_INDEX_CID ?
			 "cid" : "cpu", c);
}

/* Text when at most a quarter of the bytes are not printable ASCII (tab,
 * newline and carriage return count as printable): a string with a NUL
 * at its end or an odd byte stays readable, a binary struct does not. */
static int mostly_text(const unsigned char *p, uint32_t len)
{
	uint32_t bad = 0;

	for (uint32_t i = 0; i < len; i++)
		bad += !((p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t' ||
			 p[i] == '\n' || p[i] == '\r');
	return len && bad * 4 <= len;
}

static void put_payload(const unsigned char *p, uint32_t len)
{
	if (!opt.hex && mostly_text(p, len)) {
		putchar('"');
		for (uint32_t i = 0; i < len; i++) {
			unsigned char c = p[i];

			if (c == '"' || c == '\\')
				printf("\\%c", c);
			else if (c == '\n')
				fputs("\\n", stdout);
			else if (c == '\t')
				fputs("\\t", stdout);
			else if (c == '\r')
				fputs("\\r", stdout);
			else if (c >= 0x20 && c < 0x7f)
				putchar(c);
			else
				printf("\\x%02x", c);
		}
		putchar('"');
		return;
	}
	fputs("hex ", stdout);
	/* A digit table, not a printf per byte: a tail prints every
	 * record the writers make, and falls behind if it is slow. */
	for (uint32_t i = 0; i < len; i++) {
		putchar("0123456789abcdef"[p[i] >> 4]);
		putchar("0123456789abcdef"[p[i] & 15]);
	}
	if (!len)
		fputs("-", stdout);
}

/* One record: buffer, timestamp, length, payload. */
static int tail_record(void *arg, const struct pcpu_ring_entry *e,
		       const void *data)
{
	struct tail *tl = arg;
	char b[32];

	buf_label(b, sizeof(b), tl, e->cpu);
	printf("%-6s %20" PRIu64 " %5u ", b, e->stamp, e->len);
	put_payload(data, e->len);
	putchar('\n');
	tl->shown++;
	return opt.count && tl->shown >= opt.count;
}

/* What the reader counted since the last note, per buffer and kind: a
 * line each on stdout, in the stream where it happened. */
static void tail_notes(struct tail *tl)
{
	for (uint32_t c = 0; c < tl->nbufs; c++) {
		struct pcpu_ring_stats st, *o = &tl->seen[c];
		char b[32];

		if (pcpu_ring_reader_stats(&tl->rd, c, &st))
			continue;
		buf_label(b, sizeof(b), tl, c);
		if (st.discarded > o->discarded)
			printf("note: %s: %" PRIu64 " records dropped by the "
			       "writers (buffer full)\n", b,
			       st.discarded - o->discarded);
		/* Not overwritten: the reader's count is written - consumed,
		 * which includes what is still unread until the writers are
		 * quiet and the reader has drained; the summary says it. */
		if (st.corrupt > o->corrupt)
			printf("note: %s: %" PRIu64 " damaged regions skipped "
			       "(corrupt), %" PRIu64 " in all\n", b,
			       st.corrupt - o->corrupt, st.corrupt);
		if (st.abandoned > o->abandoned)
			printf("note: %s: %" PRIu64 " reservations never "
			       "committed skipped (abandoned), %" PRIu64
			       " in all\n", b, st.abandoned - o->abandoned,
			       st.abandoned);
		/* Discards only grow; a hostile writer that lowers them
		 * gets no negative note, and the baseline follows. */
		o->discarded = st.discarded;
		o->corrupt = st.corrupt;
		o->abandoned = st.abandoned;
	}
}

static void warn_foreign(struct tail *tl, const char *how)
{
	if (tl->foreign)
		return;
	tl->foreign = 1;
	fprintf(stderr, "pcpu-stat: warning: another consumer reads ring %s "
		"of process %d (%s): %s.  Each reader has its own position "
		"and the writers follow whichever published last: records "
		"may be shown twice, or lost to either; stop one of them\n",
		opt.tail,
		(int)tl->t->pid, tl->t->comm, how);
}

/* The ring named opt.tail in snapshot s, its memfd taken and checked. */
static int tail_open_fd(const struct target *t, const struct snap *s,
			int pidfd, int *fdp, const struct item **itp)
{
	const struct item *it = NULL;
	char rings[256] = "";
	int fd;

	for (uint32_t i = 0; i < s->n; i++) {
		if (s->items[i].kind != PCPU_STAT_RING)
			continue;
		if (!strcmp(s->items[i].name, opt.tail))
			it = &s->items[i];
		else if (strlen(rings) + strlen(s->items[i].name) + 3 <
			 sizeof(rings))
			snprintf(rings + strlen(rings), sizeof(rings) -
				 strlen(rings), "%s%s", *rings ? ", " : "",
				 s->items[i].name);
	}
	if (!it)
		return fail(EX_NOTFOUND, "process %d (%s) has no ring named "
			    "%s (%s%s)", (int)t->pid, t->comm, opt.tail,
			    *rings ? "its rings: " : "it registered no ring",
			    rings);
	if (!it->valid)
		return fail(EX_CORRUPT, "process %d (%s): ring %s is invalid: "
			    "%s", (int)t->pid, t->comm, it->name, it->why);
	if (it->aux < 0)
		return fail(EX_ERROR, "process %d (%s): ring %s has no memfd "
			    "(memfd_create() was refused in the program, so "
			    "the ring is an anonymous mapping only it and its "
			    "children share): it cannot be tailed from "
			    "outside", (int)t->pid, t->comm, it->name);
	fd = sys_pidfd_getfd(pidfd, it->aux);
	if (fd < 0) {
		if (errno == EBADF)
			return fail(EX_CORRUPT, "process %d (%s): ring %s: its "
				    "fd %d is not open", (int)t->pid, t->comm,
				    it->name, (int)it->aux);
		if (errno == ENOSYS)
			return fail(EX_ERROR, "pidfd_getfd: %s (Linux 5.6 or "
				    "later is needed to tail a ring)",
				    strerror(errno));
		return access_error(t, errno, "pidfd_getfd of its ring's memfd");
	}
	*fdp = fd;
	*itp = it;
	return same_file(t, it->addr, fd, it->name, (int)it->aux);
}

/*
 * Tail ring opt.tail of t: print its records until -n COUNT records,
 * --timeout without a record, a signal, or the process's exit.
 */
static int tail_ring(struct target *t)
{
	struct snap s;
	struct tail tl;
	struct watch w;
	const struct item *it = NULL;
	struct sigaction sa;
	int pidfd, fd = -1, ret, back, exited = 0;
	double last = now(), exit_at = 0, drain_end = 0;
	size_t wake_bytes = TAIL_WAKE_BYTES;

	memset(&s, 0, sizeof(s));
	memset(&tl, 0, sizeof(tl));
	memset(&w, 0, sizeof(w));
	/* The pidfd first: the process we read below is then the one we
	 * watch (a PID reused after an exit would not be). */
	pidfd = sys_pidfd_open(t->pid);
	if (pidfd < 0) {
		if (errno == ENOSYS)
			return fail(EX_ERROR, "pidfd_open: %s (Linux 5.3 or "
				    "later is needed to tail a ring)",
				    strerror(errno));
		return access_error(t, errno, "pidfd_open");
	}
	ret = snapshot(t, &s);
	if (!ret)
		ret = tail_open_fd(t, &s, pidfd, &fd, &it);
	if (ret)
		goto out;
	if (pcpu_ring_reader_open_fd(&tl.rd, fd)) {
		int err = errno;

		ret = fail(err == ENOMEM || err == EINVAL ? EX_ERROR :
			   EX_CORRUPT, "process %d (%s): ring %s: %s", (int)t->pid,
			   t->comm, opt.tail, err == EPERM ? "its memfd's size "
			   "is not sealed (a writer could truncate it under the "
			   "reader): refused" : err == EBADMSG ? "not a ring, "
			   "or its geometry is inconsistent" : strerror(err));
		goto out;
	}
	tl.t = t;
	tl.s = &s;
	tl.nbufs = pcpu_ring_reader_nbufs(&tl.rd);
	/* Per buffer: what was noted, then the counts at the start. */
	tl.seen = calloc((size_t)tl.nbufs * 2, sizeof(*tl.seen));
	if (!tl.seen) {
		ret = fail(EX_ERROR, "out of memory");
		goto out;
	}
	for (uint32_t c = 0; c < tl.nbufs; c++) {
		pcpu_ring_reader_stats(&tl.rd, c, &tl.seen[c]);
		tl.seen[tl.nbufs + c] = tl.seen[c];
	}
	watch_open(&w, fd);
	/* A quarter of a buffer at most, so that a small ring wakes us well
	 * before it is full (the geometry as the table's entry showed it;
	 * only a hint, the reader checks its own). */
	if (it->ring.buf_size / 4 < wake_bytes)
		wake_bytes = it->ring.buf_size / 4 ? it->ring.buf_size / 4 : 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: the wait ends */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	fprintf(stderr, "pcpu-stat: tailing ring %s of process %d (%s): %u "
		"buffers; its records are consumed\n", opt.tail, (int)t->pid,
		t->comm, tl.nbufs);
	/* Another consumer: one asleep now, or tails that move while we
	 * look without reading. */
	if (w.map) {
		if (__atomic_load_n(&w.sh->wake.waiters, __ATOMIC_RELAXED))
			warn_foreign(&tl, "one is asleep in pcpu_ring_wait()");
		watch_look(&w, &back);
		nanosleep(&(struct timespec){ 0, TAIL_PROBE_NS }, NULL);
		if (watch_look(&w, &back))
			warn_foreign(&tl, "the ring's tail moved while "
				     "pcpu-stat was not reading");
	}
	ret = EX_SHOWN;
	while (!stop_sig && !tl.out_err) {
		long want = opt.count ? opt.count - tl.shown : TAIL_BATCH;
		int n;

		/* Between our reader's calls only another consumer moves
		 * the tails. */
		if (w.map && watch_look(&w, &back))
			warn_foreign(&tl, back ? "the ring's tail went "
				     "backwards" : "the ring's tail moved "
				     "while pcpu-stat was not reading");
		n = pcpu_ring_read_batch(&tl.rd, tail_record, &tl,
					 want < TAIL_BATCH ? (unsigned)want :
					 TAIL_BATCH);
		if (w.map)
			watch_look(&w, &back);
		if (n < 0) {
			ret = fail(EX_ERROR, "pcpu_ring_read_batch: %s",
				   strerror(errno));
			break;
		}
		tail_notes(&tl);
		if (fflush(stdout) || ferror(stdout))
			tl.out_err = 1;
		if (opt.count && tl.shown >= opt.count)
			break;
		if (n > 0) {
			last = now();
			if (exited)	/* the bound restarts at progress */
				drain_end = last + TAIL_DRAIN_S;
			continue;
		}
		/* Nothing now.  A process that exited writes no more: what
		 * it wrote before was read above (its ring stays mapped
		 * here), so the tail ends. */
		/* A batch of none may only mean that the reader's bounded
		 * work ran out (padding, damage): end only when there is
		 * nothing to read at all. */
		if (exited && pcpu_ring_wait(&tl.rd, 0, 0) == 1)
			continue;
		/* But "none now" is also what the reader says while it
		 * waits out PCPU_RING_STUCK_NS at a reservation the process
		 * left pending, with committed records behind it: until
		 * everything is read, wait for that to run out (the wait
		 * ends when it does), at most TAIL_DRAIN_S after the last
		 * progress and TAIL_DRAIN_MAX_S after the exit. */
		if (exited && !watch_drained(&w) && now() < drain_end &&
		    now() < exit_at + TAIL_DRAIN_MAX_S) {
			if (pcpu_ring_wait(&tl.rd, 0, TAIL_SLICE_NS) < 0 &&
			    errno != EINTR) {
				ret = fail(EX_ERROR, "pcpu_ring_wait: %s",
					   strerror(errno));
				break;
			}
			continue;
		}
		if (exited) {
			ret = fail(EX_NOTFOUND, "process %d (%s) has exited",
				   (int)t->pid, t->comm);
			break;
		}
		if (gone(pidfd)) {
			exited = 1;	/* read what is left, then end */
			exit_at = now();
			drain_end = exit_at + TAIL_DRAIN_S;
			continue;
		}
		if (opt.timeout > 0 && now() - last >= opt.timeout)
			break;
		if (pcpu_ring_wait(&tl.rd, wake_bytes, TAIL_SLICE_NS) < 0 &&
		    errno != EINTR) {
			ret = fail(EX_ERROR, "pcpu_ring_wait: %s",
				   strerror(errno));
			break;
		}
		if (w.map)
			watch_look(&w, &back);
	}
	tail_notes(&tl);
	fflush(stdout);
	{
		uint64_t lost = 0, damaged = 0, over = 0;

		for (uint32_t c = 0; c < tl.nbufs; c++) {
			struct pcpu_ring_stats st;

			if (pcpu_ring_reader_stats(&tl.rd, c, &st))
				continue;
			/* A writer's word: never a negative count. */
			if (st.discarded > tl.seen[tl.nbufs + c].discarded)
				lost += st.discarded -
					tl.seen[tl.nbufs + c].discarded;
			damaged += st.corrupt + st.abandoned;
			over += st.overwritten;
		}
		fprintf(stderr, "pcpu-stat: %ld records from ring %s%s; %"
			PRIu64 " dropped by the writers meanwhile, %" PRIu64
			" damaged or abandoned skipped", tl.shown, opt.tail,
			stop_sig ? " (interrupted)" : tl.out_err ?
			" (output closed)" : "", lost, damaged);
		if (it && it->ring.flags & PCPU_RING_OVERWRITE)
			fprintf(stderr, "; overwrite mode: %" PRIu64 " records "
				"written and not read in the ring's life "
				"(overwritten; exact once its writers are "
				"quiet)", over);
		fputc('\n', stderr);
	}
out:
	/* Closing publishes our positions: the next reader starts there. */
	pcpu_ring_reader_close(&tl.rd);
	watch_close(&w);
	free(tl.seen);
	if (fd >= 0)
		close(fd);
	close(pidfd);
	snap_free(&s);
	return ret;
}

/* ---- finding the process ---- */

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Does process pid go by name: its comm, or its argv[0]'s last part? */
static int named(pid_t pid, const char *name)
{
	char buf[4096], *base;
	ssize_t n = read_proc(pid, "comm", buf, 64);

	if (n > 0) {
		if (buf[n - 1] == '\n')
			buf[--n] = 0;
		/* comm keeps 15 bytes of the name. */
		if (!strcmp(buf, name) ||
		    (n == 15 && !strncmp(buf, name, 15)))
			return 1;
	}
	n = read_proc(pid, "cmdline", buf, sizeof(buf));
	if (n <= 0)
		return 0;
	base = strrchr(buf, '/');
	return !strcmp(base ? base + 1 : buf, name);
}

static int find_by_name(const char *name, struct target *t)
{
	pid_t found[MAX_MATCHES];
	int n = 0;
	char list[MAX_MATCHES * 12] = "";
	struct dirent *d;
	DIR *dir = opendir("/proc");

	if (!dir)
		return fail(EX_ERROR, "cannot open /proc: %s", strerror(errno));
	while ((d = readdir(dir)) && n < MAX_MATCHES) {
		long pid;

		if (!all_digits(d->d_name))
			continue;
		pid = strtol(d->d_name, NULL, 10);
		if (pid <= 0 || pid > INT_MAX || pid == getpid())
			continue;
		if (named((pid_t)pid, name))
			found[n++] = (pid_t)pid;
	}
	closedir(dir);
	if (!n)
		return fail(EX_NOTFOUND, "no process named %s", name);
	if (n > 1) {
		for (int i = 0; i < n; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 " %d", (int)found[i]);
		return fail(EX_NOTFOUND, "%d processes are named %s:%s; give a "
			    "PID", n, name, list);
	}
	t->pid = found[0];
	return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pcpu-stat [--json] [-a] [-i SECONDS [-n COUNT]] PID|NAME\n"
		"       pcpu-stat -T RING [-n COUNT] [-t SECONDS] [-x] PID|NAME\n"
		"Show the per-CPU counters and rings a running program registered\n"
		"with pcpu_stat_counter(), pcpu_stat_ulong() or pcpu_stat_ring():\n"
		"counters per CPU and summed, rings per buffer; or tail a ring.\n"
		"  -i, --interval SECONDS  refresh every SECONDS (like top)\n"
		"  -n, --count COUNT       with -i: stop after COUNT snapshots;\n"
		"                          with -T: after COUNT records\n"
		"  -j, --json              one JSON object per snapshot\n"
		"  -a, --all               every copy, not only those in use\n"
		"  -T, --tail RING         print RING's records as they come, one\n"
		"                          a line; CONSUMES them (as its reader)\n"
		"  -t, --timeout SECONDS   with -T: end after SECONDS without one\n"
		"  -x, --hex               with -T: every payload in hex\n"
		"  -V, --version           print the version\n"
		"Exit: 0 shown, 1 error, 2 not found, not opted in or exited, 3\n"
		"not allowed (ptrace rights), 4 invalid table or ring.  See\n"
		"pcpu-stat(1).\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "tail", required_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, 't' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct target t;
	struct snap s;
	int c, ret;
	char *end;

	memset(&t, 0, sizeof(t));
	memset(&s, 0, sizeof(s));
	while ((c = getopt_long(argc, argv, "i:n:jaT:t:xhV", lopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			opt.interval = strtod(optarg, &end);
			if (*end || !(opt.interval > 0) || opt.interval > 86400) {
				fprintf(stderr, "pcpu-stat: -i %s: seconds, "
					"more than 0, at most 86400\n", optarg);
				return EX_ERROR;
			}
			opt.refresh = 1;
			break;
		case 'n':
			opt.count = strtol(optarg, &end, 10);
			if (*end || opt.count < 1) {
				fprintf(stderr, "pcpu-stat: -n %s: a count "
					"of 1 or more\n", optarg);
				return EX_ERROR;
			}
			break;
		case 'j':
			opt.json = 1;
			break;
		case 'a':
			opt.all = 1;
			break;
		case 'T':
			if (!name_ok(optarg)) {
				fprintf(stderr, "pcpu-stat: --tail %s: not a "
					"name pcpu_stat_ring() takes\n", optarg);
				return EX_ERROR;
			}
			opt.tail = optarg;
			break;
		case 't':
			opt.timeout = strtod(optarg, &end);
			if (*end || !(opt.timeout > 0) || opt.timeout > 86400) {
				fprintf(stderr, "pcpu-stat: -t %s: seconds, "
					"more than 0, at most 86400\n", optarg);
				return EX_ERROR;
			}
			break;
		case 'x':
			opt.hex = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_SHOWN;
		case 'V':
			printf("pcpu-stat (libpercpu) %s\n", PCPU_VERSION_STRING);
			return EX_SHOWN;
		default:
			usage(stderr);
			return EX_ERROR;
		}
	}
	if (optind != argc - 1 || (opt.tail && (opt.refresh || opt.json ||
						 opt.all)) ||
	    (!opt.tail && (opt.timeout > 0 || opt.hex))) {
		usage(stderr);
		return EX_ERROR;
	}
	if (all_digits(argv[optind])) {
		long pid = strtol(argv[optind], NULL, 10);

		if (pid <= 0 || pid > INT_MAX) {
			fprintf(stderr, "pcpu-stat: %s: not a PID\n",
				argv[optind]);
			return EX_ERROR;
		}
		t.pid = (pid_t)pid;
	} else if ((ret = find_by_name(argv[optind], &t))) {
		fprintf(stderr, "pcpu-stat: %s\n", msg);
		return ret;
	}
	read_comm(&t);
	if (opt.tail) {
		ret = tail_ring(&t);
		if (ret)
			fprintf(stderr, "pcpu-stat: %s\n", msg);
		return ret;
	}
	for (long n = 0;; n++) {
		ret = snapshot(&t, &s);
		if (ret) {
			fprintf(stderr, "pcpu-stat: %s\n", msg);
			break;
		}
		if (opt.json) {
			print_json(&t, &s);
		} else {
			if (opt.refresh && isatty(STDOUT_FILENO))
				fputs("\033[H\033[2J", stdout);
			print_text(&t, &s);
		}
		fflush(stdout);
		ret = s.invalid ? EX_CORRUPT : EX_SHOWN;
		if (!opt.refresh || (opt.count && n + 1 >= opt.count))
			break;
		keep_prev(&s);
		{
			struct timespec d = {
				(time_t)opt.interval,
				(long)((opt.interval - (double)(time_t)opt.interval) * 1e9)
			};

			while (nanosleep(&d, &d) && errno == EINTR)
				;
		}
	}
	snap_free(&s);
	free(prev);
	return ret;
}
