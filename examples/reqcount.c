// SPDX-License-Identifier: MIT
/*
 * reqcount: the request counters of a server, with a configuration that
 * can be reloaded while requests are served.
 *
 * Worker threads "serve" requests: each picks a route by the weights of
 * the current configuration and counts the request on per-CPU counters
 * (no shared cache line on the request path).  The configuration (routes,
 * weights, which routes are closed) is protected by a big-reader lock: a
 * request takes the read side, one per-CPU increment; a reload takes the
 * write side and rewrites the configuration in place.  Every request
 * checks that it saw one whole configuration (the generation at its start
 * and end agree): with the lock that always holds, and the program says
 * how many torn reads it saw (0).
 *
 * The counters are registered with pcpu_stat_ulong() / pcpu_stat_counter(),
 * so `pcpu-stat reqcount` shows them live.
 *
 *   reqcount [threads] [requests-per-thread]   run, reload, check, exit
 *   reqcount --serve [threads]                 serve until SIGTERM or
 *                                              SIGINT; SIGHUP reloads
 */
#include <percpu/percpu.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES	8
#define MAX_THREADS	64

/* Every route the server knows; a configuration gives each a weight. */
static const char *const route_name[MAX_ROUTES] = {
	"/", "/api", "/static", "/admin", "/health",
};
#define NR_ROUTES	5

/* The two configurations a reload alternates between, as a file would
 * hold them: "route weight [closed]". */
static const char *const config_text[2] = {
	"/ 5\n/api 3\n/static 2\n/health 1\n",
	"/ 4\n/api 4\n/static 1\n/admin 1 closed\n/health 1\n",
};

struct config {
	unsigned long gen;		/* reload count, written first */
	unsigned int weight[MAX_ROUTES];
	unsigned int closed[MAX_ROUTES];
	unsigned int total_weight;
	unsigned long gen_end;		/* = gen, written last */
};

static struct pcpu_brlock cfg_lock;
static struct config cfg;		/* read under cfg_lock */

/* Per-CPU: requests per route, and all requests (for pcpu-stat). */
PCPU_DEFINE(unsigned long[MAX_ROUTES], route_hits);
PCPU_DEFINE(unsigned long, requests);
static struct pcpu_counter rejected;	/* to closed routes (/admin) */

static long per_thread = 2000000;
static int serving, stop, finished;
static unsigned long torn;		/* requests that saw a torn config */
static unsigned long local_hits[MAX_THREADS][MAX_ROUTES];

/* Parse a configuration; -1 on a bad line.  Done outside the lock. */
static int parse(const char *text, struct config *c)
{
	char line[64], route[32], flag[16];
	unsigned int w;

	memset(c, 0, sizeof(*c));
	while (*text) {
		size_t len = strcspn(text, "\n");
		int r;

		if (len >= sizeof(line))
			return -1;
		memcpy(line, text, len);
		line[len] = 0;
		text += len + (text[len] == '\n');
		flag[0] = 0;
		if (sscanf(line, "%31s %u %15s", route, &w, flag) < 2)
			return -1;
		for (r = 0; r < NR_ROUTES && strcmp(route, route_name[r]); r++)
			;
		if (r == NR_ROUTES)
			return -1;
		c->weight[r] = w;
		c->closed[r] = !strcmp(flag, "closed");
		c->total_weight += w;
	}
	return c->total_weight ? 0 : -1;
}

/*
 * A reload: parse outside the lock, then rewrite the configuration in
 * place under the write lock.  A reader that raced the copy would see a
 * torn configuration (gen != gen_end); the lock makes that impossible.
 */
static int reload(unsigned long gen)
{
	struct config next;

	if (parse(config_text[gen % 2], &next))
		return -1;
	next.gen = next.gen_end = gen;
	pcpu_brlock_write_lock(&cfg_lock);
	cfg.gen = gen;
	memcpy(cfg.weight, next.weight, sizeof(cfg.weight));
	memcpy(cfg.closed, next.closed, sizeof(cfg.closed));
	cfg.total_weight = next.total_weight;
	cfg.gen_end = gen;
	pcpu_brlock_write_unlock(&cfg_lock);
	return 0;
}

/* One request: route it under the read lock, count it per CPU. */
static void serve_one(long id, unsigned int *seed)
{
	unsigned int pick, r = 0, closed;
	unsigned long gen;

	pcpu_brlock_read_lock(&cfg_lock);
	gen = cfg.gen;
	pick = (unsigned int)rand_r(seed) % cfg.total_weight;
	while (pick >= cfg.weight[r] && r < NR_ROUTES - 1) {
		pick -= cfg.weight[r];
		r++;
	}
	closed = cfg.closed[r];
	if (cfg.gen_end != gen)
		__atomic_fetch_add(&torn, 1, __ATOMIC_RELAXED);
	pcpu_brlock_read_unlock(&cfg_lock);

	this_cpu_inc(requests);
	this_cpu_inc(&(*route_hits)[r]);
	local_hits[id][r]++;
	if (closed)
		pcpu_counter_inc(&rejected);	/* answered 403 */
}

