# exim-mtasts: an MTA-STS (RFC 8461) lookup module for Exim.
#
#   make build-deps  install the build packages only (Debian 12, root)
#   make           what this host can build: the CLI/helper; the dlfunc object
#                  when exim4-dev's headers are installed; the lookup module
#                  when EXIM_SRC is a configured Exim tree (says what it skips)
#   make check     test deps, Exim test builds, unit tests (also ASan+UBSan and
#                  valgrind), short fuzz runs, integration tests in the test world
#   make demo      start the test world and show what the module does
#   make deps      install build and test dependencies (for check and demo:
#                  the test toolchain, deb-src entries; not for a live MTA)
#   make fuzz      longer fuzz runs
#
# EXIM_SRC selects the configured Exim source tree the lookup module is
# compiled against (default: the 4.96 test build in MTASTS_CACHE).

CC       ?= cc
BUILD    ?= build
MTASTS_CACHE ?= /var/cache/exim-mtasts
EXIM_VERSIONS := 4.96 4.98 4.100
EXIM_SRC ?= $(MTASTS_CACHE)/exim-4.96/src
VERSION  := 0.1.0

# Bounded messages are cut with snprintf on purpose: truncation is safe there.
WARN     := -Wall -Wextra -Werror -Wno-format-truncation
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
OPT      ?= -O2 -g
SAN      ?=
PREFIX   ?= /usr
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) $(SAN) -fPIC -fvisibility=hidden \
             -DMTASTS_VERSION='"$(VERSION)"' \
             -DMTASTS_HELPER_DEFAULT='"$(PREFIX)/lib/exim-mtasts/mtasts"' $(CFLAGS)

NET_PKGS  := libcurl ldns openssl
NET_CFLAGS := $(shell pkg-config --cflags $(NET_PKGS) 2>/dev/null)
NET_LIBS  := $(shell pkg-config --libs $(NET_PKGS) 2>/dev/null)
LMDB_LIBS := -llmdb
# libidn2 (IDNA2008) is dlopened by lookup/core/idn.c at the first non-ASCII
# domain, so no process links it: only its header is needed here.
IDN_CFLAGS := $(shell pkg-config --cflags libidn2 2>/dev/null)

