/* SPDX-License-Identifier: MIT */
/*
 * percpu/cs.h - per-CPU critical sections: multi-step operations on one
 * CPU's data that either commit with one final store or are restarted.
 *
 * The this_cpu ops of ops.h change one word.  Structures need more: pop
 * the head of this CPU's free list (read head, read its link, store the
 * link), push onto this CPU's slab of pointers (store the pointer, then
 * the count), append a record to this CPU's buffer (copy it in, then move
 * the write position).  Each sequence below does one such step as a unit:
 * it works on the data of one copy index (cs->cpu), its loads and
 * try-stores may happen any number of times, and its final store happens
 * at most once and only while nothing else ran on that copy since the
 * sequence started.  The shapes are librseq's (its pseudocode.h), and
 * every backend implements each with the same return contract.
 *
 * Using one: pick the copy, read what the sequence will expect, compute
 * the addresses of that copy's words, run it; on PCPU_CS_RETRY pick again.
 *
 *	struct pcpu_cs cs;
 *	int r;
 *
 *	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
 *		struct slab *s = pcpu_ptr(slabs, cs.cpu);
 *		intptr_t n = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
 *
 *		if (n == 0)
 *			return refill();	// nothing on this CPU
 *		r = pcpu_cs_cmpeqv_load_storev(&cs, &s->count, n,
 *					       &s->obj[n - 1], &obj, n - 1);
 *		if (r == PCPU_CS_OK)
 *			return obj;
 *		// PCPU_CS_FAIL: count changed under us; PCPU_CS_RETRY:
 *		// preempted, migrated or signalled.  Either way: again.
 *	}
 *
 * Return contract, every sequence, every backend:
 *	PCPU_CS_OK     (0)   committed: the final store happened, outputs set
 *	PCPU_CS_FAIL   (1)   a comparison failed: nothing was stored (no
 *	                     try-store either), outputs untouched
 *	PCPU_CS_RETRY  (-1)  not committed: preempted, migrated, signalled,
 *	                     or moved to another copy; try-stores may have
 *	                     happened; call pcpu_cs_next() and try again
 *
 * Backends.  rseq (the rseq backend, and the gs backends where rseq can
 * be registered): each sequence is one restartable sequence
 * (arch/<arch>/cs.h) that compares the thread's cpu_id (or mm_cid) with
 * cs->cpu after arming and commits with its last instruction; no lock
 * prefix, no system call.  Locked (the atomic backend, and the gs
 * backends without rseq): each sequence runs under a lock word of its
 * copy (futex-backed locks per copy index), and its final store is a
 * compare-and-swap, so that it stays correct next to the atomic backend's
 * lock-free this_cpu ops.  Not next to the gs backends' this_cpu ops:
 * those are plain read-modify-writes through %gs (incq, no lock prefix),
 * and a lock holder that migrated commits with its compare-and-swap on
 * its old CPU's copy while a this_cpu op there can overwrite it; on gs
 * without rseq, keep words that sections write apart from words the
 * this_cpu ops write.  Sections from pcpu_cs_begin() block signals for
 * their duration, so that a handler never runs inside one (two system
 * calls per section: the locked implementation is correct first, fast
 * second); nosig sections (pcpu_cs_begin_nosig()) leave signals alone.
 *
 * Progress.  A thread that cannot complete a sequence (no rseq
 * registration possible, single-stepped by a debugger, instrumented)
 * moves, after PCPU_CS_MAX_ABORTS consecutive aborts, to the spare copy
 * (index pcpu_nr_copies() - 1), which no restartable sequence and no
 * this_cpu op of the rseq and gs fast paths ever writes: there it runs
 * the locked implementation (whose try-stores and copies are plain
 * stores, under the lock; a remote writer such as the cache's thief
 * writes it with plain stores too, after its mark and pcpu_cs_fence()).
 * Structures must therefore size their per-copy data for every copy
 * index, the spare included.
 *
 * Remote access.  A thread that must change another copy's data while its
 * CPU may be running sequences on it (draining a cache, stealing objects)
 * first publishes a mark that makes those sequences fail (a word their
 * comparison reads), then calls pcpu_cs_fence(cpu): when it returns, every
 * sequence that was running on that copy has committed or aborted, and
 * every later one sees the mark.  tcmalloc's model, here as a public call.
 *
 * Words are intptr_t (64-bit: the library is LP64 only), naturally
 * aligned.  Memory order: each sequence is a compiler barrier; for the
 * CPU, loads and try-stores are relaxed and the final store is a plain
 * store, except the _release variants whose final store is ordered after
 * every earlier load and store of the thread (publish data, then the word
 * that points at it).
 *
 * MT-safe, async-signal-safe (a handler may run sequences on the same
 * data as the code it interrupted), fork-safe (a child starts with every
 * copy unlocked).
 */
