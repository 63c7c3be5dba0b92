// SPDX-License-Identifier: MIT
/*
 * Seed corpus for ring_fuzz: real ring images (discard and overwrite
 * mode, records of assorted sizes, wrapped and padded pages, an
 * uncommitted record, a partly consumed buffer), each file being the
 * mode byte (0: image) followed by the whole mapping.
 *
 *   mkcorpus DIR
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <percpu/percpu.h>

static void dump(const char *dir, const char *name, struct pcpu_ring *r)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fputc(0, f);
	fwrite(pcpu_ring_mem(r), 1, pcpu_ring_mem_size(r), f);
	fclose(f);
}

static void fill(struct pcpu_ring *r, int n, int step)
{
	unsigned char buf[240];

	for (int i = 0; i < n; i++) {
		size_t len = (size_t)(i * step) % sizeof(buf);

		memset(buf, i, len);
		pcpu_ring_write(r, buf, len);
	}
}

int main(int argc, char **argv)
{
	struct pcpu_ring_params p = { 4096, 256, 0 };
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	unsigned char buf[256];
	struct pcpu_ring *r;
	cpu_set_t set;

	if (argc < 2)
		return 2;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);

	r = pcpu_ring_create(&p);
	fill(r, 20, 13);
	dump(argv[1], "discard-few", r);
	fill(r, 400, 29);
	dump(argv[1], "discard-full", r);
	pcpu_ring_reader_open(&rd, pcpu_ring_mem(r), pcpu_ring_mem_size(r));
	for (int i = 0; i < 30; i++)
		pcpu_ring_read(&rd, 0, &e, buf, sizeof(buf));
	pcpu_ring_reader_close(&rd);
	fill(r, 40, 7);
	pcpu_ring_reserve(r, 33);	/* never committed */
	fill(r, 5, 3);
	dump(argv[1], "discard-wrapped-uncommitted", r);
	pcpu_ring_destroy(r);

	p.flags = PCPU_RING_OVERWRITE;
	r = pcpu_ring_create(&p);
	fill(r, 1000, 17);
	dump(argv[1], "overwrite-lapped", r);
	pcpu_ring_destroy(r);
	return 0;
}
