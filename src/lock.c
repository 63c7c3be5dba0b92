// SPDX-License-Identifier: MIT
/*
 * Per-CPU spinlocks and the big-reader rwlock: slow paths, see
 * percpu/lock.h for the algorithms.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Spins before sleeping: enough to ride out a short critical section on
 * another CPU, far too short to matter against a preempted holder. */
#define SPIN_TRIES	64
/* Writer: yields before it sleeps waiting for readers to leave. */
#define WRITER_YIELDS	4

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(uint32_t *w, uint32_t val)
{
	/* EAGAIN (value changed) and EINTR just make the caller re-check. */
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_n(uint32_t *w, int n)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void pcpu__futex_wake(uint32_t *w)
{
	int saved = errno;

	futex_wake_n(w, 1);
	errno = saved;
}

/* Drepper's mutex, second version: 0 free, 1 held, 2 held + sleepers. */
void pcpu__futex_lock_slow(uint32_t *w)
{
	int saved = errno;
	uint32_t c;

	for (int i = 0; i < SPIN_TRIES; i++) {
		uint32_t zero = 0;

		cpu_relax();
		if (__atomic_load_n(w, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(w, &zero, 1, 0,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			goto out;
	}
	/* Acquire: pairs with the release store of the unlocker. */
	c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		futex_wait(w, 2);
		c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
	}
out:
	errno = saved;
}

static void mutex_lock(uint32_t *w)
{
	uint32_t zero = 0;

	if (!__atomic_compare_exchange_n(w, &zero, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		pcpu__futex_lock_slow(w);
}

static void mutex_unlock(uint32_t *w)
{
	/* Release: pairs with the acquire of the next locker. */
	if (__atomic_exchange_n(w, 0, __ATOMIC_RELEASE) == 2)
		pcpu__futex_wake(w);
}

int pcpu_spin_init(struct pcpu_spinlock *l)
{
	if (!l) {
		errno = EINVAL;
		return -1;
	}
	/* Every copy reads as zero (unlocked) when handed out. */
	l->words = PCPU_ALLOC(uint32_t);
	return l->words ? 0 : -1;
}

int pcpu_spin_destroy(struct pcpu_spinlock *l)
{
	if (!l || !l->words) {
		errno = EINVAL;
		return -1;
	}
	if (pcpu_free(l->words))
		return -1;
	l->words = NULL;
	return 0;
}

/* ---- brlock ---------------------------------------------------------- */

static pthread_once_t mb_once = PTHREAD_ONCE_INIT;
static int mb_ok;

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

static void mb_register(void)
{
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);

	mb_ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
		!membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
}

/*
 * The writer's half of the Dekker fence: every thread of the process that
 * is running executes a full barrier before this returns, so a reader
 * either had its increment visible before our sum, or sees l->writer set.
 * If the expedited command fails (a fork child before it registered
 * again), register and retry; as the last resort MEMBARRIER_CMD_GLOBAL
 * (slow, but always there when membarrier is).
 */
static void writer_barrier(struct pcpu_brlock *l)
{
	int saved = errno;

	if (l->rfence) {
		/* Pairs with the readers' PCPU__FENCE_MB(). */
		PCPU__FENCE_MB();
		return;
	}
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) ||
	     membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)))
		membarrier(MEMBARRIER_CMD_GLOBAL);
	errno = saved;
}

int pcpu_brlock_init(struct pcpu_brlock *l)
{
	if (!l) {
		errno = EINVAL;
		return -1;
	}
	pthread_once(&mb_once, mb_register);
	l->readers = PCPU_ALLOC(unsigned long);
	if (!l->readers)
		return -1;
	l->undo = 0;
	l->wseq = 0;
	l->wlock = 0;
	l->rfence = !mb_ok || getenv("PCPU_BRLOCK_FENCE") != NULL;
	l->writer = l->rfence ? PCPU__BRLOCK_RFENCE : 0;
	return 0;
}

/*
 * Readers inside.  The undo counter is read first: a reader that backed
 * out incremented some copy before it bumped undo, so when we see its undo
 * we also see its increment (acquire), and the sum never drops below the
 * number of readers really inside.
 */
static unsigned long readers_inside(struct pcpu_brlock *l)
{
	unsigned long sum = __atomic_load_n(&l->undo, __ATOMIC_ACQUIRE);
	unsigned int cpu;

	pcpu_for_each_cpu(cpu)
		sum += __atomic_load_n(pcpu_ptr(l->readers, cpu),
				       __ATOMIC_ACQUIRE);
	return sum;
}

