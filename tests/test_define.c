// SPDX-License-Identifier: MIT
/*
 * PCPU_DEFINE: file-scope per-CPU variables, in the program and in a shared
 * library loaded and unloaded with dlopen()/dlclose().
 *
 *  - variables of scalar, struct and array type are allocated before
 *    main(), zero on every copy, aligned, distinct, and count exactly
 *    from several threads;
 *  - a constructor of lower priority than PCPU_DEFINE_PRIORITY can call
 *    pcpu_init() first (here: a stride of its choice);
 *  - a shared object that defines variables (this file built with
 *    -DT_DEFINE_DSO as define_dso.so) allocates them at dlopen() and frees
 *    them at dlclose(): 50 rounds leave pcpu_free_bytes() where it was,
 *    and each new load reads zero;
 *  - a definition that cannot be allocated (stride full) stops the
 *    program at load with a message that says what to do.
 *
 * The static build (the kernel VM's copy, -DT_STATIC) has no dlopen():
 * the shared-object part is skipped there.
 *
 * dlclose() runs in the thread that ran the object's sequences: the
 * definitions' destructors clear that thread's rseq_cs, which would
 * otherwise point into the unmapped object (see src/define.c).
 */
#ifdef T_DEFINE_DSO
/* ---- define_dso.so ---- */
#include <percpu/percpu.h>

PCPU_DEFINE(unsigned long, dso_hits);
PCPU_DEFINE_STATIC(long[32], dso_block);

/* n increments, then the sum over every copy. */
unsigned long dso_count(int n);
unsigned long dso_count(int n)
{
	unsigned long sum = 0;
	unsigned int cpu;

	for (int i = 0; i < n; i++) {
		this_cpu_inc(dso_hits);
		this_cpu_inc(&(*dso_block)[31]);
	}
	pcpu_for_each_cpu(cpu)
		sum += *pcpu_ptr(dso_hits, cpu) +
		       (unsigned long)(*pcpu_ptr(dso_block, cpu))[31];
	return sum / 2;
}

void *dso_handle(void);
void *dso_handle(void)
{
	return dso_hits;
}
#else
/* ---- the test program ---- */
#include "harness.h"

#ifndef T_STATIC
#include <dlfcn.h>
#endif
#include <sys/syscall.h>
#include <sys/wait.h>

#define T_STRIDE	((size_t)2 << 20)

struct pair {
	char c;
	long long v;
} __attribute__((aligned(64)));

PCPU_DEFINE(long, t_hits);
PCPU_DEFINE_STATIC(struct pair, t_pair);
PCPU_DEFINE_STATIC(unsigned char[100], t_bytes);
PCPU_DECLARE(long, t_hits);		/* as another file would */

static struct pcpu_params t_params = { .stride = T_STRIDE };

/*
 * Runs before the definitions' constructors: the documented way to pick
 * the stride.  Also the harness's backend selection: a backend that does
 * not exist here is a skip, found now, as the definitions' constructors
 * would abort without it.
 *
 * Not with t_init(), which calls exit(): in a static program exit() from
 * a constructor that runs before those without a priority aborts (the
 * unwinder's frame tables, registered by one of those, are deregistered
 * at exit).  _exit() after flushing what we said; main() runs t_init().
 */
__attribute__((constructor(PCPU_DEFINE_PRIORITY - 1)))
static void early_init(void)
{
	int err;

	if (getenv("PCPU_STRIDE"))
		t_params.stride = 0;
	if (!pcpu_init(&t_params))
		return;
	err = errno;
	if (err == ENODEV)
		printf("skip: %s\n", pcpu_init_error());
	else
		printf("pcpu_init: %s (%s)\n", strerror(err),
		       pcpu_init_error());
	fflush(stdout);
	_exit(err == ENODEV ? T_SKIP : 1);
}

#define THREADS	4
#define PER_THREAD	100000

/*
 * Under gs, the stride the kernel stripes this thread with (0: not
 * striped, or not gs on x86_64).  It must be the region's: with another
 * one, ops on CPU n land at n * that stride, in another copy or between
 * allocations, and counts go missing.
 */
static unsigned long gs_stride(void)
{
#if defined(__x86_64__)
	unsigned long arg[2] = { 0, 0 };

	if (!strcmp(pcpu_backend_name(), "gs") &&
	    !syscall(SYS_arch_prctl, PCPU_ARCH_GET_GS_PERCPU, arg) && !arg[0])
		return arg[1];
#endif
	return 0;
}

static int gs_stride_bad;

static void check_gs_stride(const char *who)
{
	unsigned long s = gs_stride();

	if (strcmp(pcpu_backend_name(), "gs") || s == pcpu_stride())
		return;
	__atomic_fetch_add(&gs_stride_bad, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "%s: the kernel stripes with stride %lu, the region "
		"has %zu\n", who, s, pcpu_stride());
}

static void *bump(void *arg)
{
	(void)arg;
	check_gs_stride("thread");
	for (int i = 0; i < PER_THREAD; i++) {
		this_cpu_inc(t_hits);
		this_cpu_add(&t_pair->v, 2);
		this_cpu_inc(&(*t_bytes)[99]);
	}
	return NULL;
}

