// SPDX-License-Identifier: MIT
// The public headers compile as C++ and the ops work from C++ code.
#include <percpu/percpu.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

int main()
{
	if (pcpu_init(nullptr)) {
		std::printf("skip: %s\n", pcpu_init_error());
		return errno == ENODEV ? 77 : 1;
	}
	auto *p = PCPU_ALLOC(std::int64_t);
	auto *q = PCPU_ALLOC(std::uint16_t);
	struct pcpu_counter c;
	unsigned int cpu;
	std::int64_t sum = 0;

	if (!p || !q || pcpu_counter_init(&c, 0, 0))
		return 1;
	for (int i = 0; i < 1000; i++) {
		this_cpu_add(p, 2);
		this_cpu_dec(p);
		(void)this_cpu_inc_return(q);
		pcpu_counter_inc(&c);
	}
	pcpu_for_each_cpu(cpu)
		sum += *pcpu_ptr(p, cpu);
	std::printf("backend %s: sum %lld counter %lld\n", pcpu_backend_name(),
		    (long long)sum, (long long)pcpu_counter_sum(&c));
	if (sum != 1000 || pcpu_counter_sum(&c) != 1000)
		return 1;
	std::printf("ok\n");
	return 0;
}
