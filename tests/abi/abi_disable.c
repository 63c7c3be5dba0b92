// SPDX-License-Identifier: MIT
/*
 * abi_disable - setting GS any other way switches striping off, after
 * which ARCH_GET_GS_PERCPU answers ENOENT and the kernel leaves the GS
 * base alone across migrations:
 *   ARCH_SET_GS; WRGSBASE (noticed by GET at once, or at the next context
 *   switch); loading a selector into %gs (mov to %gs).
 * A SET afterwards turns it on again. The documented hole (a WRGSBASE of
 * exactly the striped value cannot be noticed) is checked as documented.
 * Each case runs in a child process.
 */
#include "gs_abi.h"
#include <sys/wait.h>

#define OTHER_BASE	0x5a5a000UL

static char *area;
static unsigned long stride = 4096;
static cpu_set_t allowed;
static int nr, cpus[CPU_SETSIZE], ncpus;

enum how { BY_SET_GS, BY_WRGSBASE, BY_SELECTOR };

static int get_is_enoent(void)
{
	unsigned long b = 0, s = 0;

	return gs_get_percpu(&b, &s) == -1 && errno == ENOENT;
}

/* Runs in a child; returns the number of failures. */
static int disable_case(enum how how, int migrate_first, const char *name)
{
	unsigned short sel;
	unsigned long want_base = OTHER_BASE;
	int bad = 0, i;

	gs_pin(cpus[0]);
	if (gs_set_percpu((unsigned long)area, stride)) {
		printf("  [FAIL] %s: SET: %s\n", name, strerror(errno));
		return 1;
	}
	switch (how) {
	case BY_SET_GS:
		gs_arch_prctl(ARCH_SET_GS, OTHER_BASE);
		break;
	case BY_WRGSBASE:
		gs_wrgsbase(OTHER_BASE);
		break;
	case BY_SELECTOR:
		/* The flat user data selector: base 0. */
		asm volatile("mov %%ss, %0" : "=r" (sel));
		asm volatile("mov %0, %%gs" :: "r" (sel) : "memory");
		want_base = 0;
		break;
	}
	if (migrate_first) {
		/* Let a context switch see the change before GET does. */
		for (i = 1; i < ncpus; i++)
			gs_pin(cpus[i]);
		usleep(1000);
	}
	if (!get_is_enoent()) {
		printf("  [FAIL] %s: GET does not answer ENOENT\n", name);
		bad++;
	}
	/* Stays off: no re-striping on any CPU. */
	for (i = 0; i < ncpus; i++) {
		gs_pin(cpus[i]);
		sched_yield();
		if (gs_current_base() != want_base) {
			printf("  [FAIL] %s: on CPU %d base %#lx, want %#lx\n",
			       name, cpus[i], gs_current_base(), want_base);
			bad++;
		}
		if (!get_is_enoent()) {
			printf("  [FAIL] %s: on CPU %d GET not ENOENT\n", name,
			       cpus[i]);
			bad++;
		}
	}
	/* And can be turned on again. */
	if (gs_set_percpu((unsigned long)area, stride) ||
	    gs_read(GS_SLOT_CPU) != (unsigned long)cpus[ncpus - 1]) {
		printf("  [FAIL] %s: SET again did not stripe\n", name);
		bad++;
	}
	return bad;
}

static int hole_case(void)
{
	unsigned long b = 0, s = 0;

	/* Writing the value the kernel installed is not a change. */
	gs_pin(cpus[0]);
	gs_set_percpu((unsigned long)area, stride);
	gs_wrgsbase(gs_rdgsbase());
	if (gs_get_percpu(&b, &s)) {
		printf("  [FAIL] wrgsbase of the striped value disabled it\n");
		return 1;
	}
	return 0;
}

static void run(int (*fn)(enum how, int, const char *), enum how how,
		int migrate_first, const char *name)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(how, migrate_first, name) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		gs_fail("%s: fork/waitpid", name);
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		gs_fail("%s (status %#x)", name, status);
	else
		gs_ok("%s", name);
}

static int hole_wrapper(enum how how, int m, const char *n)
{
	(void)how; (void)m; (void)n;
	return hole_case();
}

int main(int argc, char **argv)
{
	int i;

	gs_require_kernel(argc, argv, "abi_disable");
	nr = gs_nr_cpu_ids();
	gs_allowed_cpus(&allowed);
	for (i = 0; i < nr; i++)
		if (CPU_ISSET(i, &allowed))
			cpus[ncpus++] = i;
	area = gs_area_new(nr, stride);

	run(disable_case, BY_SET_GS, 0, "ARCH_SET_GS disables");
	run(disable_case, BY_SELECTOR, 0, "selector load disables (GET)");
	run(disable_case, BY_SELECTOR, 1,
	    "selector load disables (context switch)");
	if (gs_have_fsgsbase()) {
		run(disable_case, BY_WRGSBASE, 0, "wrgsbase disables (GET)");
		run(disable_case, BY_WRGSBASE, 1,
		    "wrgsbase disables (context switch)");
		run(hole_wrapper, 0, 0,
		    "wrgsbase of the striped value is not noticed (documented hole)");
	} else {
		printf("abi_disable: no FSGSBASE (nofsgsbase?): wrgsbase cases not applicable\n");
	}

	printf("abi_disable: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
