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
    .map(drop)
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
    /// Seconds, to the millisecond. Null when a record read back held one
    /// no run can have taken ([`LastBackup::with_sane_durations`]).
    pub duration_s: Option<f64>,
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
    /// What the run at `last_success_at` wrote: this run's own figures when
    /// it is that run, else those the record before it carried, so /metrics'
    /// `sysmon_backup_last_size_bytes` and its siblings keep the last
    /// success after a failed run and a restart. Null when none is known,
    /// and when that success was recorded by a version before they were
    /// kept (its time may still be known).
    pub last_success: Option<SuccessFigures>,
}

/// The figures of a successful run, carried in a later record.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SuccessFigures {
    pub file: Option<String>,
    pub bytes: u64,
    pub files: u64,
    pub skipped: u64,
    pub skipped_permission: Option<u64>,
    /// As [`LastBackup::duration_s`].
    pub duration_s: Option<f64>,
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
    /// `None` when the record's could not be a run's.
    pub duration_s: Option<f64>,
    /// The run wrote its archive (`error` is null).
    pub ok: bool,
}

impl LastBackup {
    pub fn from_outcome(o: &Outcome) -> LastBackup {
        LastBackup {
            file: o.file.as_ref().map(|f| crate::owned::text_of(&f.display())),
            time: o.started_unix_s,
            bytes: o.archive_bytes,
            files: o.files,
            skipped: o.skipped,
            skipped_permission: Some(o.skipped_permission),
            duration_s: Some(to_millis(o.duration.as_secs_f64())),
            error: o.error.clone(),
            skipped_list: o
                .skipped_list
                .iter()
                .map(|s| SkippedFile {
                    path: s.path.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
            last_success_at: None,
            last_success: None,
        }
        .carrying_success_of(None)
    }

    /// This record, knowing the newest success `before` (the record it
    /// replaces) knew, with its figures, when that is newer than its own.
    /// The time and the figures are taken from the same record, so they
    /// are of the same run.
    pub fn carrying_success_of(mut self, before: Option<&LastBackup>) -> LastBackup {
        let newest = match before {
            Some(before) if before.newest_success() > self.newest_success() => before,
            _ => &self,
        };
        let (at, figures) = (newest.newest_success(), newest.newest_success_figures());
        self.last_success_at = at;
        self.last_success = figures;
        self
    }

    /// This record with every time later than `limit` taken as `limit`,
    /// and whether there was one. No run read back can have started later
    /// than now: such a time was written while the clock was ahead, or by
    /// hand, and kept as it is it would outrank every later success, be
    /// carried by every later record, and keep `alert_backup_age` quiet
    /// for ever.
    pub fn with_times_not_after(mut self, limit: u64) -> (LastBackup, bool) {
        let later = self.time > limit || self.last_success_at > Some(limit);
        self.time = self.time.min(limit);
        self.last_success_at = self.last_success_at.map(|t| t.min(limit));
        (self, later)
    }

    /// This record with every duration no run can have taken left out
    /// (negative, not a number, or longer than from 1970 to `limit`, now),
    /// the others to the millisecond as written, and whether there was one.
    /// Only a record edited by hand or corrupted has one (a run's own is
    /// measured on the monotonic clock), and shown as it is it printed as
    /// some 300 digits in /metrics.
    pub fn with_sane_durations(mut self, limit: u64) -> (LastBackup, bool) {
        let own = self.duration_s;
        let success = self.last_success.as_ref().and_then(|s| s.duration_s);
        let sane = |d: Option<f64>| {
            d.map(to_millis)
                .filter(|d| (0.0..=limit as f64).contains(d))
        };
        self.duration_s = sane(own);
        if let Some(s) = &mut self.last_success {
            s.duration_s = sane(success);
        }
        let insane = self.duration_s.is_none() && own.is_some()
            || self
                .last_success
                .as_ref()
                .and_then(|s| s.duration_s)
                .is_none()
                && success.is_some();
        (self, insane)
    }

    /// What the newest success this record knows wrote: its own run, if it
    /// succeeded, or the figures it carries.
    fn newest_success_figures(&self) -> Option<SuccessFigures> {
        if !self.own_run_is_newest_success() {
            return self.last_success.clone();
        }
        Some(SuccessFigures {
            file: self.file.clone(),
            bytes: self.bytes,
            files: self.files,
            skipped: self.skipped,
            skipped_permission: self.skipped_permission,
            duration_s: self.duration_s,
        })
    }

    /// This record's run succeeded, and none it knows of started later
    /// (one can, when the record was taken up from `sysmon backup`).
    fn own_run_is_newest_success(&self) -> bool {
        self.error.is_none() && Some(self.time) >= self.last_success_at
    }

    /// Unix time the newest successful run this record knows started: its
    /// own run's, if it succeeded, or the one it carries (see
    /// `last_success_at`; a record of an older version has none to carry).
    pub fn newest_success(&self) -> Option<u64> {
        let own = self.error.is_none().then_some(self.time);
        own.max(self.last_success_at)
    }

    /// The figures of the newest success this record knows (see
    /// `last_success`), `None` when it knows none or not its figures.
    pub fn success_figures(&self) -> Option<LastFigures> {
        let time = self.newest_success()?;
        let own = self.own_run_is_newest_success().then(|| self.figures());
        own.or_else(|| {
            let s = self.last_success.as_ref()?;
            Some(LastFigures {
                time,
                bytes: s.bytes,
                files: s.files,
                skipped: s.skipped,
                skipped_permission: s.skipped_permission,
                duration_s: s.duration_s,
                ok: true,
            })
        })
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

/// `seconds` rounded to the millisecond, as records keep them.
fn to_millis(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
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

    /// A failed run's record from the version that kept `last_success_at`
    /// but not `last_success` still reads: the success's time is known,
    /// its figures are not (none are made up), and a later failure carries
    /// the time on.
    #[test]
    fn records_without_the_last_success_figures_still_read() {
        let failed = r#"{"file":null,"time":2000,"bytes":0,"files":0,"skipped":0,"skipped_permission":0,"duration_s":0.1,"error":"source /x: gone","skipped_list":[],"last_success_at":1000}"#;
        let record = miniserde::json::from_str::<LastBackup>(failed).unwrap();
        assert_eq!(
            (record.newest_success(), record.success_figures()),
            (Some(1000), None)
        );
        let next = LastBackup {
            time: 3000,
            error: Some("again".into()),
            ..Default::default()
        }
        .carrying_success_of(Some(&record));
        assert_eq!(
            (next.last_success_at, next.last_success),
            (Some(1000), None)
        );
    }

    /// A duration no run can have taken (edited by hand, a corrupt file)
    /// is left out, the record's own and its success's alike; a sane one
    /// stays, to the millisecond as written (so 1e-300, which `{}` would
    /// print as 300 digits, reads as 0).
    #[test]
    fn durations_no_run_can_take_are_left_out() {
        let with = |own, success| LastBackup {
            duration_s: own,
            last_success: Some(SuccessFigures {
                duration_s: success,
                ..Default::default()
            }),
            ..Default::default()
        };
        let read = |own, success| {
            let (r, insane) = with(own, success).with_sane_durations(2_000_000_000);
            (
                r.duration_s,
                r.last_success.and_then(|s| s.duration_s),
                insane,
            )
        };
        assert_eq!(read(Some(1.5), None), (Some(1.5), None, false));
        assert_eq!(read(Some(1e-300), Some(0.0)), (Some(0.0), Some(0.0), false));
        assert_eq!(read(Some(-1e300), Some(2.25)), (None, Some(2.25), true));
        assert_eq!(read(Some(0.4), Some(-0.5)), (Some(0.4), None, true));
        assert_eq!(read(Some(3e9), Some(f64::NAN)), (None, None, true));
    }

    /// A record carries the newest success on: its own when it succeeded,
    /// else the one the record before it knew; written and read back whole.
    #[test]
    fn a_failed_run_carries_the_last_success_on() {
        let ok = LastBackup {
            time: 1000,
            ..Default::default()
        };
        let ok = LastBackup {
            file: Some("/b/backup_1000.zip".into()),
            bytes: 4096,
            files: 3,
            skipped: 2,
            skipped_permission: Some(1),
            duration_s: Some(1.5),
            ..ok
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
        // With its figures: what /metrics shows as the last success's.
        let figures = LastFigures {
            ok: true,
            ..ok.figures()
        };
        assert_eq!(after_two.success_figures(), Some(figures));
        assert_eq!(after_two.figures().bytes, 0, "the failed run's own");
        let text = miniserde::json::to_string(&after_two);
        assert!(text.contains(r#""last_success_at":1000"#), "{text}");
        let success = r#""last_success":{"file":"/b/backup_1000.zip","bytes":4096,"files":3,"skipped":2,"skipped_permission":1,"duration_s":1.5}"#;
        assert!(text.contains(success), "{text}");
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
        assert_eq!(ok_again.last_success.map(|s| s.bytes), Some(0), "its own");
    }
}
