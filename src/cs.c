// SPDX-License-Identifier: MIT
/*
 * Per-CPU critical sections: choosing the copy, the locked implementation
 * and the fence.  The specification and the restartable sequences are in
 * percpu/cs.h and percpu/arch/<arch>/cs.h.
 *
 * The locked implementation.  Two lock words per copy index, at offsets 0
 * and 4 of each copy (the allocator never hands out the first bytes of
 * the stride), taken with Drepper's three-state futex mutex: one for the
 * sections that may run in signal handlers, one for the nosig sections
 * (pcpu_cs_begin_nosig()).  The two do not exclude each other (one word
 * for both would have a handler's section wait for the lock its own
 * interrupted thread holds), so cs.h asks that data be worked on by
 * sections of one kind only.  It runs every
 * sequence of the atomic backend (cs_locked) and, in rseq mode, the
 * fallback of a thread that cannot complete a restartable sequence, on
 * the spare copy only (no restartable sequence ever writes it, so the
 * lock covers every writer of it).
 *
 * A signal handler must never run a section on data that a section it
 * interrupted is halfway through, nor wait for a lock its own thread
 * holds.  Taking another copy is not enough: two threads, each
 * interrupted inside a section and each handler waiting for the other's
 * copy, deadlock (seen: 16 threads and a signal storm on 3 copies).
 * Restartable sequences solve this in the kernel, which aborts the
 * interrupted sequence before the handler runs; a lock cannot be undone,
 * so a locked section blocks signals for its duration instead: two
 * system calls per section, on the paths that run without rseq (the
 * atomic backend: valgrind, seccomp sandboxes; and the spare-copy
 * fallback).
 *
 * Final stores are compare-and-swaps: the atomic backend's this_cpu ops
 * are lock-free and do not take the lock, so a word may change under a
 * locked section; the section then reports PCPU_CS_RETRY (nothing
 * committed), as an aborted sequence would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "percpu/cs.h"

static int membarrier_state;	/* 0 unknown, 1 registered, -1 refused */

/* ThreadSanitizer's sync objects, one per copy index (percpu/cs.h): as
 * many as CPU ids the possible-mask parser accepts.  Untouched, and so
 * costing no memory, outside TSan builds. */
char pcpu__cs_tsan_keys[(1u << 20) + 1];

/*
 * The copies whose lock words were ever taken, one bit each: the fork
 * child frees only those (cs_atfork_child()).  Set once per copy, before
 * that copy's first lock, with a full barrier: a fork that copied a held
 * lock word copied the bit too.  Untouched, and so costing no memory,
 * for copies never locked.
 */
#define MAX_COPIES	((1u << 20) + 1)
static uint64_t locks_used[(MAX_COPIES + 63) / 64];

static void note_lock_used(uint32_t arg)
{
	uint32_t cpu = arg & ~PCPU__CS_NOSIG_BIT;
	uint64_t bit = UINT64_C(1) << (cpu % 64);

	if (cpu >= MAX_COPIES)
		return;
	if (!(__atomic_load_n(&locks_used[cpu / 64], __ATOMIC_RELAXED) & bit))
		__atomic_fetch_or(&locks_used[cpu / 64], bit,
				  __ATOMIC_SEQ_CST);
}

/* The lock of a section (cpu with PCPU__CS_NOSIG_BIT: the second word). */
static uint32_t *lock_word(uint32_t arg)
{
	uint32_t cpu = arg & ~PCPU__CS_NOSIG_BIT;

	return (uint32_t *)(pcpu__rt.cs_locks +
			    ((uintptr_t)cpu << pcpu__rt.shift)) +
	       !!(arg & PCPU__CS_NOSIG_BIT);
}

struct pcpu_cs pcpu__cs_pick_slow(uint8_t tries, uint8_t flags)
{
	struct pcpu_cs cs = { .tries = tries,
			      .flags = flags & ~PCPU__CS_ABORTED };
	uint64_t k = pcpu__k(), r;
	uint32_t nr, i;

