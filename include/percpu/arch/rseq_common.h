/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/rseq_common.h - the architecture-neutral part of the rseq
 * backend, included at the end of each arch/<arch>/rseq.h once it has
 * defined pcpu_arch_tp_load32() and the PCPU__RSEQ_* field offsets.
 */
#ifndef PERCPU_ARCH_RSEQ_COMMON_H
#define PERCPU_ARCH_RSEQ_COMMON_H

#include <stdint.h>

#include "../runtime.h"

/*
 * The copy index this thread would use now, or a value >= nr when the
 * thread is not registered.
 */
PCPU__INLINE uint32_t pcpu_rseq_index_cpu(void)
{
	return pcpu_arch_tp_load32(pcpu__rt.rseq_off + PCPU__RSEQ_CPU_ID);
}

PCPU__INLINE uint32_t pcpu_rseq_index_cid(void)
{
	if (pcpu_rseq_index_cpu() >= pcpu__rt.nr)
		return UINT32_MAX;
	return pcpu_arch_tp_load32(pcpu__rt.rseq_off + PCPU__RSEQ_MM_CID);
}

/*
 * A read needs no sequence: one load of one copy is a snapshot, whichever
 * CPU we are on by the time it executes.
 */
#define PCPU__RSEQ_DEFINE_READ(ix, n, T)				\
PCPU__INLINE int pcpu_rseq_##ix##_read_##n(void *p, T a, T b, T *out)	\
{									\
	uint32_t i = pcpu_rseq_index_##ix();				\
									\
	(void)a;							\
	(void)b;							\
	if (i >= pcpu__rt.nr)						\
		return 2;						\
	*out = __atomic_load_n((T *)((uintptr_t)p +			\
				     ((uintptr_t)i << pcpu__rt.shift)),	\
			       __ATOMIC_RELAXED);			\
	return 0;							\
}

PCPU__RSEQ_DEFINE_READ(cpu, 1, uint8_t)
PCPU__RSEQ_DEFINE_READ(cpu, 2, uint16_t)
PCPU__RSEQ_DEFINE_READ(cpu, 4, uint32_t)
PCPU__RSEQ_DEFINE_READ(cpu, 8, uint64_t)
PCPU__RSEQ_DEFINE_READ(cid, 1, uint8_t)
PCPU__RSEQ_DEFINE_READ(cid, 2, uint16_t)
PCPU__RSEQ_DEFINE_READ(cid, 4, uint32_t)
PCPU__RSEQ_DEFINE_READ(cid, 8, uint64_t)

#endif /* PERCPU_ARCH_RSEQ_COMMON_H */
