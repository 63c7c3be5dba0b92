// SPDX-License-Identifier: MIT
/*
 * abi_user_worker - io_uring's SQPOLL thread (a PF_USER_WORKER: created
 * by copy_process() from the striped task's io_uring_setup(), but running
 * a kernel function and never the task's user code) does not inherit the
 * per-CPU GS layout, while a thread created after it still does.
 *
 * Seen two ways: a tracer in another process stops the worker
 * (PTRACE_SEIZE + PTRACE_INTERRUPT) and asks PTRACE_ARCH_PRCTL
 * ARCH_GET_GS_PERCPU, which must answer ENOENT; and the worker's
 * /proc/<pid>/task/<tid>/arch_status says "GS_percpu: off".
 * The ring is made with the raw system call (no liburing).
 */
#include "gs_abi.h"
#include <dirent.h>
#include <signal.h>
#include <pthread.h>
#include <linux/io_uring.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

static char *area;
static unsigned long stride = 4096;

/* The tid of this process's thread whose name starts with @prefix. */
static pid_t find_thread(const char *prefix)
{
	char path[300], comm[64];
	struct dirent *d;
	pid_t tid = 0;
	DIR *dir;
	FILE *f;

	dir = opendir("/proc/self/task");
	if (!dir)
		return 0;
	while (!tid && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, prefix, strlen(prefix)))
			tid = atoi(d->d_name);
		fclose(f);
	}
	closedir(dir);
	return tid;
}

/* The GS_percpu line of @path without its newline, or "(none)". */
static void gs_status(const char *path, char *line, size_t size)
{
	FILE *f = fopen(path, "r");

	snprintf(line, size, "(none)");
	if (!f)
		return;
	while (fgets(line, size, f))
		if (!strncmp(line, "GS_percpu:", 10))
			break;
	if (strncmp(line, "GS_percpu:", 10))
		snprintf(line, size, "(none)");
	line[strcspn(line, "\n")] = '\0';
	fclose(f);
}

/*
 * In a forked tracer: stop thread @tid of the parent and ask for its
 * layout. Exit 0: ENOENT (no layout); 1: it has one; 2: ptrace failed.
 */
static void tracer(pid_t tid)
{
	unsigned long arg[2] = { 0, 0 };
	int status;
	long r;

	alarm(20);
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) ||
	    ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		printf("  tracer: seize/interrupt %d: %s\n", tid, strerror(errno));
		_exit(2);
	}
	if (waitpid(tid, &status, __WALL) != tid || !WIFSTOPPED(status)) {
		printf("  tracer: worker did not stop (status %#x)\n", status);
		_exit(2);
	}
	r = ptrace(PTRACE_ARCH_PRCTL, tid, arg, ARCH_GET_GS_PERCPU);
	if (r == 0)
		printf("  tracer: worker %d has layout {%#lx, %#lx}\n", tid,
		       arg[0], arg[1]);
	else
		printf("  tracer: worker %d: GET %s\n", tid, strerror(errno));
	ptrace(PTRACE_DETACH, tid, 0, 0);
	_exit(r == 0 ? 1 : errno == ENOENT ? 0 : 2);
}

static void *thread_fn(void *arg)
{
	unsigned long b, s;

	(void)arg;
	return (void *)(long)(gs_get_percpu(&b, &s) || b != (unsigned long)area);
}

int main(int argc, char **argv)
{
	struct io_uring_params p;
	char path[64], line[128];
	int fd, status, i;
	pthread_t t;
	void *tret;
	pid_t tid = 0, pid;

	gs_require_kernel(argc, argv, "abi_user_worker");
	area = gs_area_new(gs_nr_cpu_ids(), stride);
	if (gs_set_percpu((unsigned long)area, stride)) {
		gs_fail("SET: %s", strerror(errno));
		return 1;
	}

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQPOLL;
	p.sq_thread_idle = 60000;	/* ms: keep the worker around */
	fd = (int)syscall(SYS_io_uring_setup, 4, &p);
	if (fd < 0) {
		printf("abi_user_worker: io_uring_setup(SQPOLL): %s: no io_uring in this kernel\n",
		       strerror(errno));
		return GS_EXIT_SKIP;
	}
	for (i = 0; i < 200 && !tid; i++) {
		tid = find_thread("iou-sqp-");
		if (!tid)
			usleep(10000);
	}
	if (!tid) {
		gs_fail("no iou-sqp-* thread in /proc/self/task");
		return 1;
	}
	gs_ok("SQPOLL worker is thread %d", tid);

	/* The tracer must be another process: PTRACE_SEIZE refuses our own threads. */
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		tracer(tid);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		gs_fail("tracer died (status %#x)", status);
	else if (WEXITSTATUS(status) == 1)
		gs_fail("the io_uring worker inherited the per-CPU GS layout");
	else if (WEXITSTATUS(status) == 2)
		gs_fail("could not stop the io_uring worker with ptrace");
	else
		gs_ok("PTRACE_ARCH_PRCTL GET on the worker: ENOENT");

	snprintf(path, sizeof(path), "/proc/self/task/%d/arch_status", tid);
	gs_status(path, line, sizeof(line));
	if (strcmp(line, "GS_percpu:\toff"))
		gs_fail("worker arch_status: \"%s\", want \"GS_percpu:\\toff\"",
			line);
	else
		gs_ok("worker arch_status: GS_percpu: off");

	/* The task itself and its later threads keep the layout. */
	if (pthread_create(&t, NULL, thread_fn, NULL) || pthread_join(t, &tret) ||
	    tret)
		gs_fail("a thread created after the ring lost the layout");
	else
		gs_ok("a thread created after the ring inherits the layout");
	gs_status("/proc/thread-self/arch_status", line, sizeof(line));
	snprintf(path, sizeof(path), "GS_percpu:\t0x%lx 0x%lx",
		 (unsigned long)area, stride);
	if (strcmp(line, path))
		gs_fail("own arch_status: \"%s\", want \"%s\"", line, path);
	close(fd);

	printf("abi_user_worker: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
