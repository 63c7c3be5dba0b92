// SPDX-License-Identifier: MIT
/*
 * pcpu-selftest - does the running kernel keep the promises of rseq that
 * libpercpu relies on?  Run it on a new kernel before trusting per-CPU
 * data to it (man pcpu-selftest).
 *
 * Each check forces its event on purpose instead of waiting for luck, and
 * uses the library's own sequence frame (PCPU__RSEQ_DESC, _START_AT and
 * _END_ST of percpu/arch/<arch>/rseq.h), the library's rseq registration
 * (glibc's or its own) and, where they fit, its real ops and critical
 * sections:
 *
 *   preempt-abort      a sequence preempted on its CPU is aborted: the
 *                      spinner runs at nice 19, a competitor pinned to the
 *                      same CPU wakes every few hundred microseconds
 *   preempt-abort-cid  the same, the sequence comparing mm_cid
 *   migrate-abort      a sequence whose thread another thread moves to
 *                      another CPU is aborted, and cpu_id follows it
 *   signal-abort       a signal delivered mid-sequence (tgkill from another
 *                      CPU) aborts it before the handler runs
 *   single-step-abort  under ptrace single-stepping every sequence aborts,
 *                      and the library's ops still complete, exactly once
 *   cpu-id-range       cpu_id is the CPU the thread runs on, a possible one
 *   mm-cid-range       mm_cid is below the number of threads and of CPUs
 *   cpu-id-start       the library does not depend on the kernel rewriting
 *                      cpu_id_start (Linux 6.19 stopped): with garbage
 *                      there, ops and critical sections still land on this
 *                      CPU's copy and count exactly
 *
 * How an event is known to have happened inside a sequence.  The test
 * sequence reads the CPU's counter (TSC, CNTVCT) right after its start
 * and then keeps reading it until it has spun long enough, and commits
 * the last reading; an aborted one leaves the first reading in its
 * register and the caller reads the counter right after the abort.  The
 * event's side records the counter too: the competitor when it runs (on
 * the spinner's CPU: at that moment the spinner is not running), the
 * signal handler when it runs (on the spinner's thread), the mover before
 * and after sched_setaffinity() (which returns once the thread has moved).
 * An event strictly between the two readings of one attempt, with a
 * margin, happened inside that sequence; a commit with one inside is a
 * broken promise, and an abort with one inside is the evidence that the
 * check was exercised.  An event just outside proves nothing and is not
 * counted either way.
 *
 * Output: one line per check, "ok", "BROKEN" or "skip: reason", with the
 * numbers after it; then a verdict.  Exit status 0: every promise held
 * (some checks may have skipped); 1: one was broken; 77: rseq is not
 * available here (no sequence could run at all).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <percpu/percpu.h>

#ifdef PCPU_SELFTEST_UNARMED
/*
 * Only for tests/scripts/test_pcpu_selftest.sh, which checks the checker:
 * the test sequence is never armed (its start writes no rseq_cs), so the
 * kernel never aborts it, as a kernel that broke the promises would not:
 * every abort check must then say BROKEN.  The library's own sequences,
 * expanded when its headers were read above, stay armed.
 */
#if defined(__x86_64__)
#undef PCPU__RSEQ_ARM
#define PCPU__RSEQ_ARM	"leaq 3b(%%rip), %%rax\n1:\n\t"
#elif defined(__aarch64__)
#undef PCPU__RSEQ_START_AT
#define PCPU__RSEQ_START_AT(F)						\
	"adrp %[t], .Lpcpu_cs_%=\n"					\
	"1:\n\t"							\
	"ldr %w[t], [%[rs], #" F "]\n\t"				\
	"cmp %w[t], %w[idx]\n\t"					\
	"b.ne 4f\n\t"
#endif
#endif

#define EXIT_BROKEN	1
#define EXIT_NO_RSEQ	77

#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE	27
#endif

/* The kernel's struct rseq, as far as the checks read it. */
struct rseq_area {
	uint32_t cpu_id_start;
	uint32_t cpu_id;
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t node_id;
	uint32_t mm_cid;
};

#define MM_CID_END	28	/* offsetof(struct rseq_area, mm_cid) + 4 */

enum verdict { V_OK, V_SKIP, V_BROKEN };

static int verbose;
static double check_seconds = 1.0;
static int n_ok, n_skip, n_broken;

