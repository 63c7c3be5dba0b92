// SPDX-License-Identifier: MIT
/*
 * The per-CPU region: geometry, the possible-CPU mask, and the choice of
 * backend.  Everything here runs once, under init_lock; the fast paths only
 * read pcpu__rt afterwards.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "internal.h"

struct pcpu__runtime pcpu__rt;
const char *pcpu__rtk;
const char *pcpu__rtr;

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;			/* read with acquire outside the lock */
static struct pcpu_params active;	/* what pcpu_init() settled on */
static const struct pcpu_backend *backend;
static enum pcpu_index index_src = PCPU_INDEX_CPU;
static unsigned int nr_possible;
static uint64_t *possible_mask;		/* nr bits */
static char init_err[512];
/* Where the possible mask came from. */
static enum { POSSIBLE_SYSFS, POSSIBLE_BOUND, POSSIBLE_TEST } possible_src;

/* Preference order for automatic selection; opt-in entries only by name. */
static const struct pcpu_backend *const backends[] = {
	&pcpu_backend_gs,
	&pcpu_backend_rseq,
	&pcpu_backend_atomic,
	&pcpu_backend_gs_pinned,
};

static int fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(init_err, sizeof(init_err), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

int pcpu__parse_cpulist(const char *s, void (*fn)(unsigned int, void *),
			void *arg)
{
	while (*s && *s != '\n') {
		char *end;
		unsigned long lo, hi;

		if (!isdigit((unsigned char)*s))
			return -1;
		lo = strtoul(s, &end, 10);
		hi = lo;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return -1;
			hi = strtoul(end + 1, &end, 10);
		}
		if (hi < lo || hi >= 1u << 20)
			return -1;
		for (unsigned long c = lo; c <= hi; c++)
			fn((unsigned int)c, arg);
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -1;
	}
	return 0;
}

static void count_max(unsigned int cpu, void *arg)
{
	unsigned int *max = arg;

	if (cpu + 1 > *max)
		*max = cpu + 1;
}

static void set_bit(unsigned int cpu, void *arg)
{
	uint64_t *mask = arg;

	mask[cpu / 64] |= 1ull << (cpu % 64);
	nr_possible++;
}

/*
 * An upper bound on the kernel's nr_cpu_ids, from the kernel itself:
 * sched_getaffinity() refuses (EINVAL) a mask shorter than nr_cpu_ids bits,
 * so the shortest length it accepts, in 64-bit words, bounds every CPU id
 * it can ever report (the bound exceeds nr_cpu_ids by less than 64).  Needs
 * no /sys and no /proc: containers that hide them cannot mislead it.
 */
static unsigned int kernel_cpu_bound(void)
{
	/* Linux caps NR_CPUS at 8192; room for four times that.  Static:
	 * runs under init_lock, maybe on a thread with a small stack. */
	static uint64_t mask[512];
	size_t lo = 0, hi = sizeof(mask) / 8;

	if (syscall(SYS_sched_getaffinity, 0, sizeof(mask), mask) < 0)
		return 1u << 15;	/* seccomp?  Still a safe bound. */
	/* Invariant: lo words are refused (or lo == 0), hi are accepted. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (syscall(SYS_sched_getaffinity, 0, mid * 8, mask) < 0 &&
		    errno == EINVAL)
			lo = mid;
		else
			hi = mid;
	}
	return (unsigned int)(hi * 64);
}

/*
 * The possible mask, not the online or allowed one: a CPU brought online
 * later, or outside our cpuset now, must still have a copy.  When /sys is
 * hidden or unreadable, every id below the kernel's bound counts as
 * possible: never a CPU *count* (sysconf), which says nothing about the
 * highest id (offline or SMT-off CPUs, restricted cpusets).  The gs
 * backends address copy <cpu> for whatever CPU the kernel runs them on, so
 * for them too the region must cover every id the kernel can report.
 */
static int read_possible(void)
{
	char buf[4096];
	unsigned int nr = 0;
	const char *test = getenv("PCPU_TEST_POSSIBLE");
	FILE *f = test ? NULL : fopen("/sys/devices/system/cpu/possible", "re");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	} else if (test) {
		/* Tests only: pretend the possible mask is this list. */
		n = strlen(test) < sizeof(buf) - 1 ? strlen(test) : 0;
		memcpy(buf, test, n);
		possible_src = POSSIBLE_TEST;
	}
	buf[n] = 0;
	if (!n || pcpu__parse_cpulist(buf, count_max, &nr) || !nr) {
		snprintf(buf, sizeof(buf), "0-%u", kernel_cpu_bound() - 1);
		nr = 0;
		pcpu__parse_cpulist(buf, count_max, &nr);
		possible_src = POSSIBLE_BOUND;
	}
	possible_mask = calloc((nr + 63) / 64, sizeof(uint64_t));
	if (!possible_mask)
		return fail(ENOMEM, "out of memory");
	nr_possible = 0;
	pcpu__parse_cpulist(buf, set_bit, possible_mask);
	pcpu__rt.nr = nr;
	return 0;
}

