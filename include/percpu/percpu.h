/* SPDX-License-Identifier: MIT */
/*
 * percpu/percpu.h - libpercpu: per-CPU memory for user space.
 *
 * Includes every concept header: the region (region.h), the allocator
 * (alloc.h), this_cpu_* operations (ops.h), per-CPU critical sections
 * (cs.h), per-CPU counters (counter.h),
 * per-CPU spinlocks and the big-reader lock (lock.h), per-CPU ring buffers
 * (ring.h), per-CPU object caches (cache.h), the %gs backends' thread
 * calls (gs.h), file-scope per-CPU variables (define.h), named items for
 * pcpu-stat(1) (stat.h), the version (version.h) and error messages
 * (error.h).  Link with -lpercpu (pkg-config percpu).
 */
#ifndef PERCPU_PERCPU_H
#define PERCPU_PERCPU_H

#include "region.h"
#include "alloc.h"
#include "ops.h"
#include "cs.h"
#include "counter.h"
#include "lock.h"
#include "ring.h"
#include "cache.h"
#include "gs.h"
#include "define.h"
#include "stat.h"
#include "version.h"
#include "error.h"

#endif /* PERCPU_PERCPU_H */
