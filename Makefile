# sysmon — build, run, test, install.
#   make            static release binary (musl; static glibc if musl cannot be had)
#   make run        build, then run the daemon in the foreground with ./output/
#   make test       everything CI checks: fmt, clippy, unit and end-to-end tests
#   make bench      side-by-side measurements for README's performance section
#                   (~20 min; SYSMON_BENCH_ONLY=start: the start rows alone;
#                   SYSMON_BENCH_ONLY=http: /data.json and cached /metrics under
#                   wrk, quiet and busy, each beside its C floor, ~2 min;
#                   SYSMON_BENCH_ONLY=idle: CPU idle in 3 windows of 30 s beside
#                   its C floor and the peers, medians, ~2 min)
#   make hot-text   re-profile the idle loop and rewrite src/link/hot-text.ld (~12 min)
#   make install    see the install section below (PREFIX, DESTDIR, ...)

CARGO   ?= cargo
MUSL    := x86_64-unknown-linux-musl

# The release target: musl when rustup has it or can add it; without
# rustup, on a musl host (Alpine's own rustc, host x86_64-alpine-linux-musl)
# a static build for that host; else a static glibc build. Decided at most
# once per make invocation, and only by the targets that build (`=` defers
# it, the eval caches it): `make install` and `make uninstall` run no
# rustup, print no note, and work as root without cargo or rustup on PATH
# (Debian's sudo resets PATH).
TARGET = $(eval TARGET := $(shell \
	if rustup target list --installed 2>/dev/null | grep -qx '$(MUSL)'; then echo $(MUSL); \
	elif command -v rustup >/dev/null 2>&1 && timeout 300 rustup target add $(MUSL) >/dev/null 2>&1; then echo $(MUSL); \
	elif rustc -vV 2>/dev/null | grep -q '^host: .*-linux-musl$$'; then echo musl-host; \
	else echo gnu-static; fi))$(TARGET)
GNU_BIN     := target/x86_64-unknown-linux-gnu/release/sysmon
MUSL_BIN    := target/$(MUSL)/release/sysmon
# A directory of its own, so a plain `cargo build --release` (dynamic) is
# never taken for it by `make install`.
HOST_BIN    := target/host-static/release/sysmon
BUILD_FLAGS  = $(if $(filter gnu-static,$(TARGET)),--target x86_64-unknown-linux-gnu,$(if $(filter musl-host,$(TARGET)),--target-dir target/host-static,--target $(MUSL)))
# (The musl build's linker flags are in .cargo/config.toml; this RUSTFLAGS
# replaces them, which is fine: they are musl's.)
BUILD_ENV    = $(if $(filter gnu-static musl-host,$(TARGET)),RUSTFLAGS='-C target-feature=+crt-static')
# What `make build` writes.
BIN          = $(if $(filter gnu-static,$(TARGET)),$(GNU_BIN),$(if $(filter musl-host,$(TARGET)),$(HOST_BIN),$(MUSL_BIN)))

.PHONY: all build run test test-deps lint bench hot-text soak clean

all: build

build:
	@if [ "$(TARGET)" = gnu-static ]; then \
	  echo "note: the musl target is not available (rustup could not add $(MUSL));" >&2; \
	  echo "note: building a statically linked glibc binary with crt-static instead." >&2; fi
	@if [ "$(TARGET)" = musl-host ]; then \
	  echo "note: no rustup; rustc's host is musl: building a static binary for it with crt-static." >&2; fi
	$(BUILD_ENV) $(CARGO) build --release --locked $(BUILD_FLAGS)
	@ls -l $(BIN) | awk '{ print "built $(BIN): " $$5 " bytes" }'

# `make run`: a normal user, nothing to edit. Backups, logs and state go to
# ./output/; the project tree itself is the backup source (target/ is skipped
# by its CACHEDIR.TAG, output/ because it is the backup directory).
OUTPUT := $(CURDIR)/output
run: build
	@mkdir -p $(OUTPUT)
	@test -f $(OUTPUT)/sysmon.conf || { \
	  echo "# written by make run; edit freely (see README.md, Configuration)"; \
	  echo "listen = 127.0.0.1:8080"; \
	  echo "backup_dir = $(OUTPUT)/backups"; \
	  echo "log_dir = $(OUTPUT)/logs"; \
	  echo "state_dir = $(OUTPUT)/state"; \
	  echo "backup_source = $(CURDIR)"; \
	} > $(OUTPUT)/sysmon.conf
	@echo "config: $(OUTPUT)/sysmon.conf   dashboard: http://127.0.0.1:8080/   stop: Ctrl-C"
	$(BIN) run --config $(OUTPUT)/sysmon.conf

