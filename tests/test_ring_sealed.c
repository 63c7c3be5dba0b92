// SPDX-License-Identifier: MIT
/*
 * A ring's memfd cannot be resized under a consumer in another process.
 * Its size is sealed (F_SEAL_SHRINK | F_SEAL_GROW, and F_SEAL_SEAL so the
 * seals stay as they are): a writer that ftruncate()s it gets EPERM, and
 * a consumer in a child process that mapped it reads every record after
 * the attempt (before the seals, the truncation succeeded and the
 * consumer died of SIGBUS at its next read).
 *
 * pcpu_ring_reader_open_fd() maps only what it can trust: an unsealed
 * memfd holding a ring image, one sealed against shrinking only, a file
 * on disk, a sealed memfd too small or holding no ring, a pipe, a closed
 * fd and a read-only fd are refused with their errno and leave no
 * mapping; so is a sealed hugetlbfs memfd (MFD_HUGETLB), EINVAL: hugetlbfs
 * takes the size seals but still punches holes, and a reader whose page
 * is refaulted from an exhausted huge page pool dies of SIGBUS; on the ring's own fd it reads every record, and
 * pcpu_ring_reader_close() removes the mapping it made.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define NREC	100

/* Mappings of memfds named pcpu_ring* in this process. */
static int ring_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "memfd:pcpu_ring") != NULL;
	fclose(f);
	return n;
}

static void write_records(struct pcpu_ring *r, uint64_t from, uint64_t n)
{
	for (uint64_t v = from; v < from + n; v++)
		CHECK(pcpu_ring_write(r, &v, sizeof(v)) == 0, "write %llu: %s",
		      (unsigned long long)v, strerror(errno));
}

/* Reads records from rd until none, checking the sequence; returns how
 * many. */
static long drain(struct pcpu_ring_reader *rd, uint64_t *next)
{
	struct pcpu_ring_entry e;
	uint64_t v;
	long n = 0;

	while (pcpu_ring_read_next(rd, &e, &v, sizeof(v)) == 1) {
		if (v != *next)
			return -1;
		(*next)++;
		n++;
	}
	return n;
}

