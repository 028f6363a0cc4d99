# statefs - build, install, check, bench.  See README.md.
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

CC ?= cc
CLANG ?= clang
PKGS := fuse3 libgit2 libzstd libcrypto mysqlclient
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DSTATEFS_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) \
	$(PKG_CFLAGS) -I. -MMD -MP
LIBS := $(PKG_LIBS) -lpthread

# Everything but the entry point is library code that unit tests link against.
LIB_SRCS := $(sort $(wildcard mountpoints/*.c snapshot/*.c restore/*.c fs/*.c))
LIB_SRCS := $(filter-out fs/main.c,$(LIB_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

OBJS := $(patsubst %.c,build/o/%.o,$(LIB_SRCS))
ASAN_OBJS := $(patsubst %.c,build/asan/%.o,$(LIB_SRCS))
FUZZ_OBJS := $(patsubst %.c,build/fuzz/%.o,$(LIB_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,build/unit/%,$(UNIT_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzzbin/%,$(FUZZ_SRCS))

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_SECONDS ?= 15

.PHONY: all deps check unit fuzz test-mount bench demo install clean

all: statefs

statefs: build/o/fs/main.o $(OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# The daemon the mount tests run: sanitizers on, so a memory error fails the test.
build/statefs-asan: build/asan/fs/main.o $(ASAN_OBJS)
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LIBS)

build/o/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

build/unit/%: tests/unit/%.c $(ASAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $< $(ASAN_OBJS) $(LIBS)

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -fsanitize=fuzzer-no-link,address,undefined \
		-c -o $@ $<

build/fuzzbin/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(CLANG) $(filter-out -MMD -MP,$(ALL_CFLAGS)) -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(FUZZ_OBJS) $(LIBS)

# Install every build and test dependency from Debian.
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		build-essential pkg-config clang libclang-rt-dev \
		libfuse3-dev fuse3 libgit2-dev libzstd-dev zstd libssl-dev \
		default-libmysqlclient-dev mariadb-server mariadb-client \
		git vim-nox python3 attr acl util-linux procps \
		systemd man-db groff-base restic time borgbackup python3-pyfuse3
	@echo "deps: installed"

unit: $(UNIT_BINS)
fuzz: $(FUZZ_BINS)

# One command runs everything and ends with "N passed, N failed".
check: statefs build/statefs-asan unit fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run

bench: statefs
	bench/run

demo: statefs
	contrib/demo.sh

# make install [PREFIX=/usr/local] [DESTDIR=/staging]: the binary, statefs(8) and statefs.conf(5),
# the systemd units (their @BINDIR@ and @SYSCONFDIR@ filled in), bash completion, the examples.
# Idempotent; an existing statefs.conf is never touched (a new install gets a copy of the
# example). No /srv/state: the unit and systemd (or X-mount.mkdir in fstab) create it.
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,/etc/systemd/system)
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
UNITS := statefs.service statefs-snapshot.service statefs-snapshot.timer \
	statefs-verify.service statefs-verify.timer
INSTALL_ETC := $(DESTDIR)$(SYSCONFDIR)/statefs

install: statefs
	install -D -m 0755 statefs $(DESTDIR)$(BINDIR)/statefs
	install -D -m 0644 docs/statefs.8 $(DESTDIR)$(MANDIR)/man8/statefs.8
	install -D -m 0644 docs/statefs.conf.5 $(DESTDIR)$(MANDIR)/man5/statefs.conf.5
	install -D -m 0644 contrib/statefs.bash-completion $(DESTDIR)$(COMPLETIONDIR)/statefs
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' contrib/$$u \
			>$(DESTDIR)$(UNITDIR)/$$u.new && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.new && \
		mv -f $(DESTDIR)$(UNITDIR)/$$u.new $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -D -m 0644 contrib/statefs.conf.example $(INSTALL_ETC)/statefs.conf.example
	install -D -m 0600 contrib/client.cnf.example $(INSTALL_ETC)/client.cnf.example
	@if [ ! -e $(INSTALL_ETC)/statefs.conf ]; then \
		install -m 0644 contrib/statefs.conf.example $(INSTALL_ETC)/statefs.conf && \
		echo "install: made $(INSTALL_ETC)/statefs.conf from the example: edit it (statefs.conf(5))"; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# make uninstall: what install put there, except statefs.conf, the option files and the state
# directory. The units are disabled and stopped first (the mount too).
.PHONY: uninstall
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now statefs.service statefs-snapshot.timer statefs-verify.timer \
			2>/dev/null || true; \
	fi
	rm -f $(DESTDIR)$(BINDIR)/statefs $(DESTDIR)$(MANDIR)/man8/statefs.8 \
		$(DESTDIR)$(MANDIR)/man5/statefs.conf.5 $(DESTDIR)$(COMPLETIONDIR)/statefs \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) \
		$(INSTALL_ETC)/statefs.conf.example $(INSTALL_ETC)/client.cnf.example
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "uninstall: kept $(INSTALL_ETC)/statefs.conf, the option files and the state directory"

clean:
	rm -rf build statefs

-include $(shell find build -name '*.d' 2>/dev/null)
