// SPDX-License-Identifier: MIT
/*
 * fork() while threads are mid-op.  The child has its own copy of the
 * region and keeps counting there, from its first thread and from a new
 * one: each total grows by exactly the child's increments.  The parent's total stays exact.
 * Each child also creates a thread (which must register rseq, or run on the
 * inherited glibc registration scheme) before exiting.
 */
#include "stress.h"

#include <sys/wait.h>

#ifdef __SANITIZE_THREAD__
/* The child inherits the parent's threads in TSan's books only: they do not
 * exist there, so they are not leaks. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "report_thread_leaks=0";
}
#endif

static struct stress s;

static void *child_thread(void *p)
{
	for (long i = 0; i < 10000; i++)
		stress_one(&s, (unsigned long)i + 1);
	return p;
}

/*
 * The paths are at different points of stress_one() in the threads the
 * fork cut off, so each path is checked against its own total at start.
 */
static int child(void)
{
	struct stress_snap start;
	pthread_t th;
	int bad;

	stress_snap(&s, &start);
	for (long i = 0; i < 50000; i++)
		stress_one(&s, (unsigned long)i + 1);
#ifdef __SANITIZE_THREAD__
	/* TSan cannot start threads after a multi-threaded fork. */
	(void)th;
	(void)child_thread;
	bad = stress_check_from(&s, &start, 50000, "child");
#else
	pthread_create(&th, NULL, child_thread, NULL);
	pthread_join(th, NULL);
	bad = stress_check_from(&s, &start, 60000, "child");
#endif
	fflush(stdout);
	return bad ? 1 : 0;
}

int main(void)
{
	int n = stress_nthreads(), children = 0, bad = 0;
	long per_thread = t_scale(400000);
	struct stress_pool pool;

	t_init(NULL);
	stress_init(&s);
	stress_pool_start(&pool, &s, n, per_thread, 5000);
	for (int k = 0; k < 8; k++) {
		pid_t pid;
		int status;

		usleep(10000);
		pid = fork();
		if (pid == 0)
			_exit(child());
		if (pid < 0) {
			perror("fork");
			bad++;
			continue;
		}
		waitpid(pid, &status, 0);
		children++;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "child %d failed (status %#x)\n", k,
				status);
			bad++;
		}
	}
	stress_pool_join(&pool);
	stress_pool_free(&pool);
	CHECK(!bad, "%d of %d children failed", bad, children);
	stress_check(&s, (int64_t)n * per_thread, "parent");
	return t_done();
}
