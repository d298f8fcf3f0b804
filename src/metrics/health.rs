//! Each collector's success at the last scrape, and the log lines that say
//! when it changes: once when a collector starts failing (its
//! `node_scrape_collector_success` turns 0, its panel goes blank), naming
//! the collector, the file and the error, once when its failure changes
//! (another file, another error), and once when it succeeds again;
//! nothing while it stays as it was (scrapes come every 15 s forever).
//!
//! A group that can say why it failed writes that into the render's
//! [`Fault`] (the file and a `Copy` error, into reused storage); the others
//! are named by what they read ([`reads`]). A collector that has no data
//! from its first scrape and no error to show (a VM without hwmon, a
//! kernel without conntrack: node_exporter's "no data") is an info line;
//! one that worked and stopped, or fails with an error, is a warning.
//!
//! Invariant: a scrape allocates nothing here in the steady state, failing
//! or not; formatting happens only on a change.

use std::fmt::{self, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use crate::proc::ParseError;

/// Why the group being rendered could not be served, as its source said.
#[derive(Default)]
pub struct Fault {
    /// The file, rewritten in place (allocates only for a longer path
    /// than ever before).
    file: String,
    what: Option<What>,
    /// With `What::Io(_, None)`: the error's text, at most [`TEXT_MAX`]
    /// bytes, rewritten in place like `file`.
    text: String,
}

/// How much of an io error's own text is kept: sysmon's are one short
/// sentence ("a directory, not a regular file: ...").
const TEXT_MAX: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    /// The error's kind and its errno, when it has one (its text is made
    /// only for the log line). Without errno (sysmon's own errors:
    /// `open_regular` refuses a directory and a character device with the
    /// same kind) the kind says too little: its text is kept in `text`.
    Io(io::ErrorKind, Option<i32>),
    Parse(ParseError),
    /// Refused for a reason of its own (a file of `textfile_dir`).
    Refused(&'static str),
}

impl Fault {
    /// `path` could not be read.
    pub fn io(&mut self, path: &Path, e: &io::Error) {
        self.set(path, What::Io(e.kind(), e.raw_os_error()));
        if e.raw_os_error().is_none() {
            // An errno's text is made (allocated) by std; one without
            // errno is written out as it is held, which allocates nothing
            // once `text` has grown to the longest.
            self.text.clear();
            let _ = write!(Bounded(&mut self.text), "{e}");
        }
    }

    /// `path` was read but not understood.
    pub fn parse(&mut self, path: &Path, e: ParseError) {
        self.set(path, What::Parse(e));
    }

    /// `path` was refused: `why`.
    pub fn refused(&mut self, path: &Path, why: &'static str) {
        self.set(path, What::Refused(why));
    }

    /// Whether a fault was set since the last [`Fault::clear`].
    pub fn is_set(&self) -> bool {
        self.what.is_some()
    }

    fn set(&mut self, path: &Path, what: What) {
        self.file.clear();
        self.file.push_str(&path.to_string_lossy());
        self.what = Some(what);
    }

    pub fn clear(&mut self) {
        self.what = None;
    }

    /// Whether it says only that the file is not there.
    fn is_absence(&self) -> bool {
        matches!(self.what, Some(What::Io(io::ErrorKind::NotFound, _)))
    }

    /// Whether `other` says the same failure, compared without formatting:
    /// the file and the error (an io error by kind and errno, one without
    /// errno by its text too; a parse error by what is wrong, not its
    /// line: a bad line that moves as lines come and go before it is the
    /// same failure, not one to log at every scrape).
    fn same_as(&self, other: &Fault) -> bool {
        match (self.what, other.what) {
            (None, None) => true,
            (Some(What::Parse(a)), Some(What::Parse(b))) => {
                a.what == b.what && self.file == other.file
            }
            (Some(What::Refused(a)), Some(What::Refused(b))) => a == b && self.file == other.file,
            (Some(a @ What::Io(_, errno)), Some(b)) => {
                a == b && self.file == other.file && (errno.is_some() || self.text == other.text)
            }
            _ => false,
        }
    }

    /// Becomes what `other` says, in place (allocates only for a longer
    /// file or text than ever before).
    fn copy_from(&mut self, other: &Fault) {
        self.what = other.what;
        self.file.clear();
        self.file.push_str(&other.file);
        self.text.clear();
        self.text.push_str(&other.text);
    }
}

/// Writes into a `String` up to [`TEXT_MAX`] bytes, cut at a character and
/// marked `...` when longer.
struct Bounded<'a>(&'a mut String);

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        let room = TEXT_MAX.saturating_sub(self.0.len());
        if piece.len() <= room {
            self.0.push_str(piece);
            return Ok(());
        }
        let mut end = room;
        while !piece.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(&piece[..end]);
        self.0.push_str("...");
        // Stops the writing: nothing more is taken.
        Err(fmt::Error)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.what {
            Some(What::Io(_, Some(errno))) => {
                write!(f, "{}: {}", self.file, io::Error::from_raw_os_error(errno))
            }
            Some(What::Io(kind, None)) if self.text.is_empty() => {
                write!(f, "{}: {kind}", self.file)
            }
            Some(What::Io(_, None)) => write!(f, "{}: {}", self.file, self.text),
            Some(What::Parse(e)) => write!(f, "{}: {e}", self.file),
            Some(What::Refused(why)) => write!(f, "{}: {why}", self.file),
            None => Ok(()),
        }
    }
}

