// SPDX-License-Identifier: MIT
/*
 * wordfreq: count the words of a text file with several threads, on
 * per-CPU counters, and print the most frequent ones.
 *
 * The file is cut into one slice per thread (at word boundaries).  A word
 * (a run of ASCII letters, folded to lower case) gets a number from a
 * shared lock-free hash table the first time any thread meets it; after
 * that, counting it is one this_cpu_inc() on that number's slot of a
 * per-CPU array: threads on different CPUs never write the same cache
 * line, and threads that share a CPU cannot lose an increment to
 * preemption.  At the end the copies are summed (pcpu_for_each_cpu) and
 * checked against the threads' own totals.
 *
 *   wordfreq [-t threads] [-n top] [file]
 *
 * Without a file: /usr/share/common-licenses/GPL-3, else README.md.
 * The output is the list `uniq -c` would give for
 *   tr -cs A-Za-z '\n' < file | tr A-Z a-z | sort | uniq -c | sort -k1,1nr -k2
 * (most frequent first, ties in alphabetical order).
 */
#include <percpu/percpu.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TABLE_BITS	15			/* distinct words: up to 32768 */
#define TABLE_SIZE	(1u << TABLE_BITS)
#define MAX_THREADS	64

static const char *text;			/* the whole file */
static size_t text_len;

/*
 * The word table: slot i holds (offset + 1) << 16 | length of the word's
 * first occurrence in text, or 0 while free.  Claimed with one
 * compare-and-swap; never freed.
 */
static uint64_t slot[TABLE_SIZE];

/* Per CPU: one counter per slot, and all words (for pcpu-stat). */
static unsigned long __pcpu *counts;
PCPU_DEFINE(unsigned long, words);

static unsigned long thread_words[MAX_THREADS];

static int is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static uint32_t hash(const char *w, size_t len)
{
	uint32_t h = 2166136261u;		/* FNV-1a, case folded */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)tolower((unsigned char)w[i])) * 16777619u;
	return h;
}

/* The number of word w (len letters), claiming a slot if it is new;
 * -1 when the table is full. */
