/* SPDX-License-Identifier: MIT */
/*
 * percpu/ops.h - this_cpu_* operations on per-CPU handles.
 *
 * Each op acts on "this CPU's" instance of a handle from pcpu_alloc(), and
 * is atomic with respect to preemption, migration and signal handlers of the
 * same thread: no update is ever lost, on every backend.  Operands of 1, 2,
 * 4 or 8 bytes (integers or pointers); another size fails to compile.
 *
 *   this_cpu_read(p)            value of this CPU's instance
 *   this_cpu_write(p, v)        store v
 *   this_cpu_add(p, v)          add v           this_cpu_sub(p, v)
 *   this_cpu_inc(p)             add 1           this_cpu_dec(p)
 *   this_cpu_add_return(p, v)   add v, return the new value (of that copy)
 *   this_cpu_sub_return, this_cpu_inc_return, this_cpu_dec_return
 *   this_cpu_xchg(p, v)         store v, return the old value
 *   this_cpu_cmpxchg(p, o, n)   store n if the value is o; return the value
 *                               seen (== o means it was stored)
 *   this_cpu_ptr(p)             this CPU's instance; a hint only, since the
 *                               thread may move right after
 *   pcpu_cpu()                  the CPU number (a hint, likewise)
 *
 * "This CPU" is where the op executed, which the caller cannot know
 * afterwards; the value returned by add_return / xchg / cmpxchg belongs to
 * that copy.  Sums over copies (pcpu_for_each_cpu) are exact once writers
 * are quiescent.
 *
 * Memory order: every op is a compiler barrier and relaxed for the CPU.
 * Use explicit fences to publish data through a per-CPU word.
 *
 * MT-safe and async-signal-safe (a handler may use the same handles as the
 * code it interrupted).  Fork-safe: the child works on its own copy of the
 * region.  Layout follows the kernel's percpu-defs.h: backends supply six
 * primitives per size (read, write, add, add_return, xchg, cmpxchg), one
 * dispatcher per primitive and size is generated here, and every other op
 * is one line on top.
 *
 * Integer and pointer operands only: a float or double does not compile.
 */
#ifndef PERCPU_OPS_H
#define PERCPU_OPS_H

#include <stdint.h>

#include "runtime.h"
#include "region.h"
#include "alloc.h"
#include "arch/arch.h"
#include "backend_atomic.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef PCPU_ARCH_HAVE_RSEQ
/*
 * A sequence that did not commit wrote nothing; pcpu__rseq_slow() decides
 * between retrying and the spare-copy fallback, so even a thread that can
 * never complete a sequence makes progress.
 */
#define PCPU__RSEQ_CASE(IX, ix, op, n)					\
	case PCPU__BK_RSEQ_##IX:					\
		for (tries = 0;; tries++) {				\
			st = pcpu_rseq_##ix##_##op##_##n(p, a, b, &r);	\
			if (PCPU__LIKELY(st == 0))			\
				return r;				\
			if (pcpu__rseq_slow(st, tries))			\
				return pcpu_atomic_##op##_##n(p,	\
						pcpu__rt.nr, a, b);	\
		}
#else
#define PCPU__RSEQ_CASE(IX, ix, op, n)
#endif

#ifdef PCPU_ARCH_HAVE_GS
#define PCPU__GS_CASE(op, n)						\
	if (PCPU__LIKELY(pcpu__rt.backend == PCPU__BK_GS)) {		\
		pcpu_gs_##op##_##n(p, a, b, &r);			\
		return r;						\
	}
#else
#define PCPU__GS_CASE(op, n)
#endif

#define PCPU__DISPATCH(op, n, T)					\
PCPU__INLINE T pcpu__##op##_##n(void *p, T a, T b)			\
{									\
	T r = 0;							\
	int st, tries = 0;						\
									\
	(void)st;							\
	(void)tries;							\
	PCPU__GS_CASE(op, n)						\
	switch (pcpu__rt.backend) {					\
	PCPU__RSEQ_CASE(CPU, cpu, op, n)					\
	PCPU__RSEQ_CASE(CID, cid, op, n)					\
	default:							\
		return pcpu_atomic_##op##_##n(p, pcpu__atomic_index(), a, b); \
	}								\
}