int pcpu__region_covers_kernel_cpus(char *why, size_t len)
{
	unsigned int bound;

	/* /sys's mask ends at nr_cpu_ids - 1 and the fallback is the
	 * kernel's own bound: only a test's pretend mask can fall short. */
	if (possible_src != POSSIBLE_TEST)
		return 1;
	bound = kernel_cpu_bound();
	if (pcpu__rt.nr >= bound)
		return 1;
	snprintf(why, len, "the possible mask has %u ids but the kernel may "
		 "run this process on CPU ids up to %u", pcpu__rt.nr,
		 bound - 1);
	return 0;
}

int pcpu__cpu_possible(unsigned int cpu)
{
	return cpu < pcpu__rt.nr &&
	       (possible_mask[cpu / 64] >> (cpu % 64) & 1);
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'G':
		v <<= 10;
		/* fall through */
	case 'M':
		v <<= 10;
		/* fall through */
	case 'K':
		v <<= 10;
		end++;
		break;
	}
	if (*end && toupper((unsigned char)*end) != 'B')
		return -1;
	*out = (size_t)v;
	return 0;
}

size_t pcpu__env_stride(void)
{
	const char *env = getenv("PCPU_STRIDE");
	size_t stride = PCPU_DEFAULT_STRIDE;

	if (env && *env && parse_size(env, &stride))
		return 0;
	if (stride & (stride - 1) || stride < PCPU_MIN_STRIDE ||
	    stride > PCPU_MAX_STRIDE)
		return 0;
	return stride;
}

static int resolve_params(const struct pcpu_params *in, struct pcpu_params *p)
{
	const char *env;

	memset(p, 0, sizeof(*p));
	if (in)
		*p = *in;
	env = getenv("PCPU_STRIDE");
	if (!p->stride && env && *env && parse_size(env, &p->stride))
		return fail(EINVAL, "PCPU_STRIDE=%s: not a size", env);
	if (!p->stride)
		p->stride = PCPU_DEFAULT_STRIDE;
	if (p->stride & (p->stride - 1) || p->stride < PCPU_MIN_STRIDE ||
	    p->stride > PCPU_MAX_STRIDE)
		return fail(EINVAL,
			    "stride %zu: must be a power of two in [%zu, %zu]",
			    p->stride, PCPU_MIN_STRIDE, PCPU_MAX_STRIDE);
	env = getenv("PCPU_BACKEND");
	if (!p->backend && env && *env)
		p->backend = env;
	env = getenv("PCPU_INDEX");
	if (p->index == PCPU_INDEX_DEFAULT && env && *env) {
		if (!strcmp(env, "cpu"))
			p->index = PCPU_INDEX_CPU;
		else if (!strcmp(env, "cid") || !strcmp(env, "mm_cid"))
			p->index = PCPU_INDEX_CID;
		else
			return fail(EINVAL, "PCPU_INDEX=%s: expected cpu or cid",
				    env);
	}
	if (p->index == PCPU_INDEX_DEFAULT)
		p->index = PCPU_INDEX_CPU;
	if (p->index != PCPU_INDEX_CPU && p->index != PCPU_INDEX_CID)
		return fail(EINVAL, "index source %d: unknown", (int)p->index);
	return 0;
}

#define NR_BACKENDS	(sizeof(backends) / sizeof(backends[0]))

