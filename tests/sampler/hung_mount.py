"""A FUSE file system whose server can stop answering: a stand-in for a hard
NFS mount whose server is gone.

Usage (as root): python3 hung_mount.py MOUNTPOINT CONTROL_DIR [FILES SIZE | hwmon]

Mounts a file system of type `fuse.hang` on MOUNTPOINT (mount(2) on an open
/dev/fuse, no libfuse), prints `mounted` and serves it: the root is an empty
directory and statfs reports fixed figures (1000000 blocks of 4096 bytes,
600000 free, 500000 available, 1000 files, 900 free); what else is asked
(mkdir, create) is refused. With FILES and SIZE the root holds a read-only
tree instead: a directory `data` of FILES regular files `f000`, `f001`, ...
of SIZE bytes each (mode 0644, owner root, every time 1700000000), byte i of
file k being (i * 7 + k) % 251; inodes are 1 for the root, 2 for `data`, 3..
for the files. A program can walk it (getdents64, stat, statx) and read it
(open, read, fstat); reads go through the page cache without read-ahead,
one READ request per 4096-byte page, and every open starts from an empty
cache. Writes of any kind are refused as well.

With `hwmon` the root looks like one Linux hwmon chip directory (as
/sys/class/hwmon/hwmonN/) of a 1-Wire DS18B20 thermometer, whose every
temperature read takes ~750 ms as the chip converts on demand: regular files
`name` (`w1_slave_temp\n`, the driver's name, or CONTROL_DIR/name's
content when that file exists at the read) and `temp1_input` (the
temperature in millidegrees Celsius and a newline: the content of
CONTROL_DIR/temp, stripped, when that file exists, else `21500`), mode 0444,
owner root, every time 1700000000, inodes 1 for the root, 2 for `name`, 3
for `temp1_input`. As in sysfs both report size 4096 whatever their content,
a READ answers the content from its offset on (short; nothing past it) and
they are opened with FOPEN_DIRECT_IO: no page cache, every read(2) or
pread(2) is a READ request, whose value is the one CONTROL_DIR/temp holds
when it is answered.

While CONTROL_DIR/hang exists, every request is held unanswered, so
statfs(2)/statvfs(3), open, read or mkdir on the mount blocks as it does on a
dead NFS server; removing the file answers them. While CONTROL_DIR/
hang_after_reads exists and holds a number N, the server does the same once
it has answered N READ requests (a server that dies in the middle of a
backup); removing that file (and hang, if present) answers the held
requests, and serving resumes. While CONTROL_DIR/read_delay_ms exists and
holds a number D (hwmon only), every READ of `temp1_input` at offset 0 (a
read from the start: one conversion) is answered D
milliseconds after the server takes it up (when it comes, or when hang
releases it), as the DS18B20's conversion delays it; the server answers
other requests meanwhile, and READs of `name` are never delayed. A read
whose delay ends while the server hangs is held like the rest (and answered
at once when released). CONTROL_DIR/statfs_count holds the number of
STATFS requests received, CONTROL_DIR/read_count the number of READ
requests answered (held and delayed ones count once answered; with hwmon
only those of `temp1_input`), CONTROL_DIR/pending the number of requests
held now (not those waiting out read_delay_ms).

Six sysmon tests use it (tests/sampler/mounts_live.rs): a mount whose server
stops answering stops neither the daemon's samples nor its answers; a backup
due to such a mount waits for it without holding the daemon; a backup whose
source stops answering mid-run holds only its own thread; SIGTERM stops the
daemon while such a run is held; `sysmon sample` waits for a slow one; and
(with `hwmon`) a sensor whose reads are slow is read off the loop.

As with NFS, only a fatal signal frees a blocked caller: the kernel sends
FUSE_INTERRUPT for it, and a held request is answered EINTR if its caller has
SIGKILL pending (a fatal signal), otherwise kept; the same goes for a read
waiting out read_delay_ms. Also as with NFS, closing a file does not wait
for the server: FLUSH, RELEASE and RELEASEDIR are
answered even while requests are held (NFS's flush of a file open for
reading returns at once, and NFSv4's CLOSE at the last close is sent
asynchronously), so a process killed in a held read can exit. A FUSE server
that really hangs also holds the FLUSH its callers' exit sends: there a
killed process waits in its exit until the server answers or the
connection is aborted (/sys/fs/fuse/connections/N/abort, `umount -f`). On SIGTERM the server dies;
closing /dev/fuse fails every held request (ENOTCONN/ECONNABORTED), which
releases the callers. Unmount afterwards with `umount -l MOUNTPOINT`.
"""
import ctypes
import errno
import os
import select
import struct
import sys
import time