# The core is split so that what runs inside every Exim process (cache side)
# links no network library: Exim <= 4.98 loads every module into every
# process, and libcurl with its ~30 dependencies would cost each of them.
NET_SRC   := lookup/core/dns.c lookup/core/fetch.c
CORE_SRC  := $(filter-out $(NET_SRC),$(wildcard lookup/core/*.c))
NET_SRC   := $(wildcard $(NET_SRC))
CORE_OBJ  := $(patsubst lookup/core/%.c,$(BUILD)/core/%.o,$(CORE_SRC))
NET_OBJ   := $(patsubst lookup/core/%.c,$(BUILD)/core/%.o,$(NET_SRC))
CORE_LIB  := $(BUILD)/libmtasts-core.a
NET_LIB   := $(BUILD)/libmtasts-net.a
# TLSRPT reports (RFC 8460): JSON (jansson), gzip (zlib), MIME and HTTPS
# submission. Linked into the mtasts binary only, never into Exim.
TLSRPT_PKGS   := jansson zlib
TLSRPT_CFLAGS := $(shell pkg-config --cflags $(TLSRPT_PKGS) 2>/dev/null)
TLSRPT_LIBS   := $(shell pkg-config --libs $(TLSRPT_PKGS) 2>/dev/null)
TLSRPT_SRC    := $(wildcard lookup/tlsrpt/*.c)
TLSRPT_OBJ    := $(patsubst lookup/tlsrpt/%.c,$(BUILD)/tlsrpt/%.o,$(TLSRPT_SRC))
TLSRPT_LIB    := $(BUILD)/libmtasts-tlsrpt.a

UNIT_SRC  := $(wildcard tests/unit/test_*.c) tests/unit/store_stress.c
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BIN := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(INTEG_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

# The lookup module, compiled against one configured Exim tree.
EXIM_BUILD_DIR = $(firstword $(wildcard $(EXIM_SRC)/build-*))
EXIM_CFLAGS    = -isystem $(EXIM_BUILD_DIR) -DDYNLOOKUP -D_FILE_OFFSET_BITS=64 -D_LARGEFILE_SOURCE \
                 $(shell pkg-config --cflags openssl libpcre2-8 2>/dev/null)
LOOKUP_SRC     := lookup/exim-lookup/mtasts_lookup.c
DLFUNC_SRC     := lookup/exim-dlfunc/mtasts_dlfunc.c
# What both adapters share: LMDB loaded at the first lookup, not at dlopen.
ADAPTER_SRC    := lookup/exim-common/lmdb_lazy.c

# exim4-dev's local_scan API, which the dlfunc object is compiled against.
EXIM4_DEV_INCLUDE ?= /usr/include/exim4
HAVE_EXIM4_DEV = $(wildcard $(EXIM4_DEV_INCLUDE)/local_scan.h)

.PHONY: all deps build-deps exim module modules dlfunc cli unit check demo fuzz clean
# make (all): only what this host can build, so that a Debian host without an
# Exim source tree gets the CLI and the dlfunc object, which is all it needs.
all: cli $(if $(HAVE_EXIM4_DEV),dlfunc) $(if $(EXIM_BUILD_DIR),module)
	@$(if $(HAVE_EXIM4_DEV),,echo "make: skipped mtasts_dlfunc.so: no $(EXIM4_DEV_INCLUDE)/local_scan.h (apt-get install exim4-dev, or make build-deps)")
	@$(if $(EXIM_BUILD_DIR),,echo "make: skipped mtasts_lookup.so: EXIM_SRC=$(EXIM_SRC) is not a configured Exim tree (only Exims with LOOKUP_MODULE_DIR need it; Debian's exim4 uses mtasts_dlfunc.so)")

# Test dependencies (make check, make demo): the test toolchain and deb-src
# entries for the test Exims; never needed on a host that only runs Exim.
deps:
	@bash tests/deps.sh test

# Build dependencies only: compilers and the libraries' -dev packages.
build-deps:
	@bash tests/deps.sh build

exim:
	@bash tests/exim/build-all.sh >/dev/null

# The helper's path is compiled in from PREFIX: rebuild when PREFIX changes.
PREFIX_STAMP := $(BUILD)/.prefix$(subst /,_,$(PREFIX))
$(PREFIX_STAMP):
	@mkdir -p $(@D); rm -f $(BUILD)/.prefix*; touch $@
$(BUILD)/core/options.o: $(PREFIX_STAMP)

$(BUILD)/core/%.o: lookup/core/%.c $(wildcard lookup/core/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(NET_CFLAGS) $(IDN_CFLAGS) -c $< -o $@

$(BUILD)/tlsrpt/%.o: lookup/tlsrpt/%.c $(wildcard lookup/tlsrpt/*.h lookup/core/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(NET_CFLAGS) $(TLSRPT_CFLAGS) -Ilookup/core -c $< -o $@
$(TLSRPT_LIB): $(TLSRPT_OBJ)
	@rm -f $@; ar rcs $@ $^

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@; ar rcs $@ $^
$(NET_LIB): $(NET_OBJ)
	@rm -f $@; ar rcs $@ $^

# make module: build/mtasts_lookup.so against EXIM_SRC.
MODULE_OUT ?= $(BUILD)/mtasts_lookup.so
module: $(MODULE_OUT)
$(MODULE_OUT): $(LOOKUP_SRC) $(ADAPTER_SRC) $(CORE_LIB) $(wildcard lookup/core/*.h lookup/exim-common/*.h)
	@test -n "$(EXIM_BUILD_DIR)" || { echo "EXIM_SRC=$(EXIM_SRC) is not a configured Exim tree (run make exim)"; exit 1; }
	$(CC) $(CFLAGS_ALL) $(EXIM_CFLAGS) -Ilookup/core -Ilookup/exim-common -shared -o $@ \
	  $(LOOKUP_SRC) $(ADAPTER_SRC) $(CORE_LIB) -ldl

# One module per test Exim: build/exim-<ver>/mtasts_lookup.so.
modules: $(foreach v,$(EXIM_VERSIONS),$(BUILD)/exim-$(v)/mtasts_lookup.so)
$(BUILD)/exim-%/mtasts_lookup.so: $(LOOKUP_SRC) $(ADAPTER_SRC) $(CORE_LIB) $(wildcard lookup/core/*.h lookup/exim-common/*.h)
	@mkdir -p $(@D)
	@$(MAKE) --no-print-directory module EXIM_SRC=$(MTASTS_CACHE)/exim-$*/src MODULE_OUT=$@

# Stock Debian exim4 exports only the local_scan API: a separate object
# for ${dlfunc}, compiled against exim4-dev's headers.
dlfunc: $(BUILD)/mtasts_dlfunc.so
$(BUILD)/mtasts_dlfunc.so: $(DLFUNC_SRC) $(ADAPTER_SRC) $(CORE_LIB) $(wildcard lookup/core/*.h lookup/exim-common/*.h)
	@test -n "$(HAVE_EXIM4_DEV)" || { echo "no $(EXIM4_DEV_INCLUDE)/local_scan.h: apt-get install exim4-dev (or make build-deps)"; exit 1; }
	$(CC) $(CFLAGS_ALL) -DDLFUNC_IMPL -I$(EXIM4_DEV_INCLUDE) -Ilookup/core -shared -o $@ \
	  $(DLFUNC_SRC) $(ADAPTER_SRC) $(CORE_LIB) -ldl

# The preload list parsers (lookup/cli/preload_parse.c) use jansson: the CLI only.
PRELOAD_LIBS := -ljansson
cli: $(BUILD)/mtasts
$(BUILD)/mtasts: $(wildcard lookup/cli/*.c lookup/cli/*.h lookup/tlsrpt/*.h) $(TLSRPT_LIB) $(NET_LIB) $(CORE_LIB)
	$(CC) $(CFLAGS_ALL) -Ilookup/core -Ilookup/tlsrpt -o $@ $(wildcard lookup/cli/*.c) $(TLSRPT_LIB) \
	  $(NET_LIB) $(CORE_LIB) $(NET_LIBS) $(LMDB_LIBS) $(TLSRPT_LIBS) $(PRELOAD_LIBS)

unit: $(UNIT_BIN) $(INTEG_BIN)
$(BUILD)/tests/%: tests/unit/%.c $(NET_LIB) $(CORE_LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilookup/core -Itests/unit -o $@ $< $(NET_LIB) $(CORE_LIB) $(NET_LIBS) $(LMDB_LIBS)
# The TLSRPT tests also link the report side (jansson, zlib).
$(BUILD)/tests/test_tlsrpt_%: tests/unit/test_tlsrpt_%.c $(TLSRPT_LIB) $(NET_LIB) $(CORE_LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilookup/core -Ilookup/tlsrpt -Itests/unit -o $@ $< $(TLSRPT_LIB) $(NET_LIB) \
	  $(CORE_LIB) $(NET_LIBS) $(LMDB_LIBS) $(TLSRPT_LIBS)
$(BUILD)/tests/%: tests/integration/%.c $(NET_LIB) $(CORE_LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilookup/core -Itests/unit -o $@ $< $(NET_LIB) $(CORE_LIB) $(NET_LIBS) $(LMDB_LIBS)

# The preload list parsers are CLI code (jansson): their test links them.
PRELOAD_PARSE_SRC := lookup/cli/preload_parse.c
$(BUILD)/tests/test_preload_parse: tests/unit/test_preload_parse.c $(PRELOAD_PARSE_SRC) \
    lookup/cli/preload_parse.h $(NET_LIB) $(CORE_LIB) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilookup/core -Ilookup/cli -Itests/unit -o $@ $< $(PRELOAD_PARSE_SRC) \
	  $(NET_LIB) $(CORE_LIB) $(NET_LIBS) $(LMDB_LIBS) $(PRELOAD_LIBS)

# libFuzzer targets (clang), linked with the core sources compiled for fuzzing.
# The fuzzed parsers are pure: only they and what they use are linked.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined $(CSTD) -Ilookup/core
FUZZ_CORE   := $(addprefix lookup/core/,common.c policy.c txt_record.c mx_match.c record.c tlsrpt_classify.c)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_CORE) $(wildcard lookup/core/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_CORE)
# The _smtp._tls record parser and what it uses.
$(BUILD)/fuzz/fuzz_tlsrpt_txt: tests/fuzz/fuzz_tlsrpt_txt.c $(FUZZ_CORE) lookup/core/domain.c \
		lookup/core/tlsrpt_txt.c $(wildcard lookup/core/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_CORE) lookup/core/domain.c lookup/core/tlsrpt_txt.c
# A received TLSRPT report (mtasts tlsrpt read): the reader, jansson, zlib.
$(BUILD)/fuzz/fuzz_tlsrpt_read: tests/fuzz/fuzz_tlsrpt_read.c lookup/tlsrpt/report_read.c \
		lookup/tlsrpt/report_read.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $(TLSRPT_CFLAGS) -Ilookup/tlsrpt -o $@ $< lookup/tlsrpt/report_read.c \
	  $(TLSRPT_LIBS)
# The TLSRPT event text of every Exim delivery process (remote EHLO and
# error text, certificate names), recorded into a store: the core as the
# module links it (-iquote: core's spawn.h must not hide <spawn.h>).
$(BUILD)/fuzz/fuzz_tlsrpt_event: tests/fuzz/fuzz_tlsrpt_event.c $(CORE_SRC) $(wildcard lookup/core/*.h)
	@mkdir -p $(@D)
	clang $(filter-out -Ilookup/core,$(FUZZ_CFLAGS)) -iquote lookup/core -o $@ $< $(CORE_SRC) \
	  $(LMDB_LIBS)
# The preload target: both list parsers (jansson) and the store's entry
# decoder (which needs the store's objects and LMDB).
FUZZ_PRELOAD := lookup/cli/preload_parse.c lookup/core/domain.c lookup/core/preload_store.c \
                $(addprefix lookup/core/,store.c store_env.c store_evict.c store_lease.c)
$(BUILD)/fuzz/fuzz_preload: tests/fuzz/fuzz_preload.c $(FUZZ_CORE) $(FUZZ_PRELOAD) \
    $(wildcard lookup/core/*.h) lookup/cli/preload_parse.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Ilookup/cli -o $@ $< $(FUZZ_CORE) $(FUZZ_PRELOAD) $(LMDB_LIBS) $(PRELOAD_LIBS)
fuzz-build: $(FUZZ_BIN)
FUZZ_SECONDS ?= 300
fuzz: fuzz-build
	@bash tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

# The decoy first: it must survive make deps too (tests/install/decoy.sh).
check:
	@bash tests/install/decoy.sh start
	@bash tests/deps.sh test
	@bash tests/run-all.sh

demo: deps
	@bash tests/demo.sh

clean:
	rm -rf $(BUILD)

# make install / make uninstall, for packagers and by hand:
#   DESTDIR            staging root (default: none)
#   PREFIX             default /usr; the helper goes to $(PREFIX)/lib/exim-mtasts/mtasts,
#                      the path compiled in as MTASTS_HELPER_DEFAULT (options.h) for /usr
#   LOOKUP_MODULE_DIR  Exim's lookup-module directory; empty (the default): only the
#                      ${dlfunc} object is installed, as stock Debian exim4 needs
# Units and the cron file go to /lib/systemd/system and /etc/cron.d (not under
# PREFIX: that is where systemd and cron look); paths in them follow PREFIX.
# uninstall (given the same variables) removes exactly what install installs,
# then our own directories when empty.
LOOKUP_MODULE_DIR ?=
INST_HELPER_DIR    = $(PREFIX)/lib/exim-mtasts
INST_SNIPPET_DIR   = $(PREFIX)/share/exim-mtasts/snippets
INST_MAN           = $(wildcard docs/man/*.[58])
INST_SNIPPETS      = $(shell find exim-config-snippets -type f 2>/dev/null | sort)
INST_UNITS         = docs/systemd/mtasts-refresh.service docs/systemd/mtasts-refresh.timer \
                     docs/systemd/mtasts-tlsrpt.service docs/systemd/mtasts-tlsrpt.timer
INST_CRON          = docs/cron/exim-mtasts
# The files install creates, relative to DESTDIR.
INST_FILES = $(INST_HELPER_DIR)/mtasts $(PREFIX)/sbin/mtasts \
             $(PREFIX)/lib/exim4/mtasts_dlfunc.so \
             $(if $(LOOKUP_MODULE_DIR),$(LOOKUP_MODULE_DIR)/mtasts_lookup.so) \
             $(foreach m,$(INST_MAN),$(PREFIX)/share/man/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
             $(patsubst exim-config-snippets/%,$(INST_SNIPPET_DIR)/%,$(INST_SNIPPETS)) \
             $(addprefix /lib/systemd/system/,$(notdir $(INST_UNITS))) /etc/cron.d/exim-mtasts
# Rewrite the /usr paths of units and cron file for another PREFIX.
INST_SED = sed 's|/usr/lib/exim-mtasts/|$(INST_HELPER_DIR)/|g'

.PHONY: install uninstall
# The dlfunc object needs exim4-dev's headers: a host without them (an Exim
# with LOOKUP_MODULE_DIR, not Debian's) installs the rest.
install: cli $(if $(HAVE_EXIM4_DEV),dlfunc) $(if $(LOOKUP_MODULE_DIR),module)
	install -d $(DESTDIR)$(INST_HELPER_DIR) $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/exim4
	install -m 0755 $(BUILD)/mtasts $(DESTDIR)$(INST_HELPER_DIR)/mtasts
	ln -sfn ../lib/exim-mtasts/mtasts $(DESTDIR)$(PREFIX)/sbin/mtasts
	$(if $(HAVE_EXIM4_DEV),install -m 0644 $(BUILD)/mtasts_dlfunc.so $(DESTDIR)$(PREFIX)/lib/exim4/mtasts_dlfunc.so,@echo "make install: no mtasts_dlfunc.so (no $(EXIM4_DEV_INCLUDE)/local_scan.h)")
	$(if $(LOOKUP_MODULE_DIR),install -D -m 0644 $(MODULE_OUT) $(DESTDIR)$(LOOKUP_MODULE_DIR)/mtasts_lookup.so)
	$(foreach m,$(INST_MAN),install -D -m 0644 $(m) \
	  $(DESTDIR)$(PREFIX)/share/man/man$(subst .,,$(suffix $(m)))/$(notdir $(m)) &&) true
	$(foreach f,$(INST_SNIPPETS),install -D -m 0644 $(f) \
	  $(DESTDIR)$(patsubst exim-config-snippets/%,$(INST_SNIPPET_DIR)/%,$(f)) &&) true
	install -d $(DESTDIR)/lib/systemd/system $(DESTDIR)/etc/cron.d
	$(foreach u,$(INST_UNITS),$(INST_SED) $(u) > $(DESTDIR)/lib/systemd/system/$(notdir $(u)) && \
	  chmod 0644 $(DESTDIR)/lib/systemd/system/$(notdir $(u)) &&) true
	$(INST_SED) $(INST_CRON) > $(DESTDIR)/etc/cron.d/exim-mtasts
	chmod 0644 $(DESTDIR)/etc/cron.d/exim-mtasts

# uninstall never pulls the objects from under a live configuration: Exim
# would defer every remote message ("dlopen ... failed"). It reads the
# configuration file Exim uses (exim -bP configure_file, or EXIM_LIVE_CONFIG)
# and the files it .includes, and refuses while any line uses exim-mtasts;
# FORCE=1 removes anyway, loudly. With DESTDIR (staging) only EXIM_LIVE_CONFIG
# is checked. It disables the refresh timer, and keeps a cron file edited
# since install (saying so).
EXIM_LIVE_CONFIG ?=
SYSTEMD_RUN_DIR  ?= /run/systemd/system
MTASTS_CONF_USE  := mtasts_dlfunc|mtasts_lookup|lookup[[:space:]]+mtasts|exim-mtasts
TIMER_WANTS       = $(DESTDIR)/etc/systemd/system/timers.target.wants
INST_TIMERS       = mtasts-refresh.timer mtasts-tlsrpt.timer
INST_CRON_FILE    = $(DESTDIR)/etc/cron.d/exim-mtasts

.PHONY: uninstall-check
uninstall-check:
	@conf='$(EXIM_LIVE_CONFIG)'; \
	if [ -z "$$conf" ] && [ -z '$(DESTDIR)' ]; then \
	  for x in exim4 exim; do \
	    if command -v $$x >/dev/null 2>&1; then conf=$$($$x -bP -n configure_file 2>/dev/null); break; fi; \
	  done; \
	fi; \
	[ -n "$$conf" ] && [ -f "$$conf" ] || exit 0; \
	files="$$conf $$(sed -n 's/^[[:space:]]*\.include\(_if_exists\)\{0,1\}[[:space:]]\{1,\}\(\/[^[:space:]]*\).*/\2/p' "$$conf")"; \
	uses=$$(for f in $$files; do [ -f "$$f" ] && grep -HnE '$(MTASTS_CONF_USE)' "$$f" | grep -vE '^[^:]*:[0-9]+:[[:space:]]*#'; done | head -3); \
	[ -n "$$uses" ] || exit 0; \
	echo "make uninstall: the live Exim configuration $$conf still uses exim-mtasts:"; \
	echo "$$uses" | sed 's/^/    /'; \
	echo "  Removing the objects now makes Exim defer every remote message (dlopen failed)."; \
	echo "  Roll back in order first (docs/admin-guide.md, \"Rolling back\"): take the"; \
	echo "  snippets out of the configuration, update-exim4.conf, restart Exim; then uninstall."; \
	if [ '$(FORCE)' = 1 ]; then echo "make uninstall: WARNING: FORCE=1: removing them anyway"; exit 0; fi; \
	echo "  (make uninstall FORCE=1 removes them anyway.)"; exit 1

uninstall: uninstall-check
	@for t in $(INST_TIMERS); do \
	  if [ -z '$(DESTDIR)' ] && [ -d $(SYSTEMD_RUN_DIR) ]; then \
	    if systemctl -q is-enabled $$t 2>/dev/null || systemctl -q is-active $$t 2>/dev/null; then \
	      echo "systemctl disable --now $$t"; systemctl disable --now $$t; fi; \
	  elif [ -L $(TIMER_WANTS)/$$t ]; then \
	    echo "disabling $$t (rm $(TIMER_WANTS)/$$t)"; rm -f $(TIMER_WANTS)/$$t; \
	  fi; \
	done
	rm -f $(addprefix $(DESTDIR),$(filter-out /etc/cron.d/exim-mtasts,$(INST_FILES)))
	@if [ -f $(INST_CRON_FILE) ]; then \
	  if $(INST_SED) $(INST_CRON) | cmp -s - $(INST_CRON_FILE); then rm -f $(INST_CRON_FILE); \
	  else echo "make uninstall: kept $(INST_CRON_FILE): edited since make install (it does nothing without the helper; delete it yourself)"; fi; \
	fi
	if [ -d $(DESTDIR)$(PREFIX)/share/exim-mtasts ]; then \
	  find $(DESTDIR)$(PREFIX)/share/exim-mtasts -depth -type d -empty -delete; fi
	rmdir $(DESTDIR)$(INST_HELPER_DIR) 2>/dev/null || true
	@if [ -z '$(DESTDIR)' ] && [ -d $(SYSTEMD_RUN_DIR) ]; then systemctl daemon-reload || true; fi

# make bench: performance figures (not part of check; root, ~30 min), written
# to docs/benchmarks.md. BENCH_QUICK=1 for a short trial run.
.PHONY: bench
bench:
	@bash tests/bench/run.sh

# make deb: the Debian package exim4-mtasts for bookworm and trixie, into
# build/deb/RELEASE/ (root; packaging/README).
.PHONY: deb
deb:
	@bash packaging/build-deb.sh
