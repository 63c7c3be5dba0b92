// SPDX-License-Identifier: MIT
/*
 * Per-CPU ring buffer, single writer thread pinned to one CPU:
 * round trip of records of every length up to the page, argument errors,
 * padding at page ends, a reserved but uncommitted record holding back the
 * consumer (not other writers) until it is committed, double commit
 * refused, discard mode counting every dropped record exactly, overwrite
 * mode keeping the newest records with written = consumed + overwritten,
 * merged reading in timestamp order, the batch read (every record once,
 * in timestamp order across CPUs, at most max per call, stopped by its
 * callback, its arguments checked), and a consumer in a child process
 * reading through the memfd.
 */
#include "ring_util.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static struct pcpu_ring *mk(size_t buf, size_t page, unsigned int flags,
			    struct pcpu_ring_reader *rd)
{
	struct pcpu_ring *r = t_ring_create(buf, page, flags);

	CHECK(pcpu_ring_reader_open(rd, pcpu_ring_mem(r),
				    pcpu_ring_mem_size(r)) == 0,
	      "reader_open: %s", strerror(errno));
	return r;
}

static int me(void)
{
	unsigned int i = pcpu_index();

	return (int)(i < pcpu_nr_copies() ? i : pcpu_nr_copies() - 1);
}

static void roundtrip(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r = mk(1 << 16, 1024, 0, &rd);
	struct pcpu_ring_entry e;
	char in[1024], out[1024];
	int cpu = me(), n = 0;

	for (size_t len = 0; len <= 1024 - PCPU_RING_HDR_SIZE; len += 37) {
		for (size_t i = 0; i < len; i++)
			in[i] = (char)(len + i);
		CHECK(pcpu_ring_write(r, in, len) == 0, "write %zu: %s", len,
		      strerror(errno));
		CHECK(pcpu_ring_read(&rd, (unsigned int)cpu, &e, out,
				     sizeof(out)) == 1, "read %zu", len);
		CHECK(e.len == len && e.cpu == (unsigned int)cpu &&
		      !memcmp(in, out, len), "record %zu differs", len);
		n++;
	}
	CHECK(pcpu_ring_read(&rd, (unsigned int)cpu, &e, out, sizeof(out)) == 0,
	      "empty ring must read 0");
	errno = 0;
	CHECK(!pcpu_ring_reserve(r, 1024 - PCPU_RING_HDR_SIZE + 1) &&
	      errno == EMSGSIZE, "oversized record");
	CHECK(!pcpu_ring_reserve(NULL, 8) && errno == EINVAL, "ring NULL");
	CHECK(pcpu_ring_commit(r, in) == -1 && errno == EINVAL,
	      "commit of a foreign pointer");
	/* EMSGSIZE on read leaves the record in place. */
	CHECK(pcpu_ring_write(r, in, 100) == 0, "write");
	CHECK(pcpu_ring_read(&rd, (unsigned int)cpu, &e, out, 10) == -1 &&
	      errno == EMSGSIZE && e.len == 100, "short read buffer");
	CHECK(pcpu_ring_read(&rd, (unsigned int)cpu, &e, out, 100) == 1,
	      "read after EMSGSIZE");
	CHECK(pcpu_ring_read(&rd, pcpu_ring_reader_nbufs(&rd), &e, out, 100) ==
	      -1 && errno == EINVAL, "bad cpu");
	printf("roundtrip: %d lengths\n", n);
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

static void uncommitted(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r = mk(1 << 14, 256, 0, &rd);
	struct pcpu_ring_entry e;
	char out[64];
	unsigned int cpu = (unsigned int)me();
	char *a, *b;

	a = pcpu_ring_reserve(r, 8);
	b = pcpu_ring_reserve(r, 8);	/* not blocked by a */
	CHECK(a && b && b > a, "two reservations");
	memcpy(b, "second", 7);
	CHECK(pcpu_ring_commit(r, b) == 0, "commit b");
	CHECK(pcpu_ring_commit(r, b) == -1 && errno == EINVAL, "double commit");
	CHECK(pcpu_ring_read(&rd, cpu, &e, out, sizeof(out)) == 0,
	      "consumer must stop at the uncommitted record");
	memcpy(a, "first", 6);
	CHECK(pcpu_ring_commit(r, a) == 0, "commit a");
	CHECK(pcpu_ring_read(&rd, cpu, &e, out, sizeof(out)) == 1 &&
	      !strcmp(out, "first"), "a first");
	CHECK(pcpu_ring_read(&rd, cpu, &e, out, sizeof(out)) == 1 &&
	      !strcmp(out, "second"), "then b");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

/* Discard: fill without reading; every failed write is counted. */
static void discard(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r = mk(4096, 256, 0, &rd);
	struct pcpu_ring_stats st;
	struct pcpu_ring_entry e;
	unsigned int cpu = (unsigned int)me();
	uint64_t v, got = 0, expect = 0;
	long ok = 0, dropped = 0;

	for (v = 0; v < 1000; v++) {
		if (pcpu_ring_write(r, &v, sizeof(v)) == 0)
			ok++;
		else if (errno == ENOBUFS)
			dropped++;
	}
	while (pcpu_ring_read(&rd, cpu, &e, &v, sizeof(v)) == 1) {
		CHECK(v == expect, "discard keeps the oldest: %llu vs %llu",
		      (unsigned long long)v, (unsigned long long)expect);
		expect++;
		got++;
	}
	pcpu_ring_reader_stats(&rd, cpu, &st);
	printf("discard: written 1000 expected = consumed %llu + lost %llu "
	       "(writer saw %ld ok, %ld dropped)\n",
	       (unsigned long long)got, (unsigned long long)st.lost, ok,
	       dropped);
	CHECK(got == (uint64_t)ok && st.discarded == (uint64_t)dropped &&
	      got + st.lost == 1000, "discard accounting");
	CHECK(dropped > 0, "the ring never filled");
	/* Space is back after reading. */
	CHECK(pcpu_ring_write(r, &v, sizeof(v)) == 0, "write after drain");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

/* Overwrite: the newest records survive, in order, without gaps. */
static void overwrite(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r = mk(4096, 256, PCPU_RING_OVERWRITE, &rd);
	struct pcpu_ring_stats st;
	struct pcpu_ring_entry e;
	unsigned int cpu = (unsigned int)me();
	uint64_t v, last = 0, got = 0;
	int first = 1;

	for (v = 0; v < 1000; v++)
		CHECK(pcpu_ring_write(r, &v, sizeof(v)) == 0, "write %llu",
		      (unsigned long long)v);
	while (pcpu_ring_read(&rd, cpu, &e, &v, sizeof(v)) == 1) {
		CHECK(first || v == last + 1, "gap %llu after %llu",
		      (unsigned long long)v, (unsigned long long)last);
		first = 0;
		last = v;
		got++;
	}
	pcpu_ring_reader_stats(&rd, cpu, &st);
	printf("overwrite: written %llu expected = consumed %llu + "
	       "overwritten %llu + discarded %llu\n",
	       (unsigned long long)st.written, (unsigned long long)got,
	       (unsigned long long)st.overwritten,
	       (unsigned long long)st.discarded);
	CHECK(last == 999, "newest record %llu", (unsigned long long)last);
	CHECK(got > 100 && got < 1000, "kept %llu", (unsigned long long)got);
	CHECK(st.written == 1000 && st.discarded == 0 &&
	      st.written == got + st.overwritten, "overwrite accounting");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

/* Records written on every CPU come out of read_next by timestamp. */
static void merged(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r = mk(1 << 16, 4096, 0, &rd);
	struct pcpu_ring_entry e;
	uint64_t v, prev = 0, n = 0, ooo = 0;
	int ret;

	for (v = 0; v < 300; v++) {
		t_pin((unsigned int)(v / 10) % t_ncpus());
		pcpu_ring_write(r, &v, sizeof(v));
	}
	while ((ret = pcpu_ring_read_next(&rd, &e, &v, sizeof(v))) == 1) {
		ooo += n && e.stamp < prev;
		CHECK(v == n, "merged order: got %llu at %llu",
		      (unsigned long long)v, (unsigned long long)n);
		prev = e.stamp;
		n++;
	}
	CHECK(ret == 0 && n == 300, "merged read %llu", (unsigned long long)n);
	printf("merged: %llu records from %u CPUs in order\n",
	       (unsigned long long)n, t_ncpus());
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
	t_pin(0);
}

static struct {
	uint64_t next, stamp, calls, stop_at;
	long bad;
} bt;

static int batch_cb(void *arg, const struct pcpu_ring_entry *e,
		    const void *data)
{
	uint64_t v;

	CHECK(arg == &bt, "callback argument");
	memcpy(&v, data, sizeof(v));
	if (e->len != sizeof(v) || v != bt.next ||
	    (bt.next && e->stamp < bt.stamp))
		bt.bad++;
	bt.next = v + 1;
	bt.stamp = e->stamp;
	return ++bt.calls == bt.stop_at;
}

/* pcpu_ring_read_batch(): records written on every CPU, in turn. */
static void batch(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r = mk(1 << 16, 4096, 0, &rd);
	uint64_t v;
	int n, n1, n2, rest;

	for (v = 0; v < 900; v++) {
		t_pin((unsigned int)(v / 30) % t_ncpus());
		CHECK(pcpu_ring_write(r, &v, sizeof(v)) == 0, "write");
	}
	t_pin(0);
	memset(&bt, 0, sizeof(bt));
	n1 = pcpu_ring_read_batch(&rd, batch_cb, &bt, 100);
	bt.stop_at = 250;
	n2 = pcpu_ring_read_batch(&rd, batch_cb, &bt, 1000);
	bt.stop_at = 0;
	rest = 0;
	while ((n = pcpu_ring_read_batch(&rd, batch_cb, &bt, 1000)) > 0)
		rest += n;
	printf("batch: 900 records from %u CPUs: %d (max 100), %d (stopped "
	       "by the callback at 250), then %d; %ld out of order\n",
	       t_ncpus(), n1, n2, rest, bt.bad);
	CHECK(n1 == 100 && n2 == 150 && rest == 650 && !bt.bad &&
	      bt.next == 900, "batch read: %d %d %d, %ld bad", n1, n2, rest,
	      bt.bad);
	CHECK(pcpu_ring_read_batch(&rd, batch_cb, &bt, 10) == 0,
	      "an empty ring reads 0");
	CHECK(pcpu_ring_read_batch(NULL, batch_cb, &bt, 10) == -1 &&
	      errno == EINVAL, "batch: rd NULL");
	CHECK(pcpu_ring_read_batch(&rd, NULL, &bt, 10) == -1 &&
	      errno == EINVAL, "batch: cb NULL");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

/* A consumer in another process, through the memfd. */
static void other_process(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring *r = mk(1 << 14, 1024, 0, &rd);
	uint64_t v;
	pid_t pid;
	int status;

	pcpu_ring_reader_close(&rd);
	if (pcpu_ring_fd(r) < 0) {
		printf("other process: no memfd here (%s), skipped\n",
		       strerror(errno));
		pcpu_ring_destroy(r);
		return;
	}
	for (v = 0; v < 100; v++)
		pcpu_ring_write(r, &v, sizeof(v));
	pid = fork();
	if (pid == 0) {
		size_t sz = pcpu_ring_mem_size(r);
		void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED,
			       pcpu_ring_fd(r), 0);
		struct pcpu_ring_reader crd;
		struct pcpu_ring_entry e;
		uint64_t n = 0;

		if (m == MAP_FAILED || pcpu_ring_reader_open(&crd, m, sz))
			_exit(2);
		while (pcpu_ring_read_next(&crd, &e, &v, sizeof(v)) == 1)
			if (v != n++)
				_exit(3);
		_exit(n == 100 ? 0 : 4);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	      WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child consumer failed (status %d)", status);
	/* The child's tail is shared: the space is free again. */
	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(r),
				    pcpu_ring_mem_size(r)) == 0, "reopen");
	{
		struct pcpu_ring_entry e;

		CHECK(pcpu_ring_read_next(&rd, &e, &v, sizeof(v)) == 0,
		      "records consumed by the child are gone");
	}
	printf("other process: 100 records read through the memfd\n");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

int main(void)
{
	struct pcpu_ring_params bad = { 3000, 0, 0 };

	t_init(NULL);
	CHECK(!pcpu_ring_create(&bad) && errno == EINVAL, "buf not pow2");
	bad = (struct pcpu_ring_params){ 4096, 8192, 0 };
	CHECK(!pcpu_ring_create(&bad) && errno == EINVAL, "page > buf");
	bad = (struct pcpu_ring_params){ 4096, 32, 0 };
	CHECK(!pcpu_ring_create(&bad) && errno == EINVAL, "page < 64");
	t_pin(0);
	roundtrip();
	uncommitted();
	discard();
	overwrite();
	merged();
	batch();
	other_process();
	return t_done();
}
