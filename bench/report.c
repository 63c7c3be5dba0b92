// SPDX-License-Identifier: MIT
/*
 * Collects the JSON lines of the bench programs (stdin) into
 * results.json, prints the table and the targets, and writes one gnuplot
 * data file per bench plus the script that plots them.
 *
 *   report OUTDIR < raw.jsonl
 * Machine description from the environment: BENCH_CPU, BENCH_NCPUS,
 * BENCH_KERNEL, BENCH_DATE, BENCH_BACKENDS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXR	4096

struct row {
	char bench[64], impl[64];
	int threads;
	double ns, min, max;
};

static struct row rows[MAXR];
static int nrows;

static int field_str(const char *line, const char *key, char *out, size_t n)
{
	char pat[80];
	const char *p;
	size_t i = 0;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	p = strstr(line, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p && *p != '"' && i + 1 < n)
		out[i++] = *p++;
	out[i] = 0;
	return 0;
}

static int field_num(const char *line, const char *key, double *out)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(line, pat);
	if (!p)
		return -1;
	*out = atof(p + strlen(pat));
	return 0;
}

static const struct row *find(const char *bench, const char *impl, int thr)
{
	for (int i = 0; i < nrows; i++)
		if (!strcmp(rows[i].bench, bench) &&
		    !strcmp(rows[i].impl, impl) && rows[i].threads == thr)
			return &rows[i];
	return NULL;
}

static int seen(char list[][64], int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return 1;
	return 0;
}

static int threads_list(int out[16])
{
	int n = 0;

	for (int i = 0; i < nrows; i++) {
		int dup = 0;

		for (int j = 0; j < n; j++)
			dup |= out[j] == rows[i].threads;
		if (!dup && n < 16)
			out[n++] = rows[i].threads;
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (out[j] < out[i]) {
				int t = out[i];

				out[i] = out[j];
				out[j] = t;
			}
	return n;
}

/*
 * A target compares a / b (ns per op) against a limit.  Thread counts:
 * 1, or -1 for the CPU count, -4 for four times it.
 */
struct target {
	const char *what;
	const char *ba, *ia;
	int ta;
	const char *bb, *ib;
	int tb;
	double limit;	/* a / b <= limit */
};

static const struct target targets[] = {
	{ "counter_add 1 thread: pcpu-rseq <= 2x tls-plain",
	  "counter_add", "pcpu-rseq", 1, "counter_add", "tls-plain", 1, 2.0 },
	{ "counter_add at CPUs: pcpu-rseq >= 3x faster than shared-atomic",
	  "counter_add", "pcpu-rseq", -1, "counter_add", "shared-atomic", -1,
	  1.0 / 3 },
	{ "counter_add: pcpu-rseq at 4x CPUs <= 1.5x its value at CPUs",
	  "counter_add", "pcpu-rseq", -4, "counter_add", "pcpu-rseq", -1, 1.5 },
	{ "counter_add 1 thread: pcpu-gs <= 1.25x tls-plain",
	  "counter_add", "pcpu-gs", 1, "counter_add", "tls-plain", 1, 1.25 },
	{ "counter_add_4 1 thread: pcpu-gs faster than pcpu-rseq",
	  "counter_add_4", "pcpu-gs", 1, "counter_add_4", "pcpu-rseq", 1, 1.0 },
	{ "ring_reserve_commit: pcpu-rseq at CPUs no slower per op than at 1",
	  "ring_reserve_commit", "pcpu-rseq", -1, "ring_reserve_commit",
	  "pcpu-rseq", 1, 1.0 },
	{ "brlock_read 1 thread: pcpu-rseq <= 2x counter_add pcpu-rseq",
	  "brlock_read", "pcpu-rseq", 1, "counter_add", "pcpu-rseq", 1, 2.0 },
	{ "brlock_read at CPUs: pcpu-rseq >= 5x faster than pthread-rwlock",
	  "brlock_read", "pcpu-rseq", -1, "brlock_read", "pthread-rwlock", -1,
	  0.2 },
	{ "cache_alloc_free 1 thread: pcpu-rseq faster than glibc-malloc",
	  "cache_alloc_free", "pcpu-rseq", 1, "cache_alloc_free",
	  "glibc-malloc", 1, 1.0 },
};

static int resolve(int t, int ncpus)
{
	return t > 0 ? t : -t * ncpus;
}

