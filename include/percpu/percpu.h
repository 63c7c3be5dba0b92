/* SPDX-License-Identifier: MIT */
/*
 * percpu/percpu.h - libpercpu: per-CPU memory for user space.
 *
 * Includes every concept header: the region (region.h), the allocator
 * (alloc.h), this_cpu_* operations (ops.h) and per-CPU counters
 * (counter.h).  Link with -lpercpu (pkg-config percpu).
 */
#ifndef PERCPU_PERCPU_H
#define PERCPU_PERCPU_H

#include "region.h"
#include "alloc.h"
#include "ops.h"
#include "counter.h"
#include "gs.h"

#endif /* PERCPU_PERCPU_H */
