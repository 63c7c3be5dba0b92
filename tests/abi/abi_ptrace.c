// SPDX-License-Identifier: MIT
/*
 * abi_ptrace - per-CPU GS as seen and changed by a debugger:
 *   - PTRACE_ARCH_PRCTL ARCH_GET_GS_PERCPU on a tracee reports its layout,
 *     PTRACE_PEEKUSER / PTRACE_GETREGS report the base in effect
 *     (base + cpu * stride for the CPU the tracee last ran on);
 *   - PTRACE_SETREGS and PTRACE_POKEUSER writing back unchanged values
 *     keep striping on;
 *   - so does a register set saved at one stop and written back at a
 *     later stop, after the tracee ran and migrated (gdb's "call", CRIU's
 *     parasite): its gs_base is the old CPU's slot, and any slot of the
 *     layout is not a change;
 *   - so does POKEUSER of another possible CPU's slot;
 *   - PTRACE_POKEUSER of a gs_base that is not a slot (between two slots,
 *     or outside the layout), or of a non-null gs selector, switches it
 *     off (GET answers ENOENT, in the tracer and in the tracee);
 *   - PTRACE_ARCH_PRCTL ARCH_SET_GS_PERCPU turns it on in a tracee.
 */
#include "gs_abi.h"
#include <stddef.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#define OTHER_BASE	0x7a7a000UL
#define GS_BASE_OFF	offsetof(struct user, regs.gs_base)
#define GS_SEL_OFF	offsetof(struct user, regs.gs)

static char *area;
static unsigned long stride = 4096;
static int nr, cpus[CPU_SETSIZE], ncpus, cpu_last, cpu_want;

/* What the tracee saw after it was resumed (shared page). */
struct report {
	long get_ret;
	int get_errno;
	unsigned long b, s, gs0, base;
};
static struct report *rep;

static void tracee(int self_set)
{
	gs_pin(cpu_last);
	if (self_set && gs_set_percpu((unsigned long)area, stride))
		_exit(3);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0))
		_exit(4);
	raise(SIGSTOP);
	/* Resumed by the tracer. */
	rep->get_ret = gs_get_percpu(&rep->b, &rep->s);
	rep->get_errno = rep->get_ret ? errno : 0;
	rep->base = gs_current_base();
	rep->gs0 = rep->get_ret ? ~0UL : gs_read(GS_SLOT_CPU);
	_exit(0);
}

/*
 * What a debugger's "call" runs in the tracee between two stops: here it
 * moves the tracee to another CPU and stops again. The tracer then puts
 * back the registers of the first stop, so this never returns.
 */
static void __attribute__((noreturn, noinline)) injected_call(void)
{
	gs_pin(cpus[0]);
	raise(SIGSTOP);
	for (;;)
		pause();
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

/*
 * Resume and check what the tracee saw; want_on: striping expected, on
 * CPU cpu_want; want_base: its GS base, ~0 for "don't care".
 */
static void finish(pid_t pid, int want_on, unsigned long want_base,
		   const char *name)
{
	int status, bad = 0;

	ptrace(PTRACE_CONT, pid, 0, 0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		gs_fail("%s: tracee died (status %#x)", name, status);
		return;
	}
	if (want_on && (rep->get_ret || rep->b != (unsigned long)area ||
			rep->s != stride || rep->gs0 != (unsigned long)cpu_want)) {
		gs_fail("%s: tracee GET %ld (%s) {%#lx, %#lx}, %%gs:0 %lu",
			name, rep->get_ret, strerror(rep->get_errno), rep->b,
			rep->s, rep->gs0);
		bad++;
	}
	if (!want_on && !(rep->get_ret == -1 && rep->get_errno == ENOENT)) {
		gs_fail("%s: tracee GET %ld, want ENOENT", name, rep->get_ret);
		bad++;
	}
	if (want_base != ~0UL && rep->base != want_base) {
		gs_fail("%s: tracee GS base %#lx, want %#lx", name, rep->base,
			want_base);
		bad++;
	}
	if (!bad)
		gs_ok("%s", name);
}

static long tracer_get(pid_t pid, unsigned long arg[2])
{
	return ptrace(PTRACE_ARCH_PRCTL, pid, arg, ARCH_GET_GS_PERCPU);
}

static void check_tracer_view(pid_t pid, const char *name)
{
	unsigned long want = (unsigned long)area + cpu_last * stride;
	unsigned long arg[2] = { 0, 0 }, peek;
	struct user_regs_struct regs;

	if (tracer_get(pid, arg) || arg[0] != (unsigned long)area ||
	    arg[1] != stride)
		gs_fail("%s: PTRACE_ARCH_PRCTL GET {%#lx, %#lx} (%s)", name,
			arg[0], arg[1], strerror(errno));
	errno = 0;
	peek = ptrace(PTRACE_PEEKUSER, pid, GS_BASE_OFF, 0);
	if (errno || peek != want)
		gs_fail("%s: PEEKUSER gs_base %#lx, want %#lx", name, peek,
			want);
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) || regs.gs_base != want)
		gs_fail("%s: GETREGS gs_base %#llx, want %#lx", name,
			regs.gs_base, want);
}

