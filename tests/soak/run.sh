#!/usr/bin/env bash
# make soak: long-running load, not part of make test.
#
#   bash tests/soak/run.sh path/to/sysmon        (SOAK_SECONDS=600 by default)
#
# sysmon samples every 100 ms while wrk loads /data.json and /metrics for
# SOAK_SECONDS. Passes when RSS and the open descriptor count at the end
# equal those after the first minute (RSS within one page-cache-noise 64 KiB)
# and wrk saw no errors. Four connections in all (a few clients, as a
# dashboard and a scraper would be); the soak measures leaks, not load.
set -eu
BIN=${1:?usage: run.sh SYSMON_BINARY}
SECONDS_TOTAL=${SOAK_SECONDS:-600}
WORK=$(mktemp -d)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  # Keep what the daemon said, for a post-mortem.
  mkdir -p target/soak && cp "$WORK/sysmon.log" "$WORK"/wrk-*.txt target/soak/ 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
command -v wrk >/dev/null || { echo "soak: wrk is required (apt-get install wrk)" >&2; exit 1; }

cat > "$WORK/sysmon.conf" <<CONF
listen = 127.0.0.1:18180
interval = 100ms
history = 10m
backup = off
update_manager = none
alert_cpu = 50% for 10s
backup_dir = $WORK/b
log_dir = $WORK/l
state_dir = $WORK/s
CONF
"$BIN" run --config "$WORK/sysmon.conf" 2>"$WORK/sysmon.log" & SPID=$!; PIDS="$PIDS $SPID"
sleep 1
alive() { kill -0 "$SPID" 2>/dev/null || { echo "soak: FAIL: sysmon exited; its log is in target/soak/sysmon.log" >&2; exit 1; }; }
rss() { alive; awk '/^VmRSS/ { print $2 }' "/proc/$SPID/status"; }
fds() { ls "/proc/$SPID/fd" | wc -l; }

wrk -t1 -c2 -d"${SECONDS_TOTAL}s" --timeout 5s http://127.0.0.1:18180/data.json > "$WORK/wrk-data.txt" 2>&1 & PIDS="$PIDS $!"
wrk -t1 -c2 -d"${SECONDS_TOTAL}s" --timeout 5s http://127.0.0.1:18180/metrics > "$WORK/wrk-metrics.txt" 2>&1 & PIDS="$PIDS $!"
sleep 60
RSS_1=$(rss); FDS_1=$(fds)
echo "soak: after 1 min: RSS $RSS_1 KiB, $FDS_1 fds"
# The end figures are taken while the load still runs (same connections
# open as at the first minute), then wrk is left to finish.
sleep $((SECONDS_TOTAL - 65))
RSS_END=$(rss); FDS_END=$(fds)
echo "soak: after $((SECONDS_TOTAL - 5)) s: RSS $RSS_END KiB, $FDS_END fds"
sleep 7
ok=1
for f in data metrics; do
  reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk-$f.txt")
  errs=$(grep -E "Socket errors|Non-2xx" "$WORK/wrk-$f.txt" || true)
  echo "soak: /$f: $reqs requests${errs:+; $errs}"
  [ -z "$errs" ] || ok=0
done
[ "$FDS_END" -eq "$FDS_1" ] || { echo "soak: descriptor count changed: $FDS_1 -> $FDS_END" >&2; ok=0; }
[ $((RSS_END - RSS_1)) -le 64 ] || { echo "soak: RSS grew: $RSS_1 -> $RSS_END KiB" >&2; ok=0; }
# Alerts may start and end under load (warning/info lines); errors may not.
grep -E "error" "$WORK/sysmon.log" && ok=0
[ $ok = 1 ] && echo "soak: PASS" || { echo "soak: FAIL" >&2; exit 1; }
