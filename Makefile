# Borealis build. Sources are picked up by folder, so adding a module is
# adding a file: src/<layer>/*.c becomes part of libborealis.a, except the
# executor (its own static program) and the CLI front end (src/cli).
#
#   make            build bin/borealis and bin/borealis-executor
#   make up         install deps, build, run a one-machine cluster
#                   (PORT=9090 for another API port, UP_ARGS for more flags)
#   make test       install deps, build, run every test (plain + sanitizers)
#   make install    install the programs (PREFIX=/usr/local, DESTDIR for packagers)
#   make bench      benchmarks (print figures; never fail on timing)
#   make bench-failover  machine failure to replacement (network namespaces)
#   make bench-swarm     Borealis beside Docker Swarm, same run (installs docker.io)
#   make bench-scale     one scheduler, 10,000 simulated agents, 100,000 tasks
#   make fuzz       build and briefly run the libFuzzer targets
#   SAN=1 make ...  build with AddressSanitizer + UndefinedBehaviorSanitizer

SAN      ?= 0
BUILD    ?= $(if $(filter 1,$(SAN)),build-san,build)
CC       ?= cc
# Debian's interpreter, where python3-pytest is installed (not a pyenv shim).
PYTHON   ?= /usr/bin/python3
PKGS     := jansson yaml-0.1 sqlite3 libmicrohttpd libcurl gnutls libarchive libcrypto

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2 -Wvla
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CFLAGS   ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
HARDEN   := -fPIE
endif
# Deferred (`=`), and the targets that install packages first (up, test,
# bench, fuzz) build in a sub-make: pkg-config must run after
# install-deps.sh, or a fresh machine links without the libraries.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) -Isrc $(PKG_CFLAGS) -MMD -MP
LDFLAGS_HARD := -pie -Wl,-z,relro,-z,now
LIBS      = $(PKG_LIBS) -lm -lpthread
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
PORT     ?=
UP_ARGS  ?=

