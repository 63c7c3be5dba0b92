/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/x86_64/cpu.h - CPU number and segment-base primitives.
 */
#ifndef PERCPU_ARCH_X86_64_CPU_H
#define PERCPU_ARCH_X86_64_CPU_H

#include <stdint.h>
#include <cpuid.h>

#define PCPU_ARCH_HAVE_RSEQ	1
#define PCPU_ARCH_HAVE_GS	1

/*
 * A 32-bit field at a thread-pointer-relative offset: the rseq area's
 * cpu_id or mm_cid.  volatile because the kernel rewrites it behind the
 * compiler's back at every preemption of this thread.
 */
PCPU__INLINE uint32_t pcpu_arch_tp_load32(long off)
{
	uint32_t v;

	__asm__ __volatile__("movl %%fs:(%1), %0" : "=r"(v) : "r"(off));
	return v;
}

/*
 * RDPID returns IA32_TSC_AUX, which Linux sets to (node << 12) | cpu.
 * Not serializing, about as cheap as a load: the CPU may change right
 * after, which every user of it must tolerate.
 */
PCPU__INLINE unsigned int pcpu_arch_rdpid(void)
{
	uint64_t v;

	__asm__ __volatile__("rdpid %0" : "=r"(v));
	return (unsigned int)(v & 0xfff);
}

/* CPUID.(EAX=7,ECX=0):ECX[22] */
PCPU__INLINE int pcpu_arch_have_rdpid(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (c >> 22) & 1;
}

PCPU__INLINE uintptr_t pcpu_arch_rdgsbase(void)
{
	uintptr_t v;

	__asm__ __volatile__("rdgsbase %0" : "=r"(v));
	return v;
}

PCPU__INLINE void pcpu_arch_wrgsbase(uintptr_t v)
{
	__asm__ __volatile__("wrgsbase %0" : : "r"(v) : "memory");
}

#endif /* PERCPU_ARCH_X86_64_CPU_H */
