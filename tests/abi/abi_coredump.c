// SPDX-License-Identifier: MIT
/*
 * abi_coredump - a core dump reports the GS base in effect for each thread:
 * base + cpu * stride for the CPU the thread was on. The dumping thread
 * (pinned to one CPU) takes the live-register path, a second thread
 * (pinned to another CPU, blocked) the saved-state path. Reads the
 * NT_PRSTATUS notes of the core file. Needs root to point core_pattern at
 * /tmp (the VM runs tests as root); skips otherwise.
 */
#include "gs_abi.h"
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/procfs.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/wait.h>

#define PATTERN "/tmp/abi_core.%p"

static char *area;
static unsigned long stride = 4096;
static int cpu_main, cpu_thread;
static volatile pid_t thread_tid;

static void *blocker(void *arg)
{
	(void)arg;
	gs_pin(cpu_thread);
	sched_yield();
	thread_tid = gettid();
	for (;;)
		pause();
	return NULL;
}

static void crasher(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	pthread_t t;

	setrlimit(RLIMIT_CORE, &rl);
	gs_pin(cpu_main);
	if (gs_set_percpu((unsigned long)area, stride))
		_exit(3);
	pthread_create(&t, NULL, blocker, NULL);
	while (!thread_tid)
		sched_yield();
	usleep(20000);	/* let it block, switched out on its CPU */
	gs_pin(cpu_main);
	abort();
}

/* Parse the core; returns failures. */
static int check_core(const char *path, pid_t pid)
{
	unsigned long want_main = (unsigned long)area + cpu_main * stride;
	unsigned long want_thr = (unsigned long)area + cpu_thread * stride;
	size_t gs_idx = offsetof(struct user_regs_struct, gs_base) /
			sizeof(unsigned long long);
	int fd = open(path, O_RDONLY), bad = 0, seen = 0, i;
	struct stat st;
	Elf64_Ehdr *eh;
	char *core;

	if (fd < 0 || fstat(fd, &st)) {
		gs_fail("no core file %s", path);
		return 1;
	}
	core = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (core == MAP_FAILED)
		return 1;
	eh = (Elf64_Ehdr *)core;
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(core + eh->e_phoff +
						i * eh->e_phentsize);
		size_t off = ph->p_offset, end = ph->p_offset + ph->p_filesz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			Elf64_Nhdr *nh = (Elf64_Nhdr *)(core + off);
			char *desc = core + off + sizeof(*nh) +
				     ((nh->n_namesz + 3) & ~3U);

			if (nh->n_type == NT_PRSTATUS) {
				struct elf_prstatus *ps = (void *)desc;
				unsigned long gs = ps->pr_reg[gs_idx];
				unsigned long want = ps->pr_pid == pid ?
						     want_main : want_thr;

				seen++;
				printf("  core: tid %d gs_base %#lx, want %#lx (%s)\n",
				       ps->pr_pid, gs, want,
				       ps->pr_pid == pid ? "dumping thread"
							 : "blocked thread");
				if (gs != want)
					bad++;
			}
			off += sizeof(*nh) + ((nh->n_namesz + 3) & ~3U) +
			       ((nh->n_descsz + 3) & ~3U);
		}
	}
	munmap(core, st.st_size);
	if (seen != 2) {
		gs_fail("expected 2 NT_PRSTATUS notes, found %d", seen);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	char path[64], old[256] = "";
	cpu_set_t allowed;
	int fd, status, nr, i, n = 0;
	ssize_t len;
	pid_t pid;

	gs_require_kernel(argc, argv, "abi_coredump");
	nr = gs_nr_cpu_ids();
	gs_allowed_cpus(&allowed);
	cpu_main = cpu_thread = -1;
	for (i = 0; i < nr; i++) {
		if (!CPU_ISSET(i, &allowed))
			continue;
		if (n++ == 0)
			cpu_main = i;
		else
			cpu_thread = i;
	}
	if (cpu_thread < 0)
		cpu_thread = cpu_main;
	area = gs_area_new(nr, stride);

	fd = open("/proc/sys/kernel/core_pattern", O_RDWR);
	if (fd < 0) {
		printf("abi_coredump: cannot open core_pattern (not root?), skipping\n");
		return GS_EXIT_SKIP;
	}
	len = read(fd, old, sizeof(old) - 1);
	old[len > 0 ? len : 0] = 0;
	if (pwrite(fd, PATTERN, strlen(PATTERN), 0) != (ssize_t)strlen(PATTERN)) {
		printf("abi_coredump: cannot set core_pattern, skipping\n");
		close(fd);
		return GS_EXIT_SKIP;
	}

	pid = fork();
	if (pid == 0)
		crasher();
	waitpid(pid, &status, 0);
	if (!WIFSIGNALED(status) || !WCOREDUMP(status)) {
		gs_fail("child did not dump core (status %#x)", status);
	} else {
		snprintf(path, sizeof(path), "/tmp/abi_core.%d", pid);
		if (check_core(path, pid) == 0)
			gs_ok("core dump reports the per-CPU GS base of both threads");
		else
			gs_fail("core dump GS base mismatch");
		unlink(path);
	}
	if (old[0])
		pwrite(fd, old, strlen(old), 0);
	close(fd);

	printf("abi_coredump: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
