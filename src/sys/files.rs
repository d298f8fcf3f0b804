//! Files and descriptors: statvfs, getdents64 into caller-owned buffers,
//! descriptor-relative access for the backup walk (`openat`, `fstatat`,
//! `readlinkat`), flock, writeback hints, and the procfs checks on the
//! kept-open mounts file. Each call is one system call (retried on EINTR
//! where it can be interrupted) with errno as an `io::Error`.

use std::ffi::CStr;
use std::io;

/// What `statvfs(3)` says about a mounted filesystem, in blocks of `fragment_size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsStats {
    pub fragment_size: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_available: u64,
    /// Inodes (`f_files`) and free inodes (`f_ffree`).
    pub files: u64,
    pub files_free: u64,
    /// Mounted read-only (`ST_RDONLY` in `f_flag`).
    pub read_only: bool,
}

pub fn statvfs(path: &CStr) -> io::Result<FsStats> {
    // SAFETY: `path` is NUL-terminated; `out` is a plain C struct that
    // statvfs fully writes on success, and we read it only then.
    unsafe {
        let mut out: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut out) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FsStats {
            fragment_size: out.f_frsize as u64,
            blocks: out.f_blocks as u64,
            blocks_free: out.f_bfree as u64,
            blocks_available: out.f_bavail as u64,
            files: out.f_files as u64,
            files_free: out.f_ffree as u64,
            read_only: out.f_flag & libc::ST_RDONLY != 0,
        })
    }
}

