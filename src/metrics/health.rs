//! Each collector's success at the last scrape, and the log lines that say
//! when it changes: once when a collector starts failing (its
//! `node_scrape_collector_success` turns 0, its panel goes blank), naming
//! the collector, the file and the error, and once when it succeeds again;
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

use std::fmt;
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
}

#[derive(Clone, Copy)]
enum What {
    /// The error's kind and its errno, when it has one (its text is made
    /// only for the log line).
    Io(io::ErrorKind, Option<i32>),
    Parse(ParseError),
}

impl Fault {
    /// `path` could not be read.
    pub fn io(&mut self, path: &Path, e: &io::Error) {
        self.set(path, What::Io(e.kind(), e.raw_os_error()));
    }

    /// `path` was read but not understood.
    pub fn parse(&mut self, path: &Path, e: ParseError) {
        self.set(path, What::Parse(e));
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
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.what {
            Some(What::Io(_, Some(errno))) => {
                write!(f, "{}: {}", self.file, io::Error::from_raw_os_error(errno))
            }
            Some(What::Io(kind, None)) => write!(f, "{}: {kind}", self.file),
            Some(What::Parse(e)) => write!(f, "{}: {e}", self.file),
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
        "meminfo" => (Root::Proc, "meminfo"),
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
    states: Vec<(&'static str, State)>,
    proc_root: PathBuf,
    sys_root: PathBuf,
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
            Some((name, _)) if *name == collector => {}
            Some(_) => self.states[at] = (collector, State::Unknown),
            None => self.states.push((collector, State::Unknown)),
        }
        let Some(state) = self.states.get_mut(at).map(|(_, s)| s) else {
            return;
        };
        let was = *state;
        *state = if success {
            State::Succeeding
        } else {
            State::Failing
        };
        match (was, success) {
            (State::Failing, true) => crate::log::info(format_args!(
                "collector {collector}: succeeding again (node_scrape_collector_success 1)"
            )),
            (State::Unknown | State::Succeeding, false) => {
                let why = Why {
                    fault,
                    collector,
                    health: self,
                };
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
    health: &'a CollectorHealth,
}

impl fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fault.what.is_some() {
            return self.fault.fmt(f);
        }
        let (root, what) = reads(self.collector);
        let root = match root {
            Root::Proc => &self.health.proc_root,
            Root::Sys => &self.health.sys_root,
            Root::None => return write!(f, "nothing served from {what}"),
        };
        write!(f, "nothing served from {}/{what}", root.display())
    }
}
