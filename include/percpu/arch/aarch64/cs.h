/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/aarch64/cs.h - the critical sections of percpu/cs.h as
 * restartable sequences on AArch64, in the frame of arch/aarch64/rseq.h
 * (arm, compare the index at label 1, commit as the last instruction
 * before label 2, abort at label 4, compare failed at label 5), with the
 * same return contract: 0 committed, 1 compare failed, -1 aborted.
 *
 * Words are intptr_t.  Every sequence clobbers "memory".  The _release
 * variants commit with stlr, a store-release: every earlier load and
 * store of the thread (the try-stores, the copy, the caller's data) is
 * visible to any CPU that observes the commit with an acquire load.
 */
#ifndef PERCPU_ARCH_AARCH64_CS_H
#define PERCPU_ARCH_AARCH64_CS_H

#include <stddef.h>
#include <stdint.h>

#include "rseq.h"

#define PCPU__UNPAREN(...)	__VA_ARGS__

/* Every sequence's last parameters: the rseq area's offset from the
 * thread pointer, the compared field's, the index. */
#define PCPU__CS_PARAMS		long rs, long cmp, uint32_t idx

/* One sequence: OUT is a parenthesized list of extra outputs, each
 * preceded by a comma; the inputs follow.  cmp arrives as an offset from
 * the thread pointer; the frame wants it relative to the area. */
#define PCPU__CS_ASM(body, OUT, ...)					\
	__asm__ __volatile__(PCPU__RSEQ_DESC PCPU__RSEQ_EXIT5		\
			     PCPU__RSEQ_START body PCPU__RSEQ_END_ST	\
			     : [st] "+r"(st), [t] "=&r"(t)		\
			       PCPU__UNPAREN OUT			\
			     : [rs] "r"(PCPU__RSEQ_AREA(rs)),		\
			       [cmp] "r"(cmp - rs), [idx] "r"(idx),	\
			       __VA_ARGS__				\
			     : "memory", "cc")

/* if (*v != expect) fail; *v = newv */
PCPU__INLINE int pcpu_rseq_cs_cmpeqv_storev(intptr_t *v, intptr_t expect,
					    intptr_t newv, PCPU__CS_PARAMS)
{
	int st = 0;
	uint64_t t, x;

	PCPU__CS_ASM("ldr %[x], [%[v]]\n\t"
		     "cmp %[x], %[expect]\n\t"
		     "b.ne 5f\n\t"
		     "str %[newv], [%[v]]\n\t",
		     (, [x] "=&r"(x)),
		     [v] "r"(v), [expect] "r"(expect), [newv] "r"(newv));
	return st;
}

#define PCPU__CS_TRYSTORE(name, STR)					\
PCPU__INLINE int name(intptr_t *v, intptr_t expect, intptr_t *v2,	\
		      intptr_t newv2, intptr_t newv, PCPU__CS_PARAMS)	\
{									\
	int st = 0;							\
	uint64_t t, x;							\
									\
	PCPU__CS_ASM("ldr %[x], [%[v]]\n\t"				\
		     "cmp %[x], %[expect]\n\t"				\
		     "b.ne 5f\n\t"					\
		     "str %[newv2], [%[v2]]\n\t"			\
		     STR " %[newv], [%[v]]\n\t",			\
		     (, [x] "=&r"(x)),					\
		     [v] "r"(v), [expect] "r"(expect), [v2] "r"(v2),	\
		     [newv2] "r"(newv2), [newv] "r"(newv));		\
	return st;							\
}

/* if (*v != expect) fail; *v2 = newv2; *v = newv */
PCPU__CS_TRYSTORE(pcpu_rseq_cs_cmpeqv_trystorev_storev, "str")
PCPU__CS_TRYSTORE(pcpu_rseq_cs_cmpeqv_trystorev_storev_release, "stlr")

/* h = *v; if (h == expectnot) fail; *load = h; *v = *(h + off) */
PCPU__INLINE int pcpu_rseq_cs_cmpnev_storeoffp_load(intptr_t *v,
		intptr_t expectnot, long off, intptr_t *load, PCPU__CS_PARAMS)
{
	int st = 0;
	uint64_t t;
	intptr_t h, next;

	PCPU__CS_ASM("ldr %[h], [%[v]]\n\t"
		     "cmp %[h], %[expectnot]\n\t"
		     "b.eq 5f\n\t"
		     "ldr %[next], [%[h], %[off]]\n\t"
		     "str %[next], [%[v]]\n\t",
		     (, [h] "=&r"(h), [next] "=&r"(next)),
		     [v] "r"(v), [expectnot] "r"(expectnot), [off] "r"(off));
	if (st == 0)
		*load = h;
	return st;
}

/* if (*v != expect) fail; *load = *src; *v = newv */
PCPU__INLINE int pcpu_rseq_cs_cmpeqv_load_storev(intptr_t *v,
		intptr_t expect, const intptr_t *src, intptr_t *load,
		intptr_t newv, PCPU__CS_PARAMS)
{
	int st = 0;
	uint64_t t;
	intptr_t x;

	PCPU__CS_ASM("ldr %[x], [%[v]]\n\t"
		     "cmp %[x], %[expect]\n\t"
		     "b.ne 5f\n\t"
		     "ldr %[x], [%[src]]\n\t"
		     "str %[newv], [%[v]]\n\t",
		     (, [x] "=&r"(x)),
		     [v] "r"(v), [expect] "r"(expect), [src] "r"(src),
		     [newv] "r"(newv));
	if (st == 0)
		*load = x;
	return st;
}

/*
 * if (*v != expect) fail; memcpy(dst, src, len); *v = newv
 * 8-byte words, then the tail bytes; restarted as a whole.
 */
#define PCPU__CS_MEMCPY(name, STR)					\
PCPU__INLINE int name(intptr_t *v, intptr_t expect, void *dst,		\
		      const void *src, size_t len, intptr_t newv,	\
		      PCPU__CS_PARAMS)					\
{									\
	int st = 0;							\
	uint64_t t, x;							\
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;		\
	size_t n = len;							\
									\
	PCPU__CS_ASM("ldr %[x], [%[v]]\n\t"				\
		     "cmp %[x], %[expect]\n\t"				\
		     "b.ne 5f\n\t"					\
		     "cmp %[n], #8\n\t"					\
		     "b.lo 8f\n"					\
		     "7:\n\t"						\
		     "ldr %[x], [%[s]], #8\n\t"				\
		     "str %[x], [%[d]], #8\n\t"				\
		     "sub %[n], %[n], #8\n\t"				\
		     "cmp %[n], #8\n\t"					\
		     "b.hs 7b\n"					\
		     "8:\n\t"						\
		     "cbz %[n], 9f\n"					\
		     "10:\n\t"						\
		     "ldrb %w[x], [%[s]], #1\n\t"			\
		     "strb %w[x], [%[d]], #1\n\t"			\
		     "subs %[n], %[n], #1\n\t"				\
		     "b.ne 10b\n"					\
		     "9:\n\t"						\
		     STR " %[newv], [%[v]]\n\t",			\
		     (, [x] "=&r"(x), [d] "+&r"(d), [s] "+&r"(s),	\
		      [n] "+&r"(n)),					\
		     [v] "r"(v), [expect] "r"(expect), [newv] "r"(newv)); \
	return st;							\
}

PCPU__CS_MEMCPY(pcpu_rseq_cs_cmpeqv_trymemcpy_storev, "str")
PCPU__CS_MEMCPY(pcpu_rseq_cs_cmpeqv_trymemcpy_storev_release, "stlr")

/* *v += inc */
PCPU__INLINE int pcpu_rseq_cs_addv(intptr_t *v, intptr_t inc, PCPU__CS_PARAMS)
{
	int st = 0;
	uint64_t t, x;

	PCPU__CS_ASM("ldr %[x], [%[v]]\n\t"
		     "add %[x], %[x], %[inc]\n\t"
		     "str %[x], [%[v]]\n\t",
		     (, [x] "=&r"(x)),
		     [v] "r"(v), [inc] "r"(inc));
	return st;
}

/* *(*ptr + off) += inc */
PCPU__INLINE int pcpu_rseq_cs_offset_deref_addv(intptr_t *ptr, long off,
						intptr_t inc, PCPU__CS_PARAMS)
{
	int st = 0;
	uint64_t t, x;
	intptr_t b;

	PCPU__CS_ASM("ldr %[b], [%[ptr]]\n\t"
		     "add %[b], %[b], %[off]\n\t"
		     "ldr %[x], [%[b]]\n\t"
		     "add %[x], %[x], %[inc]\n\t"
		     "str %[x], [%[b]]\n\t",
		     (, [x] "=&r"(x), [b] "=&r"(b)),
		     [ptr] "r"(ptr), [off] "r"(off), [inc] "r"(inc));
	return st;
}

/* ---- appended: record sequences -------------------------------------- */

/*
 * The copy loop of the sequences below: 8-byte words, then the tail
 * bytes, from %[S] to %[D] for %[N] bytes (all three advanced), through
 * %[x].  Numeric labels may repeat in one asm (7b and 8f name the
 * nearest), so a sequence can hold two loops.
 */
#define PCPU__CS_COPY(D, S, N)						\
	"cmp %[" N "], #8\n\t"						\
	"b.lo 8f\n"							\
	"7:\n\t"							\
	"ldr %[x], [%[" S "]], #8\n\t"					\
	"str %[x], [%[" D "]], #8\n\t"					\
	"sub %[" N "], %[" N "], #8\n\t"				\
	"cmp %[" N "], #8\n\t"						\
	"b.hs 7b\n"							\
	"8:\n\t"							\
	"cbz %[" N "], 9f\n"						\
	"10:\n\t"							\
	"ldrb %w[x], [%[" S "]], #1\n\t"				\
	"strb %w[x], [%[" D "]], #1\n\t"				\
	"subs %[" N "], %[" N "], #1\n\t"				\
	"b.ne 10b\n"							\
	"9:\n\t"

/*
 * if (*v != expect) fail; *v2 = newv2; memcpy(dst, src, len); *v = newv
 * dmb ishst between the try-store and the copy: stores are not ordered
 * among themselves here, and the try-store must be visible first (cs.h).
 */
#define PCPU__CS_TRYSTORE_MEMCPY(name, STR)				\
PCPU__INLINE int name(intptr_t *v, intptr_t expect, intptr_t *v2,	\
		      intptr_t newv2, void *dst, const void *src,	\
		      size_t len, intptr_t newv, PCPU__CS_PARAMS)	\
{									\
	int st = 0;							\
	uint64_t t, x;							\
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;		\
	size_t n = len;							\
									\
	PCPU__CS_ASM("ldr %[x], [%[v]]\n\t"				\
		     "cmp %[x], %[expect]\n\t"				\
		     "b.ne 5f\n\t"					\
		     "str %[newv2], [%[v2]]\n\t"			\
		     "dmb ishst\n\t"					\
		     PCPU__CS_COPY("d", "s", "n")			\
		     STR " %[newv], [%[v]]\n\t",			\
		     (, [x] "=&r"(x), [d] "+&r"(d), [s] "+&r"(s),	\
		      [n] "+&r"(n)),					\
		     [v] "r"(v), [expect] "r"(expect), [v2] "r"(v2),	\
		     [newv2] "r"(newv2), [newv] "r"(newv));		\
	return st;							\
}

PCPU__CS_TRYSTORE_MEMCPY(pcpu_rseq_cs_cmpeqv_trystorev_trymemcpy_storev, "str")
PCPU__CS_TRYSTORE_MEMCPY(pcpu_rseq_cs_cmpeqv_trystorev_trymemcpy_storev_release,
			 "stlr")

/* if (*v != expect) fail; memcpy(dst, src1, len1);
 * memcpy(dst + len1, src2, len2); *v = newv */
#define PCPU__CS_MEMCPY2(name, STR)					\
PCPU__INLINE int name(intptr_t *v, intptr_t expect, void *dst,		\
		      const void *src1, size_t len1, const void *src2,	\
		      size_t len2, intptr_t newv, PCPU__CS_PARAMS)	\
{									\
	int st = 0;							\
	uint64_t t, x;							\
	uintptr_t d = (uintptr_t)dst, s1 = (uintptr_t)src1;		\
	uintptr_t s2 = (uintptr_t)src2;					\
	size_t n1 = len1, n2 = len2;					\
									\
	PCPU__CS_ASM("ldr %[x], [%[v]]\n\t"				\
		     "cmp %[x], %[expect]\n\t"				\
		     "b.ne 5f\n\t"					\
		     PCPU__CS_COPY("d", "s1", "n1")			\
		     PCPU__CS_COPY("d", "s2", "n2")			\
		     STR " %[newv], [%[v]]\n\t",			\
		     (, [x] "=&r"(x), [d] "+&r"(d), [s1] "+&r"(s1),	\
		      [n1] "+&r"(n1), [s2] "+&r"(s2), [n2] "+&r"(n2)),	\
		     [v] "r"(v), [expect] "r"(expect), [newv] "r"(newv)); \
	return st;							\
}

PCPU__CS_MEMCPY2(pcpu_rseq_cs_cmpeqv_trymemcpy2_storev, "str")
PCPU__CS_MEMCPY2(pcpu_rseq_cs_cmpeqv_trymemcpy2_storev_release, "stlr")

#endif /* PERCPU_ARCH_AARCH64_CS_H */