# Tools the end-to-end tests drive (unzip, chromium, runit, ...). Installed
# when we may (root with apt); otherwise the tests that need them say loudly
# that they are skipped.
test-deps:
	@sh .ci/deps

lint:
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2018 --check $(shell find src/vendor -name '*.rs')
	$(CARGO) clippy --locked --all-targets -- -D warnings

test: test-deps lint build
	SYSMON_RELEASE_BIN=$(CURDIR)/$(BIN) $(CARGO) test --locked --no-fail-fast -- --test-threads=2

bench: build
	bash tests/bench/run.sh $(BIN)

# Rewrite src/link/hot-text.ld (the idle loop's code gathered in a few pages;
# .cargo/config.toml) from a callgrind profile of an idle daemon: about 12
# minutes, needs valgrind. Commit the result with the change that moved it.
hot-text:
	bash src/link/profile.sh

soak: build
	bash tests/soak/run.sh $(BIN)

clean:
	$(CARGO) clean

# ---------------------------------------------------------------------------
# Install (GNU conventions). Everything honours DESTDIR for packaging:
#   make install                      binary, config, man page, and the service
#                                     for the init system detected here
#   make install-systemd | install-openrc | install-runit   choose explicitly
#   make install SYSMON_BIN=path      install another prebuilt binary
# Install never builds: run `make` as yourself first, then `sudo make install`
# (it copies what make built; see SYSMON_BIN below).
#   make uninstall                    remove what install put (see below)
# The tree (PREFIX=/usr/local, SYSCONFDIR=/etc):
#   BINDIR/sysmon 0755, SYSCONFDIR/sysmon.conf 0644 (never overwritten),
#   MANDIR/man8/sysmon.8 0644, the example alert_command scripts
#   ALERTDIR/{ntfy,webhook,sendmail} 0755, and per init system
#   systemd: SYSTEMDUNITDIR/sysmon.service, SYSUSERSDIR/sysmon.conf and
#            TMPFILESDIR/sysmon.conf, all 0644
#   OpenRC:  SYSCONFDIR/init.d/sysmon 0755, SYSCONFDIR/conf.d/sysmon 0644
#            (never overwritten)
#   runit:   RUNIT_SVDIR/sysmon/run and RUNIT_SVDIR/sysmon/log/run, 0755
# Service files name BINDIR/sysmon and SYSCONFDIR/sysmon.conf as configured.
# Without DESTDIR, install also creates the `sysmon` user (systemd-sysusers,
# else useradd/adduser) and, under systemd, /var/backups/sysmon.
# `make uninstall` first stops and disables a running or enabled service
# (systemd, OpenRC, runit); it never removes backups, logs, state, the sysmon user, or a
# sysmon.conf / conf.d/sysmon that differs from the shipped one (it says so).

PREFIX         ?= /usr/local
EXEC_PREFIX    ?= $(PREFIX)
BINDIR         ?= $(EXEC_PREFIX)/bin
SYSCONFDIR     ?= /etc
DATAROOTDIR    ?= $(PREFIX)/share
MANDIR         ?= $(DATAROOTDIR)/man
ALERTDIR       ?= $(DATAROOTDIR)/sysmon/alert
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR    ?= $(PREFIX)/lib/tmpfiles.d
OPENRC_INITDIR ?= $(SYSCONFDIR)/init.d
OPENRC_CONFDIR ?= $(SYSCONFDIR)/conf.d
# Artix keeps runit services in /etc/runit/sv and enables them in
# /run/runit/service; Void uses /etc/sv and /var/service.
RUNIT_SVDIR    ?= $(shell if [ -d /etc/runit/sv ]; then echo /etc/runit/sv; else echo /etc/sv; fi)
RUNIT_RUNDIR   ?= $(shell if [ -d /run/runit/service ]; then echo /run/runit/service; else echo /var/service; fi)
INSTALL        ?= install

