/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/x86_64/rseq.h - restartable sequences on x86_64: the frame
 * every sequence shares, and the this_cpu primitives.
 *
 * Every sequence follows one specification (librseq's shape):
 *
 *	(caller) idx = rseq->cpu_id (or mm_cid), checked < nr outside;
 *	         addr = the copy's word, computed outside
 *	arm:     rseq->rseq_cs = &descriptor
 *	start:   if (rseq->cpu_id (or mm_cid) != idx) goto abort
 *	         ... loads and computation on this copy ...
 *	commit:  one store (or one read-modify-write instruction)
 *	post_commit:
 *	abort:   (also where the kernel sends a thread preempted, migrated or
 *	         signalled between start and post_commit) -> nothing written
 *
 * Why the index is read outside and compared inside: the commit's address
 * does not wait on a segment-relative load inside the sequence (librseq's
 * x86_64 add does the same), and the comparison makes the commit happen
 * only while the thread still runs on that CPU (or holds that mm_cid):
 * a thread preempted between the read and the start resumes with a
 * different cpu_id, or is aborted by the kernel once armed.  All writers of
 * a copy thus run on one CPU, one at a time, and the commit needs no lock
 * prefix.  An unregistered thread has cpu_id -1 or -2: the caller's bound
 * check sends it to the slow path before any sequence.
 *
 * The field compared is cpu_id, or mm_cid when indexing by concurrency
 * id: the this_cpu primitives come in both flavours (ix = cpu, cid, the
 * offset an immediate), the critical sections of cs.h take the field's
 * offset in a register.
 *
 * Return contract, the same for every sequence: 0 = committed (outputs
 * valid), 1 = compare failed (a sequence with an expected value: nothing
 * written), -1 = aborted before the commit (nothing committed: retry).
 * Sequences without outputs jump to the caller's labels (asm goto, two
 * instructions shorter); the others return the status in a register.
 *
 * Memory: the single-word primitives name the word they write as a memory
 * operand, and nothing else ("memory" is not clobbered), so the compiler
 * keeps unrelated values, and the runtime fields, in registers across
 * them.  The instruction itself addresses the word through one register
 * (%[ap]), never base + index: on AMD Zen a read-modify-write with an
 * indexed address misses the fast store-to-load forwarding of a chain of
 * increments (measured: 2.5 ns per increment of one counter instead of
 * 0.8).  The multi-step sequences of cs.h clobber "memory".
 *
 * Each expansion emits its descriptor into __rseq_cs, a pointer to it into
 * __rseq_cs_ptr_array, and any early exit into __rseq_exit_point_array, so
 * debuggers and binary instrumenters can find the sequences.  Single-step
 * through one and it aborts every time: break after the commit instead.
 */
#ifndef PERCPU_ARCH_X86_64_RSEQ_H
#define PERCPU_ARCH_X86_64_RSEQ_H

#include <stdint.h>

#include "../../runtime.h"
#include "cpu.h"

#define PCPU_RSEQ_SIG		0x53053053
#define PCPU__RSEQ_CPU_ID	4	/* offsetof(struct rseq, cpu_id) */
#define PCPU__RSEQ_CS		8	/* offsetof(struct rseq, rseq_cs) */
#define PCPU__RSEQ_MM_CID	24	/* offsetof(struct rseq, mm_cid) */

#define PCPU__STR_(x)	#x
#define PCPU__STR(x)	PCPU__STR_(x)

/*
 * The descriptor (label 3), its entry in __rseq_cs_ptr_array, and the
 * arming store.  Labels: 1 start, 2 post-commit, 4 abort handler.
 */
#define PCPU__RSEQ_DESC							\
	".pushsection __rseq_cs, \"aw\"\n\t"				\
	".balign 32\n"							\
	"3:\n\t"							\
	".long 0, 0\n\t"						\
	".quad 1f, 2f - 1f, 4f\n\t"					\
	".popsection\n\t"						\
	".pushsection __rseq_cs_ptr_array, \"aw\"\n\t"			\
	".quad 3b\n\t"							\
	".popsection\n\t"

/* An early exit to label 5 (compare failed), for instrumenters. */
#define PCPU__RSEQ_EXIT5						\
	".pushsection __rseq_exit_point_array, \"aw\"\n\t"		\
	".quad 1f, 5f\n\t"						\
	".popsection\n\t"

/* Arm with %rax as the scratch register; the index check follows. */
#define PCPU__RSEQ_ARM							\
	"leaq 3b(%%rip), %%rax\n\t"					\
	"movq %%rax, %%fs:" PCPU__STR(PCPU__RSEQ_CS) "(%q[rs])\n"	\
	"1:\n\t"

/* Start with the compared field at a fixed offset F (cpu_id, mm_cid). */
#define PCPU__RSEQ_START_AT(F)						\
	PCPU__RSEQ_ARM							\
	"cmpl %[idx], %%fs:" F "(%q[rs])\n\t"				\
	"jnz 4f\n\t"

/* Start with the compared field's offset in the register %[cmp]. */
#define PCPU__RSEQ_START						\
	PCPU__RSEQ_ARM							\
	"cmpl %[idx], %%fs:(%q[cmp])\n\t"				\
	"jnz 4f\n\t"

#define PCPU__RSEQ_F_cpu	PCPU__STR(PCPU__RSEQ_CPU_ID)
#define PCPU__RSEQ_F_cid	PCPU__STR(PCPU__RSEQ_MM_CID)

/* The abort handler behind its signature, out of line. */
#define PCPU__RSEQ_ABORT_SECTION					\
	".pushsection __rseq_failure, \"ax\"\n\t"			\
	".byte 0x0f, 0xb9, 0x3d\n\t"					\
	".long " PCPU__STR(PCPU_RSEQ_SIG) "\n"				\
	"4:\n\t"