int main(int argc, char **argv)
{
	char line[1024], path[1024], benches[64][64], impls[64][64];
	int nb = 0, ni = 0, thr[16], nt, ncpus;
	const char *dir = argc > 1 ? argv[1] : ".";
	const char *env;
	FILE *js, *gp;

	while (fgets(line, sizeof(line), stdin) && nrows < MAXR) {
		struct row *r = &rows[nrows];
		double t;

		if (line[0] != '{' || field_str(line, "bench", r->bench, 64) ||
		    field_str(line, "impl", r->impl, 64) ||
		    field_num(line, "threads", &t) ||
		    field_num(line, "ns_per_op", &r->ns))
			continue;
		r->threads = (int)t;
		field_num(line, "min", &r->min);
		field_num(line, "max", &r->max);
		nrows++;
		if (!seen(benches, nb, r->bench) && nb < 64)
			strcpy(benches[nb++], r->bench);
		if (!seen(impls, ni, r->impl) && ni < 64)
			strcpy(impls[ni++], r->impl);
	}
	env = getenv("BENCH_NCPUS");
	ncpus = env ? atoi(env) : 1;
	nt = threads_list(thr);

	snprintf(path, sizeof(path), "%s/results.json", dir);
	js = fopen(path, "w");
	if (!js) {
		perror(path);
		return 1;
	}
	fprintf(js, "{\"machine\": {\"cpu\": \"%s\", \"ncpus\": %d, "
		"\"kernel\": \"%s\", \"date\": \"%s\", \"backends\": \"%s\"},\n"
		" \"results\": [\n",
		getenv("BENCH_CPU") ? getenv("BENCH_CPU") : "",
		ncpus, getenv("BENCH_KERNEL") ? getenv("BENCH_KERNEL") : "",
		getenv("BENCH_DATE") ? getenv("BENCH_DATE") : "",
		getenv("BENCH_BACKENDS") ? getenv("BENCH_BACKENDS") : "");
	for (int i = 0; i < nrows; i++)
		fprintf(js, "  {\"bench\": \"%s\", \"impl\": \"%s\", "
			"\"threads\": %d, \"ns_per_op\": %.4f, \"min\": %.4f, "
			"\"max\": %.4f}%s\n", rows[i].bench, rows[i].impl,
			rows[i].threads, rows[i].ns, rows[i].min, rows[i].max,
			i + 1 < nrows ? "," : "");
	fprintf(js, " ]}\n");
	fclose(js);

	snprintf(path, sizeof(path), "%s/plots.gp", dir);
	gp = fopen(path, "w");
	fprintf(gp, "set terminal png size 900,560 noenhanced\nset logscale y\n"
		"set xlabel 'threads'\nset ylabel 'ns per op (median)'\n"
		"set key outside right\nset grid\n");
	for (int b = 0; b < nb; b++) {
		int first = 1;

		printf("\n%s  (ns per op, median of reps [min..max])\n", benches[b]);
		printf("  %-22s", "impl");
		for (int k = 0; k < nt; k++)
			printf("  %9d thr %-14s", thr[k], "");
		printf("\n");
		fprintf(gp, "set output '%s/%s.png'\nset title '%s'\n"
			"set xtics (", dir, benches[b], benches[b]);
		for (int k = 0; k < nt; k++)
			fprintf(gp, "%s'%d' %d", k ? ", " : "", thr[k], thr[k]);
		fprintf(gp, ")\nset logscale x 2\nset xrange [0.8:%g]\nplot ",
			nt ? thr[nt - 1] * 1.25 : 2.0);
		for (int i = 0; i < ni; i++) {
			FILE *dat;
			int any = 0;

			for (int k = 0; k < nt; k++)
				any |= find(benches[b], impls[i], thr[k]) != NULL;
			if (!any)
				continue;
			snprintf(path, sizeof(path), "%s/%.63s.%.63s.dat", dir,
				 benches[b], impls[i]);
			dat = fopen(path, "w");
			printf("  %-22s", impls[i]);
			for (int k = 0; k < nt; k++) {
				const struct row *r = find(benches[b], impls[i],
							   thr[k]);
				char cell[64] = "-";

				if (r) {
					snprintf(cell, sizeof(cell),
						 "%.3f [%.3f..%.3f]", r->ns,
						 r->min, r->max);
					fprintf(dat, "%d %.4f %.4f %.4f\n",
						thr[k], r->ns, r->min, r->max);
				}
				printf("  %-27s", cell);
			}
			printf("\n");
			fclose(dat);
			fprintf(gp, "%s'%s' using 1:2:3:4 with yerrorlines "
				"title '%s'", first ? "" : ", ", path, impls[i]);
			first = 0;
		}
		fprintf(gp, "\n");
	}
	fclose(gp);

	printf("\ntargets (ratios from this run; %d CPUs):\n", ncpus);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		const struct target *t = &targets[i];
		const struct row *a = find(t->ba, t->ia, resolve(t->ta, ncpus));
		const struct row *b = find(t->bb, t->ib, resolve(t->tb, ncpus));

		if (!a || !b) {
			printf("  [n/a ]  %s (not measured)\n", t->what);
			continue;
		}
		printf("  [%s]  %s: %.3f / %.3f = %.2f (limit %.2f)\n",
		       a->ns / b->ns <= t->limit ? " met" : "MISS", t->what,
		       a->ns, b->ns, a->ns / b->ns, t->limit);
	}
	return 0;
}