# The binary to install: what `make` built (the newest of the musl, the
# static glibc and the musl host's build, so root without rustup finds the
# user's build), unless
# SYSMON_BIN names another. Install never compiles: it runs as root, where the
# user's cargo is usually not on PATH (Debian's sudo resets it).
SYSMON_BIN ?= $(shell ls -t $(MUSL_BIN) $(GNU_BIN) $(HOST_BIN) 2>/dev/null | head -n 1)

# The init system `make install` serves (override: make install INIT=runit).
INIT ?= $(shell \
	if [ -d /run/systemd/system ]; then echo systemd; \
	elif command -v openrc-run >/dev/null 2>&1; then echo openrc; \
	elif [ -d /etc/runit ] || [ -d /run/runit ]; then echo runit; \
	else echo none; fi)

# Service files are written with the configured paths in place of the defaults.
SUBST = sed -e 's|/usr/local/bin/sysmon|$(BINDIR)/sysmon|g' -e 's|/etc/sysmon.conf|$(SYSCONFDIR)/sysmon.conf|g'

.PHONY: install install-common install-systemd install-openrc install-runit install-none install-user uninstall uninstall-stop

install: install-$(INIT)

install-none: install-common
	@echo "No init system detected (no /run/systemd/system, openrc-run, /etc/runit or /run/runit)."
	@echo "Installed the binary, config and man page only; add a service with"
	@echo "make install-systemd, make install-openrc or make install-runit."

install-common:
	@if [ -z "$(SYSMON_BIN)" ] || [ ! -f "$(SYSMON_BIN)" ]; then \
	  echo "make install: nothing to install: no $(MUSL_BIN), $(GNU_BIN) or $(HOST_BIN)$(if $(SYSMON_BIN), (SYSMON_BIN=$(SYSMON_BIN) does not exist))." >&2; \
	  echo "Build it first as your user with 'make', then install with 'sudo make install'." >&2; \
	  exit 1; fi
	@if [ -n "$$(find src Cargo.toml Cargo.lock -newer '$(SYSMON_BIN)' -print -quit 2>/dev/null)" ]; then \
	  echo "note: the sources changed since $(SYSMON_BIN) was built; run 'make' to rebuild it" >&2; fi
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(SYSMON_BIN) $(DESTDIR)$(BINDIR)/sysmon
	$(INSTALL) -m 0644 init/sysmon.8 $(DESTDIR)$(MANDIR)/man8/sysmon.8
	$(INSTALL) -d -m 0755 $(DESTDIR)$(ALERTDIR)
	$(INSTALL) -m 0755 init/alert/ntfy init/alert/webhook init/alert/sendmail $(DESTDIR)$(ALERTDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/sysmon.conf ]; then \
	  echo "kept the existing $(DESTDIR)$(SYSCONFDIR)/sysmon.conf (the shipped one is init/sysmon.conf)"; \
	else \
	  echo "$(INSTALL) -m 0644 init/sysmon.conf $(DESTDIR)$(SYSCONFDIR)/sysmon.conf"; \
	  $(INSTALL) -m 0644 init/sysmon.conf $(DESTDIR)$(SYSCONFDIR)/sysmon.conf; \
	fi

# The service user, on the live system only (a package creates it in its own
# install script). Kept by uninstall: it owns the backups, logs and state.
install-user:
	@if [ -n "$(DESTDIR)" ]; then \
	  echo "DESTDIR set: not creating the sysmon user"; \
	elif id sysmon >/dev/null 2>&1; then :; \
	elif command -v useradd >/dev/null 2>&1; then \
	  echo "creating the system user sysmon"; \
	  useradd --system --user-group --home-dir /var/lib/sysmon --no-create-home \
	    --shell "$$(command -v nologin || echo /bin/false)" --comment "sysmon daemon" sysmon; \
	elif command -v adduser >/dev/null 2>&1; then \
	  echo "creating the system user sysmon"; \
	  addgroup -S sysmon && adduser -S -D -H -h /var/lib/sysmon -s /sbin/nologin -G sysmon -g "sysmon daemon" sysmon; \
	else \
	  echo "cannot create the user sysmon (no useradd or adduser): create it by hand" >&2; exit 1; \
	fi

