//! Pressure stall information, from /proc/pressure/{cpu,memory,io}.
//!
//! Invariant: a resource whose file is missing or refused is `None`
//! (kernel before 4.20, `CONFIG_PSI` off, or booted with `psi=0`), never an
//! error. A file that is there but not understood (or with a share of
//! time outside 0..=100 %) is a failure of the source like any other
//! ([`PressureFiles::failure`]): its last good figures stay, the log says
//! it once, /data.json's `source_errors` names it and /metrics leaves the
//! `pressure` group out (success 0). Reading allocates nothing once warm.

use std::path::Path;

use super::procfile::ProcFile;
use super::source::{Failure, Health};
use crate::proc::pressure::{self, Pressure, PressureLine};

/// `None` for a resource whose /proc/pressure file is missing (kernel
/// before 4.20, `CONFIG_PSI` off, or booted with `psi=0`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PressureSample {
    pub cpu: Option<Pressure>,
    pub memory: Option<Pressure>,
    pub io: Option<Pressure>,
}

/// The three files, kept open.
pub struct PressureFiles {
    files: [ProcFile; 3],
    health: Health,
    /// The file that failed last (named when the source recovers).
    failed_file: usize,
    /// Each file's last good figures (`None`: absent).
    figures: [Option<Pressure>; 3],
}

impl PressureFiles {
    pub fn new(proc_root: &Path) -> PressureFiles {
        // Two lines of about 70 bytes each (it grows if longer). Optional:
        // a kernel without PSI (or with it off) is not asked at every
        // answer.
        let file = |rel: &str| ProcFile::with_capacity(proc_root.join(rel), 256).optional();
        PressureFiles {
            files: [
                file("pressure/cpu"),
                file("pressure/memory"),
                file("pressure/io"),
            ],
            health: Health::default(),
            failed_file: 0,
            figures: [None; 3],
        }
    }

    pub fn sample(&mut self) -> PressureSample {
        let mut failed = None;
        let files = self.files.iter_mut().zip(&mut self.figures);
        for (i, (file, figures)) in files.enumerate() {
            match read_present(file) {
                Ok(pressure) => *figures = pressure,
                // The last good figures stay, as for the other sources.
                Err(failure) => {
                    failed.get_or_insert((i, failure));
                }
            }
        }
        match failed {
            Some((i, failure)) => {
                self.failed_file = i;
                self.health.note(self.files[i].path(), Err(failure));
            }
            None => self
                .health
                .note(self.files[self.failed_file].path(), Ok(())),
        }
        let [cpu, memory, io] = self.figures;
        PressureSample { cpu, memory, io }
    }

    /// `FILE: why` while a pressure file is there but cannot be read or
    /// parsed.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }
}

/// `f`'s figures; `Ok(None)` when the kernel has none to give: the file
/// cannot be read (missing: no PSI; EOPNOTSUPP: compiled in but off, as
/// before, any read error is taken for that). Present but not understood,
/// or with a share of time outside 0..=100 %, is a failure.
fn read_present(f: &mut ProcFile) -> Result<Option<Pressure>, Failure> {
    let Ok(buf) = f.read() else {
        return Ok(None);
    };
    let pressure = pressure::parse(buf).map_err(Failure::Parse)?;
    let share = |share: f64| (0.0..=100.0).contains(&share);
    let in_range = |l: &PressureLine| [l.avg10, l.avg60, l.avg300].into_iter().all(share);
    if !in_range(&pressure.some) {
        return Err(Failure::Other("a `some` average outside 0..=100 %"));
    }
    if pressure.full.is_some_and(|l| !in_range(&l)) {
        return Err(Failure::Other("a `full` average outside 0..=100 %"));
    }
    Ok(Some(pressure))
}