static void report(const char *name, enum verdict v, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	switch (v) {
	case V_OK:
		n_ok++;
		printf("%-18s ok (%s)\n", name, msg);
		break;
	case V_SKIP:
		n_skip++;
		printf("%-18s skip: %s\n", name, msg);
		break;
	case V_BROKEN:
		n_broken++;
		printf("%-18s BROKEN (%s)\n", name, msg);
		break;
	}
	fflush(stdout);
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set);
}

/* ---- the thread's rseq area, as the library uses it ------------------ */

static volatile struct rseq_area *area(void)
{
	return (volatile struct rseq_area *)
		((char *)__builtin_thread_pointer() +
		 PCPU__R_RSEQ_OFF(pcpu__r()));
}

static long area_off(void)
{
	return PCPU__R_RSEQ_OFF(pcpu__r());
}

static long *scratch;	/* a per-CPU word: an op registers the thread */

/* Make sure this thread is registered (the library's own area registers
 * on a thread's first op); 0 when its cpu_id is valid. */
static int registered(void)
{
	this_cpu_inc(scratch);
	return area()->cpu_id < (1u << 20) ? 0 : -1;
}

/* ---- the counter both sides of a check read -------------------------- */

#ifdef PCPU_ARCH_HAVE_RSEQ
#if defined(__x86_64__)
static inline uint64_t ticks(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
#elif defined(__aarch64__)
static inline uint64_t ticks(void)
{
	uint64_t t;

	__asm__ __volatile__("isb\n\tmrs %0, cntvct_el0" : "=r"(t));
	return t;
}
#endif

static double ticks_per_us;

static void calibrate(void)
{
	double t0 = now_sec(), t1;
	uint64_t k0 = ticks(), k1;

	sleep_us(20000);
	t1 = now_sec();
	k1 = ticks();
	ticks_per_us = (double)(k1 - k0) / ((t1 - t0) * 1e6);
	if (ticks_per_us <= 0)
		ticks_per_us = 1;
}

static uint64_t us_ticks(double us)
{
	return (uint64_t)(us * ticks_per_us) + 1;
}

/*
 * The test sequence: arm, compare cpu_id (or mm_cid) with idx, read the
 * counter into *t0, spin reading it into *t1 until d ticks have passed,
 * commit *t1 to *o.  Returns 0 (committed) or -1 (aborted: *t0 is the
 * first reading if the sequence got that far, else 0).
 */
#if defined(__x86_64__)
#define SPIN_SEQ(ix)							\
static __attribute__((noinline)) int					\
spin_seq_##ix(long rs, uint32_t idx, uint64_t d, uint64_t *o,		\
	      uint64_t *t0p, uint64_t *t1p)				\
{									\
	int st = 0;							\
	uint64_t t0 = 0, t1 = 0;					\
									\
	__asm__ __volatile__(PCPU__RSEQ_DESC				\
		PCPU__RSEQ_START_AT(PCPU__RSEQ_F_##ix)			\
		"lfence\n\t"						\
		"rdtsc\n\t"						\
		"shlq $32, %%rdx\n\t"					\
		"orq %%rdx, %%rax\n\t"					\
		"movq %%rax, %[t0]\n"					\
		"7:\n\t"						\
		"lfence\n\t"						\
		"rdtsc\n\t"						\
		"shlq $32, %%rdx\n\t"					\
		"orq %%rdx, %%rax\n\t"					\
		"movq %%rax, %[t1]\n\t"					\
		"subq %[t0], %%rax\n\t"					\
		"cmpq %[d], %%rax\n\t"					\
		"jb 7b\n\t"						\
		"movq %[t1], (%[o])\n\t"				\
		PCPU__RSEQ_END_ST					\
		: [st] "+r"(st), [t0] "+&r"(t0), [t1] "+&r"(t1)		\
		: [rs] "r"(rs), [idx] "r"(idx), [d] "r"(d), [o] "r"(o)	\
		: "memory", "cc", "rax", "rdx");			\
	*t0p = t0;							\
	*t1p = t1;							\
	return st;							\
}
#elif defined(__aarch64__)
#define SPIN_SEQ(ix)							\
static __attribute__((noinline)) int					\
spin_seq_##ix(long rs, uint32_t idx, uint64_t d, uint64_t *o,		\
	      uint64_t *t0p, uint64_t *t1p)				\
{									\
	int st = 0;							\
	uint64_t t, t0 = 0, t1 = 0;					\
									\
	__asm__ __volatile__(PCPU__RSEQ_DESC				\
		PCPU__RSEQ_START_AT(PCPU__RSEQ_F_##ix)			\
		"isb\n\t"						\
		"mrs %[t0], cntvct_el0\n"				\
		"7:\n\t"						\
		"isb\n\t"						\
		"mrs %[t1], cntvct_el0\n\t"				\
		"sub %[t], %[t1], %[t0]\n\t"				\
		"cmp %[t], %[d]\n\t"					\
		"b.lo 7b\n\t"						\
		"str %[t1], [%[o]]\n\t"					\
		PCPU__RSEQ_END_ST					\
		: [st] "+r"(st), [t] "=&r"(t), [t0] "+&r"(t0),		\
		  [t1] "+&r"(t1)					\
		: [rs] "r"(PCPU__RSEQ_AREA(rs)), [idx] "r"(idx),	\
		  [d] "r"(d), [o] "r"(o)				\
		: "memory", "cc");					\
	*t0p = t0;							\
	*t1p = t1;							\
	return st;							\
}
#endif

SPIN_SEQ(cpu)
SPIN_SEQ(cid)

/* ---- events and attempts --------------------------------------------- */

#define EV_MAX		(1 << 16)
#define ATT_MAX		(1 << 16)

struct event {
	uint64_t t0, t1;	/* the event happened within [t0, t1] */
	int cpu;		/* migration: where the thread went */
};

struct attempt {
	uint64_t t0, t1;	/* first and last reading inside */
	int committed;
	uint32_t idx;		/* the compared index */
	uint32_t cpu_after;	/* cpu_id read after the sequence */
	uint64_t t_after;	/* the counter after that read */
};

static struct event events[EV_MAX];
static unsigned int n_events;		/* atomic */
static struct attempt attempts[ATT_MAX];
static unsigned int n_attempts;
static int stop;			/* atomic */
static uint64_t commit_word;

static void record_event(uint64_t t0, uint64_t t1, int cpu)
{
	unsigned int i = __atomic_fetch_add(&n_events, 1, __ATOMIC_RELAXED);

	if (i < EV_MAX) {
		events[i].t0 = t0;
		events[i].t1 = t1;
		events[i].cpu = cpu;
	}
}

/* The first event that starts after t (events are in time order). */
static unsigned int first_event_after(uint64_t t)
{
	unsigned int lo = 0, hi = n_events < EV_MAX ? n_events : EV_MAX;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (events[mid].t0 <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of an event that lies wholly inside (a + margin, b - margin), or
 * -1. */
static long event_inside(uint64_t a, uint64_t b, uint64_t margin)
{
	unsigned int n = n_events < EV_MAX ? n_events : EV_MAX;
	unsigned int i;

	if (!a || b <= a + 2 * margin)
		return -1;
	i = first_event_after(a + margin);
	if (i < n && events[i].t1 < b - margin)
		return i;
	return -1;
}

/* ---- the spinner and the three kinds of events ----------------------- */

enum kind { K_PREEMPT, K_PREEMPT_CID, K_MIGRATE, K_SIGNAL };

struct run {
	enum kind kind;
	int cpu_a, cpu_b;	/* the spinner's CPU; the other one */
	pid_t spinner_tid;	/* atomic */
	uint64_t spin;		/* ticks per attempt */
	uint64_t period_us;	/* between events */
	int failed;		/* set up went wrong: why in fail_why */
	char fail_why[160];
};

static void run_fail(struct run *r, const char *why)
{
	if (!r->failed) {
		r->failed = 1;
		snprintf(r->fail_why, sizeof(r->fail_why), "%s", why);
	}
}

static void on_signal(int sig)
{
	uint64_t t = ticks();

	(void)sig;
	record_event(t, t, -1);
}

static void *spinner(void *arg)
{
	struct run *r = arg;
	int cid = r->kind == K_PREEMPT_CID;

	if (pin(0, r->cpu_a)) {
		run_fail(r, "cannot pin the spinner");
		goto out;
	}
	if (r->kind == K_PREEMPT || r->kind == K_PREEMPT_CID)
		setpriority(PRIO_PROCESS, (id_t)gettid_(), 19);
	if (registered()) {
		run_fail(r, "the spinner thread has no rseq registration");
		goto out;
	}
	__atomic_store_n(&r->spinner_tid, gettid_(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED) &&
	       n_attempts < ATT_MAX) {
		volatile struct rseq_area *ra = area();
		struct attempt *a = &attempts[n_attempts];
		uint32_t idx = cid ? ra->mm_cid : ra->cpu_id;
		int st;

		a->idx = idx;
		st = cid ? spin_seq_cid(area_off(), idx, r->spin,
					&commit_word, &a->t0, &a->t1) :
			   spin_seq_cpu(area_off(), idx, r->spin,
					&commit_word, &a->t0, &a->t1);
		if (st < 0)
			a->t1 = ticks();
		a->cpu_after = ra->cpu_id;
		a->t_after = ticks();
		a->committed = st == 0;
		n_attempts++;
	}
out:
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

static pid_t wait_spinner(struct run *r)
{
	pid_t tid;

	while (!(tid = __atomic_load_n(&r->spinner_tid, __ATOMIC_ACQUIRE)))
		if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
			return 0;
		else
			sleep_us(100);
	return tid;
}

/* The competitor shares the spinner's CPU: each time it runs there, the
 * spinner is not running. */
static void *competitor(void *arg)
{
	struct run *r = arg;

	if (pin(0, r->cpu_a)) {
		run_fail(r, "cannot pin the competitor");
		return NULL;
	}
	wait_spinner(r);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t t;

		sleep_us((long)r->period_us);
		t = ticks();
		record_event(t, t, r->cpu_a);
	}
	return NULL;
}

/* The mover moves the spinner between cpu_a and cpu_b. */
static void *mover(void *arg)
{
	struct run *r = arg;
	pid_t tid = wait_spinner(r);
	int to = r->cpu_b;

	while (tid && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t t0, t1;

		sleep_us((long)r->period_us);
		t0 = ticks();
		if (pin(tid, to)) {
			/* ESRCH once the spinner has stopped is the end. */
			if (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
				run_fail(r, "sched_setaffinity on the spinner failed");
			break;
		}
		t1 = ticks();
		record_event(t0, t1, to);
		to = to == r->cpu_b ? r->cpu_a : r->cpu_b;
	}
	return NULL;
}

/* The signaller runs on the other CPU and interrupts the spinner. */
static void *signaller(void *arg)
{
	struct run *r = arg;
	pid_t tid = wait_spinner(r), pid = getpid();

	pin(0, r->cpu_b);
	while (tid && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		sleep_us((long)r->period_us);
		/* ESRCH once the spinner has stopped is the end, not a
		 * failure. */
		if (syscall(SYS_tgkill, pid, tid, SIGUSR1)) {
			if (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
				run_fail(r, "tgkill failed");
			break;
		}
	}
	return NULL;
}

struct tally {
	unsigned int attempts, commits, aborts;
	unsigned int inside_aborted;	/* evidence */
	unsigned int inside_committed;	/* broken */
	unsigned int cpu_stale;		/* migrated, cpu_id not updated */
	unsigned int cpu_followed;	/* migrated, cpu_id updated */
	long first_broken;
};

static void classify(enum kind kind, struct tally *t)
{
	/* Margin for the counter's skew between CPUs and for the few
	 * instructions between a reading and the sequence's bounds. */
	uint64_t margin = us_ticks(kind == K_MIGRATE ? 5 : 1);

	memset(t, 0, sizeof(*t));
	t->first_broken = -1;
	for (unsigned int i = 0; i < n_attempts; i++) {
		struct attempt *a = &attempts[i];
		long e = event_inside(a->t0, a->t1, margin);

		t->attempts++;
		a->committed ? t->commits++ : t->aborts++;
		if (e < 0)
			continue;
		if (a->committed) {
			t->inside_committed++;
			if (t->first_broken < 0)
				t->first_broken = i;
			continue;
		}
		t->inside_aborted++;
		if (kind != K_MIGRATE)
			continue;
		/* The move inside was the last one before the abort, and no
		 * other started before cpu_id was read: cpu_id must say
		 * where it went. */
		{
			unsigned int n = n_events < EV_MAX ? n_events : EV_MAX;
			unsigned int j = first_event_after(a->t0 + margin);

			while (j + 1 < n && events[j + 1].t1 < a->t1)
				j++;
			if (j + 1 < n && events[j + 1].t0 <= a->t_after + margin)
				continue;
			if (a->cpu_after == (uint32_t)events[j].cpu)
				t->cpu_followed++;
			else
				t->cpu_stale++;
		}
	}
}

static int cpu_allowed(int cpus[], int max)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int c = 0; c < CPU_SETSIZE && n < max; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	return n;
}

static const char *const kind_name[] = {
	[K_PREEMPT] = "preempt-abort",
	[K_PREEMPT_CID] = "preempt-abort-cid",
	[K_MIGRATE] = "migrate-abort",
	[K_SIGNAL] = "signal-abort",
};

static const char *const event_what[] = {
	[K_PREEMPT] = "preemptions by a thread on the same CPU",
	[K_PREEMPT_CID] = "preemptions by a thread on the same CPU",
	[K_MIGRATE] = "migrations",
	[K_SIGNAL] = "signals",
};

static void check_abort(enum kind kind)
{
	const char *name = kind_name[kind];
	void *(*source)(void *) = kind == K_MIGRATE ? mover :
				  kind == K_SIGNAL ? signaller : competitor;
	struct run r = { .kind = kind };
	pthread_t ts, te;
	struct tally t;
	int cpus[3], n = cpu_allowed(cpus, 3);
	double t_end;

	if (kind == K_PREEMPT_CID &&
	    getauxval(AT_RSEQ_FEATURE_SIZE) < MM_CID_END) {
		report(name, V_SKIP, "the kernel has no mm_cid (AT_RSEQ_FEATURE_SIZE %lu, Linux >= 6.3)",
		       getauxval(AT_RSEQ_FEATURE_SIZE));
		return;
	}
	if (kind == K_MIGRATE && n < 2) {
		report(name, V_SKIP, "only one CPU allowed: nowhere to migrate to");
		return;
	}
	r.cpu_a = cpus[0];
	r.cpu_b = n > 1 ? cpus[1] : cpus[0];
	/* A competitor every 300 us against attempts of 2 ms: most attempts
	 * are interrupted, a few commit between two events. */
	r.period_us = kind == K_MIGRATE ? 700 : 300;
	r.spin = us_ticks(2000);
	n_events = 0;
	n_attempts = 0;
	stop = 0;
	if (pthread_create(&ts, NULL, spinner, &r)) {
		report(name, V_SKIP, "cannot create a thread");
		return;
	}
	if (pthread_create(&te, NULL, source, &r)) {
		__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
		pthread_join(ts, NULL);
		report(name, V_SKIP, "cannot create a thread");
		return;
	}
	t_end = now_sec() + check_seconds;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED) && now_sec() < t_end)
		sleep_us(10000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(te, NULL);
	pthread_join(ts, NULL);
	if (r.failed) {
		report(name, V_SKIP, "%s", r.fail_why);
		return;
	}
	classify(kind, &t);
	if (verbose)
		printf("  %s: %u attempts, %u commits, %u aborts, %u events\n",
		       name, t.attempts, t.commits, t.aborts, n_events);
	if (t.inside_committed) {
		struct attempt *a = &attempts[t.first_broken];

		report(name, V_BROKEN, "%u of %u sequences committed although one of the %s "
		       "happened inside them (the first %.1f us long, on copy %u)",
		       t.inside_committed, t.inside_committed + t.inside_aborted,
		       event_what[kind], (a->t1 - a->t0) / ticks_per_us, a->idx);
		return;
	}
	if (kind == K_MIGRATE && t.cpu_stale) {
		report(name, V_BROKEN, "aborted, but cpu_id did not follow %u of %u migrations",
		       t.cpu_stale, t.cpu_stale + t.cpu_followed);
		return;
	}
	if (!t.inside_aborted) {
		report(name, V_SKIP, "no event could be placed inside a sequence (%u attempts, "
		       "%u events)", t.attempts, n_events);
		return;
	}
	if (kind == K_MIGRATE)
		report(name, V_OK, "%u migrations inside a sequence, all aborted, cpu_id "
		       "followed %u of them (%d <-> %d); %u commits in between",
		       t.inside_aborted, t.cpu_followed, r.cpu_a, r.cpu_b, t.commits);
	else
		report(name, V_OK, "%u %s inside a sequence, all aborted; %u commits in between",
		       t.inside_aborted, event_what[kind], t.commits);
}

/* ---- single-stepping ------------------------------------------------- */

/* Each op takes PCPU_CS_MAX_ABORTS aborted attempts before its fallback
 * completes it, some 20000 single steps: a few seconds under emulation. */
#define STEP_SEQS	3
#define STEP_OPS	1

struct step_result {
	int seq_commits, seq_aborts;
	long ops_sum, cs_sum;
	unsigned long fallbacks;
};

static int step_child(int fd)
{
	intptr_t *w = pcpu_alloc(sizeof(intptr_t), sizeof(intptr_t));
	long *c = PCPU_ALLOC(long);
	struct step_result res = { 0 };
	struct pcpu_rseq_stats st;
	unsigned int k;

	if (!w || !c || registered())
		return 2;
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
		return 3;
	raise(SIGSTOP);
	for (int i = 0; i < STEP_SEQS; i++) {
		uint64_t t0, t1;
		uint32_t idx = area()->cpu_id;

		if (spin_seq_cpu(area_off(), idx, 0, &commit_word, &t0, &t1))
			res.seq_aborts++;
		else
			res.seq_commits++;
	}
	for (int i = 0; i < STEP_OPS; i++) {
		struct pcpu_cs cs;

		for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs))
			if (pcpu_cs_addv(&cs, pcpu_cs_ptr(&cs, w), 1) ==
			    PCPU_CS_OK)
				break;
		this_cpu_inc(c);
	}
	raise(SIGSTOP);
	pcpu_for_each_cpu(k) {
		res.cs_sum += *pcpu_ptr(w, k);
		res.ops_sum += *pcpu_ptr(c, k);
	}
	pcpu_rseq_stats(&st);
	res.fallbacks = st.fallbacks;
	if (write(fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		return 4;
	return 0;
}

static void check_single_step(void)
{
	const char *name = "single-step-abort";
	struct step_result res;
	long steps = 0;
	int status, fd[2];
	pid_t pid;

	if (pipe(fd)) {
		report(name, V_SKIP, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		report(name, V_SKIP, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(fd[0]);
		_exit(step_child(fd[1]));
	}
	close(fd[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) {
		report(name, V_SKIP, "the child did not stop (ptrace refused?) status %#x",
		       status);
		close(fd[0]);
		return;
	}
	for (;;) {
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL))
			break;
		if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
			break;
		steps++;
		if (WSTOPSIG(status) == SIGSTOP)
			break;
		if (steps > 20000000) {
			kill(pid, SIGKILL);
			break;
		}
	}
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) ||
	    read(fd[0], &res, sizeof(res)) != (ssize_t)sizeof(res)) {
		close(fd[0]);
		if (steps > 20000000) {
			report(name, V_BROKEN, "no progress after %ld single steps", steps);
			return;
		}
		report(name, V_SKIP, "the stepped child failed (status %#x, %ld steps)",
		       status, steps);
		return;
	}
	close(fd[0]);
	if (res.seq_commits) {
		report(name, V_BROKEN, "%d of %d single-stepped sequences committed",
		       res.seq_commits, STEP_SEQS);
		return;
	}
	if (res.cs_sum != STEP_OPS || res.ops_sum != STEP_OPS) {
		report(name, V_BROKEN, "the library's ops did not count exactly: "
		       "expected %d, observed cs %ld ops %ld", STEP_OPS,
		       res.cs_sum, res.ops_sum);
		return;
	}
	report(name, V_OK, "%d of %d sequences aborted; expected %d observed cs %ld ops %ld "
	       "through %lu fallbacks; %ld steps", res.seq_aborts, STEP_SEQS,
	       STEP_OPS, res.cs_sum, res.ops_sum, res.fallbacks, steps);
}

/* ---- ranges ---------------------------------------------------------- */

static void check_cpu_id_range(void)
{
	const char *name = "cpu-id-range";
	int cpus[CPU_SETSIZE], n = cpu_allowed(cpus, CPU_SETSIZE);
	unsigned int nr = pcpu_nr_copies() - 1;	/* without the spare */
	int bad = 0, checked = 0;
	char why[160] = "";
	cpu_set_t saved;

	sched_getaffinity(0, sizeof(saved), &saved);
	for (int i = 0; i < n; i++) {
		uint32_t id;
		int now;

		if (pin(0, cpus[i]))
			continue;
		if (registered()) {
			bad++;
			snprintf(why, sizeof(why), "no rseq registration");
			break;
		}
		id = area()->cpu_id;
		now = sched_getcpu();
		checked++;
		if (id >= nr || (now >= 0 && id != (uint32_t)now) ||
		    id != (uint32_t)cpus[i]) {
			bad++;
			snprintf(why, sizeof(why), "pinned to CPU %d: cpu_id %u, getcpu %d, %u possible",
				 cpus[i], id, now, nr);
		}
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	if (bad)
		report(name, V_BROKEN, "%s", why);
	else if (!checked)
		report(name, V_SKIP, "could not pin to any CPU");
	else
		report(name, V_OK, "on each of %d CPUs cpu_id is that CPU, below %u",
		       checked, nr);
}

#define CID_THREADS	4

static pthread_barrier_t cid_barrier;
static uint32_t cid_seen[CID_THREADS + 1];

static void *cid_thread(void *arg)
{
	long i = (long)arg;

	registered();
	pthread_barrier_wait(&cid_barrier);
	/* All alive at once: each holds a concurrency id now. */
	for (int k = 0; k < 100; k++) {
		uint32_t c = area()->mm_cid;

		if (c > cid_seen[i] || cid_seen[i] == UINT32_MAX)
			cid_seen[i] = c;
		sched_yield();
	}
	pthread_barrier_wait(&cid_barrier);
	return NULL;
}

static void check_mm_cid_range(void)
{
	const char *name = "mm-cid-range";
	pthread_t th[CID_THREADS];
	unsigned int nr = pcpu_nr_copies() - 1;
	unsigned int threads = CID_THREADS + 1, bound;
	uint32_t worst = 0;

	if (getauxval(AT_RSEQ_FEATURE_SIZE) < MM_CID_END) {
		report(name, V_SKIP, "the kernel has no mm_cid (AT_RSEQ_FEATURE_SIZE %lu, Linux >= 6.3)",
		       getauxval(AT_RSEQ_FEATURE_SIZE));
		return;
	}
	for (unsigned int i = 0; i <= CID_THREADS; i++)
		cid_seen[i] = UINT32_MAX;
	pthread_barrier_init(&cid_barrier, NULL, CID_THREADS + 1);
	for (long i = 0; i < CID_THREADS; i++)
		if (pthread_create(&th[i], NULL, cid_thread, (void *)i)) {
			report(name, V_SKIP, "cannot create threads");
			exit(1);	/* the barrier would never open */
		}
	cid_thread((void *)(long)CID_THREADS);
	for (int i = 0; i < CID_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&cid_barrier);
	/* Every thread of the process counts, the library's none. */
	bound = threads < nr ? threads : nr;
	for (unsigned int i = 0; i <= CID_THREADS; i++)
		if (cid_seen[i] > worst)
			worst = cid_seen[i];
	if (worst >= bound)
		report(name, V_BROKEN, "mm_cid %u with %u threads on %u possible CPUs",
		       worst, threads, nr);
	else
		report(name, V_OK, "largest mm_cid %u with %u threads on %u possible CPUs",
		       worst, threads, nr);
}

/* ---- cpu_id_start ---------------------------------------------------- */

#define START_OPS	2000

/*
 * In a child: with garbage in cpu_id_start before every operation (what
 * a kernel that no longer rewrites it leaves there, at its worst), this
 * CPU's copy must receive every op and every critical section.  Exit 0
 * held, 1 broken, 2 could not run; the numbers go to fd.
 */
static int start_child(int fd)
{
	int cpus[CPU_SETSIZE], n = cpu_allowed(cpus, CPU_SETSIZE);
	long *c = PCPU_ALLOC(long);
	intptr_t *w = pcpu_alloc(sizeof(intptr_t), sizeof(intptr_t));
	long wrong = 0, garbage_kept = 0, total = 0, cs_wrong = 0;
	char msg[256];
	unsigned int k;

	if (!c || !w || registered())
		return 2;
	for (int i = 0; i < n; i++) {
		int cpu = cpus[i];
		/* Another CPU's number, the most plausible lie. */
		uint32_t bad = (uint32_t)(n > 1 ? cpus[(i + 1) % n] : cpu + 1);

		if (pin(0, cpu) || registered())
			return 2;
		for (int j = 0; j < START_OPS; j++) {
			volatile struct rseq_area *ra = area();
			struct pcpu_cs cs;
			uint32_t g = j & 1 ? bad : 0xdead0000u + (uint32_t)j;

			ra->cpu_id_start = g;
			this_cpu_inc(c);
			garbage_kept += ra->cpu_id_start == g;
			ra->cpu_id_start = g;
			for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
				intptr_t *p = pcpu_cs_ptr(&cs, w);
				intptr_t v = __atomic_load_n(p, __ATOMIC_RELAXED);

				cs_wrong += cs.cpu != (uint32_t)cpu;
				/* Compare and store: the increment commits only
				 * if the word is still what it read. */
				if (pcpu_cs_cmpeqv_storev(&cs, p, v, v + 1) ==
				    PCPU_CS_OK)
					break;
			}
			total++;
		}
		if (*pcpu_ptr(c, (unsigned int)cpu) != START_OPS ||
		    *pcpu_ptr(w, (unsigned int)cpu) != START_OPS)
			wrong++;
		*pcpu_ptr(c, (unsigned int)cpu) = 0;
		*pcpu_ptr(w, (unsigned int)cpu) = 0;
		pcpu_for_each_cpu(k)
			if (*pcpu_ptr(c, k) || *pcpu_ptr(w, k))
				wrong++;
	}
	snprintf(msg, sizeof(msg), "%d CPUs x %d ops and %d critical sections, "
		 "garbage still in cpu_id_start after %ld of %ld ops; "
		 "%ld CPUs miscounted, %ld sections on another copy",
		 n, START_OPS, START_OPS, garbage_kept, total, wrong, cs_wrong);
	if (write(fd, msg, strlen(msg) + 1) < 0)
		return 2;
	return wrong || cs_wrong ? 1 : 0;
}

static void check_cpu_id_start(void)
{
	const char *name = "cpu-id-start";
	char msg[256] = "";
	int status, fd[2];
	pid_t pid;

	if (pipe(fd)) {
		report(name, V_SKIP, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fd[0]);
		_exit(start_child(fd[1]));
	}
	close(fd[1]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		close(fd[0]);
		report(name, V_SKIP, "fork failed");
		return;
	}
	if (read(fd[0], msg, sizeof(msg) - 1) < 0)
		msg[0] = 0;
	close(fd[0]);
	if (WIFSIGNALED(status)) {
		/* CONFIG_DEBUG_RSEQ kernels kill a thread that writes a
		 * field the kernel owns: nothing can be learned then. */
		report(name, V_SKIP, "the kernel killed a thread that wrote cpu_id_start "
		       "(signal %d: CONFIG_DEBUG_RSEQ?)", WTERMSIG(status));
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 2) {
		report(name, V_SKIP, "the child could not run (status %#x)", status);
		return;
	}
	report(name, WEXITSTATUS(status) ? V_BROKEN : V_OK, "%s", msg);
}

/* ---- main ------------------------------------------------------------ */

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-v] [-t SECONDS]\n"
		"  -t  time each abort check runs (default 1)\n"
		"  -v  attempts and events of each check\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct pcpu_params p = { .backend = "rseq", .index = PCPU_INDEX_CPU };
	struct pcpu_rseq_stats st;
	struct sigaction sa;
	struct utsname u;
	int opt;

	while ((opt = getopt(argc, argv, "vt:")) != -1) {
		switch (opt) {
		case 'v':
			verbose = 1;
			break;
		case 't':
			check_seconds = atof(optarg);
			if (check_seconds <= 0)
				usage(argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&u);
	if (pcpu_init(&p)) {
		printf("pcpu-selftest: rseq is not available here: %s\n",
		       pcpu_init_error());
		printf("verdict: nothing to check (exit 77)\n");
		return EXIT_NO_RSEQ;
	}
	scratch = PCPU_ALLOC(long);
	if (!scratch || registered()) {
		printf("pcpu-selftest: this thread has no rseq registration\n");
		printf("verdict: nothing to check (exit 77)\n");
		return EXIT_NO_RSEQ;
	}
	pcpu_rseq_stats(&st);
	calibrate();
	printf("pcpu-selftest: Linux %s %s, %u possible CPUs, %s rseq area, "
	       "feature size %lu, counter %.1f MHz\n", u.release, u.machine,
	       pcpu_nr_possible(), st.own_area ? "the library's own" : "glibc's",
	       getauxval(AT_RSEQ_FEATURE_SIZE), ticks_per_us);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	check_abort(K_PREEMPT);
	check_abort(K_PREEMPT_CID);
	check_abort(K_MIGRATE);
	check_abort(K_SIGNAL);
	check_single_step();
	check_cpu_id_range();
	check_mm_cid_range();
	check_cpu_id_start();

	if (n_broken) {
		printf("verdict: BROKEN: %d of %d promises broken by this kernel: "
		       "do not trust per-CPU data to it\n", n_broken,
		       n_ok + n_broken + n_skip);
		return EXIT_BROKEN;
	}
	printf("verdict: ok: %d held, %d skipped\n", n_ok, n_skip);
	return 0;
}
#else /* !PCPU_ARCH_HAVE_RSEQ */
int main(void)
{
	printf("pcpu-selftest: no rseq sequences for this architecture\n");
	printf("verdict: nothing to check (exit 77)\n");
	return EXIT_NO_RSEQ;
}
#endif
