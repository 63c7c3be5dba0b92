// SPDX-License-Identifier: MIT
/*
 * A consumer that sleeps (pcpu_ring_wait()), in this process and in
 * another one, woken by the writers only when it actually waits:
 *
 *  - nobody waits, no wake-up: 100000 writes and commits leave the futex
 *    word (bumped by every wake) as it was;
 *  - timeouts: on an empty ring, a timeout of 0 returns 0 at once, one of
 *    20 ms returns 0 after about that (printed; no timed assertion beyond
 *    "not before");
 *  - same process: a thread sleeps without a limit; once it sleeps, one
 *    record is written; the sleeper returns 1 and reads that record; the
 *    writer made exactly one wake-up;
 *  - another process: a child maps the memfd (pcpu_ring_reader_open_fd)
 *    and sleeps; the parent writes 100 records after 50 ms; the child
 *    wakes, reads all 100 and exits 0;
 *  - min_bytes: a sleeper that asks for a page is not woken by 10 small
 *    records (it returns at its timeout, with 1: they are there), and is
 *    woken once a page's worth is written;
 *  - a commit wakes: a sleeper waiting behind a reservation is woken by
 *    its commit;
 *  - a signal: a handler running during the wait makes it return -1 with
 *    EINTR.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static struct pcpu_ring *ring;
static struct pcpu_ring_reader rd;
static int fenced;		/* the writers' barrier is there (ring.h) */

static uint32_t wakes(void)
{
	return __atomic_load_n(&ring->wake->seq, __ATOMIC_ACQUIRE);
}

static long drain(void)
{
	struct pcpu_ring_entry e;
	uint64_t v[512];
	long n = 0;

	while (pcpu_ring_read_next(&rd, &e, v, sizeof(v)) == 1)
		n++;
	return n;
}

static void no_waiter(void)
{
	uint32_t w0 = wakes();
	uint64_t v = 1;

	for (int i = 0; i < 100000; i++) {
		void *p;

		pcpu_ring_write(ring, &v, sizeof(v));
		p = pcpu_ring_reserve(ring, sizeof(v));
		if (p)
			pcpu_ring_commit(ring, p);
		if (i % 1000 == 0)
			drain();
	}
	drain();
	printf("nobody waiting: 200000 records, wake-ups expected 0, made "
	       "%u\n", wakes() - w0);
	CHECK(wakes() == w0, "a writer woke nobody");
}

static void timeouts(void)
{
	double t0 = t_now(), t1;
	int r0, r1;

	r0 = pcpu_ring_wait(&rd, 0, 0);
	t1 = t_now();
	r1 = pcpu_ring_wait(&rd, 0, 20000000);
	printf("empty ring: timeout 0 returned %d after %.3f ms, timeout 20 ms "
	       "returned %d after %.1f ms\n", r0, (t1 - t0) * 1e3, r1,
	       (t_now() - t1) * 1e3);
	CHECK(r0 == 0 && r1 == 0, "timeouts: %d %d", r0, r1);
	CHECK(t_now() - t1 >= 0.020, "returned before the timeout");
	CHECK(__atomic_load_n(&ring->wake->waiters, __ATOMIC_RELAXED) == 0,
	      "waiters left set after the wait");
}

static struct {
	pid_t tid;		/* the sleeper's thread */
	int ret, err;
	long got;
	double slept;
	size_t min_bytes;
	int64_t timeout;
	int done;		/* the sleeper returned (interrupted()) */
} sl;

