//! The permanent record of each audit: `log_dir/updates_YYYYmmdd_HHMMSS.log`.
//!
//! Invariants: a log is written atomically (complete or absent), mode 0640,
//! in a directory created 0750; an existing log is never overwritten (a
//! second audit in the same second gets `_2`, `_3`, ...); retention deletes
//! only files whose whole name matches that pattern, oldest first, keeping
//! the newest `log_keep`, and never the log just written: one dated after
//! it (the clock was ahead when it was written) counts as the oldest, as
//! for backup archives (`backup::retention`).
//!
//! Format: `key: value` header lines (`security: unavailable: why` when
//! the manager could not say which updates are security fixes), a blank
//! line, one line per package (`name current -> new [security]`), then
//! `== section (N) ==` blocks for notes, unparsed lines and stderr, and a
//! last `summary:` line. Whatever it quotes of a child's output is escaped
//! ([`quote`]): one line in the file per line the child printed, with no
//! control characters.

use crate::owned::owned;
use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};

use super::child::StepRun;
use super::host::Reboot;
use super::model::Parsed;
use super::quote;
use crate::float_text::Fixed;
use crate::fsutil;

/// Bytes of each step's stderr copied into the log.
pub const STDERR_IN_LOG: usize = 64 * 1024;

pub struct Record<'a> {
    pub host: &'a str,
    pub unix_s: u64,
    pub manager: &'a str,
    pub runs: &'a [StepRun],
    pub attempt: u32,
    pub lists_age_s: Option<u64>,
    pub reboot: &'a Reboot,
    pub stale: Option<&'a str>,
    /// The packages, or the error.
    pub result: Result<&'a Parsed, &'a str>,
}

pub fn render(r: &Record<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# sysmon update audit");
    let _ = writeln!(out, "host: {}", r.host);
    let _ = writeln!(
        out,
        "time: {} (unix {})",
        crate::sys::local_timestamp(r.unix_s as i64),
        r.unix_s
    );
    let _ = writeln!(out, "manager: {}", r.manager);
    let _ = writeln!(out, "attempt: {}", r.attempt);
    for run in r.runs {
        let _ = writeln!(out, "command: {}", run.step.display());
        let _ = writeln!(out, "  exit: {}", run.exit.describe());
        let _ = writeln!(
            out,
            "  duration: {} s",
            Fixed(run.duration.as_secs_f64(), 3)
        );
    }
    let age = r.lists_age_s.map_or(owned("unknown"), |s| format!("{s} s"));
    let _ = writeln!(out, "lists age: {age}");
    let reboot = match r.reboot.required {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let _ = writeln!(out, "reboot required: {reboot}");
    if let Some(kernel) = &r.reboot.kernel {
        let _ = writeln!(out, "  reboot: {kernel}");
    }
    for why in &r.reboot.why {
        let _ = writeln!(out, "  reboot requested by: {why}");
    }
    if r.reboot.why_more > 0 {
        let _ = writeln!(
            out,
            "  reboot requested by: ... and {} more packages",
            r.reboot.why_more
        );
    }
    if let Some(stale) = r.stale {
        let _ = writeln!(out, "stale: {}", one_line(stale));
    }
    if let Ok(Parsed {
        security_unavailable: Some(why),
        ..
    }) = r.result
    {
        let _ = writeln!(out, "security: unavailable: {}", one_line(why));
    }
    out.push('\n');
    let summary = match r.result {
        Ok(parsed) => {
            for p in &parsed.packages {
                let _ = writeln!(out, "{}", p.line());
            }
            if parsed.packages_dropped > 0 {
                let _ = writeln!(
                    out,
                    "... and {} more packages, not kept",
                    parsed.packages_dropped
                );
            }
            section(&mut out, "notes", &parsed.notes, parsed.notes_count());
            section(
                &mut out,
                "unparsed lines",
                &parsed.unparsed,
                parsed.unparsed_count(),
            );
            format!(
                "summary: {} updates pending ({}), {} notes, {} unparsed lines{}",
                parsed.count(),
                parsed.security_summary(),
                parsed.notes_count(),
                parsed.unparsed_count(),
                if r.stale.is_some() { ", stale" } else { "" }
            )
        }
        Err(error) => {
            let _ = writeln!(out, "error: {}", one_line(error));
            format!("summary: audit failed: {}", one_line(error))
        }
    };
    for run in r.runs.iter().filter(|run| !run.stderr.is_empty()) {
        let shown = &run.stderr[..run.stderr.len().min(STDERR_IN_LOG)];
        // Escaped: a child's stderr must not write to the reader's terminal.
        let lines: Vec<String> = super::model::lines(shown)
            .map(|line| quote::escaped(&line, usize::MAX))
            .collect();
        section(
            &mut out,
            &format!("stderr of {}", run.step.display()),
            &lines,
            lines.len() as u64,
        );
        let cut = (run.stderr.len() - shown.len()) as u64 + run.stderr_dropped;
        if cut > 0 {
            let _ = writeln!(out, "[{cut} more bytes of stderr not shown]");
        }
    }
    for run in r.runs.iter().filter(|run| run.stdout_dropped > 0) {
        let _ = writeln!(
            out,
            "[stdout of {} truncated: {} bytes dropped]",
            run.step.display(),
            run.stdout_dropped
        );
    }
    let _ = writeln!(out, "{summary}");
    out
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " / ")
}

