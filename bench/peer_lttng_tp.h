/* SPDX-License-Identifier: MIT */
/*
 * The LTTng-UST tracepoint of peer_lttng.c: provider pcpu_bench, event
 * record, two 64-bit integers (the 16-byte payload of ring_write).
 * LTTng's tracepoint headers include this file twice (once to declare,
 * once to generate the probe), hence the guard's second condition.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER pcpu_bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "peer_lttng_tp.h"

#if !defined(PEER_LTTNG_TP_H) || \
	defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define PEER_LTTNG_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_EVENT(pcpu_bench, record,
	LTTNG_UST_TP_ARGS(uint64_t, a, uint64_t, b),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint64_t, a, a)
		lttng_ust_field_integer(uint64_t, b, b)
	)
)

#endif /* PEER_LTTNG_TP_H */

#include <lttng/tracepoint-event.h>
