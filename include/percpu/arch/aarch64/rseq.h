/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/aarch64/rseq.h - restartable sequences on AArch64: the frame
 * every sequence shares, and the this_cpu primitives.  Same specification
 * and return contract as the x86_64 file (see there): the caller reads and
 * bound-checks the index and forms the copy's address; the sequence arms
 * rseq_cs, compares cpu_id (or mm_cid) with the index, computes, and
 * commits with one final store; the kernel redirects to the abort handler
 * (status -1) on preemption, migration or signal before the commit.
 * Status 1: a compare failed, nothing stored.
 *
 * The abort handler is preceded by the signature, emitted as an
 * instruction word (BRK #0x45e0, glibc's RSEQ_SIG for AArch64), and lives
 * out of line.  Narrow operands are compared with an explicit zero
 * extension, since the upper bits of a register holding a uint8_t or
 * uint16_t are not defined.  Little-endian only (the signature is an
 * instruction word; big-endian AArch64 is not supported).
 *
 * rs is the rseq area's address (thread pointer + offset): AArch64 has no
 * segment-relative addressing, the address is formed once outside.
 */
#ifndef PERCPU_ARCH_AARCH64_RSEQ_H
#define PERCPU_ARCH_AARCH64_RSEQ_H

#include <stdint.h>

#include "../../runtime.h"
#include "cpu.h"

#if defined(__AARCH64EB__)
#error "libpercpu: big-endian AArch64 is not supported"
#endif

#define PCPU_RSEQ_SIG		0xd428bc00
#define PCPU__RSEQ_CPU_ID	4
#define PCPU__RSEQ_CS		8
#define PCPU__RSEQ_MM_CID	24

#define PCPU__STR_(x)	#x
#define PCPU__STR(x)	PCPU__STR_(x)

/* Descriptor, its pointer, and the exit to label 5 for instrumenters. */
#define PCPU__RSEQ_DESC							\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n"							\
	".Lpcpu_cs_%=:\n\t"						\
	".long 0, 0\n\t"						\
	".quad 1f, 2f - 1f, 4f\n\t"					\
	".popsection\n\t"						\
	".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"			\
	".quad .Lpcpu_cs_%=\n\t"					\
	".popsection\n\t"

#define PCPU__RSEQ_EXIT5						\
	".pushsection __rseq_exit_point_array, \"aw\"\n\t"		\
	".quad 1f, 5f\n\t"						\
	".popsection\n\t"

/* Arm (scratch %[t]), then compare the field at offset F with %w[idx]. */
#define PCPU__RSEQ_START_AT(F)						\
	"adrp %[t], .Lpcpu_cs_%=\n\t"					\
	"add %[t], %[t], :lo12:.Lpcpu_cs_%=\n\t"			\
	"str %[t], [%[rs], #" PCPU__STR(PCPU__RSEQ_CS) "]\n"		\
	"1:\n\t"							\
	"ldr %w[t], [%[rs], #" F "]\n\t"				\
	"cmp %w[t], %w[idx]\n\t"					\
	"b.ne 4f\n\t"

/* The same with the field's offset from the area in %[cmp]. */
#define PCPU__RSEQ_START						\
	"adrp %[t], .Lpcpu_cs_%=\n\t"					\
	"add %[t], %[t], :lo12:.Lpcpu_cs_%=\n\t"			\
	"str %[t], [%[rs], #" PCPU__STR(PCPU__RSEQ_CS) "]\n"		\
	"1:\n\t"							\
	"ldr %w[t], [%[rs], %[cmp]]\n\t"				\
	"cmp %w[t], %w[idx]\n\t"					\
	"b.ne 4f\n\t"

#define PCPU__RSEQ_F_cpu	PCPU__STR(PCPU__RSEQ_CPU_ID)
#define PCPU__RSEQ_F_cid	PCPU__STR(PCPU__RSEQ_MM_CID)

/* End with a status register %[st] (0 on entry). */
#define PCPU__RSEQ_END_ST						\
	"2:\n\t"							\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	".inst " PCPU__STR(PCPU_RSEQ_SIG) "\n"				\
	"4:\n\t"							\
	"mov %w[st], #-1\n\t"						\
	"b 6f\n"							\
	"5:\n\t"							\
	"mov %w[st], #1\n\t"						\
	"b 6f\n\t"							\
	".popsection\n"							\
	"6:\n\t"

/* The rseq area's address, from its offset to the thread pointer. */
#define PCPU__RSEQ_AREA(off)						\
	((char *)__builtin_thread_pointer() + (off))

/*
 * One single-word primitive: the body reads the copy's word at [%[a]]
 * (named to the compiler as %[m]) and leaves the result in %[r].
 */
#define PCPU__RSEQ_OP(ix, op, n, T, FIX, body)				\
PCPU__INLINE int pcpu_rseq_##ix##_##op##_##n(T *a, long rs, uint32_t idx, \
					     T x, T y, T *out)		\
{									\
	int st = 0;							\
	uint64_t t;							\
	T r;								\
									\
	__asm__ __volatile__(PCPU__RSEQ_DESC				\
		PCPU__RSEQ_START_AT(PCPU__RSEQ_F_##ix)			\
		body							\
		PCPU__RSEQ_END_ST					\
		: [st] "+r"(st), [t] "=&r"(t), [r] "=&r"(r),		\
		  [m] "+m"(*a)						\
		: [rs] "r"(PCPU__RSEQ_AREA(rs)), [idx] "r"(idx),	\
		  [a] "r"(a), [x] "r"(x), [y] "r"(y)			\
		: "cc");						\
	(void)x;							\
	*out = (T)(FIX);						\
	return st;							\
}

/*
 * L: load/store suffix ("b", "h", ""), W: register view ("w" or "x"),
 * X: operand extension for the compare ("", ", uxtb", ", uxth").
 *	add, add_return: r = *a + x; *a = r	(returns the new value)
 *	write:           *a = x
 *	xchg:            r = *a; *a = x
 *	cmpxchg:         r = *a; if (r != x) leave via post_commit; *a = y
 */
#define PCPU__RSEQ_DEFINE_IX(ix, n, L, W, X, T)				\
PCPU__RSEQ_OP(ix, add, n, T, r,						\
	"ldr" L " %" W "[r], [%[a]]\n\t"				\
	"add %" W "[r], %" W "[r], %" W "[x]\n\t"			\
	"str" L " %" W "[r], [%[a]]\n\t")				\
PCPU__RSEQ_OP(ix, add_return, n, T, r,					\
	"ldr" L " %" W "[r], [%[a]]\n\t"				\
	"add %" W "[r], %" W "[r], %" W "[x]\n\t"			\
	"str" L " %" W "[r], [%[a]]\n\t")				\
PCPU__RSEQ_OP(ix, write, n, T, r,					\
	"mov %" W "[r], %" W "[x]\n\t"					\
	"str" L " %" W "[x], [%[a]]\n\t")				\
PCPU__RSEQ_OP(ix, xchg, n, T, r,					\
	"ldr" L " %" W "[r], [%[a]]\n\t"				\
	"str" L " %" W "[x], [%[a]]\n\t")				\
PCPU__RSEQ_OP(ix, cmpxchg, n, T, r,					\
	"ldr" L " %" W "[r], [%[a]]\n\t"				\
	"cmp %" W "[r], %" W "[x]" X "\n\t"				\
	"b.ne 2f\n\t"							\
	"str" L " %" W "[y], [%[a]]\n\t")

#define PCPU__RSEQ_DEFINE(n, L, W, X, T)				\
	PCPU__RSEQ_DEFINE_IX(cpu, n, L, W, X, T)			\
	PCPU__RSEQ_DEFINE_IX(cid, n, L, W, X, T)

PCPU__RSEQ_DEFINE(1, "b", "w", ", uxtb", uint8_t)
PCPU__RSEQ_DEFINE(2, "h", "w", ", uxth", uint16_t)
PCPU__RSEQ_DEFINE(4, "", "w", "", uint32_t)
PCPU__RSEQ_DEFINE(8, "", "x", "", uint64_t)

#include "../rseq_common.h"

#endif /* PERCPU_ARCH_AARCH64_RSEQ_H */