/// Puts a descriptor (a child's pipe) into non-blocking mode.
pub fn set_nonblocking(fd: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns; flags are read then written.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Grows a pipe's buffer to `bytes` (`F_SETPIPE_SZ`; the kernel rounds up
/// to a power of two of pages). An unprivileged process may go up to
/// `/proc/sys/fs/pipe-max-size` (1 MiB by default) while its user's pipes
/// stay under `pipe-user-pages-soft`; past either the call fails (EPERM)
/// and the pipe keeps its size.
pub fn grow_pipe(fd: std::os::fd::RawFd, bytes: usize) -> io::Result<()> {
    let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: fcntl on a descriptor the caller owns; an int argument.
    if unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, bytes) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes a descriptor out of non-blocking mode (one opened `O_NONBLOCK`
/// only so that the open itself could not wait).
pub fn clear_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor borrowed for the call; flags are read
    // then written.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK != 0
            && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Counts the entries of a directory kept open (for /proc/self/fd) with
/// getdents64 into a fixed buffer: no allocation per count, unlike read_dir.
pub struct DirCounter {
    dir: std::os::fd::OwnedFd,
    buf: Box<[u8; 8192]>,
    /// `dir` was opened and not listed since: its position is the start,
    /// so the listing needs no `lseek` (a scrape reopens its sensor
    /// directories).
    at_start: bool,
}

/// Opens `path` read-only with `flags` and `O_CLOEXEC` by the `openat`
/// system call itself (retried on EINTR): musl's `open()` follows every
/// `O_CLOEXEC` open with an `fcntl(F_SETFD, FD_CLOEXEC)` for kernels
/// before 2.6.23, one more system call per open, and a scrape opens its
/// sensor directories and, past their budget of kept-open descriptors, its
/// sensor files every time (std's `File::open` goes through the same call).
pub fn open_cloexec(path: &CStr, flags: libc::c_int) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    loop {
        // SAFETY: openat with a NUL-terminated path; no pointer is kept.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                flags | libc::O_RDONLY | libc::O_CLOEXEC,
                0,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor that nothing else owns (a
            // descriptor fits in c_int).
            return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as libc::c_int) });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Opens a directory for getdents64.
fn open_directory(path: &CStr) -> io::Result<std::os::fd::OwnedFd> {
    open_cloexec(path, libc::O_DIRECTORY)
}

impl DirCounter {
    pub fn open(path: &CStr) -> io::Result<DirCounter> {
        Ok(DirCounter {
            dir: open_directory(path)?,
            buf: Box::new([0; 8192]),
            at_start: true,
        })
    }

    /// Opens `path` again in place of the directory held, keeping the
    /// buffer (no allocation): for a directory that may be replaced
    /// between listings. On an error the old descriptor is kept.
    pub fn reopen(&mut self, path: &CStr) -> io::Result<()> {
        self.dir = open_directory(path)?;
        self.at_start = true;
        Ok(())
    }

    /// Entries other than `.` and `..`, read afresh from the start.
    pub fn count(&mut self) -> io::Result<u64> {
        let mut entries = 0u64;
        self.for_each_name(|_| entries += 1)?;
        Ok(entries)
    }

    /// Calls `f` with the name of every entry other than `.` and `..`, read
    /// afresh from the start, in the directory's own order. No allocation.
    pub fn for_each_name(&mut self, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        self.for_each_entry(|_, name| f(name))
    }

    /// Begins a listing in parts ([`DirCounter::list_some`]): the next
    /// read starts from the first entry.
    pub fn rewind(&mut self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: lseek on our own descriptor.
        if !self.at_start && unsafe { libc::lseek(self.dir.as_raw_fd(), 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        self.at_start = false;
        Ok(())
    }

    /// Calls `f` with the names of the entries after those the listing
    /// begun by [`DirCounter::rewind`] gave so far, a buffer (8 KiB of
    /// entries: about 250 pids) at a time, until the last (true) or until
    /// a buffer ends at or after `until` (false: call again to go on).
    /// The position is the descriptor's, kept by the kernel in between: on
    /// procfs the next pid number, so a process that starts meanwhile with
    /// a lower pid is not listed and one that exits is not given, as in
    /// one listing that ran as long.
    pub fn list_some(
        &mut self,
        until: Option<std::time::Instant>,
        mut f: impl FnMut(&[u8]),
    ) -> io::Result<bool> {
        self.list_entries(until, |_, name| f(name))
    }

    /// [`DirCounter::list_some`] with each entry's inode number.
    fn list_entries(
        &mut self,
        until: Option<std::time::Instant>,
        mut f: impl FnMut(u64, &[u8]),
    ) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        let fd = self.dir.as_raw_fd();
        loop {
            // SAFETY: the kernel writes at most buf.len() bytes into buf.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    fd,
                    self.buf.as_mut_ptr(),
                    self.buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                return Ok(true);
            }
            for_each_dirent_with_inode(&self.buf[..n as usize], |inode, name, _| f(inode, name));
            if until.is_some_and(|until| std::time::Instant::now() >= until) {
                return Ok(false);
            }
        }
    }

    /// [`DirCounter::for_each_name`] with each entry's inode number
    /// (`d_ino`): a name removed and made again (a sysfs device
    /// registered anew, a directory re-created) comes back with another
    /// one, so a listing that keeps them tells that apart for free.
    pub fn for_each_entry(&mut self, f: impl FnMut(u64, &[u8])) -> io::Result<()> {
        self.rewind()?;
        self.list_entries(None, f).map(|_| ())
    }
}

/// The open directory, for `*at` calls relative to it (a pid's files
/// under the kept-open /proc, listed by [`DirCounter::for_each_name`]).
impl std::os::fd::AsFd for DirCounter {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.dir)
    }
}

/// Calls `f(name, d_type)` for every record other than `.` and `..` in
/// `buf`, which holds what one getdents64 call returned.
fn for_each_dirent(buf: &[u8], mut f: impl FnMut(&[u8], u8)) {
    for_each_dirent_with_inode(buf, |_, name, kind| f(name, kind));
}

