# Tollgate: one Kore 4.1.0 single binary (CURL=1 PGSQL=1 TASKS=1) built
# from the sources Debian's kore package ships, plus our code under app/.
#
#   make                 build ./tollgate
#   make SANITIZE=1      the same with ASan + UBSan (objects in build/asan)
#   make PROFILE=1       the release build with frame pointers, Kore's
#                        objects too, for perf call stacks (build/profile)
#   make test            unit tests, then integration tests (real PostgreSQL,
#                        the real binary, fake upstreams on 127.0.0.1)
#   make run / stop      a private PostgreSQL under var/ and tollgate on :8080
#   make migrate         apply sql/ as TOLLGATE_MIGRATE_DATABASE_URL (the owner
#                        role; default TOLLGATE_DATABASE_URL)
#   make check-ledger    the ledger consistency check (TOLLGATE_DATABASE_URL)
#   make bench           the benchmark (never part of make test)
#   make fuzz            every fuzz harness under libFuzzer for FUZZ_SECONDS
#                        (never part of make test; docs/fuzzing.md)
#
# Each module lists its sources in app/<module>/module.mk: PURE_SRCS are
# plain C (no Kore types) and also linked into the unit tests; KORE_SRCS
# use Kore and live only in the binary.

.DEFAULT_GOAL	:= all
SHELL		:= /bin/bash

KORE_SRC	?= /usr/share/kore
SANITIZE	?=
PROFILE		?=

# Kore's own objects get ASan, ours ASan + UBSan with every check,
# alignment included: app/core/pool.c rounds every Kore pool element to
# 16 bytes, so pooled objects are aligned as malloc's are.
ifneq ($(SANITIZE),)
FLAVOR		:= asan
SAN_CFLAGS	:= -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined -fno-omit-frame-pointer
KORE_SAN	:= SANITIZE=address NOOPT=1
OPT		:= -O1
else ifneq ($(PROFILE),)
FLAVOR		:= profile
SAN_CFLAGS	:= -fno-omit-frame-pointer
KORE_SAN	:=
KORE_ENV	:= DEB_CFLAGS_APPEND=-fno-omit-frame-pointer
OPT		:= -O2
else
FLAVOR		:= release
SAN_CFLAGS	:=
KORE_SAN	:=
OPT		:= -O2
endif

BUILD		:= build/$(FLAVOR)
KORE_OBJ	:= $(BUILD)/kore
KORE_STAMP	:= $(KORE_OBJ)/.built
KORE_FLAVOR	:= CURL=1 PGSQL=1 TASKS=1 KORE_SINGLE_BINARY=1 $(KORE_SAN)

CC		?= cc
V		?= 0
ifeq ($(V),0)
Q		:= @
else
Q		:=
endif
WARNINGS	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
		   -Wmissing-prototypes -Wmissing-declarations -Wpointer-arith \
		   -Wsign-compare -Wformat=2 -Wno-format-nonliteral
CFLAGS_COMMON	:= -std=gnu11 $(OPT) -g -D_GNU_SOURCE -fstack-protector-strong \
		   $(WARNINGS) $(SAN_CFLAGS) -Iapp -Iapp/core \
		   -I/usr/include/postgresql
LIBS		:= -ljansson -lsodium -ljwt -lcurl -lssl -lcrypto -lpq -lm
CHECK_LIBS	:= $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

