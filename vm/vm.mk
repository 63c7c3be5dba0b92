# vm/vm.mk - QEMU harness for the per-CPU GS kernel patch (kernel/).
#
# Include it from the top Makefile, or run it alone from the repository
# root:  make -f vm/vm.mk vm-check
# All paths are relative to the repository root; every variable is VM_*.
#
# Targets
#   vm-check   build (once, cached) the patched kernel, then boot it twice,
#              as is (FSGSBASE path) and with "nofsgsbase" (MSR path), and
#              run the ABI tests, the kernel selftest from the series and
#              $(VM_LIB_TESTS) once per backend in $(VM_BACKENDS)
#   vm-bench   also build the unpatched kernel and compare context-switch
#              cost (pipe ping-pong) on both, under QEMU -icount (guest
#              instructions, see VM_BENCH_QEMU_ARGS)
#   vm-kernel  only build the patched kernel (prints its path)
#   vm-kernel-arm64  only build the arm64 kernel (prints its path)
#   vm-aarch64 only the AArch64 boot of vm-check
#   vm-abi     only build the ABI test binaries
#   vm-clean   remove $(VM_OUT) (the kernel cache is kept)
#
# Variables
#   VM_LIB_TESTS  static library test executables (paths relative to the
#                 root); each runs with PCPU_BACKEND=<backend>. Make
#                 vm-check depend on them yourself or list them before
#                 including this file (they are prerequisites of vm-check).
#   VM_BACKENDS   default: gs rseq atomic
#   VM_OUT        build directory for test binaries and logs (build/vm)
#   PCPU_CACHE    kernel cache directory (environment; /var/cache/libpercpu)
#   VM_ACCEL      tcg or kvm (environment; default: kvm only where
#                 kvm_intel/kvm_amd is loaded, else tcg)
#   VM_SMP, VM_MEM  guest CPUs (4), memory (512M)
#   VM_TIMEOUT    whole-VM timeout per boot, seconds (default 600 + 30 per
#                 library test run)
#   VM_GUEST_ENV  "K=V ..." exported to every test in the guest (e.g. to
#                 shorten stress tests under emulation)
#   VM_EXTRA_ABI  more static programs run once in each x86 boot (the top
#                 Makefile puts pcpu-selftest there)
#   VM_AARCH64_TESTS  static aarch64 test executables: when set, vm-check
#                 also boots Debian's 6.12 built for arm64 (vm[aarch64],
#                 qemu-system-aarch64 -machine virt -cpu max, TCG) and runs
#                 each once per entry of VM_AARCH64_BACKENDS
#   VM_AARCH64_ABI  static aarch64 programs run once there (pcpu-selftest)
#   VM_AARCH64_BACKENDS  default: rseq, rseq by mm_cid, atomic, rseq on
#                 the library's own registration (see run.sh --backends)
#
# Output: one "PASS: vm[<variant>] <name>", "FAIL: ..." or
# "SKIP: ... (<reason>)" line per test; other lines start with "# ".

VM_LIB_TESTS ?=
VM_BACKENDS ?= gs rseq atomic
VM_OUT ?= build/vm
VM_SMP ?= 4
VM_MEM ?= 512M
# Whole-VM timeout per boot: 600 s plus 30 s per library test run
# (under TCG the library's stress tests take 5 to 80 s each).
VM_TIMEOUT ?= $(shell echo $$((600 + 30 * $(words $(VM_LIB_TESTS)) * $(words $(VM_BACKENDS)))))
# Environment for every test in the guest, e.g. VM_GUEST_ENV="PCPU_STRESS_SECONDS=1"
VM_GUEST_ENV ?=
VM_EXTRA_ABI ?=
VM_AARCH64_TESTS ?=
VM_AARCH64_ABI ?=
VM_AARCH64_BACKENDS ?= rseq rseq-cid:PCPU_BACKEND=rseq,PCPU_INDEX=cid atomic \
	rseq-own:PCPU_BACKEND=rseq,GLIBC_TUNABLES=glibc.pthread.rseq=0
VM_AARCH64_TIMEOUT ?= $(shell echo $$((600 + 30 * $(words $(VM_AARCH64_TESTS)) * $(words $(VM_AARCH64_BACKENDS)))))
VM_CC ?= gcc
VM_CFLAGS ?= -O2 -g -Wall -Wextra -static -pthread
VM_BENCH_ROUNDS ?= 5000
# vm-bench runs QEMU with -icount shift=0: the guest clock advances 1 ns per
# guest instruction, so a round trip's "ns" count its instructions and the
# comparison does not depend on the host's load (TCG wall time varies by
# 15-30% on a shared machine). VM_BENCH_QEMU_ARGS= measures wall time.
VM_BENCH_QEMU_ARGS ?= -icount shift=0,sleep=off

