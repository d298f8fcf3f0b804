#!/bin/bash
# `make hot-text`: profile an idle daemon under callgrind and rewrite
# src/link/hot-text.ld from it (src/link/hot_text.py says how).
#
# The profiled build is the release build with symbols and a linker map,
# without the current hot-text.ld (RUSTFLAGS replaces .cargo/config.toml's
# flags), so the new order owes nothing to the old one. The daemon runs as
# README's idle figures are measured: interval = 5s, backup = off,
# update_manager = none. Phases, each its own callgrind dump (written into
# the script as idle, dashboard, start, metrics: the loop's code first, the
# dashboard's next, then what only start-up ran, whose pages the daemon drops
# after its first turn, so none of the loop's or the dashboard's may sit
# there):
#   start      exec to 4 s: start-up and the first sample
#   idle       HOT_TEXT_IDLE_S (default 630 s: past the history file's
#              4-minute batches, its 10-minute step and boot_log_every's 10
#              minutes), no requests
#   dashboard  what the page asks (/, history.json, data.json every 5 s, the
#              ranges read from the history file), with a browser's headers,
#              and data.json as scripts ask for it
#   metrics    three /metrics scrapes
# Needs valgrind and curl; takes about 12 minutes, mostly waiting.
set -euo pipefail
# the repository root (this script is src/link/profile.sh)
cd "$(dirname "$0")/../.."
MUSL=x86_64-unknown-linux-musl
OUT=$PWD/target/hot-text
IDLE_S=${HOT_TEXT_IDLE_S:-630}
for tool in valgrind callgrind_control curl python3; do
  command -v $tool >/dev/null || { echo "hot-text: $tool is needed (apt-get install valgrind curl)" >&2; exit 2; }
done
mkdir -p "$OUT"
CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR="$OUT" \
  RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs -C symbol-mangling-version=v0 -C link-arg=-Wl,-Map=$OUT/sysmon.map" \
  cargo build --release --locked --target $MUSL
BIN=$OUT/$MUSL/release/sysmon

RUN=$(mktemp -d)
trap 'kill $VPID 2>/dev/null || true; rm -rf "$RUN"' EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$RUN/sysmon.conf" <<EOF
listen = 127.0.0.1:$PORT
interval = 5s
backup = off
update_manager = none
state_dir = $RUN/state
log_dir = $RUN/logs
backup_dir = $RUN/backups
EOF
rm -f "$OUT"/callgrind.*
valgrind --tool=callgrind --dump-instr=yes --demangle=no \
  --callgrind-out-file="$OUT/callgrind.%p" "$BIN" run --config "$RUN/sysmon.conf" \
  2> "$OUT/daemon.log" &
VPID=$!
dump() { # NAME: callgrind's counts so far into their own file, then zeroed
  # Only this pid: without one, callgrind_control dumps every callgrind run
  # on the machine.
  callgrind_control --dump="$1" $VPID >/dev/null
}
sleep 4
dump start
sleep "$IDLE_S"
dump idle
U=http://127.0.0.1:$PORT
# The headers a browser's fetch() sends (Chromium's, keep-alive) and those of
# a bare script (curl, Python's urllib: Connection: close): header parsing
# takes other paths for each.
BROWSER=(-H 'Accept: */*' -H 'Accept-Encoding: gzip, deflate, br, zstd'
  -H 'Accept-Language: en-US,en;q=0.9' -H 'Cache-Control: no-cache' -H 'Pragma: no-cache'
  -H 'Connection: keep-alive' -H "Referer: $U/" -H 'Sec-Fetch-Mode: cors'
  -A 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36')
SCRIPT=(-H 'Accept-Encoding: identity' -H 'Connection: close' -A 'Python-urllib/3.11')
curl -fsS -o /dev/null "${BROWSER[@]}" $U/
curl -fsS -o /dev/null "${BROWSER[@]}" "$U/history.json?points=120"
for _ in 1 2 3; do
  curl -fsS -o /dev/null "${BROWSER[@]}" $U/data.json
  curl -fsS -o /dev/null $U/data.json
  curl -fsS -o /dev/null "${SCRIPT[@]}" $U/data.json
  curl -fsS -o /dev/null --http1.0 $U/data.json
  sleep 5
done
for r in 1h 1d 7d 30d 1y; do curl -fsS -o /dev/null "${BROWSER[@]}" "$U/history.json?range=$r&points=120"; done
dump dashboard
for _ in 1 2 3; do curl -fsS -o /dev/null $U/metrics; sleep 2; done
dump metrics
kill $VPID
wait $VPID || true
part() { grep -l "^desc: Trigger: .*\b$1\$" "$OUT"/callgrind.$VPID.* ; }
python3 src/link/hot_text.py --map "$OUT/sysmon.map" --binary "$BIN" \
  --note "Profile: $(date -u +%F), $(rustc --version), idle ${IDLE_S} s at interval = 5s." \
  idle="$(part idle)" dashboard="$(part dashboard)" start="$(part start)" metrics="$(part metrics)" \
  > src/link/hot-text.ld.new
mv src/link/hot-text.ld.new src/link/hot-text.ld
echo "hot-text: src/link/hot-text.ld rewritten; rebuild with make build"
