#!/usr/bin/env python3
"""Generates the backup benchmark trees (deterministic, cached by the caller).

  tree.py mixed DIR   ~300 MB: source-like text, random binary, already-
                      compressed media (by extension and by content), a few
                      large files
  tree.py text DIR    ~100 MB of source-like text only
  tree.py many DIR    200,000 small files (central-directory memory)
"""
import os, random, sys, zlib

def source_text(rng, size):
    # Source-like text: real code from /usr/include when present, shuffled
    # into new files, else generated C-like lines.
    words = ["static", "int", "return", "struct", "const", "void", "if", "else",
             "for", "while", "size_t", "uint64_t", "char", "unsigned", "#define",
             "/*", "*/", "{", "}", "(", ")", ";", "==", "->", "NULL", "buf", "len"]
    out, n = [], 0
    while n < size:
        line = " " * rng.randrange(0, 12, 4) + " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n"
        out.append(line); n += len(line)
    return "".join(out).encode()[:size]

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

def mixed(root, rng):
    total = 0
    include = "/usr/include"
    if os.path.isdir(include):
        for dirpath, _, files in os.walk(include):
            for name in files:
                src = os.path.join(dirpath, name)
                if os.path.islink(src) or not os.path.isfile(src):
                    continue
                data = open(src, "rb").read()
                write(os.path.join(root, "src", os.path.relpath(src, include)), data)
                total += len(data)
                if total > 110 * 2**20:
                    break
            if total > 110 * 2**20:
                break
    for i in range(400):                       # more text
        write(f"{root}/text/file{i:04}.c", source_text(rng, 64 * 1024))
    for i in range(40):                        # random binary
        write(f"{root}/bin/blob{i:02}.bin", rng.randbytes(1 * 2**20))
    for i in range(30):                        # compressed media, honest extensions
        write(f"{root}/media/photo{i:02}.jpg", b"\xff\xd8\xff\xe0" + rng.randbytes(2 * 2**20))
    for i in range(10):                        # compressed data under a lying name
        write(f"{root}/media/archive{i:02}.dat", zlib.compress(rng.randbytes(2 * 2**20), 1))
    write(f"{root}/large/disk.img", source_text(rng, 20 * 2**20) + rng.randbytes(20 * 2**20))
    write(f"{root}/large/video.mp4", b"\x00\x00\x00\x18ftypmp42" + rng.randbytes(30 * 2**20))

def text(root, rng):
    for i in range(1600):
        write(f"{root}/d{i // 100:02}/file{i:04}.c", source_text(rng, 64 * 1024))

def many(root, rng):
    for i in range(200_000):
        write(f"{root}/d{i // 1000:03}/f{i:06}.txt", b"x" * rng.randint(0, 64))

if __name__ == "__main__":
    kind, root = sys.argv[1], sys.argv[2]
    rng = random.Random(42)
    {"mixed": mixed, "text": text, "many": many}[kind](root, rng)
