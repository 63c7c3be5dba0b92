// SPDX-License-Identifier: MIT
/*
 * pcpu-stat and the registration calls of percpu/stat.h.
 *
 *  - registration: bad names, NULL and never-initialized counters, values
 *    that are not handles (EINVAL), a name taken (EEXIST), a full table
 *    (ENOSPC), removal (ENOENT for an unknown name), and pcpu_last_error():
 *    a message per failure, "" after a success, per thread;
 *  - pcpu-stat on a target process (a child that registered a raw per-CPU
 *    value with known per-copy contents, a counter with a known sum and a
 *    ring with known writes): --json totals, per-copy values and the
 *    ring's written bytes exact, the text table, -i/-n
 *    refreshing, lookup by name (one match, and two matches refused), a
 *    process that did not opt in, one that is gone, usage errors;
 *  - fork: a grandchild's table and values are its own (pcpu-stat shows
 *    its extra entry and its increments; the parent's are unchanged);
 *  - refusal: pcpu-stat as an unprivileged user on a root process, and on
 *    a non-dumpable process of its own user, exits 3 with a message about
 *    ptrace rights (as root; as another user only the second is tried);
 *    an unprivileged pcpu-stat on its own user's dumpable process works;
 *  - corruption: the target scribbles on its own table (each header
 *    field, names, kinds, addresses, a change count left odd, the counter
 *    itself) and pcpu-stat exits 4 with what was wrong, then random byte
 *    flips over the table and the counter: pcpu-stat must always exit
 *    (0 or 4), never crash or hang.
 *
 * pcpu-stat is looked for next to the test's build directory
 * (B/tools/pcpu-stat); the parts that run it are skipped without it.
 */
#include "target.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define NOBODY		65534
#define OUT_MAX		65536
#define CLI_WATCHDOG_S	60	/* liveness only: pcpu-stat must finish */

static char cli[4096];		/* path of pcpu-stat, "" if absent */
static char out[OUT_MAX];	/* its output, stdout and stderr */
static char tname[16];		/* the targets' comm */

/* ---- running pcpu-stat ---- */

/*
 * Run pcpu-stat with the arguments that follow uid (NULL-terminated), as
 * uid (or -1: as we are).  Returns its exit status, or -1 (output in out)
 * if it was killed by a signal or did not finish within the watchdog.
 */
