// SPDX-License-Identifier: MIT
/*
 * The gs backends.  The ops are one %gs-relative instruction each
 * (percpu/arch/x86_64/gs.h); what differs is who keeps every thread's GS
 * base at base + cpu * stride.
 *
 * gs: the kernel, through ARCH_SET_GS_PERCPU (kernel/ in this tree).  The
 * setting is per task and inherited by clone, so threads created after
 * pcpu_init() are covered by construction.  Threads that already exist are
 * covered by a broadcast: each gets one signal (PCPU_GS_SIGNAL, SIGRTMAX-1
 * by default; the previous disposition is restored after) whose handler
 * makes the same arch_prctl on itself.  A thread that blocks that signal
 * cannot be covered: initialization then fails with ETIMEDOUT rather than
 * leave a thread whose ops would write through a zero GS base.
 *
 * gs-pinned: no kernel support, only user FSGSBASE (Linux >= 5.9).  A
 * thread pinned to one CPU never needs its base recomputed, so the library
 * writes it once with wrgsbase (pcpu_gs_pin_thread()); the kernel saves and
 * restores it at context switches like any user GS base.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "percpu/gs.h"

#ifdef PCPU_ARCH_HAVE_GS

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE		(1 << 1)
#endif

static unsigned long gs_arg[2];
static volatile sig_atomic_t gs_acks;
static volatile sig_atomic_t gs_errors;

static long arch_prctl(int code, void *addr)
{
	return syscall(SYS_arch_prctl, code, addr);
}

static int no_cid(enum pcpu_index index, char *why, size_t len)
{
	if (index != PCPU_INDEX_CID)
		return 0;
	snprintf(why, len, "mm_cid indexing needs the rseq backend");
	errno = ENODEV;
	return -1;
}

static int gs_probe(enum pcpu_index index, char *why, size_t len)
{
	unsigned long arg[2];

	if (no_cid(index, why, len))
		return -1;
	if (!arch_prctl(PCPU_ARCH_GET_GS_PERCPU, arg) || errno == ENOENT)
		return 0;
	snprintf(why, len, "the kernel lacks ARCH_SET_GS_PERCPU: %s, "
		 "see kernel/README.md", strerror(errno));
	errno = ENODEV;
	return -1;
}

static void gs_handler(int sig)
{
	int saved = errno;

	(void)sig;
	if (arch_prctl(PCPU_ARCH_SET_GS_PERCPU, gs_arg))
		gs_errors = gs_errors + 1;
	__atomic_fetch_add(&gs_acks, 1, __ATOMIC_RELEASE);
	errno = saved;
}

struct tid_set {
	pid_t *v;
	size_t n, cap;
};

static int tid_seen(const struct tid_set *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == tid)
			return 1;
	return 0;
}

static int tid_add(struct tid_set *s, pid_t tid)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		pid_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = tid;
	return 0;
}

/*
 * Signal every thread not yet covered, until a scan of /proc/self/task
 * finds none: a thread created by a not-yet-covered thread is caught by the
 * next scan.  Returns 0, or -1 with a reason.
 */
static int cover_threads(int sig, char *why, size_t len)
{
	struct tid_set done = { 0 };
	pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
	int sent = 0, ret = -1;

	for (;;) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *de;
		int fresh = 0;
		struct timespec t0, now;

		if (!d) {
			snprintf(why, len, "/proc/self/task: %s",
				 strerror(errno));
			goto out;
		}
		while ((de = readdir(d))) {
			pid_t tid = (pid_t)atoi(de->d_name);

			if (tid <= 0 || tid == self || tid_seen(&done, tid))
				continue;
			if (tid_add(&done, tid)) {
				closedir(d);
				snprintf(why, len, "out of memory");
				goto out;
			}
			/* ESRCH: it exited meanwhile, nothing to cover. */
			if (syscall(SYS_tgkill, pid, tid, sig) == 0) {
				sent++;
				fresh++;
			}
		}
		closedir(d);
		if (!fresh)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (__atomic_load_n(&gs_acks, __ATOMIC_ACQUIRE) < sent) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= 2) {
				snprintf(why, len, "%d thread(s) did not take "
					 "signal %d, blocked?: initialize "
					 "before creating threads",
					 sent - (int)gs_acks, sig);
				errno = ETIMEDOUT;
				goto out;
			}
			sched_yield();
		}
	}
	if (gs_errors) {
		snprintf(why, len, "ARCH_SET_GS_PERCPU failed in a thread");
		errno = EIO;
		goto out;
	}
	ret = 0;
out:
	free(done.v);
	return ret;
}

