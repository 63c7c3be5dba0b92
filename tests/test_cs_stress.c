// SPDX-License-Identifier: MIT
/*
 * Critical sections under fire: 8x as many threads as CPUs, a re-pinner
 * moving them between CPUs, and a signal storm whose handler runs the same
 * sequences on the same data as the code it interrupts.  Four per-CPU
 * structures, each counted exactly at the end:
 *  - add:   pcpu_cs_addv on a per-CPU word; sum == adds done;
 *  - list:  NODES nodes circulate through per-CPU free lists: pop
 *           (cmpnev_storeoffp_load), bump the node's count, push back
 *           (cmpeqv_storev); every node ends on exactly one list and the
 *           node counts sum to the pops;
 *  - slab:  TOKENS tokens circulate through per-CPU arrays of pointers:
 *           pop (cmpeqv_load_storev), push (cmpeqv_trystorev_storev); every
 *           token ends in exactly one slab;
 *  - copy:  records written with cmpeqv_trymemcpy_storev into a small
 *           per-CPU ring of slots, record s into slot s % SLOTS, then the
 *           sequence number s + 1 committed; the per-CPU sequence numbers
 *           sum to the writes, and every committed slot still in the ring
 *           holds its own record whole (right number, valid check word).
 *           The slot after the last commit is not checked: an attempt that
 *           was aborted mid-copy leaves its try-stores there, as cs.h's
 *           return contract says (PCPU_CS_RETRY: "try-stores may have
 *           happened"), and nothing commits them.
 */
#include "harness.h"

#include <signal.h>
#include <sys/syscall.h>

#define NODES	512
#define TOKENS	64
#define SLAB	64	/* pointers per CPU: >= TOKENS, never full */
#define SLOTS	4	/* copy: records kept per CPU */

struct node {
	intptr_t link;	/* next node, 0 at the end */
	long count;	/* pops of this node */
};

struct rec {
	uint64_t who, i, s, check;	/* writer, its round, sequence number */
};

static uint64_t rec_check(const struct rec *r)
{
	return r->who * 31 ^ r->i ^ r->s ^ 0x5a5a5a5a5a5a5a5aull;
}

struct cpu_data {
	intptr_t add;
	intptr_t head;		/* list */
	intptr_t n;		/* slab count */
	intptr_t seq;		/* copy: records written */
	struct rec slot[SLOTS];
	intptr_t slab[SLAB];
};

static struct cpu_data *pc;	/* per-CPU */
static struct node nodes[NODES];
static long token[TOKENS];
static long adds, pops, slab_ops, writes;	/* atomic totals */

static void one_add(void)
{
	struct pcpu_cs cs;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs))
		if (pcpu_cs_addv(&cs, &pcpu_cs_ptr(&cs, pc)->add, 1) ==
		    PCPU_CS_OK)
			break;
	__atomic_fetch_add(&adds, 1, __ATOMIC_RELAXED);
}

static void push_node(struct node *n)
{
	struct pcpu_cs cs;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		intptr_t *head = &pcpu_cs_ptr(&cs, pc)->head;
		intptr_t h = __atomic_load_n(head, __ATOMIC_RELAXED);

		__atomic_store_n(&n->link, h, __ATOMIC_RELAXED);
		if (pcpu_cs_cmpeqv_trystorev_storev_release(&cs, head, h,
				&n->link, h, (intptr_t)n) == PCPU_CS_OK)
			return;
	}
}

static void one_pop(void)
{
	struct pcpu_cs cs;
	intptr_t got = 0;
	int r;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		r = pcpu_cs_cmpnev_storeoffp_load(&cs,
			&pcpu_cs_ptr(&cs, pc)->head, 0,
			offsetof(struct node, link), &got);
		if (r != PCPU_CS_RETRY)
			break;
	}
	if (r != PCPU_CS_OK)
		return;	/* this CPU's list is empty */
	((struct node *)got)->count++;	/* ours until pushed */
	__atomic_fetch_add(&pops, 1, __ATOMIC_RELAXED);
	push_node((struct node *)got);
}

