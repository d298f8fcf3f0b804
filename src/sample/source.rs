//! What every source of the sampler shares: how a read fails ([`Failure`]),
//! how that failure is reported ([`Health`]), how lines written twice are
//! reported ([`Repeats`]), and when a source is absent rather than failing
//! ([`read_optional`]).
//!
//! Invariant: a source's failure is logged once, when it starts, and once
//! when it clears; in between nothing is logged and nothing is allocated, so
//! a source failing on every sample costs the sampler no allocation. The
//! same holds for repeated lines.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::procfile::ProcFile;
use crate::proc::ParseError;

/// How often directories are listed again (hot-plugged sensors, CPUs
/// brought online, a container moved to another cgroup).
pub const RESCAN_EVERY: Duration = Duration::from_secs(60);
/// After a sensor read failed, the next listing comes this soon.
pub const RESCAN_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Why a source could not be read this time.
pub enum Failure {
    Io(io::Error),
    Parse(ParseError),
    Other(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(e) => write!(f, "{e}"),
            Failure::Parse(e) => write!(f, "{e}"),
            Failure::Other(s) => f.write_str(s),
        }
    }
}

/// One source's state of failure: `Some("FILE: why")` while it fails.
#[derive(Default)]
pub struct Health {
    failing: Option<String>,
}

impl Health {
    /// Records the outcome of reading `path`, logging only a change.
    pub fn note(&mut self, path: &Path, result: Result<(), Failure>) {
        match result {
            // Allocates only on a transition, never in the steady state.
            Err(e) if self.failing.is_none() => {
                let why = format!("{}: {e}", path.display());
                crate::log::warn(format_args!("{why} (keeping the previous figures)"));
                self.failing = Some(why);
            }
            Ok(()) if self.failing.is_some() => {
                self.failing = None;
                crate::log::info(format_args!("{}: readable again", path.display()));
            }
            _ => {}
        }
    }

    /// `FILE: why` while the source fails.
    pub fn failure(&self) -> Option<&str> {
        self.failing.as_deref()
    }
}

/// Whether a table's reading had lines naming what an earlier line of the
/// same reading named (a CPU, a device, a counter): a real kernel never
/// writes them, but an overlay /proc (LXCFS in a container) or a broken
/// module can. The first line is kept and the later ones dropped, so that
/// each series is written once (Prometheus rejects a whole scrape that
/// has one twice) and the source keeps working; this says so in the log
/// once when they appear and once when they are gone, naming the file and
/// the first repeated name, rather than at every reading. Not a failure:
/// nothing is missing from what is served.
#[derive(Default)]
pub struct Repeats {
    logged: bool,
}

impl Repeats {
    /// Records one reading of `file`: `first` is its first repeated line
    /// (what it repeats, where), `None` when it had none.
    pub fn note(&mut self, file: &dyn fmt::Display, first: Option<impl fmt::Display>) {
        match (first, self.logged) {
            (Some(what), false) => {
                crate::log::warn(format_args!(
                    "{file}: {what}: the first is kept and repeats are dropped (said once; an overlay /proc such as LXCFS?)"
                ));
                self.logged = true;
            }
            (None, true) => {
                crate::log::info(format_args!("{file}: no repeated lines any more"));
                self.logged = false;
            }
            _ => {}
        }
    }
}

/// Reads `file`; `Ok(None)` when it does not exist (the source is absent).
pub fn read_optional(file: &mut ProcFile) -> Result<Option<&[u8]>, Failure> {
    match file.read() {
        Ok(buf) => Ok(Some(buf)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Io(e)),
    }
}

/// Bytes from /proc or /sys as text (names, paths), invalid UTF-8 replaced.
pub fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}
