//! The one place the sampler touches files: a kept-open file re-read from
//! offset 0 (pread) into a buffer that is reused across reads.
//!
//! Invariant: after warm-up `read()` does not allocate. The buffer only grows
//! (doubling) when the file is larger than ever before, e.g. /proc/stat on a
//! machine that brought more CPUs online.
//!
//! Invariant: a read returns the whole file. A read that returns fewer
//! bytes than asked is not always the end: procfs tables of records
//! (`seq_file`) stop each read where the kernel's page-sized buffer is full
//! (/proc/net/udp with a hundred sockets came back 3,968 bytes at a time).
//! [`Ends`] says, per file, when a short read is the end, so that the usual
//! read is still one `pread`.
//!
//! Invariant: a file made optional ([`ProcFile::optional`]: pressure,
//! net/dev, diskstats, none of which every kernel has) whose open or read
//! failed is not tried again for [`RECHECK_ABSENT`]: its reads fail at once
//! with the same error and no system call, instead of a failed `openat`
//! of 2–4 µs (or PSI's open, `fstat` and refused read) at every sample.
//!
//! Invariant: no open or read here can wait. Files are opened with
//! `O_NONBLOCK` (a FIFO put where a /proc file should be would otherwise
//! block `open` until a writer comes) and refused unless `fstat` says they
//! are regular files, which procfs and sysfs files are; the error names the
//! file and what it is instead.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long an optional file whose read failed is left alone before it is
/// looked for again (a file that appears later, a remounted /proc): a
/// kernel without PSI has no /proc/pressure until it is booted again.
pub const RECHECK_ABSENT: Duration = Duration::from_secs(60);

/// Opens `path` for reading without ever waiting (see the module docs):
/// anything but a regular file is an error saying what it is.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = File::from(with_c_path(path, |path| {
        crate::sys::open_cloexec(path, libc::O_NONBLOCK | libc::O_NOCTTY)
    })?);
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}, not a regular file: refused (reading it could block)"),
    ))
}

/// `f` of `path` as a C string, made on the stack when it is shorter than
/// std's own buffer for this (384 bytes), so that opening a file allocates
/// nothing; a path with a NUL byte is an `InvalidInput` error, as std's.
fn with_c_path<T>(path: &Path, f: impl FnOnce(&CStr) -> io::Result<T>) -> io::Result<T> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let nul_inside = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "file name contained an unexpected NUL byte",
        )
    };
    let mut on_stack = [0u8; 384];
    if bytes.len() < on_stack.len() {
        on_stack[..bytes.len()].copy_from_slice(bytes);
        f(CStr::from_bytes_with_nul(&on_stack[..=bytes.len()]).map_err(|_| nul_inside())?)
    } else {
        f(&CString::new(bytes).map_err(|_| nul_inside())?)
    }
}

/// A small file read once (a sysfs name, the kernel release), with the
/// same guarantees as [`ProcFile`]: never blocks, at most [`MAX_SIZE`].
pub fn read_once(path: &Path) -> io::Result<Vec<u8>> {
    read_at_most(path, MAX_SIZE)
}

/// [`read_once`] with a smaller bound: at most `max` bytes of a regular
/// file (a pid file, a state file another program writes).
pub fn read_at_most(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    open_regular(path)?.take(max as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// All of a small regular file that is read whole or not at all (the
/// config file, the password file), with [`open_regular`]'s guarantee: a
/// FIFO or a device is refused, never waited on nor read without end.
pub fn read_whole(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    read_whole_from(&open_regular(path)?, max)
}

/// [`read_whole`] of a file already opened by [`open_regular`] (whose
/// `fstat` the caller wanted too). At most `max + 1` bytes are read, so a
/// huge file, or one that keeps growing, costs no more than that; a file
/// larger than `max` is a `FileTooLarge` error naming the bound.
pub fn read_whole_from(file: &File, max: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut out)?;
    if out.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {max} bytes (sysmon reads at most that)"),
        ));
    }
    Ok(out)
}

/// One `read` of a sysfs attribute into `buf`, as node_exporter's
/// `sysReadFile` does (a sysfs attribute is shown whole by one read; a
/// driver that answers EAGAIN is an error, not a wait): opened, read once,
/// closed. The bytes read; no allocation while the path is shorter than
/// std's on-stack C-string buffer (384 bytes).
pub fn read_once_into<'b>(path: &Path, buf: &'b mut [u8]) -> io::Result<&'b [u8]> {
    use std::io::Read;
    let len = open_regular(path)?.read(buf)?;
    Ok(&buf[..len])
}

