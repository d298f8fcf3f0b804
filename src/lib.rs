//! sysmon: one small static binary that backs up a Linux box at boot, audits
//! its pending package updates, samples /proc, and serves a dashboard and
//! JSON from a single-threaded poll loop.
//!
//! The layers, bottom up:
//! - [`proc`]: pure byte parsers, one per /proc file; no I/O, no allocation.
//! - [`sample::procfile`] and [`sys`]: the I/O boundary (kept-open files,
//!   statvfs, signals). `sys` is the only module allowed `unsafe`; it is a
//!   folder by domain (signals, process, files, privileges, net, time).
//! - [`nameglob`] and [`pathglob`]: the globs of `network_exclude` and
//!   `backup_exclude`, checked by [`config`] and matched by their users.
//! - [`sample`]: turns /proc and /sys into a [`sample::Sample`] without
//!   allocating once warm, one file per source (`sample/cpu.rs`, ...).
//! - [`backup`] and [`audit`]: the boot jobs, each a resumable state machine
//!   driven by `poll(now)` with a `next_deadline()`, whose state is read as a
//!   `Copy` snapshot (a state enum and figures; reading it allocates
//!   nothing); [`orphans`] kills what audit and alert commands leave behind
//!   (sysmon is a child subreaper).
//! - [`report`] and [`http`]: the JSON schema (snapshots become JSON there,
//!   and only there; the /data.json render cache) and the routes, answering
//!   from the last sample only.
//! - [`history`] and [`alerts`]: ring buffers of recent samples and the
//!   threshold alerts evaluated on each sample; allocation-free once warm.
//!   [`history_file`]: the long history (min/mean/max tiers) in a
//!   fixed-size file in `state_dir` that survives restarts.
//! - [`daemon`]: owns all of the above and runs the loop; [`notify`] tells
//!   systemd (sd_notify) when it is ready, what it is doing, and that it lives.
//! - [`privileges`]: the drop of `user = NAME`, the policy over `sys`'s
//!   thin wrappers: each step in order, each read back.
//! - [`dirs`]: the directories sysmon writes and `prepare-dirs`, which
//!   makes them for the service user before an init script starts it.
//! - [`config`]: the validated configuration every layer reads; its keys,
//!   defaults and reload scope are one table, [`config::KEYS`].
//! - [`access`]: who may see the dashboard, built from the config (the
//!   password-file check included); [`cidr`] is the address-block type
//!   the two share.
//! - [`cli`]: the command line's commands (`run`, `sample`, `check-config`,
//!   `backup`, `verify`, `audit`, `prepare-dirs`, `history`), one file each; the only
//!   place that prints a result and picks an exit status. `main.rs` parses
//!   and dispatches.
//!
//! Not sysmon's own modules: `src/vendor/tiny_http/` is the HTTP server, a
//! separate crate (a path dependency in `Cargo.toml`, not part of this
//! module tree). It is sysmon's fork of tiny_http 0.12.0, versioned
//! `0.12.0+sysmon.2`; its `PATCHES.md` says what changed from upstream and
//! why. [`listener`] is where sysmon meets it.
#![deny(unsafe_code)]

pub mod access;
pub mod alerts;
pub mod audit;
pub mod backup;
pub mod cidr;
pub mod cli;
pub mod config;
pub mod csp;
pub mod daemon;
pub mod dirs;
pub mod fsutil;
pub mod history;
pub mod history_file;
pub mod http;
pub mod listener;
pub mod log;
pub mod metrics;
pub mod nameglob;
pub mod notify;
pub mod orphans;
pub mod pathglob;
pub mod privileges;
pub mod proc;
pub mod report;
pub mod sample;
pub mod sys;