static int run_cli(int uid, ...)
{
	const char *argv[16] = { cli };
	int fd[2], status, argc = 1;
	va_list ap;
	size_t n = 0;
	pid_t pid;
	double deadline = t_now() + CLI_WATCHDOG_S;

	va_start(ap, uid);
	while (argc < 15 && (argv[argc] = va_arg(ap, const char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	out[0] = 0;
	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		close(fd[0]);
		if (uid >= 0 && (setgroups(0, NULL) || setgid((gid_t)uid) ||
				 setuid((uid_t)uid))) {
			perror("setuid");
			_exit(99);
		}
		execv(cli, (char *const *)argv);
		perror("execv");
		_exit(98);
	}
	close(fd[1]);
	for (;;) {
		struct pollfd p = { fd[0], POLLIN, 0 };
		ssize_t got;
		char sink[4096];

		if (t_now() > deadline) {
			kill(pid, SIGKILL);
			snprintf(out, sizeof(out), "pcpu-stat did not finish "
				 "within %d s (hung?)", CLI_WATCHDOG_S);
			break;
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (n < sizeof(out) - 1)
			got = read(fd[0], out + n, sizeof(out) - 1 - n);
		else
			got = read(fd[0], sink, sizeof(sink));
		if (got <= 0)
			break;
		if (n < sizeof(out) - 1)
			n += (size_t)got;
		out[n] = 0;
	}
	close(fd[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status)) {
		size_t l = strlen(out);

		snprintf(out + l, sizeof(out) - l, "\n[pcpu-stat killed by "
			 "signal %d]", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return -1;
	}
	return WEXITSTATUS(status);
}

static void find_cli(void)
{
	if (t_tool_path(cli, sizeof(cli), "pcpu-stat")) {
		printf("pcpu-stat not found at %s: its parts are skipped\n", cli);
		cli[0] = 0;
	}
}

/* ---- the target ---- */

enum { T_ROOT, T_DUMPABLE, T_NOT_DUMPABLE };

/* The table's entries follow its header. */
#define ENTRIES(t)	((struct pcpu_stat_entry *)((t) + 1))

static unsigned long __pcpu *hits;
static struct pcpu_counter drops;
static struct pcpu_ring *ring;		/* 10 records of 16 bytes */
static unsigned long want_hits;		/* sum of what the target wrote */
static char want_copies[4096];		/* "[10,20,...]" */

/* The table in our own memory, from /proc/self/maps. */
static struct pcpu_stat_table *own_table(size_t *len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long lo, hi;
	void *t = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f))
		if ((strstr(line, "[anon:" PCPU_STAT_MAP_NAME "]") ||
		     strstr(line, "/memfd:" PCPU_STAT_MAP_NAME " ")) &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			t = (void *)lo;
			*len = hi - lo;
			break;
		}
	fclose(f);
	return t;
}

/* Corruption case k of the table t (or the counter); returns 0 if k is
 * past the last case. */
static int corrupt(struct pcpu_stat_table *t, int k)
{
	struct pcpu_stat_entry *e = &ENTRIES(t)[0];	/* "hits" */
	struct pcpu_stat_entry *c = &ENTRIES(t)[1];	/* "drops" */

	switch (k) {
	case 0: t->magic ^= 1; break;
	case 1: t->version = 99; break;
	case 2: t->count = 0xffffffffu; break;
	case 3: t->capacity = 0x7fffffffu; break;
	case 4: t->header_size = 8; break;
	case 5: t->stride = 3 << 20; break;
	case 6: t->stride = (uint64_t)1 << 62; break;
	case 7: t->nr_copies = 0; break;
	case 8: t->nr_copies = 0xffffffffu; break;
	case 9: t->base = 0xfffffffffffff000ull; break;
	case 10: t->base += 8; break;
	case 11: t->nr_copies = 65537; t->count = t->capacity; break;
	case 12: t->index = 7; break;
	case 13: memset(t->backend, 'x', sizeof(t->backend)); break;
	case 14: t->counter_size = 100000; break;
	case 15: t->counter_count_off = t->counter_size; break;
	case 16: t->counter_batch_off = 3; break;
	case 17: memset(e->name, 'a', sizeof(e->name)); break;
	case 18: e->name[1] = '\x1b'; break;
	case 19: e->name[0] = 0; break;
	case 20: e->kind = 7; break;
	case 21: e->addr = t->base + t->stride; break;
	case 22: e->addr = t->base - 8; break;
	case 23: e->addr += 4; break;
	case 24: c->addr = 0x1000; break;		/* not mapped */
	case 25: c->addr = 0; break;
	case 26: c->addr = 0xffffffffffff0000ull; break;
	case 27: drops.deltas = (int64_t *)0x1000; break;
	case 28: drops.batch = 0; break;
	case 29: drops.deltas = NULL; break;
	case 30: t->seq |= 1; break;			/* a change never ends */
	case 31: memset(t, 0xff, sizeof(*t)); break;
	case 32: memset(t, 0, sizeof(*t)); break;
	case 33: ENTRIES(t)[2].addr = 0x2000; break;	/* the ring */
	case 34: ENTRIES(t)[2].addr = (uintptr_t)&drops; break;
	default: return 0;
	}
	return 1;
}

/* What pcpu-stat must say about case k (exit 4 for all of them). */
static const char *const corrupt_says[] = {
	"bad magic", "table version 99", "entries, capacity", "capacity",
	"header size", "stride", "stride", "copies", "copies", "region",
	"region", "values", "index source", "backend or version",
	"layout", "layout", "layout", "bad name", "bad name \"h\\x1bts\"",
	"bad name", "unknown kind", "not a handle", "not a handle",
	"not a handle", "not mapped", "counter address", "counter address",
	"not initialized", "not initialized", "not initialized",
	"stays odd", "bad magic", "bad magic", "not mapped", "no ring at",
};

static void fuzz(struct pcpu_stat_table *t, unsigned int seed)
{
	unsigned char *table = (unsigned char *)t;
	size_t len = sizeof(*t) + 3 * sizeof(ENTRIES(t)[0]);
	int flips = 1 + rand_r(&seed) % 4;

	for (int i = 0; i < flips; i++) {
		if (rand_r(&seed) % 4 == 0)
			((unsigned char *)&drops)[rand_r(&seed) % 24] =
				(unsigned char)rand_r(&seed);
		else
			table[rand_r(&seed) % len] = (unsigned char)rand_r(&seed);
	}
}

/*
 * The target: register, write known values, then obey commands:
 *	c<k>  corruption case k     z<seed>  random flips     r  restore
 *	f     fork a grandchild (answers its pid)  k  kill it    q  quit
 */
static void target_main(int mode, int cmd, int ackfd)
{
	static unsigned char saved[PCPU_STAT_MAP_SIZE];
	struct pcpu_counter saved_drops;
	struct pcpu_stat_table *t;
	size_t len = 0;
	pid_t grandchild = 0;
	char c;

	prctl(PR_SET_NAME, tname);
#ifdef PR_SET_PTRACER
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);	/* Yama, if any */
#endif
	if (mode != T_ROOT && getuid() == 0 &&
	    (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)))
		_exit(4);
	/* A change of user makes a process non-dumpable: say what we want.
	 * Die with the test (a change of user cleared the death signal). */
	prctl(PR_SET_DUMPABLE, mode == T_NOT_DUMPABLE ? 0 : 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (pcpu_stat_ulong("hits", hits) || pcpu_stat_counter("drops", &drops) ||
	    pcpu_stat_ring("trace", ring))
		_exit(5);
	t = own_table(&len);
	if (!t || len != PCPU_STAT_MAP_SIZE)
		_exit(6);
	memcpy(saved, t, len);
	saved_drops = drops;
	t_ack(ackfd, 'R');
	while (read(cmd, &c, 1) == 1) {
		int arg;

		switch (c) {
		case 'c':
			if (read(cmd, &arg, sizeof(arg)) != sizeof(arg))
				_exit(7);
			t_ack(ackfd, corrupt(t, arg) ? 'C' : 'E');
			break;
		case 'z':
			if (read(cmd, &arg, sizeof(arg)) != sizeof(arg))
				_exit(7);
			fuzz(t, (unsigned int)arg);
			t_ack(ackfd, 'Z');
			break;
		case 'r':
			memcpy(t, saved, len);
			drops = saved_drops;
			t_ack(ackfd, 'R');
			break;
		case 'f': {
			int ready[2];

			if (pipe(ready))
				_exit(8);
			grandchild = fork();
			if (grandchild == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				/* Its own table and region: change both. */
				*pcpu_ptr(hits, 0) += 1000;
				if (pcpu_stat_ulong("child-only", hits))
					_exit(8);
				t_ack(ready[1], 'G');
				for (;;)
					pause();
			}
			close(ready[1]);
			if (read(ready[0], &c, 1) != 1 ||
			    write(ackfd, &grandchild, sizeof(grandchild)) !=
			    sizeof(grandchild))
				_exit(9);
			close(ready[0]);
			break;
		}
		case 'k':
			kill(grandchild, SIGKILL);
			waitpid(grandchild, NULL, 0);
			t_ack(ackfd, 'K');
			break;
		default:
			_exit(0);
		}
	}
	_exit(0);
}

static char target_cmd(struct t_target *tg, char c, int arg)
{
	char a = 0;

	if (write(tg->cmd, &c, 1) != 1)
		return 0;
	if ((c == 'c' || c == 'z') &&
	    write(tg->cmd, &arg, sizeof(arg)) != sizeof(arg))
		return 0;
	if (read(tg->ack, &a, 1) != 1)
		return 0;
	return a;
}

/* ---- the checks ---- */

static void check_registration(void)
{
	unsigned long local = 0;
	struct pcpu_counter zero;
	unsigned long __pcpu *h = pcpu_alloc(sizeof(*h), 0);
	char name[64];
	int n;

	memset(&zero, 0, sizeof(zero));
	CHECK(h, "pcpu_alloc: %s", strerror(errno));
	errno = 0;
	CHECK(pcpu_stat_ulong(NULL, h) == -1 && errno == EINVAL, "NULL name");
	CHECK(strstr(pcpu_last_error(), "NULL"), "message: %s",
	      pcpu_last_error());
	CHECK(pcpu_stat_ulong("ok", h) == 0, "register: %s", pcpu_last_error());
	CHECK(!*pcpu_last_error(), "a success leaves \"%s\"", pcpu_last_error());
	CHECK(pcpu_stat_ulong("ok", h) == -1 && errno == EEXIST, "name taken");
	CHECK(strstr(pcpu_last_error(), "taken"), "message: %s",
	      pcpu_last_error());
	{
		static const char *const bad[] = {
			"", "has space", "tab\there", "\x01", "caf\xc3\xa9",
			"0123456789012345678901234567890123456789012345678",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			errno = 0;
			CHECK(pcpu_stat_ulong(bad[i], h) == -1 &&
			      errno == EINVAL, "bad name %zu accepted", i);
			CHECK(strstr(pcpu_last_error(), "bad name"),
			      "message: %s", pcpu_last_error());
		}
	}
	CHECK(pcpu_stat_ulong("a-b_c.d:e/f", h) == 0, "good name refused: %s",
	      pcpu_last_error());
	CHECK(pcpu_stat_ulong("stack", &local) == -1 && errno == EINVAL,
	      "a stack address taken as a handle");
	CHECK(strstr(pcpu_last_error(), "not a per-CPU handle"), "message: %s",
	      pcpu_last_error());
	CHECK(pcpu_stat_ulong("odd", (unsigned long *)((char *)h + 1)) == -1 &&
	      errno == EINVAL, "misaligned handle accepted");
	CHECK(pcpu_stat_counter("c", NULL) == -1 && errno == EINVAL, "NULL counter");
	CHECK(pcpu_stat_counter("c", &zero) == -1 && errno == EINVAL,
	      "never-initialized counter accepted");
	CHECK(strstr(pcpu_last_error(), "not initialized"), "message: %s",
	      pcpu_last_error());
	CHECK(pcpu_stat_remove("nope") == -1 && errno == ENOENT, "remove unknown");
	CHECK(pcpu_stat_remove(NULL) == -1 && errno == EINVAL, "remove NULL");
	CHECK(pcpu_stat_remove("ok") == 0 && pcpu_stat_remove("a-b_c.d:e/f") == 0,
	      "remove: %s", pcpu_last_error());
	CHECK(pcpu_stat_remove("ok") == -1 && errno == ENOENT, "removed twice");

	/* Fill the table; ENOSPC at its capacity, then empty it again. */
	for (n = 0;; n++) {
		snprintf(name, sizeof(name), "n%d", n);
		if (pcpu_stat_ulong(name, h))
			break;
	}
	CHECK(errno == ENOSPC, "full table: %s", strerror(errno));
	CHECK(n == (int)((PCPU_STAT_MAP_SIZE - sizeof(struct pcpu_stat_table)) /
			 sizeof(struct pcpu_stat_entry)), "capacity %d", n);
	printf("registration: table full at %d entries (%s)\n", n,
	       pcpu_last_error());
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		CHECK(pcpu_stat_remove(name) == 0, "remove %s", name);
	}
	pcpu_free(h);
}

