//! node_exporter's families that /metrics reads at scrape time (issue 12):
//! `node_uname_info` as uname(2) says, `node_os_info`/`node_os_version`
//! from a fixture root's os-release (re-read when it changes), and every
//! /proc/meminfo field under node_exporter's mangled names, each checked
//! against the fixture read independently here.
use crate::common::*;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The daemon on the `basic` /proc fixture with `root_fs` for os-release.
fn start(dir: &TempDir, root_fs: &std::path::Path) -> Daemon {
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /");
    Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        fixture("proc/basic").to_str().unwrap(),
        "--root-fs",
        root_fs.to_str().unwrap(),
    ])
}

fn metrics(daemon: &Daemon) -> String {
    let r = daemon.get("/metrics");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    r.body_text()
}

/// The lines of `text` for `name` (`name{...} v` or `name v`).
fn lines_of<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .collect()
}

fn uname(flag: &str) -> String {
    let out = Command::new("uname").arg(flag).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn uname_and_os_release_label_the_host_as_node_exporter_does() {
    let dir = TempDir::new("node-os");
    let daemon = start(&dir, &fixture("rootfs/debian12"));
    let text = metrics(&daemon);
    let domain = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let want = format!(
        "node_uname_info{{domainname=\"{}\",machine=\"{}\",nodename=\"{}\",release=\"{}\",sysname=\"{}\",version=\"{}\"}} 1",
        domain.trim_end(),
        uname("-m"),
        uname("-n"),
        uname("-r"),
        uname("-s"),
        uname("-v"),
    );
    assert_eq!(lines_of(&text, "node_uname_info"), [want.as_str()]);
    assert!(text.contains("# TYPE node_uname_info gauge\n"));
    // The fixture has only usr/lib/os-release: the fallback is taken.
    assert_eq!(
        lines_of(&text, "node_os_info"),
        [
            "node_os_info{build_id=\"\",id=\"debian\",id_like=\"\",image_id=\"\",image_version=\"\",name=\"Debian GNU/Linux\",pretty_name=\"Debian GNU/Linux 12 (bookworm)\",variant=\"\",variant_id=\"\",version=\"12 (bookworm)\",version_codename=\"bookworm\",version_id=\"12\"} 1"
        ]
    );
    assert_eq!(
        lines_of(&text, "node_os_version"),
        ["node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"} 12"]
    );
    assert!(lines_of(&text, "node_os_support_end_timestamp_seconds").is_empty());
    if have_tool("promtool", "the exposition's lint") {
        assert_promtool_accepts(text.as_bytes());
    }
}

#[test]
fn os_release_is_read_again_when_it_changes_and_left_out_when_absent() {
    let dir = TempDir::new("node-os-change");
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let daemon = start(&dir, &root);
    assert!(lines_of(&metrics(&daemon), "node_os_info").is_empty());
    assert!(!lines_of(&metrics(&daemon), "node_uname_info").is_empty());

    let release = root.join("etc/os-release");
    let write = |body: &str, mtime_s: u64| {
        std::fs::write(&release, body).unwrap();
        let f = std::fs::File::options().write(true).open(&release).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_s))
            .unwrap();
    };
    write(
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine \\\"edge\\\"\"\nSUPPORT_END=2025-11-01\n",
        1_000,
    );
    let text = metrics(&daemon);
    assert_eq!(
        lines_of(&text, "node_os_version"),
        ["node_os_version{id=\"alpine\",id_like=\"\",name=\"Alpine Linux\"} 3.19"]
    );
    assert!(
        text.contains("pretty_name=\"Alpine \\\"edge\\\"\""),
        "{text}"
    );
    // `date -u -d 2025-11-01 +%s`
    assert_eq!(
        lines_of(&text, "node_os_support_end_timestamp_seconds"),
        ["node_os_support_end_timestamp_seconds 1761955200"]
    );
    write(
        "NAME=Arch\nID=arch\nID_LIKE=\"\"\nVERSION_ID=rolling\n",
        2_000,
    );
    let text = metrics(&daemon);
    assert!(
        lines_of(&text, "node_os_info")[0].contains("id=\"arch\""),
        "{text}"
    );
    // No major.minor: left out, as node_exporter does.
    assert!(lines_of(&text, "node_os_version").is_empty());
    assert!(lines_of(&text, "node_os_support_end_timestamp_seconds").is_empty());
}

#[test]
fn every_meminfo_field_is_exported_with_node_exporter_names() {
    let dir = TempDir::new("node-meminfo");
    let daemon = start(&dir, &fixture("rootfs/debian12"));
    let text = metrics(&daemon);
    // The oracle: node_exporter 1.5's rule, applied to the fixture here.
    let meminfo = std::fs::read_to_string(fixture("proc/basic/meminfo")).unwrap();
    let mut want = Vec::new();
    for line in meminfo.lines() {
        let (key, rest) = line.split_once(':').unwrap();
        let key = key.replace('(', "_").replace(')', "");
        let mut cols = rest.split_whitespace();
        let number: u64 = cols.next().unwrap().parse().unwrap();
        let line = match cols.next() {
            Some("kB") => format!("node_memory_{key}_bytes {}", number * 1024),
            None => format!("node_memory_{key} {number}"),
            Some(unit) => panic!("unit {unit}"),
        };
        want.push(line);
    }
    let got: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("node_memory_"))
        .collect();
    assert_eq!(got, want);
    assert_eq!(want.len(), 54, "the 6.18 fixture has 54 fields");
    for (name, kind) in [
        ("node_memory_Active_anon_bytes", "gauge"),
        ("node_memory_HugePages_Total", "gauge"),
    ] {
        assert!(
            text.contains(&format!(
                "# HELP {name} Memory information field {}.\n# TYPE {name} {kind}\n",
                name.trim_start_matches("node_memory_")
            )),
            "{name}"
        );
    }
}
