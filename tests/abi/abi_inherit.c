// SPDX-License-Identifier: MIT
/*
 * abi_inherit - the per-CPU GS layout is inherited by pthread_create()
 * threads and fork() children (which then stripe on their own CPUs), and
 * reset by execve() (GET answers ENOENT and the GS base is 0).
 */
#include "gs_abi.h"
#include <pthread.h>
#include <sys/wait.h>

static char *area;
static unsigned long stride = 4096;
static cpu_set_t allowed;
static int nr;

/* Pinned to each allowed CPU, %gs:0 names it; returns the failure count. */
static int check_everywhere(const char *who)
{
	unsigned long b = 0, s = 0;
	int cpu, bad = 0;

	if (gs_get_percpu(&b, &s) || b != (unsigned long)area || s != stride) {
		gs_fail("%s: GET = {%#lx, %#lx} (%s)", who, b, s,
			strerror(errno));
		bad++;
	}
	for (cpu = 0; cpu < nr; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || gs_pin(cpu))
			continue;
		if (gs_read(GS_SLOT_CPU) != (unsigned long)cpu) {
			gs_fail("%s on CPU %d: %%gs:0 = %lu", who, cpu,
				gs_read(GS_SLOT_CPU));
			bad++;
		}
	}
	return bad;
}

static void *thread_fn(void *arg)
{
	(void)arg;
	return (void *)(long)check_everywhere("pthread");
}

static int exec_child(void)
{
	unsigned long arg[2];
	long ret = gs_arch_prctl(ARCH_GET_GS_PERCPU, (unsigned long)arg);
	int bad = 0;

	if (ret != -1 || errno != ENOENT) {
		printf("  [FAIL] after execve: GET = %ld (%s), want ENOENT\n",
		       ret, strerror(errno));
		bad++;
	}
	if (gs_current_base() != 0) {
		printf("  [FAIL] after execve: GS base %#lx, want 0\n",
		       gs_current_base());
		bad++;
	}
	if (gs_have_fsgsbase() && gs_rdgsbase() != 0) {
		printf("  [FAIL] after execve: rdgsbase %#lx, want 0\n",
		       gs_rdgsbase());
		bad++;
	}
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	pthread_t t;
	void *tret;
	pid_t pid;
	int status;

	if (argc > 1 && strcmp(argv[1], "--exec-child") == 0)
		return exec_child();
	gs_require_kernel(argc, argv, "abi_inherit");
	nr = gs_nr_cpu_ids();
	gs_allowed_cpus(&allowed);
	area = gs_area_new(nr, stride);
	if (gs_set_percpu((unsigned long)area, stride)) {
		gs_fail("SET: %s", strerror(errno));
		return 1;
	}
	if (check_everywhere("parent") == 0)
		gs_ok("parent stripes on every CPU");
	gs_allowed_cpus(&allowed);
	sched_setaffinity(0, sizeof(allowed), &allowed);

	/* Threads. */
	if (pthread_create(&t, NULL, thread_fn, NULL) ||
	    pthread_join(t, &tret))
		gs_fail("pthread_create/join");
	else if (tret == NULL)
		gs_ok("pthread_create: thread inherits and stripes");

	/* Processes. */
	pid = fork();
	if (pid == 0)
		_exit(check_everywhere("fork child") ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		gs_fail("fork/waitpid");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		gs_fail("fork child failed (status %#x)", status);
	else
		gs_ok("fork: child inherits and stripes");

	/* The parent keeps it after all that. */
	if (check_everywhere("parent after fork") == 0)
		gs_ok("parent unchanged after thread and fork");

	/* execve resets. */
	pid = fork();
	if (pid == 0) {
		char *args[] = { "/proc/self/exe", "--exec-child", NULL };

		execv("/proc/self/exe", args);
		perror("execv");
		_exit(2);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		gs_fail("fork/waitpid for execve");
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		gs_fail("execve child still striped (status %#x)", status);
	else
		gs_ok("execve: GET answers ENOENT, GS base is 0");

	printf("abi_inherit: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