static void *worker(void *arg)
{
	long id = (long)arg;
	unsigned int seed = (unsigned int)id * 7919 + 1;

	for (long i = 0; serving ? !__atomic_load_n(&stop, __ATOMIC_RELAXED) :
				   i < per_thread; i++) {
		serve_one(id, &seed);
		/* A server waits for its clients: keep --serve gentle. */
		if (serving && i % 256 == 255)
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	__atomic_fetch_add(&finished, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Serve mode: the main thread waits for signals (none of them reaches a
 * worker: they are blocked before the workers start). */
static unsigned long wait_signals(const sigset_t *set, unsigned long gen)
{
	int sig;

	printf("reqcount: serving (pid %d): SIGHUP reloads, SIGTERM stops\n",
	       (int)getpid());
	fflush(stdout);
	while (!sigwait(set, &sig) && sig == SIGHUP) {
		reload(++gen);
		printf("reqcount: reloaded (generation %lu)\n", gen);
		fflush(stdout);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	return gen;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	unsigned long gen = 0, total = 0, want = 0, want_route[MAX_ROUTES] = { 0 };
	int n = 4, ok = 1;
	unsigned int cpu;
	sigset_t set;

	if (argc > 1 && !strcmp(argv[1], "--serve")) {
		serving = 1;
		argv++;
		argc--;
	}
	if (argc > 1)
		n = atoi(argv[1]);
	if (argc > 2)
		per_thread = atol(argv[2]);
	else if (getenv("PCPU_TEST"))
		per_thread = 50000;
	if (n < 1 || n > MAX_THREADS || per_thread < 1) {
		fprintf(stderr, "usage: reqcount [--serve] [threads 1..%d] "
			"[requests]\n", MAX_THREADS);
		return 2;
	}
	if (pcpu_brlock_init(&cfg_lock) || pcpu_counter_init(&rejected, 0, 0) ||
	    reload(gen)) {
		fprintf(stderr, "reqcount: %s\n", strerror(errno));
		return 1;
	}
	/* Opt in to pcpu-stat: one call per counter. */
	pcpu_stat_ulong("requests", requests);
	pcpu_stat_counter("rejected", &rejected);
	for (int r = 0; r < NR_ROUTES; r++) {
		char name[PCPU_STAT_NAME_MAX];

		snprintf(name, sizeof(name), "route:%s", route_name[r]);
		if (pcpu_stat_ulong(name, &(*route_hits)[r]))
			fprintf(stderr, "reqcount: %s\n", pcpu_last_error());
	}

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (serving)
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	if (serving) {
		gen = wait_signals(&set, gen);
	} else {
		/* Reload while they serve, as an operator would. */
		while (__atomic_load_n(&finished, __ATOMIC_RELAXED) < n ||
		       gen < 20) {
			nanosleep(&(struct timespec){ 0, 200000 }, NULL);
			reload(++gen);
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);

	/* Totals: per-CPU copies summed, against what the threads counted. */
	printf("reqcount: backend %s, %d threads, %lu reloads\n",
	       pcpu_backend_name(), n, gen);
	for (int r = 0; r < NR_ROUTES; r++) {
		unsigned long hits = 0;

		pcpu_for_each_cpu(cpu)
			hits += (*pcpu_ptr(route_hits, cpu))[r];
		for (int i = 0; i < n; i++)
			want_route[r] += local_hits[i][r];
		printf("  route %-8s %10lu\n", route_name[r], hits);
		ok &= hits == want_route[r];
		want += want_route[r];
	}
	pcpu_for_each_cpu(cpu)
		total += *pcpu_ptr(requests, cpu);
	printf("requests %lu (threads counted %lu), rejected %lld, torn "
	       "configs %lu\n", total, want,
	       (long long)pcpu_counter_sum(&rejected), torn);
	ok &= total == want && torn == 0 &&
	      pcpu_counter_sum(&rejected) == (int64_t)want_route[3];
	if (!serving)
		ok &= want == (unsigned long)n * (unsigned long)per_thread;
	printf("%s\n", ok ? "exact" : "MISMATCH");
	pcpu_stat_remove("rejected");
	pcpu_counter_destroy(&rejected);
	pcpu_brlock_destroy(&cfg_lock);
	return ok ? 0 : 1;
}
