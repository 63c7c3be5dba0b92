// SPDX-License-Identifier: MIT
/*
 * bench_ctxswitch - context-switch cost: two processes pinned to the same
 * CPU play pipe ping-pong, so every round trip is two context switches.
 * Prints, for each mode, the best of several runs in ns per round trip:
 *   BENCH ctxswitch plain ns_per_roundtrip=N     (no per-CPU GS)
 *   BENCH ctxswitch gs_percpu ns_per_roundtrip=N (both tasks striped)
 * "gs_percpu" needs the patched kernel; on other kernels only "plain"
 * runs. vm/run.sh runs this on the patched and the unpatched kernel so the
 * cost of the switch-in branch can be compared. Under QEMU TCG the numbers
 * are rough (emulation noise dominates); compare ratios, not absolutes.
 * Usage: bench_ctxswitch [round_trips]
 */
#include "gs_abi.h"
#include <time.h>
#include <sys/wait.h>

#define RUNS	5

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double pingpong(long n, int striped, char *area)
{
	int ab[2], ba[2], status;
	double t0, t1;
	char c = 0;
	pid_t pid;
	long i;

	if (pipe(ab) || pipe(ba)) {
		perror("pipe");
		exit(1);
	}
	gs_pin(0);
	if (striped && gs_set_percpu((unsigned long)area, 4096)) {
		perror("ARCH_SET_GS_PERCPU");
		exit(1);
	}
	pid = fork();	/* inherits pinning and striping */
	if (pid == 0) {
		for (i = 0; i < n; i++) {
			if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) {
			perror("pipe i/o");
			exit(1);
		}
	}
	t1 = now_ns();
	waitpid(pid, &status, 0);
	close(ab[0]); close(ab[1]); close(ba[0]); close(ba[1]);
	if (striped)
		gs_arch_prctl(ARCH_SET_GS, 0);
	return (t1 - t0) / n;
}

static void bench(const char *mode, long n, int striped, char *area)
{
	double best = 1e30, v;
	int r;

	pingpong(n / 10 + 1, striped, area);	/* warm up */
	for (r = 0; r < RUNS; r++) {
		v = pingpong(n, striped, area);
		if (v < best)
			best = v;
	}
	printf("BENCH ctxswitch %s ns_per_roundtrip=%.0f\n", mode, best);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	char *area = gs_area_new(gs_nr_cpu_ids(), 4096);

	printf("bench_ctxswitch: %ld round trips x %d runs, both tasks on CPU 0\n",
	       n, RUNS);
	bench("plain", n, 0, area);
	if (gs_kernel_has_percpu())
		bench("gs_percpu", n, 1, area);
	else
		printf("bench_ctxswitch: kernel lacks per-CPU GS: gs_percpu mode not run\n");
	return 0;
}
