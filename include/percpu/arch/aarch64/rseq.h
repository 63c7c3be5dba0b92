/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/aarch64/rseq.h - this_cpu primitives as restartable
 * sequences on AArch64.  Same specification and return contract as the
 * x86_64 file (see there): arm rseq_cs, read cpu_id (or mm_cid) inside the
 * sequence, bound-check it (-1/-2 mean "not registered": exit 2), form the
 * copy's address, compute, and commit with one final store; the kernel
 * redirects to the abort handler (status 1) on preemption, migration or
 * signal before the commit.
 *
 * The abort handler is preceded by the signature, emitted as an
 * instruction word (BRK #0x45e0, glibc's RSEQ_SIG for AArch64).  Narrow
 * operands are compared with an explicit zero extension, since the upper
 * bits of a register holding a uint8_t/uint16_t are not defined.
 * The early exit stays in the text section, behind the commit: a
 * conditional branch reaches only +-1 MiB, not a far section.
 */
#ifndef PERCPU_ARCH_AARCH64_RSEQ_H
#define PERCPU_ARCH_AARCH64_RSEQ_H

#include <stdint.h>

#include "../../runtime.h"
#include "cpu.h"

#define PCPU_RSEQ_SIG		0xd428bc00
#define PCPU__RSEQ_CPU_ID	4
#define PCPU__RSEQ_CS		8
#define PCPU__RSEQ_MM_CID	24

#define PCPU__STR_(x)	#x
#define PCPU__STR(x)	PCPU__STR_(x)

#define PCPU__RSEQ_BEGIN						\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n"							\
	".Lpcpu_cs_%=:\n\t"						\
	".long 0, 0\n\t"						\
	".quad 1f, 2f - 1f, 4f\n\t"					\
	".popsection\n\t"						\
	".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"			\
	".quad .Lpcpu_cs_%=\n\t"					\
	".popsection\n\t"						\
	".pushsection __rseq_exit_point_array, \"aw\"\n\t"		\
	".quad 1f, 5f\n\t"						\
	".popsection\n\t"						\
	"adrp %[idx], .Lpcpu_cs_%=\n\t"					\
	"add %[idx], %[idx], :lo12:.Lpcpu_cs_%=\n\t"			\
	"str %[idx], [%[rs], #" PCPU__STR(PCPU__RSEQ_CS) "]\n"		\
	"1:\n\t"

#define PCPU__RSEQ_END							\
	"2:\n\t"							\
	"b 6f\n"							\
	"5:\n\t"							\
	"mov %w[st], #2\n\t"						\
	"b 6f\n\t"							\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	".inst " PCPU__STR(PCPU_RSEQ_SIG) "\n"				\
	"4:\n\t"							\
	"mov %w[st], #1\n\t"						\
	"b 6f\n\t"							\
	".popsection\n"							\
	"6:\n\t"

#define PCPU__RSEQ_IDX_cpu						\
	"ldr %w[idx], [%[rs], #" PCPU__STR(PCPU__RSEQ_CPU_ID) "]\n\t"	\
	"cmp %w[idx], %w[nr]\n\t"					\
	"b.hs 5f\n\t"

#define PCPU__RSEQ_IDX_cid						\
	"ldr %w[idx], [%[rs], #" PCPU__STR(PCPU__RSEQ_CPU_ID) "]\n\t"	\
	"cmp %w[idx], %w[nr]\n\t"					\
	"b.hs 5f\n\t"							\
	"ldr %w[idx], [%[rs], #" PCPU__STR(PCPU__RSEQ_MM_CID) "]\n\t"	\
	"cmp %w[idx], %w[nr]\n\t"					\
	"b.hs 5f\n\t"

/* rs is the area's address: the thread pointer plus the offset. */
#define PCPU__RSEQ_AREA							\
	((char *)__builtin_thread_pointer() + pcpu__rt.rseq_off)

#define PCPU__RSEQ_OP(ix, op, n, T, body)				\
PCPU__INLINE int pcpu_rseq_##ix##_##op##_##n(void *p, T a, T b, T *out) \
{									\
	int st = 0;							\
	uint64_t idx;							\
	T r;								\
									\
	__asm__ __volatile__(PCPU__RSEQ_BEGIN PCPU__RSEQ_IDX_##ix	\
		"lsl %[idx], %[idx], %[sh]\n\t"				\
		"add %[idx], %[idx], %[p]\n\t"				\
		body							\
		PCPU__RSEQ_END						\
		: [st] "+r"(st), [idx] "=&r"(idx), [r] "=&r"(r)		\
		: [rs] "r"(PCPU__RSEQ_AREA), [nr] "r"(pcpu__rt.nr),	\
		  [p] "r"(p), [sh] "r"((uint64_t)pcpu__rt.shift),	\
		  [a] "r"(a), [b] "r"(b)				\
		: "memory", "cc");					\
	*out = r;							\
	return st;							\
}

/*
 * L/S: load/store mnemonic suffix ("b", "h", ""), W: register view ("w"
 * or "x"), X: operand extension for the compare ("", ", uxtb", ", uxth").
 */
#define PCPU__RSEQ_DEFINE(ix, n, L, W, X, T)				\
PCPU__RSEQ_OP(ix, add, n, T,						\
	"ldr" L " %" W "[r], [%[idx]]\n\t"				\
	"add %" W "[r], %" W "[r], %" W "[a]\n\t"			\
	"str" L " %" W "[r], [%[idx]]\n\t")				\
PCPU__RSEQ_OP(ix, add_return, n, T,					\
	"ldr" L " %" W "[r], [%[idx]]\n\t"				\
	"add %" W "[r], %" W "[r], %" W "[a]\n\t"			\
	"str" L " %" W "[r], [%[idx]]\n\t")				\
PCPU__RSEQ_OP(ix, xchg, n, T,						\
	"ldr" L " %" W "[r], [%[idx]]\n\t"				\
	"str" L " %" W "[a], [%[idx]]\n\t")				\
PCPU__RSEQ_OP(ix, cmpxchg, n, T,					\
	"ldr" L " %" W "[r], [%[idx]]\n\t"				\
	"cmp %" W "[r], %" W "[a]" X "\n\t"				\
	"b.ne 2f\n\t"							\
	"str" L " %" W "[b], [%[idx]]\n\t")				\
PCPU__RSEQ_OP(ix, write, n, T,						\
	"str" L " %" W "[a], [%[idx]]\n\t")

/* The add primitive returns the new value too; add ignores it. */
PCPU__RSEQ_DEFINE(cpu, 1, "b", "w", ", uxtb", uint8_t)
PCPU__RSEQ_DEFINE(cpu, 2, "h", "w", ", uxth", uint16_t)
PCPU__RSEQ_DEFINE(cpu, 4, "", "w", "", uint32_t)
PCPU__RSEQ_DEFINE(cpu, 8, "", "x", "", uint64_t)
PCPU__RSEQ_DEFINE(cid, 1, "b", "w", ", uxtb", uint8_t)
PCPU__RSEQ_DEFINE(cid, 2, "h", "w", ", uxth", uint16_t)
PCPU__RSEQ_DEFINE(cid, 4, "", "w", "", uint32_t)
PCPU__RSEQ_DEFINE(cid, 8, "", "x", "", uint64_t)

#include "../rseq_common.h"

#endif /* PERCPU_ARCH_AARCH64_RSEQ_H */