static long word_id(const char *w, size_t len)
{
	uint64_t key = (uint64_t)(w - text + 1) << 16 | len;
	uint32_t i = hash(w, len) & (TABLE_SIZE - 1);

	for (uint32_t probes = 0; probes < TABLE_SIZE; probes++) {
		uint64_t cur = __atomic_load_n(&slot[i], __ATOMIC_ACQUIRE);

		if (!cur && __atomic_compare_exchange_n(&slot[i], &cur, key, 0,
				__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return i;
		/* Taken (or just taken by another thread): is it ours? */
		if ((cur & 0xffff) == len &&
		    !strncasecmp(text + (cur >> 16) - 1, w, len))
			return i;
		i = (i + 1) & (TABLE_SIZE - 1);
	}
	return -1;
}

struct slice {
	long id;
	size_t begin, end;
	int full;
};

static void *count_slice(void *arg)
{
	struct slice *s = arg;
	size_t i = s->begin;

	while (i < s->end) {
		size_t start;
		long id;

		while (i < s->end && !is_letter(text[i]))
			i++;
		start = i;
		while (i < s->end && is_letter(text[i]))
			i++;
		if (i == start)
			break;
		if (i - start > 0xffff || (id = word_id(text + start, i - start)) < 0) {
			s->full = 1;
			return NULL;
		}
		this_cpu_inc(&counts[id]);
		this_cpu_inc(words);
		thread_words[s->id]++;
	}
	return NULL;
}

struct result {
	unsigned long count;
	uint32_t slot;
};

/* Most frequent first; ties by the word, as sort(1) in the C locale. */
static int by_count(const void *a, const void *b)
{
	const struct result *x = a, *y = b;
	size_t lx = slot[x->slot] & 0xffff, ly = slot[y->slot] & 0xffff;
	const char *wx = text + (slot[x->slot] >> 16) - 1;
	const char *wy = text + (slot[y->slot] >> 16) - 1;
	int c;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	c = strncasecmp(wx, wy, lx < ly ? lx : ly);
	return c ? c : (lx > ly) - (lx < ly);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			char *p = realloc(buf, cap = cap ? 2 * cap : 65536);

			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int nthreads = 4, top = 10, c, full = 0;
	pthread_t th[MAX_THREADS];
	struct slice sl[MAX_THREADS];
	struct result *res;
	unsigned long total = 0, want = 0, summed = 0;
	unsigned int cpu;
	uint32_t distinct = 0;
	char *buf;

	while ((c = getopt(argc, argv, "t:n:")) != -1) {
		if (c == 't')
			nthreads = atoi(optarg);
		else if (c == 'n')
			top = atoi(optarg);
		else
			goto usage;
	}
	if (nthreads < 1 || nthreads > MAX_THREADS || top < 0 || optind < argc - 1)
		goto usage;
	if (optind < argc)
		path = argv[optind];
	else
		path = access("/usr/share/common-licenses/GPL-3", R_OK) ?
		       "README.md" : "/usr/share/common-licenses/GPL-3";
	buf = read_file(path, &text_len);
	if (!buf) {
		fprintf(stderr, "wordfreq: %s: %s\n", path, strerror(errno));
		return 1;
	}
	text = buf;
	counts = pcpu_alloc(TABLE_SIZE * sizeof(*counts), 0);
	if (!counts) {
		fprintf(stderr, "wordfreq: pcpu_alloc: %s\n", strerror(errno));
		return 1;
	}
	pcpu_stat_ulong("words", words);	/* pcpu-stat wordfreq */

	/* One slice per thread, each ending at a word boundary. */
	for (int i = 0; i < nthreads; i++) {
		sl[i].id = i;
		sl[i].full = 0;
		sl[i].begin = i ? sl[i - 1].end : 0;
		sl[i].end = i == nthreads - 1 ? text_len :
			    text_len / (size_t)nthreads * (size_t)(i + 1);
		if (sl[i].end < sl[i].begin)
			sl[i].end = sl[i].begin;
		while (sl[i].end < text_len && is_letter(text[sl[i].end]))
			sl[i].end++;
	}
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, count_slice, &sl[i]);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		full |= sl[i].full;
		want += thread_words[i];
	}
	if (full) {
		fprintf(stderr, "wordfreq: more than %u distinct words (or one "
			"longer than 65535 letters)\n", TABLE_SIZE);
		return 1;
	}

	/* Sum every word's copies; keep the words that occurred. */
	res = calloc(TABLE_SIZE, sizeof(*res));
	if (!res)
		return 1;
	for (uint32_t i = 0; i < TABLE_SIZE; i++) {
		unsigned long n = 0;

		if (!slot[i])
			continue;
		pcpu_for_each_cpu(cpu)
			n += pcpu_ptr(counts, cpu)[i];
		res[distinct].slot = i;
		res[distinct++].count = n;
		summed += n;
	}
	pcpu_for_each_cpu(cpu)
		total += *pcpu_ptr(words, cpu);
	qsort(res, distinct, sizeof(*res), by_count);

	printf("wordfreq: %s: %lu words, %u distinct, %d threads, backend %s\n",
	       path, total, distinct, nthreads, pcpu_backend_name());
	for (int i = 0; i < top && (uint32_t)i < distinct; i++) {
		size_t len = slot[res[i].slot] & 0xffff;
		const char *w = text + (slot[res[i].slot] >> 16) - 1;

		printf("%7lu ", res[i].count);
		for (size_t k = 0; k < len; k++)
			putchar(tolower((unsigned char)w[k]));
		putchar('\n');
	}
	if (total != want || summed != want) {
		printf("MISMATCH: threads counted %lu, words %lu, per word %lu\n",
		       want, total, summed);
		return 1;
	}
	printf("exact: the threads counted %lu words\n", want);
	pcpu_stat_remove("words");
	pcpu_free(counts);
	free(res);
	free(buf);
	return 0;
usage:
	fprintf(stderr, "usage: wordfreq [-t threads 1..%d] [-n top] [file]\n",
		MAX_THREADS);
	return 2;
}
