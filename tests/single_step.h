/* SPDX-License-Identifier: MIT */
/*
 * A debugger's single-stepping, for the tests of the abort path: the
 * child marks the stretch to step with t_step_begin() and t_step_end()
 * (each stops it with SIGSTOP; the first also asks to be traced), and
 * t_single_step() forks it and single-steps it between the two stops.
 * Every step stops the child, so every restartable sequence it is in
 * aborts, every time.
 */
#ifndef PCPU_TEST_SINGLE_STEP_H
#define PCPU_TEST_SINGLE_STEP_H

#include "harness.h"

#include <sys/ptrace.h>
#include <sys/wait.h>

/* In the child: 0, or -1 if it cannot be traced. */
static inline int t_step_begin(void)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		return -1;
	raise(SIGSTOP);
	return 0;
}

static inline void t_step_end(void)
{
	raise(SIGSTOP);
}

/*
 * Fork child() and single-step it from its first stop to its second,
 * then let it run to its end.  Returns 0 with its wait status and the
 * number of steps, or T_SKIP (said why) when it never stopped.
 */
static inline int t_single_step(int (*child)(void), int *status,
				long *steps)
{
	pid_t pid;

	*steps = 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child());
	if (pid < 0 || waitpid(pid, status, 0) != pid || !WIFSTOPPED(*status)) {
		printf("skip: the child did not stop (ptrace refused?)\n");
		return T_SKIP;
	}
	for (;;) {
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL))
			break;
		if (waitpid(pid, status, 0) != pid || !WIFSTOPPED(*status))
			break;
		++*steps;
		/* The second stop: the stretch is done. */
		if (WSTOPSIG(*status) == SIGSTOP)
			break;
		if (*steps > 50000000) {
			printf("no progress after %ld steps\n", *steps);
			kill(pid, SIGKILL);
			break;
		}
	}
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	waitpid(pid, status, 0);
	return 0;
}

#endif /* PCPU_TEST_SINGLE_STEP_H */
