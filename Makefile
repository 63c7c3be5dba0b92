# libpercpu - per-CPU memory for user space.
#
#   make            libpercpu.so + libpercpu.a
#   make check      all tests (host, valgrind, rseq=0, kernel VM), summary line
#   make bench      benchmarks: table, build/bench/results.json, plots
#   make install    PREFIX=/usr/local DESTDIR=
#   make check SANITIZE=address,undefined   (or thread)

VERSION     := 0.1.0
SOVERSION   := 1
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
MANDIR      ?= $(PREFIX)/share/man
BINDIR      ?= $(PREFIX)/bin

CC          ?= cc
CXX         ?= c++
comma       := ,
SANITIZE    ?=
B           ?= build$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))

# -Werror for the project's own builds (make, make check, CI); a packager
# who passes CFLAGS gets warnings, not failures (WERROR=-Werror to insist).
ifeq ($(filter command line environment,$(origin CFLAGS)),)
WERROR      ?= -Werror
endif
WARN        := -Wall -Wextra $(WERROR)
CFLAGS      ?= -O2 -g
SAN_FLAGS   := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer)
ALL_CFLAGS  := -std=gnu11 $(WARN) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -Iinclude -pthread
LIB_CFLAGS  := $(ALL_CFLAGS) -fPIC
ALL_LDFLAGS := $(LDFLAGS) $(SAN_FLAGS) -pthread

LIB_SRCS    := $(wildcard src/*.c)
LIB_OBJS    := $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
HEADERS     := $(wildcard include/percpu/*.h include/percpu/arch/*.h \
                 include/percpu/arch/*/*.h)
SONAME      := libpercpu.so.$(SOVERSION)
SHLIB       := $(B)/$(SONAME)
STLIB       := $(B)/libpercpu.a

