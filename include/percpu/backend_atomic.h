/* SPDX-License-Identifier: MIT */
/*
 * percpu/backend_atomic.h - the portable backend.
 *
 * Finds the current CPU (rdpid where the CPU has it, else getcpu), then
 * applies a lock-prefixed atomic to that CPU's copy.  The thread may have
 * moved by the time the atomic executes, so two threads can hit one copy
 * from two CPUs at once: the atomic makes that harmless.  No update is lost;
 * the price is the lock prefix and nothing is really "per-CPU exclusive".
 *
 * The same primitives serve the rseq backend's fallback, on the spare copy
 * (index nr) that no sequence ever writes: a thread that cannot run
 * sequences (no registration possible, or aborted again and again under a
 * debugger) never races a non-locked sequence commit.
 *
 * Memory order is relaxed, as for every this_cpu op: callers that publish
 * data through a per-CPU word add their own fences.
 */
#ifndef PERCPU_BACKEND_ATOMIC_H
#define PERCPU_BACKEND_ATOMIC_H

#include <stdint.h>

#include "runtime.h"
#include "arch/arch.h"

/* The copy index for the CPU we run on, given the runtime words. */
PCPU__INLINE unsigned int pcpu__atomic_index(uint64_t k, uint64_t r)
{
	unsigned int cpu, nr = PCPU__R_NR(r);

	(void)k;
#ifdef PCPU_ARCH_HAVE_RDPID
	if (k & PCPU__F_RDPID)
		cpu = pcpu_arch_rdpid();
	else
#endif
		cpu = pcpu__getcpu();
	/* A CPU hot-added beyond the possible mask at boot: the spare copy. */
	return cpu < nr ? cpu : nr;
}

/* Copy i of handle p (the shift comes with the word the caller holds). */
#define PCPU__ATOMIC_DEFINE(n, T)					\
PCPU__INLINE T pcpu_atomic_add_##n(T *a, T x, T y)			\
{									\
	(void)y;							\
	__atomic_fetch_add(a, x, __ATOMIC_RELAXED);			\
	return 0;							\
}									\
PCPU__INLINE T pcpu_atomic_add_return_##n(T *a, T x, T y)		\
{									\
	(void)y;							\
	return __atomic_add_fetch(a, x, __ATOMIC_RELAXED);		\
}									\
PCPU__INLINE T pcpu_atomic_xchg_##n(T *a, T x, T y)			\
{									\
	(void)y;							\
	return __atomic_exchange_n(a, x, __ATOMIC_RELAXED);		\
}									\
PCPU__INLINE T pcpu_atomic_cmpxchg_##n(T *a, T x, T y)			\
{									\
	__atomic_compare_exchange_n(a, &x, y, 0, __ATOMIC_RELAXED,	\
				    __ATOMIC_RELAXED);			\
	return x;							\
}									\
PCPU__INLINE T pcpu_atomic_write_##n(T *a, T x, T y)			\
{									\
	(void)y;							\
	__atomic_store_n(a, x, __ATOMIC_RELAXED);			\
	return 0;							\
}									\
PCPU__INLINE T pcpu_atomic_read_##n(T *a, T x, T y)			\
{									\
	(void)x;							\
	(void)y;							\
	return __atomic_load_n(a, __ATOMIC_RELAXED);			\
}

PCPU__ATOMIC_DEFINE(1, uint8_t)
PCPU__ATOMIC_DEFINE(2, uint16_t)
PCPU__ATOMIC_DEFINE(4, uint32_t)
PCPU__ATOMIC_DEFINE(8, uint64_t)

#endif /* PERCPU_BACKEND_ATOMIC_H */
