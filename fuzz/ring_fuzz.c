// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the ring consumer (pcpu_ring_reader_*), which must
 * survive any buffer a broken or hostile writer process can leave in
 * shared memory: every read stays inside the mapping, errors come back as
 * EMSGSIZE / "no record" (damage is skipped and counted), nothing
 * crashes or loops forever, the stats stay sane.  And for the writer's
 * commit, which must refuse any pointer that is not a pending
 * reservation.
 *
 * Two modes, picked by the first input byte:
 *   even: the rest of the input is a ring image (as another process would
 *         map it): header, control blocks, buffers.  The corpus holds
 *         real images (fuzz/mkcorpus.c), so mutations keep the magic and
 *         salt and reach the record parser.  Bit 1 of the first byte:
 *         the image goes into a sealed memfd and is opened with
 *         pcpu_ring_reader_open_fd(), else with the pointer.
 *   odd:  a real ring is created here, records are written as the input
 *         says (lengths, payload bytes, some left uncommitted, some with
 *         a bogus commit first at an input-chosen distance from the
 *         record), then input bytes are XORed into the mapping at
 *         input-chosen offsets (header words, control blocks, records),
 *         then everything is read back.
 * Built with PCPU__RING_STUCK_NS=0 (fuzz.mk), so positions that look
 * abandoned are skipped at the second look instead of after a second.
 * Build and run: make fuzz (fuzz/fuzz.mk), FUZZ_TIME=seconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <percpu/percpu.h>

#define MAX_READS	100000

static unsigned char out[70000];

static void check_stats(struct pcpu_ring_reader *rd, unsigned int c)
{
	struct pcpu_ring_stats st;

	if (pcpu_ring_reader_stats(rd, c, &st))
		abort();
	if (st.overwritten > st.written || st.lost < st.discarded ||
	    st.lost < st.overwritten)
		abort();	/* a count a writer can set made them absurd */
}

/* Reads until "none", a few rounds: a position seen stuck on one round
 * is skipped on the next (PCPU__RING_STUCK_NS 0). */
static void drain(struct pcpu_ring_reader *rd, int merged)
{
	struct pcpu_ring_entry e;
	unsigned int n = pcpu_ring_reader_nbufs(rd), c;
	int ret = 0, reads = 0;

	for (int round = 0; round < 3; round++) {
		if (merged) {
			while (reads++ < MAX_READS &&
			       ((ret = pcpu_ring_read_next(rd, &e, out,
							   100)) == 1 ||
				(ret < 0 && errno == EMSGSIZE &&
				 pcpu_ring_read_next(rd, &e, out,
						     sizeof(out)) == 1)))
				;
			if (ret < 0 && errno != EMSGSIZE)
				abort();	/* damage is not an error now */
			continue;
		}
		for (c = 0; c < n && c < 64; c++) {
			while (reads++ < MAX_READS &&
			       (ret = pcpu_ring_read(rd, c, &e, out,
						     100)) != 0) {
				if (ret < 0 && errno != EMSGSIZE)
					abort();
				if (ret < 0 &&
				    pcpu_ring_read(rd, c, &e, out,
						   sizeof(out)) != 1)
					break;
			}
		}
	}
	for (c = 0; c < n && c < 64; c++)
		check_stats(rd, c);
}

static void image(const uint8_t *data, size_t size, int via_fd)
{
	struct pcpu_ring_reader rd;
	void *mem;
	int fd;

	if (via_fd) {
		fd = memfd_create("ring_fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return;
		if (write(fd, data, size) == (ssize_t)size &&
		    !fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) &&
		    !pcpu_ring_reader_open_fd(&rd, fd)) {
			close(fd);	/* the mapping stays */
			drain(&rd, size & 1);
			pcpu_ring_reader_close(&rd);
			return;
		}
		close(fd);
		return;
	}
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

#define MAX_PENDING	256
static unsigned char *pending[MAX_PENDING];
static int npending;

static void bogus_commit(struct pcpu_ring *r, unsigned char *rec, int d)
{
	unsigned char *p = rec + 8 * d;
	int k;

	if (!d)
		return;
	for (k = 0; k < npending; k++)
		if (pending[k] == p)
			break;
	if (k < npending) {
		pending[k] = NULL;	/* a real reservation: may commit */
		pcpu_ring_commit(r, p);
		return;
	}
	if (!pcpu_ring_commit(r, p))
		abort();	/* took a pointer that is no reservation */
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
	npending = 0;
	r = pcpu_ring_create(&p);
	if (!r)
		return;
	m = pcpu_ring_mem(r);
	msz = pcpu_ring_mem_size(r);
	/*
	 * Records: a length byte, then that many payload bytes.  Length
	 * byte bit 7 with len % 3 == 0: left uncommitted; bit 6: first a
	 * commit at rec + 8 * (byte % 64 - 32), which must fail unless it
	 * is the payload address of a reservation still pending.
	 */
	for (i = 1; i < size && data[i] != 0xff;) {
		size_t len = data[i++] % 241;
		unsigned char *rec = pcpu_ring_reserve(r, len);
		unsigned char lb = data[i - 1];

		if (rec) {
			for (size_t k = 0; k < len; k++)
				rec[k] = i + k < size ? data[i + k] : 0;
			if (lb & 0x40)
				bogus_commit(r, rec, (int)(lb % 64) - 32);
			if (!(lb & 0x80) || len % 3)
				pcpu_ring_commit(r, rec);
			else if (npending < MAX_PENDING)
				pending[npending++] = rec;
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
		image(data + 1, size - 1, data[0] & 2);
	return 0;
}