static int slab_push(intptr_t t)
{
	struct pcpu_cs cs;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		struct cpu_data *d = pcpu_cs_ptr(&cs, pc);
		intptr_t n = __atomic_load_n(&d->n, __ATOMIC_RELAXED);
		int r;

		if (n >= SLAB)
			continue;	/* full here: another CPU's, after moving */
		r = pcpu_cs_cmpeqv_trystorev_storev(&cs, &d->n, n,
						    &d->slab[n], t, n + 1);
		if (r == PCPU_CS_OK)
			return 0;
	}
}

static void one_slab(void)
{
	struct pcpu_cs cs;
	intptr_t t = 0;
	int r = PCPU_CS_FAIL;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		struct cpu_data *d = pcpu_cs_ptr(&cs, pc);
		intptr_t n = __atomic_load_n(&d->n, __ATOMIC_RELAXED);

		if (n <= 0 || n > SLAB)
			return;
		r = pcpu_cs_cmpeqv_load_storev(&cs, &d->n, n, &d->slab[n - 1],
					       &t, n - 1);
		if (r == PCPU_CS_OK)
			break;
	}
	((long *)t)[0]++;
	__atomic_fetch_add(&slab_ops, 1, __ATOMIC_RELAXED);
	slab_push(t);
}

static void one_write(uint64_t who, uint64_t i)
{
	struct pcpu_cs cs;
	struct rec r = { who, i, 0, 0 };

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		struct cpu_data *d = pcpu_cs_ptr(&cs, pc);
		intptr_t s = __atomic_load_n(&d->seq, __ATOMIC_RELAXED);

		/* A stale s fails the compare before anything is copied, so
		 * only slot seq % SLOTS ever sees try-stores. */
		r.s = (uint64_t)s;
		r.check = rec_check(&r);
		if (pcpu_cs_cmpeqv_trymemcpy_storev_release(&cs, &d->seq, s,
				&d->slot[(uint64_t)s % SLOTS], &r, sizeof(r),
				s + 1) == PCPU_CS_OK)
			break;
	}
	__atomic_fetch_add(&writes, 1, __ATOMIC_RELAXED);
}

static void one_round(uint64_t who, uint64_t i)
{
	one_add();
	one_pop();
	one_slab();
	one_write(who, i);
}

static long handled;	/* signal rounds */

static void handler(int sig)
{
	int saved = errno;

	(void)sig;
	one_round(1u << 20, (uint64_t)__atomic_fetch_add(&handled, 1,
							 __ATOMIC_RELAXED));
	errno = saved;
}

static long per;
static pid_t tids[256];
static int stop_storm;

static void *worker(void *arg)
{
	long me = (long)arg;

	__atomic_store_n(&tids[me], (pid_t)syscall(SYS_gettid),
			 __ATOMIC_RELAXED);
	for (long i = 0; i < per; i++)
		one_round((uint64_t)me, (uint64_t)i);
	__atomic_store_n(&tids[me], 0, __ATOMIC_RELAXED);
	return NULL;
}

/* Signals every worker that still runs, until told to stop. */
static void *storm(void *arg)
{
	long sent = 0;
	int n = (int)(long)arg;

	while (!__atomic_load_n(&stop_storm, __ATOMIC_RELAXED)) {
		for (int i = 0; i < n; i++) {
			pid_t t = __atomic_load_n(&tids[i], __ATOMIC_RELAXED);

			if (t > 0 && !syscall(SYS_tgkill, getpid(), t, SIGUSR1))
				sent++;
		}
		usleep(100);
	}
	return (void *)sent;
}