	if (!k) {
		/* Sequences before anything initialized?  Only on a caller's
		 * own words: initialize, so that the locks exist. */
		pcpu__ensure_init();
		k = pcpu__k();
	}
	r = pcpu__r();
	nr = PCPU__R_NR(r);
	cs.shift = (uint8_t)PCPU__K_SHIFT(k);
	cs.rs = (int32_t)PCPU__R_RSEQ_OFF(r);
	if (k & PCPU__F_CS_LOCKED) {
		/* Every copy is locked-managed: this CPU's. */
		cs.cpu = pcpu__atomic_index(k, r);
		cs.mode = PCPU__CS_LOCKED;
		return cs;
	}
#ifdef PCPU_ARCH_HAVE_RSEQ
	if (k & (PCPU__F_CS_CPU | PCPU__F_CS_CID)) {
		int cid = !!(k & PCPU__F_CS_CID);

		for (int again = 0; again < 2; again++) {
			i = cid ? pcpu__rseq_index_cid(r) :
				  pcpu__rseq_index_cpu(r);
			if (i < nr) {
				cs.cpu = i;
				cs.mode = cid ? PCPU__CS_RSEQ_CID :
						PCPU__CS_RSEQ;
				cs.cmp = cs.rs + (cid ? PCPU__RSEQ_MM_CID :
							PCPU__RSEQ_CPU_ID);
				return cs;
			}
			/* Not registered: register (our own area) and look
			 * again; 1 means impossible. */
			if (again || pcpu__rseq_slow(2, 0))
				break;
		}
	}
#endif
	cs.cpu = nr;
	cs.mode = PCPU__CS_SPARE;
	return cs;
}

struct pcpu_cs pcpu__cs_after_abort(uint8_t tries, uint8_t flags)
{
	struct pcpu_cs cs;

	/* Counted with the single ops' aborts; the spare after too many. */
	if (pcpu__rseq_slow(1, (int)tries - 1)) {
		cs = pcpu__cs_pick_slow(tries, flags);
		cs.cpu = PCPU__R_NR(pcpu__r());
		cs.mode = PCPU__CS_SPARE;
		return cs;
	}
	cs.tries = tries;
	cs.flags = flags & ~PCPU__CS_ABORTED;
	pcpu__cs_pick(&cs);
	return cs;
}

/* ---- the locked implementation --------------------------------------- */

struct section {
	sigset_t old;
	int blocked;
};

