/* SPDX-License-Identifier: MIT */
/* Library-internal declarations. */
#ifndef PCPU_INTERNAL_H
#define PCPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* The library writes the runtime it publishes (see percpu/runtime.h). */
#define PCPU__RT_CONST
#include "percpu/percpu.h"

#define PCPU_HIDDEN __attribute__((visibility("hidden")))

/*
 * The library's view of the runtime: every field of the word
 * (percpu/runtime.h) and what only the library needs.  Written once, under
 * the init lock, before the word is published.
 */
struct pcpu__runtime {
	uint32_t nr;
	uint16_t backend;	/* enum pcpu__backend_id */
	uint16_t shift;
	uint16_t cid;		/* rseq indexes by mm_cid */
	uint16_t cs_locked;	/* critical sections take per-copy locks */
	uint32_t cpu_rdpid;
	int32_t rseq_off;	/* struct rseq, from the thread pointer */
	int32_t rseq_cmp;	/* its cpu_id (or mm_cid), from the tp */
	uintptr_t base;		/* copy 0 */
	uintptr_t cs_locks;	/* handle: one uint32_t lock word per copy */
} __attribute__((aligned(64)));

enum pcpu__backend_id {
	PCPU__BK_NONE = 0,	/* not initialized */
	PCPU__BK_ATOMIC,	/* lock-prefixed ops on the copy of the CPU we ran on */
	PCPU__BK_RSEQ,		/* restartable sequences (cpu_id or mm_cid: .cid) */
	PCPU__BK_GS,		/* %gs base = this CPU's copy (kernel or pinned) */
};

extern struct pcpu__runtime pcpu__rt PCPU_HIDDEN;

/*
 * A backend: a file in src/ plus one line in the table of region.c.
 * probe() says whether it can run here (0, or -1 with errno and a reason
 * in why); start() makes it live for the process, after the region exists
 * (its id is then published in pcpu__rt.backend).
 */
struct pcpu_backend {
	const char *name;
	int id;			/* enum pcpu__backend_id */
	int opt_in;		/* only when asked for by name */
	int (*probe)(enum pcpu_index index, char *why, size_t len);
	int (*start)(enum pcpu_index index, char *why, size_t len);
};

extern const struct pcpu_backend pcpu_backend_atomic PCPU_HIDDEN;
extern const struct pcpu_backend pcpu_backend_rseq PCPU_HIDDEN;
extern const struct pcpu_backend pcpu_backend_gs PCPU_HIDDEN;
extern const struct pcpu_backend pcpu_backend_gs_pinned PCPU_HIDDEN;

/* Initialize with defaults if nobody did; 0 or -1 with errno. */
int pcpu__ensure_init(void) PCPU_HIDDEN;
/* Possible-CPU mask as read at init. */
int pcpu__cpu_possible(unsigned int cpu) PCPU_HIDDEN;
/* Parse a CPU list such as "0-3,8,10-11" into a callback; -1 on error. */
int pcpu__parse_cpulist(const char *s, void (*fn)(unsigned int, void *),
			void *arg) PCPU_HIDDEN;

/* Set up pcpu__rt's rseq fields (area, compared field, index source) for
 * the sequences; 0, or -1 with errno and a reason. */
int pcpu__rseq_setup(enum pcpu_index index, char *why, size_t len) PCPU_HIDDEN;
/* After the backend started: the critical-section layer (cs.h). */
int pcpu__cs_setup(int backend_id, char *why, size_t len) PCPU_HIDDEN;

/* The stride PCPU_STRIDE asks for, or the default; 0 if it is invalid. */
size_t pcpu__env_stride(void) PCPU_HIDDEN;
/* 1 if the region has a copy for every CPU id the kernel can report, else
 * 0 with the reason in why (only a test's pretend mask can fall short). */
int pcpu__region_covers_kernel_cpus(char *why, size_t len) PCPU_HIDDEN;

#endif /* PCPU_INTERNAL_H */
