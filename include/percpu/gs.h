/* SPDX-License-Identifier: MIT */
/*
 * percpu/gs.h - the %gs backends: kernel striping and pinned threads.
 *
 * PCPU_BACKEND=gs needs a kernel with ARCH_SET_GS_PERCPU (kernel/ in this
 * tree): pcpu_init() hands it (0, pcpu_stride()), so that each thread's GS
 * base is cpu * stride and %gs:(handle) is its CPU's copy, and covers every
 * thread of the process, those created later by inheritance and those that
 * already exist by a one-time signal (PCPU_GS_SIGNAL, default SIGRTMAX-1;
 * a thread blocking it makes pcpu_init() fail with ETIMEDOUT).  Code must
 * not change GS itself afterwards (the kernel then stops striping that
 * thread: ARCH_GET_GS_PERCPU returns ENOENT).
 *
 * PCPU_BACKEND=gs-pinned needs only user FSGSBASE (Linux >= 5.9).  It is for
 * thread-per-core programs.  The contract: every thread calls
 * pcpu_gs_pin_thread() before its first this_cpu op, and is never moved to
 * another CPU afterwards (by itself, another thread, or a cpuset change).
 * An op from a thread that did not pin runs with GS base 0, on CPU 0's
 * copy, without atomicity against CPU 0's own thread; an op after a move
 * likewise hits the old CPU's copy.  pcpu_gs_check_thread() detects
 * both (use it in debug builds or a watchdog).
 */
#ifndef PERCPU_GS_H
#define PERCPU_GS_H

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_ARCH_SET_GS_PERCPU	0x1005
#define PCPU_ARCH_GET_GS_PERCPU	0x1006

/*
 * pcpu_gs_pin_thread - pin the calling thread and point its GS base at
 * that CPU's copy.  cpu >= 0: pin to cpu first; cpu < 0: the thread must
 * already be pinned to exactly one CPU.  Returns the CPU, or -1 with errno:
 * ENOTSUP (backend is not gs-pinned), EINVAL (cpu not possible, or the
 * thread is allowed on more than one CPU: an unpinned thread is refused),
 * or a sched_setaffinity() error.  MT-safe; not async-signal-safe.
 */
int pcpu_gs_pin_thread(int cpu);

/*
 * pcpu_gs_check_thread - verify the calling thread's GS base is this
 * CPU's copy (and, for gs-pinned, that it is still pinned to one CPU).
 * Returns 0, or -1 with errno EXDEV (contract violated) or ENOTSUP.
 */
int pcpu_gs_check_thread(void);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_GS_H */