FUSE_LOOKUP, FUSE_FORGET, FUSE_GETATTR, FUSE_STATFS, FUSE_INIT = 1, 2, 3, 17, 26
FUSE_OPEN, FUSE_READ, FUSE_RELEASE, FUSE_FLUSH = 14, 15, 18, 25
FUSE_GETXATTR, FUSE_LISTXATTR, FUSE_ACCESS = 22, 23, 34
FUSE_OPENDIR, FUSE_READDIR, FUSE_RELEASEDIR, FUSE_READDIRPLUS = 27, 28, 29, 44
FUSE_INTERRUPT, FUSE_DESTROY, FUSE_BATCH_FORGET = 36, 38, 42
NO_REPLY = (FUSE_FORGET, FUSE_BATCH_FORGET, FUSE_INTERRUPT, FUSE_DESTROY)
# Answered even while hung, as NFS closes without waiting for its server.
CLOSING = (FUSE_FLUSH, FUSE_RELEASE, FUSE_RELEASEDIR)
IN_HEADER = struct.Struct("<IIQQIIIHH")   # fuse_in_header, 40 bytes
OUT_HEADER = struct.Struct("<IiQ")        # fuse_out_header, 16 bytes
DIRENT = struct.Struct("<QQII")           # fuse_dirent before its name, 24 bytes
MAX_WRITE = 128 * 1024
MTIME = 1700000000                        # every time of the FILES tree
DT_DIR, DT_REG = 4, 8
W_OK = 2
FOPEN_DIRECT_IO = 1                       # fuse_open_out.open_flags: bypass the page cache

# fuse_statfs_out = fuse_kstatfs: blocks bfree bavail files ffree,
# bsize namelen frsize padding spare[6] (80 bytes).
STATFS = struct.pack("<5Q4I6I", 1000000, 600000, 500000, 1000, 900,
                     4096, 255, 4096, 0, *[0] * 6)


def fuse_attr(ino, mode, nlink, size=0, time=MTIME):
    """fuse_attr (88 bytes): ino size blocks a/m/ctime a/m/ctimensec mode
    nlink uid gid rdev blksize flags."""
    return struct.pack("<6Q10I", ino, size, (size + 511) // 512, time, time, time,
                       0, 0, 0, mode, nlink, 0, 0, 0, 4096, 0)


