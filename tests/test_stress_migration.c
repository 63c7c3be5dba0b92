// SPDX-License-Identifier: MIT
/*
 * Threads >= 8x CPUs increment shared per-CPU words through every op while
 * they migrate: each moves itself every few thousand ops, and a re-pinner
 * thread keeps moving all of them.  No increment may be lost or doubled.
 */
#include "stress.h"

int main(void)
{
	int n = stress_nthreads();
	long per_thread = t_scale(1000000);
	struct stress s;
	struct stress_pool pool;
	struct t_repinner rp;
	double t0;

	t_init(NULL);
	stress_init(&s);
	t0 = t_now();
	stress_pool_start(&pool, &s, n, per_thread, 3000);
	t_repin_start(&rp, pool.tids, n);
	stress_pool_join(&pool);
	t_repin_stop(&rp);
	stress_pool_free(&pool);
	printf("%d threads x %ld ops, %ld re-pins, %.2f s\n", n, per_thread,
	       rp.moves, t_now() - t0);
	stress_check(&s, (int64_t)n * per_thread, "migration");
	return t_done();
}
