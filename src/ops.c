// SPDX-License-Identifier: MIT
/*
 * The this_cpu ops' out-of-line dispatch, for an op whose inline fast path
 * saw the runtime word before the initialization (percpu/ops.h): one per
 * primitive and size, from the same macro as the inline dispatchers.
 */
#include "internal.h"

#define PCPU__GENERIC_SIZES(op)						\
	PCPU__GENERIC_DEF(op, 1, uint8_t)				\
	PCPU__GENERIC_DEF(op, 2, uint16_t)				\
	PCPU__GENERIC_DEF(op, 4, uint32_t)				\
	PCPU__GENERIC_DEF(op, 8, uint64_t)

PCPU__GENERIC_SIZES(read)
PCPU__GENERIC_SIZES(write)
PCPU__GENERIC_SIZES(add)
PCPU__GENERIC_SIZES(add_return)
PCPU__GENERIC_SIZES(xchg)
PCPU__GENERIC_SIZES(cmpxchg)
