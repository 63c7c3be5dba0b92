// SPDX-License-Identifier: MIT
/*
 * The gs backends.  The ops are one %gs-relative instruction each
 * (percpu/arch/x86_64/gs.h); what differs is who keeps every thread's GS
 * base at base + cpu * stride.
 *
 * Every thread's GS base is cpu * stride, the offset from copy 0 to its
 * CPU's copy (percpu/arch/x86_64/gs.h says why).
 *
 * gs: the kernel, through ARCH_SET_GS_PERCPU (kernel/ in this tree), handed
 * base 0 and the region's stride.  The
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
/* Threads that ran the covering handler, by tid (append-only, atomic). */
#define MAX_ACKS	(1 << 16)
static pid_t gs_acked[MAX_ACKS];
static int gs_nacks;
static int gs_errors;

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
	int saved = errno, i;

	(void)sig;
	if (arch_prctl(PCPU_ARCH_SET_GS_PERCPU, gs_arg))
		__atomic_fetch_add(&gs_errors, 1, __ATOMIC_RELAXED);
	i = __atomic_fetch_add(&gs_nacks, 1, __ATOMIC_RELAXED);
	/* Release: the waiter that sees the tid sees the striping done. */
	if (i < MAX_ACKS)
		__atomic_store_n(&gs_acked[i], (pid_t)syscall(SYS_gettid),
				 __ATOMIC_RELEASE);
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

static int tid_acked(pid_t tid)
{
	int n = __atomic_load_n(&gs_nacks, __ATOMIC_RELAXED);

	for (int i = 0; i < n && i < MAX_ACKS; i++)
		if (__atomic_load_n(&gs_acked[i], __ATOMIC_ACQUIRE) == tid)
			return 1;
	return 0;
}

/* A thread that exited after we signalled it needs no covering. */
static int tid_alive(pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}

/*
 * Wait until every thread in pending[from..] ran the handler (or exited).
 * Acks are matched by tid, so a signal the application sends itself meanwhile
 * cannot stand in for a thread that has not been covered.
 */
static int wait_acks(const struct tid_set *sent, size_t from, int sig,
		     char *why, size_t len)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = from; i < sent->n; i++) {
		while (!tid_acked(sent->v[i]) && tid_alive(sent->v[i])) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= 2) {
				snprintf(why, len, "thread %d did not take "
					 "signal %d, blocked or stopped?: "
					 "initialize before creating threads "
					 "or set PCPU_GS_SIGNAL",
					 (int)sent->v[i], sig);
				errno = ETIMEDOUT;
				return -1;
			}
			sched_yield();
		}
	}
	return 0;
}

/*
 * Signal every thread not yet covered, until a scan of /proc/self/task
 * finds none: a thread created by a not-yet-covered thread is caught by the
 * next scan.  Returns 0, or -1 with a reason.
 */
static int cover_threads(int sig, char *why, size_t len)
{
	struct tid_set sent = { 0 };
	pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
	int ret = -1;

	for (;;) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *de;
		size_t from = sent.n;

		if (!d) {
			snprintf(why, len, "/proc/self/task: %s",
				 strerror(errno));
			goto out;
		}
		while ((de = readdir(d))) {
			pid_t tid = (pid_t)atoi(de->d_name);

			if (tid <= 0 || tid == self || tid_seen(&sent, tid))
				continue;
			/* ESRCH: it exited meanwhile, nothing to cover. */
			if (syscall(SYS_tgkill, pid, tid, sig))
				continue;
			if (tid_add(&sent, tid) || sent.n > MAX_ACKS) {
				closedir(d);
				snprintf(why, len, "too many threads");
				errno = ENOMEM;
				goto out;
			}
		}
		closedir(d);
		if (sent.n == from)
			break;
		if (wait_acks(&sent, from, sig, why, len))
			goto out;
	}
	if (__atomic_load_n(&gs_errors, __ATOMIC_RELAXED)) {
		snprintf(why, len, "ARCH_SET_GS_PERCPU failed in a thread");
		errno = EIO;
		goto out;
	}
	ret = 0;
out:
	free(sent.v);
	return ret;
}

static int gs_start(enum pcpu_index index, char *why, size_t len)
{
	struct sigaction sa, old, ign;
	const char *env = getenv("PCPU_GS_SIGNAL");
	int sig = env && *env ? atoi(env) : SIGRTMAX - 1;
	int ret;

	(void)index;
	if (sig <= 0 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP) {
		snprintf(why, len, "PCPU_GS_SIGNAL=%s: not a usable signal",
			 env);
		errno = EINVAL;
		return -1;
	}
	/* GS base = cpu * stride, see percpu/arch/x86_64/gs.h. */
	gs_arg[0] = 0;
	gs_arg[1] = (unsigned long)1 << pcpu__rt.shift;
	if (arch_prctl(PCPU_ARCH_SET_GS_PERCPU, gs_arg)) {
		snprintf(why, len, "ARCH_SET_GS_PERCPU: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = gs_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	__atomic_store_n(&gs_nacks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&gs_errors, 0, __ATOMIC_RELAXED);
	if (sigaction(sig, &sa, &old)) {
		snprintf(why, len, "sigaction(%d): %s", sig, strerror(errno));
		return -1;
	}
	ret = cover_threads(sig, why, len);
	/*
	 * A thread that blocks the signal still has it pending: ignoring it
	 * first discards that, so restoring the old default action cannot
	 * kill the process later.
	 */
	if (ret) {
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigaction(sig, &ign, NULL);
	}
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
	pcpu_arch_wrgsbase((uintptr_t)now << pcpu__rt.shift);
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
		if (gs == (uintptr_t)cpu << pcpu__rt.shift)
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
