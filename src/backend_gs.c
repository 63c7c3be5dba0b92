// SPDX-License-Identifier: MIT
/*
 * The gs backends.  The ops are one %gs-relative instruction each
 * (percpu/arch/x86_64/gs.h); what differs is who keeps every thread's GS
 * base at cpu * stride, the offset from copy 0 to its CPU's copy
 * (percpu/arch/x86_64/gs.h says why).
 *
 * gs: the kernel, through ARCH_SET_GS_PERCPU (kernel/ in this tree), handed
 * base 0 and the region's stride.  The setting is per task and inherited by
 * clone, so the library sets it when it is loaded (a constructor, before
 * main() or at dlopen), with the stride pcpu_init() will use by default
 * (PCPU_STRIDE or 1 MiB): every thread created afterwards inherits it, and
 * pcpu_init() has nothing to do for them.  Design decision: this costs a
 * process that links the library but never uses it one predictable branch
 * per context switch in the kernel, and saves every process that does use
 * it a signal to each of its threads.  PCPU_GS_AT_LOAD=0 turns it off.
 *
 * Only when that is not enough does pcpu_init() broadcast: the process had
 * threads already when the library was loaded (dlopen), or pcpu_init()
 * chose another stride.  Then each thread gets one signal (PCPU_GS_SIGNAL,
 * SIGRTMAX-1 by default; the previous disposition is restored after) whose
 * handler makes the same arch_prctl on itself.  Threads that can never run
 * user code are not signalled: a zombie (the main thread after
 * pthread_exit()) and the kernel's io_uring and vhost workers, which block
 * every signal.  A thread that blocks the signal otherwise cannot be
 * covered: the gs backend then fails to start with ETIMEDOUT (in automatic
 * selection the next backend runs) rather than leave a thread whose ops
 * would write through a wrong GS base.  A thread blocked in sleep(), poll(),
 * nanosleep(), epoll_wait() or a read() of a pipe may see EINTR (or a short
 * sleep) from that one signal, SA_RESTART or not: that is the price of the
 * broadcast, and why it is the exception.
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
#if defined(__x86_64__)
#include <asm/prctl.h>
#endif
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
/* What the load-time constructor did: the stride it set on the loading
 * thread (0: nothing), and whether that thread was the only one. */
static unsigned long load_stride;
static int load_single;
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

#define PF_IO_WORKER_FLAG	0x00000010u	/* io_uring io-wq, sqpoll */
#define PF_USER_WORKER_FLAG	0x00004000u	/* io_uring, vhost (6.4+) */

/*
 * Does thread tid still run user code?  Not when it has exited (gone, or a
 * zombie: the main thread after pthread_exit() stays listed), nor when it
 * is a kernel worker thread of this process (io_uring's sqpoll and io-wq,
 * vhost), which blocks every signal and never returns to user space.
 * From /proc/self/task/<tid>/stat: the state after the command name, then
 * the flags (task->flags) five fields later.
 */
/*
 * The fields of a /proc stat file after the command name (which may hold
 * spaces and parentheses: everything up to the last ')'), from field 3
 * (the state) on; NULL when the file cannot be read.
 */
static const char *stat_fields(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;
	char *p;

	if (!f)
		return NULL;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p ? p + 1 : NULL;
}