/// [`for_each_dirent`], calling `f(d_ino, name, d_type)`.
fn for_each_dirent_with_inode(buf: &[u8], mut f: impl FnMut(u64, &[u8], u8)) {
    // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name...
    let mut pos = 0;
    while pos + 19 <= buf.len() {
        let reclen = usize::from(u16::from_ne_bytes([buf[pos + 16], buf[pos + 17]]));
        if reclen == 0 {
            break;
        }
        let name = &buf[pos + 19..(pos + reclen).min(buf.len())];
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        if name != b"." && name != b".." {
            let mut inode = [0u8; 8];
            inode.copy_from_slice(&buf[pos..pos + 8]);
            f(u64::from_ne_bytes(inode), name, buf[pos + 18]);
        }
        pos += reclen;
    }
}

// --- Descriptor-relative file access, for the backup walk ------------------
//
// The walk keeps the directory it is visiting open and names entries
// relative to it: a lookup then resolves one component, not the whole path,
// and a name cannot be redirected through a symlink swapped in higher up.
// The flags go to `openat` directly: musl's `open` wrapper follows every
// `O_CLOEXEC` open with an `fcntl(F_SETFD)` for kernels older than 2.6.23.

/// A file for the `*at` calls: an entry of an open directory, or a path
/// resolved as `open(2)` would (from the working directory).
#[derive(Clone, Copy, Debug)]
pub enum At<'a> {
    Entry(std::os::fd::BorrowedFd<'a>, &'a CStr),
    Path(&'a std::path::Path),
}

impl At<'_> {
    /// Calls `f(dirfd, name)` with the C form of this location.
    fn with<T>(self, f: impl FnOnce(libc::c_int, &CStr) -> T) -> io::Result<T> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        match self {
            At::Entry(dir, name) => Ok(f(dir.as_raw_fd(), name)),
            At::Path(path) => {
                let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                Ok(f(libc::AT_FDCWD, &c_path))
            }
        }
    }
}

/// What the backup takes from a `stat`: our own type because std cannot
/// make a `Metadata` from `fstatat` on a directory descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    pub dev: u64,
    pub ino: u64,
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub size_bytes: u64,
    /// Space allocated, in 512-byte units (`st_blocks`).
    pub blocks_512: u64,
    pub mtime_s: i64,
    pub mtime_ns: i64,
}

impl FileStat {
    fn from_raw(st: &libc::stat) -> FileStat {
        FileStat {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            // A stat never holds a negative size or block count.
            size_bytes: st.st_size as u64,
            blocks_512: st.st_blocks as u64,
            mtime_s: st.st_mtime,
            mtime_ns: st.st_mtime_nsec,
        }
    }

    /// The `S_IFMT` bits of `mode`.
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }

    pub fn is_file(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }

    pub fn is_symlink(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }
}

