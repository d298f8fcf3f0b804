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
    /// Unix time the newest successful run known when this one was
    /// recorded started: `time` when this run succeeded, else the one the
    /// record before it knew ([`LastBackup::carrying_success_of`]), so a
    /// failed run and a restart after it keep the last success (/metrics'
    /// `sysmon_backup_last_success_timestamp_seconds`, `alert_backup_age`).
    /// Null when none is known, and in records from versions before it was
    /// kept ([`LastBackup::newest_success`] reads those).
    pub last_success_at: Option<u64>,
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
            last_success_at: o.error.is_none().then_some(o.started_unix_s),
        }
    }

    /// This record, knowing the newest success `before` (the record it
    /// replaces) knew, when that is newer than its own.
    pub fn carrying_success_of(mut self, before: Option<&LastBackup>) -> LastBackup {
        self.last_success_at = self
            .newest_success()
            .max(before.and_then(LastBackup::newest_success));
        self
    }

    /// Unix time the newest successful run this record knows started: its
    /// own run's, if it succeeded, or the one it carries (see
    /// `last_success_at`; a record of an older version has none to carry).
    pub fn newest_success(&self) -> Option<u64> {
        let own = self.error.is_none().then_some(self.time);
        own.max(self.last_success_at)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A record from a version before `last_success_at` was kept still
    /// reads: the field is null, and the newest success it knows is its own
    /// run's when that succeeded, none when it failed.
    #[test]
    fn records_without_the_last_success_still_read() {
        let ok = r#"{"file":"/b/backup_20261201_030000.zip","time":1000,"bytes":4096,"files":3,"skipped":0,"skipped_permission":0,"duration_s":1.5,"error":null,"skipped_list":[]}"#;
        let record = miniserde::json::from_str::<LastBackup>(ok).unwrap();
        assert_eq!((record.time, record.last_success_at), (1000, None));
        assert_eq!(record.newest_success(), Some(1000));

        // Older still: no skipped_permission either.
        let failed = r#"{"file":null,"time":2000,"bytes":0,"files":0,"skipped":0,"duration_s":0.1,"error":"source /x: gone","skipped_list":[]}"#;
        let record = miniserde::json::from_str::<LastBackup>(failed).unwrap();
        assert_eq!(record.newest_success(), None);
    }

    /// A record carries the newest success on: its own when it succeeded,
    /// else the one the record before it knew; written and read back whole.
    #[test]
    fn a_failed_run_carries_the_last_success_on() {
        let ok = LastBackup {
            time: 1000,
            ..Default::default()
        };
        let failed = |time| LastBackup {
            time,
            error: Some("source /x: gone".into()),
            ..Default::default()
        };
        let after_ok = failed(2000).carrying_success_of(Some(&ok));
        assert_eq!(after_ok.last_success_at, Some(1000));
        let after_two = failed(3000).carrying_success_of(Some(&after_ok));
        assert_eq!(after_two.newest_success(), Some(1000));
        let text = miniserde::json::to_string(&after_two);
        assert!(text.contains(r#""last_success_at":1000"#), "{text}");
        let back = miniserde::json::from_str::<LastBackup>(&text).unwrap();
        assert_eq!(back, after_two);

        let first = failed(500).carrying_success_of(None);
        assert_eq!(first.last_success_at, None);
        let ok_again = LastBackup {
            time: 4000,
            ..Default::default()
        }
        .carrying_success_of(Some(&after_two));
        assert_eq!(ok_again.last_success_at, Some(4000));
    }
}