static void *fail_in_thread(void *arg)
{
	(void)arg;
	pcpu_stat_remove("no-such-entry");
	return (void *)(uintptr_t)(strstr(pcpu_last_error(), "no entry") != NULL);
}

static void check_last_error_per_thread(void)
{
	pthread_t th;
	void *ret;

	CHECK(pcpu_stat_remove("nothing") == -1, "remove");
	pcpu_stat_counter("x", NULL);
	pthread_create(&th, NULL, fail_in_thread, NULL);
	pthread_join(th, &ret);
	CHECK(ret, "the thread saw no message of its own");
	CHECK(strstr(pcpu_last_error(), "counter"), "another thread's failure "
	      "changed ours: %s", pcpu_last_error());
}

static int has(const char *s)
{
	return strstr(out, s) != NULL;
}

/* The ring's entry: 10 records of 16 bytes written (header included: 32
 * bytes each), nothing read, nothing dropped. */
static void check_ring_json(const char *pid)
{
	const char *p = strstr(out, "{\"name\":\"trace\",\"kind\":\"ring\","
			       "\"mode\":\"discard\"");
	const char *end = p ? strstr(p, "]}") : NULL;
	unsigned long written = 0, read = 0, v;

	CHECK(p && end && strstr(p, "\"dropped\":0,"), "pid %s: ring: %s",
	      pid, out);
	if (!p || !end)
		return;
	for (const char *q = p; (q = strstr(q, "\"written\":")) && q < end; q++)
		if (sscanf(q, "\"written\":%lu,\"read\":%lu", &v, &read) == 2)
			written += v;
	CHECK(written == 10 * 32 && read == 0, "pid %s: ring: %lu bytes "
	      "written, want 320: %s", pid, written, out);
	/* Discard mode counts no records (only overwrite mode keeps a
	 * count): `records` must say "not counted", not 0 after 10. */
	for (const char *q = p; (q = strstr(q, "\"records\":")) && q < end;
	     q++)
		CHECK(!strncmp(q, "\"records\":null}", 15), "pid %s: a "
		      "discard-mode buffer's records must be null: %.20s",
		      pid, q);
}

