// SPDX-License-Identifier: MIT
/*
 * netstats: the classic use of per-CPU counters, as in a network stack.
 * Worker threads "receive" packets of random sizes and account packets,
 * bytes and drops per CPU without any shared cache line; a reporter thread
 * prints cheap approximate rates (pcpu_counter_read) while they run, and
 * the exact totals (sums over CPUs) at the end are checked against what the
 * workers generated.
 *
 *   netstats [threads] [packets-per-thread]
 */
#include <percpu/percpu.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct stats {
	uint64_t __pcpu *packets;
	uint64_t __pcpu *bytes;
	struct pcpu_counter drops;	/* read often: batched counter */
};

static struct stats st;
static long per_thread = 2000000;
static uint64_t gen_bytes[256], gen_drops[256];
static int done;

static void *rx_thread(void *arg)
{
	long id = (long)arg;
	unsigned int seed = (unsigned int)id + 1;
	uint64_t bytes = 0, drops = 0;

	for (long i = 0; i < per_thread; i++) {
		unsigned int len = 64 + rand_r(&seed) % 1437;

		if (len > 1480) {	/* "too big": dropped */
			pcpu_counter_inc(&st.drops);
			drops++;
			continue;
		}
		this_cpu_inc(st.packets);
		this_cpu_add(st.bytes, len);
		bytes += len;
	}
	gen_bytes[id] = bytes;
	gen_drops[id] = drops;
	return NULL;
}

static void *reporter(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&done, __ATOMIC_RELAXED)) {
		printf("  drops so far (approx): %lld\n",
		       (long long)pcpu_counter_read(&st.drops));
		usleep(50000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 8;
	pthread_t th[256], rep;
	uint64_t packets = 0, bytes = 0, want_bytes = 0, want_drops = 0;
	unsigned int cpu;

	if (argc > 2)
		per_thread = atol(argv[2]);
	if (n < 1 || n > 256 || per_thread < 1) {
		fprintf(stderr, "usage: netstats [threads 1..256] [packets]\n");
		return 2;
	}
	st.packets = PCPU_ALLOC(uint64_t);
	st.bytes = PCPU_ALLOC(uint64_t);
	if (!st.packets || !st.bytes || pcpu_counter_init(&st.drops, 0, 0)) {
		fprintf(stderr, "netstats: %s (%s)\n", strerror(errno),
			pcpu_init_error());
		return 1;
	}
	printf("backend %s, %d threads\n", pcpu_backend_name(), n);
	pthread_create(&rep, NULL, reporter, NULL);
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, rx_thread, (void *)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&done, 1, __ATOMIC_RELAXED);
	pthread_join(rep, NULL);

	pcpu_for_each_cpu(cpu) {
		packets += *pcpu_ptr(st.packets, cpu);
		bytes += *pcpu_ptr(st.bytes, cpu);
	}
	for (int i = 0; i < n; i++) {
		want_bytes += gen_bytes[i];
		want_drops += gen_drops[i];
	}
	printf("packets %llu bytes %llu drops %lld\n",
	       (unsigned long long)packets, (unsigned long long)bytes,
	       (long long)pcpu_counter_sum(&st.drops));
	if (packets + want_drops != (uint64_t)n * (uint64_t)per_thread ||
	    bytes != want_bytes ||
	    pcpu_counter_sum(&st.drops) != (int64_t)want_drops) {
		printf("MISMATCH: expected bytes %llu drops %llu\n",
		       (unsigned long long)want_bytes,
		       (unsigned long long)want_drops);
		return 1;
	}
	printf("exact\n");
	pcpu_counter_destroy(&st.drops);
	pcpu_free(st.packets);
	pcpu_free(st.bytes);
	return 0;
}
