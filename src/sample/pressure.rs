//! Pressure stall information, from /proc/pressure/{cpu,memory,io}.
//!
//! Invariant: a resource whose file is missing or unreadable is `None`
//! (kernel before 4.20, `CONFIG_PSI` off, or booted with `psi=0`), never an
//! error, and reading allocates nothing once warm.

use std::path::Path;

use super::procfile::ProcFile;
use crate::proc::pressure::{self, Pressure};

/// `None` for a resource whose /proc/pressure file is missing (kernel
/// before 4.20, `CONFIG_PSI` off, or booted with `psi=0`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PressureSample {
    pub cpu: Option<Pressure>,
    pub memory: Option<Pressure>,
    pub io: Option<Pressure>,
}

/// The three files, kept open.
pub struct PressureFiles([ProcFile; 3]);

impl PressureFiles {
    pub fn new(proc_root: &Path) -> PressureFiles {
        // Two lines of about 70 bytes each (it grows if longer). Optional:
        // a kernel without PSI (or with it off) is not asked at every
        // answer.
        let file = |rel: &str| ProcFile::with_capacity(proc_root.join(rel), 256).optional();
        PressureFiles([
            file("pressure/cpu"),
            file("pressure/memory"),
            file("pressure/io"),
        ])
    }

    pub fn sample(&mut self) -> PressureSample {
        let [cpu, memory, io] = &mut self.0;
        // A kernel with PSI compiled in but disabled fails these reads with
        // EOPNOTSUPP: that is "absent" too, not worth a log line.
        let read = |f: &mut ProcFile| f.read().ok().and_then(|b| pressure::parse(b).ok());
        PressureSample {
            cpu: read(cpu),
            memory: read(memory),
            io: read(io),
        }
    }
}