static void check_program_vars(void)
{
	pthread_t th[THREADS];
	long hits = 0;
	long long pairs = 0;
	unsigned long bytes = 0;
	unsigned int cpu;

	CHECK(t_hits && t_pair && t_bytes, "handles %p %p %p", (void *)t_hits,
	      (void *)t_pair, (void *)t_bytes);
	if (!getenv("PCPU_STRIDE"))
		CHECK(pcpu_stride() == T_STRIDE, "stride %zu: the early "
		      "constructor's pcpu_init() did not come first",
		      pcpu_stride());
	CHECK((uintptr_t)t_pair % 64 == 0, "struct alignment: %p",
	      (void *)t_pair);
	CHECK((void *)t_hits != (void *)t_pair &&
	      (void *)t_pair != (void *)t_bytes, "distinct handles");
	pcpu_for_each_cpu(cpu) {
		CHECK(*pcpu_ptr(t_hits, cpu) == 0, "copy %u not zero", cpu);
		for (int i = 0; i < 100; i++)
			CHECK((*pcpu_ptr(t_bytes, cpu))[i] == 0,
			      "byte %d of copy %u not zero", i, cpu);
	}
	check_gs_stride("main thread");
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, bump, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(!gs_stride_bad, "%d thread(s) striped with another stride than "
	      "the region's: the load-time striping ran after pcpu_init()",
	      gs_stride_bad);
	pcpu_for_each_cpu(cpu) {
		hits += *pcpu_ptr(t_hits, cpu);
		pairs += pcpu_ptr(t_pair, cpu)->v;
		bytes += (*pcpu_ptr(t_bytes, cpu))[99];
	}
	printf("program variables: expected %d, observed %ld hits, %lld "
	       "pairs / 2, %lu bytes mod 256\n", THREADS * PER_THREAD, hits,
	       pairs / 2, bytes);
	CHECK(hits == THREADS * PER_THREAD, "hits %ld", hits);
	CHECK(pairs == 2LL * THREADS * PER_THREAD, "pairs %lld", pairs);
	/* Each byte copy wraps mod 256; the copies' sum is then exact
	 * mod 256 only. */
	CHECK(bytes % 256 == (THREADS * PER_THREAD) % 256, "bytes %lu", bytes);
}

#ifndef T_STATIC
/* The path of define_dso.so: next to this program. */
static int dso_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 16);
	char *slash;

	if (n <= 0)
		return -1;
	buf[n] = 0;
	slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	strcpy(slash + 1, "define_dso.so");
	return access(buf, R_OK);
}
#endif

static void check_dso(void)
{
#ifdef T_STATIC
	printf("shared object: skipped (static build, no dlopen)\n");
#else
	char path[4096];
	size_t before = pcpu_free_bytes(), loaded = 0;

	if (dso_path(path, sizeof(path))) {
		printf("shared object: skipped (no define_dso.so next to the "
		       "program)\n");
		return;
	}
	for (int round = 0; round < 50; round++) {
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		unsigned long (*count)(int);
		void *(*handle)(void);
		unsigned long got;

		CHECK(h, "dlopen %s: %s", path, dlerror());
		if (!h)
			return;
		count = (unsigned long (*)(int))dlsym(h, "dso_count");
		handle = (void *(*)(void))dlsym(h, "dso_handle");
		CHECK(count && handle, "dlsym: %s", dlerror());
		if (!count || !handle) {
			dlclose(h);
			return;
		}
		loaded = pcpu_free_bytes();
		CHECK(loaded < before, "round %d: loading allocated nothing "
		      "(%zu free before, %zu after)", round, before, loaded);
		/* A fresh load reads zero, whatever the last one left. */
		CHECK(count(0) == 0, "round %d: new variable not zero", round);
		got = count(1000 + round);
		CHECK(got == 1000u + (unsigned long)round, "round %d: %lu",
		      round, got);
		CHECK(handle() != NULL, "round %d: NULL handle", round);
		CHECK(!dlclose(h), "dlclose: %s", dlerror());
		CHECK(pcpu_free_bytes() == before, "round %d: %zu free after "
		      "dlclose, %zu before: not freed", round,
		      pcpu_free_bytes(), before);
	}
	printf("shared object: 50 dlopen/dlclose rounds, %zu bytes per load, "
	       "%zu free before and after\n", before - loaded, before);
#endif
}

/*
 * A definition that cannot be allocated: in a child, fill the stride,
 * then load the shared object; its constructor must stop the child with
 * SIGABRT and say to raise PCPU_STRIDE.
 */
static void check_failure(void)
{
#ifdef T_STATIC
	printf("stride full: skipped (static build, no dlopen)\n");
#else
	char path[4096], out[1024] = "";
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	if (dso_path(path, sizeof(path))) {
		printf("stride full: skipped (no define_dso.so next to the "
		       "program)\n");
		return;
	}
	if (pipe(fd))
		return;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 2);
		while (pcpu_alloc(64, 8))
			;
		while (pcpu_alloc(8, 8))
			;
		dlopen(path, RTLD_NOW);
		_exit(0);
	}
	close(fd[1]);
	n = read(fd[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	close(fd[0]);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	      "a failed definition did not abort (status %#x)", status);
	CHECK(strstr(out, "PCPU_DEFINE(unsigned long, dso_hits)") &&
	      strstr(out, "raise PCPU_STRIDE"), "message: %s", out);
	printf("stride full: the load stopped with: %s", out);
#endif
}

int main(void)
{
	t_init(&t_params);	/* initialized already: reports, checks */
	check_program_vars();
	check_dso();
	check_failure();
	return t_done();
}
#endif