static void *sleeper(void *arg)
{
	double t0 = t_now();

	(void)arg;
	if (t_ncpus() > 1)
		t_pin(1);
	__atomic_store_n(&sl.tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	sl.ret = pcpu_ring_wait(&rd, sl.min_bytes, sl.timeout);
	sl.err = errno;
	sl.slept = t_now() - t0;
	sl.got = sl.ret == 1 ? drain() : 0;
	__atomic_store_n(&sl.done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The scheduler state of thread tid ('S': asleep), or 0. */
static char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');	/* the name may hold spaces and parens */
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Start the sleeper and return once it sleeps in pcpu_ring_wait(): it has
 * set `waiters` and its thread is asleep.  A fixed delay was not enough
 * on a loaded machine: the record then came before the wait, which
 * returned at once without a wake-up to count.  Bounded (10 s; said if
 * it runs out, and the checks after it then fail or hold on their own).
 */
static void start_sleeper(pthread_t *th)
{
	__atomic_store_n(&sl.tid, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sl.done, 0, __ATOMIC_RELAXED);
	pthread_create(th, NULL, sleeper, NULL);
	for (int i = 0; i < 10000; i++) {
		pid_t tid = __atomic_load_n(&sl.tid, __ATOMIC_ACQUIRE);

		if (tid && __atomic_load_n(&ring->wake->waiters,
					   __ATOMIC_ACQUIRE) &&
		    task_state(tid) == 'S')
			return;
		usleep(1000);
	}
	printf("the sleeper was not seen asleep within 10 s\n");
}

static void same_process(void)
{
	pthread_t th;
	uint32_t w0 = wakes();
	uint64_t v = 7;

	sl.min_bytes = 0;
	sl.timeout = -1;
	start_sleeper(&th);
	CHECK(pcpu_ring_write(ring, &v, sizeof(v)) == 0, "write");
	pthread_join(th, NULL);
	printf("same process: slept %.1f ms, returned %d, read %ld record "
	       "(expected 1); the writer woke it %u time(s) (expected 1)\n",
	       sl.slept * 1e3, sl.ret, sl.got, wakes() - w0);
	CHECK(sl.ret == 1 && sl.got == 1, "sleeper: %d, %ld records", sl.ret,
	      sl.got);
	/* Polling (no barrier), the sleeper may see the record before the
	 * writer sees it waiting: then no wake-up.  Never more than one. */
	CHECK(fenced ? wakes() - w0 == 1 : wakes() - w0 <= 1, "%u wake-ups",
	      wakes() - w0);
}

static void other_process(void)
{
	int status = -1, fd = pcpu_ring_fd(ring);
	pid_t pid;

	if (fd < 0) {
		printf("other process: no memfd here, skipped\n");
		return;
	}
	pcpu_ring_reader_close(&rd);	/* one reader: the child's */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct pcpu_ring_reader crd;
		struct pcpu_ring_entry e;
		uint64_t v;
		long n = 0;

		if (pcpu_ring_reader_open_fd(&crd, fd))
			_exit(2);
		while (n < 100) {
			if (pcpu_ring_wait(&crd, 0, 5000000000ll) != 1)
				_exit(3);
			while (pcpu_ring_read_next(&crd, &e, &v,
						   sizeof(v)) == 1)
				if (v != (uint64_t)n++)
					_exit(4);
		}
		pcpu_ring_reader_close(&crd);
		_exit(0);
	}
	usleep(50000);
	for (uint64_t v = 0; v < 100; v++)
		pcpu_ring_write(ring, &v, sizeof(v));
	waitpid(pid, &status, 0);
	printf("other process: a child slept on the memfd, woke and read 100 "
	       "records: exit status expected 0, %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child consumer: status %d", status);
	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(ring),
				    pcpu_ring_mem_size(ring)) == 0, "reopen");
}

