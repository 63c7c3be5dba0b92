// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the ring consumer (pcpu_ring_reader_*), which must
 * survive any buffer a broken or hostile writer process can leave in
 * shared memory: every read stays inside the mapping, errors come back as
 * EBADMSG / EMSGSIZE / "no record", nothing crashes or loops forever.
 *
 * Two modes, picked by the first input byte:
 *   even: the rest of the input is a ring image (as another process would
 *         map it): header, control blocks, buffers.  The corpus holds
 *         real images (fuzz/mkcorpus.c), so mutations keep the magic and
 *         salt and reach the record parser.
 *   odd:  a real ring is created here, records are written as the input
 *         says (lengths, payload bytes), then input bytes are XORed into
 *         the mapping at input-chosen offsets (header words, control
 *         blocks, records), then everything is read back.
 * Build and run: make fuzz (fuzz/fuzz.mk), FUZZ_TIME=seconds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <percpu/percpu.h>

#define MAX_READS	100000

static unsigned char out[70000];

static void drain(struct pcpu_ring_reader *rd, int merged)
{
	struct pcpu_ring_entry e;
	unsigned int n = pcpu_ring_reader_nbufs(rd), c;
	int ret, reads = 0;

	if (merged) {
		while (reads++ < MAX_READS &&
		       (ret = pcpu_ring_read_next(rd, &e, out, sizeof(out))) == 1)
			;
		return;
	}
	for (c = 0; c < n && c < 64; c++) {
		struct pcpu_ring_stats st;

		while (reads++ < MAX_READS &&
		       (ret = pcpu_ring_read(rd, c, &e, out, 100)) != 0) {
			if (ret < 0 && errno != EMSGSIZE)
				break;
			if (ret < 0 &&
			    pcpu_ring_read(rd, c, &e, out, sizeof(out)) != 1)
				break;
		}
		pcpu_ring_reader_stats(rd, c, &st);
	}
}

static void image(const uint8_t *data, size_t size)
{
	struct pcpu_ring_reader rd;
	void *mem;

	/* A mapping is page-aligned; so is our copy. */
	if (posix_memalign(&mem, 4096, size ? size : 1))
		return;
	memcpy(mem, data, size);
	if (!pcpu_ring_reader_open(&rd, mem, size)) {
		drain(&rd, size & 1);
		pcpu_ring_reader_close(&rd);
	}
	free(mem);
}

static void synth(const uint8_t *data, size_t size)
{
	struct pcpu_ring_params p = { 4096, 256, 0 };
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r;
	unsigned char *m;
	size_t i = 0, msz;

	if (size < 2)
		return;
	p.flags = data[0] & PCPU_RING_OVERWRITE;
	r = pcpu_ring_create(&p);
	if (!r)
		return;
	m = pcpu_ring_mem(r);
	msz = pcpu_ring_mem_size(r);
	/* Records: a length byte, then that many payload bytes. */
	for (i = 1; i < size && data[i] != 0xff;) {
		size_t len = data[i++] % 241;
		void *rec = pcpu_ring_reserve(r, len);

		if (rec) {
			for (size_t k = 0; k < len; k++)
				((unsigned char *)rec)[k] =
					i + k < size ? data[i + k] : 0;
			if (!(data[i - 1] & 0x80) || len % 3)
				pcpu_ring_commit(r, rec);
		}
		i += len;
	}
	/* Corruption: (offset: 2 bytes, scaled; value) triples. */
	for (i++; i + 3 <= size; i += 3) {
		size_t off = ((size_t)data[i] << 8 | data[i + 1]) * msz >> 16;

		m[off & ~(size_t)0] ^= data[i + 2];
	}
	if (!pcpu_ring_reader_open(&rd, m, msz)) {
		drain(&rd, data[0] & 2);
		pcpu_ring_reader_close(&rd);
	}
	pcpu_ring_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		synth(data + 1, size - 1);
	else
		image(data + 1, size - 1);
	return 0;
}
