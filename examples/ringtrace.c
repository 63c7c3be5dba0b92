// SPDX-License-Identifier: MIT
/*
 * ringtrace: the tracing use of the per-CPU ring.  Worker threads log
 * "request done" events (thread, request number, latency) into a per-CPU
 * ring; a consumer in a separate process (forked here, but it only uses
 * the memfd it inherited, as any process it was passed to could) maps the
 * ring and drains it in timestamp order, then prints how many events it
 * got per thread, what was lost, and the slowest request.  The consumer
 * trusts nothing the writers put in shared memory: it opens the ring
 * with pcpu_ring_reader_open_fd() (which checks that the memfd's size is
 * sealed before mapping it), takes records of any size a writer may
 * produce, and counts the ones that are not events.  It reads in batches
 * (pcpu_ring_read_batch) and sleeps while there is nothing to read
 * (pcpu_ring_wait: a futex in the shared mapping, so the writers, in the
 * other process, wake it; they make no system call while it is awake).
 * Half the workers copy their events in with pcpu_ring_write(), half
 * build them in place with pcpu_ring_reserve() and pcpu_ring_commit().
 *
 * The ring is registered as "trace" (pcpu_stat_ring), so `pcpu-stat
 * ringtrace` shows its positions while it runs.  With --serve there is
 * no consumer of its own: the workers write their events and ringtrace
 * waits for SIGTERM or SIGINT, and `pcpu-stat -T trace ringtrace` is the
 * consumer (one consumer per ring: tailing it without --serve makes two).
 *
 *   ringtrace [--serve] [threads] [events-per-thread]
 */
#include <percpu/percpu.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct event {
	uint32_t thread;
	uint32_t latency_ns;
	uint64_t request;
};

static struct pcpu_ring *ring;
static long per_thread = 100000;
static long written, dropped;

static void *worker(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	uint64_t x = id * 2654435761u + 1;
	long ok = 0, lost = 0;

	for (long i = 0; i < per_thread; i++) {
		struct event ev, *e;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		ev.thread = id;
		ev.latency_ns = (uint32_t)(x >> 44);
		ev.request = (uint64_t)i;
		if (id % 2 == 0) {
			/* Copied in: one critical section. */
			if (pcpu_ring_write(ring, &ev, sizeof(ev))) {
				lost++;	/* consumer behind: counted */
				continue;
			}
		} else {
			/* Built in place: reserve, fill, commit. */
			e = pcpu_ring_reserve(ring, sizeof(*e));
			if (!e) {
				lost++;
				continue;
			}
			*e = ev;
			pcpu_ring_commit(ring, e);
		}
		ok++;
		if (i % 256 == 0)
			usleep(200);	/* "work" */
	}
	__atomic_fetch_add(&written, ok, __ATOMIC_RELAXED);
	__atomic_fetch_add(&dropped, lost, __ATOMIC_RELAXED);
	return NULL;
}

struct tally {
	long *per, total;
	int nthreads;
	struct event worst;
	uint64_t last, inversions, bogus;
};

/* One record of a batch (a copy: the writers cannot change it under us). */
static int count(void *arg, const struct pcpu_ring_entry *e, const void *data)
{
	struct tally *t = arg;
	struct event ev;

	if (e->len != sizeof(ev)) {
		t->bogus++;		/* not one of our events */
		return 0;
	}
	memcpy(&ev, data, sizeof(ev));
	if (ev.thread >= (uint32_t)t->nthreads) {
		t->bogus++;
		return 0;
	}
	t->per[ev.thread]++;
	if (ev.latency_ns > t->worst.latency_ns)
		t->worst = ev;
	t->inversions += e->stamp < t->last;
	t->last = e->stamp;
	t->total++;
	return 0;
}

