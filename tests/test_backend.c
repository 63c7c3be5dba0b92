// SPDX-License-Identifier: MIT
/*
 * Backend and parameter selection: bad names and values are EINVAL with a
 * message, an unavailable backend is ENODEV (never silently replaced),
 * re-initializing with other parameters is EBUSY, the region's geometry is
 * what was asked for, and index source cid works where the kernel has it.
 * Runs in child processes, since initialization is once per process.
 */
#include "harness.h"

#include <sys/wait.h>

/* Run fn in a child with env set; return its exit status. */
static int in_child(int (*fn)(void), const char *var, const char *val)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		unsetenv("PCPU_BACKEND");
		unsetenv("PCPU_INDEX");
		unsetenv("PCPU_STRIDE");
		if (var)
			setenv(var, val, 1);
		st = fn();
		fflush(stdout);
		_exit(st);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int expect_init_errno(int err)
{
	int r = pcpu_init(NULL), e = errno;

	printf("  init -> %d errno %d (%s): %s\n", r, e, strerror(e),
	       pcpu_init_error());
	if (r != -1 || e != err || !*pcpu_init_error())
		return 1;
	/* The failure is not sticky: the defaults still work. */
	unsetenv("PCPU_BACKEND");
	unsetenv("PCPU_INDEX");
	unsetenv("PCPU_STRIDE");
	return pcpu_init(NULL) ? 2 : 0;
}

static int einval(void)
{
	return expect_init_errno(EINVAL);
}

static int enodev(void)
{
	return expect_init_errno(ENODEV);
}

static int geometry(void)
{
	struct pcpu_params p = { .stride = 1 << 17 };
	struct pcpu_params other = { .stride = 1 << 18 };
	void *x;

	if (pcpu_init(&p) || pcpu_stride() != (1 << 17))
		return 1;
	if (pcpu_init(&other) != -1 || errno != EBUSY)
		return 2;
	if (pcpu_init(&p) || pcpu_init(NULL))
		return 3;
	x = pcpu_alloc(8, 8);
	if (!x || (uintptr_t)x < pcpu_base() ||
	    (uintptr_t)x >= pcpu_base() + pcpu_stride())
		return 4;
	if (pcpu_nr_copies() < pcpu_nr_possible() + 1)
		return 5;
	printf("  base %#lx stride %zu copies %u possible %u backend %s\n",
	       (unsigned long)pcpu_base(), pcpu_stride(), pcpu_nr_copies(),
	       pcpu_nr_possible(), pcpu_backend_name());
	return 0;
}

static int env_stride(void)
{
	return pcpu_init(NULL) || pcpu_stride() != (4u << 20);
}

static int implicit(void)
{
	/* No pcpu_init(): the first allocation initializes. */
	long *p = PCPU_ALLOC(long);

	if (!p || strcmp(pcpu_backend_name(), "none") == 0)
		return 1;
	this_cpu_inc(p);
	return 0;
}

static int cid(void)
{
	long *p;
	unsigned int cpu;
	long sum = 0;

	if (pcpu_init(NULL)) {
		printf("  cid: %s\n", pcpu_init_error());
		return errno == ENODEV ? T_SKIP : 1;
	}
	if (pcpu_index_source() != PCPU_INDEX_CID)
		return 2;
	p = PCPU_ALLOC(long);
	for (int i = 0; i < 100000; i++)
		this_cpu_inc(p);
	pcpu_for_each_cpu(cpu)
		sum += *pcpu_ptr(p, cpu);
	/* One thread: only concurrency id 0 is ever used. */
	printf("  cid: sum %ld, copy 0 %ld, index %u\n", sum, *p, pcpu_index());
	return sum != 100000 || *p != 100000;
}

int main(void)
{
	int r;

	/* Nothing is initialized here: each case forks a fresh process. */
	CHECK(in_child(einval, "PCPU_BACKEND", "nonsense") == 0,
	      "unknown backend -> EINVAL");
	CHECK(in_child(einval, "PCPU_STRIDE", "12345") == 0,
	      "stride not a power of two -> EINVAL");
	CHECK(in_child(einval, "PCPU_STRIDE", "1K") == 0,
	      "stride too small -> EINVAL");
	CHECK(in_child(einval, "PCPU_STRIDE", "lots") == 0,
	      "stride not a number -> EINVAL");
	CHECK(in_child(einval, "PCPU_INDEX", "socket") == 0,
	      "unknown index -> EINVAL");
	CHECK(in_child(env_stride, "PCPU_STRIDE", "4M") == 0, "PCPU_STRIDE=4M");
	CHECK(in_child(geometry, NULL, NULL) == 0, "geometry, EBUSY");
	CHECK(in_child(implicit, NULL, NULL) == 0, "implicit init");
	/* On this host the patched kernel is absent: gs must say so. */
	r = in_child(enodev, "PCPU_BACKEND", "gs");
	CHECK(r == 0 || r == 1, "gs: %d", r);
	r = in_child(cid, "PCPU_INDEX", "cid");
	CHECK(r == 0 || r == T_SKIP, "cid index: %d", r);
	return t_done();
}
