"""A FUSE file system whose server can stop answering: a stand-in for a hard
NFS mount whose server is gone.

Usage (as root): python3 hung_mount.py MOUNTPOINT CONTROL_DIR

Mounts a file system of type `fuse.hang` on MOUNTPOINT (mount(2) on an open
/dev/fuse, no libfuse), prints `mounted` and serves it: the root is an empty
directory and statfs reports fixed figures (1000000 blocks of 4096 bytes,
600000 free, 500000 available, 1000 files, 900 free); what else is asked
(mkdir, create) is refused. While CONTROL_DIR/hang exists, every request is
held unanswered, so statfs(2)/statvfs(3), open or mkdir on the mount blocks
as it does on a dead NFS server; removing the file answers them.
CONTROL_DIR/statfs_count holds the number of STATFS requests received,
CONTROL_DIR/pending the number of requests held now.

Two sysmon tests use it (tests/sampler/mounts_live.rs): a mount whose server
stops answering stops neither the daemon's samples nor its answers, and a
backup due to such a mount waits for it without holding the daemon.

As with NFS, only a fatal signal frees a blocked caller: the kernel sends
FUSE_INTERRUPT for it, and a held request is answered EINTR if its caller has
SIGKILL pending (a fatal signal), otherwise kept. On SIGTERM the server dies;
closing /dev/fuse fails every held request (ENOTCONN/ECONNABORTED), which
releases the callers. Unmount afterwards with `umount -l MOUNTPOINT`.
"""
import ctypes
import errno
import os
import select
import struct
import sys

FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_STATFS, FUSE_INIT = 1, 2, 3, 17, 26
FUSE_INTERRUPT, FUSE_DESTROY, FUSE_BATCH_FORGET = 36, 38, 42
NO_REPLY = (FUSE_FORGET, FUSE_BATCH_FORGET, FUSE_INTERRUPT, FUSE_DESTROY)
IN_HEADER = struct.Struct("<IIQQIIIHH")   # fuse_in_header, 40 bytes
OUT_HEADER = struct.Struct("<IiQ")        # fuse_out_header, 16 bytes
MAX_WRITE = 128 * 1024

# fuse_attr_out: attr_valid, attr_valid_nsec, dummy, then fuse_attr (88 bytes).
ROOT_ATTR = struct.pack("<QII6Q10I", 1, 0, 0,
                        1, 0, 0, 0, 0, 0,                  # ino size blocks a/m/ctime
                        0, 0, 0, 0o40755, 2, 0, 0, 0, 4096, 0)
# fuse_statfs_out = fuse_kstatfs: blocks bfree bavail files ffree,
# bsize namelen frsize padding spare[6] (80 bytes).
STATFS = struct.pack("<5Q4I6I", 1000000, 600000, 500000, 1000, 900,
                     4096, 255, 4096, 0, *[0] * 6)


def reply(fd, unique, error=0, body=b""):
    try:
        os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(body), -error, unique) + body)
    except OSError as e:  # the request was interrupted / the connection aborted
        if e.errno not in (errno.ENOENT, errno.ENODEV):
            raise


def put(ctl, name, value):
    tmp = os.path.join(ctl, "." + name)
    with open(tmp, "w") as f:
        f.write("%d\n" % value)
    os.rename(tmp, os.path.join(ctl, name))


def dying(pid):
    """True if thread `pid` has SIGKILL pending, i.e. got a fatal signal."""
    try:
        with open("/proc/%d/status" % pid) as f:
            pend = [int(l.split()[1], 16) for l in f if l.startswith(("SigPnd", "ShdPnd"))]
    except OSError:
        return True
    return any(p & (1 << (9 - 1)) for p in pend)


def init_reply(body):
    major, minor = struct.unpack_from("<II", body)
    if major != 7:
        sys.exit("unsupported FUSE protocol %d.%d" % (major, minor))
    minor = min(minor, 38)
    if minor < 23:  # FUSE_COMPAT_22_INIT_OUT_SIZE
        return struct.pack("<IIIIHHI", 7, minor, 0, 0, 16, 12, MAX_WRITE)
    # fuse_init_out (64 bytes): major minor max_readahead flags max_background
    # congestion_threshold max_write time_gran max_pages map_alignment flags2 unused[7]
    return struct.pack("<IIIIHHIIHHI7I", 7, minor, 0, 0, 16, 12, MAX_WRITE, 1, 32, 0, 0, *[0] * 7)


def answer(fd, opcode, unique, body):
    """The live server's reply to one request (none for those that take none)."""
    if opcode == FUSE_INIT:
        reply(fd, unique, body=init_reply(body))
    elif opcode == FUSE_STATFS:
        reply(fd, unique, body=STATFS)
    elif opcode == FUSE_GETATTR:
        reply(fd, unique, body=ROOT_ATTR)
    elif opcode == FUSE_LOOKUP:
        reply(fd, unique, errno.ENOENT)  # the root is empty
    elif opcode not in NO_REPLY:
        reply(fd, unique, errno.ENOSYS)


def main():
    mountpoint, ctl = sys.argv[1], sys.argv[2]
    hang = os.path.join(ctl, "hang")
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    opts = "fd=%d,rootmode=40000,user_id=0,group_id=0" % fd
    if libc.mount(b"hang", mountpoint.encode(), b"fuse.hang", 0, opts.encode()) != 0:
        e = ctypes.get_errno()
        sys.exit("mount %s: %s" % (mountpoint, os.strerror(e)))
    print("mounted", flush=True)

    # unique -> (pid of the caller, opcode, body): requests kept unanswered
    held = {}
    count = 0
    put(ctl, "statfs_count", 0)
    put(ctl, "pending", 0)
    while True:
        if held and not os.path.exists(hang):
            for unique, (_, opcode, body) in held.items():
                answer(fd, opcode, unique, body)
            held.clear()
            put(ctl, "pending", 0)
        if not select.select([fd], [], [], 0.1)[0]:
            continue
        try:
            msg = os.read(fd, MAX_WRITE + 4096)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EINTR, errno.EAGAIN):
                continue  # request interrupted before we read it
            if e.errno == errno.ENODEV:
                return 0  # unmounted
            raise
        _, opcode, unique, _, _, _, pid, _, _ = IN_HEADER.unpack_from(msg)
        body = msg[IN_HEADER.size:]
        if opcode == FUSE_STATFS:
            count += 1
            put(ctl, "statfs_count", count)
        if opcode == FUSE_INTERRUPT:
            (target,) = struct.unpack_from("<Q", body)
            if target in held and dying(held[target][0]):
                del held[target]
                reply(fd, target, errno.EINTR)
                put(ctl, "pending", len(held))
        elif opcode not in NO_REPLY and opcode != FUSE_INIT and os.path.exists(hang):
            # A server that is gone answers nothing.
            held[unique] = (pid, opcode, body)
            put(ctl, "pending", len(held))
        else:
            answer(fd, opcode, unique, body)


if __name__ == "__main__":
    sys.exit(main())
