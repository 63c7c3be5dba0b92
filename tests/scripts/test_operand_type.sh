#!/bin/bash
# A this_cpu op on a per-CPU variable of the wrong type is a build error
# that says what is wrong (a static assertion with a message), in C and
# C++: a double, a float, a 3-byte struct; a long and a pointer build.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
msg="the per-CPU variable must be an integer or a pointer of 1, 2, 4 or 8 bytes"

try() {	# try LANG DECL OP EXPECT(ok|fail)
	local ext=c cc=${CC:-cc}
	[ "$1" = c++ ] && { ext=cc; cc=${CXX:-c++}; }
	printf '#include <percpu/percpu.h>\nvoid f(void);\nvoid f(void) { %s\n%s; }\n' "$2" "$3" > "$tmp/t.$ext"
	if $cc -I"$root/include" -c "$tmp/t.$ext" -o "$tmp/t.o" 2>"$tmp/err"; then
		[ "$4" = ok ] || { echo "FAILED: $1 '$2 $3' built"; fails=$((fails + 1)); }
	else
		if [ "$4" = ok ]; then
			echo "FAILED: $1 '$2 $3' did not build:"; head -3 "$tmp/err"
			fails=$((fails + 1))
		elif ! grep -q "$msg" "$tmp/err"; then
			echo "FAILED: $1 '$2 $3': no readable message:"; head -3 "$tmp/err"
			fails=$((fails + 1))
		fi
	fi
}
for lang in c c++; do
	try $lang 'double *d = (double *)pcpu_alloc(8, 8);' 'this_cpu_add(d, 1)' fail
	try $lang 'float *d = (float *)pcpu_alloc(4, 4);' 'this_cpu_inc(d)' fail
	try $lang 'struct s3 { char x[3]; } *d = (struct s3 *)pcpu_alloc(3, 1);' '(void)this_cpu_read(d)' fail
	try $lang 'long *d = (long *)pcpu_alloc(8, 8);' 'this_cpu_add(d, 1)' ok
	try $lang 'void **d = (void **)pcpu_alloc(8, 8);' 'this_cpu_write(d, (void *)0)' ok
done
echo "operand types: $fails failed"
[ $fails = 0 ] && echo ok
exit $((fails > 0))
