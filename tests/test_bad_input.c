// SPDX-License-Identifier: MIT
/*
 * Bad input gets an error, never a crash: every public function that takes
 * an object is called with NULL and with a zero-filled object that was
 * never initialized, each in a child process of its own.  The child must
 * exit normally (no signal) with errno EINVAL where the function reports
 * errors.  Functions returning nothing to check only must not crash.
 */
#include "harness.h"

#include <sys/wait.h>

static struct pcpu_counter zc;
static struct pcpu_brlock zb;
static struct pcpu_spinlock zs;

/* Each case returns 0 if it got the error it should. */
#define EXPECT_ERR(call)	((call) == -1 && errno == EINVAL ? 0 : 1)
#define EXPECT_ZERO_EINVAL(call) ((call) == 0 && errno == EINVAL ? 0 : 1)

static int c_br_rl_null(void) { return EXPECT_ERR(pcpu_brlock_read_lock(NULL)); }
static int c_br_rl_zero(void) { return EXPECT_ERR(pcpu_brlock_read_lock(&zb)); }
static int c_br_ru_null(void) { return EXPECT_ERR(pcpu_brlock_read_unlock(NULL)); }
static int c_br_ru_zero(void) { return EXPECT_ERR(pcpu_brlock_read_unlock(&zb)); }
static int c_br_wl_null(void) { return EXPECT_ERR(pcpu_brlock_write_lock(NULL)); }
static int c_br_wl_zero(void) { return EXPECT_ERR(pcpu_brlock_write_lock(&zb)); }
static int c_br_wu_null(void) { return EXPECT_ERR(pcpu_brlock_write_unlock(NULL)); }
static int c_br_wu_zero(void) { return EXPECT_ERR(pcpu_brlock_write_unlock(&zb)); }
static int c_br_destroy_zero(void) { return EXPECT_ERR(pcpu_brlock_destroy(&zb)); }
static int c_br_mb_null(void) { return pcpu_brlock_uses_membarrier(NULL) != 0; }
static int c_ct_add_null(void) { return EXPECT_ERR(pcpu_counter_add(NULL, 1)); }
static int c_ct_add_zero(void) { return EXPECT_ERR(pcpu_counter_add(&zc, 1)); }
static int c_ct_add_big_zero(void) { return EXPECT_ERR(pcpu_counter_add(&zc, 1000000)); }
static int c_ct_inc_zero(void) { return EXPECT_ERR(pcpu_counter_inc(&zc)); }
static int c_ct_dec_null(void) { return EXPECT_ERR(pcpu_counter_dec(NULL)); }
static int c_ct_sum_null(void) { return EXPECT_ZERO_EINVAL(pcpu_counter_sum(NULL)); }
static int c_ct_sum_zero(void) { return EXPECT_ZERO_EINVAL(pcpu_counter_sum(&zc)); }
static int c_ct_read_null(void) { return EXPECT_ZERO_EINVAL(pcpu_counter_read(NULL)); }
static int c_ct_read_zero(void) { return EXPECT_ZERO_EINVAL(pcpu_counter_read(&zc)); }
static int c_ct_set_null(void) { return EXPECT_ERR(pcpu_counter_set(NULL, 5)); }
static int c_ct_set_zero(void) { return EXPECT_ERR(pcpu_counter_set(&zc, 5)); }
static int c_ct_bound_null(void) { return EXPECT_ERR(pcpu_counter_error_bound(NULL)); }
static int c_ct_bound_zero(void) { return EXPECT_ERR(pcpu_counter_error_bound(&zc)); }
static int c_ct_destroy_zero(void) { return EXPECT_ERR(pcpu_counter_destroy(&zc)); }
static int c_ct_init_null(void) { return EXPECT_ERR(pcpu_counter_init(NULL, 0, 0)); }
static int c_rseq_stats_null(void) { return EXPECT_ERR(pcpu_rseq_stats(NULL)); }
static int c_spin_lock_zero(void) { return EXPECT_ERR(pcpu_spin_lock(&zs)); }
static int c_spin_unlock_null(void) { return EXPECT_ERR(pcpu_spin_unlock(NULL, 0)); }
static int c_spin_trylock_zero(void) { return EXPECT_ERR(pcpu_spin_trylock(&zs)); }
static int c_spin_destroy_zero(void) { return EXPECT_ERR(pcpu_spin_destroy(&zs)); }
static int c_cache_alloc_null(void) { return pcpu_cache_alloc(NULL) || errno != EINVAL; }
static int c_cache_free_null(void) { int x; return EXPECT_ERR(pcpu_cache_free(NULL, &x)); }
static int c_cache_stats_null(void) { return EXPECT_ERR(pcpu_cache_stats(NULL, NULL)); }
static int c_cache_drain_null(void) { return EXPECT_ERR(pcpu_cache_drain(NULL)); }
static int c_cache_destroy_null(void) { return EXPECT_ERR(pcpu_cache_destroy(NULL)); }
static int c_ring_reserve_null(void) { return pcpu_ring_reserve(NULL, 8) || errno != EINVAL; }
static int c_ring_commit_null(void) { return EXPECT_ERR(pcpu_ring_commit(NULL, NULL)); }
static int c_ring_write_null(void) { return EXPECT_ERR(pcpu_ring_write(NULL, "x", 1)); }
static int c_ring_destroy_null(void) { return EXPECT_ERR(pcpu_ring_destroy(NULL)); }
static int c_ring_fd_null(void) { return EXPECT_ERR(pcpu_ring_fd(NULL)); }
static int c_free_foreign(void) { int x; return EXPECT_ERR(pcpu_free(&x)); }
static int c_alloc_zero(void) { return pcpu_alloc(0, 0) || errno != EINVAL; }

