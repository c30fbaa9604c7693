# fuzz.mk - builds the libFuzzer targets into build-fuzz/ (run by
# fuzz/run.sh; not meant to be used on its own).
#
# Every library source (what libborealis.a and libborealis-cli.a hold, plus
# the executor's task.json reader) is compiled once with ASan + UBSan and
# libFuzzer's coverage instrumentation into one archive; each target
# fuzz/fuzz_NAME.c links against it and gets only the objects it uses.

CC       ?= clang
OUT      := build-fuzz
PKGS     := jansson yaml-0.1 sqlite3 libmicrohttpd libcurl gnutls libarchive libcrypto
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS   := -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(SAN) -Wall -Wextra -Wno-unused-parameter \
            -Isrc $(shell pkg-config --cflags $(PKGS)) -MMD -MP
LIBS     := $(shell pkg-config --libs $(PKGS)) -lm -lpthread

LIB_DIRS := src/base src/model src/config src/store src/net src/image src/scheduler src/agent src/cli
LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard $(addsuffix /*.c,$(LIB_DIRS)))) src/executor/spec.c src/executor/probe.c src/executor/process.c src/executor/logsink.c
LIB_OBJS := $(LIB_SRCS:%.c=$(OUT)/obj/%.o)
TARGETS  := $(patsubst fuzz/%.c,$(OUT)/%,$(wildcard fuzz/fuzz_*.c))

.PHONY: all
all: $(TARGETS)

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUT)/libborealis-fuzz.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(OUT)/fuzz_%: fuzz/fuzz_%.c $(OUT)/libborealis-fuzz.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -MF $@.d -o $@ $< $(OUT)/libborealis-fuzz.a $(LIBS)

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null) $(wildcard $(OUT)/fuzz_*.d)