/// `total` counts the lines not kept too (see `model`): said, not hidden.
fn section(out: &mut String, title: &str, lines: &[String], total: u64) {
    if total == 0 {
        return;
    }
    let _ = writeln!(out, "\n== {title} ({total}) ==");
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    if total > lines.len() as u64 {
        let _ = writeln!(out, "... and {} more, not kept", total - lines.len() as u64);
    }
}

/// Writes `text` as a new log named for `stamp` (`YYYYmmdd_HHMMSS`) and
/// prunes to `keep`. Returns the path written.
pub fn write(dir: &Path, stamp: &str, text: &str, keep: u32) -> io::Result<PathBuf> {
    fsutil::ensure_dir(dir, 0o750)?;
    // Written whole under a temporary name, then linked to the first free
    // name: a concurrent `sysmon audit` in the same second takes `_2`
    // rather than replacing this one (a check, then a rename, raced).
    let temp = fsutil::temp_path_for(&dir.join(log_name(stamp, 1)));
    let name = |n| log_name(stamp, n);
    let committed = fsutil::write_temp(&temp, text.as_bytes(), 0o640)
        .and_then(|_| fsutil::commit_unique(&temp, dir, &name, "logs named updates_STAMP_N.log"));
    let path = match committed {
        Ok(path) => path,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(fsutil::with_path(dir, e));
        }
    };
    prune(dir, keep, stamp)?;
    Ok(path)
}

/// The `n`th name for a log of `stamp`: `updates_STAMP.log`, then
/// `updates_STAMP_2.log`, ...
fn log_name(stamp: &str, n: u32) -> String {
    if n <= 1 {
        format!("updates_{stamp}.log")
    } else {
        format!("updates_{stamp}_{n}.log")
    }
}

/// `updates_YYYYmmdd_HHMMSS.log` or `updates_YYYYmmdd_HHMMSS_N.log`: the
/// sort key (stamp, N), or `None` for any other name.
pub fn own_log_key(name: &str) -> Option<(String, u64)> {
    let rest = name.strip_prefix("updates_")?.strip_suffix(".log")?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (stamp, n) = match rest.get(15..) {
        Some("") => (rest, 1),
        Some(suffix) => {
            let n = suffix.strip_prefix('_')?;
            if n.is_empty() || n.len() > 9 || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&rest[..15], n.parse().ok()?)
        }
        None => return None,
    };
    let (date, time) = stamp.split_once('_')?;
    (digits(date, 8) && digits(time, 6)).then(|| (owned(stamp), n))
}

/// Deletes the oldest of sysmon's own logs beyond the newest `keep`, the
/// ones dated after `newest_stamp` (the log just written) first, so that
/// one is always among the kept.
pub fn prune(dir: &Path, keep: u32, newest_stamp: &str) -> io::Result<usize> {
    // (not dated after the newest, stamp, N): `false` sorts first.
    let mut logs: Vec<((bool, String, u64), PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| fsutil::with_path(dir, e))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let (stamp, n) = own_log_key(e.file_name().to_str()?)?;
            Some(((stamp.as_str() <= newest_stamp, stamp, n), e.path()))
        })
        .collect();
    crate::sort::sort(&mut logs);
    let excess = logs.len().saturating_sub(keep as usize);
    for (_, path) in &logs[..excess] {
        std::fs::remove_file(path).map_err(|e| fsutil::with_path(path, e))?;
    }
    if excess > 0 {
        fsutil::fsync_dir(dir)?;
    }
    Ok(excess)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs written while the clock was a year ahead (a box booted
    /// without an RTC, set by hand, then corrected by NTP) sorted as the
    /// newest: with `log_keep` of them, each audit after the correction
    /// deleted the log it had just written, and no real log was ever kept
    /// again. The one just written always stays, and those dated after it
    /// go first.
    #[test]
    fn logs_dated_in_the_future_never_push_out_the_one_just_written() {
        let dir = std::env::temp_dir().join(format!("sysmon-logkeep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for stamp in ["20271201_000000", "20271202_000000"] {
            std::fs::write(dir.join(format!("updates_{stamp}.log")), "ahead\n").unwrap();
        }
        std::fs::write(dir.join("updates_20261101_000000.log"), "real\n").unwrap();
        let written = write(&dir, "20261204_120000", "now\n", 2).unwrap();
        assert!(written.exists(), "the log just written was deleted");
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["updates_20261101_000000.log", "updates_20261204_120000.log"],
            "the future-dated ones went first"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn own_names_only() {
        assert_eq!(
            own_log_key("updates_20240102_030405.log"),
            Some(("20240102_030405".into(), 1))
        );
        assert_eq!(
            own_log_key("updates_20240102_030405_12.log"),
            Some(("20240102_030405".into(), 12))
        );
        for other in [
            "updates_20240102_030405.log.bak",
            "updates_2024010_030405.log",
            "updates_20240102-030405.log",
            "updates_20240102_030405_.log",
            "xupdates_20240102_030405.log",
            "updates_20240102_03040a.log",
            ".updates_20240102_030405.log.tmp-1",
        ] {
            assert_eq!(own_log_key(other), None, "{other}");
        }
    }
}
