//! `sysmon backup`: one backup in the foreground, with a progress line on
//! a terminal and a summary on stdout. Exit 0 when everything was archived,
//! 3 when the archive was written but some files were skipped, 1 on
//! failure, and 1 when the summary cannot be written (the archive, written
//! before, is kept and the error says so). The result is recorded in `state_dir/backup_last.json` as the
//! daemon records its own runs' (failures included), so the dashboard, the
//! `backup_age` alert and /metrics count a backup made by hand.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::backup::job::{Job, Outcome, Poll, Settings};
use crate::backup::record::{self, LastBackup};
use crate::backup::retention;
use crate::float_text::Fixed;
use crate::{log, sys};

#[derive(FromArgs)]
#[argh(subcommand, name = "backup")]
/// run one backup now, in the foreground; exit 0 all archived, 3 some files skipped, 1 failed
pub struct BackupArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    pub config: Option<PathBuf>,
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{} {}", Fixed(value, 1), UNITS[unit])
    }
}

/// `sysmon backup`: one backup in the foreground. Exit 0 when everything
/// was archived, 3 when the archive was written but some files were
/// skipped, 1 on failure. Runs even with `backup = off` (that switch is for
/// the daemon's automatic backups); SIGINT/SIGTERM stop it cleanly.
pub fn backup(args: BackupArgs) -> Result<ExitCode, ExitCode> {
    let config = &super::load_config(args.config.as_deref(), None, None)?;
    sys::catch_file_size_signal();
    if let Err(e) = sys::install_signal_handlers() {
        log::warn(format_args!("cannot install signal handlers: {e}"));
    }
    if let Err(e) = retention::remove_leftover_temporaries(&config.backup_dir) {
        log::warn(format_args!("backup: cleaning leftover temporaries: {e}"));
    }
    let mut job = match Job::start(Settings::from_config(config)) {
        Ok(job) => job,
        Err(outcome) => {
            keep_record(config, &outcome);
            return Ok(ExitCode::from(1));
        }
    };
    let tty = sys::stderr_is_terminal();
    let outcome = loop {
        if sys::stop_requested() {
            break job.abort("signal received");
        }
        match job.step(Instant::now() + Duration::from_millis(200)) {
            Poll::Finished(outcome) => break outcome,
            Poll::Running if tty => {
                let p = job.progress();
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[K{} {}/{} files, {} / {}  {}",
                    p.phase.name(),
                    p.files_done,
                    p.files_total,
                    human_bytes(p.bytes_done),
                    human_bytes(p.bytes_total),
                    job.source()
                );
            }
            Poll::Running => {}
        }
    };
    if tty {
        // Nowhere to report a failed write to stderr: ignored.
        let _ = std::io::stderr().write_all(b"\r\x1b[K");
    }
    keep_record(config, &outcome);
    if let Err(code) = super::emit_bytes(&summary(&outcome)) {
        // The archive stands (and is recorded): only the summary is lost,
        // and the exit status says so.
        if let (None, Some(file)) = (&outcome.error, &outcome.file) {
            log::error(format_args!(
                "backup: the summary could not be printed; the archive {} is written and kept",
                file.display()
            ));
        }
        return Err(code);
    }
    Ok(match (&outcome.error, outcome.skipped) {
        (Some(_), _) => ExitCode::from(1),
        (None, 0) => ExitCode::SUCCESS,
        (None, _) => ExitCode::from(3),
    })
}

/// Records `outcome` where the daemon keeps its last result, carrying on
/// the last success of the record it replaces (a failure by hand must not
/// make the daemon forget it); a record that cannot be written is logged
/// (the archive, if any, stands).
fn keep_record(config: &crate::config::Config, outcome: &Outcome) {
    // Read after the run: no time of it may pass the run's start, or a
    // record from the future (taken as now) would outrank this run.
    let before = match crate::backup::read_record(&config.state_dir.join(record::FILE)) {
        Ok(before) => before.map(|r| r.with_times_not_after(outcome.started_unix_s).0),
        // A success is the newest one: written over the record, it loses
        // nothing. A failure would drop the last success the record holds.
        Err(unreadable) if !outcome.ok() => {
            log::warn(format_args!(
                "backup: {}: this failed run is not recorded, so that the last success \
                 the record holds is not lost",
                unreadable.0
            ));
            return;
        }
        Err(unreadable) => {
            log::warn(format_args!(
                "backup: {}: recorded over it (this run is the newest success)",
                unreadable.0
            ));
            None
        }
    };
    let result = LastBackup::from_outcome(outcome).carrying_success_of(before.as_ref());
    if let Err(e) = record::write(&config.state_dir, &result) {
        log::warn(format_args!(
            "backup: cannot record the result in {}: {e}",
            config.state_dir.display()
        ));
    }
}

/// What `sysmon backup` prints on stdout (written by
/// [`super::emit_bytes`]: a failed write is an error, not ignored).
/// Its writes, into a `Vec`, cannot fail: their results are ignored.
fn summary(o: &Outcome) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(e) = &o.error {
        let _ = writeln!(out, "backup failed: {e}");
        return out;
    }
    let file = o.file.as_deref().unwrap_or(Path::new("?"));
    let _ = writeln!(out, "archive:  {}", file.display());
    let _ = writeln!(
        out,
        "size:     {} ({} bytes of file data read)",
        human_bytes(o.archive_bytes),
        o.data_bytes
    );
    let _ = writeln!(out, "files:    {} ({} entries)", o.files, o.entries);
    let _ = writeln!(out, "duration: {}s", Fixed(o.duration.as_secs_f64(), 1));
    for d in &o.deleted {
        let _ = writeln!(out, "removed:  {}", d.display());
    }
    let _ = writeln!(out, "skipped:  {}", o.skipped);
    if o.skipped_permission > 0 {
        let _ = writeln!(
            out,
            "INCOMPLETE: {} of them could not be read (permission denied)",
            o.skipped_permission
        );
    }
    for s in &o.skipped_list {
        // A file name can hold a newline or a terminal escape: escaped as
        // the log escapes them, one skipped file is one line.
        let _ = write!(log::Escaping(&mut out), "  {}: {}", s.path, s.reason);
        let _ = out.write_all(b"\n");
    }
    if o.skipped > o.skipped_list.len() as u64 {
        let _ = writeln!(
            out,
            "  ... and {} more",
            o.skipped - o.skipped_list.len() as u64
        );
    }
    out
}