static void check_json(pid_t pid, unsigned long hits_total, int child_only)
{
	char arg[16], want[256];
	int rc;

	snprintf(arg, sizeof(arg), "%d", (int)pid);
	rc = run_cli(-1, "--json", arg, NULL);
	CHECK(rc == 0, "pcpu-stat --json %s: exit %d: %s", arg, rc, out);
	snprintf(want, sizeof(want), "{\"name\":\"hits\",\"kind\":\"ulong\","
		 "\"total\":%lu,", hits_total);
	CHECK(has(want), "pid %s: no %s in %s", arg, want, out);
	CHECK(has("{\"name\":\"drops\",\"kind\":\"counter\",\"total\":1234,"),
	      "pid %s: drops: %s", arg, out);
	CHECK(has("child-only") == child_only, "pid %s: child-only %s: %s",
	      arg, child_only ? "missing" : "present", out);
	check_ring_json(arg);
}

static void check_cli(struct t_target *tg)
{
	char pid[16], unknown[16];
	int rc, n;
	pid_t other, gone;

	snprintf(pid, sizeof(pid), "%d", (int)tg->pid);
	check_json(tg->pid, want_hits, 0);
	CHECK(has(want_copies), "per copy: want %s in %s", want_copies, out);
	printf("pcpu-stat --json: %.300s\n", out);

	rc = run_cli(-1, pid, NULL);
	CHECK(rc == 0 && has("NAME") && has("TOTAL") && has("hits") &&
	      has("drops") && has("1234"), "text: exit %d: %s", rc, out);
	printf("pcpu-stat:\n%s", out);

	rc = run_cli(-1, "-i", "0.05", "-n", "3", pid, NULL);
	n = 0;
	for (char *p = out; (p = strstr(p, "\nNAME")); p++)
		n++;
	CHECK(rc == 0 && n == 3 && has("RATE/s"), "-i 0.05 -n 3: exit %d, %d "
	      "tables: %s", rc, n, out);
	rc = run_cli(-1, "--json", "-i", "0.05", "-n", "2", pid, NULL);
	n = 0;
	for (char *p = out; (p = strstr(p, "{\"pid\"")); p++)
		n++;
	CHECK(rc == 0 && n == 2, "--json -n 2: exit %d, %d objects", rc, n);

	rc = run_cli(-1, "--json", tname, NULL);
	CHECK(rc == 0 && has("\"total\":1234"), "by name %s: exit %d: %s",
	      tname, rc, out);

	/* Two processes of that name: refused, both listed. */
	other = fork();
	if (other == 0) {
		prctl(PR_SET_NAME, tname);
		for (;;)
			pause();
	}
	usleep(1000);
	for (int i = 0; i < 1000; i++) {	/* until the name is set */
		char comm[32] = "", path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)other);
		f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		if (!strncmp(comm, tname, strlen(tname)))
			break;
		usleep(1000);
	}
	rc = run_cli(-1, tname, NULL);
	CHECK(rc == 2 && has("processes are named"), "two of a name: exit %d: "
	      "%s", rc, out);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);

	/* A process without a table: a fresh program. */
	other = fork();
	if (other == 0) {
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(1);
	}
	for (int i = 0; i < 1000; i++) {	/* until exec is done */
		char exe[256] = "", path[64];
		ssize_t l;

		snprintf(path, sizeof(path), "/proc/%d/exe", (int)other);
		l = readlink(path, exe, sizeof(exe) - 1);
		exe[l > 0 ? l : 0] = 0;
		if (strstr(exe, "sleep"))
			break;
		usleep(1000);
	}
	snprintf(unknown, sizeof(unknown), "%d", (int)other);
	rc = run_cli(-1, unknown, NULL);
	CHECK(rc == 2 && has("has not opted in"), "no table: exit %d: %s", rc,
	      out);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);

	gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(unknown, sizeof(unknown), "%d", (int)gone);
	rc = run_cli(-1, unknown, NULL);
	CHECK(rc == 2, "a process that is gone: exit %d: %s", rc, out);
	rc = run_cli(-1, NULL);
	CHECK(rc == 1, "no argument: exit %d", rc);
	rc = run_cli(-1, "-i", "0", pid, NULL);
	CHECK(rc == 1, "-i 0: exit %d", rc);
	rc = run_cli(-1, "--version", NULL);
	CHECK(rc == 0 && has(PCPU_VERSION_STRING), "--version: %s", out);
}

