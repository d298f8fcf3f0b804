//! The one place the sampler touches files: a kept-open file re-read from
//! offset 0 (pread) into a buffer that is reused across reads.
//!
//! Invariant: after warm-up `read()` does not allocate. The buffer only grows
//! (doubling) when the file is larger than ever before, e.g. /proc/stat on a
//! machine that brought more CPUs online.
//!
//! Invariant: no open or read here can wait. Files are opened with
//! `O_NONBLOCK` (a FIFO put where a /proc file should be would otherwise
//! block `open` until a writer comes) and refused unless `fstat` says they
//! are regular files, which procfs and sysfs files are; the error names the
//! file and what it is instead.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Opens `path` for reading without ever waiting (see the module docs):
/// anything but a regular file is an error saying what it is.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
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
    pub fn new(path: PathBuf, keep_open: bool) -> Self {
        let bytes = if keep_open { SYSFS_READ_BYTES } else { 0 };
        Attribute {
            file: ProcFile::with_capacity(path, bytes),
            keep_open,
        }
    }

    /// The attribute's first [`SYSFS_READ_BYTES`], read now (`buf` holds
    /// them when the file is not kept open).
    pub fn read<'a>(&'a mut self, buf: &'a mut [u8; SYSFS_READ_BYTES]) -> io::Result<&'a [u8]> {
        if self.keep_open {
            let all = self.file.read_attribute()?;
            Ok(&all[..all.len().min(SYSFS_READ_BYTES)])
        } else {
            read_once_into(self.file.path(), buf)
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

pub struct ProcFile {
    path: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
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
        }
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
    /// error, so a file that appears later (or a remounted /proc) recovers.
    pub fn read(&mut self) -> io::Result<&[u8]> {
        let result = self.read_inner();
        if result.is_err() {
            self.file = None;
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
            // pread from the start: one system call per file when it fits,
            // instead of lseek + read + a read that returns 0. procfs and
            // sysfs fill the whole buffer unless the file ends first, so a
            // short read is the end of the file.
            match file.read_at(&mut self.buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if len < self.buf.len() {
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
