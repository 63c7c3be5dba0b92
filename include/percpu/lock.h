/* SPDX-License-Identifier: MIT */
/*
 * percpu/lock.h - per-CPU spinlocks and the big-reader rwlock (brlock).
 *
 * Per-CPU spinlock.  One lock word per CPU copy.  pcpu_spin_lock() takes
 * the lock of the copy this thread runs on now (pcpu_index()) and returns
 * that index: the data it protects is then reached with pcpu_ptr(data,
 * idx), never with this_cpu_*, because the thread may migrate while it
 * holds the lock.  That is the point of the lock: a critical section of
 * more than one op on one CPU's data.  The words are taken with
 * lock-prefixed atomics (a remote locker and the local one must agree),
 * so a lock+unlock costs two uncontended atomics on a line that stays in
 * this CPU's cache.  A holder can be preempted at any time (user space
 * cannot disable preemption; on 2 vCPUs it is the common case), so a
 * waiter spins only briefly and then sleeps on a futex (the three-state
 * mutex of Drepper, "Futexes are tricky": 0 free, 1 held, 2 held with
 * sleepers).
 *
 * Big-reader rwlock.  After the kernel's percpu_rw_semaphore and
 * Concurrency Kit's ck_brlock: a reader increments this CPU's reader count
 * with one this_cpu op (no lock prefix on the rseq and gs backends), then
 * reads the shared writer word; a writer sets the writer word, then waits
 * until the sum of the reader counts is zero.  This is Dekker's pattern
 * (store mine, load theirs on both sides); the reader's half of the fence
 * is made free with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) on the
 * writer's side, as liburcu does.  Where membarrier is not available the
 * readers pay a full fence instead (pcpu_brlock_init() decides, once per
 * lock).  Readers that find a writer back out and sleep on the writer word;
 * a writer sleeps on a wake sequence that departing readers bump.  New
 * readers cannot enter while a writer waits, so writers do not starve
 * under a constant read load (writers are preferred; readers can starve
 * under a constant stream of writers).
 *
 * A reader's increment and decrement may land on different copies (it may
 * migrate in between): only the sum is meaningful, and it is exact.  A
 * reader that backs out undoes its increment on a shared undo counter,
 * which the writer reads before the per-CPU counts, so the writer never
 * sees the undo without the increment it undoes.
 *
 * Neither lock is recursive, and neither may be taken in a signal handler
 * that can interrupt a holder of the same lock (self-deadlock, as with any
 * mutex).  All functions are MT-safe.  Fork: as with pthread mutexes, only
 * the forking thread exists in the child; a lock held by another thread at
 * fork() stays held in the child.
 */
#ifndef PERCPU_LOCK_H
#define PERCPU_LOCK_H

#include <errno.h>
#include <stdint.h>

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Race-detector annotations and fences, shared by lock.h, cache.h and
 * ring.h.  Happens-before that flows through a this_cpu op (inline asm,
 * invisible to ThreadSanitizer) or through membarrier is told to TSan
 * explicitly.  TSan does not model atomic_thread_fence (GCC refuses it
 * under -fsanitize=thread), so under TSan a release/acquire fence becomes
 * a compiler barrier (enough on x86, the only architecture with TSan here)
 * and a full fence a locked operation on a stack word.
 */
#if defined(__SANITIZE_THREAD__)
#define PCPU__TSAN	1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PCPU__TSAN	1
#endif
#endif

#ifdef PCPU__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define PCPU__HB_RELEASE(a)	__tsan_release((void *)(a))
#define PCPU__HB_ACQUIRE(a)	__tsan_acquire((void *)(a))
#define PCPU__FENCE_ACQ()	__atomic_signal_fence(__ATOMIC_ACQUIRE)
#define PCPU__FENCE_REL()	__atomic_signal_fence(__ATOMIC_RELEASE)
#define PCPU__FENCE_MB()						\
	do {								\
		int pcpu__mb_ = 0;					\
		__atomic_fetch_add(&pcpu__mb_, 0, __ATOMIC_SEQ_CST);	\
	} while (0)
#define PCPU__IGNORE_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define PCPU__IGNORE_READS_END()   AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define PCPU__HB_RELEASE(a)	((void)(a))
#define PCPU__HB_ACQUIRE(a)	((void)(a))
#define PCPU__FENCE_ACQ()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define PCPU__FENCE_REL()	__atomic_thread_fence(__ATOMIC_RELEASE)
#define PCPU__FENCE_MB()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define PCPU__IGNORE_READS_BEGIN() ((void)0)
#define PCPU__IGNORE_READS_END()   ((void)0)
#endif
#define PCPU__BARRIER()		__asm__ __volatile__("" : : : "memory")

/* ---- per-CPU spinlock ------------------------------------------------ */

struct pcpu_spinlock {
	uint32_t __pcpu *words;	/* per-CPU: 0 free, 1 held, 2 sleepers */
};

