/* SPDX-License-Identifier: MIT */
/* Library-internal declarations. */
#ifndef PCPU_INTERNAL_H
#define PCPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "percpu/percpu.h"

#define PCPU_HIDDEN __attribute__((visibility("hidden")))

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

/* The stride PCPU_STRIDE asks for, or the default; 0 if it is invalid. */
size_t pcpu__env_stride(void) PCPU_HIDDEN;
/* 1 if the region has a copy for every CPU id the kernel can report, else
 * 0 with the reason in why (only a test's pretend mask can fall short). */
int pcpu__region_covers_kernel_cpus(char *why, size_t len) PCPU_HIDDEN;

#endif /* PCPU_INTERNAL_H */
