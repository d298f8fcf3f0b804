#!/usr/bin/env bash
# The history file (issue 13), for make bench: bytes written per day at the
# default tiers (from /proc/PID/io write_bytes over HISTORY_BENCH_S seconds,
# default 720: three whole 4-minute batches; scaled to a day), next to what
# the design writes: each batch one 4 KiB page of the minute tier, plus the
# coarser tiers' pages in the batches that finish one of their steps, plus
# at most the inode's 4 KiB block, dirtied by each batch's mtime update (a
# file system without a journal charges it to the writer unless the block
# is dirty already; with one, jbd2 writes it). That daemon runs with
# `boot_log_every = 1d`: the boot log's "still alive" rewrite (every 9 to
# 10 minutes at the default 10m, a new file renamed over the old) dirties
# about 36 KiB of ext4 metadata each time, which a window of 720 s catches
# once and scaled to a day as 4.5-5.6 MiB: it was most of the 7.97 MiB this
# row once showed (strace and write_bytes per second, 2026-12-02). A second
# daemon at the defaults, measured over the same window, gives the whole
# daemon's figure. Then RSS of a daemon whose file holds 1 h against one whose
# file holds a full year (filled by histfill.py), idle and after serving
# /history.json?range=1y. Prints table rows; asserts nothing.
#
#   bash tests/bench/history.sh path/to/release/sysmon
set -eu
BIN=${1:?usage: history.sh SYSMON_BINARY}
SECS=${HISTORY_BENCH_S:-720}
PORT=${HISTORY_BENCH_PORT:-18180} # and the next three
WORK=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
written() { awk '/^write_bytes/ { print $2 }' "/proc/$1/io"; }
wait_port() { i=0; while ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do i=$((i+1)); [ $i -gt 100 ] && return 1; sleep 0.1; done; }
DEFAULT="1m:2d 10m:30d 1h:365d"
get() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1]).read()' "$1"; }

start() { # NAME PORT TIERS [EXTRA] -> pid in $PID
  mkdir -p "$WORK/$1"
  printf 'listen = 127.0.0.1:%s\ninterval = 5s\nbackup = off\nupdate_manager = none\nstate_dir = %s/%s/state\nlog_dir = %s/%s/log\nbackup_dir = %s/%s/b\nhistory_tiers = %s\n%s\n' \
    "$2" "$WORK" "$1" "$WORK" "$1" "$WORK" "$1" "$3" "${4:-}" > "$WORK/$1/c.conf"
  "$BIN" run --config "$WORK/$1/c.conf" 2>"$WORK/$1/log.txt" & PID=$!; PIDS="$PIDS $PID"
  wait_port "$2"
}

# --- bytes written per day at the defaults ----------------------------------
start writes "$PORT" "$DEFAULT" "boot_log_every = 1d"; W=$PID
start total "$((PORT + 3))" "$DEFAULT"; A=$PID
# Past the start: the file made, and the series named (rates appear at the
# second sample): what a day of running writes from then on.
sleep 12
W0=$(written $W); A0=$(written $A)
sleep "$SECS"
W1=$(written $W); A1=$(written $A)
kill $W $A
per_day() { awk -v b="$1" -v s="$SECS" 'BEGIN { printf "%.2f", b * 86400 / s / 1048576 }'; }
PER_DAY=$(per_day $((W1 - W0)))
ALL_PER_DAY=$(per_day $((A1 - A0)))
DESIGN=$(awk 'BEGIN { printf "%.2f", (86400/240 + 86400/600 + 86400/3600 + 86400/240) * 4096 / 1048576 }')
SIZE=$(stat -c %s "$WORK/writes/state/history.db")

# --- RSS: a file of 1 h against a full year -----------------------------------
SERIES="cpu memory swap disk:/ disk:/home net_rx:eth0 net_tx:eth0 disk_read:sda disk_write:sda load1"
rss_for() { # NAME PORT TIERS RANGE -> "idle after peak"
  mkdir -p "$WORK/$1/state"
  python3 tests/bench/histfill.py "$WORK/$1/state/history.db" "$3" $SERIES
  start "$1" "$2" "$3"; P=$PID
  sleep 2
  idle=$(rss_kib $P)
  for _ in 1 2 3 4 5; do
    for pts in 120 1500; do get "http://127.0.0.1:$2/history.json?range=$4&points=$pts"; done
  done
  after=$(rss_kib $P); peak=$(hwm_kib $P)
  kill $P
  echo "$idle $after $peak"
}
set -- $(rss_for hour $((PORT + 1)) "1m:1h" 1h); H_IDLE=$1; H_AFTER=$2; H_PEAK=$3
set -- $(rss_for year $((PORT + 2)) "$DEFAULT" 1y); Y_IDLE=$1; Y_AFTER=$2; Y_PEAK=$3
echo "| history file: bytes written per day at the default tiers (/proc/PID/io over $SECS s, scaled; boot_log_every = 1d so the window holds the history file's writes alone) | $PER_DAY MiB (the design: at most $DESIGN MiB: 360 batches a day of one minute-tier page and at most the inode's block, 144 + 24 pages of the coarser tiers; budget 10 MiB) |"
echo "| the whole daemon at the defaults (history file + the boot log's rewrite every ~10 min), the same window | $ALL_PER_DAY MiB a day |"
echo "| history file: size at the default tiers | $SIZE bytes, written once when made |"
echo "| RSS with 1 h of history (1m:1h, full): idle / after 10 range=1h answers / peak (KiB) | $H_IDLE / $H_AFTER / $H_PEAK |"
echo "| RSS with 1 y of history (defaults, every slot full): idle / after 10 range=1y answers / peak (KiB) | $Y_IDLE / $Y_AFTER / $Y_PEAK |"