static int gs_start(enum pcpu_index index, char *why, size_t len)
{
	struct sigaction sa, old;
	const char *env = getenv("PCPU_GS_SIGNAL");
	int sig = env && *env ? atoi(env) : SIGRTMAX - 1;
	int ret;

	(void)index;
	gs_arg[0] = pcpu__rt.base;
	gs_arg[1] = (unsigned long)1 << pcpu__rt.shift;
	if (arch_prctl(PCPU_ARCH_SET_GS_PERCPU, gs_arg)) {
		snprintf(why, len, "ARCH_SET_GS_PERCPU: %s", strerror(errno));
		return -1;
	}
	if (sig <= 0 || sig > SIGRTMAX) {
		snprintf(why, len, "PCPU_GS_SIGNAL=%s: not a signal", env);
		errno = EINVAL;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = gs_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	gs_acks = 0;
	gs_errors = 0;
	if (sigaction(sig, &sa, &old)) {
		snprintf(why, len, "sigaction(%d): %s", sig, strerror(errno));
		return -1;
	}
	ret = cover_threads(sig, why, len);
	sigaction(sig, &old, NULL);
	return ret;
}

static int pinned_probe(enum pcpu_index index, char *why, size_t len)
{
	if (no_cid(index, why, len))
		return -1;
	if (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)
		return 0;
	snprintf(why, len, "user FSGSBASE is not enabled: CPU, kernel < "
		 "5.9, or booted with nofsgsbase");
	errno = ENODEV;
	return -1;
}

static int pinned_start(enum pcpu_index index, char *why, size_t len)
{
	(void)index;
	(void)why;
	(void)len;
	return 0;
}

/* rdgsbase faults where user FSGSBASE is off (nofsgsbase): ask the
 * kernel then. */
static int read_gsbase(uintptr_t *gs)
{
	unsigned long v;

	if (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) {
		*gs = pcpu_arch_rdgsbase();
		return 0;
	}
	if (arch_prctl(ARCH_GET_GS, &v))
		return -1;
	*gs = v;
	return 0;
}

static int single_cpu(int *cpu)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	if (CPU_COUNT(&set) != 1) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (CPU_ISSET(i, &set)) {
			*cpu = i;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

int pcpu_gs_pin_thread(int cpu)
{
	cpu_set_t set;
	int now;

	if (pcpu__ensure_init())
		return -1;
	if (strcmp(pcpu_backend_name(), "gs-pinned")) {
		errno = ENOTSUP;
		return -1;
	}
	if (cpu >= 0) {
		if ((unsigned int)cpu >= pcpu__rt.nr ||
		    !pcpu__cpu_possible((unsigned int)cpu) ||
		    cpu >= CPU_SETSIZE) {
			errno = EINVAL;
			return -1;
		}
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			return -1;
	}
	if (single_cpu(&now))
		return -1;
	if ((unsigned int)now >= pcpu__rt.nr) {
		errno = EINVAL;
		return -1;
	}
	pcpu_arch_wrgsbase((uintptr_t)pcpu_ptr((void *)pcpu__rt.base, now));
	return now;
}

int pcpu_gs_check_thread(void)
{
	int pinned = !strcmp(pcpu_backend_name(), "gs-pinned"), cpu;

	if (!pinned && strcmp(pcpu_backend_name(), "gs")) {
		errno = ENOTSUP;
		return -1;
	}
	if (pinned && single_cpu(&cpu)) {
		errno = EXDEV;
		return -1;
	}
	/* Under the kernel's striping the thread may migrate between the
	 * two reads: a few tries tell a race from a wrong base. */
	for (int i = 0; i < 4; i++) {
		uintptr_t gs;

		if (read_gsbase(&gs))
			return -1;

		cpu = (int)pcpu_cpu();
		if (gs == (uintptr_t)pcpu_ptr((void *)pcpu__rt.base, cpu))
			return 0;
	}
	errno = EXDEV;
	return -1;
}

#else /* !PCPU_ARCH_HAVE_GS */

static int gs_probe(enum pcpu_index index, char *why, size_t len)
{
	(void)index;
	snprintf(why, len, "no %%gs on this architecture");
	errno = ENODEV;
	return -1;
}
#define gs_start gs_probe
#define pinned_probe gs_probe
#define pinned_start gs_probe

int pcpu_gs_pin_thread(int cpu)
{
	(void)cpu;
	errno = ENOTSUP;
	return -1;
}

int pcpu_gs_check_thread(void)
{
	errno = ENOTSUP;
	return -1;
}

#endif

const struct pcpu_backend pcpu_backend_gs = {
	.name = "gs",
	.id = PCPU__BK_GS,
	.probe = gs_probe,
	.start = gs_start,
};

const struct pcpu_backend pcpu_backend_gs_pinned = {
	.name = "gs-pinned",
	.id = PCPU__BK_GS,
	.opt_in = 1,
	.probe = pinned_probe,
	.start = pinned_start,
};
