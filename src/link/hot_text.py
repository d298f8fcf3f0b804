#!/usr/bin/env python3
"""Write src/link/hot-text.ld: the code a profiled daemon ran, gathered in one run.

    hot_text.py --map SYMBOL_BUILD.map --binary PATH PHASE=CALLGRIND[,CALLGRIND...] ...

Invariant: the script names input sections by patterns that survive code
changes. A Rust function's section is `.text.` + its mangled name; the parts
that change with every build (the legacy `17h<hash>E` suffix, v0 crate
disambiguators and back-references) become `*`, so a pattern keeps matching
the same function (and, harmlessly, its same-named generic siblings) until
it is renamed. A renamed or new function simply falls back into `.text`, in
the default order: the layout degrades, the link never breaks. musl's and
libunwind's functions are named by archive member and section, which is
how their asm (`memcpy.lo`'s plain `.text`) can be named at all.

Inputs: the linker map of the profiled build (`-Wl,-Map=`) and callgrind
outputs made with `--dump-instr=yes`, one or more per phase (idle,
dashboard, start, ...). Every executed instruction address of the binary is
looked up in the map; its input section goes into the first phase that ran
it, phases in the order given, each phase's sections hottest first. With
start after idle and dashboard, what only start-up ran comes after the
loop's code, and the daemon drops its pages once start-up is over
(`release_start_up_pages` in daemon.rs). The
output is a GNU ld (and lld) script fragment: one output section
`.text.hot` inserted before `.text`, so the default script is kept.
"""
import argparse
import bisect
import collections
import os
import re
import sys


