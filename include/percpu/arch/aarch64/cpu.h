/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/aarch64/cpu.h - thread-pointer access for the rseq backend.
 * AArch64 has no %gs and no RDPID: the rseq and atomic backends only.
 */
#ifndef PERCPU_ARCH_AARCH64_CPU_H
#define PERCPU_ARCH_AARCH64_CPU_H

#include <stdint.h>

#define PCPU_ARCH_HAVE_RSEQ	1

/*
 * A 32-bit field at a thread-pointer-relative offset: the rseq area's
 * cpu_id or mm_cid.  volatile because the kernel rewrites it behind the
 * compiler's back at every preemption of this thread.
 */
static inline __attribute__((always_inline)) uint32_t
pcpu_arch_tp_load32(long off)
{
	return *(volatile uint32_t *)((char *)__builtin_thread_pointer() +
				      off);
}

#endif /* PERCPU_ARCH_AARCH64_CPU_H */
