// SPDX-License-Identifier: MIT
/*
 * abi_identity - pinned to each allowed CPU in turn, %gs:0 reads that CPU's
 * slot, and the GS base (RDGSBASE where the CPU allows it, ARCH_GET_GS
 * otherwise) is base + cpu * stride. Checked right after the SET (the
 * first instruction after the syscall) and after every migration, with
 * two strides, one of them not a multiple of the page size.
 */
#include "gs_abi.h"

static void check_on(int cpu, char *area, unsigned long stride,
		     const char *when)
{
	unsigned long want = (unsigned long)area + cpu * stride;
	unsigned long slot = gs_read(GS_SLOT_CPU);
	unsigned long self = gs_read(GS_SLOT_SELF);
	unsigned long base = gs_current_base();

	if (slot != (unsigned long)cpu || self != want)
		gs_fail("%s on CPU %d: %%gs:0 = %lu, %%gs:8 = %#lx, want %d, %#lx",
			when, cpu, slot, self, cpu, want);
	if (base != want)
		gs_fail("%s on CPU %d: ARCH_GET_GS = %#lx, want %#lx",
			when, cpu, base, want);
	if (gs_have_fsgsbase() && gs_rdgsbase() != want)
		gs_fail("%s on CPU %d: rdgsbase = %#lx, want %#lx",
			when, cpu, gs_rdgsbase(), want);
	if (sched_getcpu() != cpu)
		gs_fail("%s: pinned to %d but sched_getcpu() = %d", when, cpu,
			sched_getcpu());
}

static void run(unsigned long stride, int nr, cpu_set_t *allowed)
{
	char *area = gs_area_new(nr, stride);
	unsigned long b = 0, s = 0;
	int cpu, first = -1, round, checked = 0, fails = gs_failures;

	for (cpu = 0; cpu < nr && first < 0; cpu++)
		if (CPU_ISSET(cpu, allowed))
			first = cpu;
	if (gs_pin(first))
		gs_fail("pin to %d: %s", first, strerror(errno));
	if (gs_set_percpu((unsigned long)area, stride)) {
		gs_fail("SET {%p, %#lx}: %s", area, stride, strerror(errno));
		return;
	}
	/* The very next user instruction must already see the slot. */
	check_on(first, area, stride, "right after SET");
	if (gs_get_percpu(&b, &s) || b != (unsigned long)area || s != stride)
		gs_fail("GET after SET: {%#lx, %#lx}", b, s);

	for (round = 0; round < 3; round++) {
		for (cpu = 0; cpu < nr; cpu++) {
			if (!CPU_ISSET(cpu, allowed))
				continue;
			if (gs_pin(cpu)) {
				gs_fail("pin to %d: %s", cpu, strerror(errno));
				continue;
			}
			check_on(cpu, area, stride, "after migration");
			sched_yield();
			check_on(cpu, area, stride, "after sched_yield");
			checked++;
		}
	}
	if (gs_failures == fails)
		gs_ok("stride %#lx: %d pinned checks on %d CPUs", stride,
		      checked, CPU_COUNT(allowed));
	gs_arch_prctl(ARCH_SET_GS, 0);
}

int main(int argc, char **argv)
{
	cpu_set_t allowed;
	int nr;

	gs_require_kernel(argc, argv, "abi_identity");
	nr = gs_nr_cpu_ids();
	if (gs_allowed_cpus(&allowed) < 1) {
		perror("sched_getaffinity");
		return 1;
	}
	printf("abi_identity: %d CPUs allowed, nr_cpu_ids %d, FSGSBASE %s\n",
	       CPU_COUNT(&allowed), nr, gs_have_fsgsbase() ? "yes" : "no");

	run(4096, nr, &allowed);
	run(192, nr, &allowed);
	if (CPU_COUNT(&allowed) < 2)
		printf("abi_identity: only one CPU, migration not exercised\n");

	printf("abi_identity: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