def text_sections(map_path):
    """(address, size, section, input file) of every code input section the
    map places, sorted by address."""
    sections = []
    pending = None
    in_text = False
    with open(map_path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if re.match(r"^\.text(\.hot)?(\s|$)", line):
                in_text = True
                continue
            if re.match(r"^\.\w", line):
                in_text = False
            if not in_text:
                continue
            m = re.match(r"^ (\.text\S*)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m:
                sections.append((int(m[2], 16), int(m[3], 16), m[1], m[4]))
                pending = None
                continue
            m = re.match(r"^ (\.text\S*)$", line)
            if m:
                pending = m[1]
                continue
            m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m and pending:
                sections.append((int(m[1], 16), int(m[2], 16), pending, m[3]))
                pending = None
    sections.sort()
    return sections


# Where valgrind (amd64) loads a position-independent executable. callgrind
# gives most of the static PIE's code as `???` object at these run-time
# addresses, and the rest (what its debug-info reader placed) at the
# ELF's own addresses.
VALGRIND_PIE_BASE = 0x108000


def executed(paths, binary, pie_base=VALGRIND_PIE_BASE):
    """Instructions callgrind saw executed in `binary`: ELF address -> Ir.
    Positions are `instr line` (--dump-instr=yes), compressed as absolute
    hex, +N / -N from the previous cost line, or `*` (the same)."""
    ir = collections.Counter()
    for path in paths:
        objects = {}
        in_binary = unknown = False
        last = 0
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith(("ob=", "cob=")):
                    # Ids are shared: a name given first in a cob= line
                    # is used bare in a later ob= line.
                    m = re.match(r"^c?ob=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
                    if m[2] is not None:
                        objects[m[1]] = m[2]
                    if line[0] == "o":
                        obj = objects.get(m[1], "")
                        in_binary = os.path.realpath(obj) == binary
                        unknown = obj == "???"
                    continue
                if not line or line[0] not in "0123456789+-*":
                    continue
                tokens = line.split()
                sub = tokens[0]
                if sub.startswith("0x"):
                    at = int(sub, 16)
                elif sub[0] == "+":
                    at = last + int(sub[1:], 0)
                elif sub[0] == "-":
                    at = last - int(sub[1:], 0)
                elif sub == "*":
                    at = last
                else:
                    at = int(sub, 0)
                last = at
                if in_binary:
                    ir[at] += int(tokens[-1]) if len(tokens) > 2 else 1
                elif unknown:
                    ir[at - pie_base] += int(tokens[-1]) if len(tokens) > 2 else 1
    return ir


def wildcard(name):
    """The parts of a mangled name that change from build to build, as `*`:
    also LLVM's `.NNN` suffix on a local copy of a function, numbered per
    build (`io::Error::kind.169` in one, `.161` in the next)."""
    name = re.sub(r"\.\d+$", "*", name)
    name = re.sub(r"17h[0-9a-f]{16}E$", "17h*E", name)
    if "_R" in name:
        name = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name)
        name = re.sub(r"B[0-9A-Za-z]*_", "B*_", name)
    return name


def pattern(section, input_file):
    """A linker-script input section description for one section."""
    m = re.search(r"([^/]+\.a)\(([^)]+)\)$", input_file)
    if m:
        archive, member = m[1], re.sub(r"^[0-9a-f]{16}-", "*-", m[2])
        return f"*{archive}:{member}({wildcard(section)})"
    if section == ".text":
        return f"*{os.path.basename(input_file)}(.text)"
    return f"*({wildcard(section)})"


# Code that runs natively but never under valgrind, which gives the program
# no vDSO: musl looks clock_gettime up in it on the first call (cgt_init,
# __vdsosym, strcmp). Placed after the first phase (under 1 KB).
NATIVE_ONLY = [
    "*libc.a:clock_gettime.lo(.text*)",
    "*libc.a:vdso.lo(.text*)",
    "*libc.a:strcmp.lo(.text*)",
]


# Code that must stay in the cold text although start-up runs it: the
# start-up page drop's second pass evicts the folios the first pass (hot
# code) kept mapped, so it must not share them (sys/memory.rs,
# `drop_and_evict_from_cold_code`).
NEVER_HOT = re.compile(r"drop_and_evict_from_cold_code")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--map", required=True, help="linker map of the profiled build")
    ap.add_argument("--binary", required=True, help="the profiled binary, as callgrind named it")
    ap.add_argument("--note", default="", help="a line on how the profile was made")
    ap.add_argument("phases", nargs="+", help="NAME=callgrind.out[,more]")
    args = ap.parse_args()
    sections = text_sections(args.map)
    if not sections:
        sys.exit(f"{args.map}: no .text input sections found (not a GNU ld map?)")
    starts = [s[0] for s in sections]
    binary = os.path.realpath(args.binary)
    placed = set()
    body = []
    summary = []
    for phase in args.phases:
        name, _, files = phase.partition("=")
        if not files:
            sys.exit(f"{phase}: expected NAME=callgrind.out[,more]")
        ir_by_section = collections.Counter()
        outside = 0
        ran = executed(files.split(","), binary)
        for at, ir in ran.items():
            i = bisect.bisect_right(starts, at) - 1
            if i >= 0 and starts[i] <= at < starts[i] + max(sections[i][1], 1):
                ir_by_section[i] += ir
            else:
                outside += 1
        # A few are expected (.init, .plt); many mean the addresses and the
        # map do not belong together (another build, another load base).
        if outside > len(ran) // 100:
            sys.exit(
                f"{files}: {outside} of {len(ran)} executed addresses fall in no "
                f".text section of {args.map}: not the profiled build's map?"
            )
        lines = []
        size = 0
        for i, _ in ir_by_section.most_common():
            _, length, section, input_file = sections[i]
            line = pattern(section, input_file)
            if line in placed or NEVER_HOT.search(section):
                continue
            placed.add(line)
            lines.append(f"    {line}")
            size += length
        summary.append(f"{name} {len(lines)} sections, {size} bytes")
        body.append(f"    /* {name}: {len(lines)} sections, {size} bytes in the profiled build */")
        body.extend(lines)
        if len(summary) == 1:
            body.append("    /* run natively only (no vDSO under valgrind) */")
            body.extend(f"    {line}" for line in NATIVE_ONLY if line not in placed)
            placed.update(NATIVE_ONLY)
    out = sys.stdout
    out.write("/* Generated by `make hot-text` (src/link/hot_text.py); do not edit by hand.\n")
    out.write("   The code the daemon runs while idle, gathered at the start of the text\n")
    out.write("   so that it shares a few 64 KiB fault-around windows (README, Performance,\n")
    out.write("   *Where the idle RSS goes*). Phases in order, each hottest first:\n")
    for line in summary:
        out.write(f"     {line}\n")
    if args.note:
        out.write(f"   {args.note}\n")
    out.write("*/\nSECTIONS\n{\n  .text.hot :\n  {\n")
    out.write("\n".join(body) + "\n")
    out.write("  }\n}\nINSERT BEFORE .text;\n")
    for line in summary:
        print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