/*
 * pcpu_spin_init - set up l (every copy unlocked).
 * Returns 0, or -1 with errno EINVAL (l NULL) or a pcpu_alloc() error.
 * Not MT-safe on the same l; not async-signal-safe.
 */
int pcpu_spin_init(struct pcpu_spinlock *l);

/*
 * pcpu_spin_destroy - release l's per-CPU memory; no lock may be held.
 * Returns 0, or -1 with errno EINVAL (l not initialized).
 */
int pcpu_spin_destroy(struct pcpu_spinlock *l);

/* Slow paths, out of line (not API). */
void pcpu__futex_lock_slow(uint32_t *w);
void pcpu__futex_wake(uint32_t *w);

/* The copy index pcpu_spin_lock() uses: this CPU's, clamped to the spare. */
PCPU__INLINE unsigned int pcpu__lock_index(void)
{
	unsigned int i = pcpu_index();

	uint32_t nr = PCPU__R_NR(pcpu__r());

	return i < nr ? i : nr;
}

/*
 * pcpu_spin_lock_cpu - lock the lock of copy cpu (0 .. pcpu_nr_copies()-1),
 * e.g. to visit every CPU's data.  Returns cpu, or -1 with errno EINVAL.
 * Sleeps (futex) when the lock stays held.  MT-safe.
 */
