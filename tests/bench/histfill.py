#!/usr/bin/env python3
"""Writes a history file (the format of src/history_file.rs, version 1)
with every slot of every tier filled up to now: what a year of running
leaves behind, made in a second, for `make bench` to measure a daemon
serving a full year against one with an hour.

    histfill.py PATH "1m:2d 10m:30d 1h:365d" SERIES...
"""
import math
import struct
import sys
import time
import zlib

PAGE, SLOT, SERIES = 4096, 512, 32
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text):
    return int(text[:-1]) * UNITS[text[-1]]


def sealed(block):
    struct.pack_into("<I", block, len(block) - 4, zlib.crc32(bytes(block[:-4])))
    return block


def main(path, spec, names):
    tiers = []
    for part in spec.split():
        step, span = (seconds(x) for x in part.split(":"))
        tiers.append((step, span // step))
    header = bytearray(PAGE)
    header[0:8] = b"SYSMONHF"
    struct.pack_into("<5I", header, 8, 1, PAGE, SLOT, SERIES, len(tiers))
    for i, (step, slots) in enumerate(tiers):
        struct.pack_into("<II", header, 28 + 8 * i, step, slots)
    table = bytearray(PAGE)
    struct.pack_into("<QI", table, 0, 1, len(names))
    for i, name in enumerate(names):
        raw = name.encode()
        table[16 + 64 * i] = len(raw)
        table[17 + 64 * i : 17 + 64 * i + len(raw)] = raw
    now = int(time.time())
    with open(path, "wb") as f:
        f.write(sealed(header))
        f.write(sealed(table))
        f.write(bytes(PAGE))
        for step, slots in tiers:
            region = bytearray(math.ceil(slots * SLOT / PAGE) * PAGE)
            last = now // step - 1
            for bucket in range(last - slots + 1, last + 1):
                slot = bytearray(SLOT)
                struct.pack_into("<QII", slot, 0, bucket, 0, SERIES)
                for s in range(len(names)):
                    v = (bucket * 7 + s * 13) % 100
                    struct.pack_into("<3f", slot, 16 + 12 * s, v * 0.5, v * 0.75, float(v))
                    struct.pack_into("<H", slot, 400 + 2 * s, step // 5 or 1)
                at = (bucket % slots) * SLOT
                region[at : at + SLOT] = sealed(slot)
            f.write(region)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