VM_ABI_SRCS := $(filter-out tests/abi/abi_compat32.c tests/abi/bench_%.c,\
		$(wildcard tests/abi/*.c))
VM_ABI_BINS := $(patsubst tests/abi/%.c,$(VM_OUT)/abi/%,$(VM_ABI_SRCS)) \
	       $(VM_OUT)/abi/abi_compat32
VM_BENCH_BINS := $(patsubst tests/abi/%.c,$(VM_OUT)/abi/%,\
		 $(wildcard tests/abi/bench_*.c))
VM_ABI_HDRS := $(wildcard tests/abi/*.h)

VM_RUN = vm/run.sh --smp $(VM_SMP) --mem $(VM_MEM) --timeout $(VM_TIMEOUT) \
	 --env "$(VM_GUEST_ENV)"

.PHONY: vm-check vm-bench vm-kernel vm-abi vm-clean vm-packages
.PHONY: vm-aarch64 vm-kernel-arm64 vm-packages-arm64

vm-abi: $(VM_ABI_BINS) $(VM_BENCH_BINS)

$(VM_OUT)/abi/%: tests/abi/%.c $(VM_ABI_HDRS)
	@mkdir -p $(@D)
	$(VM_CC) $(VM_CFLAGS) -o $@ $<

# -m32 needs 32-bit libc (gcc-multilib, or libc6-dev-i386 + lib32gcc-12-dev
# where gcc-multilib conflicts with a cross compiler), which
# build-kernel.sh --packages-only installs first. Without gcc-multilib
# there is no /usr/include/asm: point -idirafter at the bi-arch amd64 asm/
# headers. With no 32-bit toolchain at all, install a stub that SKIPs, dated
# 1970 so that the next make tries the real build again.
VM_INC32 := $(VM_OUT)/include32
$(VM_OUT)/abi/abi_compat32: tests/abi/abi_compat32.c $(VM_ABI_HDRS) | vm-packages
	@mkdir -p $(@D) $(VM_INC32)
	@[ -e /usr/include/asm ] || [ ! -d /usr/include/x86_64-linux-gnu/asm ] || \
		ln -sfn /usr/include/x86_64-linux-gnu/asm $(VM_INC32)/asm
	$(VM_CC) -m32 $(filter-out -pthread,$(VM_CFLAGS)) -idirafter $(VM_INC32) \
		-o $@ $< || { \
		echo "vm.mk: no -m32 toolchain: abi_compat32 will SKIP" >&2; \
		printf '#!/bin/sh\necho "abi_compat32: no 32-bit toolchain on the build host"\nexit 77\n' > $@; \
		chmod +x $@; touch -d @0 $@; }

vm-kernel:
	@vm/build-kernel.sh

# The toolchain, QEMU and kernel source, before anything is compiled.
vm-packages:
	@vm/build-kernel.sh --packages-only

vm-packages-arm64:
	@vm/build-kernel.sh --arch arm64 --packages-only

vm-kernel-arm64:
	@vm/build-kernel.sh --arch arm64

# Both boots run even if the first fails; the target fails if either did.
vm-check: $(VM_ABI_BINS) $(VM_LIB_TESTS) $(VM_EXTRA_ABI)
	@k=$$(vm/build-kernel.sh) || exit 1; \
	st=$$(dirname "$$k")/selftest_gs_percpu; [ -x "$$st" ] || st=; \
	rc=0; \
	$(VM_RUN) --kernel "$$k" --variant fsgsbase \
		--abi "$(VM_ABI_BINS) $$st $(VM_EXTRA_ABI)" --lib "$(strip $(VM_LIB_TESTS))" \
		--backends "$(VM_BACKENDS)" \
		--log $(VM_OUT)/console-fsgsbase.log || rc=1; \
	$(VM_RUN) --kernel "$$k" --variant nofsgsbase --append nofsgsbase \
		--abi "$(VM_ABI_BINS) $$st $(VM_EXTRA_ABI)" --lib "$(strip $(VM_LIB_TESTS))" \
		--backends "$(VM_BACKENDS)" \
		--log $(VM_OUT)/console-nofsgsbase.log || rc=1; \
	$(if $(strip $(VM_AARCH64_TESTS)),$(VM_AARCH64_BOOT) || rc=1;) \
	exit $$rc

# The AArch64 boot: its kernel (built once, cached like the x86 one), then
# every test once per backend entry. A kernel that does not build is a FAIL
# of vm[aarch64] boot, not the end of vm-check.
VM_AARCH64_BOOT = { ka=$$(vm/build-kernel.sh --arch arm64) || \
		{ echo "FAIL: vm[aarch64] boot"; echo "\# vm[aarch64]: no arm64 kernel"; false; } && \
	$(VM_RUN) --timeout $(VM_AARCH64_TIMEOUT) --arch aarch64 --kernel "$$ka" \
		--variant aarch64 --abi "$(VM_AARCH64_ABI)" \
		--lib "$(strip $(VM_AARCH64_TESTS))" \
		--backends "$(strip $(VM_AARCH64_BACKENDS))" \
		--log $(VM_OUT)/console-aarch64.log; }

vm-check: $(VM_AARCH64_TESTS) $(VM_AARCH64_ABI)

vm-aarch64: $(VM_AARCH64_TESTS) $(VM_AARCH64_ABI)
	@$(VM_AARCH64_BOOT)

# Context-switch cost, patched vs unpatched kernel (builds the unpatched
# kernel on first use). Prints "# BENCH[...]" lines and the ratio.
vm-bench: $(VM_BENCH_BINS)
	@kp=$$(vm/build-kernel.sh) && ku=$$(vm/build-kernel.sh --unpatched) || exit 1; \
	mkdir -p $(VM_OUT); \
	export VM_QEMU_ARGS='$(VM_BENCH_QEMU_ARGS)'; \
	VM_BENCH_ARGS=$(VM_BENCH_ROUNDS) $(VM_RUN) --kernel "$$kp" --variant patched \
		--bench "$(VM_BENCH_BINS)" | tee $(VM_OUT)/bench-patched.txt; \
	VM_BENCH_ARGS=$(VM_BENCH_ROUNDS) $(VM_RUN) --kernel "$$ku" --variant unpatched \
		--bench "$(VM_BENCH_BINS)" | tee $(VM_OUT)/bench-unpatched.txt; \
	vm/bench-ratio.sh $(VM_OUT)/bench-patched.txt $(VM_OUT)/bench-unpatched.txt

vm-clean:
	rm -rf $(VM_OUT)