int main(int argc, char **argv)
{
	unsigned long want, arg[2];
	struct user_regs_struct regs;
	cpu_set_t allowed;
	pid_t pid;
	int i;

	gs_require_kernel(argc, argv, "abi_ptrace");
	nr = gs_nr_cpu_ids();
	gs_allowed_cpus(&allowed);
	for (i = 0; i < nr; i++)
		if (CPU_ISSET(i, &allowed))
			cpus[ncpus++] = i;
	cpu_last = cpus[ncpus - 1];
	area = gs_area_new(nr, stride);
	rep = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	want = (unsigned long)area + cpu_last * stride;
	/* The tracer itself runs elsewhere when it can. */
	gs_pin(cpus[0]);
	cpu_want = cpu_last;

	/* 1. Tracer reads the tracee's layout and base. */
	pid = start_tracee(1);
	if (pid > 0) {
		check_tracer_view(pid, "tracer view");
		finish(pid, 1, want, "PTRACE_ARCH_PRCTL GET, PEEKUSER, GETREGS");
	}

	/* 2. Unchanged write-backs keep striping. */
	pid = start_tracee(1);
	if (pid > 0) {
		if (ptrace(PTRACE_GETREGS, pid, 0, &regs) ||
		    ptrace(PTRACE_SETREGS, pid, 0, &regs))
			gs_fail("GETREGS/SETREGS: %s", strerror(errno));
		if (ptrace(PTRACE_POKEUSER, pid, GS_BASE_OFF, regs.gs_base) ||
		    ptrace(PTRACE_POKEUSER, pid, GS_SEL_OFF, regs.gs))
			gs_fail("POKEUSER same value: %s", strerror(errno));
		check_tracer_view(pid, "after unchanged write-back");
		finish(pid, 1, want,
		       "SETREGS / POKEUSER of unchanged values keep striping");
	}

	/*
	 * 2b. A register set saved at one stop and written back at a later
	 * stop, after the tracee migrated in between (gdb's "call"): its
	 * gs_base is the slot of the CPU the tracee left, and striping must
	 * survive it.
	 */
	if (ncpus < 2) {
		printf("  [SKIP] SETREGS after a migration: needs 2 CPUs\n");
	} else if ((pid = start_tracee(1)) > 0) {
		struct user_regs_struct call;
		unsigned long first = (unsigned long)area + cpus[0] * stride;
		int status;

		if (ptrace(PTRACE_GETREGS, pid, 0, &regs))
			gs_fail("GETREGS: %s", strerror(errno));
		call = regs;
		call.rip = (unsigned long)injected_call;
		/* Below the red zone, aligned as after a call instruction. */
		call.rsp = ((regs.rsp - 4096) & ~15UL) - 8;
		call.orig_rax = -1;	/* no system call to restart */
		if (ptrace(PTRACE_SETREGS, pid, 0, &call) ||
		    ptrace(PTRACE_CONT, pid, 0, 0) ||
		    waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) {
			gs_fail("injected call did not stop (status %#x)",
				status);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		} else {
			errno = 0;
			if (ptrace(PTRACE_PEEKUSER, pid, GS_BASE_OFF, 0) !=
			    (long)first)
				gs_fail("after the call the tracee is not on CPU %d",
					cpus[0]);
			if (ptrace(PTRACE_SETREGS, pid, 0, &regs))
				gs_fail("SETREGS: %s", strerror(errno));
			cpu_want = cpus[0];
			finish(pid, 1, first,
			       "SETREGS of a set saved before a migration keeps striping");
			cpu_want = cpu_last;
		}
	}

	/* 2c. POKEUSER of another possible CPU's slot: not a change either. */
	pid = start_tracee(1);
	if (pid > 0) {
		if (ptrace(PTRACE_POKEUSER, pid, GS_BASE_OFF,
			   (unsigned long)area + cpus[0] * stride))
			gs_fail("POKEUSER gs_base: %s", strerror(errno));
		finish(pid, 1, want,
		       "POKEUSER of another CPU's slot keeps striping");
	}

	/* 2d. A base between two slots is a change. */
	pid = start_tracee(1);
	if (pid > 0) {
		if (ptrace(PTRACE_POKEUSER, pid, GS_BASE_OFF, want + 8))
			gs_fail("POKEUSER gs_base: %s", strerror(errno));
		finish(pid, 0, want + 8, "POKEUSER of a base off the slot grid disables");
	}

	/* 3. A real gs_base change switches it off. */
	pid = start_tracee(1);
	if (pid > 0) {
		if (ptrace(PTRACE_POKEUSER, pid, GS_BASE_OFF, OTHER_BASE))
			gs_fail("POKEUSER gs_base: %s", strerror(errno));
		if (tracer_get(pid, arg) != -1 || errno != ENOENT)
			gs_fail("tracer GET after POKEUSER gs_base: not ENOENT");
		finish(pid, 0, OTHER_BASE, "POKEUSER gs_base change disables");
	}

	/* 4. SETREGS with a changed gs_base switches it off too. */
	pid = start_tracee(1);
	if (pid > 0) {
		ptrace(PTRACE_GETREGS, pid, 0, &regs);
		regs.gs_base = OTHER_BASE;
		if (ptrace(PTRACE_SETREGS, pid, 0, &regs))
			gs_fail("SETREGS: %s", strerror(errno));
		finish(pid, 0, OTHER_BASE, "SETREGS gs_base change disables");
	}

	/* 5. A non-null selector written to gs switches it off. */
	pid = start_tracee(1);
	if (pid > 0) {
		unsigned long ss = ptrace(PTRACE_PEEKUSER, pid,
					  offsetof(struct user, regs.ss), 0);

		if (ptrace(PTRACE_POKEUSER, pid, GS_SEL_OFF, ss))
			gs_fail("POKEUSER gs: %s", strerror(errno));
		if (tracer_get(pid, arg) != -1 || errno != ENOENT)
			gs_fail("tracer GET after POKEUSER gs: not ENOENT");
		/* The base then depends on FSGSBASE: not checked. */
		finish(pid, 0, ~0UL, "POKEUSER gs selector disables");
	}

	/* 6. The tracer turns it on in a tracee. */
	pid = start_tracee(0);
	if (pid > 0) {
		arg[0] = (unsigned long)area;
		arg[1] = stride;
		if (tracer_get(pid, arg) != -1 || errno != ENOENT)
			gs_fail("tracer GET on unconfigured tracee: not ENOENT");
		if (ptrace(PTRACE_ARCH_PRCTL, pid, arg, ARCH_SET_GS_PERCPU))
			gs_fail("PTRACE_ARCH_PRCTL SET: %s", strerror(errno));
		check_tracer_view(pid, "after tracer SET");
		finish(pid, 1, want, "PTRACE_ARCH_PRCTL SET on a tracee");
	}

	printf("abi_ptrace: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
