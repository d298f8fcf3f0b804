//! One line per event on standard error, which every init system collects
//! (journald, supervise-daemon's log, svlogd). Under journald (detected by
//! `JOURNAL_STREAM`) each line carries a `<N>` syslog priority prefix so
//! `journalctl -p warning` works; elsewhere it reads `warning: ...`.
//!
//! Writing a line does not allocate: the arguments are formatted straight
//! into the locked, unbuffered stderr.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static JOURNAL: AtomicBool = AtomicBool::new(false);

/// Reads the environment once at start-up.
pub fn init() {
    JOURNAL.store(
        std::env::var_os("JOURNAL_STREAM").is_some(),
        Ordering::Relaxed,
    );
}

#[derive(Clone, Copy)]
enum Level {
    Error = 3,
    Warning = 4,
    Info = 6,
}

fn write(level: Level, args: Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    // A failed write to stderr has nowhere else to go.
    let _ = if JOURNAL.load(Ordering::Relaxed) {
        writeln!(err, "<{}>{args}", level as u8)
    } else {
        let name = match level {
            Level::Error => "error: ",
            Level::Warning => "warning: ",
            Level::Info => "",
        };
        writeln!(err, "sysmon: {name}{args}")
    };
}

pub fn info(args: Arguments<'_>) {
    write(Level::Info, args);
}

pub fn warn(args: Arguments<'_>) {
    write(Level::Warning, args);
}

pub fn error(args: Arguments<'_>) {
    write(Level::Error, args);
}