/// A sysfs attribute read at every /metrics scrape, node_exporter's way
/// (the first [`SYSFS_READ_BYTES`] of one read), either kept open and
/// re-read with one `pread` ([`ProcFile::read_attribute`]) or, past its
/// reader's budget of descriptors, opened, read once and closed
/// ([`read_once_into`]): a machine with a thousand sensor files does not
/// hold a thousand descriptors (nor the kernel a page for each).
pub struct Attribute {
    file: ProcFile,
    keep_open: bool,
}

/// What node_exporter (and procfs' `SysReadFile`) reads of a sysfs file.
pub const SYSFS_READ_BYTES: usize = 128;

impl Attribute {
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn new(path: PathBuf, keep_open: bool) -> Self {
        let bytes = if keep_open { SYSFS_READ_BYTES } else { 0 };
        Attribute {
            file: ProcFile::with_capacity(path, bytes),
            keep_open,
        }
    }

    /// The attribute's first [`SYSFS_READ_BYTES`], read now (`buf` holds
    /// them when the file is not kept open). A kept-open file whose device
    /// was removed reads `ENODEV` (kernfs refuses every read of a removed
    /// node's open file) and is opened again by its path once: a driver
    /// reloaded between two scrapes may put a new device at the same path.
    /// `gone` is set when the file's node was seen gone (that `ENODEV`, or
    /// no file at the path: `ENOENT`), so that the caller lists its
    /// device's directory again: the files it holds may have changed.
    pub fn read<'a>(
        &'a mut self,
        buf: &'a mut [u8; SYSFS_READ_BYTES],
        gone: &mut bool,
    ) -> io::Result<&'a [u8]> {
        let read = if self.keep_open {
            self.file.read_attribute_of_live_device(gone)
        } else {
            read_once_into(self.file.path(), buf)
        };
        match read {
            Ok(all) => Ok(&all[..all.len().min(SYSFS_READ_BYTES)]),
            Err(e) => {
                if matches!(e.raw_os_error(), Some(libc::ENODEV | libc::ENOENT)) {
                    *gone = true;
                }
                Err(e)
            }
        }
    }
}

const INITIAL_CAPACITY: usize = 8 * 1024;
/// What the first read zeroes of a buffer: a page is resident once written,
/// and zeroing a kept-open file's whole 8 KiB up front made both of its
/// pages resident for a 30-byte file. The zeroed part grows (doubling,
/// within the capacity: no allocation) only as far as reads need.
const FIRST_READ: usize = 512;
/// No file sysmon samples is anywhere near this; a bigger one is not /proc.
const MAX_SIZE: usize = 16 * 1024 * 1024;

/// The smallest buffer a procfs `seq_file` renders records into: a page,
/// 4096 bytes or more (it grows only for a record that does not fit alone).
const SEQ_BUFFER_MIN: usize = 4096;

/// How [`ProcFile`] knows that a read which returned fewer bytes than it
/// asked for reached the end of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ends {
    /// The kernel renders the whole file at once and a read copies all of
    /// it that fits, so a short read is the end: procfs files made with
    /// `single_open` (stat, meminfo, loadavg, uptime, pressure/*, PID/stat,
    /// net/netstat, net/snmp, net/snmp6, net/sockstat), /proc/sys files and
    /// sysfs attributes (Linux `fs/seq_file.c`: one record, the buffer grown
    /// until it fits).
    AtShortRead,
    /// A procfs table of records none longer than `max_record` bytes
    /// (net/dev, diskstats, vmstat, net/udp, net/arp, softnet_stat): a read
    /// stops before the first record that does not fit in the kernel's
    /// buffer (at least [`SEQ_BUFFER_MIN`]), so it came short of the end
    /// only with more than `SEQ_BUFFER_MIN - max_record` bytes; a shorter
    /// read is the end, a longer one is followed by another.
    Records { max_record: usize },
    /// Records of any length (/proc/self/mounts: paths): only a read that
    /// returns nothing is the end.
    AtZero,
}

impl Ends {
    /// Records of up to 512 bytes: every procfs table sysmon reads but the
    /// mount table, and every file that is rendered whole and smaller than
    /// 3.5 KB (those cost one read either way).
    pub const DEFAULT: Ends = Ends::Records { max_record: 512 };

    /// Whether a read that returned `n` bytes, fewer than it asked for,
    /// reached the end of the file.
    fn at_short_read(self, n: usize) -> bool {
        match self {
            Ends::AtShortRead => true,
            Ends::Records { max_record } => n + max_record < SEQ_BUFFER_MIN,
            Ends::AtZero => false,
        }
    }
}

