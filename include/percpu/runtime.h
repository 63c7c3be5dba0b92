/* SPDX-License-Identifier: MIT */
/*
 * percpu/runtime.h - state the inline fast paths read.
 *
 * Not an API: the layout may change between versions, and the fields are
 * written once by pcpu_init() before any per-CPU handle exists (every handle
 * comes from pcpu_alloc(), which initializes first), then only read.  The
 * release store of the backend in pcpu_init() pairs with the acquire in
 * pthread_once() of every thread that obtained a handle, so a plain read
 * here is enough.
 */
#ifndef PERCPU_RUNTIME_H
#define PERCPU_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The fast paths must inline into the caller's loop: a call would cost
 * more than the op. */
#define PCPU__INLINE	static inline __attribute__((always_inline))
#define PCPU__LIKELY(x)	__builtin_expect(!!(x), 1)

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
 * const for the compiler: every field is written once, by the first
 * pcpu_init(), before any handle exists (handles come from pcpu_alloc(),
 * which initializes first), so no op can observe a change.  That lets the
 * compiler keep the fields in registers across the ops' compiler barriers.
 * Inside the library, which does write it, the name is the writable
 * object.  (Do not build the library and its callers as one LTO unit: the
 * optimizer would then see both views.)
 */
#ifdef PCPU_BUILDING_LIBRARY
extern struct pcpu__runtime pcpu__rt_rw __asm__("pcpu__rt");
#define pcpu__rt pcpu__rt_rw
#else
extern const struct pcpu__runtime pcpu__rt;
#endif

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
/* The CPU number by system call (vDSO getcpu), for the atomic backend. */
unsigned int pcpu__getcpu(void);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_RUNTIME_H */
