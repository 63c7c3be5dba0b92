// SPDX-License-Identifier: MIT
/*
 * Starting the library must not depend on every thread taking a signal,
 * and must never leave the process without a working backend.  Each case
 * runs in a child process (exit 0 pass, 1 fail, 77 skip):
 *  - exited main: the main thread has called pthread_exit() (it stays in
 *    /proc/self/task as a zombie) and another thread initializes: with the
 *    default stride (set when the library was loaded: no signal at all) and
 *    with another stride (the broadcast must skip the zombie);
 *  - io_uring: an SQPOLL ring (a kernel thread of this process that blocks
 *    every signal) exists when the library initializes, again with the
 *    default stride and with another one;
 *  - no EINTR: a thread blocked in poll() on an idle pipe is not woken by
 *    the start of the library (default stride);
 *  - fallback: with the broadcast needed and a thread blocking its
 *    signal, automatic selection gives way to the next backend (and says
 *    why in pcpu_init_error()), while a forced PCPU_BACKEND=gs fails with
 *    ETIMEDOUT.
 * Every case then counts increments exactly.  Meaningful with the gs
 * backend (the VM); with rseq and atomic the same cases must simply work.
 */
#include "harness.h"

#include <linux/io_uring.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const struct pcpu_params other_stride = { .stride = 2u << 20 };

/* this_cpu_inc n times from two threads; 0 if the total is exact. */
static long *ctr;
static long per;

static void *incs(void *arg)
{
	for (long i = 0; i < per; i++)
		this_cpu_inc(ctr);
	return arg;
}

static int count_exactly(const char *what)
{
	pthread_t a, b;
	long sum = 0;
	unsigned int k;

	per = t_scale(200000);
	ctr = PCPU_ALLOC(long);
	if (!ctr) {
		printf("%s: pcpu_alloc: %s (%s)\n", what, strerror(errno),
		       pcpu_init_error());
		return 1;
	}
	pthread_create(&a, NULL, incs, NULL);
	pthread_create(&b, NULL, incs, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pcpu_for_each_cpu(k)
		sum += *pcpu_ptr(ctr, k);
	printf("%s: backend %s, expected %ld observed %ld\n", what,
	       pcpu_backend_name(), 2 * per, sum);
	return sum == 2 * per ? 0 : 1;
}

/* Init as asked; a forced backend missing here is a skip. */
static int init_or_skip(const struct pcpu_params *p, const char *what)
{
	if (pcpu_init(p) == 0)
		return 0;
	if (errno == ENODEV) {
		printf("skip: %s\n", pcpu_init_error());
		return T_SKIP;
	}
	printf("%s: pcpu_init: %s (%s)\n", what, strerror(errno),
	       pcpu_init_error());
	return 1;
}

/* The backend a forced PCPU_BACKEND asked for must be the one running. */
static int expect_forced(const char *what)
{
	const char *bk = getenv("PCPU_BACKEND");

	if (bk && strcmp(bk, pcpu_backend_name())) {
		printf("%s: asked for %s, runs %s\n", what, bk,
		       pcpu_backend_name());
		return 1;
	}
	return 0;
}

/* ---- exited main ----------------------------------------------------- */

static const struct pcpu_params *exited_params;

static void *after_main(void *arg)
{
	int r;

	usleep(50000);	/* let main finish pthread_exit() */
	r = init_or_skip(exited_params, "exited main");
	if (!r)
		r = expect_forced("exited main") || count_exactly("exited main");
	fflush(stdout);
	exit(r);
	return arg;
}

static int case_exited_main(const struct pcpu_params *p)
{
	pthread_t t;

	exited_params = p;
	pthread_create(&t, NULL, after_main, NULL);
	pthread_exit(NULL);
}

/* ---- io_uring -------------------------------------------------------- */

static int case_io_uring(const struct pcpu_params *p)
{
	struct io_uring_params up;
	int fd, r;

	memset(&up, 0, sizeof(up));
	up.flags = IORING_SETUP_SQPOLL;
	up.sq_thread_idle = 10000;
	fd = (int)syscall(__NR_io_uring_setup, 4, &up);
	if (fd < 0) {
		printf("skip: io_uring_setup(SQPOLL): %s\n", strerror(errno));
		return T_SKIP;
	}
	usleep(20000);	/* the sqpoll thread is up */
	r = init_or_skip(p, "io_uring");
	if (!r)
		r = expect_forced("io_uring") || count_exactly("io_uring");
	close(fd);
	return r;
}

/* ---- no EINTR -------------------------------------------------------- */

static int pipefd[2];
static int poll_ret, poll_err;
static pthread_barrier_t polling;

static void *poller(void *arg)
{
	struct pollfd pf = { .fd = pipefd[0], .events = POLLIN };

	pthread_barrier_wait(&polling);
	poll_ret = poll(&pf, 1, 1500);
	poll_err = errno;
	return arg;
}

static int case_no_eintr(void)
{
	pthread_t t;
	int r;

	if (pipe(pipefd))
		return 1;
	pthread_barrier_init(&polling, NULL, 2);
	pthread_create(&t, NULL, poller, NULL);
	pthread_barrier_wait(&polling);
	usleep(100000);	/* it sits in poll() */
	r = init_or_skip(NULL, "no EINTR");
	pthread_join(t, NULL);
	if (r)
		return r;
	if (poll_ret < 0) {
		printf("no EINTR: poll() in another thread returned -1 (%s) "
		       "when the library started\n", strerror(poll_err));
		return 1;
	}
	printf("no EINTR: poll() timed out undisturbed (returned %d)\n",
	       poll_ret);
	return count_exactly("no EINTR");
}

/* ---- fallback -------------------------------------------------------- */

static pthread_barrier_t blocked;

static void *blocker(void *arg)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_barrier_wait(&blocked);
	for (;;)
		pause();
	return arg;
}

