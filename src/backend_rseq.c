// SPDX-License-Identifier: MIT
/*
 * The rseq backend: registration and slow paths.  The sequences themselves
 * are inline, in percpu/arch/<arch>/rseq.h.
 *
 * Whose rseq area: glibc >= 2.35 registers one per thread and exports where
 * it is (__rseq_offset from the thread pointer, __rseq_size).  A second
 * registration would fail, so when glibc's is live we use it, reading only
 * the fields the kernel writes and writing only rseq_cs, which the ABI
 * leaves to user space.  When glibc registered nothing (older glibc, or
 * GLIBC_TUNABLES=glibc.pthread.rseq=0) the library registers an area of its
 * own, in initial-exec TLS so that its offset from the thread pointer is the
 * same in every thread, and each new thread registers on its first op.
 * fork() keeps the calling thread's registration (the kernel copies it) and
 * our TLS copy says so; threads the child creates register themselves.
 *
 * Feature size: Debian's glibc 2.36 says __rseq_size 20 yet registers 32
 * bytes, and newer kernels grow the area.  Whether mm_cid is filled in is
 * therefore taken from the kernel, getauxval(AT_RSEQ_FEATURE_SIZE), never
 * from __rseq_size or a hard-coded length.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifdef PCPU_ARCH_HAVE_RSEQ

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE	27
#endif
#ifndef SYS_rseq
#define SYS_rseq		334
#endif

/* Registered with the original 32-byte length, which every kernel accepts
 * and which already holds node_id and mm_cid. */
#define OWN_RSEQ_LEN		32
#define MM_CID_END		28	/* offsetof(mm_cid) + 4 */

struct own_rseq {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;
	uint32_t pad[9];
} __attribute__((aligned(64)));

/* cpu_id starts as RSEQ_CPU_ID_UNINITIALIZED: sequences exit at once. */
static __thread struct own_rseq own_area
	__attribute__((tls_model("initial-exec"))) = {
	.cpu_id = (uint32_t)-1,
	.mm_cid = (uint32_t)-1,
};
/* This thread could not register: take the fallback without retrying. */
static __thread int own_failed __attribute__((tls_model("initial-exec")));

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static int use_own;			/* 1: our area, 0: glibc's */
static unsigned long n_aborts, n_fallbacks, n_registrations;

/* Consecutive aborts before an op gives up and takes the spare copy. */
#define MAX_ABORTS		128

static long own_offset(void)
{
	long off = (long)((char *)&own_area - (char *)__builtin_thread_pointer());

	/* Materialize all 64 bits: a 32-bit load of the GOT entry (GCC
	 * narrows it when the caller truncates) cannot be relaxed by the
	 * linker in a static link. */
	__asm__("" : "+r"(off));
	return off;
}

static int register_own(void)
{
	if (syscall(SYS_rseq, &own_area, OWN_RSEQ_LEN, 0, PCPU_RSEQ_SIG))
		return -1;
	return 0;
}

static int glibc_registered(void)
{
	if (!&__rseq_size || !&__rseq_offset || __rseq_size == 0)
		return 0;
	/* cpu_id is -1 / -2 (huge unsigned) unless the kernel filled it. */
	return pcpu_arch_tp_load32(__rseq_offset + PCPU__RSEQ_CPU_ID) <
	       (1u << 20);
}

static int rseq_probe(enum pcpu_index index, char *why, size_t len)
{
	if (index == PCPU_INDEX_CID &&
	    getauxval(AT_RSEQ_FEATURE_SIZE) < MM_CID_END) {
		snprintf(why, len, "the kernel does not provide mm_cid: "
			 "AT_RSEQ_FEATURE_SIZE %lu, Linux >= 6.3 needed",
			 getauxval(AT_RSEQ_FEATURE_SIZE));
		errno = ENODEV;
		return -1;
	}
	if (glibc_registered())
		return 0;
	if (own_area.cpu_id < (1u << 20) || !register_own())
		return 0;
	snprintf(why, len, "rseq registration failed: %s: valgrind, seccomp "
		 "or a kernel before 4.18?", strerror(errno));
	errno = ENODEV;
	return -1;
}

