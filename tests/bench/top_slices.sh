#!/bin/bash
# The top processes' reading at N processes, two builds side by side (README,
# Performance, *The top processes in slices*): while wrk asks /metrics
# without pause, the first /data.json after an idle spell (which waits for
# a reading), then /data.json polled every 0.5 s (a reading every sample).
# Prints wrk's slowest answer and p99 for each build, each round.
#
#   bash tests/bench/top_slices.sh OLD_BINARY NEW_BINARY [N=5000] [ROUNDS=3]
#
# Needs wrk and curl; starts N `sleep`s (killed at the end) and the two
# daemons on 127.0.0.1:18101 and :18102 with their state under a temporary
# directory.
set -eu
OLD=$1 NEW=$2 N=${3:-5000} ROUNDS=${4:-3}
WORK=$(mktemp -d)
sleeps=()
cleanup() {
  kill "${sleeps[@]}" 2>/dev/null || true
  for v in old new; do [ -f "$WORK/$v.pid" ] && kill "$(cat "$WORK/$v.pid")" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq "$N"); do sleep 900 & sleeps+=($!); done
port() { [ "$1" = old ] && echo 18101 || echo 18102; }
for v in old new; do
  d=$WORK/$v; mkdir -p "$d"
  printf 'listen = 127.0.0.1:%s\nbackup = off\nupdate_manager = none\nservices = off\ninterval = 1s\nstate_dir = %s/state\nlog_dir = %s/logs\nhistory_tiers = off\n' \
    "$(port $v)" "$d" "$d" > "$d/sysmon.conf"
  bin=$OLD; [ $v = new ] && bin=$NEW
  "$bin" run --config "$d/sysmon.conf" 2>/dev/null & echo $! > "$WORK/$v.pid"
done
sleep 5
figures() { # wrk's output: slowest answer and p99
  echo "max $(awk '$1 == "Latency" && $2 != "Distribution" { print $4 }' "$1") p99 $(awk '$1 == "99%" { print $2 }' "$1")"
}
for r in $(seq "$ROUNDS"); do
  for v in old new; do
    p=$(port $v)
    sleep 5 # the watch (three intervals after the last /data.json) ends
    wrk -t1 -c1 -d4s --latency "http://127.0.0.1:$p/metrics" > "$WORK/first.txt" & w=$!
    sleep 1
    t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$p/data.json")
    wait $w
    echo "round $r $v: first /data.json ${t}s; /metrics meanwhile: $(figures "$WORK/first.txt")"
    (for _ in $(seq 10); do curl -s -o /dev/null "http://127.0.0.1:$p/data.json"; sleep 0.5; done) & c=$!
    wrk -t1 -c1 -d5s --latency "http://127.0.0.1:$p/metrics" > "$WORK/polled.txt"
    wait $c
    echo "round $r $v: /metrics while polled: $(figures "$WORK/polled.txt")"
  done
done
for v in old new; do
  echo "$v: CPU ticks $(awk '{ print $14 + $15 }' "/proc/$(cat "$WORK/$v.pid")/stat")"
done
