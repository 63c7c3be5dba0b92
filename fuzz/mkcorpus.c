// SPDX-License-Identifier: MIT
/*
 * Seed corpus for ring_fuzz: real ring images (discard and overwrite
 * mode, records of assorted sizes, wrapped and padded pages, an
 * uncommitted record, a partly consumed buffer), each file being the
 * mode byte (0: image by pointer, 2: image through a sealed memfd)
 * followed by the whole mapping; then the same images damaged the ways
 * a hostile writer would (a header's length, stamp or commit flag, a
 * reservation left pending among committed records, a buffer of nothing
 * but padding, an odd or out-of-range tail, an out-of-range write
 * position, page words that claim a newer lap); and
 * synth-mode inputs (mode byte 1) with bogus commits.
 *
 *   mkcorpus DIR
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <percpu/percpu.h>

static const char *dir;

static void dump_bytes(const char *name, int mode, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return;
	fputc(mode, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

static void dump(const char *name, struct pcpu_ring *r)
{
	dump_bytes(name, 0, pcpu_ring_mem(r), pcpu_ring_mem_size(r));
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

static struct pcpu_ring_ctl *ctl0(struct pcpu_ring *r)
{
	struct pcpu_ring_shared *sh = pcpu_ring_mem(r);

	return (struct pcpu_ring_ctl *)((char *)sh + sh->ctl_off);
}

/* A ring with 20 records on CPU 0; hdr[k]: record k's header. */
static struct pcpu_ring *few(uint64_t **hdr, int pending)
{
	struct pcpu_ring_params p = { 4096, 256, 0 };
	struct pcpu_ring *r = pcpu_ring_create(&p);

	for (int k = 0; r && k < 20; k++) {
		char *rec = pcpu_ring_reserve(r, (size_t)(k * 13) % 200);

		if (!rec)
			continue;
		memset(rec, k, (size_t)(k * 13) % 200);
		hdr[k] = (uint64_t *)(rec - PCPU_RING_HDR_SIZE);
		if (k != pending)
			pcpu_ring_commit(r, rec);
	}
	return r;
}

static void damaged(void)
{
	uint64_t *hdr[20] = { 0 };
	struct pcpu_ring_params p = { 4096, 64, 0 };
	struct pcpu_ring_shared *sh;
	struct pcpu_ring *r;
	uint64_t *h;

	r = few(hdr, -1);
	dump_bytes("fd-discard-few", 2, pcpu_ring_mem(r),
		   pcpu_ring_mem_size(r));
	hdr[5][0] |= PCPU_RING_LEN_MASK;
	dump("damaged-length", r);
	pcpu_ring_destroy(r);

	r = few(hdr, -1);
	hdr[5][0] ^= UINT64_C(1) << 40;
	dump("damaged-stamp", r);
	pcpu_ring_destroy(r);

	r = few(hdr, -1);
	hdr[5][0] &= ~PCPU_RING_COMMITTED;
	dump("damaged-commit-flag", r);
	pcpu_ring_destroy(r);

	r = few(hdr, 5);
	dump("pending-among-committed", r);
	pcpu_ring_destroy(r);

	r = few(hdr, -1);
	ctl0(r)->tail = 3;
	dump("tail-odd", r);
	ctl0(r)->tail = (UINT64_C(1) << 63) + 64;
	dump("tail-out-of-range", r);
	pcpu_ring_destroy(r);

	/* Buffer 0: padding records on every page but the last. */
	r = pcpu_ring_create(&p);
	sh = pcpu_ring_mem(r);
	ctl0(r)->wpos = 4096;
	for (uint64_t pos = 0; pos < 4096; pos += 64) {
		h = (uint64_t *)((char *)sh + sh->data_off + pos);
		h[1] = 0;
		h[0] = pcpu__ring_stamp(sh->salt, pos) | PCPU_RING_COMMITTED |
		       (pos + 64 < 4096 ? PCPU_RING_PAD | 64 : 8);
	}
	dump("all-padding", r);
	pcpu_ring_destroy(r);
}

/* Synth inputs: records (length byte, payload), 0xff, corruptions. */
static void synth(void)
{
	unsigned char in[512];
	size_t n = 0;

	in[n++] = 0;			/* discard, read per buffer */
	for (int k = 0; k < 40; k++) {
		unsigned char len = (unsigned char)(8 + k % 5 * 8);

		/* bit 6: a bogus commit at a distance first; bit 7 with
		 * len % 3 == 0: left pending */
		in[n++] = (unsigned char)((k % 3 ? 0x40 : 0) |
					  (k % 7 == 0 ? 0x80 : 0) | len);
		for (int i = 0; i < (in[n - 1] % 241); i++)
			in[n++] = (unsigned char)(k + i);
		if (n > sizeof(in) - 64)
			break;
	}
	in[n++] = 0xff;
	dump_bytes("synth-bogus-commits", 1, in, n);
	in[0] = 3;			/* overwrite, merged */
	dump_bytes("synth-bogus-commits-overwrite", 1, in, n);
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
	dir = argv[1];
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);

	r = pcpu_ring_create(&p);
	fill(r, 20, 13);
	dump("discard-few", r);
	fill(r, 400, 29);
	dump("discard-full", r);
	pcpu_ring_reader_open(&rd, pcpu_ring_mem(r), pcpu_ring_mem_size(r));
	for (int i = 0; i < 30; i++)
		pcpu_ring_read(&rd, 0, &e, buf, sizeof(buf));
	pcpu_ring_reader_close(&rd);
	fill(r, 40, 7);
	pcpu_ring_reserve(r, 33);	/* never committed */
	fill(r, 5, 3);
	dump("discard-wrapped-uncommitted", r);
	/* The writers go round it: its page is stepped over. */
	pcpu_ring_reader_open(&rd, pcpu_ring_mem(r), pcpu_ring_mem_size(r));
	for (int i = 0; i < 200; i++)
		pcpu_ring_read(&rd, 0, &e, buf, sizeof(buf));
	pcpu_ring_reader_close(&rd);
	ctl0(r)->tail = ctl0(r)->wpos & ~(uint64_t)7;
	fill(r, 300, 11);
	dump("discard-stepped-over", r);
	pcpu_ring_destroy(r);

	p.flags = PCPU_RING_OVERWRITE;
	r = pcpu_ring_create(&p);
	fill(r, 1000, 17);
	dump("overwrite-lapped", r);
	ctl0(r)->wpos = UINT64_MAX - 7;
	dump("overwrite-wpos-out-of-range", r);
	pcpu_ring_destroy(r);

	/* Page words: every page of buffer 0 claims a lap ahead. */
	r = pcpu_ring_create(&p);
	fill(r, 100, 17);
	{
		struct pcpu_ring_shared *sh = pcpu_ring_mem(r);
		uint64_t *pw = (uint64_t *)((char *)sh + sh->page_off);

		for (uint64_t k = 0; k < sh->buf_size / sh->page_size; k++)
			pw[k] += 1;
	}
	dump("overwrite-pages-ahead", r);
	pcpu_ring_destroy(r);

	damaged();
	synth();
	return 0;
}
