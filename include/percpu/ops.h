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
 * Memory order: relaxed for the CPU, and for the compiler too, as the
 * kernel's this_cpu ops: an op is ordered with every access to the same
 * per-CPU variable (any copy, through this_cpu_* or pcpu_ptr()), not with
 * unrelated memory.  Use explicit fences (or pcpu_barrier()) to publish
 * data through a per-CPU word.
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
 * rseq: the index is read, bound-checked and turned into the copy's
 * address outside the sequence, which then only compares the index and
 * commits (arch/<arch>/rseq.h).  A sequence that did not commit wrote
 * nothing; pcpu__rseq_slow() decides between retrying and the spare-copy
 * fallback (status 1: aborted, 2: no usable index), so even a thread that
 * can never complete a sequence makes progress.
 */
#define PCPU__RSEQ_LOOP(ix, op, n, T)					\
	do {								\
		uint32_t i = pcpu__rseq_index_##ix(rw);			\
									\
		/* First attempt: nothing else is live on this path. */	\
		st = 2;							\
		if (PCPU__LIKELY(i < PCPU__R_NR(rw))) {			\
			st = pcpu_rseq_##ix##_##op##_##n(		\
				PCPU__COPY_K(p, i, T, k),		\
				PCPU__R_RSEQ_OFF(rw), i, a, b, &r);	\
			if (PCPU__LIKELY(st == 0))			\
				return r;				\
		}							\
		for (tries = 0;; tries++) {				\
			if (pcpu__rseq_slow(st < 0 ? 1 : 2, tries))	\
				return pcpu_atomic_##op##_##n(		\
					PCPU__COPY_K(p, PCPU__R_NR(rw), \
						     T, k), a, b);	\
			i = pcpu__rseq_index_##ix(rw);			\
			st = 2;						\
			if (i < PCPU__R_NR(rw)) {			\
				st = pcpu_rseq_##ix##_##op##_##n(	\
					PCPU__COPY_K(p, i, T, k),	\
					PCPU__R_RSEQ_OFF(rw), i, a, b, &r); \
				if (st == 0)				\
					return r;			\
			}						\
		}							\
	} while (0);
#define PCPU__RSEQ_CASE(op, n, T)					\
	if (k & PCPU__F_RSEQ_CPU)					\
		PCPU__RSEQ_LOOP(cpu, op, n, T)				\
	if (k & PCPU__F_RSEQ_CID)					\
		PCPU__RSEQ_LOOP(cid, op, n, T)
#else
#define PCPU__RSEQ_CASE(op, n, T)
#endif

#ifdef PCPU_ARCH_HAVE_GS
#define PCPU__GS_CASE(op, n)						\
	if (k & PCPU__F_GS) {						\
		pcpu_gs_##op##_##n(p, a, b, &r);			\
		return r;						\
	}
#else
#define PCPU__GS_CASE(op, n)
#endif

/*
 * The cases of one dispatcher: gs first (one instruction), then rseq by
 * cpu_id, by mm_cid, then the atomic backend on the copy of the CPU it
 * runs on.  Every test is of one flag of k; r is only read by the rseq
 * and atomic cases.
 */
#define PCPU__CASES(op, n, T)						\
	T r = 0;							\
	int st, tries = 0;						\
									\
	(void)st;							\
	(void)tries;							\
	PCPU__GS_CASE(op, n)						\
	PCPU__RSEQ_CASE(op, n, T)

/*
 * One dispatcher per primitive and size.  k and r are loaded once and
 * kept in registers across a loop of ops; a word read before the
 * initialization has no flag set and ends in the out-of-line dispatch,
 * which reads the library's state again.
 */
#define PCPU__DISPATCH(op, n, T)					\
PCPU__INLINE T pcpu__##op##_##n(void *p, T a, T b)			\
{									\
	uint64_t k = pcpu__k_raw(), rw = pcpu__r_raw();			\
	PCPU__CASES(op, n, T)						\
	if (PCPU__UNLIKELY(!(k & PCPU__F_ATOMIC)))			\
		return pcpu__##op##_##n##_generic(p, a, b);		\
	return pcpu_atomic_##op##_##n(					\
		PCPU__COPY_K(p, pcpu__atomic_index(k, rw), T, k), a, b); \
}

/*
 * Out of line (src/ops.c instantiates PCPU__GENERIC_DEF): the same cases
 * on the words read again; an op there before anything initialized can
 * only be on a garbage handle, and goes to its spare copy.
 */
#define PCPU__GENERIC(op, n, T)						\
	T pcpu__##op##_##n##_generic(void *p, T a, T b);

#define PCPU__GENERIC_DEF(op, n, T)					\
T pcpu__##op##_##n##_generic(void *p, T a, T b)				\
{									\
	uint64_t k = pcpu__k(), rw = pcpu__r();				\
	PCPU__CASES(op, n, T)						\
	return pcpu_atomic_##op##_##n(					\
		PCPU__COPY_K(p, k & PCPU__F_ATOMIC ?			\
			     pcpu__atomic_index(k, rw) :		\
			     PCPU__R_NR(rw), T, k), a, b);		\
}

#define PCPU__DISPATCH_SIZES(op)					\
	PCPU__GENERIC(op, 1, uint8_t)					\
	PCPU__GENERIC(op, 2, uint16_t)					\
	PCPU__GENERIC(op, 4, uint32_t)					\
	PCPU__GENERIC(op, 8, uint64_t)					\
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
#ifdef __cplusplus
#define PCPU__STATIC_ASSERT(c, msg)	static_assert(c, msg)
#else
#define PCPU__STATIC_ASSERT(c, msg)	_Static_assert(c, msg)
#endif
#define PCPU__CHECK_SIZE(p)						\
	PCPU__STATIC_ASSERT(PCPU__SIZE_OK(sizeof(*(p))) && PCPU__TYPE_OK(p), \
		"this_cpu_* operand: the per-CPU variable must be an "	\
		"integer or a pointer of 1, 2, 4 or 8 bytes")
#define PCPU__ARG(n, x)		((uint##n##_t)(uintptr_t)(x))
#define PCPU__CALL_N(op, n, bits, p, a, b)				\
	(uintptr_t)pcpu__##op##_##n((void *)(p),			\
				    PCPU__ARG(bits, a), PCPU__ARG(bits, b))
#define PCPU__CALL(op, p, a, b)						\
	__extension__ ({						\
		PCPU__CHECK_SIZE(p);					\
		(__typeof__(*(p)))(					\
		sizeof(*(p)) == 1 ? PCPU__CALL_N(op, 1, 8, p, a, b) :	\
		sizeof(*(p)) == 2 ? PCPU__CALL_N(op, 2, 16, p, a, b) :	\
		sizeof(*(p)) == 4 ? PCPU__CALL_N(op, 4, 32, p, a, b) :	\
				    PCPU__CALL_N(op, 8, 64, p, a, b));	\
	})

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

/* A compiler barrier: no memory access moves across it. */
#define pcpu_barrier()			__asm__ __volatile__("" : : : "memory")

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_OPS_H */