impl From<&std::fs::Metadata> for FileStat {
    fn from(m: &std::fs::Metadata) -> FileStat {
        use std::os::unix::fs::MetadataExt;
        FileStat {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            size_bytes: m.size(),
            blocks_512: m.blocks(),
            mtime_s: m.mtime(),
            mtime_ns: m.mtime_nsec(),
        }
    }
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)`: the entry itself, never a symlink's target.
pub fn lstat_at(at: At<'_>) -> io::Result<FileStat> {
    at.with(|dir, name| {
        // SAFETY: `name` is NUL-terminated and `dir` open (or AT_FDCWD) for
        // the call; `out` is a plain C struct fstatat fully writes on
        // success, and it is read only then.
        unsafe {
            let mut out: libc::stat = std::mem::zeroed();
            if libc::fstatat(dir, name.as_ptr(), &mut out, libc::AT_SYMLINK_NOFOLLOW) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(FileStat::from_raw(&out))
        }
    })?
}

/// The owner (`st_uid`) of an entry, symlinks not followed: the top
/// processes' effective uid of a process, from its /proc directory.
pub fn owner_at(at: At<'_>) -> io::Result<u32> {
    at.with(|dir, name| {
        // SAFETY: `name` is NUL-terminated and `dir` open (or AT_FDCWD) for
        // the call; `out` is a plain C struct fstatat fully writes on
        // success, and it is read only then.
        unsafe {
            let mut out: libc::stat = std::mem::zeroed();
            if libc::fstatat(dir, name.as_ptr(), &mut out, libc::AT_SYMLINK_NOFOLLOW) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(out.st_uid)
        }
    })?
}

/// `fstat` of an open file.
pub fn fstat(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<FileStat> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call; `out` is read only after
    // fstat filled it.
    unsafe {
        let mut out: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut out) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileStat::from_raw(&out))
    }
}

/// `st_size` of an open file, by the `fstat` system call itself: the idle
/// sample asks it of /proc/self/fd every interval, and musl's `fstat`
/// sits among start-up's code, whose pages the daemon drops after its
/// first turn (*Where the idle RSS goes*): calling it would fault a 64 KiB
/// window of them back in and keep it. Inlined for the same reason: into
/// the sampler's code, which the layout keeps with the idle loop's.
#[inline]
pub fn fstat_size(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call; `out` is a plain C
    // struct (the kernel's `struct stat` on Linux) read only after the
    // call filled it.
    unsafe {
        let mut out: libc::stat = std::mem::zeroed();
        if libc::syscall(libc::SYS_fstat, fd.as_raw_fd(), &mut out as *mut libc::stat) != 0 {
            return Err(io::Error::last_os_error());
        }
        // A stat never holds a negative size.
        Ok(out.st_size as u64)
    }
}

/// `openat(flags | O_CLOEXEC)`, retried on EINTR.
pub fn open_at(at: At<'_>, flags: libc::c_int) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    at.with(|dir, name| {
        loop {
            // SAFETY: `name` is NUL-terminated and `dir` open (or AT_FDCWD)
            // for the call; no O_CREAT, so no mode argument is read.
            let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) };
            if fd >= 0 {
                // SAFETY: a fresh descriptor that nothing else owns.
                return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    })?
}

/// `readlinkat`: the target of the symlink `at`, raw bytes, into `target`.
pub fn read_link_at(at: At<'_>, target: &mut Vec<u8>) -> io::Result<()> {
    at.with(|dir, name| {
        // Targets are at most a page long; grow once more to tell a target
        // that filled the buffer from a truncated one.
        let mut cap = 256;
        loop {
            target.clear();
            target.reserve(cap);
            // SAFETY: the kernel writes at most `cap` bytes into the spare
            // capacity reserved just above; `name` is NUL-terminated.
            let n =
                unsafe { libc::readlinkat(dir, name.as_ptr(), target.as_mut_ptr().cast(), cap) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n < cap {
                // SAFETY: readlinkat initialised the first n bytes.
                unsafe { target.set_len(n) };
                return Ok(());
            }
            cap *= 2;
        }
    })?
}

/// One `getdents64` call on `dir` into `buf`: calls `f(name, d_type)` for
/// each entry but `.` and `..` (`d_type` is a `DT_*` value, `DT_UNKNOWN`
/// on filesystems that do not record types). `Ok(false)` at the end.
pub fn read_dir_batch(
    dir: std::os::fd::BorrowedFd<'_>,
    buf: &mut [u8],
    f: impl FnMut(&[u8], u8),
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: the kernel writes at most buf.len() bytes into buf; the
    // descriptor is open for the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n == 0 {
        return Ok(false);
    }
    for_each_dirent(&buf[..n as usize], f);
    Ok(true)
}

/// Takes an exclusive `flock(2)` on `file` without waiting: `Ok(false)`
/// when another open file description holds it. The lock lives as long as
/// the descriptor, so the kernel drops it when its owner dies (even by
/// kill -9): that is how a leftover backup temporary is told apart from
/// one being written right now.
pub fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor `file` keeps open for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Whether another open file description holds an exclusive `flock` on
/// `file`, asked by trying a shared one without waiting (`LOCK_SH |
/// LOCK_NB`): `EWOULDBLOCK` is yes. When the attempt succeeds, the shared
/// lock taken is let go at once. `F_GETLK` would not do: it sees only
/// POSIX record locks, which on Linux are apart from `flock`'s.
pub fn flock_held_elsewhere(file: &std::fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor `file` keeps open for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0 {
        // SAFETY: as above; releases the shared lock just taken.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        return Ok(false);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(true)
    } else {
        Err(e)
    }
}