pub struct ProcFile {
    path: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
    ends: Ends,
    /// Set for an optional file ([`ProcFile::optional`]).
    absent: Option<Absent>,
}

/// An optional file's last failure, while it is not tried again.
#[derive(Clone, Copy, Default)]
struct Absent {
    /// The failed read's `errno` and when to try again.
    failed: Option<(i32, Instant)>,
}

impl ProcFile {
    pub fn new(path: PathBuf) -> Self {
        Self::with_capacity(path, INITIAL_CAPACITY)
    }

    /// For a file known to be small (a sysfs attribute, one number): a
    /// buffer of `bytes` to start with, so a hundred of them do not cost
    /// 8 KiB each. It still grows if the file is larger.
    pub fn with_capacity(path: PathBuf, bytes: usize) -> Self {
        ProcFile {
            path,
            file: None,
            buf: Vec::with_capacity(bytes.max(1)),
            ends: Ends::DEFAULT,
            absent: None,
        }
    }

    /// A file the machine may not have (see the module docs): after a
    /// failed [`ProcFile::read`], the next ones for [`RECHECK_ABSENT`]
    /// fail at once with the same error (an `errno`: ENOENT for a missing
    /// file, EOPNOTSUPP for PSI compiled in but off), without a system
    /// call.
    pub fn optional(mut self) -> Self {
        self.absent = Some(Absent::default());
        self
    }

    /// How a short read of this file is known to be its end (see [`Ends`];
    /// [`Ends::DEFAULT`] unless set).
    pub fn ending(mut self, ends: Ends) -> Self {
        self.ends = ends;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor, once the file has been opened by a successful read.
    pub fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.file.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// The whole file as it is now. Opens it on first use and again after an
    /// error, so a file that appears later (or a remounted /proc) recovers:
    /// at the next read, or for an [optional](ProcFile::optional) one at
    /// the first read [`RECHECK_ABSENT`] after the failure.
    pub fn read(&mut self) -> io::Result<&[u8]> {
        if let Some(Absent {
            failed: Some((errno, retry_at)),
        }) = self.absent
        {
            if Instant::now() < retry_at {
                return Err(io::Error::from_raw_os_error(errno));
            }
        }
        let result = self.read_inner();
        if let Err(e) = &result {
            self.file = None;
            if let Some(absent) = &mut self.absent {
                // Only an errno can be given again without allocating; a
                // file refused for its kind is tried again each time.
                absent.failed = e
                    .raw_os_error()
                    .map(|errno| (errno, Instant::now() + RECHECK_ABSENT));
            }
        } else if let Some(absent) = &mut self.absent {
            absent.failed = None;
        }
        result.map(|len| &self.buf[..len])
    }

    /// [`ProcFile::read`] for a sysfs attribute the kernel may refuse to
    /// show for now (`speed` of a link that is down: EINVAL): a failed read
    /// of a file that did open keeps it open, so asking every scrape costs
    /// one `pread`, not an open, fstat, read and close. (A file that could
    /// not be opened is tried again next time, as with `read`; the caller
    /// drops a `ProcFile` whose device went away.)
    pub fn read_attribute(&mut self) -> io::Result<&[u8]> {
        let len = self.read_inner()?;
        Ok(&self.buf[..len])
    }

    /// [`ProcFile::read_attribute`], but a kept-open file that reads
    /// `ENODEV` (its device was removed) is closed and opened again by its
    /// path, once: the path may now name a new device. `reopened` is set
    /// when it was.
    pub fn read_attribute_of_live_device(&mut self, reopened: &mut bool) -> io::Result<&[u8]> {
        let len = match self.read_inner() {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) && self.file.is_some() => {
                *reopened = true;
                self.file = None;
                self.read_inner()?
            }
            read => read?,
        };
        Ok(&self.buf[..len])
    }