static void check_fork(struct t_target *tg)
{
	pid_t g = 0;

	if (write(tg->cmd, "f", 1) != 1 ||
	    read(tg->ack, &g, sizeof(g)) != sizeof(g) || g <= 0) {
		CHECK(0, "fork in the target failed");
		return;
	}
	check_json(g, want_hits + 1000, 1);
	check_json(tg->pid, want_hits, 0);
	printf("fork: the grandchild shows its own entry and +1000; the "
	       "target does not\n");
	target_cmd(tg, 'k', 0);
}

static void check_refusal(void)
{
	struct t_target tg;
	char pid[16];
	int rc;

	if (getuid() == 0) {
		if (t_target_start(&tg, target_main, T_ROOT))
			return;
		snprintf(pid, sizeof(pid), "%d", (int)tg.pid);
		rc = run_cli(NOBODY, pid, NULL);
		CHECK(rc == 3 && has("may not read") && has("ptrace"),
		      "nobody on a root process: exit %d: %s", rc, out);
		printf("refused (nobody -> root): %s", out);
		t_target_stop(&tg);

		if (t_target_start(&tg, target_main, T_DUMPABLE))
			return;
		snprintf(pid, sizeof(pid), "%d", (int)tg.pid);
		rc = run_cli(NOBODY, "--json", pid, NULL);
		CHECK(rc == 0 && has("\"total\":1234"), "nobody on its own "
		      "dumpable process: exit %d: %s", rc, out);
		t_target_stop(&tg);
	}
	if (t_target_start(&tg, target_main, T_NOT_DUMPABLE))
		return;
	snprintf(pid, sizeof(pid), "%d", (int)tg.pid);
	rc = run_cli(getuid() == 0 ? NOBODY : -1, pid, NULL);
	CHECK(rc == 3 && has("may not read") && has("DUMPABLE"),
	      "a non-dumpable process: exit %d: %s", rc, out);
	printf("refused (non-dumpable): exit %d\n", rc);
	t_target_stop(&tg);
}

