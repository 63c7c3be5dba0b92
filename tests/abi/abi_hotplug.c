// SPDX-License-Identifier: MIT
/*
 * abi_hotplug - CPU hotplug needs no help from the layout: the slots are
 * reserved for every possible CPU (nr_cpu_ids) at SET, and the possible
 * mask does not change at run time.
 *
 * A striped task and a thread of it run while the highest-numbered CPU
 * goes offline: both keep striping on the CPUs left, and a thread created
 * meanwhile inherits the layout. When the CPU comes back, a task pinned
 * to it reads that CPU's slot, with no new SET.
 * Skips where no CPU can go offline (one CPU, no CONFIG_HOTPLUG_CPU, no
 * write access to /sys/devices/system/cpu/cpuN/online).
 */
#include "gs_abi.h"
#include <fcntl.h>
#include <pthread.h>

static char *area;
static unsigned long stride = 4096;
static int nr, victim;
static volatile int stop;
static volatile unsigned long thread_bad, thread_checks;

static int set_online(int cpu, int on)
{
	char path[64];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online",
		 cpu);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ok = write(fd, on ? "1" : "0", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/* Pinned to each online CPU but @skip: the right slot? Failures. */
static int check_online(const char *who, int skip)
{
	cpu_set_t set;
	int cpu, bad = 0;

	gs_allowed_cpus(&set);
	for (cpu = 0; cpu < nr; cpu++) {
		if (cpu == skip || gs_pin(cpu))
			continue;
		if (gs_read(GS_SLOT_CPU) != (unsigned long)cpu) {
			gs_fail("%s on CPU %d: %%gs:0 = %lu", who, cpu,
				gs_read(GS_SLOT_CPU));
			bad++;
		}
	}
	sched_setaffinity(0, sizeof(set), &set);
	return bad;
}

/*
 * %gs:0 read between two sched_getcpu() calls that agree: 1 if it names
 * another CPU, 0 if it names this one, -1 if the thread moved meanwhile.
 */
static int slot_mismatch(void)
{
	unsigned long slot;
	int c1, c2;

	c1 = sched_getcpu();
	slot = gs_read(GS_SLOT_CPU);
	c2 = sched_getcpu();
	if (c1 != c2)
		return -1;
	return slot != (unsigned long)c1;
}

/*
 * Roams freely through the hotplug: %gs:0 must name its CPU. A thread
 * moved away and back between the reads would look wrong once, so only a
 * mismatch seen twice in a row counts.
 */
static void *roamer(void *arg)
{
	(void)arg;
	while (!stop) {
		int r = slot_mismatch();

		if (r < 0)
			continue;
		thread_checks++;
		if (r && slot_mismatch() == 1)
			thread_bad++;
	}
	return NULL;
}

static void *late_thread(void *arg)
{
	unsigned long b, s;

	(void)arg;
	if (gs_get_percpu(&b, &s) || b != (unsigned long)area)
		return (void *)1L;
	return (void *)(long)check_online("thread created while offline",
					  victim);
}

int main(int argc, char **argv)
{
	cpu_set_t all;
	pthread_t t, lt;
	void *ret;
	int i;

	gs_require_kernel(argc, argv, "abi_hotplug");
	nr = gs_nr_cpu_ids();
	if (gs_allowed_cpus(&all) < 2) {
		printf("abi_hotplug: needs 2 CPUs\n");
		return GS_EXIT_SKIP;
	}
	for (victim = nr - 1; victim > 0; victim--)
		if (CPU_ISSET(victim, &all))
			break;
	area = gs_area_new(nr, stride);
	if (gs_set_percpu((unsigned long)area, stride)) {
		gs_fail("SET: %s", strerror(errno));
		return 1;
	}
	if (pthread_create(&t, NULL, roamer, NULL)) {
		gs_fail("pthread_create");
		return 1;
	}
	usleep(100000);
	if (set_online(victim, 0)) {
		stop = 1;
		pthread_join(t, NULL);
		printf("abi_hotplug: cannot take CPU %d offline: %s\n", victim,
		       strerror(errno));
		return GS_EXIT_SKIP;
	}
	gs_ok("CPU %d offline", victim);
	if (check_online("parent, CPU offline", victim) == 0)
		gs_ok("parent stripes on the CPUs left");
	if (pthread_create(&lt, NULL, late_thread, NULL) ||
	    pthread_join(lt, &ret) || ret)
		gs_fail("a thread created while CPU %d is offline does not stripe",
			victim);
	else
		gs_ok("a thread created while CPU %d is offline stripes",
		      victim);

	/* Bring it back; it may take a few tries under emulation. */
	for (i = 0; i < 50 && set_online(victim, 1); i++)
		usleep(100000);
	usleep(100000);
	stop = 1;
	pthread_join(t, NULL);
	if (thread_bad)
		gs_fail("roaming thread: %lu of %lu reads named another CPU's slot",
			thread_bad, thread_checks);
	else
		gs_ok("roaming thread: %lu reads, each on its own CPU's slot",
		      thread_checks);
	if (gs_pin(victim)) {
		gs_fail("CPU %d did not come back online: %s", victim,
			strerror(errno));
	} else if (gs_read(GS_SLOT_CPU) != (unsigned long)victim) {
		gs_fail("back on CPU %d: %%gs:0 = %lu", victim,
			gs_read(GS_SLOT_CPU));
	} else {
		gs_ok("CPU %d back online: its slot, with no new SET", victim);
	}

	printf("abi_hotplug: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