PURE_SRCS	:=
KORE_SRCS	:=
include $(sort $(wildcard app/*/*.mk))

PURE_OBJS	:= $(PURE_SRCS:%.c=$(BUILD)/%.o)
KORE_OBJS	:= $(KORE_SRCS:%.c=$(BUILD)/%.o)
ASSET_OBJ	:= $(BUILD)/asset_conf.o
PURE_LIB	:= $(BUILD)/libtollgate_pure.a

UNIT_SRCS	:= $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)
UNIT_BINS	:= $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS	:= $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPERS:%.c=$(BUILD)/%.o)

# Fuzz harnesses: tests/fuzz/fuzz_<x>.c with seeds in tests/fuzz/corpus/<x>/,
# replayed by `make test` (tests/fuzz/replay.c provides main).
FUZZ_SRCS	:= $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS	:= $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)

.PHONY: all test test-run test-deps unit integration run stop migrate check-ledger bench \
	clean distclean deps tollgate

all: tollgate

# Kore's own objects, built into our build folder (docs/kore.md, "Building");
# nothing is written under /usr/share/kore.
$(KORE_STAMP):
	@mkdir -p $(KORE_OBJ)
	@echo "  KORE    $(KORE_SRC) -> $(KORE_OBJ)"
	$(Q)$(KORE_ENV) $(MAKE) -s -C $(KORE_SRC) objects OBJDIR=$(abspath $(KORE_OBJ)) \
	    $(KORE_FLAVOR) >/dev/null
	@touch $@

# The embedded Kore configuration (config.c: config_file_write).
$(BUILD)/asset_conf.c: conf/tollgate.conf
	@mkdir -p $(@D)
	@{ echo '#include <sys/types.h>'; \
	   echo 'u_int8_t asset_builtin_kore_conf[] = {'; \
	   od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo '};'; \
	   echo "u_int32_t asset_len_builtin_kore_conf = $$(wc -c < $<);"; \
	 } > $@

$(ASSET_OBJ): $(BUILD)/asset_conf.c
	$(Q)$(CC) -c $< -o $@

# The migrations of sql/, embedded for `tollgate migrate` and the schema
# check of /readyz (app/core/migrations.h): regenerated when a file is
# edited, added or removed (the directory changes then).
SQL_FILES	:= $(sort $(wildcard sql/*.sql))
SQL_ASSET_OBJ	:= $(BUILD)/asset_sql.o

$(BUILD)/asset_sql.c: $(SQL_FILES) sql scripts/embed-sql.sh
	@mkdir -p $(@D)
	$(Q)scripts/embed-sql.sh $(SQL_FILES) > $@.tmp && mv -f $@.tmp $@

$(SQL_ASSET_OBJ): $(BUILD)/asset_sql.c app/core/migrations.h
	$(Q)$(CC) $(CFLAGS_COMMON) -c $< -o $@

ASSET_OBJ	+= $(SQL_ASSET_OBJ)

# docs/openapi.yaml as JSON, served at GET /openapi.json (app/core/openapi.c).
OPENAPI_OBJ	:= $(BUILD)/asset_openapi.o
$(BUILD)/asset_openapi.c: docs/openapi.yaml scripts/embed-openapi.py
	@mkdir -p $(@D)
	$(Q)/usr/bin/python3 scripts/embed-openapi.py $< > $@.tmp && mv -f $@.tmp $@

$(OPENAPI_OBJ): $(BUILD)/asset_openapi.c
	$(Q)$(CC) -c $< -o $@

$(BUILD)/%.o: %.c | $(KORE_STAMP)
	@mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_COMMON) $$(cat $(KORE_OBJ)/features) -MMD -MP \
	    -c $< -o $@

$(PURE_LIB): $(PURE_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

# Kore's pools start small and grow on demand (app/core/pool.c); Kore's
# own error answers get the contract's shape and CORS headers
# (app/core/early.c).
LDWRAP		:= -Wl,--wrap=kore_pool_init -Wl,--wrap=kore_buf_appendf \
		   -Wl,--wrap=net_recv_flush -Wl,--wrap=http_check_timeout \
		   -Wl,--wrap=kore_strtonum -Wl,--wrap=kore_buf_alloc \
		   -Wl,--wrap=kore_buf_free
# Every line Kore writes goes through our log format (app/core/log.c).
LDWRAP_LOG	:= -Wl,--wrap=kore_log -Wl,--wrap=fatal -Wl,--wrap=fatalx

# The build's name for tollgate_build_info (app/core/metrics.c):
# `git describe`, or TG_VERSION=... where there is no repository.
TG_VERSION	?= $(shell git describe --tags --always --dirty 2>/dev/null || \
		     echo unknown)
VERSION_OBJ	:= $(BUILD)/version.o

# Rewritten only when the version or flavour changes.
$(BUILD)/version.c: FORCE
	@mkdir -p $(@D)
	@printf 'const char tg_version[] = "%s";\nconst char tg_build_flavor[] = "%s";\n' \
	    '$(subst ",,$(subst ',,$(TG_VERSION)))' '$(FLAVOR)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

$(VERSION_OBJ): $(BUILD)/version.c
	$(Q)$(CC) -c $< -o $@

.PHONY: FORCE
FORCE:

$(BUILD)/tollgate: $(KORE_STAMP) $(KORE_OBJS) $(PURE_LIB) $(ASSET_OBJ) \
    $(VERSION_OBJ) $(OPENAPI_OBJ)
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(SAN_CFLAGS) $(LDWRAP) $(LDWRAP_LOG) -o $@ $(KORE_OBJ)/*.o \
	    $(KORE_OBJS) $(ASSET_OBJ) $(VERSION_OBJ) $(OPENAPI_OBJ) $(PURE_LIB) \
	    $$(cat $(KORE_OBJ)/ldflags) $(LIBS)

# ./tollgate is the flavour built last; relinked when the flavour changes.
tollgate: $(BUILD)/tollgate
	@if ! cmp -s $< $@; then cp $< $@.tmp && mv -f $@.tmp $@; echo "built ./tollgate ($(FLAVOR))"; fi

# Unit tests: each tests/unit/<path>/test_<x>.c is one program (Check),
# linked against the pure library only.
$(BUILD)/tests/%: tests/unit/%.c $(PURE_LIB) $(UNIT_HELPER_OBJS)
	@mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CCLD    $@"
	$(Q)$(CC) $(CFLAGS_COMMON) -Itests/unit -MMD -MP -o $@ $< \
	    $(UNIT_HELPER_OBJS) $(PURE_LIB) $(CHECK_LIBS) $(LIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(PURE_LIB)
	@mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  CCLD    $@"
	$(Q)$(CC) $(CFLAGS_COMMON) -MMD -MP -o $@ $(filter %.c,$^) \
	    $(PURE_LIB) $(LIBS)

# The provider families' harnesses share their body.
$(BUILD)/fuzz/fuzz_anthropic $(BUILD)/fuzz/fuzz_gemini: tests/fuzz/family.c

unit-bins: $(UNIT_BINS) $(FUZZ_BINS)

# make test on a fresh Debian 12 machine installs what the tests need
# first (Debian packages as root, the npm packages of tests/node), then
# builds in a second make so nothing is compiled before its headers exist.
test: test-deps
	$(Q)$(MAKE) --no-print-directory test-run

test-run: tollgate $(UNIT_BINS) $(FUZZ_BINS)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) scripts/run-tests.sh

test-deps:
	@scripts/deps.sh --test
	@scripts/node-deps.sh

unit: $(UNIT_BINS) $(FUZZ_BINS)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) scripts/run-tests.sh unit

integration: tollgate
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) scripts/run-tests.sh integration

deps:
	@scripts/deps.sh

run: deps tollgate
	@scripts/run.sh

stop:
	@scripts/pg.sh stop

migrate:
	@scripts/migrate.sh

check-ledger:
	@scripts/check-ledger.sh

bench: tollgate
	@scripts/bench.sh

# --- Fuzzing: make fuzz (docs/fuzzing.md) ---------------------------------
# The harnesses of tests/fuzz linked with libFuzzer (clang, ASan + UBSan)
# against the pure library compiled by clang with the same sanitizers
# (build/fuzz), each run for FUZZ_SECONDS on a scratch copy of its corpus
# by scripts/fuzz.sh, FUZZ_JOBS at a time. Never part of make test.
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_JOBS	?= 2
FUZZ_BUILD	:= build/fuzz
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		   -fno-omit-frame-pointer
FUZZ_CFLAGS	:= -std=gnu11 -O1 -g -D_GNU_SOURCE $(WARNINGS) -Iapp -Iapp/core \
		   -I/usr/include/postgresql $(FUZZ_SAN)
FUZZ_PURE_LIB	:= $(FUZZ_BUILD)/libtollgate_pure.a
FUZZ_TARGETS	:= $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/bin/%)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
	    -c $< -o $@

$(FUZZ_PURE_LIB): $(PURE_SRCS:%.c=$(FUZZ_BUILD)/%.o)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(FUZZ_BUILD)/bin/%: tests/fuzz/%.c $(FUZZ_PURE_LIB)
	@mkdir -p $(@D)
	@[ "$(V)" != 0 ] || echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ \
	    $(filter %.c,$^) $(FUZZ_PURE_LIB) $(LIBS)

$(FUZZ_BUILD)/bin/fuzz_anthropic $(FUZZ_BUILD)/bin/fuzz_gemini: \
	tests/fuzz/family.c

fuzz-deps:
	@scripts/deps.sh --fuzz

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
	    scripts/fuzz.sh $(FUZZ_TARGETS)

.PHONY: fuzz fuzz-deps
ifneq ($(filter fuzz $(FUZZ_BUILD)/%,$(MAKECMDGOALS)),)
-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
endif

clean:
	rm -rf build tollgate

distclean: clean
	rm -rf var

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
