// SPDX-License-Identifier: MIT
/*
 * pcpu-stat --tail: the tool as a ring's consumer in another process.
 *
 *  - exact records: a target pins itself to each CPU in turn and writes a
 *    known sequence into a registered ring, some before pcpu-stat attaches
 *    and some while it sleeps in pcpu_ring_wait(); `--tail trace -n N`
 *    prints exactly those N records, each writer's in order and in one
 *    buffer (the CPU it was pinned to, when buffers are CPUs), timestamps
 *    non-decreasing per buffer, payloads intact: text, text with bytes to
 *    escape, binary as hex, and everything as hex with --hex;
 *  - consumed: a second tail finds nothing (ends at its --timeout, 0
 *    records), and the ring's read position in `pcpu-stat --json` is the
 *    bytes written;
 *  - damage: the target breaks a record header of another ring; the tail
 *    prints a counted note (1 damaged region), then exactly the records
 *    of the next page;
 *  - refusals: nobody on a root target (ptrace rights, exit 3); a ring fd
 *    number the target reused for another file (not the ring's memfd,
 *    exit 4); an unknown ring (exit 2, the rings listed);
 *  - another consumer: the target reads its own ring while writing; the
 *    tail warns;
 *  - exit: a target that exits while tailed ends the tail (exit 2, "has
 *    exited") after its records, within the watchdog; SIGTERM ends a tail
 *    with exit 0;
 *  - exit behind a pending reservation: a target that reserves a record,
 *    writes PENDING_N more and exits at once leaves the reader stopped
 *    at the reservation for PCPU_RING_STUCK_NS; the tail still prints the
 *    PENDING_N committed records and counts 1 abandoned before it ends
 *    (it ended at the exit with 0 records when it took "none now" for
 *    "nothing left").
 *
 * pcpu-stat is looked for at B/tools/pcpu-stat; without it, skip.
 */
#include "target.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define NOBODY		65534
#define OUT_MAX		(1 << 20)
#define WATCHDOG_S	60	/* liveness only: pcpu-stat must finish */
#define PER_CPU_A	40	/* text records per CPU before the tail */
#define PER_CPU_B	60	/* ... and while it sleeps */
#define BIG		1000	/* payload of the "bad" ring's records */
#define PENDING_N	100	/* records behind a pending reservation */

static char cli[4096];
static char out[OUT_MAX];	/* stdout of the last run */
static char err[65536];		/* stderr */
static unsigned int ncpus;

/* The binary and the escaped payloads, and how pcpu-stat must show them. */
static const unsigned char bin[8] = { 0x00, 0x01, 0xff, 0x80, 'A', 'B', 0x7f,
				      0x10 };
#define BIN_SHOWN	"hex 0001ff8041427f10"
static const char esc[] = "tab\there \"q\" \\ end\n\x01";	/* 21 bytes */
#define ESC_SHOWN	"\"tab\\there \\\"q\\\" \\\\ end\\n\\x01\""

/* ---- running pcpu-stat ---- */

struct run {
	pid_t pid;
	int out, err;
	size_t err_n;		/* bytes of err read by until_tailing() */
};

static int start_cli(struct run *r, int uid, const char **args)
{
	const char *argv[24] = { cli };
	int o[2], e[2], n = 1;

	while (n < 23 && args[n - 1]) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if (pipe(o) || pipe(e))
		return -1;
	r->pid = fork();
	if (r->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		if (uid >= 0 && (setgroups(0, NULL) || setgid((gid_t)uid) ||
				 setuid((uid_t)uid))) {
			perror("setuid");
			_exit(99);
		}
		execv(cli, (char *const *)argv);
		perror("execv");
		_exit(98);
	}
	close(o[1]);
	close(e[1]);
	r->out = o[0];
	r->err = e[0];
	r->err_n = 0;
	return 0;
}

