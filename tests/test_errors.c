// SPDX-License-Identifier: MIT
/*
 * Errors in words (percpu/error.h) where users hit walls: pcpu_alloc()
 * (bad size or alignment, bigger than the stride, a full region),
 * pcpu_free() (a foreign pointer, a double free), pcpu_init() (another
 * stride after the first initialization: EBUSY) and pcpu_cache_create()
 * (each bad argument, a per-CPU slab that does not fit the stride).  Each
 * failure sets the errno it documents and a message that names the value
 * at fault and the way out; a successful call clears the message; the
 * message is per thread.
 */
#include "harness.h"

#include <pthread.h>

#define HAS(what, needle)						\
	CHECK(strstr(pcpu_last_error(), needle) != NULL,		\
	      "%s: message \"%s\" lacks \"%s\"", what, pcpu_last_error(),	\
	      needle)

static void say(const char *what)
{
	printf("%-22s errno %-6s \"%s\"\n", what, strerrorname_np(errno),
	       pcpu_last_error());
}

static void *other_thread(void *arg)
{
	(void)arg;
	/* Nothing failed here: the main thread's message is not ours. */
	return (void *)(uintptr_t)(pcpu_last_error()[0] != 0);
}

int main(void)
{
	struct pcpu_params p = { .stride = PCPU_MIN_STRIDE };
	struct pcpu_params bigger = { .stride = 4 * PCPU_MIN_STRIDE };
	enum { MAXH = 1024 };
	void *h[MAXH], *one, *r;
	struct pcpu_cache *c;
	pthread_t th;
	int n = 0, local;

	t_init(&p);
	CHECK(pcpu_last_error()[0] == 0, "message before any failure: \"%s\"",
	      pcpu_last_error());

	errno = 0;
	CHECK(!pcpu_alloc(0, 0) && errno == EINVAL, "alloc size 0");
	say("alloc(0)");
	HAS("alloc(0)", "size 0");
	errno = 0;
	CHECK(!pcpu_alloc(8, 24) && errno == EINVAL, "alloc align 24");
	say("alloc(8, 24)");
	HAS("alloc align", "align 24");
	errno = 0;
	CHECK(!pcpu_alloc(pcpu_stride() + 1, 0) && errno == ENOMEM,
	      "alloc larger than the stride");
	say("alloc(stride + 1)");
	HAS("alloc > stride", "stride");
	HAS("alloc > stride", "PCPU_STRIDE");

	/* A success clears it. */
	one = pcpu_alloc(8, 0);
	CHECK(one != NULL, "alloc 8");
	CHECK(pcpu_last_error()[0] == 0, "after a success: \"%s\"",
	      pcpu_last_error());

	/* Fill the region. */
	errno = 0;
	while (n < MAXH && (r = pcpu_alloc(4096, 0)) != NULL)
		h[n++] = r;
	while (n < MAXH && (r = pcpu_alloc(16, 0)) != NULL)
		h[n++] = r;
	CHECK(n < MAXH && errno == ENOMEM, "the region never filled");
	say("alloc (full)");
	HAS("full region", "16 bytes aligned to 16 do not fit");
	HAS("full region", "largest free piece");

	/* The per-thread message: another thread sees its own (empty). */
	CHECK(pthread_create(&th, NULL, other_thread, NULL) == 0, "thread");
	CHECK(pthread_join(th, &r) == 0 && r == NULL,
	      "another thread saw this thread's message");

	/* A cache whose slab does not fit the full region. */
	errno = 0;
	c = pcpu_cache_create(64, 0, 100, 0);
	CHECK(!c && errno == ENOMEM, "cache create in a full region");
	say("cache (full region)");
	HAS("cache slab", "per-CPU slab");
	HAS("cache slab", "do not fit");
	while (n > 0)
		CHECK(pcpu_free(h[--n]) == 0, "free");

	errno = 0;
	CHECK(pcpu_free(&local) == -1 && errno == EINVAL, "free foreign");
	say("free(&local)");
	HAS("free foreign", "not a per-CPU handle");
	CHECK(pcpu_free(one) == 0, "free");
	errno = 0;
	CHECK(pcpu_free(one) == -1 && errno == EINVAL, "double free");
	say("free twice");
	HAS("double free", "not the start of a live allocation");

	errno = 0;
	CHECK(pcpu_init(&bigger) == -1 && errno == EBUSY, "init EBUSY");
	say("init(other stride)");
	HAS("init EBUSY", "one region per process");
	HAS("init EBUSY", "stride 262144");

	errno = 0;
	CHECK(!pcpu_cache_create(0, 0, 10, 0) && errno == EINVAL, "size 0");
	say("cache size 0");
	HAS("cache size 0", "size 0");
	CHECK(!pcpu_cache_create(8, 3, 10, 0) && errno == EINVAL, "align 3");
	HAS("cache align", "align 3");
	CHECK(!pcpu_cache_create(8, 8, 0, 0) && errno == EINVAL, "max 0");
	HAS("cache max 0", "max_objects 0");
	CHECK(!pcpu_cache_create(8, 8, 10, PCPU_CACHE_MAX_CAPACITY + 1) &&
	      errno == EINVAL, "capacity");
	say("cache capacity");
	HAS("cache capacity", "capacity 65537");
	/* The largest capacity's slab (512 KiB per CPU) is more than this
	 * stride (64 KiB): ENOMEM that says so. */
	errno = 0;
	CHECK(!pcpu_cache_create(8, 8, 10, PCPU_CACHE_MAX_CAPACITY) &&
	      errno == ENOMEM, "cache slab larger than the stride");
	say("cache capacity 65536");
	HAS("cache slab > stride", "capacity 65536");
	HAS("cache slab > stride", "more than the stride");
	HAS("cache slab > stride", "PCPU_STRIDE");

	c = pcpu_cache_create(64, 0, 100, 0);
	CHECK(c != NULL, "cache create: %s", pcpu_last_error());
	CHECK(pcpu_last_error()[0] == 0, "after a success: \"%s\"",
	      pcpu_last_error());
	CHECK(!c || pcpu_cache_destroy(c) == 0, "destroy");
	return t_done();
}