/// Which root a collector's source is under.
#[derive(Clone, Copy)]
enum Root {
    Proc,
    Sys,
    /// Not a file (a system call, the mounts, a directory of the config).
    None,
}

/// What `collector` reads, for a failure its group could not explain.
fn reads(collector: &str) -> (Root, &'static str) {
    match collector {
        "uname" => (Root::None, "uname(2)"),
        "os" => (
            Root::None,
            "os-release under the root file system (--root-fs)",
        ),
        "cpu" | "stat" => (Root::Proc, "stat (the sampler's log line says why)"),
        // A failure to read it the sampler said too is left unexplained
        // here (`MemInfoFields::write`): this is then what is said.
        "meminfo" => (Root::Proc, "meminfo (the sampler's log line says why)"),
        "filesystem" => (Root::None, "the watched mounts"),
        "loadavg" => (Root::Proc, "loadavg (the sampler's log line says why)"),
        "time" => (Root::None, "the clock"),
        "vmstat" => (Root::Proc, "vmstat"),
        "netstat" => (Root::Proc, "net/netstat and net/snmp"),
        "sockstat" => (Root::Proc, "net/sockstat"),
        "filefd" => (Root::Proc, "sys/fs/file-nr"),
        "entropy" => (Root::Proc, "sys/kernel/random/{entropy_avail,poolsize}"),
        "softnet" => (Root::Proc, "net/softnet_stat"),
        "conntrack" => (
            Root::Proc,
            "sys/net/netfilter/nf_conntrack_{count,max} (no conntrack module loaded?)",
        ),
        "arp" => (Root::Proc, "net/arp"),
        "udp_queues" => (Root::Proc, "net/udp"),
        "timex" => (Root::None, "adjtimex(2)"),
        "netdev" => (Root::Proc, "net/dev (the sampler's log line says why)"),
        "netclass" => (Root::Sys, "class/net"),
        "diskstats" => (
            Root::Proc,
            "diskstats (the sampler's log line says why, or no whole disk)",
        ),
        "pressure" => (
            Root::Proc,
            "pressure/{cpu,memory,io} (the sampler's log line says why, or no PSI)",
        ),
        "hwmon" => (Root::Sys, "class/hwmon"),
        "thermal_zone" => (Root::Sys, "class/thermal"),
        "powersupplyclass" => (Root::Sys, "class/power_supply"),
        "cpufreq" => (Root::Sys, "devices/system/cpu/cpu*/cpufreq"),
        "textfile" => (Root::None, "textfile_dir (see node_textfile_scrape_error)"),
        _ => (Root::None, "its source"),
    }
}

/// `a == b`, the address first: each group passes the same literal at
/// every render, so the bytes (musl's `bcmp`, a byte loop: ~55
/// instructions a group, 1,400 a render) are compared only when the
/// group at a position changed.
fn same_name(a: &'static str, b: &'static str) -> bool {
    std::ptr::eq(a, b) || a == b
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Not scraped yet.
    Unknown,
    Succeeding,
    Failing,
}

/// The collectors' states, by their position in a render (the groups are
/// rendered in a fixed order), and the roots their files are under.
pub struct CollectorHealth {
    states: Vec<Collector>,
    proc_root: PathBuf,
    sys_root: PathBuf,
}

struct Collector {
    name: &'static str,
    state: State,
    /// While failing: the fault the log last named, to log a change.
    logged: Fault,
}

impl Collector {
    fn new(name: &'static str) -> Self {
        Collector {
            name,
            state: State::Unknown,
            logged: Fault::default(),
        }
    }
}

impl CollectorHealth {
    pub fn new(proc_root: &Path, sys_root: &Path) -> Self {
        CollectorHealth {
            // More than the groups: never grown.
            states: Vec::with_capacity(32),
            proc_root: proc_root.to_path_buf(),
            sys_root: sys_root.to_path_buf(),
        }
    }

