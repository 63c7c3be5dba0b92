// SPDX-License-Identifier: MIT
/*
 * The ring consumer on corrupted buffers, in the regular test run (the
 * libFuzzer target in fuzz/ goes further): real ring images, discard and
 * overwrite mode, are damaged by random byte flips (anywhere, or aimed at
 * record headers, control blocks and the shared header), then read to the
 * end with pcpu_ring_read and pcpu_ring_read_next.  Every call must return
 * (bounded work), stay inside the mapping (run it under ASan:
 * SANITIZE=address,undefined) and meet damage with records or "no record",
 * never an error: the damaged regions are skipped and counted (corrupt).
 * The pristine images read back exactly.
 */
#include "harness.h"

#include <stdint.h>

#define ROUNDS	4000

static unsigned char out[1 << 16];

static void pin0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Reads everything; returns records read, -1 if a call misbehaved. */
static long drain(void *mem, size_t size, long *bad, long *opened)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	long n = 0, calls = 0;
	int ret;

	if (pcpu_ring_reader_open(&rd, mem, size)) {
		if (errno != EBADMSG && errno != EINVAL)
			return -1;
		return 0;
	}
	(*opened)++;
	for (unsigned int c = 0; c < pcpu_ring_reader_nbufs(&rd); c++) {
		while ((ret = pcpu_ring_read(&rd, c, &e, out, sizeof(out))) == 1)
			if (++calls > 1000000)
				return -1;
		n += calls;
		calls = 0;
		if (ret < 0)
			return -1;	/* damage is skipped, not an error */
	}
	while ((ret = pcpu_ring_read_next(&rd, &e, out, sizeof(out))) == 1)
		if (++calls > 1000000)
			return -1;
	if (ret < 0)
		return -1;
	for (unsigned int c = 0; c < pcpu_ring_reader_nbufs(&rd); c++) {
		struct pcpu_ring_stats st;

		pcpu_ring_reader_stats(&rd, c, &st);
		*bad += (long)(st.corrupt + st.abandoned);
	}
	pcpu_ring_reader_close(&rd);
	return n + calls;
}

static void run(unsigned int flags, unsigned int seed)
{
	struct pcpu_ring_params p = { 4096, 256, flags };
	struct pcpu_ring *r = pcpu_ring_create(&p);
	unsigned char *img, *copy, buf[200];
	long written = 0, n, bad = 0, opened = 0, records = 0, wild = 0;
	size_t size;

	CHECK(r != NULL, "create: %s", strerror(errno));
	if (!r)
		return;
	for (int i = 0; i < 300; i++) {
		size_t len = (size_t)(i * 37) % sizeof(buf);

		memset(buf, i, len);
		written += pcpu_ring_write(r, buf, len) == 0;
	}
	pcpu_ring_reserve(r, 40);	/* one record never committed */
	size = pcpu_ring_mem_size(r);
	img = malloc(size);
	copy = aligned_alloc(4096, size);
	memcpy(img, pcpu_ring_mem(r), size);

	memcpy(copy, img, size);
	n = drain(copy, size, &bad, &opened);
	printf("%s: pristine image: written %ld, read %ld\n",
	       flags ? "overwrite" : "discard", written, n);
	CHECK(flags ? n > 0 : n == written, "pristine read %ld", n);

	bad = opened = 0;
	for (int round = 0; round < ROUNDS; round++) {
		int flips = 1 + rand_r(&seed) % 8;

		memcpy(copy, img, size);
		for (int k = 0; k < flips; k++) {
			size_t at;

			switch (rand_r(&seed) % 4) {
			case 0:		/* the shared header */
				at = (size_t)rand_r(&seed) % 128;
				break;
			case 1:		/* control blocks and commit counts */
				at = 4096 + (size_t)rand_r(&seed) % 4096;
				break;
			default:	/* anywhere, mostly the buffers */
				at = (size_t)rand_r(&seed) % size;
				break;
			}
			copy[at] ^= (unsigned char)(1 + rand_r(&seed) % 255);
		}
		/* Sometimes a whole wild 8-byte word. */
		if (rand_r(&seed) % 4 == 0) {
			uint64_t v = (uint64_t)rand_r(&seed) << 33 ^
				     (uint64_t)rand_r(&seed) << 7 ^
				     (uint64_t)rand_r(&seed);
			size_t at = ((size_t)rand_r(&seed) % size) & ~(size_t)7;

			memcpy(copy + at, &v, sizeof(v));
			wild++;
		}
		n = drain(copy, size, &bad, &opened);
		CHECK(n >= 0, "round %d: a reader call misbehaved (errno %d)",
		      round, errno);
		if (n > 0)
			records += n;
	}
	printf("%s: %d damaged images: %ld opened, %ld records read, %ld "
	       "damaged regions skipped, %ld wild words; no crash, no error\n",
	       flags ? "overwrite" : "discard", ROUNDS, opened, records, bad,
	       wild);
	CHECK(opened > ROUNDS / 4, "too few images survived open: %ld", opened);
	free(img);
	free(copy);
	pcpu_ring_destroy(r);
}

int main(void)
{
	t_init(NULL);
	pin0();
	run(0, 1);
	run(PCPU_RING_OVERWRITE, 2);
	return t_done();
}
