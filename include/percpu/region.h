/* SPDX-License-Identifier: MIT */
/*
 * percpu/region.h - the process-wide per-CPU region.
 *
 * The region follows the layout of the 2014 "per-cpu memory for user-space"
 * RFC, which is also the layout of the kernel's own per-CPU areas: one
 * virtual address range of nr_copies * stride bytes, where the copy that
 * belongs to CPU (or concurrency id) n starts at base + n * stride.  A
 * per-CPU handle is an address inside copy 0; the same offset in copy n is
 * CPU n's instance.  The gs backend sets each thread's GS base to
 * cpu * stride (the patched kernel's ARCH_SET_GS_PERCPU is handed base 0
 * and this stride), so that %gs:(handle) is this CPU's copy, exactly as the
 * kernel addresses its own per-CPU variables.
 *
 * Address space is reserved for every *possible* CPU (from
 * /sys/devices/system/cpu/possible, not the online or allowed set: cpusets
 * hide CPUs that can still show up), with MAP_NORESERVE.  Pages are
 * committed only when touched, so a CPU that never runs this process costs
 * no memory.  The stride is a power of two; it bounds the total size of all
 * per-CPU allocations.
 */
#ifndef PERCPU_REGION_H
#define PERCPU_REGION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default stride: 1 MiB of per-CPU data per copy. */
#define PCPU_DEFAULT_STRIDE	((size_t)1 << 20)
#define PCPU_MIN_STRIDE		((size_t)1 << 16)
#define PCPU_MAX_STRIDE		((size_t)1 << 34)

/* Where the index of "this CPU's copy" comes from. */
enum pcpu_index {
	PCPU_INDEX_DEFAULT = 0,	/* PCPU_INDEX env, else the CPU number */
	PCPU_INDEX_CPU,		/* the CPU number */
	PCPU_INDEX_CID,		/* the kernel's mm_cid (rseq, Linux >= 6.3) */
};

/*
 * Parameters of pcpu_init().  Zero fields mean "default": the environment
 * variables PCPU_STRIDE (bytes, K/M/G suffix allowed), PCPU_BACKEND
 * (gs, gs-pinned, rseq, atomic) and PCPU_INDEX (cpu, cid) apply first,
 * then the built-in defaults.  Explicit fields win over the environment.
 */
struct pcpu_params {
	size_t stride;		/* power of two, PCPU_MIN..MAX_STRIDE */
	const char *backend;	/* NULL: the best available */
	enum pcpu_index index;
};

/*
 * pcpu_init - set up the region and choose a backend.
 *
 * Optional: the first pcpu_alloc() initializes with defaults.  Without a
 * backend named (params or PCPU_BACKEND), the first of gs, rseq, atomic
 * that is available *and starts* runs: a backend that probes fine but
 * cannot start (the gs backend could not cover a thread, say) gives way to
 * the next one, and pcpu_init_error() says why.  A backend asked for by
 * name is never replaced: if it cannot run, pcpu_init() fails.
 * Returns 0, or -1 with errno: EINVAL (bad stride, backend or index name),
 * ENODEV (the requested backend or index source is not available here),
 * ETIMEDOUT (gs: a thread could not be covered, see gs.h), ENOMEM (address
 * space), EBUSY (already initialized with different parameters).
 * pcpu_init_error() then says why in words, and so does
 * pcpu_last_error() (this call sets it).  MT-safe; not
 * async-signal-safe.
 */
int pcpu_init(const struct pcpu_params *params);

/*
 * Why the last initialization failed; after a successful automatic one,
 * why the backends preferred over the one running were passed over (e.g.
 * "backend gs unavailable: the kernel lacks ARCH_SET_GS_PERCPU"); "" when
 * nothing was passed over.  MT-safe.
 */
const char *pcpu_init_error(void);

/*
 * Region geometry.  Valid after initialization (0 before).  MT-safe,
 * async-signal-safe.
 */
uintptr_t pcpu_base(void);
size_t pcpu_stride(void);
/* Number of copies: highest possible CPU id + 1 (the mask may be sparse). */
unsigned int pcpu_nr_copies(void);
/* Number of possible CPUs (population of the possible mask). */
unsigned int pcpu_nr_possible(void);

/* Name of the active backend: "gs", "gs-pinned", "rseq", "atomic". */
const char *pcpu_backend_name(void);
/* Index source in use: PCPU_INDEX_CPU or PCPU_INDEX_CID. */
enum pcpu_index pcpu_index_source(void);

/*
 * Counters of the rseq backend's slow path, process-wide since start:
 * sequences aborted (preemption, migration, signal), ops that took the
 * spare-copy fallback, threads the library registered itself, and whether
 * the library's own rseq area is in use (1) or glibc's (0).  Returns 0, or
 * -1 with errno EINVAL (st NULL).  MT-safe.
 */
struct pcpu_rseq_stats {
	unsigned long aborts;
	unsigned long fallbacks;
	unsigned long registrations;
	int own_area;
};
int pcpu_rseq_stats(struct pcpu_rseq_stats *st);

/*
 * Copy indices that may hold data, for summing: every possible CPU, or
 * every concurrency id 0..nr_copies-1 when indexing by mm_cid.
 * Returns the next such index >= from, or pcpu_nr_copies() at the end.
 */
unsigned int pcpu_next_copy(unsigned int from);

#define pcpu_for_each_cpu(cpu)					\
	for ((cpu) = pcpu_next_copy(0); (cpu) < pcpu_nr_copies();	\
	     (cpu) = pcpu_next_copy((cpu) + 1))

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_REGION_H */
