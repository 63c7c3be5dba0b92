// SPDX-License-Identifier: MIT
/*
 * Threads that exist before the library initializes must be covered too:
 * with rseq they register (or use glibc's area) on their first op; with gs
 * they inherited the striping the library set when it was loaded, unless
 * pcpu_init() picks another stride, as here (2 MiB, the default being
 * 1 MiB): then pcpu_init() hands each of them the new striping through a
 * signal.  They then count exactly.  With gs forced, a thread that blocks
 * the covering signal makes pcpu_init() fail with ETIMEDOUT instead of
 * leaving it uncovered (checked in a child process).
 */
#include "stress.h"

#include <sys/wait.h>

static struct stress s;
/* Not the default stride: the gs backend must re-stripe every thread. */
static const struct pcpu_params params = { .stride = 2u << 20 };
static pthread_barrier_t ready, go;
static long per_thread;

static void *early(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;

	pthread_barrier_wait(&ready);	/* exists before pcpu_init() */
	pthread_barrier_wait(&go);
	for (long i = 0; i < per_thread; i++) {
		if (i % 4000 == 0)
			t_migrate(0, &seed);
		stress_one(&s, (unsigned long)i);
	}
	if (!strcmp(pcpu_backend_name(), "gs") && pcpu_gs_check_thread())
		t_failures++;
	return NULL;
}

static void *blocker(void *arg)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMAX - 1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_barrier_wait(&ready);
	pause();
	return arg;
}

/* gs only: a thread blocking the covering signal -> ETIMEDOUT. */
static int blocked_child(void)
{
	pthread_t t;

	pthread_barrier_init(&ready, NULL, 2);
	pthread_create(&t, NULL, blocker, NULL);
	pthread_barrier_wait(&ready);
	if (pcpu_init(&params) == 0)
		return 1;
	if (errno == ENODEV)
		return T_SKIP;
	printf("  blocked thread: errno %d (%s): %s\n", errno,
	       strerror(errno), pcpu_init_error());
	return errno == ETIMEDOUT ? 0 : 2;
}

int main(void)
{
	int n = stress_nthreads() < 1024 ? stress_nthreads() : 1024;
	const char *bk = getenv("PCPU_BACKEND");
	static pthread_t th[1024];	/* static: t_init() may exit (skip) */

	if (bk && !strcmp(bk, "gs")) {
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			int r = blocked_child();

			fflush(stdout);
			_exit(r);
		}
		waitpid(pid, &st, 0);
		/* T_SKIP: gs is not available here (t_init skips too). */
		CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
					WEXITSTATUS(st) == T_SKIP),
		      "blocked-signal child: status %#x", st);
	}
	per_thread = t_scale(300000);
	pthread_barrier_init(&ready, NULL, (unsigned int)n + 1);
	pthread_barrier_init(&go, NULL, (unsigned int)n + 1);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, early, (void *)(uintptr_t)(i + 1));
	pthread_barrier_wait(&ready);
	t_init(&params);
	stress_init(&s);
	pthread_barrier_wait(&go);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	stress_check(&s, (int64_t)n * per_thread, "early threads");
	return t_done();
}
