// SPDX-License-Identifier: MIT
/*
 * Per-CPU spinlock.  Unit: the index returned is this CPU's copy on a
 * pinned thread, trylock sees a held lock, unlock rejects a bad index and
 * an unheld lock.  Stress: threads >= 8x CPUs, moved by a re-pinner and
 * by themselves, run a critical section of several per-CPU updates on the
 * copy the lock returned (a pair that must stay equal, a holder count that
 * must be 1); a holder is preempted all the time on 2 vCPUs, which only
 * progresses because waiters sleep.  Expected total = iterations, exactly.
 */
#include "harness.h"

#include <stdint.h>

struct pair {
	long a, b;		/* always equal outside the lock */
	long inside;		/* holders of this copy's lock: 0 or 1 */
};

static struct pcpu_spinlock lock;
static struct pair *data;
static long per_thread;
static long bad_pair, bad_excl;
static pid_t *tids;

static void pin(unsigned int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void unit(void)
{
	int i, j;

	CHECK(pcpu_spin_init(NULL) == -1 && errno == EINVAL, "init NULL");
	for (unsigned int cpu = 0; cpu < t_ncpus(); cpu++) {
		pin(cpu);
		i = pcpu_spin_lock(&lock);
		CHECK(i == (int)pcpu_index() || pcpu_index() >= pcpu_nr_copies() - 1,
		      "lock index %d, this CPU's copy %u", i, pcpu_index());
		j = pcpu_spin_trylock(&lock);
		CHECK(j == -1 && errno == EBUSY, "trylock of a held lock: %d", j);
		CHECK(pcpu_spin_unlock(&lock, i) == 0, "unlock");
		CHECK(pcpu_spin_unlock(&lock, i) == -1 && errno == EINVAL,
		      "unlock of a free lock must fail");
		j = pcpu_spin_trylock(&lock);
		CHECK(j == i, "trylock of a free lock: %d", j);
		pcpu_spin_unlock(&lock, j);
	}
	CHECK(pcpu_spin_unlock(&lock, -1) == -1 && errno == EINVAL, "bad idx");
	CHECK(pcpu_spin_unlock(&lock, (int)pcpu_nr_copies()) == -1 &&
	      errno == EINVAL, "idx past the spare copy");
	CHECK(pcpu_spin_lock_cpu(&lock, pcpu_nr_copies()) == -1 &&
	      errno == EINVAL, "lock_cpu past the spare copy");
	/* Every copy, one after the other, as a "sum all CPUs" would. */
	for (unsigned int c = 0; c < pcpu_nr_copies(); c++)
		CHECK(pcpu_spin_lock_cpu(&lock, c) == (int)c, "lock_cpu %u", c);
	for (unsigned int c = 0; c < pcpu_nr_copies(); c++)
		CHECK(pcpu_spin_unlock(&lock, (int)c) == 0, "unlock %u", c);
	pin(0);
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		for (unsigned int c = 0; c < t_ncpus(); c++)
			CPU_SET(c, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
}

static void *worker(void *arg)
{
	long id = (long)arg;
	unsigned int seed = (unsigned int)id * 7919u + 1;

	__atomic_store_n(&tids[id], gettid(), __ATOMIC_RELAXED);
	for (long k = 0; k < per_thread; k++) {
		int i = pcpu_spin_lock(&lock);
		struct pair *p = pcpu_ptr(data, i);

		if (++p->inside != 1)
			__atomic_fetch_add(&bad_excl, 1, __ATOMIC_RELAXED);
		if (p->a != p->b)
			__atomic_fetch_add(&bad_pair, 1, __ATOMIC_RELAXED);
		p->a++;
		if (k % 64 == 0)
			sched_yield();	/* a holder that loses its CPU */
		p->b++;
		p->inside--;
		pcpu_spin_unlock(&lock, i);
		if (k % 1000 == 0)
			t_migrate(0, &seed);
	}
	__atomic_store_n(&tids[id], 0, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	int n = (int)(8 * t_ncpus());
	long moves;
	long sum_a = 0, sum_b = 0, expected;
	unsigned int c;
	double t0;

	if (n < 16)
		n = 16;
	t_init(NULL);
	CHECK(pcpu_spin_init(&lock) == 0, "init: %s", strerror(errno));
	data = PCPU_ALLOC(struct pair);
	CHECK(data != NULL, "alloc");
	if (!data)
		return t_done();
	unit();

	per_thread = t_scale(800000);
	tids = calloc((size_t)n, sizeof(*tids));
	t0 = t_now();
	moves = t_run_repinned(n, worker, tids);
	pcpu_for_each_cpu(c) {
		sum_a += pcpu_ptr(data, c)->a;
		sum_b += pcpu_ptr(data, c)->b;
	}
	expected = (long)n * per_thread;
	printf("%d threads x %ld critical sections in %.2f s, %ld re-pins: "
	       "expected %ld observed a %ld b %ld\n", n, per_thread,
	       t_now() - t0, moves, expected, sum_a, sum_b);
	CHECK(sum_a == expected && sum_b == expected, "lost updates");
	CHECK(bad_excl == 0, "%ld critical sections shared a lock", bad_excl);
	CHECK(bad_pair == 0, "%ld torn pairs seen", bad_pair);
	CHECK(pcpu_spin_destroy(&lock) == 0, "destroy");
	CHECK(pcpu_spin_destroy(&lock) == -1 && errno == EINVAL, "destroy x2");
	free(tids);
	return t_done();
}