#define PCPU__DISPATCH_SIZES(op)					\
	PCPU__DISPATCH(op, 1, uint8_t)					\
	PCPU__DISPATCH(op, 2, uint16_t)					\
	PCPU__DISPATCH(op, 4, uint32_t)					\
	PCPU__DISPATCH(op, 8, uint64_t)

PCPU__DISPATCH_SIZES(read)
PCPU__DISPATCH_SIZES(write)
PCPU__DISPATCH_SIZES(add)
PCPU__DISPATCH_SIZES(add_return)
PCPU__DISPATCH_SIZES(xchg)
PCPU__DISPATCH_SIZES(cmpxchg)

/*
 * Size dispatch happens once, here; a bad size is a compile error, and so
 * is a floating-point operand (the ops are integer arithmetic: a double
 * would be converted, not reinterpreted).  Type classes 1..5 are integer,
 * char, enum, bool and pointer in GCC's and Clang's numbering.
 */
#define PCPU__SIZE_OK(s)	((s) == 1 || (s) == 2 || (s) == 4 || (s) == 8)
#define PCPU__TYPE_OK(p)						\
	(__builtin_classify_type(*(p)) >= 1 &&				\
	 __builtin_classify_type(*(p)) <= 5)
#define PCPU__CHECK_SIZE(p)						\
	((void)sizeof(char[PCPU__SIZE_OK(sizeof(*(p))) &&		\
			   PCPU__TYPE_OK(p) ? 1 : -1]))
#define PCPU__ARG(n, x)		((uint##n##_t)(uintptr_t)(x))
#define PCPU__CALL_N(op, n, bits, p, a, b)				\
	(uintptr_t)pcpu__##op##_##n((void *)(p),			\
				    PCPU__ARG(bits, a), PCPU__ARG(bits, b))
#define PCPU__CALL(op, p, a, b)						\
	(PCPU__CHECK_SIZE(p),						\
	 (__typeof__(*(p)))(						\
		sizeof(*(p)) == 1 ? PCPU__CALL_N(op, 1, 8, p, a, b) :	\
		sizeof(*(p)) == 2 ? PCPU__CALL_N(op, 2, 16, p, a, b) :	\
		sizeof(*(p)) == 4 ? PCPU__CALL_N(op, 4, 32, p, a, b) :	\
				    PCPU__CALL_N(op, 8, 64, p, a, b)))

#define this_cpu_read(p)		PCPU__CALL(read, p, 0, 0)
#define this_cpu_write(p, v)		((void)PCPU__CALL(write, p, v, 0))
#define this_cpu_add(p, v)		((void)PCPU__CALL(add, p, v, 0))
#define this_cpu_add_return(p, v)	PCPU__CALL(add_return, p, v, 0)
#define this_cpu_xchg(p, v)		PCPU__CALL(xchg, p, v, 0)
#define this_cpu_cmpxchg(p, o, n)	PCPU__CALL(cmpxchg, p, o, n)

#define PCPU__NEG(p, v)			(-(__typeof__(*(p)))(v))
#define this_cpu_sub(p, v)		this_cpu_add(p, PCPU__NEG(p, v))
#define this_cpu_inc(p)			this_cpu_add(p, 1)
#define this_cpu_dec(p)			this_cpu_sub(p, 1)
#define this_cpu_sub_return(p, v)	this_cpu_add_return(p, PCPU__NEG(p, v))
#define this_cpu_inc_return(p)		this_cpu_add_return(p, 1)
#define this_cpu_dec_return(p)		this_cpu_sub_return(p, 1)

/*
 * pcpu_cpu - the CPU this thread runs on (a hint: it may move at once).
 * pcpu_index - the copy index the ops would use now: the CPU, or the
 * mm_cid in PCPU_INDEX_CID mode.  Both MT-safe, async-signal-safe.
 */
unsigned int pcpu_cpu(void);
unsigned int pcpu_index(void);

#define this_cpu_ptr(p)			pcpu_ptr(p, pcpu_index())

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_OPS_H */
