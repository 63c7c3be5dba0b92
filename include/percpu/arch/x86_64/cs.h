/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/x86_64/cs.h - the critical sections of percpu/cs.h as
 * restartable sequences on x86_64.  Each implements the pseudo-code given
 * for it in cs.h, in the frame of arch/x86_64/rseq.h (arm, compare the
 * index at label 1, commit as the last instruction before label 2, abort
 * at label 4), with the same return contract: 0 committed, 1 compare
 * failed (left through label 5, listed in __rseq_exit_point_array),
 * -1 aborted.
 *
 * Words are intptr_t.  Every sequence clobbers "memory": they read and
 * write more than one location, some chosen at run time.
 *
 * Release variants: x86 keeps stores in program order (TSO), so the
 * stores before the commit are visible before it to any CPU that sees the
 * commit; the "memory" clobber keeps the compiler from sinking the
 * caller's earlier stores below it.  They are the plain sequences.
 */
#ifndef PERCPU_ARCH_X86_64_CS_H
#define PERCPU_ARCH_X86_64_CS_H

#include <stddef.h>
#include <stdint.h>

#include "rseq.h"

#define PCPU__UNPAREN(...)	__VA_ARGS__

/* Every sequence's last parameters: the rseq area's offset from the
 * thread pointer, the compared field's (cpu_id or mm_cid), the index. */
#define PCPU__CS_PARAMS		long rs, long cmp, uint32_t idx

/* One sequence: OUT is a parenthesized list of extra outputs, each
 * preceded by a comma; the inputs follow. */
#define PCPU__CS_ASM(body, OUT, ...)					\
	__asm__ __volatile__(PCPU__RSEQ_DESC PCPU__RSEQ_EXIT5		\
			     PCPU__RSEQ_START body PCPU__RSEQ_END_ST	\
			     : [st] "+r"(st) PCPU__UNPAREN OUT		\
			     : PCPU__RSEQ_FRAME_IN(rs, cmp, idx),	\
			       __VA_ARGS__				\
			     : "memory", "cc", "rax")

/* if (*v != expect) fail; *v = newv */
PCPU__INLINE int pcpu_rseq_cs_cmpeqv_storev(intptr_t *v, intptr_t expect,
					    intptr_t newv, PCPU__CS_PARAMS)
{
	int st = 0;

	PCPU__CS_ASM("cmpq %[expect], (%[v])\n\t"
		     "jnz 5f\n\t"
		     "movq %[newv], (%[v])\n\t",
		     (),
		     [v] "r"(v), [expect] "er"(expect), [newv] "er"(newv));
	return st;
}

/* if (*v != expect) fail; *v2 = newv2; *v = newv */
PCPU__INLINE int pcpu_rseq_cs_cmpeqv_trystorev_storev(intptr_t *v,
		intptr_t expect, intptr_t *v2, intptr_t newv2, intptr_t newv,
		PCPU__CS_PARAMS)
{
	int st = 0;

	PCPU__CS_ASM("cmpq %[expect], (%[v])\n\t"
		     "jnz 5f\n\t"
		     "movq %[newv2], (%[v2])\n\t"
		     "movq %[newv], (%[v])\n\t",
		     (),
		     [v] "r"(v), [expect] "er"(expect), [v2] "r"(v2),
		     [newv2] "er"(newv2), [newv] "er"(newv));
	return st;
}

#define pcpu_rseq_cs_cmpeqv_trystorev_storev_release			\
	pcpu_rseq_cs_cmpeqv_trystorev_storev