install-systemd: install-common
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	$(SUBST) init/systemd/sysmon.service > $(DESTDIR)$(SYSTEMDUNITDIR)/sysmon.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/sysmon.service
	$(INSTALL) -m 0644 init/systemd/sysmon.sysusers $(DESTDIR)$(SYSUSERSDIR)/sysmon.conf
	$(INSTALL) -m 0644 init/systemd/sysmon.tmpfiles $(DESTDIR)$(TMPFILESDIR)/sysmon.conf
	@if [ -z "$(DESTDIR)" ]; then \
	  if command -v systemd-sysusers >/dev/null 2>&1; then systemd-sysusers $(SYSUSERSDIR)/sysmon.conf; \
	  else $(MAKE) --no-print-directory install-user; fi; \
	  if command -v systemd-tmpfiles >/dev/null 2>&1; then systemd-tmpfiles --create $(TMPFILESDIR)/sysmon.conf; fi; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi
	@echo "Installed for systemd. Enable and start it with:"
	@echo "    systemctl enable --now sysmon"

install-openrc: install-common install-user
	$(INSTALL) -d -m 0755 $(DESTDIR)$(OPENRC_INITDIR) $(DESTDIR)$(OPENRC_CONFDIR)
	$(SUBST) init/openrc/sysmon > $(DESTDIR)$(OPENRC_INITDIR)/sysmon
	chmod 0755 $(DESTDIR)$(OPENRC_INITDIR)/sysmon
	@if [ -e $(DESTDIR)$(OPENRC_CONFDIR)/sysmon ]; then \
	  echo "kept the existing $(DESTDIR)$(OPENRC_CONFDIR)/sysmon"; \
	else \
	  echo "$(INSTALL) -m 0644 init/openrc/sysmon.confd $(DESTDIR)$(OPENRC_CONFDIR)/sysmon"; \
	  $(INSTALL) -m 0644 init/openrc/sysmon.confd $(DESTDIR)$(OPENRC_CONFDIR)/sysmon; \
	fi
	@echo "Installed for OpenRC. Enable and start it with:"
	@echo "    rc-update add sysmon default && rc-service sysmon start"

install-runit: install-common install-user
	$(INSTALL) -d -m 0755 $(DESTDIR)$(RUNIT_SVDIR)/sysmon $(DESTDIR)$(RUNIT_SVDIR)/sysmon/log
	$(SUBST) init/runit/sysmon/run > $(DESTDIR)$(RUNIT_SVDIR)/sysmon/run
	chmod 0755 $(DESTDIR)$(RUNIT_SVDIR)/sysmon/run
	$(INSTALL) -m 0755 init/runit/sysmon/log/run $(DESTDIR)$(RUNIT_SVDIR)/sysmon/log/run
	@echo "Installed for runit. Enable it (runsvdir starts it within 5 s) with:"
	@echo "    ln -s $(RUNIT_SVDIR)/sysmon $(RUNIT_RUNDIR)/"

