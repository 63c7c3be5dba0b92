/* SPDX-License-Identifier: MIT */
/*
 * Setting the per-thread error message (percpu/error.h), for the
 * library's own files.  A public function that documents "sets
 * pcpu_last_error()" calls pcpu__error_clear() on entry and returns
 * through pcpu__error() when it fails:
 *
 *	if (stride < min)
 *		return pcpu__error(EINVAL, "stride %zu: below %zu", stride, min);
 */
#ifndef PCPU_ERROR_INTERNAL_H
#define PCPU_ERROR_INTERNAL_H

#include "internal.h"
#include "percpu/error.h"

/* Empty the calling thread's message. */
void pcpu__error_clear(void) PCPU_HIDDEN;
/* Format the message, set errno to err, return -1.  errno is err on
 * return whatever the formatting did. */
int pcpu__error(int err, const char *fmt, ...) PCPU_HIDDEN
	__attribute__((format(printf, 2, 3)));

#endif /* PCPU_ERROR_INTERNAL_H */
