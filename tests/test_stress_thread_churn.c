// SPDX-License-Identifier: MIT
/*
 * Threads created and exiting throughout: short-lived threads each do a
 * few thousand increments, so most ops come from threads on their first
 * few ops (rseq registration, by glibc or by the library) and from threads
 * whose stack and TLS were just recycled.  Total exact.
 */
#include "stress.h"

static struct stress s;
static long per_thread = 3000;

static void *worker(void *p)
{
	for (long i = 0; i < per_thread; i++)
		stress_one(&s, (unsigned long)i + (unsigned long)(uintptr_t)p);
	return NULL;
}

int main(void)
{
	int live = 8 * (int)t_ncpus(), rounds;
	pthread_t *th;
	long created = 0;
	unsigned int seed = 3;

	if (live < 16)
		live = 16;
	t_init(NULL);
	stress_init(&s);
	rounds = (int)t_scale(60);
	th = calloc((size_t)live, sizeof(*th));
	for (int i = 0; i < live; i++, created++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)created);
	/* Keep `live` threads alive, replacing each as it exits. */
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < live; i++, created++) {
			pthread_join(th[i], NULL);
			if (i % 4 == 0)
				t_migrate(0, &seed);
			pthread_create(&th[i], NULL, worker,
				       (void *)(uintptr_t)created);
		}
	}
	for (int i = 0; i < live; i++)
		pthread_join(th[i], NULL);
	printf("%ld threads created, %d alive at a time\n", created, live);
	stress_check(&s, created * per_thread, "churn");
	free(th);
	return t_done();
}
