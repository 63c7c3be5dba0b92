// SPDX-License-Identifier: MIT
/*
 * A container that hides /sys and shows fewer CPUs than the ids it runs
 * on (lxcfs-style /proc/stat, a restricted cpuset): the region must still
 * have a copy for every CPU id the kernel can run the process on, because
 * the gs backend addresses copy <cpu> for whatever CPU it runs on, and
 * every backend should give that CPU its own copy.  As root, in a mount
 * namespace of its own: /sys/devices/system/cpu becomes an empty tmpfs,
 * /proc/stat lists cpu0 only, and the thread is pinned to the highest CPU
 * it may use.  Then: pcpu_nr_copies() covers the kernel's nr_cpu_ids (read
 * from the real /sys before hiding it), an op on that CPU lands in its own
 * copy, and with gs the GS base points inside the region.
 */
#include "harness.h"

#ifdef __x86_64__	/* the gs check below: elsewhere there is no gs */
#include <asm/prctl.h>
#endif
#include <sys/mount.h>
#include <sys/syscall.h>

/* Highest id in a CPU list such as "0-3,8". */
static int max_cpu_in(const char *path)
{
	char buf[4096], *p;
	int max = -1;
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (p = buf; *p;) {
		long v = strtol(p, &p, 10);

		if (v > max)
			max = (int)v;
		if (*p == '-' || *p == ',')
			p++;
		else
			break;
	}
	return max;
}

static int hide_sysfs(void)
{
	FILE *f;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("none", "/sys/devices/system/cpu", "tmpfs", 0, NULL))
		return -1;
	f = fopen("/tmp/pcpu_test_fake_stat", "we");
	if (!f)
		return -1;
	fprintf(f, "cpu  1 0 1 100 0 0 0 0 0 0\n"
		   "cpu0 1 0 1 100 0 0 0 0 0 0\nintr 0\nctxt 0\n");
	fclose(f);
	return mount("/tmp/pcpu_test_fake_stat", "/proc/stat", NULL, MS_BIND,
		     NULL);
}

int main(void)
{
	cpu_set_t set;
	int max_possible = max_cpu_in("/sys/devices/system/cpu/possible");
	int cpu = -1;
	long *p, n = t_scale(100000);

	if (geteuid()) {
		printf("skip: needs root for a mount namespace\n");
		return T_SKIP;
	}
	if (max_possible < 0 || sched_getaffinity(0, sizeof(set), &set)) {
		printf("skip: cannot read the possible mask or the affinity\n");
		return T_SKIP;
	}
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			cpu = i;
	if (cpu < 1) {
		printf("skip: needs to run on a CPU id above 0\n");
		return T_SKIP;
	}
	if (hide_sysfs()) {
		printf("skip: cannot hide /sys here: %s\n", strerror(errno));
		return T_SKIP;
	}
	t_pin((unsigned int)cpu);
	printf("hidden /sys, /proc/stat shows 1 CPU, sysconf says %ld; "
	       "running on CPU %d, kernel ids 0..%d\n",
	       sysconf(_SC_NPROCESSORS_CONF), cpu, max_possible);
	t_init(NULL);
	CHECK(pcpu_nr_copies() >= (unsigned int)max_possible + 2,
	      "%u copies for CPU ids up to %d (and the spare)",
	      pcpu_nr_copies(), max_possible);
	p = PCPU_ALLOC(long);
	CHECK(p != NULL, "alloc");
	if (!p)
		return 1;
#ifdef __x86_64__
	if (!strncmp(pcpu_backend_name(), "gs", 2)) {
		unsigned long gs = 0;
		uintptr_t addr, end = pcpu_base() +
				      (uintptr_t)pcpu_nr_copies() * pcpu_stride();

		syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
		addr = gs + (uintptr_t)p;
		CHECK(addr >= pcpu_base() && addr + sizeof(long) <= end,
		      "%%gs:handle is %#lx, outside the region [%#lx, %#lx)",
		      (unsigned long)addr, (unsigned long)pcpu_base(),
		      (unsigned long)end);
		if (t_failures)
			return t_done();	/* an op would write outside */
	}
#endif
	for (long i = 0; i < n; i++)
		this_cpu_inc(p);
	/* Indexed by mm_cid, the copy is this thread's concurrency id, not
	 * the CPU's (PCPU_INDEX=cid): the one thread keeps its id. */
	if (pcpu_index_source() == PCPU_INDEX_CID)
		cpu = (int)pcpu_index();
	printf("CPU %d: expected %ld observed %ld in its own copy\n", cpu, n,
	       (unsigned int)cpu < pcpu_nr_copies() ? *pcpu_ptr(p, cpu) : -1);
	CHECK((unsigned int)cpu < pcpu_nr_copies() && *pcpu_ptr(p, cpu) == n,
	      "the increments did not land in CPU %d's copy", cpu);
	return t_done();
}
