/* SPDX-License-Identifier: MIT */
/*
 * percpu/error.h - errors in words, where an errno alone does not say
 * enough.
 *
 * An errno says what kind of failure it was; it cannot say which limit
 * was hit or what to do about it ("EBUSY" from pcpu_init() does not say
 * that another library already chose a smaller stride).  Functions whose
 * doc comment says "sets pcpu_last_error()" clear the calling thread's
 * message when called and, when they fail, leave a sentence there that
 * names the value at fault and, where there is one, the way out.  Other
 * functions leave it alone, except that one which allocates per-CPU
 * memory (a counter, a lock, a ring's registration) passes on
 * pcpu_alloc()'s message when that allocation is what failed; the inline
 * fast paths never touch it.
 *
 * The message is per thread, so a failure in one thread is never
 * reported to another, and it stays until the next call that sets it.
 * Read it right after a call that failed.
 */
#ifndef PERCPU_ERROR_H
#define PERCPU_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Longest message, terminating NUL included. */
#define PCPU_ERROR_MAX	256

/*
 * pcpu_last_error - the calling thread's last error message: why its most
 * recent failed call among those that set it failed, or "" when that
 * call succeeded (or none was made).  The string is the thread's own and
 * stays valid until its next such call or its exit.  Cannot fail.
 * MT-safe; not async-signal-safe (the message is in thread-local storage
 * that a dlopen()ed library allocates lazily); fork-safe (the child's
 * thread has its parent's message).
 */
const char *pcpu_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_ERROR_H */