#ifndef PERCPU_CS_H
#define PERCPU_CS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"
#include "region.h"
#include "alloc.h"
#include "arch/arch.h"
#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_CS_OK		0
#define PCPU_CS_FAIL		1
#define PCPU_CS_RETRY		(-1)

/* Consecutive aborts before an operation moves to the spare copy. */
#define PCPU_CS_MAX_ABORTS	128

/*
 * One attempt's context.  cpu: the copy index the next sequence works
 * on; read it after pcpu_cs_begin() and after every pcpu_cs_next().  The
 * other fields belong to the library.
 */
/*
 * 16 bytes, passed and returned by value in registers: the compiler keeps
 * it out of memory on the fast paths (with its address taken by a slow
 * path it lived on the stack, and an allocation cost three times more).
 */
struct pcpu_cs {
	uint32_t cpu;
	int32_t rs;		/* rseq area, from the thread pointer */
	int32_t cmp;		/* the field compared (cpu_id, mm_cid) */
	uint8_t mode;		/* PCPU__CS_* */
	uint8_t shift;		/* log2(stride), for pcpu_cs_ptr() */
	uint8_t flags;		/* PCPU__CS_ABORTED, PCPU__CS_NOSIG */
	uint8_t tries;		/* consecutive aborts, saturating at
				 * PCPU_CS_MAX_ABORTS */
};

#define PCPU__CS_ABORTED	1	/* the last attempt aborted */
#define PCPU__CS_NOSIG		2	/* never from a signal handler */
/* The lock a locked section takes: the copy, and whether it is a nosig
 * section (its own lock word, signals left alone). */
#define PCPU__CS_NOSIG_BIT	(1u << 31)
#define PCPU__CS_LOCK_ARG(cs)						\
	((cs)->cpu | ((cs)->flags & PCPU__CS_NOSIG ? PCPU__CS_NOSIG_BIT : 0))

#define PCPU__CS_RSEQ		0	/* rseq, compares cpu_id */
#define PCPU__CS_LOCKED		1	/* locked backend: any copy */
#define PCPU__CS_RSEQ_CID	2	/* rseq, compares mm_cid */
#define PCPU__CS_SPARE		3	/* rseq fallback: the spare copy */
#define PCPU__CS_IS_LOCKED(m)	((m) & 1)

/* Slow paths, out of line (not API); cpu is the copy whose lock a locked
 * section takes. */
struct pcpu_cs pcpu__cs_pick_slow(uint8_t tries, uint8_t flags);
struct pcpu_cs pcpu__cs_after_abort(uint8_t tries, uint8_t flags);
int pcpu__cs_locked_cmpeqv_storev(uint32_t cpu, intptr_t *v,
				  intptr_t expect, intptr_t newv);
int pcpu__cs_locked_cmpeqv_trystorev_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, intptr_t *v2, intptr_t newv2,
		intptr_t newv, int release);
int pcpu__cs_locked_cmpnev_storeoffp_load(uint32_t cpu, intptr_t *v,
		intptr_t expectnot, long off, intptr_t *load);
int pcpu__cs_locked_cmpeqv_load_storev(uint32_t cpu, intptr_t *v,
		intptr_t expect, const intptr_t *src, intptr_t *load,
		intptr_t newv);
int pcpu__cs_locked_cmpeqv_trymemcpy_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, void *dst, const void *src,
		size_t len, intptr_t newv, int release);
int pcpu__cs_locked_addv(uint32_t cpu, intptr_t *v, intptr_t inc);
int pcpu__cs_locked_offset_deref_addv(uint32_t cpu, intptr_t *ptr,
				      long off, intptr_t inc);

