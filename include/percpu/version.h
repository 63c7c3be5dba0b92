/* SPDX-License-Identifier: MIT */
/*
 * percpu/version.h - the library's version, at compile time and at run
 * time.
 *
 * The Makefile's VERSION is the single source: src/version.c is compiled
 * with it and fails to build when these macros say something else, so a
 * release that changes one and not the other cannot be built.
 *
 * Versions and the soname.  MAJOR.MINOR.PATCH.  PATCH: fixes only.
 * MINOR: additions (functions, macros, flags); a program built against
 * an older release of the same soname runs unchanged.  The shared
 * library's soname is libpercpu.so.N, N being the Makefile's SOVERSION (1
 * now), an ABI counter of its own: N is bumped, with MINOR before 1.0 and
 * MAJOR after, whenever a binary built against the old headers could
 * misbehave with the new library.  That is: an exported function removed,
 * or its arguments or meaning changed; a change to what the inline fast
 * paths compile into user binaries, which are the two words of runtime.h
 * and their flags, and the layouts of struct pcpu_counter, pcpu_spinlock,
 * pcpu_brlock, pcpu_cache, pcpu_cs, pcpu_ring and the ring's shared
 * control blocks.  Symbols are versioned (src/libpercpu.map).  See
 * libpercpu(7), section ABI.
 */
#ifndef PERCPU_VERSION_H
#define PERCPU_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_VERSION_MAJOR	0
#define PCPU_VERSION_MINOR	1
#define PCPU_VERSION_PATCH	0

/* Each part 0..99: one number that compares as the version does. */
#define PCPU_VERSION_NUMBER(major, minor, patch)			\
	((major) * 10000 + (minor) * 100 + (patch))
#define PCPU_VERSION							\
	PCPU_VERSION_NUMBER(PCPU_VERSION_MAJOR, PCPU_VERSION_MINOR,	\
			    PCPU_VERSION_PATCH)

#define PCPU__VSTR2(x)		#x
#define PCPU__VSTR(x)		PCPU__VSTR2(x)
#define PCPU_VERSION_STRING						\
	PCPU__VSTR(PCPU_VERSION_MAJOR) "." PCPU__VSTR(PCPU_VERSION_MINOR) \
	"." PCPU__VSTR(PCPU_VERSION_PATCH)

/* True when the headers are at least major.minor.patch:
 * #if PCPU_VERSION_AT_LEAST(0, 2, 0) */
#define PCPU_VERSION_AT_LEAST(major, minor, patch)			\
	(PCPU_VERSION >= PCPU_VERSION_NUMBER(major, minor, patch))

/*
 * pcpu_version - the version of the library that runs (which may be newer
 * than the headers a program was built with), as PCPU_VERSION computes
 * it: compare with PCPU_VERSION_NUMBER(...).  Returns the number; cannot
 * fail.  MT-safe, async-signal-safe, fork-safe.
 */
int pcpu_version(void);

/*
 * pcpu_version_string - the same as "MAJOR.MINOR.PATCH", a static string.
 * Cannot fail.  MT-safe, async-signal-safe, fork-safe.
 */
const char *pcpu_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_VERSION_H */
