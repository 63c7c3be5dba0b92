// SPDX-License-Identifier: MIT
/*
 * Every this_cpu op at every operand size: exact results on a pinned
 * thread, and the sum over copies conserved while the thread migrates.
 */
#include "harness.h"

#include <stdint.h>

/* Sum of all copies, as a 64-bit number of the operand's type. */
#define SUM(p)								\
	__extension__({							\
		unsigned int c_;					\
		__typeof__(*(p)) s_ = 0;				\
		pcpu_for_each_cpu(c_)					\
			s_ += *pcpu_ptr(p, c_);				\
		s_;							\
	})

#define TEST_TYPE(T)							\
	do {								\
		T *p = PCPU_ALLOC(T);					\
		T r;							\
		unsigned int c, cpu;					\
									\
		CHECK(p, "alloc %s: %s", #T, strerror(errno));		\
		if (!p)							\
			break;						\
		CHECK(((uintptr_t)p & (_Alignof(T) - 1)) == 0, "align"); \
		pcpu_for_each_cpu(c)					\
			CHECK(*pcpu_ptr(p, c) == 0, "%s not zero", #T);	\
		for (cpu = 0; cpu < t_ncpus(); cpu++) {			\
			T *mine;					\
									\
			t_pin(cpu);					\
			mine = this_cpu_ptr(p);				\
			this_cpu_write(p, (T)5);			\
			CHECK(this_cpu_read(p) == (T)5, "%s write/read", #T); \
			CHECK(*mine == (T)5, "%s this_cpu_ptr", #T);	\
			this_cpu_add(p, 3);				\
			CHECK(*mine == (T)8, "%s add", #T);		\
			this_cpu_sub(p, 2);				\
			CHECK(*mine == (T)6, "%s sub", #T);		\
			this_cpu_inc(p);				\
			CHECK(*mine == (T)7, "%s inc", #T);		\
			this_cpu_dec(p);				\
			this_cpu_dec(p);				\
			CHECK(*mine == (T)5, "%s dec", #T);		\
			r = this_cpu_add_return(p, 10);			\
			CHECK(r == (T)15 && *mine == (T)15,		\
			      "%s add_return", #T);			\
			r = this_cpu_sub_return(p, 4);			\
			CHECK(r == (T)11, "%s sub_return", #T);		\
			CHECK(this_cpu_inc_return(p) == (T)12, "%s inc_ret", #T); \
			CHECK(this_cpu_dec_return(p) == (T)11, "%s dec_ret", #T); \
			r = this_cpu_xchg(p, (T)42);			\
			CHECK(r == (T)11 && *mine == (T)42, "%s xchg", #T); \
			r = this_cpu_cmpxchg(p, (T)41, (T)7);		\
			CHECK(r == (T)42 && *mine == (T)42,		\
			      "%s cmpxchg must fail", #T);		\
			r = this_cpu_cmpxchg(p, (T)42, (T)7);		\
			CHECK(r == (T)42 && *mine == (T)7,		\
			      "%s cmpxchg must succeed", #T);		\
			/* Wrap-around and the top bit survive. */	\
			this_cpu_write(p, (T)~(T)0);			\
			CHECK(this_cpu_add_return(p, 1) == (T)0, "%s wrap", #T); \
			this_cpu_sub(p, 1);				\
			CHECK(*mine == (T)~(T)0, "%s sub wrap", #T);	\
			this_cpu_write(p, 0);				\
		}							\
		t_unpin();						\
		/* Migrating: every op still lands once, somewhere. */	\
		{							\
			unsigned int seed = 7;				\
			long i;						\
									\
			for (i = 0; i < 20000; i++) {			\
				if (i % 1000 == 0)			\
					t_migrate(0, &seed);		\
				this_cpu_add(p, 3);			\
				this_cpu_sub(p, 1);			\
				(void)this_cpu_add_return(p, 1);	\
				(void)this_cpu_inc_return(p);		\
			}						\
			CHECK(SUM(p) == (T)(20000 * 4), "%s sum", #T);	\
		}							\
		t_unpin();						\
		CHECK(pcpu_free(p) == 0, "free");			\
	} while (0)

int main(void)
{
	t_init(NULL);

	TEST_TYPE(uint8_t);
	TEST_TYPE(int8_t);
	TEST_TYPE(uint16_t);
	TEST_TYPE(int16_t);
	TEST_TYPE(uint32_t);
	TEST_TYPE(int32_t);
	TEST_TYPE(uint64_t);
	TEST_TYPE(int64_t);
	TEST_TYPE(long);
	TEST_TYPE(unsigned char);

	/* Signed operands keep their sign through the size dispatch. */
	{
		int32_t *p = PCPU_ALLOC(int32_t);
		int64_t *q = PCPU_ALLOC(int64_t);

		this_cpu_add(p, -5);
		this_cpu_sub(q, 7u); /* unsigned v: negated in the op's type */
		CHECK(SUM(p) == -5, "int32 negative: %d", SUM(p));
		CHECK(SUM(q) == -7, "int64 sub unsigned: %lld",
		      (long long)SUM(q));
		pcpu_free(p);
		pcpu_free(q);
	}

	/* Pointers are operands too. */
	{
		int x, y;
		int **pp = PCPU_ALLOC(int *);
		int *old;

		t_pin(0);
		old = this_cpu_xchg(pp, &x);
		CHECK(old == NULL, "pointer xchg old");
		CHECK(this_cpu_read(pp) == &x, "pointer read");
		CHECK(this_cpu_cmpxchg(pp, &x, &y) == &x, "pointer cmpxchg");
		CHECK(this_cpu_read(pp) == &y, "pointer after cmpxchg");
		t_unpin();
		pcpu_free(pp);
	}

	CHECK(pcpu_cpu() < pcpu_nr_copies(), "pcpu_cpu %u", pcpu_cpu());
	CHECK(pcpu_index() < pcpu_nr_copies(), "pcpu_index %u", pcpu_index());
	return t_done();
}