/*
 * Point the sequences at this process's rseq areas: glibc's when it
 * registered (the same offset from every thread pointer), else ours.
 * Also used by the gs backend, whose critical sections (cs.h) are
 * restartable sequences too.  0, or -1 when rseq cannot run here.
 */
int pcpu__rseq_setup(enum pcpu_index index, char *why, size_t len)
{
	if (rseq_probe(index, why, len))
		return -1;
	use_own = !glibc_registered();
	pcpu__rt.rseq_off = (int32_t)(use_own ? own_offset() :
				      (long)__rseq_offset);
	pcpu__rt.cid = index == PCPU_INDEX_CID;
	pcpu__rt.rseq_cmp = pcpu__rt.rseq_off +
			    (pcpu__rt.cid ? PCPU__RSEQ_MM_CID :
					    PCPU__RSEQ_CPU_ID);
	return 0;
}

static int rseq_start(enum pcpu_index index, char *why, size_t len)
{
	return pcpu__rseq_setup(index, why, len);
}

int pcpu__rseq_slow(int status, int tries)
{
	int saved = errno;

	if (status == 1) {
		__atomic_fetch_add(&n_aborts, 1, __ATOMIC_RELAXED);
		if (tries + 1 < MAX_ABORTS)
			return 0;
		__atomic_fetch_add(&n_fallbacks, 1, __ATOMIC_RELAXED);
		return 1;
	}
	/*
	 * status 2: no usable index.  Register only a thread that is not
	 * registered, and retry only right after that: a registered thread
	 * whose index is >= nr (a CPU outside the possible mask we could
	 * read) must take the fallback, not retry forever.
	 */
	if (use_own && !own_failed && tries == 0 &&
	    own_area.cpu_id >= (1u << 20)) {
		if (!register_own()) {
			__atomic_fetch_add(&n_registrations, 1,
					   __ATOMIC_RELAXED);
			errno = saved;
			return 0;
		}
		/* EBUSY: a signal handler registered us meanwhile. */
		if (errno == EBUSY && own_area.cpu_id < (1u << 20)) {
			errno = saved;
			return 0;
		}
		if (errno != EBUSY)
			own_failed = 1;
	}
	errno = saved;
	__atomic_fetch_add(&n_fallbacks, 1, __ATOMIC_RELAXED);
	return 1;
}

int pcpu_rseq_stats(struct pcpu_rseq_stats *st)
{
	if (!st)
		return pcpu__einval();
	st->aborts = __atomic_load_n(&n_aborts, __ATOMIC_RELAXED);
	st->fallbacks = __atomic_load_n(&n_fallbacks, __ATOMIC_RELAXED);
	st->registrations = __atomic_load_n(&n_registrations,
					    __ATOMIC_RELAXED);
	st->own_area = use_own;
	return 0;
}

const struct pcpu_backend pcpu_backend_rseq = {
	.name = "rseq",
	.id = PCPU__BK_RSEQ,
	.probe = rseq_probe,
	.start = rseq_start,
};

#else /* !PCPU_ARCH_HAVE_RSEQ */

int pcpu__rseq_setup(enum pcpu_index index, char *why, size_t len)
{
	(void)index;
	snprintf(why, len, "no rseq sequences for this architecture");
	errno = ENODEV;
	return -1;
}

static int rseq_probe(enum pcpu_index index, char *why, size_t len)
{
	(void)index;
	snprintf(why, len, "no rseq sequences for this architecture");
	errno = ENODEV;
	return -1;
}

int pcpu__rseq_slow(int status, int tries)
{
	(void)status;
	(void)tries;
	return 1;
}

int pcpu_rseq_stats(struct pcpu_rseq_stats *st)
{
	if (!st)
		return pcpu__einval();
	memset(st, 0, sizeof(*st));
	return 0;
}

const struct pcpu_backend pcpu_backend_rseq = {
	.name = "rseq",
	.id = PCPU__BK_RSEQ,
	.probe = rseq_probe,
	.start = rseq_probe,
};

#endif