static void section_enter(uint32_t cpu, struct section *s)
{
	uint32_t *w = lock_word(cpu), zero = 0;
	sigset_t all;

	/* Before the lock: no handler of ours runs while we hold it (a
	 * nosig section's caller promised no handler runs one). */
	s->blocked = 0;
	if (!(cpu & PCPU__CS_NOSIG_BIT)) {
		sigfillset(&all);
		s->blocked = !pthread_sigmask(SIG_BLOCK, &all, &s->old);
	}
	note_lock_used(cpu);
	/* Acquire: pairs with the release in section_exit(). */
	if (!__atomic_compare_exchange_n(w, &zero, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		pcpu__futex_lock_slow(w);
}

static void section_exit(uint32_t cpu, struct section *s)
{
	uint32_t *w = lock_word(cpu);

	/* Release: the section's stores before the lock is free. */
	if (__atomic_exchange_n(w, 0, __ATOMIC_RELEASE) == 2)
		pcpu__futex_wake(w);
	if (s->blocked)
		pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

/* The final store: PCPU_CS_RETRY if a lock-free op changed *v meanwhile. */
static int commit(intptr_t *v, intptr_t expect, intptr_t newv, int release)
{
	return __atomic_compare_exchange_n(v, &expect, newv, 0,
			release ? __ATOMIC_RELEASE : __ATOMIC_RELAXED,
			__ATOMIC_RELAXED) ? PCPU_CS_OK : PCPU_CS_RETRY;
}

static intptr_t load(const intptr_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

int pcpu__cs_locked_cmpeqv_storev(uint32_t cpu, intptr_t *v,
				  intptr_t expect, intptr_t newv)
{
	struct section s;
	int r = PCPU_CS_FAIL;

	section_enter(cpu, &s);
	if (load(v) == expect)
		r = commit(v, expect, newv, 0);
	section_exit(cpu, &s);
	return r;
}

int pcpu__cs_locked_cmpeqv_trystorev_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, intptr_t *v2, intptr_t newv2,
		intptr_t newv, int release)
{
	struct section s;
	int r = PCPU_CS_FAIL;

	section_enter(cpu, &s);
	if (load(v) == expect) {
		__atomic_store_n(v2, newv2, __ATOMIC_RELAXED);
		r = commit(v, expect, newv, release);
	}
	section_exit(cpu, &s);
	return r;
}

int pcpu__cs_locked_cmpnev_storeoffp_load(uint32_t cpu, intptr_t *v,
		intptr_t expectnot, long off, intptr_t *load_out)
{
	struct section s;
	int r = PCPU_CS_FAIL;
	intptr_t h;

	section_enter(cpu, &s);
	h = load(v);
	if (h != expectnot) {
		r = commit(v, h, load((const intptr_t *)(h + off)), 0);
		if (r == PCPU_CS_OK)
			*load_out = h;
	}
	section_exit(cpu, &s);
	return r;
}

int pcpu__cs_locked_cmpeqv_load_storev(uint32_t cpu, intptr_t *v,
		intptr_t expect, const intptr_t *src, intptr_t *load_out,
		intptr_t newv)
{
	struct section s;
	int r = PCPU_CS_FAIL;
	intptr_t x;

	section_enter(cpu, &s);
	if (load(v) == expect) {
		x = load(src);
		r = commit(v, expect, newv, 0);
		if (r == PCPU_CS_OK)
			*load_out = x;
	}
	section_exit(cpu, &s);
	return r;
}

int pcpu__cs_locked_cmpeqv_trymemcpy_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, void *dst, const void *src,
		size_t len, intptr_t newv, int release)
{
	struct section s;
	int r = PCPU_CS_FAIL;

	section_enter(cpu, &s);
	if (load(v) == expect) {
		memcpy(dst, src, len);
		r = commit(v, expect, newv, release);
	}
	section_exit(cpu, &s);
	return r;
}

int pcpu__cs_locked_addv(uint32_t cpu, intptr_t *v, intptr_t inc)
{
	struct section s;

	section_enter(cpu, &s);
	__atomic_fetch_add(v, inc, __ATOMIC_RELAXED);
	section_exit(cpu, &s);
	return PCPU_CS_OK;
}

int pcpu__cs_locked_offset_deref_addv(uint32_t cpu, intptr_t *ptr,
				      long off, intptr_t inc)
{
	struct section s;

	section_enter(cpu, &s);
	__atomic_fetch_add((intptr_t *)(load(ptr) + off), inc,
			   __ATOMIC_RELAXED);
	section_exit(cpu, &s);
	return PCPU_CS_OK;
}

/* ---- the fence -------------------------------------------------------- */

#ifndef MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ
#define MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ		(1 << 7)
#define MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ	(1 << 8)
#endif
#ifndef MEMBARRIER_CMD_FLAG_CPU
#define MEMBARRIER_CMD_FLAG_CPU				(1 << 0)
#endif

static long membarrier(int cmd, unsigned int flags, int cpu)
{
	return syscall(SYS_membarrier, cmd, flags, cpu);
}

/*
 * Restart every sequence running on cpu (all CPUs: cpu < 0).  A child of
 * fork() is a new mm and must register again: EPERM says so.
 */
static int rseq_fence(int cpu)
{
	unsigned int flags = cpu >= 0 ? MEMBARRIER_CMD_FLAG_CPU : 0;

	for (int i = 0; i < 2; i++) {
		int st = __atomic_load_n(&membarrier_state, __ATOMIC_ACQUIRE);

		if (st >= 0 && !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
					   flags, cpu < 0 ? 0 : cpu))
			return 0;
		if (st < 0 || (errno != EPERM && st == 1))
			break;
		if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
			       0, 0)) {
			__atomic_store_n(&membarrier_state, -1,
					 __ATOMIC_RELEASE);
			break;
		}
		__atomic_store_n(&membarrier_state, 1, __ATOMIC_RELEASE);
	}
	return -1;
}

/*
 * Without membarrier: run on cpu.  Once this thread runs there, every
 * other thread that was inside a sequence on that CPU has been preempted,
 * and the kernel aborts its sequence before it runs again.
 */
static int visit_cpu(unsigned int cpu)
{
	cpu_set_t saved, one;
	int ok;

	if (cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(saved), &saved))
		goto nosup;
	if (!CPU_ISSET(cpu, &saved))
		goto nosup;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		goto nosup;
	ok = sched_getcpu() == (int)cpu;
	sched_setaffinity(0, sizeof(saved), &saved);
	if (ok)
		return 0;
nosup:
	errno = ENOTSUP;
	return -1;
}

