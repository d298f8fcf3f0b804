//! The backup writes archives that third-party readers accept and never
//! leaves a corrupt or half-named one: `sysmon backup` and `sysmon verify`
//! from the command line, the once-per-boot job inside the daemon, and a
//! destination too small to hold the archive, or filled while writing.
#[path = "../common/mod.rs"]
mod common;

mod cli; // sysmon backup / verify, read back by unzip and Python
mod daemon; // once per boot, live progress, interruptions, partial
mod free_space; // refused before writing only what cannot fit; stopped at what is kept free

// What a backup directory holds, shared by cli and daemon.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::run;

/// The files in `dir` whose name starts with `prefix`, sorted.
fn named(dir: &Path, prefix: &[u8]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap().as_bytes().starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Files under a final archive's name, `backup_*.zip`, oldest name first.
fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut v = named(dir, b"backup_");
    v.retain(|p| p.as_os_str().as_bytes().ends_with(b".zip"));
    v
}

/// Every file named `backup_*`, whatever it ends with: a half-named archive
/// (a final prefix on an unfinished file) shows up here, not only in
/// [`archives`].
fn backup_named(dir: &Path) -> Vec<PathBuf> {
    named(dir, b"backup_")
}

/// The hidden temporaries (`.backup_*`) an unfinished backup writes to.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    named(dir, b".backup_")
}

/// Whether Info-ZIP's `unzip -tq` finds `archive` whole (every CRC right).
fn unzip_ok(archive: &Path) -> bool {
    let mut c = Command::new("unzip");
    c.arg("-tq").arg(archive);
    run(c).status.success()
}

/// Runs a shell line that must succeed.
fn sh(script: &str) {
    let out = crate::common::sh(script);
    assert!(out.status.success(), "sh -c {script}");
}
