//! Before a backup touches its folders: the ones on a mount whose server
//! may not answer (a NAS over NFS or CIFS, a FUSE file system) are asked
//! first, off the loop's thread.
//!
//! The backup runs in slices of the daemon's loop, and its first calls on
//! `backup_dir` (the leftover cleanup, `mkdir`, the free-space `statvfs`)
//! and on each source (the walk's first `open`) would wait as long as such
//! a server does: with a NAS switched off, for good. So when a backup is
//! due, each of those paths that lies on a mount that may hang
//! ([`crate::proc::mounts::may_hang`]) gets a [`MountProbe`], and the
//! backup starts only once every probe's `statvfs` has returned; until
//! then it stays due and the loop serves on. A server that stops answering
//! in the middle of a run still holds the slice it happens in: the gate
//! covers the start, where a server that is down is met.
//!
//! Invariant: [`MountGate::open`] never waits; a path on a local file
//! system costs nothing (no probe, no thread).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::proc::mounts;
use crate::sample::mount_probe::{MountProbe, NotAnswering};

/// The probes of the paths a due backup waits for.
pub struct MountGate {
    probes: Vec<MountProbe>,
    /// At the last look, a probe's call had hung past `STUCK_AFTER`.
    stuck: bool,
}

impl MountGate {
    /// Probes for those of `paths` on a mount that may hang, by the mount
    /// table under `proc_root`; `None` when there are none (or the table
    /// cannot be read: the backup then starts as before). Allocates.
    pub fn for_paths<'p>(
        proc_root: &Path,
        paths: impl IntoIterator<Item = &'p PathBuf>,
    ) -> Option<MountGate> {
        let table = std::fs::read(proc_root.join("self/mounts")).ok()?;
        let probes: Vec<MountProbe> = paths
            .into_iter()
            .filter(|path| on_a_mount_that_may_hang(&table, path))
            .filter_map(|path| {
                let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
                MountProbe::start(c_path, "the backup waits")
                    .map_err(|e| {
                        crate::log::warn(format_args!(
                            "backup: no thread to ask {} from ({e}); starting without",
                            path.display()
                        ));
                    })
                    .ok()
            })
            .collect();
        (!probes.is_empty()).then_some(MountGate {
            probes,
            stuck: false,
        })
    }

    /// Whether every probed path has answered and none is stuck: the backup
    /// may start. Asks again those not asked yet; never waits.
    pub fn open(&mut self, now: Instant) -> bool {
        let mut open = true;
        self.stuck = false;
        for probe in &mut self.probes {
            let probed = probe.take(now);
            open &= probed.answered && !probed.stuck;
            self.stuck |= probed.stuck;
        }
        open
    }

    /// Whether a probe was stuck at the last look ([`MountGate::open`]).
    pub fn stuck(&self) -> bool {
        self.stuck
    }

    /// The probed paths, for the log: `a, b`.
    pub fn paths(&self) -> String {
        self.paths_where(|_| true)
    }

    /// Why the backup waits, for /data.json: the paths stuck at the last
    /// look; `None` when none is. Allocates.
    pub fn waiting(&self) -> Option<String> {
        self.stuck.then(|| {
            format!(
                "{}: {NotAnswering}; the backup starts once it does",
                self.paths_where(MountProbe::stuck),
            )
        })
    }

    fn paths_where(&self, keep: impl Fn(&MountProbe) -> bool) -> String {
        let paths: Vec<String> = self
            .probes
            .iter()
            .filter(|probe| keep(probe))
            .map(|probe| {
                let path = Path::new(std::ffi::OsStr::from_bytes(probe.path().to_bytes()));
                crate::owned::text_of(&path.display())
            })
            .collect();
        paths.join(", ")
    }
}

/// Whether `path` lies on a mount that may hang, by the mount table under
/// `proc_root` (`false` when it cannot be read).
pub fn may_hang(proc_root: &Path, path: &Path) -> bool {
    std::fs::read(proc_root.join("self/mounts"))
        .is_ok_and(|table| on_a_mount_that_may_hang(&table, path))
}

fn on_a_mount_that_may_hang(table: &[u8], path: &Path) -> bool {
    mounts::holding_fs_type(table, path.as_os_str().as_bytes()).is_some_and(mounts::may_hang)
}