int main(void)
{
	int n = 8 * (int)t_ncpus() < 16 ? 16 : 8 * (int)t_ncpus();
	struct sigaction sa = { .sa_handler = handler };
	pthread_t st;
	void *sent;
	long moves, in_lists = 0, node_sum = 0, in_slabs = 0, tok_sum = 0;
	long add_sum = 0, seq_sum = 0, torn = 0, dup = 0, partial = 0;
	long checked = 0;
	unsigned int k;
	static unsigned char seen[NODES], tseen[TOKENS];
	double t0;

	if (n > 256)
		n = 256;
	t_init(NULL);
	/* The locked implementation blocks signals in every section (two
	 * system calls): a tenth of the rounds keeps its run as long. */
	per = t_scale(strcmp(pcpu_backend_name(), "atomic") ? 1500000 : 150000);
	pc = PCPU_ALLOC(struct cpu_data);
	CHECK(pc != NULL, "alloc");
	if (!pc)
		return t_done();
	/* Nodes and tokens start spread over the copies, whatever they are. */
	for (int i = 0; i < NODES; i++) {
		struct cpu_data *d = pcpu_ptr(pc, (unsigned int)i %
						  pcpu_nr_copies());

		nodes[i].link = d->head;
		d->head = (intptr_t)&nodes[i];
	}
	for (int i = 0; i < TOKENS; i++) {
		struct cpu_data *d = pcpu_ptr(pc, (unsigned int)i %
						  pcpu_nr_copies());

		if (d->n < SLAB)
			d->slab[d->n++] = (intptr_t)&token[i];
		else
			CHECK(0, "initial slab full");
	}
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	t0 = t_now();
	pthread_create(&st, NULL, storm, (void *)(long)n);
	moves = t_run_repinned(n, worker, tids);
	__atomic_store_n(&stop_storm, 1, __ATOMIC_RELAXED);
	pthread_join(st, &sent);
	signal(SIGUSR1, SIG_IGN);

	pcpu_for_each_cpu(k) {
		struct cpu_data *d = pcpu_ptr(pc, k);

		add_sum += d->add;
		seq_sum += d->seq;
		for (intptr_t p = d->head; p; p = ((struct node *)p)->link) {
			long i = (struct node *)p - nodes;

			if (i < 0 || i >= NODES || seen[i]++) {
				dup++;
				break;
			}
			in_lists++;
		}
		for (intptr_t j = 0; j < d->n && j < SLAB; j++) {
			long i = (long *)d->slab[j] - token;

			if (i < 0 || i >= TOKENS || tseen[i]++)
				dup++;
			else
				in_slabs++;
		}
		for (intptr_t s = d->seq - SLOTS; s < d->seq; s++) {
			const struct rec *r = &d->slot[(uint64_t)s % SLOTS];
			int bad = r->s != (uint64_t)s ||
				  r->check != rec_check(r);

			if (s < 0)
				continue;
			if (s == d->seq - SLOTS)	/* the next slot */
				partial += bad;
			else {
				checked++;
				torn += bad;
			}
		}
	}
	for (int i = 0; i < NODES; i++)
		node_sum += nodes[i].count;
	for (int i = 0; i < TOKENS; i++)
		tok_sum += token[i];
	printf("%d threads x %ld rounds + %ld in handlers (%ld signals sent) "
	       "in %.2f s, %ld re-pins\n", n, per, handled, (long)sent,
	       t_now() - t0, moves);
	printf("add: expected %ld observed %ld\n", adds, add_sum);
	printf("list: expected %d nodes, %ld pops; observed %ld nodes, %ld "
	       "pops\n", NODES, pops, in_lists, node_sum);
	printf("slab: expected %d tokens, %ld pops; observed %ld tokens, %ld "
	       "pops\n", TOKENS, slab_ops, in_slabs, tok_sum);
	printf("copy: expected %ld records observed %ld; %ld of %ld committed "
	       "slots torn; %ld next slots hold an aborted attempt's stores\n",
	       writes, seq_sum, torn, checked, partial);
	CHECK(adds == ((long)n * per + handled) && add_sum == adds,
	      "add total");
	CHECK(in_lists == NODES && node_sum == pops && !dup, "list census");
	CHECK(in_slabs == TOKENS && tok_sum == slab_ops, "slab census");
	CHECK(seq_sum == writes && !torn && checked > 0, "copy records");
	return t_done();
}
