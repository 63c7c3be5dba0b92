/* SPDX-License-Identifier: MIT */
/*
 * A target process for the tests that look at another process (pcpu-stat
 * and its ring tail): a forked child that runs the test's own main with a
 * command pipe and an acknowledgement pipe, and a tool found next to the
 * test binary.
 */
#ifndef PCPU_TESTS_TARGET_H
#define PCPU_TESTS_TARGET_H

#include "harness.h"

#include <sys/wait.h>

struct t_target {
	pid_t pid;
	int cmd, ack;		/* pipes to and from it */
	char pid_s[16];		/* its pid as an argument */
};

/* In the target: one acknowledgement byte (a parent gone ends it). */
static inline void t_ack(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(3);
}

/*
 * Fork a target running fn(mode, cmd, ack) (fn must not return); it
 * acknowledges 'R' once it is ready.  Returns 0, or -1 with the reason
 * on stderr if it could not start.
 */
static inline int t_target_start(struct t_target *tg,
				 void (*fn)(int, int, int), int mode)
{
	int cmd[2], ackp[2];
	char c = 0;

	if (pipe(cmd))
		return -1;
	if (pipe(ackp)) {
		close(cmd[0]);
		close(cmd[1]);
		return -1;
	}
	fflush(NULL);	/* the child must not print our buffered output */
	tg->pid = fork();
	if (tg->pid == 0) {
		close(cmd[1]);
		close(ackp[0]);
		fn(mode, cmd[0], ackp[1]);
		_exit(0);
	}
	close(cmd[0]);
	close(ackp[1]);
	tg->cmd = cmd[1];
	tg->ack = ackp[0];
	snprintf(tg->pid_s, sizeof(tg->pid_s), "%d", (int)tg->pid);
	if (tg->pid < 0 || read(tg->ack, &c, 1) != 1 || c != 'R') {
		int status = 0;

		/* Close first: a live target blocked reading its command
		 * pipe then sees EOF (and is killed in case it does not). */
		close(tg->cmd);
		close(tg->ack);
		if (tg->pid > 0) {
			kill(tg->pid, SIGKILL);
			waitpid(tg->pid, &status, 0);
		}
		fprintf(stderr, "target did not start (status %#x)\n", status);
		return -1;
	}
	return 0;
}

/* Tell the target to quit ('q'; killed if it cannot hear) and reap it. */
static inline void t_target_stop(struct t_target *tg)
{
	if (write(tg->cmd, "q", 1) != 1)
		kill(tg->pid, SIGKILL);
	close(tg->cmd);
	close(tg->ack);
	waitpid(tg->pid, NULL, 0);
}

/*
 * The path of tool in the build next to this test binary
 * (B/tests/test_x -> B/tools/<tool>) into buf.  Returns 0 if it is there
 * and executable, -1 if not (buf holds the path looked at).
 */
static inline int t_tool_path(char *buf, size_t len, const char *tool)
{
	ssize_t n = len > 1 ? readlink("/proc/self/exe", buf, len - 1) : -1;
	size_t used;
	char *slash;

	if (len == 0)
		return -1;
	buf[n > 0 ? n : 0] = 0;
	for (int i = 0; i < 2 && (slash = strrchr(buf, '/')); i++)
		*slash = 0;
	used = strlen(buf);
	if (snprintf(buf + used, len - used, "/tools/%s", tool) >=
	    (int)(len - used))
		return -1;
	return access(buf, X_OK) ? -1 : 0;
}

#endif