static void seals(struct pcpu_ring *r)
{
	int s = fcntl(pcpu_ring_fd(r), F_GET_SEALS);

	printf("seals: %#x (shrink %d, grow %d, seal %d)\n", s,
	       s >= 0 && (s & F_SEAL_SHRINK) != 0,
	       s >= 0 && (s & F_SEAL_GROW) != 0,
	       s >= 0 && (s & F_SEAL_SEAL) != 0);
	CHECK(s >= 0 && (s & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
	      (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	      "the ring's memfd must be sealed (seals %#x)", s);
}

/*
 * The consumer in a child reads half, the parent (the writer side) tries
 * to shrink the memfd, the child reads the rest, then the parent tries to
 * grow it.  The parent does not touch its own mapping after the attempt:
 * if the truncation went through, it would fault there too.
 */
static void truncate_under_consumer(struct pcpu_ring *r)
{
	int go[2], ready[2], status = 0, tr_shrink, tr_grow, e_shrink, e_grow;
	off_t size = (off_t)pcpu_ring_mem_size(r);
	char c = 0;
	pid_t pid;

	write_records(r, 0, NREC);
	if (pipe(go) || pipe(ready)) {
		CHECK(0, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct pcpu_ring_reader rd;
		struct pcpu_ring_entry e;
		uint64_t v, next = 0;
		long n = 0;

		close(go[1]);
		close(ready[0]);
		if (pcpu_ring_reader_open_fd(&rd, pcpu_ring_fd(r)))
			_exit(2);
		while (n < NREC / 2 &&
		       pcpu_ring_read_next(&rd, &e, &v, sizeof(v)) == 1)
			n += v == next++;
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		/* Before the seals: SIGBUS here, the pages are gone. */
		while (pcpu_ring_read_next(&rd, &e, &v, sizeof(v)) == 1)
			n += v == next++;
		pcpu_ring_reader_close(&rd);
		_exit(n == NREC ? 0 : 4);
	}
	close(go[0]);
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		CHECK(0, "consumer child did not start");
		return;
	}
	tr_shrink = ftruncate(pcpu_ring_fd(r), 4096);
	e_shrink = errno;
	if (write(go[1], &c, 1) != 1)
		CHECK(0, "pipe write");
	waitpid(pid, &status, 0);
	/* After the consumer is done: growing back would hide the loss. */
	tr_grow = ftruncate(pcpu_ring_fd(r), size * 2);
	e_grow = errno;
	printf("writer: ftruncate to 4096 %s, to %lld %s; consumer: expected "
	       "exit status 0 (all %d records read), observed %s %d\n",
	       tr_shrink ? strerror(e_shrink) : "succeeded",
	       (long long)size * 2, tr_grow ? strerror(e_grow) : "succeeded",
	       NREC, WIFSIGNALED(status) ? "killed by signal" : "exit status",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	CHECK(tr_shrink == -1 && e_shrink == EPERM, "shrink must fail EPERM");
	CHECK(tr_grow == -1 && e_grow == EPERM, "grow must fail EPERM");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "consumer must read all %d records and exit 0 (%s %d)", NREC,
	      WIFSIGNALED(status) ? "signal" : "status",
	      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	close(go[1]);
	close(ready[0]);
}

/* A memfd holding len bytes of img, with the given seals. */
static int image_fd(const void *img, size_t len, int seals)
{
	int fd = memfd_create("pcpu_ring_copy", MFD_CLOEXEC |
			      (seals ? MFD_ALLOW_SEALING : 0));

	if (fd < 0)
		return -1;
	if (write(fd, img, len) != (ssize_t)len ||
	    (seals && fcntl(fd, F_ADD_SEALS, seals))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void refuse(const char *what, int fd, int want)
{
	struct pcpu_ring_reader rd;
	int before = ring_maps(), ret, err;

	errno = 0;
	ret = pcpu_ring_reader_open_fd(&rd, fd);
	err = errno;
	printf("open_fd on %s: %s\n", what, ret ? strerror(err) : "opened");
	CHECK(ret == -1 && err == want, "open_fd on %s: want %s, got %s", what,
	      strerror(want), ret ? strerror(err) : "success");
	if (!ret)
		pcpu_ring_reader_close(&rd);
	CHECK(ring_maps() == before, "open_fd on %s left a mapping", what);
}

/*
 * A sealed hugetlbfs memfd holding the ring image if the huge page pool
 * can back it (otherwise holes, read as zeros: refused either way, and
 * with EINVAL, before its contents are looked at).  Creating one needs no
 * huge page; a shared mapping of it reserves them at mmap() and fails
 * with ENOMEM when the pool is empty, so nothing here faults.
 */
static void refuse_hugetlb(const void *img, size_t size)
{
	size_t huge = 2u << 20, len = (size + huge - 1) / huge * huge;
	const char *with = "holes (no huge page in the pool)";
	void *m;
	int fd;

	fd = memfd_create("pcpu_ring_huge", MFD_CLOEXEC | MFD_ALLOW_SEALING |
			  MFD_HUGETLB);
	if (fd < 0) {
		printf("open_fd on a sealed hugetlb memfd: not run, "
		       "memfd_create(MFD_HUGETLB): %s (no other file system "
		       "takes the size seals)\n", strerror(errno));
		return;
	}
	if (ftruncate(fd, (off_t)len)) {
		printf("open_fd on a sealed hugetlb memfd: not run, "
		       "ftruncate(%zu): %s\n", len, strerror(errno));
		close(fd);
		return;
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		memcpy(m, img, size);
		munmap(m, len);
		with = "the ring image";
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)) {
		printf("open_fd on a sealed hugetlb memfd: not run, "
		       "F_ADD_SEALS: %s\n", strerror(errno));
		close(fd);
		return;
	}
	printf("hugetlb memfd of %zu bytes, sealed, holding %s\n", len, with);
	refuse("a sealed hugetlb memfd", fd, EINVAL);
	close(fd);
}

static void open_fd_checks(struct pcpu_ring *r)
{
	size_t size = pcpu_ring_mem_size(r);
	unsigned char *img = malloc(size), *zero = calloc(1, size);
	struct pcpu_ring_reader rd;
	char path[] = "/tmp/pcpu_ring_testXXXXXX";
	int fd, p[2] = { -1, -1 }, maps;
	uint64_t next = 0;
	long n;

	memcpy(img, pcpu_ring_mem(r), size);
	fd = image_fd(img, size, 0);
	refuse("an unsealed memfd with a ring image", fd, EPERM);
	close(fd);
	fd = image_fd(img, size, F_SEAL_SHRINK);
	refuse("a memfd sealed against shrinking only", fd, EPERM);
	close(fd);
	fd = image_fd(img, 100, F_SEAL_SHRINK | F_SEAL_GROW);
	refuse("a sealed memfd of 100 bytes", fd, EBADMSG);
	close(fd);
	fd = image_fd(zero, size, F_SEAL_SHRINK | F_SEAL_GROW);
	refuse("a sealed memfd of zeros", fd, EBADMSG);
	close(fd);
	refuse_hugetlb(img, size);
	fd = mkstemp(path);
	if (fd >= 0) {
		unlink(path);
		if (write(fd, img, size) == (ssize_t)size)
			refuse("a file on disk", fd, EPERM);
		close(fd);
	}
	if (!pipe(p)) {
		refuse("a pipe", p[0], EINVAL);
		close(p[0]);
		close(p[1]);
	}
	refuse("a closed fd", p[0] >= 0 ? p[0] : 1000000, EBADF);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pcpu_ring_fd(r));
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		refuse("a read-only fd of the ring", fd, EACCES);
		close(fd);
	}
	free(img);
	free(zero);

	maps = ring_maps();
	CHECK(pcpu_ring_reader_open_fd(&rd, pcpu_ring_fd(r)) == 0,
	      "open_fd on the ring: %s", strerror(errno));
	CHECK(ring_maps() == maps + 1, "open_fd must map the ring once");
	write_records(r, 0, NREC);
	n = drain(&rd, &next);
	printf("open_fd on the ring: %d records expected, %ld read; mappings "
	       "%d -> %d -> ", NREC, n, maps, maps + 1);
	CHECK(n == NREC, "read %ld of %d", n, NREC);
	pcpu_ring_reader_close(&rd);
	printf("%d after close\n", ring_maps());
	CHECK(ring_maps() == maps, "close must unmap what open_fd mapped");
	pcpu_ring_reader_close(&rd);	/* twice is harmless */
	CHECK(pcpu_ring_reader_open_fd(NULL, pcpu_ring_fd(r)) == -1 &&
	      errno == EINVAL, "open_fd(NULL)");
}

int main(void)
{
	struct pcpu_ring_params p = { 1 << 14, 1024, 0 };
	struct pcpu_ring *r;
	cpu_set_t set;

	t_init(NULL);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	r = pcpu_ring_create(&p);
	CHECK(r != NULL, "create: %s", strerror(errno));
	if (!r)
		return t_done();
	if (pcpu_ring_fd(r) < 0) {
		printf("skip: no memfd here (%s): nothing to seal\n",
		       strerror(errno));
		pcpu_ring_destroy(r);
		return T_SKIP;
	}
	seals(r);
	open_fd_checks(r);
	pcpu_ring_destroy(r);
	/* Last: before the seals this leaves the ring's pages truncated. */
	r = pcpu_ring_create(&p);
	CHECK(r != NULL, "create: %s", strerror(errno));
	if (r) {
		truncate_under_consumer(r);
		pcpu_ring_destroy(r);
	}
	return t_done();
}