static void check_corruption(struct t_target *tg)
{
	char pid[16];
	int rc, cases = 0, exits[5] = { 0 };

	snprintf(pid, sizeof(pid), "%d", (int)tg->pid);
	for (int k = 0;; k++) {
		char a = target_cmd(tg, 'c', k);

		if (a == 'E')
			break;
		CHECK(a == 'C', "corruption %d: target did not answer", k);
		if (a != 'C')
			return;
		rc = run_cli(-1, "--json", pid, NULL);
		CHECK(rc == 4, "corruption %d: exit %d: %s", k, rc, out);
		if (k < (int)(sizeof(corrupt_says) / sizeof(corrupt_says[0])))
			CHECK(has(corrupt_says[k]), "corruption %d: want \"%s\" "
			      "in: %s", k, corrupt_says[k], out);
		cases++;
		CHECK(target_cmd(tg, 'r', 0) == 'R', "restore");
	}
	CHECK(cases == (int)(sizeof(corrupt_says) / sizeof(corrupt_says[0])),
	      "%d cases, %zu messages", cases,
	      sizeof(corrupt_says) / sizeof(corrupt_says[0]));
	rc = run_cli(-1, "--json", pid, NULL);
	CHECK(rc == 0, "after restore: exit %d: %s", rc, out);

	for (int i = 0; i < (int)t_scale(200); i++) {
		CHECK(target_cmd(tg, 'z', i + 1) == 'Z', "fuzz");
		rc = run_cli(-1, (i & 1) ? "--json" : "-a", pid, NULL);
		CHECK(rc == 0 || rc == 4, "flips %d: exit %d: %s", i + 1, rc, out);
		if (rc >= 0 && rc < 5)
			exits[rc]++;
		CHECK(target_cmd(tg, 'r', 0) == 'R', "restore");
	}
	printf("corruption: %d cases refused (exit 4) with their reason; "
	       "random flips: %d shown, %d refused, never a crash or a hang\n",
	       cases, exits[0], exits[4]);
}

