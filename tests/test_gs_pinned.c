// SPDX-License-Identifier: MIT
/*
 * The gs-pinned backend (no kernel patch, user FSGSBASE): a thread that is
 * not pinned is refused, pinned threads' ops land in their CPU's copy as
 * one %gs-relative instruction each, a thread moved after pinning is
 * detected (also when PCPU_BACKEND=gs striped the process at load: pinning
 * turns the kernel's striping off), and threads >= 8x CPUs pinned
 * round-robin count exactly.
 */
#include "stress.h"

#include <sys/syscall.h>

static struct stress s;
static long per_thread;

static cpu_set_t allowed;	/* the CPUs this test may run on */
static int cpus[CPU_SETSIZE], ncpus;	/* the same, as a list */

static void *worker(void *p)
{
	int cpu = cpus[(uintptr_t)p % (uintptr_t)ncpus];

	if (pcpu_gs_pin_thread(cpu) != cpu) {
		fprintf(stderr, "pin %d: %s\n", cpu, strerror(errno));
		t_failures++;
		return NULL;
	}
	for (long i = 0; i < per_thread; i++)
		stress_one(&s, (unsigned long)i);
	if (pcpu_gs_check_thread())
		t_failures++;
	return NULL;
}

static void *moved(void *p)
{
	long *x = (long *)p;
	unsigned long arg[2];
	cpu_set_t set;

	if (pcpu_gs_pin_thread(cpus[0]) != cpus[0])
		return (void *)1;
	/* Pinned means the kernel no longer moves the base with the thread
	 * (PCPU_BACKEND=gs striped the process at load): a move must show. */
#ifdef SYS_arch_prctl	/* x86 only; the backend is x86-only too */
	if (!syscall(SYS_arch_prctl, PCPU_ARCH_GET_GS_PERCPU, arg))
		return (void *)4;
#else
	(void)arg;
#endif
	this_cpu_add(x, 5);
	if (*pcpu_ptr(x, (unsigned int)cpus[0]) != 5 || pcpu_gs_check_thread())
		return (void *)2;
	/* Break the contract: move to another CPU behind the library's
	 * back. */
	CPU_ZERO(&set);
	CPU_SET(cpus[1], &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (pcpu_gs_check_thread() != -1 || errno != EXDEV)
		return (void *)3;
	return NULL;
}

int main(void)
{
	struct pcpu_params params = { .backend = "gs-pinned" };
	int n = 8 * (int)t_ncpus();
	pthread_t *th, t;
	void *ret;
	long *x;

	t_init(&params);
	stress_init(&s);
	x = PCPU_ALLOC(long);

	/* A thread allowed on more than one CPU is refused.  The test may
	 * have been started pinned (taskset -c 0): widen its mask first.
	 * Where a cpuset leaves one CPU, the thread is pinned whatever it
	 * asks, and then pinning it is accepted (gs.h). */
	t_unpin();
	CPU_ZERO(&allowed);
	sched_getaffinity(0, sizeof(allowed), &allowed);
	errno = 0;
	if (CPU_COUNT(&allowed) > 1) {
		CHECK(pcpu_gs_pin_thread(-1) == -1 && errno == EINVAL,
		      "unpinned thread accepted");
	} else {
		int c = pcpu_gs_pin_thread(-1);

		printf("one CPU allowed: pinning the main thread to it "
		       "expected accepted, returned %d\n", c);
		CHECK(c >= 0 && CPU_ISSET((unsigned int)c, &allowed),
		      "pinned thread refused: %s", strerror(errno));
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpus++] = c;
	if (ncpus < 2) {
		if (t_failures)
			return t_done();
		printf("skip: needs two CPUs in its mask (%d allowed)\n",
		       ncpus);
		return T_SKIP;
	}
	CHECK(pcpu_gs_pin_thread(100000) == -1 && errno == EINVAL,
	      "impossible CPU accepted");

	pthread_create(&t, NULL, moved, x);
	pthread_join(t, &ret);
	CHECK(ret == NULL, "moved thread: step %ld", (long)(uintptr_t)ret);

	per_thread = t_scale(300000);
	th = calloc((size_t)n, sizeof(*th));
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	stress_check(&s, (int64_t)n * per_thread, "gs-pinned");
	free(th);
	return t_done();
}
