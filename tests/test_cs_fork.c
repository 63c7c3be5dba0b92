// SPDX-License-Identifier: MIT
/*
 * The fork child's unlocking of the critical-section locks touches only
 * the lock words that can be held, not one page per copy: with 4096
 * possible CPUs (PCPU_TEST_POSSIBLE, set here by re-executing when the
 * caller did not), the child must start with few minor faults, and its
 * sections must still work (every lock free), on this CPU's copy and on
 * the spare.  The region is MAP_NORESERVE: a write to each copy's lock
 * words committed a page per copy in every child (4118 faults, 17 MiB).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <sys/resource.h>
#include <sys/wait.h>

#define POSSIBLE	"0-4095"

static intptr_t __pcpu *word;

static int one_section(void)
{
	struct pcpu_cs cs;
	int r;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		intptr_t *w = pcpu_cs_ptr(&cs, word);
		intptr_t v = __atomic_load_n(w, __ATOMIC_RELAXED);

		r = pcpu_cs_cmpeqv_storev(&cs, w, v, v + 1);
		if (r == PCPU_CS_OK)
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct rusage ru;
	int status = 0;
	pid_t pid;

	(void)argc;
	if (!getenv("PCPU_TEST_POSSIBLE")) {
		setenv("PCPU_TEST_POSSIBLE", POSSIBLE, 1);
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	t_init(NULL);
	word = pcpu_alloc(sizeof(intptr_t), sizeof(intptr_t));
	CHECK(word != NULL, "pcpu_alloc: %s", strerror(errno));
	if (!word)
		return t_done();
	/* Sections in the parent first: this CPU's copy, and the fence
	 * (which takes the spare's locks). */
	one_section();
	CHECK(pcpu_cs_fence(pcpu_nr_copies() - 1) == 0, "fence: %s",
	      strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		long faults;

		getrusage(RUSAGE_SELF, &ru);
		faults = ru.ru_minflt;
		one_section();
		/* The spare's locks (taken by the fence) must be free. */
		if (pcpu_cs_fence(pcpu_nr_copies() - 1))
			_exit(3);
		printf("child of a %u-copy process: %ld minor faults at its "
		       "start (expected well under %u)\n", pcpu_nr_copies(),
		       faults, pcpu_nr_copies() / 8);
		fflush(stdout);
		_exit(faults < (long)(pcpu_nr_copies() / 8) ? 0 : 2);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	if (pid > 0) {
		CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child: status %#x (2: too many faults, 3: a lock "
		      "stayed held)", status);
	}
	pcpu_free(word);
	return t_done();
}