static inline int pcpu_spin_lock_cpu(struct pcpu_spinlock *l,
				     unsigned int cpu)
{
	uint32_t *w, zero = 0;

	if (PCPU__UNLIKELY(!l || !l->words || cpu > PCPU__R_NR(pcpu__r()))) {
		errno = EINVAL;
		return -1;
	}
	w = pcpu_ptr(l->words, cpu);
	/* Acquire: pairs with the release in pcpu_spin_unlock(). */
	if (!__atomic_compare_exchange_n(w, &zero, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		pcpu__futex_lock_slow(w);
	return (int)cpu;
}

/*
 * pcpu_spin_lock - lock this CPU's lock.  Returns the copy index that was
 * locked (pass it to pcpu_spin_unlock() and use pcpu_ptr(data, index) in
 * the critical section), or -1 with errno EINVAL (l not initialized).
 * The thread may migrate while it holds the lock; that is harmless.
 * MT-safe; not async-signal-safe (see above).
 */
static inline int pcpu_spin_lock(struct pcpu_spinlock *l)
{
	return pcpu_spin_lock_cpu(l, pcpu__lock_index());
}

/*
 * pcpu_spin_trylock - like pcpu_spin_lock() but never waits.  Returns the
 * index, or -1 with errno EBUSY (held) or EINVAL.  Async-signal-safe.
 */
static inline int pcpu_spin_trylock(struct pcpu_spinlock *l)
{
	unsigned int cpu = pcpu__lock_index();
	uint32_t zero = 0;

	if (PCPU__UNLIKELY(!l || !l->words)) {
		errno = EINVAL;
		return -1;
	}
	if (__atomic_compare_exchange_n(pcpu_ptr(l->words, cpu), &zero, 1, 0,
					__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return (int)cpu;
	errno = EBUSY;
	return -1;
}

/*
 * pcpu_spin_unlock - unlock copy cpu's lock (the value the lock call
 * returned).  Wakes one sleeper if there is one.  Returns 0, or -1 with
 * errno EINVAL (bad index, or that lock was not held: nothing changed).
 * Any thread may unlock (no owner is recorded).  MT-safe,
 * async-signal-safe.
 */
static inline int pcpu_spin_unlock(struct pcpu_spinlock *l, int cpu)
{
	uint32_t *w, one = 1;

	if (PCPU__UNLIKELY(!l || !l->words || cpu < 0 ||
			   (unsigned int)cpu > PCPU__R_NR(pcpu__r()))) {
		errno = EINVAL;
		return -1;
	}
	w = pcpu_ptr(l->words, cpu);
	/* Release: the critical section before the store; pairs with the
	 * acquire of the next locker. */
	if (__atomic_compare_exchange_n(w, &one, 0, 0, __ATOMIC_RELEASE,
					__ATOMIC_RELAXED))
		return 0;
	if (one == 0) {
		errno = EINVAL;
		return -1;
	}
	__atomic_store_n(w, 0, __ATOMIC_RELEASE);
	pcpu__futex_wake(w);
	return 0;
}

/* ---- big-reader rwlock ----------------------------------------------- */

/* l->writer: a state in the low bits, and the fence-mode flag, so that a
 * reader's fast path tests one word for "anything unusual". */
#define PCPU__BRLOCK_STATE	3u	/* 0 none, 1 writer, 2 + sleepers */
#define PCPU__BRLOCK_RFENCE	0x80000000u	/* readers must fence */

struct pcpu_brlock {
	unsigned long __pcpu *readers;	/* per-CPU; sum = readers inside */
	unsigned long undo;	/* decrements of readers that backed out */
	uint32_t writer;	/* state | PCPU__BRLOCK_RFENCE */
	uint32_t wseq;		/* bumped by leaving readers: writer's futex */
	uint32_t wlock;		/* writer-writer mutex (futex, 0/1/2) */
	int rfence;		/* 1: no membarrier, readers fence */
};

/*
 * pcpu_brlock_init - set up l, unlocked.  Registers the process for
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) once; if the kernel (or a
 * seccomp sandbox) refuses, this lock's readers use a full fence instead.
 * The environment variable PCPU_BRLOCK_FENCE (any value) forces the
 * fence mode, to test it.  Returns 0, or -1 with errno EINVAL (l NULL) or
 * a pcpu_alloc() error.  Not MT-safe on the same l; not async-signal-safe.
 */
int pcpu_brlock_init(struct pcpu_brlock *l);

/*
 * pcpu_brlock_destroy - release l's per-CPU memory.  l must be unlocked.
 * Returns 0, or -1 with errno EINVAL (not initialized) or EBUSY (held:
 * nothing is released).
 */
int pcpu_brlock_destroy(struct pcpu_brlock *l);

/* Slow paths, out of line (not API). */
void pcpu__brlock_read_slow(struct pcpu_brlock *l);
void pcpu__brlock_unlock_slow(struct pcpu_brlock *l);

/*
 * pcpu_brlock_read_lock - enter a read-side critical section.  Readers do
 * not exclude each other; they exclude writers.  Fast path: one this_cpu
 * increment and one load of a read-mostly shared word.  Sleeps while a
 * writer holds or waits for the lock.  Not recursive while a writer may
 * wait.  Returns 0, or -1 with errno EINVAL (l NULL or not initialized:
 * nothing is locked).  MT-safe; not async-signal-safe.
 */
static inline int pcpu_brlock_read_lock(struct pcpu_brlock *l)
{
	if (PCPU__UNLIKELY(!l || !l->readers))
		return pcpu__einval();
	this_cpu_inc(l->readers);
	/*
	 * Dekker: the increment must be visible before we load the writer
	 * word.  Pairs with the membarrier() in the writer between its
	 * store of l->writer and its sum of l->readers; in fence mode the
	 * word is never 0 and the slow path fences, then loads it again.
	 */
	PCPU__BARRIER();
	/* Acquire: pairs with the release exchange in write_unlock. */
	if (PCPU__UNLIKELY(__atomic_load_n(&l->writer, __ATOMIC_ACQUIRE)))
		pcpu__brlock_read_slow(l);
	return 0;
}

/*
 * pcpu_brlock_read_unlock - leave a read-side critical section (on any
 * CPU; the thread may have migrated).  Wakes a waiting writer when this
 * was the last reader it waits for.  Returns 0, or -1 with errno EINVAL (l
 * NULL or not initialized).  MT-safe; async-signal-safe.
 */
static inline int pcpu_brlock_read_unlock(struct pcpu_brlock *l)
{
	if (PCPU__UNLIKELY(!l || !l->readers))
		return pcpu__einval();
	PCPU__HB_RELEASE(l);
	/* Release: the critical section's accesses before the decrement
	 * that lets a writer in; pairs with the writer's acquire fence after
	 * it saw the sum reach zero. */
	PCPU__FENCE_REL();
	this_cpu_dec(l->readers);
	/* Dekker again, so that a writer which saw our count still set
	 * is woken: pairs with the writer's membarrier() (fence mode: the
	 * slow path fences and looks again). */
	PCPU__BARRIER();
	if (PCPU__UNLIKELY(__atomic_load_n(&l->writer, __ATOMIC_RELAXED)))
		pcpu__brlock_unlock_slow(l);
	return 0;
}

/*
 * pcpu_brlock_write_lock - exclude every reader and every other writer.
 * Announces itself (new readers wait), then sleeps until the readers
 * inside have left.  Cost: a membarrier() system call (a few µs) plus
 * one load per CPU copy.  Returns 0, or -1 with errno EINVAL (l NULL or
 * not initialized).  MT-safe; not async-signal-safe.
 */
int pcpu_brlock_write_lock(struct pcpu_brlock *l);

/*
 * pcpu_brlock_write_unlock - release, waking sleeping readers.  Returns 0,
 * or -1 with errno EINVAL (l NULL or not initialized).
 */
int pcpu_brlock_write_unlock(struct pcpu_brlock *l);

/*
 * pcpu_brlock_uses_membarrier - 1 when l's readers run fence-free (the
 * writer uses membarrier), 0 when they fence.  For tests and diagnostics.
 */
int pcpu_brlock_uses_membarrier(const struct pcpu_brlock *l);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_LOCK_H */