/* End of a sequence with a status register %[st] (0 on entry). */
#define PCPU__RSEQ_END_ST						\
	"2:\n\t"							\
	PCPU__RSEQ_ABORT_SECTION					\
	"movl $-1, %k[st]\n\t"						\
	"jmp 6f\n"							\
	"5:\n\t"							\
	"movl $1, %k[st]\n\t"						\
	"jmp 6f\n\t"							\
	".popsection\n"							\
	"6:\n\t"

/* End of a sequence without outputs: abort to the caller's label. */
#define PCPU__RSEQ_END_GOTO						\
	"2:\n\t"							\
	PCPU__RSEQ_ABORT_SECTION					\
	"jmp %l[aborted]\n\t"						\
	".popsection\n\t"

/* Inputs of a cs.h sequence: the area, the compared field, the index. */
#define PCPU__RSEQ_FRAME_IN(rs, cmp, idx)				\
	[rs] "r"(rs), [cmp] "r"(cmp), [idx] "r"(idx)

/*
 * A single-word primitive without a result: add, write.  a is the copy's
 * word, rs the area's offset from the thread pointer, idx the index; C is
 * the constraint for the operand (immediates allowed where the instruction
 * takes one).
 */
#define PCPU__RSEQ_OP_GOTO(ix, op, n, C, T, body)			\
PCPU__INLINE int pcpu_rseq_##ix##_##op##_##n(T *a, long rs, uint32_t idx, \
					     T x, T y, T *out)		\
{									\
	(void)y;							\
	(void)out;							\
	__asm__ __volatile__ goto(PCPU__RSEQ_DESC			\
		PCPU__RSEQ_START_AT(PCPU__RSEQ_F_##ix)			\
		body							\
		PCPU__RSEQ_END_GOTO					\
		: [m] "+m"(*a)						\
		: [rs] "r"(rs), [idx] "r"(idx), [ap] "r"(a), [x] C(x)	\
		: "cc", "rax"						\
		: aborted);						\
	return 0;							\
aborted:								\
	return -1;							\
}

/*
 * A single-word primitive with a result: the body leaves it in %[r]
 * (early-clobbered output), reading %[x] and %[y]; *out gets r after a
 * commit, transformed by FIX (add_return turns xadd's old value into the
 * new one).
 */
#define PCPU__RSEQ_OP_ST(ix, op, n, C, T, FIX, body)			\
PCPU__INLINE int pcpu_rseq_##ix##_##op##_##n(T *a, long rs, uint32_t idx, \
					     T x, T y, T *out)		\
{									\
	int st = 0;							\
	T r;								\
									\
	__asm__ __volatile__(PCPU__RSEQ_DESC				\
		PCPU__RSEQ_START_AT(PCPU__RSEQ_F_##ix)			\
		body							\
		PCPU__RSEQ_END_ST					\
		: [m] "+m"(*a), [st] "+r"(st), [r] "=&r"(r)		\
		: [rs] "r"(rs), [idx] "r"(idx), [ap] "r"(a), [x] C(x),	\
		  [y] C(y)						\
		: "cc", "rax");						\
	(void)x;							\
	(void)y;							\
	*out = (T)(FIX);						\
	return st;							\
}

/*
 * Every primitive for one operand size: S is the instruction suffix, M
 * the register modifier, C the constraint for operands that may be
 * immediates.  The commit is the last instruction of the body:
 *	add:        *m += x
 *	write:      *m = x
 *	add_return: r = x; xadd r, *m (unlocked: one instruction, the
 *	            commit); returns r + x, the new value
 *	xchg:       r = *m; *m = x (a load and a store: the xchg
 *	            instruction would lock)
 *	cmpxchg:    r = *m; if (r != x) leave through post_commit, nothing
 *	            stored; *m = y
 */
#define PCPU__RSEQ_DEFINE_IX(ix, n, S, M, C, T)				\
PCPU__RSEQ_OP_GOTO(ix, add, n, C, T,					\
	"add" S " %" M "[x], (%[ap])\n\t")					\
PCPU__RSEQ_OP_GOTO(ix, write, n, C, T,					\
	"mov" S " %" M "[x], (%[ap])\n\t")					\
PCPU__RSEQ_OP_ST(ix, add_return, n, C, T, r + x,			\
	"mov" S " %" M "[x], %" M "[r]\n\t"				\
	"xadd" S " %" M "[r], (%[ap])\n\t")				\
PCPU__RSEQ_OP_ST(ix, xchg, n, C, T, r,					\
	"mov" S " (%[ap]), %" M "[r]\n\t"					\
	"mov" S " %" M "[x], (%[ap])\n\t")					\
PCPU__RSEQ_OP_ST(ix, cmpxchg, n, C, T, r,				\
	"mov" S " (%[ap]), %" M "[r]\n\t"					\
	"cmp" S " %" M "[x], %" M "[r]\n\t"				\
	"jne 2f\n\t"							\
	"mov" S " %" M "[y], (%[ap])\n\t")

#define PCPU__RSEQ_DEFINE(n, S, M, C, T)				\
	PCPU__RSEQ_DEFINE_IX(cpu, n, S, M, C, T)			\
	PCPU__RSEQ_DEFINE_IX(cid, n, S, M, C, T)

PCPU__RSEQ_DEFINE(1, "b", "b", "iq", uint8_t)
PCPU__RSEQ_DEFINE(2, "w", "w", "ir", uint16_t)
PCPU__RSEQ_DEFINE(4, "l", "k", "ir", uint32_t)
PCPU__RSEQ_DEFINE(8, "q", "q", "er", uint64_t)

#include "../rseq_common.h"

#endif /* PERCPU_ARCH_X86_64_RSEQ_H */
