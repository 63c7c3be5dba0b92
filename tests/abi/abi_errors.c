// SPDX-License-Identifier: MIT
/*
 * abi_errors - every error code of ARCH_SET_GS_PERCPU / ARCH_GET_GS_PERCPU
 * with real bad input:
 *   ENOENT    GET before any SET
 *   EFAULT    NULL, unmapped, PROT_NONE and kernel-address arg (SET and
 *             GET), and a read-only page for GET
 *   EPERM     base = TASK_SIZE_MAX (probed, not assumed 47-bit)
 *   EINVAL    stride 0 (reserved: a single base is ARCH_SET_GS)
 *   EOVERFLOW base + nr_cpu_ids * stride > TASK_SIZE_MAX, exactly at the
 *             boundary, and a stride whose product overflows 64 bits
 * A failed SET must leave the previous configuration in place.
 */
#include "gs_abi.h"

#define KERNEL_ADDR	0xffffffff81000000UL

static void check_get_matches(const char *what, unsigned long base,
			      unsigned long stride)
{
	unsigned long b = 0, s = 0;

	if (gs_get_percpu(&b, &s))
		gs_fail("%s: GET failed: %s", what, strerror(errno));
	else if (b != base || s != stride)
		gs_fail("%s: GET = {%#lx, %#lx}, want {%#lx, %#lx}", what,
			b, s, base, stride);
	else
		gs_ok("%s: GET = {%#lx, %#lx}", what, b, s);
}

int main(int argc, char **argv)
{
	unsigned long tsm, ncpu, base, stride, good[2];
	unsigned long *ro, *unmapped, *noaccess;
	char *area;

	gs_require_kernel(argc, argv, "abi_errors");
	ncpu = gs_nr_cpu_ids();
	tsm = gs_probe_task_size_max();
	printf("abi_errors: nr_cpu_ids %lu, TASK_SIZE_MAX %#lx (%d-bit user space)\n",
	       ncpu, tsm, 64 - __builtin_clzl(tsm));

	/*
	 * A page that exists but cannot be written, one that cannot be
	 * accessed at all, and a hole: the middle page of a 3-page
	 * PROT_NONE reservation, unmapped, so that no later mmap fills it.
	 */
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	noaccess = mmap(NULL, 3 * 4096, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED || noaccess == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	unmapped = noaccess + 4096 / sizeof(*noaccess);
	munmap(unmapped, 4096);

	/* Not configured yet. */
	gs_expect("GET before SET", gs_arch_prctl(ARCH_GET_GS_PERCPU,
						  (unsigned long)good), ENOENT);
	gs_expect("GET before SET, NULL arg",
		  gs_arch_prctl(ARCH_GET_GS_PERCPU, 0), ENOENT);

	/* Unaddressable argument for SET. */
	gs_expect("SET NULL arg", gs_arch_prctl(ARCH_SET_GS_PERCPU, 0), EFAULT);
	gs_expect("SET unmapped arg",
		  gs_arch_prctl(ARCH_SET_GS_PERCPU, (unsigned long)unmapped),
		  EFAULT);
	gs_expect("SET PROT_NONE page",
		  gs_arch_prctl(ARCH_SET_GS_PERCPU, (unsigned long)noaccess),
		  EFAULT);
	gs_expect("SET kernel-address arg",
		  gs_arch_prctl(ARCH_SET_GS_PERCPU, KERNEL_ADDR), EFAULT);
	gs_expect("SET arg straddling the end of user space",
		  gs_arch_prctl(ARCH_SET_GS_PERCPU, tsm + 4096 - 8), EFAULT);

	/* Base limit. */
	gs_expect("SET base = TASK_SIZE_MAX", gs_set_percpu(tsm, 4096), EPERM);
	gs_expect("SET base = ~0", gs_set_percpu(~0UL, 4096), EPERM);
	gs_expect("SET base = 1 << 63 (non-canonical)",
		  gs_set_percpu(1UL << 63, 4096), EPERM);

	/* Zero stride is reserved. */
	gs_expect("SET stride 0", gs_set_percpu(0x10000, 0), EINVAL);

	/* Overflow: the last CPU's slot must end at or below TASK_SIZE_MAX. */
	base = tsm - ncpu * 4096;
	gs_expect("SET last slot ends at TASK_SIZE_MAX",
		  gs_set_percpu(base, 4096), 0);
	gs_expect("SET last slot ends one byte past TASK_SIZE_MAX",
		  gs_set_percpu(base + 1, 4096), EOVERFLOW);
	base = 0x10000;
	stride = (tsm - base) / ncpu;
	gs_expect("SET largest stride for base", gs_set_percpu(base, stride), 0);
	gs_expect("SET largest stride + 1", gs_set_percpu(base, stride + 1),
		  EOVERFLOW);
	gs_expect("SET stride whose product wraps 64 bits",
		  gs_set_percpu(base, (~0UL / ncpu) + 1), EOVERFLOW);
	gs_expect("SET base TASK_SIZE_MAX - 1, stride 1 (needs nr_cpu_ids = 1)",
		  gs_set_percpu(tsm - 1, 1), ncpu > 1 ? EOVERFLOW : 0);

	/* A valid layout; a failed SET must not disturb it. */
	area = gs_area_new(ncpu, 4096);
	gs_expect("SET valid", gs_set_percpu((unsigned long)area, 4096), 0);
	gs_set_percpu(tsm, 4096);
	gs_set_percpu((unsigned long)area, 0);
	gs_set_percpu((unsigned long)area, ~0UL);
	gs_arch_prctl(ARCH_SET_GS_PERCPU, 0);
	check_get_matches("after failed SETs", (unsigned long)area, 4096);

	/* Unaddressable argument for GET, now that it is configured. */
	gs_expect("GET NULL arg", gs_arch_prctl(ARCH_GET_GS_PERCPU, 0), EFAULT);
	gs_expect("GET unmapped arg",
		  gs_arch_prctl(ARCH_GET_GS_PERCPU, (unsigned long)unmapped),
		  EFAULT);
	gs_expect("GET PROT_NONE page",
		  gs_arch_prctl(ARCH_GET_GS_PERCPU, (unsigned long)noaccess),
		  EFAULT);
	gs_expect("GET kernel-address arg",
		  gs_arch_prctl(ARCH_GET_GS_PERCPU, KERNEL_ADDR), EFAULT);
	gs_expect("GET read-only page",
		  gs_arch_prctl(ARCH_GET_GS_PERCPU, (unsigned long)ro), EFAULT);
	if (ro[0] || ro[1])
		gs_fail("GET wrote into a read-only page");
	check_get_matches("after failed GETs", (unsigned long)area, 4096);

	/* Reconfiguring replaces the layout. */
	gs_expect("SET again, other stride",
		  gs_set_percpu((unsigned long)area, 2048), 0);
	check_get_matches("after second SET", (unsigned long)area, 2048);

	printf("abi_errors: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
