# Fuzzing the ring consumer with libFuzzer (included by the Makefile).
#
#   make fuzz                 build, then fuzz for FUZZ_TIME seconds (60)
#   make fuzz-corpus          regenerate the seed images in fuzz/corpus/ring
#
# New inputs go to $(B)/fuzz/corpus; fuzz/corpus/ring (the seeds, in git)
# is only read.  Needs clang and its compiler-rt (Debian: clang,
# libclang-rt-14-dev); missing packages are installed with apt-get.

FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_B     := $(B)/fuzz
# PCPU__RING_STUCK_NS=0: the reader skips a position that looks abandoned
# at its second look, not after a second, so inputs reach that path.
FUZZ_FLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer \
              -fsanitize=fuzzer,address,undefined -Iinclude -Isrc -pthread \
              -DPCPU__RING_STUCK_NS=0

.PHONY: fuzz fuzz-deps fuzz-corpus

fuzz-deps:
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1 || \
	    ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' | \
	      $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then \
		echo "fuzz: installing clang and libclang-rt-14-dev"; \
		apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev; \
	fi

$(FUZZ_B)/ring_fuzz: fuzz/ring_fuzz.c $(LIB_SRCS) $(HEADERS) src/internal.h | fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ fuzz/ring_fuzz.c $(LIB_SRCS)

$(FUZZ_B)/mkcorpus: fuzz/mkcorpus.c $(STLIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STLIB) $(ALL_LDFLAGS)

fuzz-corpus: $(FUZZ_B)/mkcorpus
	@mkdir -p fuzz/corpus/ring
	$(FUZZ_B)/mkcorpus fuzz/corpus/ring

fuzz: $(FUZZ_B)/ring_fuzz
	@mkdir -p $(FUZZ_B)/corpus
	$(FUZZ_B)/ring_fuzz -max_total_time=$(FUZZ_TIME) -rss_limit_mb=1024 \
		$(FUZZ_B)/corpus fuzz/corpus/ring
