# make bench: builds our benches (bench/bench_*.c) and the peers
# (bench/peer_*.c), runs them all (bench/run.sh), prints the table and the
# targets, and writes $(B)/bench/{results.json,summary.md,*.png}.
#
#   make bench                       the whole sweep (about 8 minutes)
#   make bench BENCH_TIME=0.05       shorter repetitions (seconds each)
#   make bench BENCH_THREADS=1,2     fewer thread counts
#
# The peers' Debian packages are installed first when missing.  A peer
# whose package is still missing is not built: run.sh prints why and
# skips its rows, and the rest of the run goes on.  A peer that is
# installed but does not build is an error.

BENCH_TIME    ?=
BENCH_THREADS ?=
BENCH_PKGS    := libck-dev liburcu-dev liblttng-ust-dev lttng-tools \
		 libjemalloc-dev libgoogle-perftools-dev linux-source-6.12 \
		 xz-utils gnuplot-nox

BENCH_SRCS    := $(wildcard bench/bench_*.c)
BENCHES       := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)
BENCH_DEPS    := bench/bench.h $(STLIB) $(HEADERS)
BENCH_LINK     = $(CC) $(ALL_CFLAGS) $(1) -o $@ $< $(STLIB) $(ALL_LDFLAGS) $(2)

# The peers and what each needs: name, then a check, then what to say
# when the check fails.  The checks run only in the bench-build sub-make,
# after bench-packages, so that plain make and make check never spawn
# them.
KS_TAR        ?= /usr/src/linux-source-6.12.tar.xz
BENCH_PEER_NAMES := peer_ck peer_urcu peer_lttng peer_cache_jemalloc \
		    peer_cache_tcmalloc peer_kselftest_rseq
need_peer_ck                  := test -r /usr/include/ck_pr.h
why_peer_ck                   := libck-dev is not installed
need_peer_urcu                := pkg-config --exists liburcu-memb
why_peer_urcu                 := liburcu-dev is not installed
need_peer_lttng               := pkg-config --exists lttng-ust
why_peer_lttng                := liblttng-ust-dev is not installed
need_peer_cache_jemalloc      := pkg-config --exists jemalloc
why_peer_cache_jemalloc       := libjemalloc-dev is not installed
need_peer_cache_tcmalloc      := pkg-config --exists libtcmalloc
why_peer_cache_tcmalloc       := libgoogle-perftools-dev is not installed
need_peer_kselftest_rseq      := test -r $(KS_TAR) && command -v xz
why_peer_kselftest_rseq       := $(KS_TAR) or xz is missing (Debian linux-source-6.12, xz-utils)

ifneq ($(filter bench-build,$(MAKECMDGOALS)),)
BENCH_HAVE := $(foreach p,$(BENCH_PEER_NAMES),\
	$(if $(shell $(need_$(p)) >/dev/null 2>&1 && echo y),$(p)))
endif
BENCH_PEERS   := $(addprefix $(B)/bench/,$(BENCH_HAVE))

.PHONY: bench-packages bench-build

$(B)/bench/%: bench/%.c $(BENCH_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STLIB) $(ALL_LDFLAGS) $(BENCH_LIBS)

$(B)/bench/report: bench/report.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lm

$(B)/bench/peer_ck: bench/peer_ck.c $(BENCH_DEPS)
	$(call BENCH_LINK)

$(B)/bench/peer_urcu: bench/peer_urcu.c $(BENCH_DEPS)
	$(call BENCH_LINK,$$(pkg-config --cflags liburcu-memb),\
		$$(pkg-config --libs liburcu-memb))

# -Ibench: LTTng's headers include the tracepoint header by its name.
$(B)/bench/peer_lttng: bench/peer_lttng.c bench/peer_lttng_tp.h $(BENCH_DEPS)
	$(call BENCH_LINK,-Ibench $$(pkg-config --cflags lttng-ust),\
		$$(pkg-config --libs lttng-ust) -ldl)

# The same source as bench_cache, linked with another malloc (which then
# serves every allocation of the process, as in a program linking it).
$(B)/bench/peer_cache_jemalloc: bench/bench_cache.c $(BENCH_DEPS)
	$(call BENCH_LINK,-DBENCH_ALLOCATOR='"jemalloc"',\
		$$(pkg-config --libs jemalloc))

$(B)/bench/peer_cache_tcmalloc: bench/bench_cache.c $(BENCH_DEPS)
	$(call BENCH_LINK,-DBENCH_ALLOCATOR='"tcmalloc"',\
		$$(pkg-config --libs libtcmalloc))

# The kernel's rseq selftest, from Debian's kernel source tarball: the
# selftest directory, kselftest.h and tools/include are extracted into
# $(KS) when the tarball changes (never into the source tree; about 10 s
# of xz), its rseq.c is compiled there with the selftest's own flags (not
# ours: it is not our code to hold to -Werror), and peer_kselftest_rseq.c
# includes its rseq.h through -isystem.
KS        := $(B)/bench/kselftest-rseq
KS_RSEQ   := $(KS)/tools/testing/selftests/rseq

$(KS)/rseq.o: $(KS_TAR)
	rm -rf $(KS) && mkdir -p $(KS)
	top=$$(tar -tJf $(KS_TAR) 2>/dev/null | head -n 1 | cut -d/ -f1) && \
	tar -xJf $(KS_TAR) -C $(KS) --strip-components=1 \
		$$top/tools/testing/selftests/rseq \
		$$top/tools/testing/selftests/kselftest.h $$top/tools/include
	$(CC) -O2 -g -pthread -I$(KS_RSEQ) -I$(KS)/tools/include \
		-c $(KS_RSEQ)/rseq.c -o $@

$(B)/bench/peer_kselftest_rseq: bench/peer_kselftest_rseq.c $(KS)/rseq.o \
				$(BENCH_DEPS)
	$(call BENCH_LINK,-isystem $(KS_RSEQ),$(KS)/rseq.o -ldl)

# Peer packages: all in one apt run; if that fails (one name unknown
# here), one by one, so that one missing peer does not take the others.
bench-packages:
	@scripts/need-packages.sh $(BENCH_PKGS) || \
	for p in $(BENCH_PKGS); do \
		scripts/need-packages.sh $$p >/dev/null 2>&1 || \
			echo "bench: could not install $$p"; \
	done

# Builds what can be built; a peer left out gets a .skip file that says
# why (run.sh prints it).
bench-build: lib $(BENCHES) $(BENCH_PEERS) $(B)/bench/report
	@$(foreach p,$(BENCH_PEER_NAMES),\
		$(if $(filter $(p),$(BENCH_HAVE)),\
			rm -f $(B)/bench/$(p).skip;,\
			rm -f $(B)/bench/$(p); \
			echo '$(why_$(p))' >$(B)/bench/$(p).skip;))

bench: deps bench-packages
	@$(MAKE) --no-print-directory bench-build
	@B=$(B) BENCH_TIME=$(BENCH_TIME) BENCH_THREADS=$(BENCH_THREADS) \
		BENCH_PEERS="$(BENCH_PEER_NAMES)" bench/run.sh
