/* SPDX-License-Identifier: MIT */
/*
 * percpu/runtime.h - state the inline fast paths read.
 *
 * Not an API: the layout may change between versions, and the fields are
 * written once by pcpu_init() before any per-CPU handle exists (every handle
 * comes from pcpu_alloc(), which initializes first), then only read.  A
 * thread that got a handle from another thread got it through some
 * synchronization that orders it after the initialization (the release
 * store of the "initialized" flag, acquired by every pcpu_alloc()), so a
 * plain read here is enough.
 */
#ifndef PERCPU_RUNTIME_H
#define PERCPU_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if __SIZEOF_POINTER__ != 8
#error "libpercpu needs a 64-bit target (LP64)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The fast paths must inline into the caller's loop: a call would cost
 * more than the op. */
#define PCPU__INLINE	static inline __attribute__((always_inline))
#define PCPU__LIKELY(x)	__builtin_expect(!!(x), 1)
#define PCPU__UNLIKELY(x)	__builtin_expect(!!(x), 0)

enum pcpu__backend_id {
	PCPU__BK_NONE = 0,	/* not initialized */
	PCPU__BK_ATOMIC,	/* lock-prefixed ops on the copy of the CPU we ran on */
	PCPU__BK_RSEQ_CPU,	/* restartable sequences, indexed by cpu_id */
	PCPU__BK_RSEQ_CID,	/* restartable sequences, indexed by mm_cid */
	PCPU__BK_GS,		/* %gs base = this CPU's copy (kernel or pinned) */
};

struct pcpu__runtime {
	int backend;		/* enum pcpu__backend_id */
	unsigned int shift;	/* log2(stride) */
	uint32_t nr;		/* number of copies */
	uint32_t cpu_rdpid;	/* 1: rdpid gives the CPU number */
	uintptr_t base;		/* copy 0 */
	long rseq_off;		/* struct rseq, relative to the thread pointer */
} __attribute__((aligned(64)));

/*
 * Not const, on purpose: a const view would let the compiler load fields
 * before the first pcpu_alloc() that sets them (tried: the load of
 * rseq_off was hoisted to function entry and a sequence armed glibc's TCB).
 */
extern struct pcpu__runtime pcpu__rt;

/*
 * Slow path of the rseq backend, out of line: called when a sequence did
 * not commit (status 1: aborted, 2: thread not registered), tries being the
 * number of earlier failed attempts of this op.  It registers the calling
 * thread when it can, and returns 0 to retry the sequence, or 1 when the op
 * must take the fallback: a locked op on the spare copy, which no sequence
 * writes (registration impossible for this thread, or too many aborts in a
 * row: single-stepping, binary instrumentation).
 */
int pcpu__rseq_slow(int status, int tries);
/* Set errno to EINVAL and return -1: the cold branch of the inline
 * functions' argument checks, out of line. */
int pcpu__einval(void);
/* The CPU number by system call (vDSO getcpu), for the atomic backend. */
unsigned int pcpu__getcpu(void);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_RUNTIME_H */
