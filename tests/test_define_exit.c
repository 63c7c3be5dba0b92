// SPDX-License-Identifier: MIT
/*
 * A program that returns from main() while its threads still count into
 * a PCPU_DEFINE variable (a server's usual way out) exits cleanly: at
 * exit the destructor frees the variable's memory but leaves the handle
 * as it was, so the threads' last ops write into freed per-CPU memory,
 * which stays mapped.  (The destructor used to store NULL into the
 * handle: the threads' next this_cpu_inc() addressed cpu * stride,
 * unmapped, and the process died of SIGSEGV at exit instead of returning
 * 0.)  A destructor that runs after PCPU_DEFINE's (a lower priority
 * number runs later at exit) holds the window open, standing in for any
 * other exit-time work.
 */
#include "harness.h"

#include <pthread.h>

/*
 * Before the definition's constructor: a backend that does not exist
 * here is a skip (the constructor would abort), and under ThreadSanitizer
 * the test is a skip too: it is a deliberate race at exit (the threads
 * write the memory the destructor frees), which TSan rightly reports; the
 * point here is only that nothing faults.  _exit(), not exit(): see
 * test_define.c.
 */
__attribute__((constructor(PCPU_DEFINE_PRIORITY - 1)))
static void early_init(void)
{
	int err;

#if defined(__SANITIZE_THREAD__)
	printf("skip: a deliberate race at exit, which ThreadSanitizer "
	       "reports\n");
	fflush(stdout);
	_exit(T_SKIP);
#endif
	if (!pcpu_init(NULL))
		return;
	err = errno;
	printf(err == ENODEV ? "skip: %s\n" : "pcpu_init failed: %s\n",
	       pcpu_init_error());
	fflush(stdout);
	_exit(err == ENODEV ? T_SKIP : 1);
}

PCPU_DEFINE(unsigned long, hits);

static volatile int started;

static void *worker(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
	for (;;) {
		this_cpu_inc(hits);
		/* Real code calls functions here: the handle is reloaded. */
		__asm__ __volatile__("" ::: "memory");
	}
	return NULL;
}

__attribute__((destructor(101))) static void later(void)
{
	/* The workers keep running through this; a fault ends the
	 * process with SIGSEGV, which the harness reports. */
	usleep(50000);
	printf("ok: the workers counted through the exit-time destructors\n");
	fflush(stdout);
}

int main(void)
{
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, worker, NULL)) {
			perror("pthread_create");
			return 1;
		}
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < 4)
		usleep(1000);
	usleep(20000);
	printf("backend %s: main returns while 4 threads count\n",
	       pcpu_backend_name());
	fflush(stdout);
	return 0;
}
