// SPDX-License-Identifier: MIT
/*
 * The per-thread error message (percpu/error.h).  A buffer in ordinary
 * (global-dynamic) thread-local storage: it works in a dlopen()ed copy of
 * the library without taking the static TLS space that the rseq area
 * needs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

static __thread char last_error[PCPU_ERROR_MAX];

const char *pcpu_last_error(void)
{
	return last_error;
}

void pcpu__error_clear(void)
{
	last_error[0] = 0;
}

int pcpu__error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}
