// SPDX-License-Identifier: MIT
/*
 * The library's version at run time.  The Makefile compiles this file with
 * its VERSION split into PCPU_MK_MAJOR, _MINOR and _PATCH: the header's
 * macros must agree with it (the Makefile is the single source).
 */
#include "internal.h"
#include "percpu/version.h"

#if !defined(PCPU_MK_MAJOR) || !defined(PCPU_MK_MINOR) || !defined(PCPU_MK_PATCH)
#error "build src/version.c through the Makefile (it passes VERSION)"
#endif
#if PCPU_MK_MAJOR != PCPU_VERSION_MAJOR || PCPU_MK_MINOR != PCPU_VERSION_MINOR || \
	PCPU_MK_PATCH != PCPU_VERSION_PATCH
#error "include/percpu/version.h disagrees with the Makefile's VERSION"
#endif
#if PCPU_VERSION_MINOR > 99 || PCPU_VERSION_PATCH > 99
#error "PCPU_VERSION packs MINOR and PATCH in two decimal digits each"
#endif

int pcpu_version(void)
{
	return PCPU_VERSION;
}

const char *pcpu_version_string(void)
{
	return PCPU_VERSION_STRING;
}
