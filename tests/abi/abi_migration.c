// SPDX-License-Identifier: MIT
/*
 * abi_migration - 8 threads per CPU migrate continuously (each one moves
 * itself with sched_setaffinity, to a single CPU or to all of them) while
 * doing "incq %gs:COUNT". While pinned, every %gs:0 read must name the CPU
 * it is pinned to. At the end the per-CPU counters must add up exactly to
 * the number of increments done: a thread left with a stale GS base after
 * a migration would share a slot with another CPU and lose updates
 * (incq is not atomic across CPUs).
 */
#include "gs_abi.h"
#include <pthread.h>
#include <time.h>

#define THREADS_PER_CPU	8
#define RUN_SECONDS	3
#define BURST		200

static char *area;
static unsigned long stride = 4096;
static cpu_set_t allowed;
static int cpus[CPU_SETSIZE], ncpus;
static volatile int stop;

struct worker {
	pthread_t tid;
	unsigned long incs, pinned_checks, migrations, bad;
	unsigned int seed;
};

static void *worker(void *p)
{
	struct worker *w = p;
	unsigned long i;

	while (!stop) {
		int pick = rand_r(&w->seed) % (ncpus + 1);

		if (pick == ncpus) {
			/* Free to roam: the scheduler moves us. */
			sched_setaffinity(0, sizeof(allowed), &allowed);
			for (i = 0; i < BURST; i++)
				gs_inc(GS_SLOT_COUNT);
			w->incs += BURST;
			continue;
		}
		if (gs_pin(cpus[pick]))
			continue;
		w->migrations++;
		for (i = 0; i < BURST; i++) {
			gs_inc(GS_SLOT_COUNT);
			if (gs_read(GS_SLOT_CPU) != (unsigned long)cpus[pick])
				w->bad++;
		}
		w->incs += BURST;
		w->pinned_checks += BURST;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long expected = 0, observed = 0, checks = 0, bad = 0, moves = 0;
	struct worker *w;
	int nr, nthreads, i;

	gs_require_kernel(argc, argv, "abi_migration");
	nr = gs_nr_cpu_ids();
	gs_allowed_cpus(&allowed);
	for (i = 0; i < nr; i++)
		if (CPU_ISSET(i, &allowed))
			cpus[ncpus++] = i;
	nthreads = THREADS_PER_CPU * ncpus;
	if (nthreads < 8)
		nthreads = 8;

	area = gs_area_new(nr, stride);
	/* Set before creating threads: they inherit it. */
	if (gs_set_percpu((unsigned long)area, stride)) {
		gs_fail("SET: %s", strerror(errno));
		return 1;
	}
	w = calloc(nthreads, sizeof(*w));
	for (i = 0; i < nthreads; i++) {
		w[i].seed = 12345 + i;
		if (pthread_create(&w[i].tid, NULL, worker, &w[i])) {
			gs_fail("pthread_create");
			return 1;
		}
	}
	sleep(RUN_SECONDS);
	stop = 1;
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		expected += w[i].incs;
		checks += w[i].pinned_checks;
		bad += w[i].bad;
		moves += w[i].migrations;
	}
	for (i = 0; i < nr; i++)
		observed += *(unsigned long *)(area + i * stride + GS_SLOT_COUNT);

	printf("abi_migration: %d threads on %d CPUs, %lu affinity moves\n",
	       nthreads, ncpus, moves);
	printf("abi_migration: increments expected %lu observed %lu\n",
	       expected, observed);
	printf("abi_migration: pinned %%gs:0 checks %lu, wrong CPU %lu\n",
	       checks, bad);
	if (expected != observed)
		gs_fail("lost or extra increments: expected %lu observed %lu",
			expected, observed);
	if (bad)
		gs_fail("%lu %%gs reads named the wrong CPU", bad);
	if (!expected)
		gs_fail("no increments done");
	printf("abi_migration: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
