// SPDX-License-Identifier: MIT
/*
 * Threads >= 8x CPUs increment shared per-CPU words through every op while
 * they migrate: each moves itself every few thousand ops, and a re-pinner
 * thread keeps moving all of them.  No increment may be lost or doubled.
 */
#include "stress.h"

static struct stress s;
static long per_thread;
static pid_t *tids;

struct arg {
	int id;
};

static void *worker(void *p)
{
	struct arg *a = (struct arg *)p;
	unsigned int seed = (unsigned int)a->id * 7919u + 1;

	__atomic_store_n(&tids[a->id], (pid_t)gettid(), __ATOMIC_RELAXED);
	for (long i = 0; i < per_thread; i++) {
		if (i % 3000 == 0)
			t_migrate(0, &seed);
		stress_one(&s, (unsigned long)i);
	}
	__atomic_store_n(&tids[a->id], 0, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	int n = 8 * (int)t_ncpus();
	pthread_t *th;
	struct arg *args;
	struct t_repinner rp;
	double t0;

	if (n < 16)
		n = 16;
	t_init(NULL);
	stress_init(&s);
	per_thread = t_scale(1000000);
	th = calloc((size_t)n, sizeof(*th));
	args = calloc((size_t)n, sizeof(*args));
	tids = calloc((size_t)n, sizeof(*tids));
	t0 = t_now();
	t_repin_start(&rp, tids, n);
	for (int i = 0; i < n; i++) {
		args[i].id = i;
		pthread_create(&th[i], NULL, worker, &args[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	t_repin_stop(&rp);
	printf("%d threads x %ld ops, %ld re-pins, %.2f s\n", n, per_thread,
	       rp.moves, t_now() - t0);
	stress_check(&s, (int64_t)n * per_thread, "migration");
	free(th);
	free(args);
	free(tids);
	return t_done();
}