/* h = *v; if (h == expectnot) fail; *load = h; *v = *(h + off) */
PCPU__INLINE int pcpu_rseq_cs_cmpnev_storeoffp_load(intptr_t *v,
		intptr_t expectnot, long off, intptr_t *load, PCPU__CS_PARAMS)
{
	int st = 0;
	intptr_t h, next;

	PCPU__CS_ASM("movq (%[v]), %[h]\n\t"
		     "cmpq %[expectnot], %[h]\n\t"
		     "jz 5f\n\t"
		     "movq (%[h], %[off]), %[next]\n\t"
		     "movq %[next], (%[v])\n\t",
		     (, [h] "=&r"(h), [next] "=&r"(next)),
		     [v] "r"(v), [expectnot] "er"(expectnot), [off] "r"(off));
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
	intptr_t x;

	PCPU__CS_ASM("cmpq %[expect], (%[v])\n\t"
		     "jnz 5f\n\t"
		     "movq (%[src]), %[x]\n\t"
		     "movq %[newv], (%[v])\n\t",
		     (, [x] "=&r"(x)),
		     [v] "r"(v), [expect] "er"(expect), [src] "r"(src),
		     [newv] "er"(newv));
	if (st == 0)
		*load = x;
	return st;
}

/*
 * if (*v != expect) fail; memcpy(dst, src, len); *v = newv
 * The copy moves 8-byte words, then the tail bytes; restarted as a
 * whole, so a partial copy from an aborted attempt is overwritten by the
 * next one and never published.
 */
PCPU__INLINE int pcpu_rseq_cs_cmpeqv_trymemcpy_storev(intptr_t *v,
		intptr_t expect, void *dst, const void *src, size_t len,
		intptr_t newv, PCPU__CS_PARAMS)
{
	int st = 0;
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
	size_t n = len;

	PCPU__CS_ASM("cmpq %[expect], (%[v])\n\t"
		     "jnz 5f\n\t"
		     "cmpq $8, %[n]\n\t"
		     "jb 8f\n"
		     "7:\n\t"
		     "movq (%[s]), %%rax\n\t"
		     "movq %%rax, (%[d])\n\t"
		     "addq $8, %[s]\n\t"
		     "addq $8, %[d]\n\t"
		     "subq $8, %[n]\n\t"
		     "cmpq $8, %[n]\n\t"
		     "jae 7b\n"
		     "8:\n\t"
		     "testq %[n], %[n]\n\t"
		     "jz 9f\n"
		     "10:\n\t"
		     "movb (%[s]), %%al\n\t"
		     "movb %%al, (%[d])\n\t"
		     "incq %[s]\n\t"
		     "incq %[d]\n\t"
		     "decq %[n]\n\t"
		     "jnz 10b\n"
		     "9:\n\t"
		     "movq %[newv], (%[v])\n\t",
		     (, [d] "+&r"(d), [s] "+&r"(s), [n] "+&r"(n)),
		     [v] "r"(v), [expect] "er"(expect), [newv] "er"(newv));
	return st;
}

#define pcpu_rseq_cs_cmpeqv_trymemcpy_storev_release			\
	pcpu_rseq_cs_cmpeqv_trymemcpy_storev

/* *v += inc */
PCPU__INLINE int pcpu_rseq_cs_addv(intptr_t *v, intptr_t inc, PCPU__CS_PARAMS)
{
	int st = 0;

	PCPU__CS_ASM("addq %[inc], (%[v])\n\t",
		     (),
		     [v] "r"(v), [inc] "er"(inc));
	return st;
}

/* *(*ptr + off) += inc */
PCPU__INLINE int pcpu_rseq_cs_offset_deref_addv(intptr_t *ptr, long off,
						intptr_t inc, PCPU__CS_PARAMS)
{
	int st = 0;
	intptr_t b;

	PCPU__CS_ASM("movq (%[ptr]), %[b]\n\t"
		     "addq %[inc], (%[b], %[off])\n\t",
		     (, [b] "=&r"(b)),
		     [ptr] "r"(ptr), [off] "r"(off), [inc] "er"(inc));
	return st;
}

/* ---- appended: record sequences -------------------------------------- */

