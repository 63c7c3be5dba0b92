// SPDX-License-Identifier: MIT
/*
 * abi_arch_status - the per-CPU GS layout is visible to checkpoint/restore
 * in /proc/<pid>/arch_status, and a restorer can set it back.
 *
 *   - own line: "GS_percpu:\toff" before SET and after ARCH_SET_GS or a
 *     WRGSBASE (noticed at once: reading one's own file saves the live
 *     state first), "GS_percpu:\t0x<base> 0x<stride>" while striped;
 *   - a stopped tracee's line, read by its tracer, shows its layout;
 *   - a reader that may not read the task's memory map gets no line;
 *   - checkpoint/restore as CRIU would do it: save a striped tracee's
 *     registers and its arch_status line, then in a fresh task (no
 *     layout) write the registers back with PTRACE_SETREGS and the layout
 *     with PTRACE_ARCH_PRCTL ARCH_SET_GS_PERCPU: the restored task stripes
 *     on every CPU.
 */
#include "gs_abi.h"
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

static char *area;
static unsigned long stride = 4096;
static cpu_set_t allowed;
static int nr;

/* What a resumed tracee saw (shared page). */
struct report {
	int get_ok, bad_cpus;
	unsigned long b, s;
};
static struct report *rep;

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

static void expect_line(const char *what, const char *path, const char *want)
{
	char line[128];

	gs_status(path, line, sizeof(line));
	if (strcmp(line, want))
		gs_fail("%s: \"%s\", want \"%s\"", what, line, want);
	else
		gs_ok("%s: \"%s\"", what, line);
}

static void striped_line(char *buf, size_t size)
{
	snprintf(buf, size, "GS_percpu:\t0x%lx 0x%lx", (unsigned long)area,
		 stride);
}

/* Tracee: maybe set the layout, stop; once resumed, check every CPU. */
static void tracee(int self_set)
{
	int cpu;

	if (self_set && gs_set_percpu((unsigned long)area, stride))
		_exit(3);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0))
		_exit(4);
	raise(SIGSTOP);
	rep->get_ok = gs_get_percpu(&rep->b, &rep->s) == 0;
	for (cpu = 0; rep->get_ok && cpu < nr; cpu++) {
		if (!CPU_ISSET(cpu, &allowed) || gs_pin(cpu))
			continue;
		if (gs_read(GS_SLOT_CPU) != (unsigned long)cpu)
			rep->bad_cpus++;
	}
	_exit(0);
}

static pid_t start_tracee(int self_set)
{
	int status;
	pid_t pid;

	memset(rep, 0, sizeof(*rep));
	pid = fork();
	if (pid == 0)
		tracee(self_set);
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    !WIFSTOPPED(status)) {
		gs_fail("tracee did not stop (status %#x)", status);
		return -1;
	}
	return pid;
}

/* Parse "GS_percpu:\t0x<base> 0x<stride>"; 0 if striped. */
static int parse_line(const char *line, unsigned long *b, unsigned long *s)
{
	return sscanf(line, "GS_percpu:\t%lx %lx", b, s) == 2 ? 0 : -1;
}

static void test_own(void)
{
	char want[128];

	expect_line("own line before SET", "/proc/self/arch_status",
		    "GS_percpu:\toff");
	gs_set_percpu((unsigned long)area, stride);
	striped_line(want, sizeof(want));
	expect_line("own line while striped", "/proc/self/arch_status", want);
	gs_arch_prctl(ARCH_SET_GS, 0);
	expect_line("own line after ARCH_SET_GS", "/proc/self/arch_status",
		    "GS_percpu:\toff");
	if (gs_have_fsgsbase()) {
		gs_set_percpu((unsigned long)area, stride);
		gs_wrgsbase(0x5000);
		expect_line("own line right after WRGSBASE",
			    "/proc/self/arch_status", "GS_percpu:\toff");
		gs_arch_prctl(ARCH_SET_GS, 0);
	}
}

/* A reader that may not read our memory map gets no GS_percpu line. */
static void test_unprivileged(void)
{
	char path[64], line[128];
	int status, fds[2];
	pid_t pid;

	gs_set_percpu((unsigned long)area, stride);
	snprintf(path, sizeof(path), "/proc/%d/arch_status", (int)getpid());
	if (pipe(fds))
		return;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (setgid(65534) || setuid(65534))
			_exit(2);
		gs_status(path, line, sizeof(line));
		if (write(fds[1], line, strlen(line) + 1) < 0)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	memset(line, 0, sizeof(line));
	if (read(fds[0], line, sizeof(line) - 1) < 0)
		line[0] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		printf("  [SKIP] unprivileged reader: cannot drop privileges\n");
	else if (strcmp(line, "(none)"))
		gs_fail("unprivileged reader sees \"%s\"", line);
	else
		gs_ok("a reader without ptrace access gets no GS_percpu line");
	gs_arch_prctl(ARCH_SET_GS, 0);
}

static void test_checkpoint_restore(void)
{
	char path[64], line[128], want[128];
	struct user_regs_struct saved, fresh;
	unsigned long arg[2];
	int status;
	pid_t pid;

	/* Checkpoint: registers and the arch_status line of a striped task. */
	pid = start_tracee(1);
	if (pid < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/arch_status", (int)pid);
	gs_status(path, line, sizeof(line));
	striped_line(want, sizeof(want));
	if (strcmp(line, want))
		gs_fail("stopped tracee's line: \"%s\", want \"%s\"", line, want);
	else
		gs_ok("stopped tracee's line: \"%s\"", line);
	if (ptrace(PTRACE_GETREGS, pid, 0, &saved))
		gs_fail("GETREGS: %s", strerror(errno));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (parse_line(line, &arg[0], &arg[1])) {
		gs_fail("checkpoint: no layout to restore");
		return;
	}

	/* Restore into a fresh task that has no layout. */
	pid = start_tracee(0);
	if (pid < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/arch_status", (int)pid);
	expect_line("fresh tracee's line", path, "GS_percpu:\toff");
	if (ptrace(PTRACE_GETREGS, pid, 0, &fresh))
		gs_fail("GETREGS: %s", strerror(errno));
	/* The fresh task's own registers, with the checkpoint's GS base. */
	fresh.gs_base = saved.gs_base;
	if (ptrace(PTRACE_SETREGS, pid, 0, &fresh))
		gs_fail("SETREGS: %s", strerror(errno));
	if (ptrace(PTRACE_ARCH_PRCTL, pid, arg, ARCH_SET_GS_PERCPU))
		gs_fail("PTRACE_ARCH_PRCTL SET: %s", strerror(errno));
	expect_line("restored tracee's line", path, want);
	ptrace(PTRACE_CONT, pid, 0, 0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		gs_fail("restored tracee died (status %#x)", status);
	else if (!rep->get_ok || rep->b != (unsigned long)area ||
		 rep->s != stride || rep->bad_cpus)
		gs_fail("restored task: GET %s {%#lx, %#lx}, %d CPUs with a wrong slot",
			rep->get_ok ? "ok" : "failed", rep->b, rep->s,
			rep->bad_cpus);
	else
		gs_ok("restored task stripes on every CPU");
}

int main(int argc, char **argv)
{
	gs_require_kernel(argc, argv, "abi_arch_status");
	nr = gs_nr_cpu_ids();
	gs_allowed_cpus(&allowed);
	area = gs_area_new(nr, stride);
	rep = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	test_own();
	test_unprivileged();
	test_checkpoint_restore();

	printf("abi_arch_status: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
