/* SPDX-License-Identifier: MIT */
/*
 * percpu/runtime.h - state the inline fast paths read.
 *
 * Not an API: the layout may change between versions (it is compiled
 * into user binaries by the inline fast paths, so a change bumps the
 * soname).
 *
 * Everything the fast paths need is two 64-bit words, written once by
 * pcpu_init() and never again (pcpu__rtr first, then pcpu__rtk, release):
 *
 *	pcpu__rtk   bits 0..5   log2(stride) (x86 shifts use the low 6 bits
 *	                        of the count register: the word is the count)
 *	            bits 6..13  flags (PCPU__F_*): which backend runs the
 *	                        ops, how the critical sections run
 *	pcpu__rtr   bits 0..31  nr: copies indexed by CPU or cid (index nr is
 *	                        the spare copy): the bound check compares with
 *	                        the register's low half, nothing to extract
 *	            bits 32..63 offset of the rseq area from the thread pointer
 *
 * Why user code sees them const.  The compiler may then load each once
 * and keep it in a register across a loop of ops, even a loop whose cold
 * paths call functions (measured: four independent this_cpu_inc per
 * iteration, from eight loads and five compares per increment to none).
 * A const view also lets it load them early, before the pcpu_alloc() that
 * initialized the library: a stale read is 0, no flag set (the op takes
 * the out-of-line path, which reads the library's own state) or nr 0 (the
 * bound check sends it to the slow path), so a fast path never uses a
 * stale field.  The library's own files see the objects as what they are,
 * writable (PCPU__RT_CONST is empty there); the const is a promise to the
 * compiler about user code, which never writes them.
 *
 * They are objects of their own, of pointer type, on purpose: the ops
 * write integers, and type-based alias analysis knows that an integer
 * store cannot modify a pointer object (as a uint64_t, or as a member of
 * a struct that also held integers, the word was reloaded after every op).
 */
#ifndef PERCPU_RUNTIME_H
#define PERCPU_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if __SIZEOF_POINTER__ != 8
#error "libpercpu needs a 64-bit target (LP64)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The fast paths must inline into the caller's loop: a call would cost
 * more than the op. */
#define PCPU__INLINE	static inline __attribute__((always_inline))
#define PCPU__LIKELY(x)	__builtin_expect(!!(x), 1)
#define PCPU__UNLIKELY(x)	__builtin_expect(!!(x), 0)

/* What runs: one flag for each fast path, tested with one instruction. */
#define PCPU__F_GS		(1u << 6)	/* ops: one %gs instruction */
#define PCPU__F_RSEQ_CPU	(1u << 7)	/* ops: rseq by cpu_id */
#define PCPU__F_RSEQ_CID	(1u << 8)	/* ops: rseq by mm_cid */
#define PCPU__F_ATOMIC		(1u << 9)	/* ops: locked instructions */
#define PCPU__F_CS_CPU		(1u << 10)	/* sections: rseq by cpu_id */
#define PCPU__F_CS_CID		(1u << 11)	/* sections: rseq by mm_cid */
#define PCPU__F_CS_LOCKED	(1u << 12)	/* sections: per-copy locks */
#define PCPU__F_RDPID		(1u << 13)	/* rdpid gives the CPU number */

#define PCPU__K_SHIFT(k)	((unsigned int)(k) & 63u)
#define PCPU__R_NR(r)		((uint32_t)(r))
#define PCPU__R_RSEQ_OFF(r)	((long)((int64_t)(r) >> 32))

#ifndef PCPU__RT_CONST
#define PCPU__RT_CONST const
#endif
extern const char *PCPU__RT_CONST pcpu__rtk;
extern const char *PCPU__RT_CONST pcpu__rtr;

/* The words as the library sees them now (out of line: see below). */
uint64_t pcpu__k_slow(void);
uint64_t pcpu__r_slow(void);

/*
 * The words as loaded: hoistable, and possibly 0 (loaded before the
 * initialization).  Fast paths test a flag of k, clear in a 0 word, and
 * bound-check against nr of r, 0 in a 0 word.
 */
PCPU__INLINE uint64_t pcpu__k_raw(void)
{
	return (uint64_t)(uintptr_t)pcpu__rtk;
}

PCPU__INLINE uint64_t pcpu__r_raw(void)
{
	return (uint64_t)(uintptr_t)pcpu__rtr;
}

/*
 * The words, valid: the const load, or when that saw 0, the library's
 * answer now.  A call, not a volatile load: the compiler knows a call
 * cannot change a const object, while a volatile access makes it reload
 * every later read.
 */
PCPU__INLINE uint64_t pcpu__k(void)
{
	uint64_t k = pcpu__k_raw();

	if (PCPU__UNLIKELY(!k))
		k = pcpu__k_slow();
	return k;
}

PCPU__INLINE uint64_t pcpu__r(void)
{
	uint64_t r = pcpu__r_raw();

	if (PCPU__UNLIKELY(!r))
		r = pcpu__r_slow();
	return r;
}

/*
 * The address of copy i of handle p, with the shift of word k.  On x86
 * the shift instruction uses the low 6 bits of its count, so k itself is
 * the count: one instruction, where C's "& 63" made the compiler add one.
 */
#if defined(__x86_64__)
PCPU__INLINE uintptr_t pcpu__copy_off(uint32_t i, uint64_t k)
{
	uintptr_t x = i;

	__asm__("shlq %%cl, %0" : "+r"(x) : "c"(k) : "cc");
	return x;
}
#else
PCPU__INLINE uintptr_t pcpu__copy_off(uint32_t i, uint64_t k)
{
	return (uintptr_t)i << PCPU__K_SHIFT(k);
}
#endif
#define PCPU__COPY_K(p, i, T, k)					\
	((T *)((uintptr_t)(p) + pcpu__copy_off((uint32_t)(i), (k))))

/*
 * Slow path of the rseq backend, out of line: called when a sequence did
 * not commit (status 1: aborted, 2: no usable index), tries being the
 * number of earlier failed attempts of this op.  It registers the calling
 * thread when it can, and returns 0 to retry the sequence, or 1 when the op
 * must take the fallback: a locked op on the spare copy, which no sequence
 * writes (registration impossible for this thread, or too many aborts in a
 * row: single-stepping, binary instrumentation).
 */
int pcpu__rseq_slow(int status, int tries);
/*
 * The CPU number by system call (vDSO getcpu), for the atomic backend.
 * pure: it writes no memory the caller can see, and saying so keeps the
 * compiler from reloading the runtime word after every op; two calls may
 * then be merged into one, which only makes the CPU number staler, and
 * the atomic backend is correct on any copy.
 */
unsigned int pcpu__getcpu(void) __attribute__((pure));
/* Set errno to EINVAL and return -1: the cold branch of the inline
 * functions' argument checks, out of line. */
int pcpu__einval(void);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_RUNTIME_H */