    /// Records the outcome of the `at`-th group of a render, `collector`,
    /// and logs a change; `fault` is what the group said of a failure.
    pub fn note(&mut self, at: usize, collector: &'static str, success: bool, fault: &Fault) {
        match self.states.get(at) {
            Some(c) if same_name(c.name, collector) => {}
            Some(_) => self.states[at] = Collector::new(collector),
            None => self.states.push(Collector::new(collector)),
        }
        let Some(entry) = self.states.get_mut(at) else {
            return;
        };
        let was = entry.state;
        entry.state = if success {
            State::Succeeding
        } else {
            State::Failing
        };
        let why = Why {
            fault,
            collector,
            proc_root: &self.proc_root,
            sys_root: &self.sys_root,
        };
        match (was, success) {
            (State::Failing, true) => crate::log::info(format_args!(
                "collector {collector}: succeeding again (node_scrape_collector_success 1)"
            )),
            (State::Failing, false) if !entry.logged.same_as(fault) => {
                entry.logged.copy_from(fault);
                crate::log::warn(format_args!(
                    "collector {collector} still failing (node_scrape_collector_success 0), now: {why}"
                ));
            }
            (State::Unknown | State::Succeeding, false) => {
                entry.logged.copy_from(fault);
                let explained = fault.what.is_some() && !fault.is_absence();
                if explained || was == State::Succeeding {
                    crate::log::warn(format_args!(
                        "collector {collector} failing (node_scrape_collector_success 0): {why}"
                    ));
                } else {
                    crate::log::info(format_args!(
                        "collector {collector}: no data (node_scrape_collector_success 0): {why}"
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The fault a group gave, or what its collector reads.
struct Why<'a> {
    fault: &'a Fault,
    collector: &'a str,
    proc_root: &'a Path,
    sys_root: &'a Path,
}

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fault.what.is_some() {
            return self.fault.fmt(f);
        }
        let (root, what) = reads(self.collector);
        let root = match root {
            Root::Proc => self.proc_root,
            Root::Sys => self.sys_root,
            Root::None => return write!(f, "nothing served from {what}"),
        };
        write!(f, "nothing served from {}/{what}", root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The address is a shortcut, never the answer: the same text at
    /// another address is the same name, other text is not.
    #[test]
    fn names_compare_by_text_whatever_their_address() {
        let elsewhere: &'static str = String::from("netstat").leak();
        assert!(same_name("netstat", "netstat"));
        assert!(same_name("netstat", elsewhere));
        assert!(!same_name("netstat", "netstab"));
        assert!(!same_name("netstat", &elsewhere[..6]));
    }

    fn io_fault(path: &str, e: io::Error) -> Fault {
        let mut fault = Fault::default();
        fault.io(Path::new(path), &e);
        fault
    }

    /// An io error without errno is shown and compared by its text; one
    /// with errno by kind and errno; a parse error by what, not its line.
    #[test]
    fn a_fault_is_the_same_by_file_and_error_and_text_without_errno() {
        let own = |text: &'static str| io::Error::new(io::ErrorKind::InvalidInput, text);
        let dir = io_fault("/proc/vmstat", own("a directory"));
        assert_eq!(dir.to_string(), "/proc/vmstat: a directory");
        assert!(dir.same_as(&io_fault("/proc/vmstat", own("a directory"))));
        assert!(!dir.same_as(&io_fault("/proc/vmstat", own("a character device"))));
        assert!(!dir.same_as(&io_fault("/proc/stat", own("a directory"))));
        let errno = |e| io::Error::from_raw_os_error(e);
        let eacces = io_fault("/proc/vmstat", errno(libc::EACCES));
        assert!(eacces.same_as(&io_fault("/proc/vmstat", errno(libc::EACCES))));
        assert!(!eacces.same_as(&io_fault("/proc/vmstat", errno(libc::ENOENT))));
        assert!(!eacces.same_as(&dir));
        let parse = |line| {
            let mut fault = Fault::default();
            fault.parse(Path::new("/proc/vmstat"), ParseError::new(line, "bad"));
            fault
        };
        assert!(parse(3).same_as(&parse(4)));
        assert!(!parse(3).same_as(&dir));
        assert!(Fault::default().same_as(&Fault::default()));
        assert!(!Fault::default().same_as(&dir));
        let mut copy = Fault::default();
        copy.copy_from(&dir);
        assert!(copy.same_as(&dir));
    }

    /// A long text is kept to TEXT_MAX bytes, cut at a character.
    #[test]
    fn an_io_errors_text_is_bounded() {
        let long = "é".repeat(TEXT_MAX);
        let fault = io_fault("/f", io::Error::new(io::ErrorKind::InvalidData, long));
        assert!(fault.text.len() <= TEXT_MAX + 3, "{}", fault.text.len());
        assert!(fault.text.ends_with("é..."), "{}", fault.text);
    }
}