static void min_bytes(void)
{
	pthread_t th;
	uint32_t w0;
	uint64_t v = 1;
	long later;

	w0 = wakes();
	sl.min_bytes = ring->page_size;
	sl.timeout = 300000000;
	start_sleeper(&th);
	for (int i = 0; i < 10; i++)
		pcpu_ring_write(ring, &v, sizeof(v));
	pthread_join(th, NULL);
	later = drain();	/* polling: what came after its return */
	printf("min_bytes %zu: 10 records of 24 bytes: woken %u times "
	       "(expected 0), returned %d after %.0f ms (timeout 300), read "
	       "%ld (+%ld after)\n", sl.min_bytes, wakes() - w0, sl.ret,
	       sl.slept * 1e3, sl.got, later);
	/* The writers never wake for less than min_bytes, barrier or not
	 * (they compare before they wake).  Without the barrier a sleeper
	 * polls (ring.h) and a poll returns at the first record, so it may
	 * return before the timeout, having read part of the 10. */
	CHECK(sl.ret == 1 && wakes() == w0 &&
	      (fenced ? sl.got == 10 && !later && sl.slept >= 0.3 :
			sl.got + later == 10),
	      "min_bytes: a small write woke the sleeper");

	w0 = wakes();
	sl.timeout = 5000000000ll;
	start_sleeper(&th);
	for (uint64_t i = 0; i < 2 * ring->page_size / 24; i++)
		pcpu_ring_write(ring, &v, sizeof(v));
	pthread_join(th, NULL);
	printf("min_bytes %zu: two pages of records: woken %u time(s) "
	       "(expected 1) after %.0f ms, returned %d\n", sl.min_bytes,
	       wakes() - w0, sl.slept * 1e3, sl.ret);
	CHECK((fenced ? wakes() - w0 == 1 : wakes() - w0 <= 1) &&
	      sl.ret == 1 && sl.slept < 4.0,
	      "min_bytes: a page did not wake the sleeper");
	drain();	/* what came after the sleeper's read */
}

static void commit_wakes(void)
{
	pthread_t th;
	uint32_t w0;
	uint64_t *p;

	p = pcpu_ring_reserve(ring, sizeof(*p));
	CHECK(p != NULL, "reserve");
	if (!p)
		return;
	w0 = wakes();
	sl.min_bytes = 4096;
	sl.timeout = 5000000000ll;
	drain();
	start_sleeper(&th);
	*p = 5;
	pcpu_ring_commit(ring, p);
	pthread_join(th, NULL);
	printf("a commit: woke the sleeper %u time(s) (expected 1) after %.0f "
	       "ms, returned %d, read %ld\n", wakes() - w0, sl.slept * 1e3,
	       sl.ret, sl.got);
	CHECK((fenced ? wakes() - w0 == 1 : wakes() - w0 <= 1) &&
	      sl.ret == 1 && sl.got == 1,
	      "the commit did not wake the sleeper");
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void interrupted(void)
{
	struct sigaction sa;
	pthread_t th;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	drain();
	sl.min_bytes = 0;
	sl.timeout = 5000000000ll;
	sl.done = 0;
	pthread_create(&th, NULL, sleeper, NULL);
	/*
	 * A signal that lands before the sleeper is inside the futex wait
	 * (a slow start: a loaded machine, a sanitizer) runs its handler and
	 * the wait goes on, as it should.  So signal every 50 ms until the
	 * wait returns: the first one that finds it asleep must end it with
	 * EINTR, well before its 5 s timeout.
	 */
	int signals = 0;

	for (int i = 0; i < 80 && !__atomic_load_n(&sl.done, __ATOMIC_ACQUIRE);
	     i++) {
		usleep(50000);
		if (!__atomic_load_n(&sl.done, __ATOMIC_ACQUIRE)) {
			pthread_kill(th, SIGUSR1);
			signals++;
		}
	}
	pthread_join(th, NULL);
	printf("a signal during the wait: returned %d (%s) after %.0f ms, "
	       "%d signal(s) sent (expected -1, EINTR)\n", sl.ret,
	       strerror(sl.err), sl.slept * 1e3, signals);
	CHECK(sl.ret == -1 && sl.err == EINTR, "signal: %d %d", sl.ret,
	      sl.err);
}

int main(void)
{
	struct pcpu_ring_params p = { 1 << 16, 4096, 0 };

	t_init(NULL);
	t_pin(0);
	ring = pcpu_ring_create(&p);
	CHECK(ring != NULL, "create: %s", strerror(errno));
	if (!ring)
		return t_done();
	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(ring),
				    pcpu_ring_mem_size(ring)) == 0, "open");
	fenced = (int)ring->wake->fenced;
	printf("writers' membarrier registration: %s\n", fenced ? "yes" :
	       "refused (consumers poll asleep: at most one wake-up each)");
	no_waiter();
	timeouts();
	same_process();
	other_process();
	min_bytes();
	commit_wakes();
	interrupted();
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(ring);
	return t_done();
}