    /// Opens the file if it is not open yet, without reading it: whether
    /// it is there, for a caller that knows its content without a read.
    pub fn open(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(open_regular(&self.path)?);
        }
        Ok(())
    }

    fn read_inner(&mut self) -> io::Result<usize> {
        let file = match &mut self.file {
            Some(file) => file,
            slot => slot.insert(open_regular(&self.path)?),
        };
        // Read into the zeroed part, which never shrinks; it starts at
        // FIRST_READ and doubles when a read fills it (within the capacity
        // first, then by growing the buffer).
        if self.buf.is_empty() {
            let first = self.buf.capacity().min(FIRST_READ);
            self.buf.resize(first, 0);
        }
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                if self.buf.len() >= MAX_SIZE {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "file larger than 16 MiB",
                    ));
                }
                let doubled = self.buf.len() * 2;
                let within = self.buf.capacity();
                let grown = if self.buf.len() < within {
                    doubled.min(within)
                } else {
                    doubled
                };
                self.buf.resize(grown, 0);
            }
            // pread from the start: one system call per file when it fits
            // and the short read is known to be the end (`ends`), instead
            // of lseek + read + a read that returns 0.
            match file.read_at(&mut self.buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if len < self.buf.len() && self.ends.at_short_read(n) {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paths go to `openat` through a stack buffer, or an allocated C
    /// string past 383 bytes; a NUL byte is refused as std refuses it.
    #[test]
    fn open_regular_takes_short_and_long_paths_and_refuses_a_nul() {
        assert!(open_regular(Path::new("/proc/self/stat")).is_ok());
        let long = format!("/proc/self/{}stat", "./".repeat(300));
        assert!(long.len() > 384);
        assert!(open_regular(Path::new(&long)).is_ok());
        let nul = open_regular(Path::new("/proc/self/st\0at")).unwrap_err();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
        let dir = open_regular(Path::new("/proc/self")).unwrap_err();
        assert!(dir.to_string().contains("a directory"), "{dir}");
    }

    /// A file read whole is read to its end up to the bound and refused
    /// past it; /dev/zero (endless) is refused before a byte is read.
    #[test]
    fn read_whole_reads_to_the_bound_and_refuses_past_it() {
        let dir = std::env::temp_dir().join(format!("sysmon-readwhole-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_whole(&path, 5).unwrap(), b"12345");
        let over = read_whole(&path, 4).unwrap_err();
        assert_eq!(over.kind(), io::ErrorKind::FileTooLarge);
        assert!(over.to_string().contains("larger than 4 bytes"), "{over}");
        let zero = read_whole(Path::new("/dev/zero"), 4).unwrap_err();
        assert!(zero.to_string().starts_with("a character device"), "{zero}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rereads_and_grows() {
        let dir = std::env::temp_dir().join(format!("sysmon-procfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"one").unwrap();
        let mut f = ProcFile::new(path.clone());
        assert_eq!(f.read().unwrap(), b"one");
        let big = vec![b'x'; 100_000];
        std::fs::write(&path, &big).unwrap();
        // Same open file: a regular file rewritten in place is re-read from 0.
        assert_eq!(f.read().unwrap().len(), 100_000);
        // A buffer smaller than the file grows until the whole file fits.
        let mut small = ProcFile::with_capacity(path.clone(), 16);
        assert_eq!(small.read().unwrap().len(), 100_000);
        std::fs::remove_file(&path).unwrap();
        // Issue 16: a small file read through the default buffer zeroes
        // only what the read needed (zeroing all 8 KiB made both pages
        // resident), and a larger one still fits in that buffer unmoved.
        std::fs::write(&path, b"42\n").unwrap();
        let mut number = ProcFile::new(path.clone());
        assert_eq!(number.read().unwrap(), b"42\n");
        assert_eq!(
            (number.buf.len(), number.buf.capacity()),
            (FIRST_READ, INITIAL_CAPACITY)
        );
        let within = vec![b'y'; 5000];
        std::fs::write(&path, &within).unwrap();
        let before = number.buf.as_ptr();
        assert_eq!(number.read().unwrap(), &within[..]);
        assert_eq!(number.buf.as_ptr(), before, "grew within its capacity");
        assert_eq!(number.buf.len(), INITIAL_CAPACITY);
        std::fs::remove_file(&path).unwrap();
        let mut missing = ProcFile::new(path);
        assert!(missing.read().is_err());
        assert!(missing.read_attribute().is_err());
        assert!(missing.raw_fd().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An optional file that failed is not opened again until
    /// RECHECK_ABSENT has passed (the file appearing meanwhile proves no
    /// open was tried), then it is found; a required one is tried at once.
    #[test]
    fn an_optional_file_that_failed_is_looked_for_again_only_after_a_while() {
        let dir = std::env::temp_dir().join(format!("sysmon-procfile-opt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pressure");
        let _ = std::fs::remove_file(&path);
        let mut optional = ProcFile::new(path.clone()).optional();
        let mut required = ProcFile::new(path.clone());
        let before = Instant::now();
        for file in [&mut optional, &mut required] {
            let error = file.read().unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::ENOENT), "{error}");
        }
        std::fs::write(&path, b"some avg10=1.00\n").unwrap();
        assert_eq!(required.read().unwrap(), b"some avg10=1.00\n");
        let error = optional.read().unwrap_err();
        assert_eq!(
            error.kind(),
            io::ErrorKind::NotFound,
            "the same error again"
        );
        assert!(optional.raw_fd().is_none(), "not opened");
        let (_, retry_at) = optional.absent.unwrap().failed.unwrap();
        assert!(retry_at >= before + RECHECK_ABSENT);
        assert!(retry_at <= Instant::now() + RECHECK_ABSENT);
        // As if RECHECK_ABSENT had passed: looked for, found, and kept.
        optional.absent = Some(Absent {
            failed: Some((libc::ENOENT, Instant::now())),
        });
        assert_eq!(optional.read().unwrap(), b"some avg10=1.00\n");
        assert!(optional.absent.unwrap().failed.is_none());
        // A read that fails on a file that opened (PSI compiled in but off
        // answers EOPNOTSUPP; /proc/self/mem at address 0 EIO) closes it
        // and waits the same way.
        let mut refused = ProcFile::new(PathBuf::from("/proc/self/mem")).optional();
        for _ in 0..2 {
            let error = refused.read().unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EIO), "{error}");
            assert!(refused.raw_fd().is_none(), "closed");
        }
        assert!(refused.absent.unwrap().failed.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_table_longer_than_the_kernels_page_is_read_whole() {
        // Issue 12: /proc/net/udp is a seq_file of 128-byte records; with
        // a hundred sockets each read stops at 3,968 bytes, and a short
        // read taken for the end lost every socket after the first ~60.
        let sockets: Vec<std::net::UdpSocket> = (0..100)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        // `local_address` is `0100007F:PORT` in hex.
        let wanted: Vec<String> = sockets
            .iter()
            .map(|s| format!("0100007F:{:04X}", s.local_addr().unwrap().port()))
            .collect();
        let path = PathBuf::from("/proc/self/net/udp");
        let whole = std::fs::read(&path).unwrap();
        assert!(whole.len() > 2 * SEQ_BUFFER_MIN, "{} bytes", whole.len());
        for ends in [Ends::DEFAULT, Ends::AtZero] {
            // Twice: the first read grows the buffer, the second reads
            // into one already larger than the kernel's page.
            let mut file = ProcFile::new(path.clone()).ending(ends);
            for round in 0..2 {
                let text = String::from_utf8(file.read().unwrap().to_vec()).unwrap();
                let missing = wanted.iter().filter(|w| !text.contains(w.as_str())).count();
                assert_eq!(missing, 0, "{ends:?}, read {round}: {} bytes", text.len());
            }
        }
    }

    #[test]
    fn a_short_read_is_the_end_only_where_no_record_could_follow() {
        assert!(Ends::AtShortRead.at_short_read(4000));
        assert!(!Ends::AtZero.at_short_read(10));
        let udp = Ends::Records { max_record: 128 };
        assert!(udp.at_short_read(3967), "the next record would have fitted");
        assert!(!udp.at_short_read(3968), "31 records: the 32nd did not fit");
        assert!(Ends::DEFAULT.at_short_read(3583));
        assert!(!Ends::DEFAULT.at_short_read(3584));
    }

    #[test]
    fn an_attribute_the_kernel_refuses_stays_open() {
        // lo has no link speed: the open succeeds, every read is EINVAL.
        let mut speed = ProcFile::new(PathBuf::from("/sys/class/net/lo/speed"));
        if speed.read_attribute().is_ok() {
            return; // a kernel that shows one: nothing to prove here
        }
        let fd = speed.raw_fd();
        assert!(fd.is_some(), "opened, so kept");
        assert!(speed.read_attribute().is_err());
        assert_eq!(speed.raw_fd(), fd, "the same descriptor, not reopened");
        // `read` drops it, so a file that appears later is found.
        assert!(speed.read().is_err());
        assert!(speed.raw_fd().is_none());
    }

    #[test]
    fn a_fifo_or_directory_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("sysmon-procfile-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("stat");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // No writer: a plain open would wait here forever.
        let error = ProcFile::new(fifo.clone()).read().unwrap_err().to_string();
        assert!(error.starts_with("a FIFO, not a regular file"), "{error}");
        assert!(read_once(&fifo).is_err());
        let error = ProcFile::new(dir.clone()).read().unwrap_err().to_string();
        assert!(error.starts_with("a directory"), "{error}");
        assert!(read_once(Path::new("/proc/sys/kernel/osrelease")).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
