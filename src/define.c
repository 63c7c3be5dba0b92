// SPDX-License-Identifier: MIT
/*
 * The work behind PCPU_DEFINE (percpu/define.h): the constructor's
 * allocation, which may not fail quietly (a NULL handle would fault at the
 * first op far from the cause), and the destructor's free.
 *
 * The destructor also clears the calling thread's rseq_cs.  The ops are
 * inline: a shared object that ran restartable sequences holds their
 * descriptors, and the kernel's pointer to the last one a thread armed
 * (struct rseq's rseq_cs) stays set after the commit; the kernel reads it
 * at the thread's next return from a preemption or signal, and if the
 * object was unmapped by then, the thread gets SIGSEGV (rseq(2): user
 * space clears the pointer before reclaiming the descriptor's memory).
 * The thread that runs dlclose() is the one the destructor can clear;
 * other threads are the caller's to settle (libpercpu(7), "dlclose").
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "percpu/define.h"

void *pcpu__define_alloc(size_t size, size_t align, const char *type,
			 const char *name, const char *file)
{
	void *p = pcpu_alloc(size, align);

	if (!p) {
		int err = errno;

		if (err == ENOMEM && pcpu_stride())
			fprintf(stderr, "libpercpu: PCPU_DEFINE(%s, %s) in %s: "
				"no room for %zu bytes in the stride of %zu "
				"(%zu free): raise PCPU_STRIDE\n", type, name,
				file, size, pcpu_stride(), pcpu_free_bytes());
		else
			fprintf(stderr, "libpercpu: PCPU_DEFINE(%s, %s) in %s: "
				"cannot allocate %zu bytes per CPU: %s (%s)\n",
				type, name, file, size, strerror(err),
				pcpu_init_error());
		abort();
	}
	return p;
}

/* This thread's rseq_cs = NULL: it is not in a sequence (we are here). */
static void forget_rseq_cs(void)
{
#ifdef PCPU_ARCH_HAVE_RSEQ
	uint64_t k = pcpu__k_slow(), r = pcpu__r_slow();
	char *tp;

	if (!(k & (PCPU__F_RSEQ_CPU | PCPU__F_RSEQ_CID | PCPU__F_CS_CPU |
		   PCPU__F_CS_CID)))
		return;
#if defined(__x86_64__)
	__asm__ __volatile__("movq %%fs:0, %0" : "=r"(tp));
#else
	tp = __builtin_thread_pointer();
#endif
	__atomic_store_n((uint64_t *)(tp + PCPU__R_RSEQ_OFF(r) + PCPU__RSEQ_CS),
			 0, __ATOMIC_RELAXED);
#endif
}

void pcpu__define_free(void *p)
{
	forget_rseq_cs();
	if (p)
		pcpu_free(p);
}