/*
 * The inline pick: for the rseq-by-cpu_id and gs kinds, this CPU's copy
 * and a restartable sequence; 0 when that does not apply (mm_cid, locks,
 * an unregistered thread, the spare copy), for the out-of-line pick.
 */
PCPU__INLINE int pcpu__cs_pick_fast(struct pcpu_cs *cs)
{
#ifdef PCPU_ARCH_HAVE_RSEQ
	uint64_t k = pcpu__k_raw(), r = pcpu__r_raw();

	if (PCPU__LIKELY(k & PCPU__F_CS_CPU)) {
		uint32_t i = pcpu__rseq_index_cpu(r);

		if (PCPU__LIKELY(i < PCPU__R_NR(r))) {
			cs->cpu = i;
			cs->rs = (int32_t)PCPU__R_RSEQ_OFF(r);
			cs->cmp = cs->rs + PCPU__RSEQ_CPU_ID;
			cs->mode = PCPU__CS_RSEQ;
			cs->shift = (uint8_t)PCPU__K_SHIFT(k);
			return 1;
		}
	}
#endif
	(void)cs;
	return 0;
}

/* Choose the copy (and the implementation) for the next attempt. */
PCPU__INLINE void pcpu__cs_pick(struct pcpu_cs *cs)
{
	if (!pcpu__cs_pick_fast(cs))
		*cs = pcpu__cs_pick_slow(cs->tries, cs->flags);
}

/* Copy cs->cpu of handle p: the instance this attempt works on. */
#define pcpu_cs_ptr(cs, p)						\
	((__typeof__(p))((uintptr_t)(p) +				\
			 ((uintptr_t)(cs)->cpu << (cs)->shift)))

/*
 * pcpu_cs_begin - start an operation: cs->cpu is the copy to work on
 * (this CPU's, or this thread's mm_cid, or the spare).  The library must
 * be initialized (any pcpu_alloc() or pcpu_init() did it).  MT-safe,
 * async-signal-safe.
 */
PCPU__INLINE void pcpu_cs_begin(struct pcpu_cs *cs)
{
	cs->tries = 0;
	cs->flags = 0;
	pcpu__cs_pick(cs);
}

/*
 * pcpu_cs_begin_nosig - the same, for an operation that never runs in a
 * signal handler (one that is not async-signal-safe anyway, such as an
 * object cache's allocation, which may take a mutex).  Only the locked
 * implementation differs: its sections then take a lock of their own
 * class and leave signals unblocked (measured here: a section of the
 * atomic backend, 550 ns with the two sigprocmask calls, 40 without).
 * The two classes do not exclude each other: data must be worked on by
 * sections of one kind only (all begun with pcpu_cs_begin(), or all with
 * pcpu_cs_begin_nosig()); mixed, a locked nosig section and a normal one
 * on the same copy run at once and one's commit can be lost.  (One lock
 * for both cannot work: a handler's section would wait for the lock its
 * own interrupted thread holds.)  The library's own structures never
 * mix them.
 */
PCPU__INLINE void pcpu_cs_begin_nosig(struct pcpu_cs *cs)
{
	cs->tries = 0;
	cs->flags = PCPU__CS_NOSIG;
	pcpu__cs_pick(cs);
}

/*
 * pcpu_cs_next - after PCPU_CS_RETRY (or PCPU_CS_FAIL, to re-read): pick
 * the copy for the next attempt.  Counts consecutive aborts and moves to
 * the spare copy after PCPU_CS_MAX_ABORTS of them.
 */
PCPU__INLINE void pcpu_cs_next(struct pcpu_cs *cs)
{
	if (PCPU__UNLIKELY(cs->flags & PCPU__CS_ABORTED))
		*cs = pcpu__cs_after_abort(cs->tries, cs->flags);
	else
		pcpu__cs_pick(cs);
}

/* The frame arguments of an arch sequence: area, compared field, index. */
#define PCPU__CS_AT(cs)		(long)(cs)->rs, (long)(cs)->cmp, (cs)->cpu

#ifdef PCPU_ARCH_HAVE_RSEQ
/*
 * ThreadSanitizer cannot see that restartable sequences on one copy are
 * serialized by its CPU: each tells it so, acquiring and releasing a sync
 * object of its own per copy index (the locked implementation's lock does
 * the same for real).  Nothing under other builds.
 */