static int case_fallback(void)
{
	const char *forced = getenv("PCPU_BACKEND");
	pthread_t t;

	pthread_barrier_init(&blocked, NULL, 2);
	pthread_create(&t, NULL, blocker, NULL);
	pthread_barrier_wait(&blocked);
	if (forced && !strcmp(forced, "gs")) {
		if (pcpu_init(&other_stride) == 0) {
			printf("fallback: forced gs started although a "
			       "thread blocks every signal\n");
			return 1;
		}
		if (errno == ENODEV) {
			printf("skip: %s\n", pcpu_init_error());
			return T_SKIP;
		}
		printf("fallback: forced gs: %s: %s\n", strerror(errno),
		       pcpu_init_error());
		if (errno != ETIMEDOUT || !strstr(pcpu_init_error(), "gs"))
			return 1;
		/* Nothing else may have started. */
		if (strcmp(pcpu_backend_name(), "none")) {
			printf("fallback: backend %s runs\n",
			       pcpu_backend_name());
			return 1;
		}
		return 0;
	}
	/* Automatic selection, as most programs run. */
	unsetenv("PCPU_BACKEND");
	if (pcpu_init(&other_stride)) {
		printf("fallback: automatic selection failed: %s (%s)\n",
		       strerror(errno), pcpu_init_error());
		return 1;
	}
	printf("fallback: runs %s; passed over: %s\n", pcpu_backend_name(),
	       *pcpu_init_error() ? pcpu_init_error() : "(nothing)");
	if (!strcmp(pcpu_backend_name(), "gs")) {
		printf("fallback: gs claims to run with an uncovered thread\n");
		return 1;
	}
	return count_exactly("fallback");
}

struct tcase {
	const char *name;
	int (*fn)(const struct pcpu_params *);
	const struct pcpu_params *p;
};

static int no_eintr(const struct pcpu_params *p)
{
	(void)p;
	return case_no_eintr();
}

static int fallback(const struct pcpu_params *p)
{
	(void)p;
	return case_fallback();
}

int main(void)
{
	static const struct tcase cases[] = {
		{ "exited main, default stride", case_exited_main, NULL },
		{ "exited main, other stride", case_exited_main, &other_stride },
		{ "io_uring, default stride", case_io_uring, NULL },
		{ "io_uring, other stride", case_io_uring, &other_stride },
		{ "no EINTR", no_eintr, NULL },
		{ "fallback", fallback, NULL },
	};
	int skips = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid;
		int st = 0;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			alarm(60);	/* a hang is a failure, reported */
			int r = cases[i].fn(cases[i].p);

			fflush(stdout);
			_exit(r);
		}
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == T_SKIP) {
			printf("case %s: skipped\n", cases[i].name);
			skips++;
			continue;
		}
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "case %s: status %#x", cases[i].name, st);
	}
	if (skips == (int)(sizeof(cases) / sizeof(cases[0]))) {
		printf("skip: every case skipped\n");
		return T_SKIP;
	}
	printf("ok: %d passed, %d skipped\n", 6 - skips - t_failures, skips);
	return t_failures ? 1 : 0;
}
