/* SPDX-License-Identifier: MIT */
/*
 * percpu/arch/arch.h - pick the architecture's primitives.
 *
 * An architecture directory supplies cpu.h, which defines PCPU_ARCH_HAVE_*
 * for what it has, then rseq.h (the this_cpu primitives) and cs.h (the
 * critical sections of percpu/cs.h) when PCPU_ARCH_HAVE_RSEQ, and gs.h
 * when PCPU_ARCH_HAVE_GS.  Elsewhere only the atomic backend exists, and
 * critical sections take the per-copy locks.
 */
#ifndef PERCPU_ARCH_H
#define PERCPU_ARCH_H

#if defined(__x86_64__) && !defined(__ILP32__)
#include "x86_64/cpu.h"
#include "x86_64/rseq.h"
#include "x86_64/cs.h"
#include "x86_64/gs.h"
#define PCPU_ARCH_HAVE_RDPID	1
#elif defined(__aarch64__)
#include "aarch64/cpu.h"
#include "aarch64/rseq.h"
#include "aarch64/cs.h"
#endif

#endif /* PERCPU_ARCH_H */
