// SPDX-License-Identifier: MIT
/*
 * abi_compat32 - built with -m32 -static: a 32-bit task gets EINVAL from
 * ARCH_SET_GS_PERCPU and ARCH_GET_GS_PERCPU, both through the ia32
 * arch_prctl (int $0x80) and through the 64-bit syscall entered from a
 * 64-bit code segment (the kernel rejects TIF_ADDR32 tasks explicitly).
 *
 * An unpatched kernel answers EINVAL too, so whether to skip is decided
 * by running the 64-bit "abi_errors --probe" found next to this binary.
 */
#include "gs_abi.h"
#include <libgen.h>
#include <sys/wait.h>

#define NR_ia32_arch_prctl	384

/*
 * int sys64_arch_prctl(int code, unsigned long addr): far jump to the
 * 64-bit code segment, 64-bit syscall 158 (arch_prctl), far jump back.
 * The way back is an indirect ljmp through a 32-bit far pointer rather
 * than lretq: QEMU 7.2 TCG pops lretq's stack with a supervisor access,
 * which faults under SMAP.
 */
int sys64_arch_prctl(int code, unsigned long addr);
asm(".data\n"
    "sys64_back: .long 2f\n"
    "	.word 0x23\n"
    ".text\n"
    ".code32\n"
    ".globl sys64_arch_prctl\n"
    ".type sys64_arch_prctl, @function\n"
    "sys64_arch_prctl:\n"
    "	push %ebx\n"
    "	push %esi\n"
    "	push %edi\n"
    "	push %ebp\n"
    "	mov 20(%esp), %edi\n"
    "	mov 24(%esp), %esi\n"
    "	mov $sys64_back, %ebx\n"
    "	jmp $0x33, $1f\n"
    "1:	.code64\n"
    "	mov %edi, %edi\n"
    "	mov %esi, %esi\n"
    "	mov %ebx, %ebx\n"
    "	mov $158, %eax\n"
    "	syscall\n"
    "	ljmpl *(%rbx)\n"
    "2:	.code32\n"
    "	pop %ebp\n"
    "	pop %edi\n"
    "	pop %esi\n"
    "	pop %ebx\n"
    "	ret\n"
    ".size sys64_arch_prctl, .-sys64_arch_prctl\n");

/* 0: patched, 77: unpatched, -1: could not tell. */
static int probe_kernel(const char *self)
{
	char path[4096], copy[4096];
	int status;
	pid_t pid;

	snprintf(copy, sizeof(copy), "%s", self);
	snprintf(path, sizeof(path), "%s/abi_errors", dirname(copy));
	if (access(path, X_OK))
		return -1;
	pid = fork();
	if (pid == 0) {
		execl(path, path, "--probe", (char *)NULL);
		_exit(126);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	if (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == GS_EXIT_SKIP)
		return WEXITSTATUS(status);
	return -1;
}

int main(int argc, char **argv)
{
	unsigned long arg[2] = { 0x10000, 4096 };
	char self[4096];
	ssize_t n;
	int probe;
	long r;

	(void)argc;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	probe = probe_kernel(n > 0 ? self : argv[0]);
	if (probe == GS_EXIT_SKIP) {
		printf("abi_compat32: kernel lacks per-CPU GS (abi_errors --probe), skipping\n");
		return GS_EXIT_SKIP;
	}
	if (probe < 0)
		printf("abi_compat32: could not run abi_errors --probe; checking EINVAL anyway\n");

	r = syscall(NR_ia32_arch_prctl, ARCH_SET_GS_PERCPU, (unsigned long)arg);
	gs_expect("ia32 arch_prctl SET", r, EINVAL);
	r = syscall(NR_ia32_arch_prctl, ARCH_GET_GS_PERCPU, (unsigned long)arg);
	gs_expect("ia32 arch_prctl GET", r, EINVAL);

	r = sys64_arch_prctl(ARCH_SET_GS_PERCPU, (unsigned long)arg);
	if (r == -EINVAL)
		gs_ok("64-bit syscall from a 32-bit task, SET: EINVAL");
	else
		gs_fail("64-bit syscall from a 32-bit task, SET: %ld", r);
	r = sys64_arch_prctl(ARCH_GET_GS_PERCPU, (unsigned long)arg);
	if (r == -EINVAL)
		gs_ok("64-bit syscall from a 32-bit task, GET: EINVAL");
	else
		gs_fail("64-bit syscall from a 32-bit task, GET: %ld", r);

	printf("abi_compat32: %s\n", gs_failures ? "FAILED" : "all checks passed");
	return gs_exit_status();
}