/*
 * Until the tail has attached: its stderr says "tailing ring", which it
 * prints once its signal handlers are in place.  A fixed delay before
 * acting on the tail was not enough on a loaded machine (a SIGTERM that
 * came first killed it).  What it read stays in err for finish_cli().
 * Returns 0, or -1 if the line did not come within WATCHDOG_S.
 */
static int until_tailing(struct run *r)
{
	double deadline = t_now() + WATCHDOG_S;
	struct pollfd p = { r->err, POLLIN, 0 };

	err[0] = 0;
	while (!strstr(err, "pcpu-stat: tailing ring")) {
		ssize_t got;

		if (t_now() > deadline || r->err_n >= sizeof(err) - 1)
			return -1;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		got = read(r->err, err + r->err_n, sizeof(err) - 1 - r->err_n);
		if (got <= 0)
			return -1;	/* it ended: finish_cli() says how */
		r->err_n += (size_t)got;
		err[r->err_n] = 0;
	}
	return 0;
}

/* Until it ends: its output in out and err, its exit status (-1 if it
 * was killed or hung). */
static int finish_cli(struct run *r)
{
	size_t n[2] = { 0, r->err_n }, cap[2] = { sizeof(out) - 1,
						   sizeof(err) - 1 };
	char *buf[2] = { out, err };
	int open_fds = 2, status;
	double deadline = t_now() + WATCHDOG_S;
	struct pollfd p[2] = { { r->out, POLLIN, 0 }, { r->err, POLLIN, 0 } };

	out[0] = 0;
	err[r->err_n] = 0;
	while (open_fds) {
		if (t_now() > deadline) {
			kill(r->pid, SIGKILL);
			snprintf(err, sizeof(err), "pcpu-stat did not finish "
				 "within %d s (hung?)", WATCHDOG_S);
			break;
		}
		if (poll(p, 2, 1000) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			char sink[4096];
			ssize_t got;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (n[i] < cap[i])
				got = read(p[i].fd, buf[i] + n[i], cap[i] - n[i]);
			else
				got = read(p[i].fd, sink, sizeof(sink));
			if (got <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			if (n[i] < cap[i])
				n[i] += (size_t)got;
			buf[i][n[i]] = 0;
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	waitpid(r->pid, &status, 0);
	if (!WIFEXITED(status)) {
		size_t l = strlen(err);

		snprintf(err + l, sizeof(err) - l, "\n[pcpu-stat killed by "
			 "signal %d]", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return -1;
	}
	return WEXITSTATUS(status);
}

static int run_cli(int uid, const char **args)
{
	struct run r;

	if (start_cli(&r, uid, args))
		return -1;
	return finish_cli(&r);
}

static void find_cli(void)
{
	if (t_tool_path(cli, sizeof(cli), "pcpu-stat")) {
		printf("skip: pcpu-stat not found at %s\n", cli);
		exit(T_SKIP);
	}
}

/* ---- the target ---- */

static struct pcpu_ring *trace, *bad;
static volatile int stop_reader;

/* Text records "w<cpu> <i>" for i in [from, to) from each CPU, pinned;
 * with from 0, the binary and the escaped record too. */
static void write_seq(int from, int to)
{
	char p[32];

	for (unsigned int c = 0; c < ncpus; c++) {
		t_pin(c);
		for (int i = from; i < to; i++) {
			int n = snprintf(p, sizeof(p), "w%u %d", c, i);

			if (pcpu_ring_write(trace, p, (size_t)n))
				_exit(10);
		}
		if (from == 0 && (pcpu_ring_write(trace, bin, sizeof(bin)) ||
				  pcpu_ring_write(trace, esc, sizeof(esc) - 1)))
			_exit(10);
	}
	t_unpin();
}

/* The bad ring: 8 records of BIG bytes on CPU 0 (4 to a 4 KiB page),
 * then the first header's stamp broken. */
static void write_bad(void)
{
	char p[BIG];
	const struct pcpu_ring_shared *sh = pcpu_ring_mem(bad);
	uint64_t *w0;

	t_pin(0);
	for (int i = 0; i < 8; i++) {
		memset(p, 'x', sizeof(p));
		p[0] = 'b';
		p[1] = (char)('0' + i);
		if (pcpu_ring_write(bad, p, sizeof(p)))
			_exit(11);
	}
	t_unpin();
	w0 = (uint64_t *)((char *)pcpu_ring_mem(bad) + sh->data_off);
	*w0 ^= UINT64_C(1) << 40;	/* in the stamp */
}

/* Another consumer: this process reads its own ring as it writes. */
static void *own_reader(void *arg)
{
	struct pcpu_ring_reader rd;
	char buf[64];
	struct pcpu_ring_entry e;
	long i = 0;

	(void)arg;
	if (pcpu_ring_reader_open(&rd, pcpu_ring_mem(trace),
				  pcpu_ring_mem_size(trace)))
		return NULL;
	while (!stop_reader) {
		pcpu_ring_write(trace, "own", 3);
		while (pcpu_ring_read_next(&rd, &e, buf, sizeof(buf)) == 1)
			i++;
		usleep(1000);
	}
	pcpu_ring_reader_close(&rd);
	return (void *)i;
}

/*
 * Commands:  a/b  write the sequence's first/second part;  B  the bad
 * ring;  m  put another memfd at the ring's fd number;  c/C  start/stop
 * reading its own ring;  p  on CPU 0, reserve a record (never committed),
 * write PENDING_N records after it, exit at once;  x  exit now;  q  quit.
 */
static void target_main(int as_root, int cmd, int ackfd)
{
	pthread_t th;
	char c;

#ifdef PR_SET_PTRACER
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);	/* Yama, if any */
#endif
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!as_root && getuid() == 0 &&
	    (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)))
		_exit(4);
	/* A change of user makes a process non-dumpable: pcpu-stat as that
	 * user may read it again.  And die with the test. */
	prctl(PR_SET_DUMPABLE, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	trace = pcpu_ring_create(&(struct pcpu_ring_params){ 1 << 16, 4096, 0 });
	bad = pcpu_ring_create(&(struct pcpu_ring_params){ 1 << 16, 4096, 0 });
	if (!trace || !bad || pcpu_stat_ring("trace", trace) ||
	    pcpu_stat_ring("bad", bad))
		_exit(5);
	t_ack(ackfd, 'R');
	while (read(cmd, &c, 1) == 1) {
		switch (c) {
		case 'a':
			write_seq(0, PER_CPU_A);
			break;
		case 'b':
			write_seq(PER_CPU_A, PER_CPU_A + PER_CPU_B);
			break;
		case 'B':
			write_bad();
			break;
		case 'm': {
			int o = memfd_create("not-the-ring", MFD_CLOEXEC);

			if (o < 0 || ftruncate(o, 1 << 20) ||
			    dup2(o, pcpu_ring_fd(trace)) < 0)
				_exit(12);
			close(o);
			break;
		}
		case 'c':
			stop_reader = 0;
			if (pthread_create(&th, NULL, own_reader, NULL))
				_exit(13);
			break;
		case 'C':
			stop_reader = 1;
			pthread_join(th, NULL);
			break;
		case 'p': {
			char q[16];

			t_pin(0);
			if (!pcpu_ring_reserve(trace, 16))
				_exit(14);
			for (int i = 0; i < PENDING_N; i++)
				if (pcpu_ring_write(trace, q, (size_t)snprintf(
						q, sizeof(q), "p%d", i)))
					_exit(14);
			_exit(0);	/* the reservation stays pending */
		}
		case 'x':
			_exit(0);
		default:
			_exit(0);
		}
		t_ack(ackfd, c);
	}
	_exit(0);
}

static int target_cmd(struct t_target *tg, char c)
{
	char a = 0;

	return write(tg->cmd, &c, 1) == 1 && read(tg->ack, &a, 1) == 1 &&
	       a == c;
}

/* ---- the checks ---- */

static int has(const char *buf, const char *s)
{
	return strstr(buf, s) != NULL;
}

static unsigned int lines_of(const char *buf, const char *prefix)
{
	unsigned int n = 0;
	size_t l = strlen(prefix);

	for (const char *p = buf; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 :
						     p + strlen(p))
		n += !strncmp(p, prefix, l);
	return n;
}

/*
 * out holds the tail of the whole sequence: per CPU c, "w<c> <i>" for i
 * in [0, PER_CPU_A + PER_CPU_B), the binary and the escaped record.
 */
static void check_sequence(int hex)
{
	enum { MAXB = 1024 };
	int next[MAXB], buf_of[MAXB], specials[MAXB];
	uint64_t last_stamp[MAXB];
	char label[32], payload[256];
	unsigned int records = 0, bad_lines = 0;
	const char *p = out;

	for (unsigned int c = 0; c < MAXB; c++) {
		next[c] = 0;
		buf_of[c] = -1;
		specials[c] = 0;
		last_stamp[c] = 0;
	}
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		unsigned long long stamp;
		unsigned int plen, w, b;
		int i, off = 0;

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (nl != NULL);
		if (sscanf(line, "%31s %llu %u %n", label, &stamp, &plen,
			   &off) != 3 || !off) {
			CHECK(0, "not a record line: %s", line);
			bad_lines++;
			continue;
		}
		snprintf(payload, sizeof(payload), "%s", line + off);
		records++;
		b = !strncmp(label, "cpu", 3) || !strncmp(label, "cid", 3) ?
		    (unsigned int)atoi(label + 3) : MAXB - 1;
		if (b >= MAXB)
			b = MAXB - 1;
		CHECK(stamp >= last_stamp[b], "%s: timestamp %llu after %llu",
		      label, stamp, (unsigned long long)last_stamp[b]);
		last_stamp[b] = stamp;
		if (!hex && (!strcmp(payload, BIN_SHOWN) ||
			     !strcmp(payload, ESC_SHOWN))) {
			CHECK(plen == (!strcmp(payload, BIN_SHOWN) ?
				       sizeof(bin) : sizeof(esc) - 1),
			      "length %u: %s", plen, line);
			specials[b]++;
			continue;
		}
		if (hex) {
			/* hex of "w<c> <i>": decode, then as text. */
			char txt[64];
			unsigned int k = 0, x;

			if (strncmp(payload, "hex ", 4))
				goto bad;
			for (const char *h = payload + 4; h[0] && h[1] &&
			     k < sizeof(txt) - 1; h += 2) {
				if (sscanf(h, "%2x", &x) != 1)
					break;
				txt[k++] = (char)x;
			}
			txt[k] = 0;
			if (k == sizeof(bin) && !memcmp(txt, bin, k)) {
				specials[b]++;
				continue;
			}
			if (k == sizeof(esc) - 1 && !memcmp(txt, esc, k)) {
				specials[b]++;
				continue;
			}
			snprintf(payload, sizeof(payload), "\"%s\"", txt);
		}
		if (sscanf(payload, "\"w%u %d\"", &w, &i) != 2 || w >= ncpus)
			goto bad;
		{
			char want[32];

			snprintf(want, sizeof(want), "w%u %d", w, i);
			CHECK(plen == strlen(want), "length %u: %s", plen, line);
		}
		CHECK(i == next[w], "writer %u: record %d after %d: %s", w, i,
		      next[w] - 1, line);
		next[w] = i + 1;
		if (buf_of[w] < 0)
			buf_of[w] = (int)b;
		CHECK(buf_of[w] == (int)b, "writer %u in buffers %d and %u", w,
		      buf_of[w], b);
		/* Buffers are CPUs unless the index is the concurrency id. */
		if (!strncmp(label, "cpu", 3))
			CHECK(b == w, "writer pinned to CPU %u in %s", w, label);
		continue;
bad:
		CHECK(0, "payload not of the sequence: %s", line);
		bad_lines++;
	}
	CHECK(records == ncpus * (PER_CPU_A + PER_CPU_B + 2), "%u records, "
	      "want %u", records, ncpus * (PER_CPU_A + PER_CPU_B + 2));
	for (unsigned int w = 0; w < ncpus; w++) {
		CHECK(next[w] == PER_CPU_A + PER_CPU_B, "writer %u: %d records, "
		      "want %d", w, next[w], PER_CPU_A + PER_CPU_B);
		CHECK(buf_of[w] >= 0 && specials[buf_of[w]] >= 2, "writer %u: "
		      "binary and escaped records missing", w);
	}
	CHECK(!bad_lines, "%u lines not of the sequence", bad_lines);
	printf("tail%s: %u records, %u writers each %d in order in one "
	       "buffer, payloads intact\n", hex ? " --hex" : "", records,
	       ncpus, PER_CPU_A + PER_CPU_B);
}

/* The whole sequence through one tail: part a before it attaches, part b
 * while it sleeps. */
static void tail_sequence(struct t_target *tg, int hex)
{
	char n[16];
	struct run r;
	int rc;

	snprintf(n, sizeof(n), "%u", ncpus * (PER_CPU_A + PER_CPU_B + 2));
	CHECK(target_cmd(tg, 'a'), "target: write part a");
	if (start_cli(&r, -1, (const char *[]){ "--tail", "trace", "-n", n,
			hex ? "--hex" : tg->pid_s, hex ? tg->pid_s : NULL,
			NULL }))
		return;
	/* Let it drain part a and go to sleep: part b then comes through
	 * the wake-up (liveness does not depend on this pause). */
	usleep(300000);
	CHECK(target_cmd(tg, 'b'), "target: write part b");
	rc = finish_cli(&r);
	CHECK(rc == 0, "tail -n %s: exit %d: %s", n, rc, err);
	CHECK(!has(err, "warning"), "a warning: %s", err);
	check_sequence(hex);
}

static void check_consumed(struct t_target *tg)
{
	int rc = run_cli(-1, (const char *[]){ "--tail", "trace", "-t", "0.3",
			 tg->pid_s, NULL });

	CHECK(rc == 0 && !out[0] && has(err, " 0 records from ring trace"),
	      "second tail: exit %d: %s%s", rc, out, err);
	rc = run_cli(-1, (const char *[]){ "--json", tg->pid_s, NULL });
	{
		const char *p = strstr(out, "\"name\":\"trace\"");
		unsigned long wr = 0, rd = 0, sw = 0, sr = 0;

		for (const char *q = p; q && (q = strstr(q, "\"written\":")) &&
		     q < strstr(p, "]}"); q++)
			if (sscanf(q, "\"written\":%lu,\"read\":%lu", &wr,
				   &rd) == 2) {
				sw += wr;
				sr += rd;
			}
		CHECK(rc == 0 && p && sw && sw == sr, "after the tails: %lu "
		      "bytes written, %lu read: %s", sw, sr, out);
		printf("consumed: a second tail got 0 records; %lu bytes "
		       "written, %lu read\n", sw, sr);
	}
}

static void check_bad(struct t_target *tg)
{
	int rc;

	CHECK(target_cmd(tg, 'B'), "target: bad ring");
	rc = run_cli(-1, (const char *[]){ "--tail", "bad", "-t", "0.5",
		     tg->pid_s, NULL });
	CHECK(rc == 0, "tail bad: exit %d: %s", rc, err);
	CHECK(has(out, "note: cpu0: 1 damaged regions skipped (corrupt), 1 "
		  "in all\n") || has(out, "note: cid0: 1 damaged regions "
				     "skipped (corrupt), 1 in all\n"),
	      "no note of the damage: %s", out);
	/* The rest of the damaged page is skipped; the next page's four
	 * records are read intact. */
	CHECK(lines_of(out, "cpu0 ") + lines_of(out, "cid0 ") == 4,
	      "records after the damage: %s", out);
	for (int i = 4; i < 8; i++) {
		char want[BIG + 16];

		snprintf(want, sizeof(want), " %u \"b%d", BIG, i);
		memset(want + strlen(want), 'x', BIG - 2);
		want[strlen(" 1000 \"b0") + BIG - 2] = 0;
		strcat(want, "\"\n");
		CHECK(has(out, want), "record b%d missing or damaged", i);
	}
	CHECK(has(err, "1 damaged or abandoned skipped"), "summary: %s", err);
	printf("damage: a counted note, then the 4 records of the next "
	       "page intact\n");
}

static void check_foreign(struct t_target *tg)
{
	int rc;

	CHECK(target_cmd(tg, 'c'), "target: own reader");
	/* It writes a record every millisecond: records keep coming, so
	 * end at a count, not a timeout.  Both readers see the records the
	 * other one consumed (each reader has its own position). */
	rc = run_cli(-1, (const char *[]){ "--tail", "trace", "-n", "20",
		     tg->pid_s, NULL });
	CHECK(target_cmd(tg, 'C'), "target: stop own reader");
	CHECK(rc == 0 && has(err, "warning: another consumer reads ring "
			     "trace"), "no warning: exit %d: %s", rc, err);
	{
		const char *w = strstr(err, "warning");

		w = w ? w : err;
		printf("another consumer: %.*s\n", (int)strcspn(w, "\n"), w);
	}
}

static void check_refusals(struct t_target *tg)
{
	struct t_target root;
	int rc;

	rc = run_cli(-1, (const char *[]){ "--tail", "nope", tg->pid_s, NULL });
	CHECK(rc == 2 && has(err, "no ring named nope") &&
	      has(err, "trace") && has(err, "bad"), "unknown ring: exit %d: %s",
	      rc, err);
	rc = run_cli(-1, (const char *[]){ "--tail", "trace", "-i", "1",
		     tg->pid_s, NULL });
	CHECK(rc == 1, "--tail with -i: exit %d", rc);
	rc = run_cli(-1, (const char *[]){ "--hex", tg->pid_s, NULL });
	CHECK(rc == 1, "--hex without --tail: exit %d", rc);

	if (getuid() == 0 && !t_target_start(&root, target_main, 1)) {
		rc = run_cli(NOBODY, (const char *[]){ "--tail", "trace",
			     "-t", "0.2", root.pid_s, NULL });
		CHECK(rc == 3 && has(err, "may not read") && has(err, "ptrace"),
		      "nobody on a root target: exit %d: %s", rc, err);
		printf("refused (nobody -> root): %s", err);
		t_target_stop(&root);
	} else {
		printf("refusal as nobody: not root, not tried\n");
	}
}

/* Start `pcpu-stat --tail trace <target>` and return once it has
 * attached (until_tailing()); -1 if it could not be started. */
static int start_tail(struct run *r, struct t_target *tg)
{
	if (start_cli(r, -1, (const char *[]){ "--tail", "trace", tg->pid_s,
			NULL }))
		return -1;
	CHECK(until_tailing(r) == 0, "the tail did not start: %s", err);
	return 0;
}

/* Send the target c, after which it exits (killed if it cannot hear),
 * and reap it. */
static void target_exits(struct t_target *tg, char c)
{
	if (write(tg->cmd, &c, 1) != 1)
		kill(tg->pid, SIGKILL);
	waitpid(tg->pid, NULL, 0);
	close(tg->cmd);
	close(tg->ack);
}

static void check_exit(void)
{
	struct t_target tg;
	struct run r;
	double t0;
	int rc;

	if (t_target_start(&tg, target_main, 0))
		return;
	CHECK(target_cmd(&tg, 'a'), "target: write");
	if (start_tail(&r, &tg))
		return;
	t0 = t_now();
	target_exits(&tg, 'x');
	rc = finish_cli(&r);
	CHECK(rc == 2 && has(err, "has exited"), "target gone: exit %d: %s",
	      rc, err);
	CHECK(lines_of(out, "cpu") + lines_of(out, "cid") + lines_of(out, "spare") ==
	      ncpus * (PER_CPU_A + 2), "records before the exit: %s", out);
	printf("exit while tailed: ended %.2f s after it, exit %d, %u records\n",
	       t_now() - t0, rc, ncpus * (PER_CPU_A + 2));

	/* SIGTERM: a clean end, exit 0. */
	if (t_target_start(&tg, target_main, 0))
		return;
	if (start_tail(&r, &tg))
		return;
	kill(r.pid, SIGTERM);
	rc = finish_cli(&r);
	CHECK(rc == 0 && has(err, "(interrupted)"), "SIGTERM: exit %d: %s", rc,
	      err);
	t_target_stop(&tg);
}

/* The target exits right after a pending reservation and PENDING_N
 * records behind it: the tail must wait the reservation out and print
 * them, then end with "has exited". */
static void check_exit_pending(void)
{
	struct t_target tg;
	struct run r;
	unsigned int got = 0;
	const char *sum;
	double t0;
	int rc;

	if (t_target_start(&tg, target_main, 0))
		return;
	if (start_tail(&r, &tg))
		return;
	t0 = t_now();
	target_exits(&tg, 'p');
	rc = finish_cli(&r);
	for (int i = 0; i < PENDING_N; i++) {
		char want[32];

		snprintf(want, sizeof(want), " \"p%d\"\n", i);
		got += has(out, want);
	}
	sum = strstr(err, "records from");
	sum = sum ? sum : err;
	printf("exit behind a pending reservation: expected exit 2, %d "
	       "records, 1 abandoned; observed exit %d, %u records, ended "
	       "%.2f s after the exit (\"%.*s\")\n", PENDING_N, rc, got,
	       t_now() - t0, (int)strcspn(sum, "\n"), sum);
	CHECK(rc == 2 && has(err, "has exited"), "target gone: exit %d: %s",
	      rc, err);
	CHECK(got == PENDING_N, "%u of the %d records behind the pending "
	      "reservation: %s", got, PENDING_N, out);
	CHECK(has(err, "1 damaged or abandoned skipped"), "summary: %s", err);
}

static void check_not_the_ring(void)
{
	struct t_target tg;
	int rc;

	if (t_target_start(&tg, target_main, 0))
		return;
	CHECK(target_cmd(&tg, 'm'), "target: replace the fd");
	rc = run_cli(-1, (const char *[]){ "--tail", "trace", "-t", "0.2",
		     tg.pid_s, NULL });
	CHECK(rc == 4 && has(err, "is not the ring's memfd"), "another file "
	      "at the ring's fd: exit %d: %s", rc, err);
	printf("refused (fd reused): %s", err);
	t_target_stop(&tg);
}

int main(void)
{
	struct t_target tg;

	t_init(NULL);
	find_cli();
	ncpus = t_ncpus();
	if (!t_cpus_allowed_all()) {
		printf("skip: the checks pin a writer to each CPU 0..%u, and "
		       "this process cannot run on them all (a cpuset)\n",
		       ncpus - 1);
		return T_SKIP;
	}
	if (t_target_start(&tg, target_main, 0))
		return 1;
	tail_sequence(&tg, 0);
	check_consumed(&tg);
	tail_sequence(&tg, 1);
	check_bad(&tg);
	check_foreign(&tg);
	check_refusals(&tg);
	t_target_stop(&tg);
	check_not_the_ring();
	check_exit();
	check_exit_pending();
	return t_done();
}