# Removes every file any install-* put, whichever init system it was for.
# On the live system (no DESTDIR) the service is stopped and disabled first,
# under each init system that has it installed or enabled: a running daemon
# whose files are gone could no longer be stopped by its init system.
# runsv's supervise/ state inside the service directory goes too; a conf file
# you added there, an edited sysmon.conf or conf.d/sysmon, the sysmon user and
# everything sysmon wrote (backups, logs, state) stay.
uninstall: $(if $(DESTDIR),,uninstall-stop)
	rm -f $(DESTDIR)$(BINDIR)/sysmon $(DESTDIR)$(MANDIR)/man8/sysmon.8
	rm -f $(DESTDIR)$(ALERTDIR)/ntfy $(DESTDIR)$(ALERTDIR)/webhook $(DESTDIR)$(ALERTDIR)/sendmail
	@rmdir $(DESTDIR)$(ALERTDIR) $(DESTDIR)$(DATAROOTDIR)/sysmon 2>/dev/null || true
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/sysmon.service $(DESTDIR)$(SYSUSERSDIR)/sysmon.conf $(DESTDIR)$(TMPFILESDIR)/sysmon.conf
	rm -f $(DESTDIR)$(OPENRC_INITDIR)/sysmon
	rm -f $(DESTDIR)$(RUNIT_SVDIR)/sysmon/run $(DESTDIR)$(RUNIT_SVDIR)/sysmon/log/run
	rm -rf $(DESTDIR)$(RUNIT_SVDIR)/sysmon/supervise $(DESTDIR)$(RUNIT_SVDIR)/sysmon/log/supervise
	@for d in $(DESTDIR)$(RUNIT_SVDIR)/sysmon/log $(DESTDIR)$(RUNIT_SVDIR)/sysmon; do \
	  if [ -d $$d ]; then rmdir $$d 2>/dev/null || echo "kept $$d (it holds files you added)"; fi; done
	@for pair in init/sysmon.conf:$(DESTDIR)$(SYSCONFDIR)/sysmon.conf init/openrc/sysmon.confd:$(DESTDIR)$(OPENRC_CONFDIR)/sysmon; do \
	  shipped=$${pair%%:*}; installed=$${pair#*:}; \
	  if [ ! -e $$installed ]; then :; \
	  elif cmp -s $$shipped $$installed; then echo "rm -f $$installed"; rm -f $$installed; \
	  else echo "kept $$installed: it differs from the shipped $$shipped (your changes)"; fi; done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# Stops and disables the service wherever an init system knows it. OpenRC's
# `status` exits 3 when stopped, 0 started, 4 stopping, 8 starting (a boot
# still under way), 16 inactive, 32 crashed, 64 unsupervised: all but
# stopped are stopped here (1 means no OpenRC runs). Each step
# runs only when that init system has sysmon's files or links; a failure stops
# the uninstall (nothing is removed) and says what to run by hand.
uninstall-stop:
	@if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && \
	   systemctl cat sysmon.service >/dev/null 2>&1; then \
	  echo "systemctl disable --now sysmon"; \
	  systemctl disable --now sysmon.service || { \
	    echo "make uninstall: could not stop sysmon: run 'systemctl disable --now sysmon', then make uninstall again" >&2; exit 1; }; \
	elif [ -e $(SYSCONFDIR)/systemd/system/multi-user.target.wants/sysmon.service ] && command -v systemctl >/dev/null 2>&1; then \
	  echo "systemctl disable sysmon"; systemctl disable sysmon.service; fi
	@if [ -e $(OPENRC_INITDIR)/sysmon ] && command -v rc-service >/dev/null 2>&1; then \
	  rc-service sysmon status >/dev/null 2>&1; state=$$?; \
	  case $$state in 0|4|8|16|32|64) \
	    echo "rc-service sysmon stop"; \
	    rc-service sysmon stop || { \
	      echo "make uninstall: could not stop sysmon: run 'rc-service sysmon stop', then make uninstall again" >&2; exit 1; };; esac; \
	  for link in $(SYSCONFDIR)/runlevels/*/sysmon; do \
	    [ -L "$$link" ] || continue; level=$${link%/sysmon}; level=$${level##*/}; \
	    echo "rc-update del sysmon $$level"; rc-update del sysmon "$$level" >/dev/null || exit 1; done; fi
	@if [ -L $(RUNIT_RUNDIR)/sysmon ] || [ -e $(RUNIT_SVDIR)/sysmon/supervise/ok ]; then \
	  if command -v sv >/dev/null 2>&1; then \
	    echo "sv down $(RUNIT_SVDIR)/sysmon"; sv -w 15 down $(RUNIT_SVDIR)/sysmon >/dev/null 2>&1; \
	  fi; \
	  if [ -L $(RUNIT_RUNDIR)/sysmon ]; then echo "rm $(RUNIT_RUNDIR)/sysmon"; rm -f $(RUNIT_RUNDIR)/sysmon; fi; \
	  if command -v sv >/dev/null 2>&1; then \
	    sv exit $(RUNIT_SVDIR)/sysmon $(RUNIT_SVDIR)/sysmon/log >/dev/null 2>&1; \
	    i=0; while [ $$i -lt 50 ] && sv status $(RUNIT_SVDIR)/sysmon >/dev/null 2>&1; do sleep 0.2; i=$$((i+1)); done; \
	    if sv status $(RUNIT_SVDIR)/sysmon >/dev/null 2>&1; then \
	      echo "make uninstall: runsv still supervises $(RUNIT_SVDIR)/sysmon: run 'sv exit $(RUNIT_SVDIR)/sysmon', then make uninstall again" >&2; exit 1; fi; \
	  fi; \
	fi