int pcpu_cs_fence(unsigned int cpu)
{
	int saved = errno;
	struct section s;

	if (!pcpu__rt.base || cpu > pcpu__rt.nr) {
		errno = EINVAL;
		return -1;
	}
	/* Whatever the caller stored is visible before anything below. */
	PCPU__FENCE_MB();
	if (pcpu__rt.cs_locked || cpu == pcpu__rt.nr) {
		/* Both classes of section: wait for whichever is running. */
		section_enter(cpu, &s);
		section_exit(cpu, &s);
		section_enter(cpu | PCPU__CS_NOSIG_BIT, &s);
		section_exit(cpu | PCPU__CS_NOSIG_BIT, &s);
		return 0;
	}
	if (!rseq_fence(pcpu__rt.cid ? -1 : (int)cpu)) {
		errno = saved;
		return 0;
	}
	if (pcpu__rt.cid) {
		errno = ENOTSUP;
		return -1;
	}
	if (visit_cpu(cpu))
		return -1;
	errno = saved;
	return 0;
}

/* ---- set-up and fork -------------------------------------------------- */

/* Free one lock word in the fork child, writing only a held one. */
static void unlock_in_child(uint32_t *w)
{
	if (__atomic_load_n(w, __ATOMIC_RELAXED))
		__atomic_store_n(w, 0, __ATOMIC_RELAXED);
}

/*
 * The child of fork() is alone: a lock held by a thread the fork cut off
 * would stay held.  A section it cut off is abandoned before its final
 * store, as an aborted sequence is, so freeing the locks is safe.  Only
 * the copies whose locks were ever taken (locks_used) are looked at, and
 * only held words written: a store to, or even a load of, every copy's
 * words faults in a page per copy of the MAP_NORESERVE region in every
 * child (4096 possible CPUs: 4100 faults and 17 MiB before the child's
 * first line).
 */
static void cs_atfork_child(void)
{
	if (!pcpu__rt.base)
		return;
	for (uint32_t k = 0; k <= pcpu__rt.nr && k < MAX_COPIES; k++) {
		if (!(locks_used[k / 64] & (UINT64_C(1) << (k % 64))))
			continue;
		unlock_in_child(lock_word(k));
		unlock_in_child(lock_word(k | PCPU__CS_NOSIG_BIT));
	}
	__atomic_store_n(&membarrier_state, 0, __ATOMIC_RELAXED);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void cs_atfork_register(void)
{
	pthread_atfork(NULL, NULL, cs_atfork_child);
}

int pcpu__cs_setup(int backend_id, char *why, size_t len)
{
	pcpu__rt.cs_locks = pcpu__rt.base;
	pcpu__rt.cs_locked = 0;
	pthread_once(&atfork_once, cs_atfork_register);
	if (backend_id == PCPU__BK_RSEQ)
		return 0;	/* pcpu__rseq_setup() ran at its start */
	if (backend_id == PCPU__BK_GS &&
	    !pcpu__rseq_setup(PCPU_INDEX_CPU, why, len))
		return 0;
	/* Atomic backend, or gs without rseq: the locked implementation. */
	pcpu__rt.cs_locked = 1;
	return 0;
}

/* ---- appended: the locked record sequences ---------------------------- */

int pcpu__cs_locked_cmpeqv_trystorev_trymemcpy_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, intptr_t *v2, intptr_t newv2,
		void *dst, const void *src, size_t len, intptr_t newv,
		int release)
{
	struct section s;
	int r = PCPU_CS_FAIL;

	section_enter(cpu, &s);
	if (load(v) == expect) {
		__atomic_store_n(v2, newv2, __ATOMIC_RELAXED);
		/* The announcement before the copy (cs.h): pairs with the
		 * reader's acquire fence between its copy and its load of
		 * *v2. */
		PCPU__FENCE_REL();
		memcpy(dst, src, len);
		r = commit(v, expect, newv, release);
	}
	section_exit(cpu, &s);
	return r;
}

int pcpu__cs_locked_cmpeqv_trymemcpy2_storev(uint32_t cpu,
		intptr_t *v, intptr_t expect, void *dst, const void *src1,
		size_t len1, const void *src2, size_t len2, intptr_t newv,
		int release)
{
	struct section s;
	int r = PCPU_CS_FAIL;

	section_enter(cpu, &s);
	if (load(v) == expect) {
		memcpy(dst, src1, len1);
		memcpy((char *)dst + len1, src2, len2);
		r = commit(v, expect, newv, release);
	}
	section_exit(cpu, &s);
	return r;
}