/*
 * The copy loop of the sequences below: 8-byte words, then the tail
 * bytes, from %[S] to %[D] for %[N] bytes (all three advanced), through
 * %rax.  Numeric labels may repeat in one asm (7b and 8f name the
 * nearest), so a sequence can hold two loops.
 */
#define PCPU__CS_COPY(D, S, N)						\
	"cmpq $8, %[" N "]\n\t"						\
	"jb 8f\n"							\
	"7:\n\t"							\
	"movq (%[" S "]), %%rax\n\t"					\
	"movq %%rax, (%[" D "])\n\t"					\
	"addq $8, %[" S "]\n\t"						\
	"addq $8, %[" D "]\n\t"						\
	"subq $8, %[" N "]\n\t"						\
	"cmpq $8, %[" N "]\n\t"						\
	"jae 7b\n"							\
	"8:\n\t"							\
	"testq %[" N "], %[" N "]\n\t"					\
	"jz 9f\n"							\
	"10:\n\t"							\
	"movb (%[" S "]), %%al\n\t"					\
	"movb %%al, (%[" D "])\n\t"					\
	"incq %[" S "]\n\t"						\
	"incq %[" D "]\n\t"						\
	"decq %[" N "]\n\t"						\
	"jnz 10b\n"							\
	"9:\n\t"

/*
 * if (*v != expect) fail; *v2 = newv2; memcpy(dst, src, len); *v = newv
 * TSO keeps the try-store before the copy's stores for every CPU.
 */
PCPU__INLINE int pcpu_rseq_cs_cmpeqv_trystorev_trymemcpy_storev(intptr_t *v,
		intptr_t expect, intptr_t *v2, intptr_t newv2, void *dst,
		const void *src, size_t len, intptr_t newv, PCPU__CS_PARAMS)
{
	int st = 0;
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
	size_t n = len;

	PCPU__CS_ASM("cmpq %[expect], (%[v])\n\t"
		     "jnz 5f\n\t"
		     "movq %[newv2], (%[v2])\n\t"
		     PCPU__CS_COPY("d", "s", "n")
		     "movq %[newv], (%[v])\n\t",
		     (, [d] "+&r"(d), [s] "+&r"(s), [n] "+&r"(n)),
		     [v] "r"(v), [expect] "er"(expect), [v2] "r"(v2),
		     [newv2] "er"(newv2), [newv] "er"(newv));
	return st;
}

#define pcpu_rseq_cs_cmpeqv_trystorev_trymemcpy_storev_release		\
	pcpu_rseq_cs_cmpeqv_trystorev_trymemcpy_storev

/* if (*v != expect) fail; memcpy(dst, src1, len1);
 * memcpy(dst + len1, src2, len2); *v = newv */
PCPU__INLINE int pcpu_rseq_cs_cmpeqv_trymemcpy2_storev(intptr_t *v,
		intptr_t expect, void *dst, const void *src1, size_t len1,
		const void *src2, size_t len2, intptr_t newv, PCPU__CS_PARAMS)
{
	int st = 0;
	uintptr_t d = (uintptr_t)dst, s1 = (uintptr_t)src1;
	uintptr_t s2 = (uintptr_t)src2;
	size_t n1 = len1, n2 = len2;

	PCPU__CS_ASM("cmpq %[expect], (%[v])\n\t"
		     "jnz 5f\n\t"
		     PCPU__CS_COPY("d", "s1", "n1")
		     PCPU__CS_COPY("d", "s2", "n2")
		     "movq %[newv], (%[v])\n\t",
		     (, [d] "+&r"(d), [s1] "+&r"(s1), [n1] "+&r"(n1),
		      [s2] "+&r"(s2), [n2] "+&r"(n2)),
		     [v] "r"(v), [expect] "er"(expect), [newv] "er"(newv));
	return st;
}

#define pcpu_rseq_cs_cmpeqv_trymemcpy2_storev_release			\
	pcpu_rseq_cs_cmpeqv_trymemcpy2_storev

#endif /* PERCPU_ARCH_X86_64_CS_H */