#ifdef PCPU__TSAN
extern char pcpu__cs_tsan_keys[];
#define PCPU__CS_TSAN_KEY(cs)	(&pcpu__cs_tsan_keys[(cs)->cpu])
#else
#define PCPU__CS_TSAN_KEY(cs)	((void *)0)
#endif

#define PCPU__CS_RUN(cs, locked_call, rseq_call)			\
	do {								\
		int r_;							\
									\
		if (PCPU__UNLIKELY(PCPU__CS_IS_LOCKED((cs)->mode)))	\
			return locked_call;				\
		/* Release before, acquire after: a thread preempted	\
		 * between an annotation and its sequence must not	\
		 * order itself wrongly against the one that ran on	\
		 * the CPU meanwhile (acquire-before/release-after	\
		 * gave false races under load). */			\
		PCPU__HB_RELEASE(PCPU__CS_TSAN_KEY(cs));		\
		r_ = rseq_call;						\
		PCPU__HB_ACQUIRE(PCPU__CS_TSAN_KEY(cs));		\
		if (PCPU__UNLIKELY(r_ < 0)) {				\
			/* Saturates: after a spare-copy FAIL the next	\
			 * attempt is rseq again with tries kept, and a	\
			 * wrap past 255 would need 128 more aborts. */	\
			if ((cs)->tries < PCPU_CS_MAX_ABORTS)		\
				(cs)->tries++;				\
			(cs)->flags |= PCPU__CS_ABORTED;		\
		}							\
		return r_;						\
	} while (0)
#else
#define PCPU__CS_RUN(cs, locked_call, rseq_call)			\
	return locked_call
#endif

/*
 * pcpu_cs_cmpeqv_storev - compare and store.
 *
 *	if (*v != expect)
 *		return PCPU_CS_FAIL;
 *	*v = newv;				(commit)
 */
