/* SPDX-License-Identifier: MIT */
/*
 * percpu/stat.h - named per-CPU data that pcpu-stat(1) can show while the
 * program runs.
 *
 * Opting in is one call per item:
 *
 *	pcpu_stat_counter("drops", &drops);	// struct pcpu_counter
 *	pcpu_stat_ulong("requests", requests);	// unsigned long __pcpu *
 *	pcpu_stat_ring("trace", ring);		// struct pcpu_ring
 *
 * and `pcpu-stat PID` (or the program's name) prints each counter per CPU
 * and summed, and each ring's per-buffer positions and losses, once or
 * refreshing, as text or JSON, without stopping the program.
 *
 * How it is found and read.  The first call maps a table (struct
 * pcpu_stat_table below) in a private anonymous mapping named
 * "libpercpu-stat" with prctl(PR_SET_VMA_ANON_NAME), so that it shows as
 * [anon:libpercpu-stat] in /proc/PID/maps; where the kernel lacks anonymous
 * VMA names (CONFIG_ANON_VMA_NAME), the table is a private mapping of a
 * memfd of that name instead (/memfd:libpercpu-stat in the maps).  Either
 * way it is MAP_PRIVATE, like the region: a child of fork() gets its own
 * copy of the table and of the data, and pcpu-stat on the child's PID
 * shows the child's counts.  The table holds the region's geometry, the
 * layout of struct pcpu_counter and one entry (name, kind, address) per
 * item; pcpu-stat reads it and the items' per-CPU copies with
 * process_vm_readv(2), which needs the right to ptrace the process (the
 * same user and a dumpable process, or CAP_SYS_PTRACE).  Nothing in the
 * program runs for it: no thread, no signal, no lock shared with the
 * reader.  The reader trusts nothing in the table (see pcpu-stat(1)).
 *
 * Consistency.  Each value is read as a whole word, but the copies of an
 * item are read one after the other while the program runs: a total is
 * what a pcpu_counter_sum() at the same moment would say, exact once the
 * writers are quiet.  Changes to the table (a register, a remove) are
 * published with a sequence count (odd while a change is written), so the
 * reader retries a snapshot that a change overlapped.
 *
 * An entry holds an address: remove it with pcpu_stat_remove() before the
 * counter is destroyed or the memory freed.  A stale entry cannot hurt
 * the program; pcpu-stat reports it as invalid.
 */
#ifndef PERCPU_STAT_H
#define PERCPU_STAT_H

#include <stdint.h>

#include "counter.h"
#include "ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the table, as pcpu-stat reads it (a layout shared across
 * processes: a change bumps PCPU_STAT_VERSION) ---- */

#define PCPU_STAT_MAGIC		UINT64_C(0x5441545355504350)	/* "PCPUSTAT" */
#define PCPU_STAT_VERSION	1
#define PCPU_STAT_MAP_NAME	"libpercpu-stat"
/* Bytes of a name, NUL included: 1..47 characters of [A-Za-z0-9_.:/-]. */
#define PCPU_STAT_NAME_MAX	48
/* Size of the table's mapping. */
#define PCPU_STAT_MAP_SIZE	((size_t)256 << 10)

enum pcpu_stat_kind {
	PCPU_STAT_ULONG = 1,	/* addr: an unsigned long __pcpu * handle */
	PCPU_STAT_COUNTER = 2,	/* addr: a struct pcpu_counter */
	PCPU_STAT_RING = 3,	/* addr: the ring's shared mapping (struct
				 * pcpu_ring_shared); aux: its memfd */
};

struct pcpu_stat_entry {		/* 64 bytes */
	char name[PCPU_STAT_NAME_MAX];	/* NUL-terminated */
	uint32_t kind;			/* enum pcpu_stat_kind */
	int32_t aux;			/* ring: pcpu_ring_fd(), or -1 */
	uint64_t addr;
};