int main(void)
{
	struct t_target tg;
	unsigned int c;

	t_init(NULL);
	check_registration();
	check_last_error_per_thread();
	find_cli();
	if (!cli[0])
		return t_done();

	snprintf(tname, sizeof(tname), "pst-%d", (int)(getpid() % 100000));
	/* What the targets (forked below) hold: copy c of hits = 10 (c + 1),
	 * drops = 1234. */
	hits = pcpu_alloc(sizeof(*hits), 0);
	if (!hits || pcpu_counter_init(&drops, 0, 0)) {
		fprintf(stderr, "set-up: %s\n", strerror(errno));
		return 1;
	}
	strcpy(want_copies, "\"per_copy\":[");
	for (c = 0; c < pcpu_nr_copies(); c++) {
		*pcpu_ptr(hits, c) = 10ul * (c + 1);
		want_hits += 10ul * (c + 1);
		if (strlen(want_copies) < sizeof(want_copies) - 32)
			snprintf(want_copies + strlen(want_copies),
				 sizeof(want_copies) - strlen(want_copies),
				 "%s%lu", c ? "," : "", 10ul * (c + 1));
	}
	strcat(want_copies, "]");
	pcpu_counter_add(&drops, 1000);
	pcpu_counter_add(&drops, 234);
	ring = pcpu_ring_create(&(struct pcpu_ring_params){ .buf_size = 65536 });
	if (!ring) {
		fprintf(stderr, "pcpu_ring_create: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < 10; i++)
		CHECK(!pcpu_ring_write(ring, "0123456789abcdef", 16),
		      "ring write: %s", strerror(errno));
	CHECK(pcpu_stat_ring(NULL, ring) == -1 && errno == EINVAL, "NULL name");
	CHECK(pcpu_stat_ring("r", NULL) == -1 && errno == EINVAL &&
	      strstr(pcpu_last_error(), "NULL"), "NULL ring: %s",
	      pcpu_last_error());

	if (t_target_start(&tg, target_main, T_ROOT))
		return 1;
	check_cli(&tg);
	check_fork(&tg);
	check_corruption(&tg);
	t_target_stop(&tg);
	check_refusal();
	return t_done();
}