PCPU__INLINE int pcpu_cs_cmpeqv_storev(struct pcpu_cs *cs, intptr_t *v,
				       intptr_t expect, intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_storev(PCPU__CS_LOCK_ARG(cs), v, expect, newv),
		     pcpu_rseq_cs_cmpeqv_storev(v, expect, newv, PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_cmpeqv_trystorev_storev - compare, store a second word, then
 * the final store (a slab push: the pointer, then the count).
 *
 *	if (*v != expect)
 *		return PCPU_CS_FAIL;
 *	*v2 = newv2;				(try-store)
 *	*v = newv;				(commit)
 *
 * _release: the commit is ordered after *v2 and every earlier store.
 */
PCPU__INLINE int pcpu_cs_cmpeqv_trystorev_storev(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expect, intptr_t *v2, intptr_t newv2,
		intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trystorev_storev(PCPU__CS_LOCK_ARG(cs), v,
			expect, v2, newv2, newv, 0),
		     pcpu_rseq_cs_cmpeqv_trystorev_storev(v, expect, v2, newv2,
							  newv, PCPU__CS_AT(cs)));
}

PCPU__INLINE int pcpu_cs_cmpeqv_trystorev_storev_release(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expect, intptr_t *v2, intptr_t newv2,
		intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trystorev_storev(PCPU__CS_LOCK_ARG(cs), v,
			expect, v2, newv2, newv, 1),
		     pcpu_rseq_cs_cmpeqv_trystorev_storev_release(v, expect,
			v2, newv2, newv, PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_cmpnev_storeoffp_load - list pop.
 *
 *	h = *v;
 *	if (h == expectnot)
 *		return PCPU_CS_FAIL;		(empty: h is the sentinel)
 *	*load = h;
 *	*v = *(intptr_t *)(h + off);		(commit: the link of h)
 *
 * The word at h + off is read inside the sequence, while h is still the
 * head: a node popped and pushed back meanwhile (ABA) cannot hand out a
 * stale link, because anything else that ran on this copy restarted us.
 */
PCPU__INLINE int pcpu_cs_cmpnev_storeoffp_load(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expectnot, long off, intptr_t *load)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpnev_storeoffp_load(PCPU__CS_LOCK_ARG(cs), v,
			expectnot, off, load),
		     pcpu_rseq_cs_cmpnev_storeoffp_load(v, expectnot, off, load,
							PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_cmpeqv_load_storev - compare, load a word, final store (a slab
 * pop: the pointer below the count, then the count).
 *
 *	if (*v != expect)
 *		return PCPU_CS_FAIL;
 *	*load = *src;
 *	*v = newv;				(commit)
 */
PCPU__INLINE int pcpu_cs_cmpeqv_load_storev(struct pcpu_cs *cs, intptr_t *v,
		intptr_t expect, const intptr_t *src, intptr_t *load,
		intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_load_storev(PCPU__CS_LOCK_ARG(cs), v, expect,
			src, load, newv),
		     pcpu_rseq_cs_cmpeqv_load_storev(v, expect, src, load,
						     newv, PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_cmpeqv_trymemcpy_storev - compare, copy, final store (a ring
 * write: the record, then the write position; a slab refill or flush:
 * a batch of pointers, then the count).
 *
 *	if (*v != expect)
 *		return PCPU_CS_FAIL;
 *	memcpy(dst, src, len);			(try-stores)
 *	*v = newv;				(commit)
 *
 * dst and src must not overlap.  The copy is part of the sequence: keep
 * len small (a record, a batch), since a preemption restarts it whole.
 * _release: the commit is ordered after the copy and every earlier store.
 */
PCPU__INLINE int pcpu_cs_cmpeqv_trymemcpy_storev(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expect, void *dst, const void *src,
		size_t len, intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trymemcpy_storev(PCPU__CS_LOCK_ARG(cs), v,
			expect, dst, src, len, newv, 0),
		     pcpu_rseq_cs_cmpeqv_trymemcpy_storev(v, expect, dst, src,
							  len, newv, PCPU__CS_AT(cs)));
}

PCPU__INLINE int pcpu_cs_cmpeqv_trymemcpy_storev_release(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expect, void *dst, const void *src,
		size_t len, intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trymemcpy_storev(PCPU__CS_LOCK_ARG(cs), v,
			expect, dst, src, len, newv, 1),
		     pcpu_rseq_cs_cmpeqv_trymemcpy_storev_release(v, expect, dst,
			src, len, newv, PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_addv - add to a word of this copy.
 *
 *	*v += inc;				(commit)
 */
PCPU__INLINE int pcpu_cs_addv(struct pcpu_cs *cs, intptr_t *v, intptr_t inc)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_addv(PCPU__CS_LOCK_ARG(cs), v, inc),
		     pcpu_rseq_cs_addv(v, inc, PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_offset_deref_addv - add at a loaded address (a per-CPU pointer
 * to a table that can be swapped: the table's counter at off).
 *
 *	*(intptr_t *)(*ptr + off) += inc;	(commit)
 */
PCPU__INLINE int pcpu_cs_offset_deref_addv(struct pcpu_cs *cs, intptr_t *ptr,
					   long off, intptr_t inc)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_offset_deref_addv(PCPU__CS_LOCK_ARG(cs), ptr, off, inc),
		     pcpu_rseq_cs_offset_deref_addv(ptr, off, inc, PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_fence - wait for the critical sections of copy cpu.  When it
 * returns, every sequence that was running on copy cpu at the call has
 * committed or aborted, and every sequence on it that starts later sees
 * every store the caller made before the call.  Use it after publishing a
 * mark that makes those sequences fail, before touching the copy's data
 * from outside (see above).  cpu: 0 .. pcpu_nr_copies() - 1.
 *
 * rseq: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) on that CPU (on
 * every CPU when indexing by mm_cid: a cid is not a CPU), a few
 * microseconds; where the kernel refuses it (before 5.10, or a seccomp
 * filter), the calling thread runs on that CPU once instead.  Locked
 * implementation and the spare copy: the copy's lock is taken and
 * released.  Returns 0, or -1 with errno EINVAL (cpu out of range, or not
 * initialized) or ENOTSUP (no membarrier and the CPU is not in this
 * thread's affinity mask).  MT-safe; not async-signal-safe.
 */
int pcpu_cs_fence(unsigned int cpu);

/* ---- appended: record sequences (the ring's writer) ------------------ */

int pcpu__cs_locked_cmpeqv_trystorev_trymemcpy_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, intptr_t *v2, intptr_t newv2,
		void *dst, const void *src, size_t len, intptr_t newv,
		int release);
int pcpu__cs_locked_cmpeqv_trymemcpy2_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, void *dst, const void *src1,
		size_t len1, const void *src2, size_t len2, intptr_t newv,
		int release);

/*
 * pcpu_cs_cmpeqv_trystorev_trymemcpy_storev - compare, announce, copy,
 * final store (a seqlock writer: say how far it is about to write, then
 * write, then commit; a ring's reservation: mark its page, write the
 * record's header, move the write position).
 *
 *	if (*v != expect)
 *		return PCPU_CS_FAIL;
 *	*v2 = newv2;				(try-store)
 *	memcpy(dst, src, len);			(try-stores)
 *	*v = newv;				(commit)
 *
 * The try-store is ordered before the copy for every CPU: a reader that
 * sees any byte of the copy and then, after an acquire fence, loads *v2
 * sees newv2 (or a later value).  That is what lets *v2 announce the
 * copy.  dst and src must not overlap, nor contain v or v2.
 * _release: the commit is also ordered after the copy and every earlier
 * store.
 */
PCPU__INLINE int pcpu_cs_cmpeqv_trystorev_trymemcpy_storev(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expect, intptr_t *v2, intptr_t newv2,
		void *dst, const void *src, size_t len, intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trystorev_trymemcpy_storev(
			PCPU__CS_LOCK_ARG(cs), v, expect, v2, newv2, dst, src, len, newv, 0),
		     pcpu_rseq_cs_cmpeqv_trystorev_trymemcpy_storev(v, expect,
			v2, newv2, dst, src, len, newv, PCPU__CS_AT(cs)));
}

PCPU__INLINE int pcpu_cs_cmpeqv_trystorev_trymemcpy_storev_release(
		struct pcpu_cs *cs, intptr_t *v, intptr_t expect, intptr_t *v2,
		intptr_t newv2, void *dst, const void *src, size_t len,
		intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trystorev_trymemcpy_storev(
			PCPU__CS_LOCK_ARG(cs), v, expect, v2, newv2, dst, src, len, newv, 1),
		     pcpu_rseq_cs_cmpeqv_trystorev_trymemcpy_storev_release(v,
			expect, v2, newv2, dst, src, len, newv,
			PCPU__CS_AT(cs)));
}

/*
 * pcpu_cs_cmpeqv_trymemcpy2_storev - compare, copy two pieces end to end,
 * final store (a record: its header from the stack, its payload from the
 * caller, then the write position; one copy of the caller's data, no
 * staging buffer).
 *
 *	if (*v != expect)
 *		return PCPU_CS_FAIL;
 *	memcpy(dst, src1, len1);		(try-stores)
 *	memcpy((char *)dst + len1, src2, len2);	(try-stores)
 *	*v = newv;				(commit)
 *
 * No piece may overlap another, nor v.  Restarted as a whole: keep the
 * pieces small.  _release: the commit is ordered after both copies and
 * every earlier store.
 */
PCPU__INLINE int pcpu_cs_cmpeqv_trymemcpy2_storev(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expect, void *dst, const void *src1,
		size_t len1, const void *src2, size_t len2, intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trymemcpy2_storev(PCPU__CS_LOCK_ARG(cs), v,
			expect, dst, src1, len1, src2, len2, newv, 0),
		     pcpu_rseq_cs_cmpeqv_trymemcpy2_storev(v, expect, dst, src1,
			len1, src2, len2, newv, PCPU__CS_AT(cs)));
}

PCPU__INLINE int pcpu_cs_cmpeqv_trymemcpy2_storev_release(struct pcpu_cs *cs,
		intptr_t *v, intptr_t expect, void *dst, const void *src1,
		size_t len1, const void *src2, size_t len2, intptr_t newv)
{
	PCPU__CS_RUN(cs, pcpu__cs_locked_cmpeqv_trymemcpy2_storev(PCPU__CS_LOCK_ARG(cs), v,
			expect, dst, src1, len1, src2, len2, newv, 1),
		     pcpu_rseq_cs_cmpeqv_trymemcpy2_storev_release(v, expect,
			dst, src1, len1, src2, len2, newv, PCPU__CS_AT(cs)));
}

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_CS_H */
