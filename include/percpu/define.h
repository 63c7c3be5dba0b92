/* SPDX-License-Identifier: MIT */
/*
 * percpu/define.h - per-CPU variables defined at file scope.
 *
 * The kernel's DEFINE_PER_CPU(type, name) is the model: one line makes a
 * per-CPU variable, with no allocation to write at start-up.
 *
 *	PCPU_DEFINE(long, hits);		// one long per CPU
 *	PCPU_DEFINE_STATIC(struct stats, st);	// file-local
 *	PCPU_DECLARE(long, hits);		// in a header, for other files
 *
 *	this_cpu_inc(hits);
 *	this_cpu_add(&st->bytes, len);
 *	pcpu_for_each_cpu(cpu)
 *		total += *pcpu_ptr(hits, cpu);
 *
 * name is a per-CPU handle (type __pcpu *), as pcpu_alloc() returns: the
 * this_cpu_* ops and pcpu_ptr() take it as it is.  type may be any object
 * type, an array or a struct included (PCPU_DEFINE(long[8], hist):
 * this_cpu_inc(&(*hist)[i])).
 *
 * Lifetime.  A constructor of the object that holds the definition (the
 * program, or a shared library) allocates it zeroed on every CPU, before
 * that object's constructors without a priority, and its destructor frees
 * its memory (at dlclose() for a shared library, at exit for the rest).
 * So a shared library can define per-CPU variables and be dlopen()ed and
 * dlclose()d any number of times without leaking.  Threads must be done
 * with a library's variables before it is dlclose()d; at exit, destructors
 * run while other threads may still be running, so the destructor leaves
 * the handle as it was: such a thread's later ops write into freed
 * per-CPU memory, which stays mapped (no fault), and the exiting process
 * does not read it (tests/test_define_exit.c; a NULL handle would make
 * them fault at cpu * stride).
 *
 * The first definition initializes the library with its defaults
 * (pcpu_init(NULL): PCPU_STRIDE and the other variables apply).  A program
 * that chooses the stride itself calls pcpu_init() first: from main() is
 * too late, from a constructor of priority below PCPU_DEFINE_PRIORITY in
 * the same object is early enough (constructors of the shared libraries a
 * program links with run before the program's own; set PCPU_STRIDE in
 * the environment if one of them defines per-CPU variables).
 *
 * If the allocation fails (the stride is full, or the library cannot
 * initialize), the constructor prints why on stderr and calls abort():
 * a program whose static variables cannot exist cannot run, as with a C++
 * static initializer that throws.
 */
#ifndef PERCPU_DEFINE_H
#define PERCPU_DEFINE_H

#include <stddef.h>

#include "alloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Priority of the constructors PCPU_DEFINE emits (see above). */
#define PCPU_DEFINE_PRIORITY	1000

/* Not API: the constructor's and the destructor's work (src/define.c). */
void *pcpu__define_alloc(size_t size, size_t align, const char *type,
			 const char *name, const char *file);
void pcpu__define_free(void *p);

#define PCPU__DEFINE(storage, type, name)				\
	storage __typeof__(type) __pcpu *name;				\
	__attribute__((constructor(PCPU_DEFINE_PRIORITY)))		\
	static void pcpu__define_ctor_##name(void)			\
	{								\
		name = (__typeof__(type) *)pcpu__define_alloc(		\
			sizeof(type), __alignof__(type), #type, #name,	\
			__FILE__);					\
	}								\
	__attribute__((destructor(PCPU_DEFINE_PRIORITY)))		\
	static void pcpu__define_dtor_##name(void)			\
	{								\
		/* The handle keeps its value (see Lifetime). */	\
		pcpu__define_free((void *)name);			\
	}								\
	extern __typeof__(type) __pcpu *name

/*
 * PCPU_DEFINE - define the per-CPU variable name of type type, visible to
 * other files (declare it there with PCPU_DECLARE).  At file scope only,
 * once per name in a program or library.  The handle is valid from the
 * defining object's constructors of priority PCPU_DEFINE_PRIORITY on until
 * its destructors (see above).
 */
#define PCPU_DEFINE(type, name)		PCPU__DEFINE(, type, name)

/* PCPU_DEFINE_STATIC - the same, local to the file. */
#define PCPU_DEFINE_STATIC(type, name)	PCPU__DEFINE(static, type, name)

/* PCPU_DECLARE - declare a variable that PCPU_DEFINE defined elsewhere. */
#define PCPU_DECLARE(type, name)	extern __typeof__(type) __pcpu *name

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_DEFINE_H */