LIB_DIRS := src/base src/model src/config src/store src/net src/image src/scheduler src/agent
LIB_SRCS := $(wildcard $(addsuffix /*.c,$(LIB_DIRS)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
# The CLI's modules (all but main.c) form their own archive so unit tests
# can link them.
CLI_SRCS := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
EXE_SRCS := $(wildcard src/executor/*.c)
# The executor is static so it can run inside any container image later;
# it links only the dependency-free base layer plus jansson, and the task
# state table (src/model/task_state.c, libc only) so that the states it
# writes are the ones the agent and the scheduler read.
EXE_BASE := $(wildcard src/base/*.c) src/model/task_state.c src/model/process_graph.c
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

BINS := $(BUILD)/bin/borealis $(BUILD)/bin/borealis-executor
# The simulated agents of `make bench-scale` (bench/scale_agents.c): built
# with everything so the harness does not rot, and for its smoke test.
SCALE_AGENTS := $(BUILD)/bench/scale_agents

.PHONY: all deps up test test-unit test-integration test-fuzz-smoke bench bench-failover bench-swarm bench-scale fuzz install uninstall clean
all: $(BINS) $(SCALE_AGENTS)
	@mkdir -p bin && ln -sf ../$(BUILD)/bin/borealis bin/borealis && ln -sf ../$(BUILD)/bin/borealis-executor bin/borealis-executor

deps:
	@sh scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libborealis.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libborealis-cli.a: $(CLI_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/borealis: $(BUILD)/src/cli/main.o $(BUILD)/libborealis-cli.a $(BUILD)/libborealis.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_HARD) -o $@ $^ $(LIBS)

# Static: never sanitized (ASan cannot link statically).
$(BUILD)/exe/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Isrc -MMD -MP -c $< -o $@

$(BUILD)/bin/borealis-executor: $(EXE_SRCS:%.c=$(BUILD)/exe/%.o) $(EXE_BASE:%.c=$(BUILD)/exe/%.o)
	@mkdir -p $(dir $@)
	$(CC) -static -o $@ $^ -l:libjansson.a

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h $(BUILD)/libborealis-cli.a $(BUILD)/libborealis.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libborealis-cli.a $(BUILD)/libborealis.a $(LIBS)

# The executor's health checks, tested in-process (and so, unlike the static
# executor, under the sanitizers).
EXE_UNIT_OBJS := $(addprefix $(BUILD)/src/executor/,health.o logsink.o probe.o process.o spec.o)
$(BUILD)/tests/test_health: tests/unit/test_health.c tests/unit/harness.h $(EXE_UNIT_OBJS) $(BUILD)/libborealis.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(EXE_UNIT_OBJS) $(BUILD)/libborealis.a $(LIBS)
# The process graph, and the executor's reading of it from task.json.
$(BUILD)/tests/test_process_graph: tests/unit/test_process_graph.c tests/unit/harness.h $(EXE_UNIT_OBJS) $(BUILD)/libborealis.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(EXE_UNIT_OBJS) $(BUILD)/libborealis.a $(LIBS)

# The executor's process log targets and rotation, in-process.
$(BUILD)/tests/test_logsink: tests/unit/test_logsink.c tests/unit/harness.h $(EXE_UNIT_OBJS) $(BUILD)/libborealis.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(EXE_UNIT_OBJS) $(BUILD)/libborealis.a $(LIBS)

test-unit: $(UNIT_BINS) $(BINS)
	@BOREALIS_EXECUTOR=$(CURDIR)/$(BUILD)/bin/borealis-executor sh tests/unit/run.sh $(UNIT_BINS)

test-integration: all
	BOREALIS_BIN=$(CURDIR)/$(BUILD)/bin $(PYTHON) -m pytest -q -x tests/integration

# Replays every fuzz target's seed corpus (regressions of past findings).
test-fuzz-smoke:
	sh fuzz/run.sh --smoke

# The in-process benchmarks call the scheduler's internals: `make test`
# builds them, so a change there cannot leave them unbuildable.
BENCH_PROGS := $(addprefix $(BUILD)/bench/,bench_placement bench_restart bench_rootfs bench_disk_walk)

# `make test`: what CI and a newcomer run. Unit tests plain and under
# ASan+UBSan, the integration suite against the sanitized daemons, then the
# fuzz seeds.
test: deps
	$(MAKE) all test-unit $(BENCH_PROGS)
	$(MAKE) SAN=1 all test-unit test-integration
	$(MAKE) test-fuzz-smoke

up: deps
	$(MAKE) all
	./bin/borealis up $(if $(PORT),--port $(PORT)) $(UP_ARGS)

# Both programs go to one directory: the agent finds borealis-executor
# beside borealis.
install: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/bin/borealis $(BUILD)/bin/borealis-executor $(DESTDIR)$(BINDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/borealis $(DESTDIR)$(BINDIR)/borealis-executor

$(BUILD)/bench/%: bench/%.c $(BUILD)/libborealis.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libborealis.a $(LIBS)

# Cluster benchmark (real daemons, 200 tasks), then the scheduler core at
# scale (10,000 agents, 1,000,000 tasks, in-process) and its restart
# (100,000 tasks, in-process), then the cost of TLS
# on the API and an idle-connection flood, then the executor per idle task
# with and without a health check, then `task logs --follow` latency.
bench: deps
	$(MAKE) all $(BENCH_PROGS)
	sh bench/run.sh
	BUILD=$(BUILD) sh bench/image.sh
	$(BUILD)/bench/bench_placement 10000 1000000 1000
	$(BUILD)/bench/bench_restart 10000 100000 1000
	$(BUILD)/bench/bench_disk_walk 10000
	$(BUILD)/bench/bench_disk_walk 200000
	BENCH_BIN=$(BUILD)/bin $(PYTHON) bench/bench_tls.py
	BENCH_BIN=$(BUILD)/bin $(PYTHON) bench/bench_executor.py
	BENCH_BIN=$(BUILD)/bin $(PYTHON) bench/bench_logs.py

# Machine failure: kill -9 a host of three (network namespaces), time until
# its tasks run on the others (bench/failover.py, docs/benchmarks.md).
bench-failover: deps
	$(MAKE) all
	BOREALIS_BIN=$(CURDIR)/$(BUILD)/bin /usr/bin/python3 bench/failover.py

# Borealis beside Docker Swarm in one run: 200 container tasks from a
# cached image to RUNNING, a rolling update of 50, memory; the same on a
# Swarm service of its own dockerd (bench/swarm.sh installs docker.io, only
# here). Prints both side by side (bench/compare.py, docs/benchmarks.md).
bench-swarm: deps
	$(MAKE) all
	BENCH_PEER=swarm BENCH_RUNS=$${BENCH_RUNS:-1} sh bench/run.sh

# Scale: one real scheduler (--sync normal), simulated agents speaking the
# real protocol over real connections, jobs through the API; prints a
# table (bench/scale.py, docs/benchmarks.md "Scale"). Sized by
# BENCH_SCALE_AGENTS (10000) and BENCH_SCALE_TASKS (100000).
bench-scale: deps
	$(MAKE) all
	BENCH_BIN=$(CURDIR)/$(BUILD)/bin BENCH_SCALE_HARNESS=$(CURDIR)/$(SCALE_AGENTS) $(PYTHON) bench/scale.py

fuzz: deps
	sh fuzz/run.sh

clean:
	rm -rf build build-san build-fuzz bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
