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
//!   (sysmon is a child subreaper). [`services`] is a job of the same shape:
//!   the init system's services (systemd, OpenRC, runit), read every
//!   `services_every`. [`period`]: periodic work is due from 90 % of its
//!   period, so it rides on a sample's wake-up instead of its own.
//! - [`report`] and [`http`]: the JSON schema (snapshots become JSON there,
//!   and only there; the /data.json render cache) and the routes, answering
//!   from the last sample only; [`accept_encoding`] reads whether a scrape
//!   takes /metrics gzipped.
//! - [`history`] and [`alerts`]: ring buffers of recent samples and the
//!   threshold alerts evaluated on each sample; allocation-free once warm.
//!   [`history_file`]: the long history (min/mean/max tiers) in a
//!   fixed-size file in `state_dir` that survives restarts;
//!   [`history_answers`]: `/history.json` bodies from either, kept per
//!   query until a sample changes them. [`bootlog`]:
//!   the boots seen and how each ended (`unexpected_reboot`).
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
//!   `backup`, `verify`, `audit`, `prepare-dirs`, `history`, `top`), one file each; the only
//!   place that prints a result and picks an exit status. `main.rs` parses
//!   and dispatches.
//!
//! Not sysmon's own modules: `src/vendor/tiny_http/` is the HTTP server, a
//! separate crate (a path dependency in `Cargo.toml`, not part of this
//! module tree). It is sysmon's fork of tiny_http 0.12.0, versioned
//! `0.12.0+sysmon.25`; its `PATCHES.md` says what changed from upstream and
//! why. [`listener`] is where sysmon meets it.
#![deny(unsafe_code)]

pub mod accept_encoding;
pub mod access;
pub mod alerts;
pub mod audit;
pub mod backup;
pub mod bootlog;
pub mod cidr;
pub mod cli;
pub mod config;
pub mod csp;
pub mod daemon;
pub mod dirs;
pub mod float_parse;
pub mod float_text;
pub mod fsutil;
pub mod history;
pub mod history_answers;
pub mod history_file;
pub mod http;
pub mod ignored_signals;
pub mod listener;
pub mod log;
pub mod metrics;
pub mod nameglob;
pub mod notify;
pub mod num;
pub mod orphans;
pub mod owned;
pub mod pathglob;
pub mod period;
pub mod privileges;
pub mod proc;
pub mod report;
pub mod sample;
pub mod services;
pub mod sort;
pub mod statelock;
pub mod sys;
pub mod textfile_writer;

/// The README's "How it works" map is the reader's index of the tree: it
/// names every source file, and nothing that is not there (issue 15).
#[cfg(test)]
mod source_map {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// Every path the map names: `src/x.rs` lines, and the `  name.rs`
    /// entries (or `a.rs, b.rs` lists) indented under a `src/dir/` line.
    fn listed(readme: &str) -> BTreeSet<String> {
        let start = readme
            .find("## How it works\n\n```\n")
            .expect("README has a How it works map");
        let block = &readme[start..];
        let block = &block[block.find("```\n").unwrap() + 4..];
        let block = &block[..block.find("```").expect("the map's code block ends")];
        let mut names = BTreeSet::new();
        let mut folder: Option<&str> = None;
        for line in block.lines() {
            if line.starts_with("src/") {
                let path = line.split_whitespace().next().unwrap();
                if path.ends_with('/') {
                    folder = Some(path);
                } else {
                    folder = None;
                    names.insert(path.to_string());
                }
            } else if let (Some(dir), Some(entry)) = (folder, line.strip_prefix("  ")) {
                if entry.starts_with(' ') {
                    continue; // a description's second line
                }
                let files = entry.split("  ").next().unwrap();
                for file in files.split(", ") {
                    names.insert(format!("{dir}{}", file.trim()));
                }
            }
        }
        names
    }

    fn on_disk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == "src/vendor" {
                continue; // the tiny_http fork: a crate of its own (PATCHES.md)
            }
            if path.is_dir() {
                on_disk(&path, root, out);
            } else if rel.ends_with(".rs") || rel.ends_with(".html") {
                out.insert(rel);
            }
        }
    }

    #[test]
    fn the_readme_map_names_every_source_file_and_only_those() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let listed = listed(&readme);
        let mut files = BTreeSet::new();
        on_disk(&root.join("src"), root, &mut files);
        let missing: Vec<_> = files.difference(&listed).collect();
        let stale: Vec<_> = listed.difference(&files).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "README's How it works map: not listed {missing:?}; listed but absent {stale:?}"
        );
    }
}
