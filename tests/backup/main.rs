//! The backup writes archives that third-party readers accept and never
//! leaves a corrupt or half-named one: `sysmon backup` and `sysmon verify`
//! from the command line, the once-per-boot job inside the daemon, and a
//! destination too small to hold the archive.
#[path = "../common/mod.rs"]
mod common;

mod cli;
mod daemon;
mod free_space;
