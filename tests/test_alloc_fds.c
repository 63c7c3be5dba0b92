// SPDX-License-Identifier: MIT
/*
 * The allocator keeps no file descriptor of its own between calls.  It
 * reads /proc/self/pagemap to tell swapped-out pages from untouched ones
 * when it re-zeroes freed memory; it used to keep that descriptor open in
 * a static, and in a fork child it closed "its" number before reopening:
 * a child that had closed what it inherited and opened a file that got
 * the same number (a daemon's log) lost that file at its first
 * pcpu_free().  Checked: no descriptor stays open after pcpu_free() in
 * the parent, and in such a child the application's file still works
 * after pcpu_free().
 */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

int main(void)
{
	void *filler, *h;
	int before, after, st, fd;
	pid_t pid;

	t_init(NULL);
	/* Off copy 0's first page, which fork's handlers touch. */
	filler = pcpu_alloc(8192, 8);
	CHECK(filler != NULL, "alloc");
	before = count_fds();
	h = pcpu_alloc(8, 8);
	CHECK(h != NULL, "alloc");
	this_cpu_write((long *)h, 1);
	CHECK(pcpu_free(h) == 0, "free");	/* scrubs untouched copies */
	after = count_fds();
	printf("open descriptors: %d before pcpu_free(), %d after (expected "
	       "the same)\n", before, after);
	CHECK(before >= 0 && after == before,
	      "pcpu_free() left %d descriptor(s) open", after - before);

	fd = open("/dev/null", O_RDONLY);	/* one more to inherit */
	CHECK(fd >= 0, "open");
	fflush(stdout);
	pid = fork();
	if (!pid) {
		char path[] = "/tmp/pcpu-test-fds.XXXXXX";
		int mine[8], ok = 1;

		/* A daemon: close everything inherited, open its own. */
		for (int i = 3; i < 64; i++)
			close(i);
		for (int i = 0; i < 8; i++) {
			strcpy(path, "/tmp/pcpu-test-fds.XXXXXX");
			mine[i] = mkstemp(path);
			if (mine[i] < 0)
				_exit(2);
			unlink(path);
		}
		h = pcpu_alloc(8, 8);
		if (!h)
			_exit(3);
		pcpu_free(h);
		for (int i = 0; i < 8; i++) {
			if (write(mine[i], "hello\n", 6) != 6) {
				printf("child: its file on descriptor %d "
				       "after pcpu_free(): %s\n", mine[i],
				       strerror(errno));
				ok = 0;
			}
		}
		if (ok)
			printf("child: its 8 files (descriptors %d..%d) "
			       "still work after pcpu_free()\n", mine[0],
			       mine[7]);
		fflush(stdout);
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/wait");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "the child's own file was lost (status %#x)", st);
	close(fd);
	CHECK(pcpu_free(filler) == 0, "free");
	return t_done();
}
