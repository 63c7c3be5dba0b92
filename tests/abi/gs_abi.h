/* SPDX-License-Identifier: MIT */
/*
 * gs_abi.h - helpers shared by the ARCH_SET_GS_PERCPU ABI tests.
 *
 * The tests run inside the QEMU guest booted by vm/run.sh, as static
 * binaries. Each one exits 0 when every check passed, 77 when the kernel
 * lacks the feature (ARCH_GET_GS_PERCPU returns EINVAL) and 1 otherwise.
 * Every 64-bit test also accepts "--probe": exit 0 on a patched kernel,
 * 77 on an unpatched one (the 32-bit test uses it to decide whether to
 * skip).
 */
#ifndef GS_ABI_H
#define GS_ABI_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef ARCH_SET_GS
#define ARCH_SET_GS		0x1001
#endif
#ifndef ARCH_GET_GS
#define ARCH_GET_GS		0x1004
#endif
#ifndef ARCH_SET_GS_PERCPU
#define ARCH_SET_GS_PERCPU	0x1005
#endif
#ifndef ARCH_GET_GS_PERCPU
#define ARCH_GET_GS_PERCPU	0x1006
#endif

#define GS_EXIT_SKIP	77

static int gs_failures;

static inline void gs_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("  [FAIL] ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	gs_failures++;
}

static inline void gs_ok(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("  [OK] ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

/* Check that a syscall result (-1/errno or 0) is what was expected. */
static inline void gs_expect(const char *what, long ret, int want_errno)
{
	int err = ret < 0 ? errno : 0;

	if (err == want_errno)
		gs_ok("%s: %s", what, want_errno ? strerror(want_errno) : "0");
	else
		gs_fail("%s: got %ld (%s), want %s", what, ret,
			err ? strerror(err) : "success",
			want_errno ? strerror(want_errno) : "success");
}

static inline int gs_exit_status(void)
{
	return gs_failures ? 1 : 0;
}

#ifdef __x86_64__

static inline long gs_arch_prctl(int code, unsigned long arg)
{
	return syscall(SYS_arch_prctl, code, arg);
}

static inline long gs_set_percpu(unsigned long base, unsigned long stride)
{
	unsigned long arg[2] = { base, stride };

	return gs_arch_prctl(ARCH_SET_GS_PERCPU, (unsigned long)arg);
}

static inline long gs_get_percpu(unsigned long *base, unsigned long *stride)
{
	unsigned long arg[2] = { 0, 0 };
	long ret = gs_arch_prctl(ARCH_GET_GS_PERCPU, (unsigned long)arg);

	if (ret == 0) {
		*base = arg[0];
		*stride = arg[1];
	}
	return ret;
}

/*
 * 1 if the kernel implements ARCH_GET_GS_PERCPU (ENOENT or success),
 * 0 if it answers EINVAL (unpatched).
 */
static inline int gs_kernel_has_percpu(void)
{
	unsigned long arg[2];

	if (gs_arch_prctl(ARCH_GET_GS_PERCPU, (unsigned long)arg) == 0)
		return 1;
	return errno != EINVAL;
}

/* Exit 77 on an unpatched kernel; handle "--probe". */
static inline void gs_require_kernel(int argc, char **argv, const char *name)
{
	int has = gs_kernel_has_percpu();

	if (argc > 1 && strcmp(argv[1], "--probe") == 0)
		exit(has ? 0 : GS_EXIT_SKIP);
	if (!has) {
		printf("%s: ARCH_GET_GS_PERCPU returns EINVAL: kernel lacks per-CPU GS, skipping\n",
		       name);
		exit(GS_EXIT_SKIP);
	}
}

static inline int gs_have_fsgsbase(void)
{
	return !!(getauxval(AT_HWCAP2) & (1UL << 1)); /* HWCAP2_FSGSBASE */
}

static inline unsigned long gs_rdgsbase(void)
{
	unsigned long v;

	asm volatile("rdgsbase %0" : "=r" (v) :: "memory");
	return v;
}

static inline void gs_wrgsbase(unsigned long v)
{
	asm volatile("wrgsbase %0" :: "r" (v) : "memory");
}

static inline unsigned long gs_read(unsigned long off)
{
	unsigned long v;

	asm volatile("movq %%gs:(%1), %0" : "=r" (v) : "r" (off) : "memory");
	return v;
}

static inline void gs_inc(unsigned long off)
{
	asm volatile("incq %%gs:(%0)" :: "r" (off) : "memory", "cc");
}

/* The base currently in effect, from the kernel (works without FSGSBASE). */
static inline unsigned long gs_current_base(void)
{
	unsigned long v = ~0UL;

	gs_arch_prctl(ARCH_GET_GS, (unsigned long)&v);
	return v;
}

/*
 * TASK_SIZE_MAX, found by bisecting the limit that ARCH_SET_GS enforces
 * (it returns EPERM for base >= TASK_SIZE_MAX). This avoids assuming
 * 47-bit addresses: a CPU with LA57 (QEMU -cpu max) has 2^56 - 4096.
 * Leaves the GS base at 0.
 */
static inline unsigned long gs_probe_task_size_max(void)
{
	unsigned long lo = 1UL << 32, hi = 1UL << 63;

	/* Invariant: lo accepted, hi refused. */
	while (hi - lo > 1) {
		unsigned long mid = lo + (hi - lo) / 2;

		if (gs_arch_prctl(ARCH_SET_GS, mid) == 0)
			lo = mid;
		else
			hi = mid;
	}
	gs_arch_prctl(ARCH_SET_GS, 0);
	return hi;
}

#endif /* __x86_64__ */

/* Highest possible CPU id + 1, from /sys (the kernel's nr_cpu_ids). */
static inline int gs_nr_cpu_ids(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	char buf[256];
	char *p;
	int max = 0;

	if (!f)
		return (int)sysconf(_SC_NPROCESSORS_CONF);
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return (int)sysconf(_SC_NPROCESSORS_CONF);
	}
	fclose(f);
	/* "0-3" or "0,2-5": the last number is the highest id. */
	for (p = buf; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			int v = (int)strtol(p, &p, 10);

			if (v > max)
				max = v;
			p--;
		}
	}
	return max + 1;
}

static inline int gs_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* CPUs this process may run on, in *set; returns the count. */
static inline int gs_allowed_cpus(cpu_set_t *set)
{
	CPU_ZERO(set);
	if (sched_getaffinity(0, sizeof(*set), set))
		return 0;
	return CPU_COUNT(set);
}

/*
 * A per-CPU area: nr slots of `stride` bytes. Slot n holds n at offset 0
 * (so %gs:0 names the CPU) and its own address at offset 8.
 */
#define GS_SLOT_CPU	0
#define GS_SLOT_SELF	8
#define GS_SLOT_COUNT	64	/* a counter, off the hot first line */

static inline char *gs_area_new(int nr, unsigned long stride)
{
	char *a = mmap(NULL, nr * stride, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i;

	if (a == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (i = 0; i < nr; i++) {
		*(unsigned long *)(a + i * stride + GS_SLOT_CPU) = i;
		*(unsigned long *)(a + i * stride + GS_SLOT_SELF) =
			(unsigned long)(a + i * stride);
	}
	return a;
}

#endif /* GS_ABI_H */