/* The consumer process: only the fd crosses over. */
static int consume(int fd, int nthreads, int *done_pipe)
{
	struct tally t = { calloc((size_t)nthreads, sizeof(long)), 0,
			   nthreads, { 0, 0, 0 }, 0, 0, 0 };
	struct pcpu_ring_reader rd;
	uint64_t lost = 0, damaged = 0;
	char c;
	int ret, finished = 0;

	/* No memfd here (seccomp): the mapping inherited over fork(). */
	ret = fd < 0 ? pcpu_ring_reader_open(&rd, pcpu_ring_mem(ring),
					     pcpu_ring_mem_size(ring)) :
		       pcpu_ring_reader_open_fd(&rd, fd);
	if (ret || !t.per) {
		perror("consumer");
		return 1;
	}
	for (;;) {
		while ((ret = pcpu_ring_read_batch(&rd, count, &t, 4096)) > 0)
			;
		if (ret < 0)
			fprintf(stderr, "read: %s\n", strerror(errno));
		if (finished)
			break;
		/* The parent closes its end when the writers are done;
		 * meanwhile sleep until records come (a page of them, or
		 * 10 ms: fewer wake-ups for the writers). */
		if (poll(&(struct pollfd){ done_pipe[0], POLLIN, 0 }, 1, 0) > 0 &&
		    read(done_pipe[0], &c, 1) == 0)
			finished = 1;
		else
			pcpu_ring_wait(&rd, 4096, 10000000);
	}
	for (unsigned int b = 0; b < pcpu_ring_reader_nbufs(&rd); b++) {
		struct pcpu_ring_stats st;

		pcpu_ring_reader_stats(&rd, b, &st);
		lost += st.lost;
		damaged += st.corrupt + st.abandoned;
	}
	for (int i = 0; i < nthreads; i++)
		printf("thread %d: %ld events\n", i, t.per[i]);
	printf("consumer: %ld events, %llu lost (%llu damaged regions "
	       "skipped), %llu not events, %llu out of timestamp order; "
	       "slowest: thread %u request %llu, %u ns\n", t.total,
	       (unsigned long long)lost, (unsigned long long)damaged,
	       (unsigned long long)t.bogus, (unsigned long long)t.inversions,
	       t.worst.thread, (unsigned long long)t.worst.request,
	       t.worst.latency_ns);
	pcpu_ring_reader_close(&rd);
	return 0;
}

/* --serve: write the events, then keep the ring for pcpu-stat until
 * told to stop. */
static int serve(int n)
{
	pthread_t th[64];
	sigset_t set;
	int sig;

	/* Blocked before the threads start, so that they inherit it and
	 * sigwait() below is the only taker. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("ringtrace: serving: %ld events written, %ld dropped (ring "
	       "full); pcpu-stat -T trace %d reads them\n", written, dropped,
	       (int)getpid());
	fflush(stdout);
	sigwait(&set, &sig);
	printf("ringtrace: stopped\n");
	pcpu_stat_remove("trace");
	pcpu_ring_destroy(ring);
	return 0;
}

int main(int argc, char **argv)
{
	struct pcpu_ring_params p = { 1 << 20, 4096, 0 };
	int serving = argc > 1 && !strcmp(argv[1], "--serve");
	int n, pipefd[2], status;
	pthread_t th[64];
	pid_t pid;

	argc -= serving;
	argv += serving;
	n = argc > 1 ? atoi(argv[1]) : 4;
	if (argc > 2)
		per_thread = atol(argv[2]);
	if (n < 1 || n > 64 || per_thread < 1) {
		fprintf(stderr, "usage: ringtrace [--serve] [threads 1-64] "
			"[events]\n");
		return 2;
	}
	ring = pcpu_ring_create(&p);
	if (!ring || pipe(pipefd)) {
		perror("pcpu_ring_create");
		return 1;
	}
	/* Visible in pcpu-stat; not fatal, the tracer works without. */
	if (pcpu_stat_ring("trace", ring))
		fprintf(stderr, "pcpu_stat_ring: %s\n", pcpu_last_error());
	if (serving)
		return serve(n);
	pid = fork();
	if (pid == 0) {
		close(pipefd[1]);
		exit(consume(pcpu_ring_fd(ring), n, pipefd));
	}
	close(pipefd[0]);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	close(pipefd[1]);
	waitpid(pid, &status, 0);
	printf("writers: %ld events written, %ld dropped (ring full)\n",
	       written, dropped);
	pcpu_stat_remove("trace");
	pcpu_ring_destroy(ring);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
