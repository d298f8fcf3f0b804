//! What the host says of itself in one line each: load averages
//! (/proc/loadavg), uptime (/proc/uptime) and the host name
//! (/proc/sys/kernel/hostname).
//!
//! Invariant: each is re-read in place, allocation-free once warm (the host
//! name's `String` is rewritten only when the name changes); on failure the
//! previous figure stays.

use std::path::Path;

use super::procfile::ProcFile;
use super::source::{Failure, Health};
use crate::proc::{self, loadavg::LoadAvg};

/// One kept-open file with one figure in it, its health, and how the
/// figure is parsed and stored into a `T` of the sample.
pub struct OneLine<T: ?Sized> {
    file: ProcFile,
    health: Health,
    store: fn(&[u8], &mut T) -> Result<(), Failure>,
}

/// /proc/loadavg.
pub fn load(proc_root: &Path) -> OneLine<LoadAvg> {
    OneLine::new(proc_root, "loadavg", |buf, out| {
        *out = proc::loadavg::parse(buf).map_err(Failure::Parse)?;
        Ok(())
    })
}

/// /proc/uptime, in seconds.
pub fn uptime(proc_root: &Path) -> OneLine<f64> {
    OneLine::new(proc_root, "uptime", |buf, out| {
        *out = proc::uptime::parse(buf).map_err(Failure::Parse)?;
        Ok(())
    })
}

/// /proc/sys/kernel/hostname; the `String` is rewritten only when the
/// name changed.
pub fn hostname(proc_root: &Path) -> OneLine<String> {
    OneLine::new(proc_root, "sys/kernel/hostname", |buf, out| {
        let name = std::str::from_utf8(buf.trim_ascii())
            .map_err(|_| Failure::Other("host name is not UTF-8"))?;
        if out != name {
            out.clear();
            out.push_str(name);
        }
        Ok(())
    })
}

impl<T: ?Sized> OneLine<T> {
    fn new(
        proc_root: &Path,
        rel: &str,
        store: fn(&[u8], &mut T) -> Result<(), Failure>,
    ) -> OneLine<T> {
        OneLine {
            // One line (load averages, uptime, a name): it grows if not.
            file: ProcFile::with_capacity(proc_root.join(rel), 256),
            health: Health::default(),
            store,
        }
    }

    /// Refreshes `out`; on failure it keeps its previous figure.
    pub fn sample(&mut self, out: &mut T) {
        let store = self.store;
        let r = self
            .file
            .read()
            .map_err(Failure::Io)
            .and_then(|buf| store(buf, out));
        self.health.note(self.file.path(), r);
    }

    /// `FILE: why` while the file cannot be read.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }
}
