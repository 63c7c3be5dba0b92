/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/rseq_common.h - the architecture-neutral part of the rseq
 * backend, included at the end of each arch/<arch>/rseq.h once it has
 * defined pcpu_arch_tp_load32() and the sequences.
 */
#ifndef PERCPU_ARCH_RSEQ_COMMON_H
#define PERCPU_ARCH_RSEQ_COMMON_H

#include <stdint.h>

#include "../runtime.h"

/*
 * The copy index a sequence of this thread would use now, given the
 * runtime word r: cpu_id, or mm_cid when indexing by concurrency id.  A
 * value >= nr sends the caller to its slow path: the thread is not
 * registered (cpu_id is -1 or -2), or runs on a CPU beyond the mask read
 * at init.  In mm_cid mode cpu_id is checked too: mm_cid means nothing in
 * an area the kernel does not update (a thread whose registration
 * failed).  cpu_id, not cpu_id_start: the library relies only on what the
 * rseq ABI documents for it.
 */
PCPU__INLINE uint32_t pcpu__rseq_index_cpu(uint64_t r)
{
	return pcpu_arch_tp_load32(PCPU__R_RSEQ_OFF(r) + PCPU__RSEQ_CPU_ID);
}

PCPU__INLINE uint32_t pcpu__rseq_index_cid(uint64_t r)
{
	if (pcpu__rseq_index_cpu(r) >= PCPU__R_NR(r))
		return UINT32_MAX;
	return pcpu_arch_tp_load32(PCPU__R_RSEQ_OFF(r) + PCPU__RSEQ_MM_CID);
}

/*
 * A read needs no sequence: one load of one copy is a snapshot, whichever
 * CPU we are on by the time it executes.  Same signature as the others.
 */
#define PCPU__RSEQ_DEFINE_READ_IX(ix, n, T)				\
PCPU__INLINE int pcpu_rseq_##ix##_read_##n(T *a, long rs, uint32_t idx,	\
					   T x, T y, T *out)		\
{									\
	(void)rs;							\
	(void)idx;							\
	(void)x;							\
	(void)y;							\
	*out = __atomic_load_n(a, __ATOMIC_RELAXED);			\
	return 0;							\
}

#define PCPU__RSEQ_DEFINE_READ(n, T)					\
	PCPU__RSEQ_DEFINE_READ_IX(cpu, n, T)				\
	PCPU__RSEQ_DEFINE_READ_IX(cid, n, T)

PCPU__RSEQ_DEFINE_READ(1, uint8_t)
PCPU__RSEQ_DEFINE_READ(2, uint16_t)
PCPU__RSEQ_DEFINE_READ(4, uint32_t)
PCPU__RSEQ_DEFINE_READ(8, uint64_t)

#endif /* PERCPU_ARCH_RSEQ_COMMON_H */