struct tcase {
	const char *name;
	int (*fn)(void);
};

#define C(f) { #f + 2, f }

int main(void)
{
	static const struct tcase cases[] = {
		C(c_br_rl_null), C(c_br_rl_zero), C(c_br_ru_null),
		C(c_br_ru_zero), C(c_br_wl_null), C(c_br_wl_zero),
		C(c_br_wu_null), C(c_br_wu_zero), C(c_br_destroy_zero),
		C(c_br_mb_null), C(c_ct_add_null), C(c_ct_add_zero),
		C(c_ct_add_big_zero), C(c_ct_inc_zero), C(c_ct_dec_null),
		C(c_ct_sum_null), C(c_ct_sum_zero), C(c_ct_read_null),
		C(c_ct_read_zero), C(c_ct_set_null), C(c_ct_set_zero),
		C(c_ct_bound_null), C(c_ct_bound_zero), C(c_ct_destroy_zero),
		C(c_ct_init_null), C(c_rseq_stats_null), C(c_spin_lock_zero),
		C(c_spin_unlock_null), C(c_spin_trylock_zero),
		C(c_spin_destroy_zero), C(c_cache_alloc_null),
		C(c_cache_free_null), C(c_cache_stats_null),
		C(c_cache_drain_null), C(c_cache_destroy_null),
		C(c_ring_reserve_null), C(c_ring_commit_null),
		C(c_ring_write_null), C(c_ring_destroy_null),
		C(c_ring_fd_null), C(c_free_foreign), C(c_alloc_zero),
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	int crashed = 0, wrong = 0;

	t_init(NULL);
	for (size_t i = 0; i < n; i++) {
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			errno = 0;
			_exit(cases[i].fn());
		}
		waitpid(pid, &st, 0);
		if (WIFSIGNALED(st)) {
			printf("%s: killed by signal %d\n", cases[i].name,
			       WTERMSIG(st));
			crashed++;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			printf("%s: no EINVAL\n", cases[i].name);
			wrong++;
		}
	}
	printf("%zu cases: %d crashed, %d without the error\n", n, crashed,
	       wrong);
	CHECK(!crashed && !wrong, "bad input must give EINVAL, never a crash");
	return t_done();
}
