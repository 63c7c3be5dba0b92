// SPDX-License-Identifier: MIT
/*
 * fork() while threads are mid-op.  The child has its own copy of the
 * region and keeps counting there, from its first thread and from a new
 * one: each total grows by exactly the child's increments.  The parent's total stays exact.
 * Each child also creates a thread (which must register rseq, or run on the
 * inherited glibc registration scheme) before exiting, and takes every
 * lock of the library (init, allocator, cache depot): none may be left
 * held by a thread that the fork cut off.
 *
 * Under a sanitizer the child starts no thread and allocates nothing:
 * ASan's and TSan's allocators keep internal mutexes that another of the
 * parent's threads may hold at fork(), and a child of a multi-threaded
 * parent that allocates then waits forever (seen: the child's new thread
 * stuck in ASan's SizeClassAllocator64::GetFromAllocator).  That is the
 * sanitizer's lock, not ours; POSIX allows only async-signal-safe calls in
 * such a child anyway.
 *
 * A child that does not finish within a deadline is reported with what
 * each of its threads waits in (/proc/<pid>/task/<tid>/wchan and syscall),
 * then killed: a hang fails in seconds, not at the runner's timeout.
 */
#include "stress.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CHILD_MAY_ALLOCATE	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CHILD_MAY_ALLOCATE	0
#endif
#endif
#ifndef CHILD_MAY_ALLOCATE
#define CHILD_MAY_ALLOCATE	1
#endif

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

/* What each thread of process pid waits in, for a hang report. */
static void report_hang(pid_t pid)
{
	char path[512], line[256];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *what[] = { "comm", "wchan", "syscall" };

		if (de->d_name[0] == '.')
			continue;
		printf("  thread %s:", de->d_name);
		for (int i = 0; i < 3; i++) {
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%d/task/%s/%s",
				 (int)pid, de->d_name, what[i]);
			f = fopen(path, "re");
			if (f && fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\n")] = 0;
				printf(" %s=%s", what[i], line);
			}
			if (f)
				fclose(f);
		}
		printf("\n");
	}
	closedir(d);
}

/* waitpid with a deadline: 0 when the child ended, -1 (reported, killed)
 * when it hung. */
static int wait_child(pid_t pid, int *status, int seconds)
{
	double end = t_now() + seconds;

	while (t_now() < end) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 0;
		usleep(10000);
	}
	printf("child %d hung for %d s; its threads wait in:\n", (int)pid,
	       seconds);
	report_hang(pid);
	fflush(stdout);
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

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
	if (!CHILD_MAY_ALLOCATE) {
		(void)th;
		(void)child_thread;
		bad = stress_check_from(&s, &start, 50000, "child");
	} else {
		struct pcpu_cache *c;
		void *p;

		pthread_create(&th, NULL, child_thread, NULL);
		pthread_join(th, NULL);
		bad = stress_check_from(&s, &start, 60000, "child");
		/* Every lock of ours is free in the child. */
		bad += pcpu_init(NULL) != 0;
		p = pcpu_alloc(64, 0);
		bad += !p || pcpu_free(p);
		c = pcpu_cache_create(64, 0, 16, 0);
		p = c ? pcpu_cache_alloc(c) : NULL;
		bad += !p || pcpu_cache_free(c, p) || pcpu_cache_destroy(c);
	}
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
		if (wait_child(pid, &status, 30)) {
			bad++;
			continue;
		}
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