TEST_SRCS   := $(wildcard tests/test_*.c)
TESTS       := $(TEST_SRCS:tests/%.c=$(B)/tests/%)
STATIC_TESTS := $(TEST_SRCS:tests/%.c=$(B)/tests-static/%)
TEST_LIB    := $(wildcard tests/*.h)

EXAMPLES    := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
TOOLS       := $(B)/tools/pcpu-stat
TOOLS       += $(B)/tools/pcpu-selftest

.PHONY: all lib tools tests static-tests check run-tests bench install uninstall clean vm-check deps

# The default goal: the library, as a user expects from plain make.
all: lib
all: tools

# Build tools a fresh Debian machine may lack (installed when missing).
deps:
	@scripts/need-packages.sh gcc g++ libc6-dev pkg-config

lib: $(SHLIB) $(STLIB) $(B)/libpercpu.so $(B)/percpu.pc

$(B)/obj/%.o: src/%.c $(HEADERS) src/internal.h
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(SHLIB): $(LIB_OBJS) src/libpercpu.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libpercpu.map \
		-Wl,-z,defs $(ALL_LDFLAGS) -o $@ $(LIB_OBJS)

$(B)/libpercpu.so: $(SHLIB)
	ln -sf $(SONAME) $@

# The version: the Makefile's VERSION is the single source; src/version.c
# does not build when include/percpu/version.h says something else.
VERSION_PARTS := $(subst ., ,$(VERSION))
$(B)/obj/version.o: LIB_CFLAGS += -DPCPU_MK_MAJOR=$(word 1,$(VERSION_PARTS)) \
	-DPCPU_MK_MINOR=$(word 2,$(VERSION_PARTS)) -DPCPU_MK_PATCH=$(word 3,$(VERSION_PARTS))
$(B)/obj/version.o: Makefile

$(B)/tools/%: tools/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

# pcpu-stat reads other processes' tables with the headers alone, but
# tails their rings with the library's own consumer (which checks the
# memfd's seals and every word a writer left): linked with the static
# library, so that the installed program needs no libpercpu.so.
$(B)/tools/pcpu-stat: tools/pcpu-stat.c $(STLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STLIB) $(ALL_LDFLAGS)

tools: $(TOOLS)

# pcpu-selftest runs the library's own sequences, ops and critical
# sections: linked with the static library, so that the installed program
# needs no libpercpu.so; the static copy goes into the kernel VMs.
$(B)/tools/pcpu-selftest: tools/pcpu-selftest.c $(STLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STLIB) $(ALL_LDFLAGS)

$(B)/tools-static/pcpu-selftest: tools/pcpu-selftest.c $(STLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -static -o $@ $< $(STLIB) $(ALL_LDFLAGS)

$(STLIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# The .pc file records the install paths: rebuilt whenever they change
# (a stamp holding PREFIX, LIBDIR, INCLUDEDIR and VERSION).
PC_VARS := $(PREFIX)|$(LIBDIR)|$(INCLUDEDIR)|$(VERSION)
$(B)/pc-vars: FORCE
	@mkdir -p $(@D)
	@[ "$$(cat $@ 2>/dev/null)" = '$(PC_VARS)' ] || echo '$(PC_VARS)' > $@

.PHONY: FORCE
FORCE:

$(B)/percpu.pc: percpu.pc.in $(B)/pc-vars
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# Tests link the shared library (rpath into the build tree); the static
# copies go into the kernel VM's initramfs.
$(B)/tests/%: tests/%.c $(TEST_LIB) $(SHLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< -L$(B) -Wl,-rpath,$(abspath $(B)) -lpercpu $(ALL_LDFLAGS)

$(B)/tests-static/%: tests/%.c $(TEST_LIB) $(STLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -static -o $@ $< $(STLIB) $(ALL_LDFLAGS)

$(B)/tests/cxx_header: tests/cxx_header.cc $(SHLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CXX) -std=c++17 $(WARN) $(CFLAGS) $(SAN_FLAGS) -Iinclude -o $@ $< \
		-L$(B) -Wl,-rpath,$(abspath $(B)) -lpercpu $(ALL_LDFLAGS)

$(B)/examples/%: examples/%.c $(SHLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< -L$(B) -Wl,-rpath,$(abspath $(B)) -lpercpu $(ALL_LDFLAGS)

tests: lib $(TESTS) $(B)/tests/cxx_header $(EXAMPLES)
tests: tools $(B)/tests/define_dso.so

# test_define loads this shared object (the same source, built as a library
# that defines per-CPU variables) with dlopen() and unloads it.
$(B)/tests/define_dso.so: tests/test_define.c $(TEST_LIB) $(SHLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -shared -DT_DEFINE_DSO -o $@ $< -L$(B) \
		-Wl,-rpath,$(abspath $(B)) -lpercpu $(ALL_LDFLAGS)
$(B)/tests/test_define: ALL_LDFLAGS += -ldl
$(B)/tests-static/test_define: ALL_CFLAGS += -DT_STATIC

static-tests: $(STATIC_TESTS)
static-tests: $(B)/tools-static/pcpu-selftest

# The kernel VM harness (vm/), fed with the static test binaries.
VM_LIB_TESTS := $(if $(SANITIZE),,$(STATIC_TESTS))
# TCG runs the guest about 20x slower: shrink the stress runs to match.
VM_GUEST_ENV ?= PCPU_STRESS_SCALE=0.03
# Run once in every VM: does that kernel keep rseq's promises?
VM_EXTRA_ABI := $(if $(SANITIZE),,$(B)/tools-static/pcpu-selftest)
# The AArch64 VM (vm[aarch64]): the library, every test program and
# pcpu-selftest cross-built static by a sub-make in a directory of their
# own (make aarch64-static), with aarch64-linux-gnu-gcc.
AARCH64_B   ?= build/aarch64
AARCH64_CC  ?= aarch64-linux-gnu-gcc
ifneq ($(B),$(AARCH64_B))
VM_AARCH64_TESTS := $(if $(SANITIZE),,$(STATIC_TESTS:$(B)/%=$(AARCH64_B)/%))
VM_AARCH64_ABI := $(if $(SANITIZE),,$(AARCH64_B)/tools-static/pcpu-selftest)
endif
-include vm/vm.mk
# libFuzzer target for the ring consumer: make fuzz (FUZZ_TIME=seconds).
-include fuzz/fuzz.mk
# make bench: our benches and the peers, table, plots, summary.
-include bench/bench.mk

# The cross compiler first (vm/build-kernel.sh --arch arm64 installs it),
# then one sub-make builds everything; the files depend on that run.
.PHONY: aarch64-static
aarch64-static: | vm-packages-arm64
	@$(MAKE) --no-print-directory B=$(AARCH64_B) CC=$(AARCH64_CC) \
		SANITIZE= static-tests
ifneq ($(strip $(VM_AARCH64_TESTS)),)
$(VM_AARCH64_TESTS) $(VM_AARCH64_ABI): aarch64-static ;
endif

check: deps
	@$(MAKE) --no-print-directory tests $(if $(SANITIZE),,static-tests)
	@$(MAKE) --no-print-directory run-tests

run-tests:
	@B=$(B) SANITIZE=$(SANITIZE) tests/run.sh

MAN_PAGES   := $(patsubst man/%,%,$(wildcard man/man*/*.[0-9] man/man*/*.[0-9]type))

install: lib tools
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/percpu/arch/x86_64 \
		$(DESTDIR)$(INCLUDEDIR)/percpu/arch/aarch64 \
		$(sort $(dir $(addprefix $(DESTDIR)$(MANDIR)/,$(MAN_PAGES))))
	install -m 644 include/percpu/*.h $(DESTDIR)$(INCLUDEDIR)/percpu/
	install -m 644 include/percpu/arch/*.h $(DESTDIR)$(INCLUDEDIR)/percpu/arch/
	install -m 644 include/percpu/arch/x86_64/*.h $(DESTDIR)$(INCLUDEDIR)/percpu/arch/x86_64/
	install -m 644 include/percpu/arch/aarch64/*.h $(DESTDIR)$(INCLUDEDIR)/percpu/arch/aarch64/
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpercpu.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(B)/percpu.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	for m in $(MAN_PAGES); do install -m 644 man/$$m $(DESTDIR)$(MANDIR)/$$m || exit 1; done

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/percpu
	rm -f $(DESTDIR)$(LIBDIR)/libpercpu.* $(DESTDIR)$(LIBDIR)/$(SONAME) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/percpu.pc
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/,$(MAN_PAGES))
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOLS)))

clean:
	rm -rf build build-*