struct pcpu_stat_table {		/* 256 bytes, then the entries */
	uint64_t magic;			/* PCPU_STAT_MAGIC */
	uint32_t version;		/* PCPU_STAT_VERSION */
	uint32_t header_size;		/* sizeof(struct pcpu_stat_table) */
	uint32_t entry_size;		/* sizeof(struct pcpu_stat_entry) */
	uint32_t capacity;		/* entries the mapping holds */
	uint32_t count;			/* entries[0 .. count - 1] in use */
	uint32_t seq;			/* odd while a change is written */
	uint64_t base;			/* the region: copy 0 */
	uint64_t stride;		/* bytes per copy */
	uint32_t nr_copies;		/* copies, the spare (last) included */
	uint32_t index;			/* enum pcpu_index in use */
	char backend[16];		/* pcpu_backend_name() */
	char lib_version[16];		/* pcpu_version_string() */
	/* struct pcpu_counter as this library lays it out. */
	uint32_t counter_size;
	uint32_t counter_deltas_off;	/* int64_t __pcpu *deltas */
	uint32_t counter_batch_off;	/* int64_t batch */
	uint32_t counter_count_off;	/* int64_t count: the folded total */
	uint64_t reserved[19];
};	/* then capacity entries: struct pcpu_stat_entry[capacity] */

/* ---- registration ---- */

/*
 * pcpu_stat_counter - show counter c as name.  c must stay valid (and
 * initialized) until pcpu_stat_remove(name).  Returns 0, or -1 with errno:
 * EINVAL (name NULL, empty, longer than PCPU_STAT_NAME_MAX - 1 or with
 * other characters than letters, digits and _.:/-; c NULL or not
 * initialized), EEXIST (name taken), ENOSPC (the table is full),
 * ENOMEM or an mmap()/memfd_create() error (no table could be made), or
 * an initialization error of the library.  Sets pcpu_last_error().
 * MT-safe; not async-signal-safe; fork-safe (the child has its own table,
 * with the parent's entries).
 */
int pcpu_stat_counter(const char *name, struct pcpu_counter *c);

/*
 * pcpu_stat_ulong - show the per-CPU unsigned long at handle h (from
 * pcpu_alloc() or PCPU_DEFINE: a value per CPU, summed by pcpu-stat) as
 * name.  Returns 0, or -1 with errno: EINVAL (name as above; h not a
 * handle: outside copy 0 of the region or not 8-byte aligned), EEXIST,
 * ENOSPC, ENOMEM or an mmap() error.  Sets pcpu_last_error().  Same
 * attributes as pcpu_stat_counter().
 */
int pcpu_stat_ulong(const char *name, unsigned long __pcpu *h);

/*
 * pcpu_stat_ring - show ring r as name: for each buffer, the bytes
 * written and read (the write position and the consumer's tail), the
 * unread bytes, and the records the writers dropped (and, in overwrite
 * mode, wrote).  pcpu-stat's views read the ring's control blocks only
 * and never consume records; its tail (pcpu-stat -T name) is the ring's
 * consumer, taking the memfd with pidfd_getfd() (the entry keeps
 * pcpu_ring_fd()): do not tail a ring the program reads itself.  r must
 * stay valid until pcpu_stat_remove(name).
 * Returns 0, or -1 with errno EINVAL (name as above; r NULL or without
 * its mapping), EEXIST, ENOSPC, ENOMEM or an mmap() error.  Sets
 * pcpu_last_error().  Same attributes as pcpu_stat_counter().
 */
int pcpu_stat_ring(const char *name, struct pcpu_ring *r);

/*
 * pcpu_stat_remove - stop showing name.  Returns 0, or -1 with errno
 * EINVAL (name NULL) or ENOENT (no such entry).  Sets pcpu_last_error().
 * Same attributes as pcpu_stat_counter().
 */
int pcpu_stat_remove(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_STAT_H */