class Tree:
    """The file system's nodes: an empty root, or root/data/f000... ."""

    def __init__(self, files=None, size=0):
        self.size = size
        self.attrs = {}    # ino -> fuse_attr
        self.dirs = {}     # ino -> [(name, ino, type)], "." and ".." first
        self.cycles = {}   # file ino -> the 251 bytes its content repeats
        self.direct = set()  # file inos opened with FOPEN_DIRECT_IO
        if files is None:  # as it always was: times 0
            self.attrs[1] = fuse_attr(1, 0o40755, 2, time=0)
            self.dirs[1] = [(b".", 1, DT_DIR), (b"..", 1, DT_DIR)]
            return
        self.attrs[1] = fuse_attr(1, 0o40755, 3)
        self.dirs[1] = [(b".", 1, DT_DIR), (b"..", 1, DT_DIR), (b"data", 2, DT_DIR)]
        self.attrs[2] = fuse_attr(2, 0o40755, 2)
        self.dirs[2] = [(b".", 2, DT_DIR), (b"..", 1, DT_DIR)]
        for k in range(files):
            ino = 3 + k
            self.attrs[ino] = fuse_attr(ino, 0o100644, 1, size)
            self.dirs[2].append((b"f%03d" % k, ino, DT_REG))
            self.cycles[ino] = bytes((i * 7 + k) % 251 for i in range(251))

    def attr_out(self, ino):
        """fuse_attr_out: attr_valid (1 s), attr_valid_nsec, dummy, fuse_attr."""
        return struct.pack("<QII", 1, 0, 0) + self.attrs[ino]

    def entry_out(self, ino):
        """fuse_entry_out: nodeid generation entry_valid attr_valid (1 s)
        entry_valid_nsec attr_valid_nsec, fuse_attr."""
        return struct.pack("<QQQQII", ino, 0, 1, 1, 0, 0) + self.attrs[ino]

    def counted(self, ino):
        """Whether an answered READ of `ino` counts in read_count."""
        return True

    def delayed(self, ino):
        """Whether READs of `ino` wait out CONTROL_DIR/read_delay_ms."""
        return False

    def lookup(self, parent, name):
        for n, ino, _ in self.dirs.get(parent, ())[2:]:
            if n == name:
                return ino
        return None

    def read(self, ino, offset, size):
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        start, n = offset % 251, end - offset
        return (self.cycles[ino] * ((start + n) // 251 + 1))[start:start + n]

    def readdir(self, ino, offset, size, plus):
        """fuse_dirent (or fuse_direntplus) records from entry `offset` on,
        as many as fit in `size` bytes."""
        out = b""
        entries = self.dirs[ino]
        for i in range(offset, len(entries)):
            name, child, kind = entries[i]
            rec = DIRENT.pack(child, i + 1, len(name), kind) + name
            rec += b"\0" * (-len(rec) % 8)
            if plus:
                rec = self.entry_out(child) + rec
            if len(out) + len(rec) > size:
                break
            out += rec
        return out


class Hwmon(Tree):
    """One hwmon chip directory (as /sys/class/hwmon/hwmonN/) of a 1-Wire
    DS18B20 thermometer: root/name and root/temp1_input."""

    NAME, TEMP = 2, 3

    def __init__(self, ctl):
        super().__init__()
        self.temp = os.path.join(ctl, "temp")
        self.name = os.path.join(ctl, "name")
        self.attrs[1] = fuse_attr(1, 0o40755, 2)
        self.dirs[1] = [(b".", 1, DT_DIR), (b"..", 1, DT_DIR),
                        (b"name", self.NAME, DT_REG), (b"temp1_input", self.TEMP, DT_REG)]
        for ino in (self.NAME, self.TEMP):  # sysfs says 4096 whatever the content
            self.attrs[ino] = fuse_attr(ino, 0o100444, 1, 4096)
        self.direct = {self.NAME, self.TEMP}

    def counted(self, ino):
        return ino == self.TEMP

    def delayed(self, ino):
        return ino == self.TEMP

    def content(self, ino):
        if ino == self.NAME:
            try:
                with open(self.name, "rb") as f:
                    return f.read().strip() + b"\n"
            except OSError:
                return b"w1_slave_temp\n"
        try:
            with open(self.temp, "rb") as f:
                value = f.read().strip()
        except OSError:
            value = b""
        return (value or b"21500") + b"\n"

    def read(self, ino, offset, size):
        return self.content(ino)[offset:offset + size]


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
    # No flags: no FUSE_DO_READDIRPLUS (plain READDIR), no FUSE_ASYNC_READ;
    # max_readahead 0: one READ per page read.
    if minor < 23:  # FUSE_COMPAT_22_INIT_OUT_SIZE
        return struct.pack("<IIIIHHI", 7, minor, 0, 0, 16, 12, MAX_WRITE)
    # fuse_init_out (64 bytes): major minor max_readahead flags max_background
    # congestion_threshold max_write time_gran max_pages map_alignment flags2 unused[7]
    return struct.pack("<IIIIHHIIHHI7I", 7, minor, 0, 0, 16, 12, MAX_WRITE, 1, 32, 0, 0, *[0] * 7)


def answer(fd, tree, opcode, unique, nodeid, body):
    """The live server's reply to one request (none for those that take none)."""
    if opcode == FUSE_INIT:
        reply(fd, unique, body=init_reply(body))
    elif opcode == FUSE_STATFS:
        reply(fd, unique, body=STATFS)
    elif opcode in NO_REPLY:
        pass
    elif nodeid not in tree.attrs:
        reply(fd, unique, errno.ENOENT)
    elif opcode == FUSE_GETATTR:
        reply(fd, unique, body=tree.attr_out(nodeid))
    elif opcode == FUSE_LOOKUP:
        ino = tree.lookup(nodeid, body.split(b"\0", 1)[0])
        if ino is None:
            reply(fd, unique, errno.ENOENT)
        else:
            reply(fd, unique, body=tree.entry_out(ino))
    elif opcode in (FUSE_OPEN, FUSE_OPENDIR):
        (flags,) = struct.unpack_from("<I", body)  # fuse_open_in: flags open_flags
        if (nodeid in tree.dirs) != (opcode == FUSE_OPENDIR):
            reply(fd, unique, errno.EISDIR if nodeid in tree.dirs else errno.ENOTDIR)
        elif flags & os.O_ACCMODE != os.O_RDONLY:
            reply(fd, unique, errno.EROFS)
        else:  # fuse_open_out: fh open_flags backing_id; no FOPEN_KEEP_CACHE
            direct = FOPEN_DIRECT_IO if nodeid in tree.direct else 0
            reply(fd, unique, body=struct.pack("<QII", nodeid, direct, 0))
    elif opcode == FUSE_READ:
        offset, size = struct.unpack_from("<QI", body, 8)  # fuse_read_in: fh offset size ...
        if nodeid in tree.dirs:
            reply(fd, unique, errno.EISDIR)
        else:
            reply(fd, unique, body=tree.read(nodeid, offset, size))
    elif opcode in (FUSE_READDIR, FUSE_READDIRPLUS):
        offset, size = struct.unpack_from("<QI", body, 8)
        if nodeid not in tree.dirs:
            reply(fd, unique, errno.ENOTDIR)
        else:
            reply(fd, unique, body=tree.readdir(nodeid, offset, size,
                                                opcode == FUSE_READDIRPLUS))
    elif opcode in (FUSE_RELEASE, FUSE_RELEASEDIR, FUSE_FLUSH):
        reply(fd, unique)
    elif opcode == FUSE_ACCESS:
        (mask,) = struct.unpack_from("<I", body)
        reply(fd, unique, errno.EROFS if mask & W_OK else 0)
    elif opcode == FUSE_GETXATTR:
        reply(fd, unique, errno.ENODATA)
    elif opcode == FUSE_LISTXATTR:
        (size,) = struct.unpack_from("<I", body)  # fuse_getxattr_in: size padding
        # size 0 asks how long the list is (fuse_getxattr_out: size padding).
        reply(fd, unique, body=struct.pack("<II", 0, 0) if size == 0 else b"")
    else:  # mkdir, create, setattr, write, statx, ...
        reply(fd, unique, errno.ENOSYS)


def read_limit(path):
    """N from CONTROL_DIR/hang_after_reads, or None (no such file, no number)."""
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def read_delay(path):
    """D from CONTROL_DIR/read_delay_ms in seconds, or 0 (no such file, no number)."""
    try:
        with open(path) as f:
            return max(float(f.read().strip()), 0) / 1000
    except (OSError, ValueError):
        return 0


def main():
    if len(sys.argv) not in (3, 4, 5) or len(sys.argv) == 4 and sys.argv[3] != "hwmon":
        sys.exit("usage: %s MOUNTPOINT CONTROL_DIR [FILES SIZE | hwmon]" % sys.argv[0])
    mountpoint, ctl = sys.argv[1], sys.argv[2]
    if len(sys.argv) == 5:
        tree = Tree(int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 4:
        tree = Hwmon(ctl)
    else:
        tree = Tree()
    hang = os.path.join(ctl, "hang")
    after_reads = os.path.join(ctl, "hang_after_reads")
    delay_ms = os.path.join(ctl, "read_delay_ms")
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    opts = "fd=%d,rootmode=40000,user_id=0,group_id=0" % fd
    if libc.mount(b"hang", mountpoint.encode(), b"fuse.hang", 0, opts.encode()) != 0:
        e = ctypes.get_errno()
        sys.exit("mount %s: %s" % (mountpoint, os.strerror(e)))
    print("mounted", flush=True)

    # unique -> (pid of the caller, opcode, nodeid, body): requests kept unanswered
    held = {}
    # [(due, unique, pid, opcode, nodeid, body)], soonest first: READs that
    # wait out read_delay_ms; `waited` holds those whose wait is over.
    delayed = []
    waited = set()
    count = 0
    reads = 0
    put(ctl, "statfs_count", 0)
    put(ctl, "read_count", 0)
    put(ctl, "pending", 0)

    def hung():
        if os.path.exists(hang):
            return True
        limit = read_limit(after_reads)
        return limit is not None and reads >= limit

    def serve(opcode, unique, nodeid, body, pid):
        nonlocal reads
        # A DS18B20 converts once per read from the start, not again for the
        # read that finds the end.
        if (opcode == FUSE_READ and tree.delayed(nodeid) and unique not in waited
                and struct.unpack_from("<QQ", body)[1] == 0):
            delay = read_delay(delay_ms)
            if delay > 0:  # answered once it is due; the loop serves on
                delayed.append((time.monotonic() + delay, unique, pid, opcode, nodeid, body))
                delayed.sort(key=lambda d: d[0])
                return
        waited.discard(unique)
        if opcode == FUSE_READ and tree.counted(nodeid):
            reads += 1
            put(ctl, "read_count", reads)
        answer(fd, tree, opcode, unique, nodeid, body)

    while True:
        now = time.monotonic()
        while delayed and delayed[0][0] <= now:
            _, unique, pid, opcode, nodeid, body = delayed.pop(0)
            waited.add(unique)
            if held or hung():  # due while hung: held like the rest
                held[unique] = (pid, opcode, nodeid, body)
                put(ctl, "pending", len(held))
            else:
                serve(opcode, unique, nodeid, body, pid)
        if held and not hung():
            # In the order they came, until the server hangs again (a larger
            # N in hang_after_reads lets that many more reads through).
            for unique in list(held):
                if hung():
                    break
                pid, opcode, nodeid, body = held.pop(unique)
                serve(opcode, unique, nodeid, body, pid)
            put(ctl, "pending", len(held))
        timeout = 0.1
        if delayed:
            timeout = min(timeout, max(delayed[0][0] - time.monotonic(), 0))
        if not select.select([fd], [], [], timeout)[0]:
            continue
        try:
            msg = os.read(fd, MAX_WRITE + 4096)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.EINTR, errno.EAGAIN):
                continue  # request interrupted before we read it
            if e.errno == errno.ENODEV:
                return 0  # unmounted
            raise
        _, opcode, unique, nodeid, _, _, pid, _, _ = IN_HEADER.unpack_from(msg)
        body = msg[IN_HEADER.size:]
        if opcode == FUSE_STATFS:
            count += 1
            put(ctl, "statfs_count", count)
        if opcode == FUSE_INTERRUPT:
            (target,) = struct.unpack_from("<Q", body)
            if target in held and dying(held[target][0]):
                del held[target]
                waited.discard(target)
                reply(fd, target, errno.EINTR)
                put(ctl, "pending", len(held))
            for i, d in enumerate(delayed):
                if d[1] == target and dying(d[2]):
                    del delayed[i]
                    reply(fd, target, errno.EINTR)
                    break
        elif opcode not in NO_REPLY + CLOSING and opcode != FUSE_INIT and (held or hung()):
            # A server that is gone answers nothing.
            held[unique] = (pid, opcode, nodeid, body)
            put(ctl, "pending", len(held))
        else:
            serve(opcode, unique, nodeid, body, pid)


if __name__ == "__main__":
    sys.exit(main())
