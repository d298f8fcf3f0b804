#!/usr/bin/env python3
"""Issue 16's footprint rows for `make bench`, for one daemon at a time.

    footprint.py start  URL -- CMD...   ms from exec to the first 200 at URL
    footprint.py idle   PID SECONDS     "cpu_ms_per_min wakeups threads rss_kib
                                         minor_faults major_faults"
    footprint.py conns  PID HOST PORT N "threads rss_kib" with N idle connections

`start` is the bench's method before 2026-12-03, kept to compare with old
figures: Python's Popen and urllib cost about 4 ms against a daemon that
already answers, so the bench now uses tests/bench/startclock.c (a C client
whose own floor is about 0.1 ms, median of 7 starts).
`idle` counts the voluntary context switches of the process's main thread
(each one a sleep that ended: a wake-up; a major fault's disk read is one
too) and its CPU time over the window, and the page faults of the process
(all threads) in it: a window whose CPU stands out says whether it paid
for page reads.
`conns` opens N connections that send nothing, waits until the process has
settled (its thread count and RSS stop moving for 1 s, at most 10 s), reads
the figures, then closes them. Nothing here asserts: the bench prints.
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request

def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main_thread_switches(pid):
    return status(f"{pid}/task/{pid}", "voluntary_ctxt_switches")


def faults(pid):
    """(minor, major) page faults of every thread of `pid` so far
    (/proc/PID/stat's fields 10 and 12, counted after the command's
    parenthesis, which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[7]), int(fields[9])


def cpu_ns(pid):
    """CPU time of every thread of `pid` in nanoseconds (schedstat's first
    field): clock ticks (10 ms) are too coarse for an idle daemon."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


def start(url, cmd):
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - t0 < 10:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        r.read()
                        print(f"{(time.monotonic() - t0) * 1000:.1f}")
                        return
            except OSError:
                time.sleep(0.0005)
        print("-")
    finally:
        proc.terminate()
        proc.wait()


def idle(pid, seconds):
    w0, c0, f0 = main_thread_switches(pid), cpu_ns(pid), faults(pid)
    time.sleep(seconds)
    w1, c1, f1 = main_thread_switches(pid), cpu_ns(pid), faults(pid)
    cpu_ms_per_min = (c1 - c0) / 1e6 * 60 / seconds
    print(
        f"{cpu_ms_per_min:.2f} {w1 - w0} {status(pid, 'Threads')} {status(pid, 'VmRSS')}"
        f" {f1[0] - f0[0]} {f1[1] - f0[1]}"
    )


def conns(pid, host, port, n):
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    for _ in range(n):
        try:
            held.append(socket.create_connection((host, port), timeout=2))
        except OSError:
            break
    last, steady_since, t0 = None, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < 10:
        now = (status(pid, "Threads"), status(pid, "VmRSS"))
        if now != last:
            last, steady_since = now, time.monotonic()
        elif time.monotonic() - steady_since >= 1:
            break
        time.sleep(0.1)
    print(f"{last[0]} {last[1]} {len(held)}")
    for s in held:
        s.close()


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "start":
        start(sys.argv[2], sys.argv[4:])
    elif what == "idle":
        idle(int(sys.argv[2]), float(sys.argv[3]))
    elif what == "conns":
        conns(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(f"usage: see {sys.argv[0]}")
