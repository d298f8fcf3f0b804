//! The last backup's result as recorded in `state_dir/backup_last.json`,
//! so the dashboard shows it after a restart. The record is also, field for
//! field, the `backup.last` object of /data.json ([`crate::report`] embeds
//! it as it is): one schema for both, so they cannot drift apart. Records
//! written by older versions still load (fields they lack are null).
//!
//! One writer for both places a run ends: the daemon after each of its
//! runs and `sysmon backup` after its one ([`write`]); the daemon reads the
//! record at start and again when it changes (see [`super::BackupService`]).

use std::io;
use std::path::Path;

use miniserde::{Deserialize, Serialize};

use super::job::Outcome;
use crate::fsutil;

/// The record's file name in `state_dir`.
pub const FILE: &str = "backup_last.json";

/// Writes `result` to `state_dir/backup_last.json` atomically (a reader
/// sees the old record or the new one, never part of one), mode 0600, the
/// directory made 0700 if missing: what the daemon does after a run, failed
/// or not, and `sysmon backup` after its one.
pub fn write(state_dir: &Path, result: &LastBackup) -> io::Result<()> {
    fsutil::ensure_dir(state_dir, 0o700)?;
    fsutil::write_atomic(
        &state_dir.join(FILE),
        miniserde::json::to_string(result).as_bytes(),
        0o600,
    )
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct LastBackup {
    pub file: Option<String>,
    pub time: u64,
    pub bytes: u64,
    pub files: u64,
    pub skipped: u64,
    /// Of `skipped`, those sysmon was not allowed to read (null in results
    /// recorded by versions before it was counted).
    pub skipped_permission: Option<u64>,
    pub duration_s: f64,
    pub error: Option<String>,
    /// The first skipped (or changed-while-read) paths, capped at 100.
    pub skipped_list: Vec<SkippedFile>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// The figures of a [`LastBackup`]: `Copy`, for the typed snapshot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LastFigures {
    /// Unix time the run started.
    pub time: u64,
    /// Size of the archive written.
    pub bytes: u64,
    pub files: u64,
    pub skipped: u64,
    /// `None` in records from versions before it was counted.
    pub skipped_permission: Option<u64>,
    pub duration_s: f64,
    /// The run wrote its archive (`error` is null).
    pub ok: bool,
}

impl LastBackup {
    pub fn from_outcome(o: &Outcome) -> LastBackup {
        LastBackup {
            file: o.file.as_ref().map(|f| f.display().to_string()),
            time: o.started_unix_s,
            bytes: o.archive_bytes,
            files: o.files,
            skipped: o.skipped,
            skipped_permission: Some(o.skipped_permission),
            duration_s: (o.duration.as_secs_f64() * 1000.0).round() / 1000.0,
            error: o.error.clone(),
            skipped_list: o
                .skipped_list
                .iter()
                .map(|s| SkippedFile {
                    path: s.path.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
        }
    }

    pub fn figures(&self) -> LastFigures {
        LastFigures {
            time: self.time,
            bytes: self.bytes,
            files: self.files,
            skipped: self.skipped,
            skipped_permission: self.skipped_permission,
            duration_s: self.duration_s,
            ok: self.error.is_none(),
        }
    }
}
