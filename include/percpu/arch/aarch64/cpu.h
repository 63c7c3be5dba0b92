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
 * cpu_id or mm_cid.  An asm volatile load because the kernel rewrites it
 * behind the compiler's back at every preemption of this thread; not a
 * volatile C access, which would make the compiler reload everything
 * else it holds (the runtime words) after it.
 */
static inline __attribute__((always_inline)) uint32_t
pcpu_arch_tp_load32(long off)
{
	uint32_t v;

	__asm__ __volatile__("ldr %w0, [%1]" : "=r"(v)
			     : "r"((char *)__builtin_thread_pointer() + off));
	return v;
}

#endif /* PERCPU_ARCH_AARCH64_CPU_H */
