// SPDX-License-Identifier: MIT
/*
 * abi_fork_race - fork() and pthread_create() while the parent migrates:
 * the child must inherit a consistent layout.
 *
 * copy_thread() takes a snapshot of the parent's GS state: the base and
 * the kernel's record of the base it installed. A switch-in on another
 * CPU rewrites both. If it happens between the two loads, the child gets
 * the base of one CPU with the record of another, takes its first
 * switch-in for a user WRGSBASE and stops striping: GET answers ENOENT
 * and the child keeps the old CPU's slot everywhere.
 *
 * The window is a few instructions. The test kernel built by vm/ holds it
 * open for 200 ms when a thread named "gs_fork_delay" forks (the
 * test-only patch in kernel/test-only/, never part of the series), and a
 * mover thread migrates the parent in the middle of it. A kernel without
 * that delay makes the race unreachable on purpose: the test then skips.
 */
#include "gs_abi.h"
#include <pthread.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define ROUNDS		4
#define MIN_DELAY_NS	100000000L	/* a fork slower than this: delay is in */
#define MOVE_AFTER_NS	100000000L	/* the middle of the 200 ms window */

static char *area;
static unsigned long stride = 4096;
static cpu_set_t allowed;
static int nr, cpu_a, cpu_b;
static pid_t parent_tid;

/* Mover: when told to, wait move_after_ns, then move the parent to cpu_b. */
static volatile int go, moved;
static long move_after_ns;

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *mover(void *arg)
{
	struct timespec d;
	cpu_set_t to;

	(void)arg;
	for (;;) {
		while (!go)
			sched_yield();
		if (go < 0)
			return NULL;
		/* Off the parent's CPU, so that nothing but the kernel delays us. */
		gs_pin(cpu_b);
		d.tv_sec = move_after_ns / 1000000000L;
		d.tv_nsec = move_after_ns % 1000000000L;
		nanosleep(&d, NULL);
		CPU_ZERO(&to);
		CPU_SET(cpu_b, &to);
		if (sched_setaffinity(parent_tid, sizeof(to), &to))
			perror("sched_setaffinity(parent)");
		moved = 1;
		go = 0;
	}
}

/* In the child: the layout and, on every allowed CPU, the right slot. */
static int child_check(const char *who)
{
	unsigned long b = 0, s = 0;
	int cpu, bad = 0;

	if (gs_get_percpu(&b, &s) || b != (unsigned long)area || s != stride) {
		printf("  [FAIL] %s: GET = {%#lx, %#lx} (%s), GS base %#lx\n",
		       who, b, s, strerror(errno), gs_current_base());
		return 1;
	}
	for (cpu = 0; cpu < nr; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || gs_pin(cpu))
			continue;
		if (gs_read(GS_SLOT_CPU) != (unsigned long)cpu) {
			printf("  [FAIL] %s on CPU %d: %%gs:0 = %lu\n", who,
			       cpu, gs_read(GS_SLOT_CPU));
			bad++;
		}
	}
	return bad;
}

static void *thread_fn(void *arg)
{
	(void)arg;
	return (void *)(long)child_check("thread");
}

/* Create one child (process or thread) while the mover acts; 0 if good. */
static int one_round(int round, int use_thread)
{
	const char *what = use_thread ? "pthread_create" : "fork";
	pthread_t t;
	void *tret;
	int status, bad;
	pid_t pid;
	long t0;

	gs_pin(cpu_a);
	moved = 0;
	go = 1;
	t0 = now_ns();
	if (use_thread) {
		if (pthread_create(&t, NULL, thread_fn, NULL)) {
			gs_fail("pthread_create");
			return 1;
		}
		t0 = now_ns() - t0;
		pthread_join(t, &tret);
		bad = tret != NULL;
	} else {
		pid = fork();
		if (pid == 0)
			_exit(child_check("fork child") ? 1 : 0);
		t0 = now_ns() - t0;
		bad = pid < 0 || waitpid(pid, &status, 0) != pid ||
		      !WIFEXITED(status) || WEXITSTATUS(status);
	}
	while (go)
		sched_yield();
	if (sched_getcpu() != cpu_b)
		printf("  [note] round %d: parent on CPU %d after %s, not %d\n",
		       round, sched_getcpu(), what, cpu_b);
	if (t0 < move_after_ns)
		gs_fail("round %d: %s returned after %ld ms, before the move: the window was missed",
			round, what, t0 / 1000000);
	if (bad)
		gs_fail("round %d: %s moved from CPU %d to %d after %ld ms: child lost striping",
			round, what, cpu_a, cpu_b, move_after_ns / 1000000);
	else
		gs_ok("round %d: %s, parent moved CPU %d -> %d %ld ms in (it took %ld ms): child stripes",
		      round, what, cpu_a, cpu_b, move_after_ns / 1000000,
		      t0 / 1000000);
	if (child_check("parent"))
		gs_fail("round %d: the parent itself lost striping", round);
	return bad;
}

int main(int argc, char **argv)
{
	int cpus[CPU_SETSIZE], ncpus = 0, i, status;
	pthread_t mt;
	pid_t pid;
	long t;

	gs_require_kernel(argc, argv, "abi_fork_race");
	nr = gs_nr_cpu_ids();
	gs_allowed_cpus(&allowed);
	for (i = 0; i < nr; i++)
		if (CPU_ISSET(i, &allowed))
			cpus[ncpus++] = i;
	if (ncpus < 2) {
		printf("abi_fork_race: needs 2 CPUs\n");
		return GS_EXIT_SKIP;
	}
	area = gs_area_new(nr, stride);
	parent_tid = (pid_t)syscall(SYS_gettid);
	if (prctl(PR_SET_NAME, "gs_fork_delay") ||
	    gs_set_percpu((unsigned long)area, stride)) {
		gs_fail("PR_SET_NAME / SET: %s", strerror(errno));
		return 1;
	}

	/* Is the test kernel's delay there? Time a fork that nobody moves. */
	gs_pin(cpus[0]);
	t = now_ns();
	pid = fork();
	if (pid == 0)
		_exit(0);
	t = now_ns() - t;
	waitpid(pid, &status, 0);
	if (t < MIN_DELAY_NS) {
		printf("abi_fork_race: fork took %ld ms: this kernel does not widen the copy_thread() window (test-only patch), the race cannot be hit on purpose\n",
		       t / 1000000);
		return GS_EXIT_SKIP;
	}
	gs_ok("fork takes %ld ms: the test kernel's delay is in", t / 1000000);
	move_after_ns = MOVE_AFTER_NS;

	if (pthread_create(&mt, NULL, mover, NULL)) {
		gs_fail("pthread_create(mover)");
		return 1;
	}
	for (i = 0; i < ROUNDS; i++) {
		cpu_a = cpus[i % 2];
		cpu_b = cpus[(i + 1) % 2];
		one_round(i, i >= ROUNDS / 2);
	}
	go = -1;
	pthread_join(mt, NULL);

	printf("abi_fork_race: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