int pcpu_brlock_destroy(struct pcpu_brlock *l)
{
	if (!l || !l->readers) {
		errno = EINVAL;
		return -1;
	}
	if ((__atomic_load_n(&l->writer, __ATOMIC_RELAXED) &
	     PCPU__BRLOCK_STATE) || readers_inside(l)) {
		errno = EBUSY;
		return -1;
	}
	if (pcpu_free(l->readers))
		return -1;
	l->readers = NULL;
	return 0;
}

static void wake_writer(struct pcpu_brlock *l)
{
	/* The RMW orders our decrement before the writer's next sum. */
	__atomic_fetch_add(&l->wseq, 1, __ATOMIC_SEQ_CST);
	futex_wake_n(&l->wseq, 1);
}

/* Is a writer there?  In fence mode, fence first (the reader's half of
 * Dekker's pattern, paired with the writer's fence). */
static int writer_present(struct pcpu_brlock *l)
{
	if (l->rfence)
		PCPU__FENCE_MB();
	return __atomic_load_n(&l->writer, __ATOMIC_ACQUIRE) &
	       PCPU__BRLOCK_STATE;
}

void pcpu__brlock_unlock_slow(struct pcpu_brlock *l)
{
	int saved = errno;

	if (writer_present(l))
		wake_writer(l);
	errno = saved;
}

void pcpu__brlock_read_slow(struct pcpu_brlock *l)
{
	int saved = errno;

	if (!writer_present(l))
		goto out;
	for (;;) {
		/* Back out: our increment stays on whatever copy it hit;
		 * undo it on the shared counter (see readers_inside()). */
		__atomic_fetch_sub(&l->undo, 1, __ATOMIC_SEQ_CST);
		wake_writer(l);
		for (;;) {
			uint32_t v = __atomic_load_n(&l->writer,
						     __ATOMIC_ACQUIRE);
			uint32_t st = v & PCPU__BRLOCK_STATE;

			if (!st)
				break;
			if (st == 1) {
				if (!__atomic_compare_exchange_n(&l->writer,
						&v, v + 1, 0, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
					continue;
				v++;
			}
			futex_wait(&l->writer, v);
		}
		/* Retry the fast path; same pairing as read_lock. */
		this_cpu_inc(l->readers);
		PCPU__BARRIER();
		if (!writer_present(l))
			break;
	}
out:
	errno = saved;
}

int pcpu_brlock_write_lock(struct pcpu_brlock *l)
{
	int saved = errno, spins = 0;

	if (!l || !l->readers)
		return pcpu__einval();

	mutex_lock(&l->wlock);
	__atomic_store_n(&l->writer, (l->rfence ? PCPU__BRLOCK_RFENCE : 0) | 1,
			 __ATOMIC_RELAXED);
	writer_barrier(l);
	for (;;) {
		/* Read the sequence before the sum: a reader leaving after
		 * our sum bumps it, and futex_wait then returns at once. */
		uint32_t seq = __atomic_load_n(&l->wseq, __ATOMIC_ACQUIRE);

		if (readers_inside(l) == 0)
			break;
		if (spins++ < WRITER_YIELDS)
			sched_yield();
		else
			futex_wait(&l->wseq, seq);
	}
	/* The readers' critical sections happen before ours: pairs with
	 * the release fence before their decrement. */
	PCPU__FENCE_ACQ();
	PCPU__HB_ACQUIRE(l);
	errno = saved;
	return 0;
}

int pcpu_brlock_write_unlock(struct pcpu_brlock *l)
{
	int saved = errno;

	if (!l || !l->readers)
		return pcpu__einval();

	/* Release: our critical section before readers get in; pairs with
	 * the acquire load of l->writer in read_lock. */
	if ((__atomic_exchange_n(&l->writer,
				 l->rfence ? PCPU__BRLOCK_RFENCE : 0,
				 __ATOMIC_RELEASE) & PCPU__BRLOCK_STATE) == 2)
		futex_wake_n(&l->writer, INT_MAX);
	mutex_unlock(&l->wlock);
	errno = saved;
	return 0;
}

int pcpu_brlock_uses_membarrier(const struct pcpu_brlock *l)
{
	return l && !l->rfence;
}