/// Starts writeback of `len` bytes at `offset` of `file` without waiting
/// for it (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that the final
/// fsync of a large archive has little left to do and does not stall the
/// poll loop for seconds. Purely a hint: errors are returned but harmless.
pub fn start_writeback(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: sync_file_range only reads its integer arguments; the
    // descriptor stays open for the call.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) }
        != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until the `len` bytes at `offset` of `file` are written back
/// (`sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`). Called on the
/// window before the one just started, it keeps the dirty part of a large
/// archive to a few MiB, so no single call (and not the final fsync)
/// blocks the poll loop for long even on a slow disk. Does not flush
/// metadata: the final fsync is still what makes the archive durable.
pub fn wait_writeback(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as in start_writeback.
    if unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `fd` is a file on procfs (where `/proc/self/mounts` reports
/// mount-table changes through POLLPRI).
pub fn is_procfs(fd: std::os::fd::RawFd) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    // SAFETY: fstatfs fills the struct we own; we read it only on success.
    unsafe {
        let mut out: libc::statfs = std::mem::zeroed();
        libc::fstatfs(fd, &mut out) == 0 && out.f_type as i64 == PROC_SUPER_MAGIC
    }
}

/// Whether a procfs mounts file signals a change of the mount table since
/// the last call (POLLPRI/POLLERR), without waiting.
pub fn mount_table_changed(fd: std::os::fd::RawFd) -> bool {
    let mut entry = libc::pollfd {
        fd,
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: poll reads and writes exactly the one pollfd we pass.
    let ready = unsafe { libc::poll(&mut entry, 1, 0) };
    ready > 0 && entry.revents & (libc::POLLPRI | libc::POLLERR) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn c(path: &std::path::Path) -> std::ffi::CString {
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap()
    }

    #[test]
    fn open_cloexec_sets_close_on_exec_and_reports_errno() {
        let fd = open_cloexec(c"/proc/self/stat", 0).unwrap();
        // SAFETY: F_GETFD on a descriptor this test owns.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        let missing = open_cloexec(c"/nonexistent/sysmon-test", 0).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let not_dir = open_directory(c"/proc/self/stat").unwrap_err();
        assert_eq!(not_dir.raw_os_error(), Some(libc::ENOTDIR));
    }

    /// A fresh descriptor is listed without an `lseek`, a kept one from
    /// the start again: both listings, and one after a reopen, see every
    /// name, including one added between them.
    #[test]
    fn a_directory_lists_whole_when_fresh_kept_and_reopened() {
        let dir = std::env::temp_dir().join(format!("sysmon-dircounter-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        for name in ["a", "b", "c"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let names = |counter: &mut DirCounter| {
            let mut names = Vec::new();
            counter
                .for_each_name(|n| names.push(String::from_utf8_lossy(n).into_owned()))
                .unwrap();
            names.sort();
            names
        };
        let mut counter = DirCounter::open(&c(&dir)).unwrap();
        assert_eq!(names(&mut counter), ["a", "b", "c"]);
        assert_eq!(names(&mut counter), ["a", "b", "c"]);
        std::fs::write(dir.join("d"), "").unwrap();
        assert_eq!(names(&mut counter), ["a", "b", "c", "d"]);
        counter.reopen(&c(&dir)).unwrap();
        assert_eq!(names(&mut counter), ["a", "b", "c", "d"]);
        assert_eq!(counter.count().unwrap(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