/* The backend named name, or NULL (EINVAL, with a reason). */
static const struct pcpu_backend *named_backend(const char *name)
{
	for (size_t i = 0; i < NR_BACKENDS; i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	fail(EINVAL, "backend %s: unknown (gs, gs-pinned, rseq, atomic)", name);
	return NULL;
}

/*
 * Probe, then start bk.  0 on success; -1 with errno and the reason in
 * init_err otherwise (prefixed by what came before, so that a backend
 * passed over in automatic selection stays explained).
 */
static int try_backend(const struct pcpu_backend *bk, enum pcpu_index index,
		       int forced)
{
	char why[200];
	size_t used = strlen(init_err);
	int err;

	if (bk->probe(index, why, sizeof(why))) {
		err = errno ? errno : ENODEV;
		snprintf(init_err + used, sizeof(init_err) - used,
			 "%sbackend %s unavailable: %s", used ? "; " : "",
			 bk->name, why);
		errno = forced ? err : ENODEV;
		return -1;
	}
	if (bk->start(index, why, sizeof(why))) {
		err = errno ? errno : ENODEV;
		snprintf(init_err + used, sizeof(init_err) - used,
			 "%sbackend %s could not start: %s", used ? "; " : "",
			 bk->name, why);
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * Start the backend asked for, or the first in preference order that
 * probes and starts.  A forced backend that fails is an error (never
 * silently replaced); in automatic selection a backend that cannot start
 * (the gs broadcast timed out, say) gives way to the next one, and
 * pcpu_init_error() keeps saying why.
 */
static const struct pcpu_backend *start_backend(const struct pcpu_params *p)
{
	const struct pcpu_backend *bk;

	init_err[0] = 0;
	if (p->backend) {
		bk = named_backend(p->backend);
		if (!bk || try_backend(bk, p->index, 1))
			return NULL;
		return bk;
	}
	for (size_t i = 0; i < NR_BACKENDS; i++) {
		if (backends[i]->opt_in)
			continue;
		if (!try_backend(backends[i], p->index, 0))
			return backends[i];
	}
	fail(ENODEV, "no backend supports index source %s: %.400s",
	     p->index == PCPU_INDEX_CID ? "cid" : "cpu", init_err);
	return NULL;
}

/*
 * RDPID is trusted only if it agrees with getcpu: the kernel programs
 * TSC_AUX, and an emulator (valgrind) may not.  Retried because we can
 * migrate between the two reads.
 */
static int rdpid_works(void)
{
#ifdef PCPU_ARCH_HAVE_RDPID
	if (!pcpu_arch_have_rdpid())
		return 0;
	for (int i = 0; i < 8; i++) {
		int before = sched_getcpu();
		unsigned int id = pcpu_arch_rdpid();

		if (before >= 0 && (unsigned int)before == id &&
		    sched_getcpu() == before)
			return 1;
	}
#endif
	return 0;
}

/* The fast paths' words (percpu/runtime.h), from the fields. */
static uint64_t runtime_r(void)
{
	return (uint64_t)pcpu__rt.nr | (uint64_t)(uint32_t)pcpu__rt.rseq_off << 32;
}

static uint64_t runtime_k(void)
{
	uint64_t f;

	switch (pcpu__rt.backend) {
	case PCPU__BK_RSEQ:
		f = pcpu__rt.cid ? PCPU__F_RSEQ_CID | PCPU__F_CS_CID :
				   PCPU__F_RSEQ_CPU | PCPU__F_CS_CPU;
		break;
	case PCPU__BK_GS:
		f = PCPU__F_GS | (pcpu__rt.cs_locked ? PCPU__F_CS_LOCKED :
						       PCPU__F_CS_CPU);
		break;
	default:
		f = PCPU__F_ATOMIC | PCPU__F_CS_LOCKED;
		break;
	}
	if (pcpu__rt.cpu_rdpid)
		f |= PCPU__F_RDPID;
	return f | pcpu__rt.shift;
}

static int init_locked(const struct pcpu_params *in)
{
	struct pcpu_params p;
	const struct pcpu_backend *bk;
	void *mem;
	size_t len;
	int id;

	if (resolve_params(in, &p))
		return -1;
	if (initialized) {
		if (in && (p.stride != active.stride ||
			   p.index != active.index ||
			   (p.backend && strcmp(p.backend, backend->name))))
			return fail(EBUSY, "already initialized with stride "
				    "%zu, index %s, backend %s (asked: stride "
				    "%zu): there is one region per process; "
				    "call pcpu_init() with the largest stride "
				    "any of its users needs before the first "
				    "allocation, or set PCPU_STRIDE",
				    active.stride,
				    active.index == PCPU_INDEX_CID ? "cid" :
				    "cpu", backend->name, p.stride);
		return 0;
	}
	if (!possible_mask && read_possible())
		return -1;
	pcpu__rt.shift = (unsigned int)__builtin_ctzll(p.stride);
	/* One copy per possible CPU id, plus the spare copy (index nr). */
	len = ((size_t)pcpu__rt.nr + 1) << pcpu__rt.shift;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return fail(ENOMEM, "cannot reserve %zu bytes: %s", len,
			    strerror(errno));
	pcpu__rt.base = (uintptr_t)mem;
	pcpu__rt.cpu_rdpid = (uint32_t)rdpid_works();
	bk = start_backend(&p);
	if (!bk) {
		int err = errno;

		munmap(mem, len);
		pcpu__rt.base = 0;
		errno = err;
		return -1;
	}
	{
		char why[200];

		pcpu__cs_setup(bk->id, why, sizeof(why));
	}
	backend = bk;
	index_src = p.index;
	p.backend = bk->name;
	active = p;
	id = bk->id;
	pcpu__rt.backend = (uint16_t)id;
	/* Release: whoever sees the word sees the region and the fields. */
	__atomic_store_n(&pcpu__rtr, (const char *)(uintptr_t)runtime_r(),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&pcpu__rtk, (const char *)(uintptr_t)runtime_k(),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
	return 0;
}

/* A fork while another thread initializes must not leave the child's
 * lock held forever. */
static void init_atfork_prepare(void)
{
	pthread_mutex_lock(&init_lock);
}

static void init_atfork_release(void)
{
	pthread_mutex_unlock(&init_lock);
}

__attribute__((constructor)) static void init_atfork(void)
{
	pthread_atfork(init_atfork_prepare, init_atfork_release,
		       init_atfork_release);
}

int pcpu_init(const struct pcpu_params *params)
{
	int ret;

	pcpu__error_clear();
	pthread_mutex_lock(&init_lock);
	ret = init_locked(params);
	/* The reason in words for this thread too (init_err is shared and
	 * the next call from any thread may rewrite it). */
	if (ret)
		pcpu__error(errno, "pcpu_init: %s", init_err);
	pthread_mutex_unlock(&init_lock);
	return ret;
}

int pcpu__ensure_init(void)
{
	int ret;

	if (__atomic_load_n(&initialized, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&init_lock);
	ret = init_locked(NULL);
	pthread_mutex_unlock(&init_lock);
	return ret;
}

uint64_t pcpu__k_slow(void)
{
	return (uint64_t)(uintptr_t)__atomic_load_n(&pcpu__rtk,
						    __ATOMIC_ACQUIRE);
}

uint64_t pcpu__r_slow(void)
{
	return (uint64_t)(uintptr_t)__atomic_load_n(&pcpu__rtr,
						    __ATOMIC_ACQUIRE);
}

const char *pcpu_init_error(void)
{
	return init_err;
}

uintptr_t pcpu_base(void)
{
	return pcpu__rt.base;
}

size_t pcpu_stride(void)
{
	return pcpu__rt.base ? (size_t)1 << pcpu__rt.shift : 0;
}

unsigned int pcpu_nr_copies(void)
{
	return pcpu__rt.base ? pcpu__rt.nr + 1 : 0;
}

unsigned int pcpu_nr_possible(void)
{
	return nr_possible;
}

const char *pcpu_backend_name(void)
{
	return __atomic_load_n(&initialized, __ATOMIC_ACQUIRE) ?
	       backend->name : "none";
}

enum pcpu_index pcpu_index_source(void)
{
	return index_src;
}

unsigned int pcpu_next_copy(unsigned int from)
{
	unsigned int nr = pcpu__rt.nr;

	if (!pcpu__rt.base)
		return 0;
	/* Concurrency ids are dense from 0, whatever the CPU mask looks like. */
	if (index_src == PCPU_INDEX_CID)
		return from <= nr ? from : nr + 1;
	while (from < nr && !pcpu__cpu_possible(from))
		from++;
	return from <= nr ? from : nr + 1;
}

unsigned int pcpu__getcpu(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : (unsigned int)cpu;
}

unsigned int pcpu_cpu(void)
{
	int bk = pcpu__rt.backend;

#ifdef PCPU_ARCH_HAVE_RSEQ
	if (bk == PCPU__BK_RSEQ) {
		uint32_t cpu = pcpu_arch_tp_load32(pcpu__rt.rseq_off +
						   PCPU__RSEQ_CPU_ID);

		if (cpu < pcpu__rt.nr)
			return cpu;
	}
#endif
#ifdef PCPU_ARCH_HAVE_RDPID
	if (pcpu__rt.cpu_rdpid)
		return pcpu_arch_rdpid();
#endif
	(void)bk;
	return pcpu__getcpu();
}

unsigned int pcpu_index(void)
{
	unsigned int i;

#ifdef PCPU_ARCH_HAVE_RSEQ
	if (pcpu__rt.backend == PCPU__BK_RSEQ && pcpu__rt.cid)
		i = pcpu__rseq_index_cid(pcpu__r());
	else
#endif
		i = pcpu_cpu();
	/* A CPU beyond the mask read at init uses the spare copy. */
	return i < pcpu__rt.nr ? i : pcpu__rt.nr;
}