static int tid_runs_user_code(pid_t tid)
{
	char path[64], buf[512];
	const char *p;
	unsigned int flags = 0;
	char state = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (access(path, F_OK))
		return 0;	/* gone */
	p = stat_fields(path, buf, sizeof(buf));
	if (!p || sscanf(p, " %c %*d %*d %*d %*d %*d %u", &state,
			 &flags) != 2)
		return 1;	/* unreadable: assume it does */
	if (state == 'Z' || state == 'X' || state == 'x')
		return 0;
	return !(flags & (PF_IO_WORKER_FLAG | PF_USER_WORKER_FLAG));
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
		while (!tid_acked(sent->v[i]) &&
		       tid_runs_user_code(sent->v[i])) {
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

			if (tid <= 0 || tid == self || tid_seen(&sent, tid) ||
			    !tid_runs_user_code(tid))
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

/* Does the calling thread stripe with (0, stride) right now? */
static int self_striped(unsigned long stride)
{
	unsigned long arg[2];

	return !arch_prctl(PCPU_ARCH_GET_GS_PERCPU, arg) && arg[0] == 0 &&
	       arg[1] == stride;
}

static int gs_start(enum pcpu_index index, char *why, size_t len)
{
	struct sigaction sa, old, ign;
	const char *env = getenv("PCPU_GS_SIGNAL");
	int sig = env && *env ? atoi(env) : SIGRTMAX - 1;
	int ret;

	(void)index;
	if (!pcpu__region_covers_kernel_cpus(why, len)) {
		errno = ENODEV;
		return -1;
	}
	/* GS base = cpu * stride, see percpu/arch/x86_64/gs.h. */
	gs_arg[0] = 0;
	gs_arg[1] = (unsigned long)1 << pcpu__rt.shift;
	/*
	 * Set at load with this stride while the process was single-threaded:
	 * every thread since inherited it.  The calling thread still having
	 * it shows nobody reset it meanwhile.
	 */
	if (load_single && load_stride == gs_arg[1] && self_striped(gs_arg[1]))
		return 0;
	if (sig <= 0 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP) {
		snprintf(why, len, "PCPU_GS_SIGNAL=%s: not a usable signal",
			 env);
		errno = EINVAL;
		return -1;
	}
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

/* Threads of this process, from /proc/self/stat (0: cannot tell). */
static long nr_threads(void)
{
	char buf[1024];
	const char *p = stat_fields("/proc/self/stat", buf, sizeof(buf));
	long n = 0;

	/* num_threads is field 20, 17 after the state. */
	if (!p || sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			 "%*u %*u %*u %*d %*d %*d %*d %ld", &n) != 1)
		return 0;
	return n;
}

/*
 * At load: stripe the loading thread (and so every thread it creates from
 * now on) with the stride pcpu_init() will choose unless told otherwise.
 * Only on a kernel with the feature, only when the gs backend may run, and
 * never fatal: pcpu_init() checks and falls back to the broadcast.
 *
 * Not once pcpu_init() has run: in a static program the constructors with
 * a priority (PCPU_DEFINE's, and the early one that picks the stride) run
 * before this one, and striping again here with the default stride would
 * undo what gs_start() set for the stride the region really has.
 */
__attribute__((constructor)) static void gs_at_load(void)
{
	const char *bk = getenv("PCPU_BACKEND");
	const char *at_load = getenv("PCPU_GS_AT_LOAD");
	unsigned long arg[2] = { 0, 0 };
	int saved = errno;

	if ((bk && *bk && strcmp(bk, "gs")) || (at_load && !strcmp(at_load, "0")))
		return;
	if (pcpu__k_slow())
		return;
	arg[1] = pcpu__env_stride();
	if (!arg[1])
		return;
	if (!arch_prctl(PCPU_ARCH_SET_GS_PERCPU, arg)) {
		load_stride = arg[1];
		load_single = nr_threads() == 1;
	}
	errno = saved;
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
	/*
	 * The load-time striping (PCPU_BACKEND=gs, then pcpu_init() asking
	 * for gs-pinned) is inherited by this thread, and a wrgsbase of this
	 * CPU's slot does not switch it off: the kernel would keep moving
	 * the base with the thread and a move behind our back would go
	 * unnoticed.  ARCH_SET_GS switches it off and writes the base.
	 */
	if (load_stride) {
		if (arch_prctl(ARCH_SET_GS,
			       (void *)((uintptr_t)now << pcpu__rt.shift)))
			return -1;
		return now;
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
