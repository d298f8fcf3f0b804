//! /metrics is valid Prometheus text format with node_exporter's names and
//! the fixture's figures: checked against the fixture read independently,
//! and by promtool (issue #6).
use crate::common::*;

fn start(dir: &TempDir) -> Daemon {
    // Alerts configured so their series (with a mountpoint label for disks)
    // go through promtool too; `0%` fires at once.
    Daemon::on_fixture(dir, "alert_cpu = 0% for 0s\nalert_disk = 0%")
}

/// The fixture's aggregate and cpu0 lines, read independently of sysmon.
fn fixture_cpu0_user_ticks() -> u64 {
    let stat = std::fs::read_to_string(fixture("proc/basic/stat")).unwrap();
    let line = stat.lines().find(|l| l.starts_with("cpu0 ")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn metrics_use_node_exporter_names_and_fixture_values() {
    let dir = TempDir::new("metrics");
    let daemon = start(&dir);
    let r = daemon.get("/metrics");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    assert_eq!(
        r.header("Content-Type").as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.body_text();
    // USER_HZ is 100 on every Linux architecture sysmon targets.
    let want = format!(
        "node_cpu_seconds_total{{cpu=\"0\",mode=\"user\"}} {}",
        fixture_cpu0_user_ticks() as f64 / 100.0
    );
    assert!(
        text.lines().any(|l| l == want),
        "missing `{want}` in:\n{text}"
    );
    let meminfo = std::fs::read_to_string(fixture("proc/basic/meminfo")).unwrap();
    let total_kib: u64 = meminfo
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        text.contains(&format!(
            "\nnode_memory_MemTotal_bytes {}\n",
            total_kib * 1024
        )),
        "{text}"
    );
    for name in [
        "node_load1 ",
        "node_boot_time_seconds ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "sysmon_build_info{version=",
        "\nsysmon_alert_firing{alert=\"cpu\"} 1\n",
        "\nsysmon_alert_firing{alert=\"disk\",mountpoint=\"/\"} 1\n",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    assert!(
        text.contains("node_filesystem_avail_bytes{device=") && text.contains("mountpoint=\"/\"}"),
        "{text}"
    );
    // Every sample line belongs to a family announced with HELP and TYPE.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "no TYPE for {name}"
        );
    }
}

#[test]
fn promtool_finds_no_problem_but_node_exporters_own_camel_case() {
    if !have_tool(
        "promtool",
        "promtool check metrics (Debian package prometheus)",
    ) {
        return;
    }
    let dir = TempDir::new("promtool");
    let daemon = start(&dir);
    let body = daemon.get("/metrics").body;
    assert_promtool_accepts(&body);
}

/// Every family sysmon writes itself starts with `node_`, `process_`,
/// `sysmon_` or `apt_` (`OWN_PREFIXES` in src/metrics/textfile.rs): a
/// textfile family with none of them cannot clash with one of sysmon's, and
/// the textfile merge skips indexing sysmon's families for it. On the live
/// machine and on the fixture roots with sensors, cpufreq and a container.
#[test]
fn every_own_family_has_one_of_the_known_prefixes() {
    const OWN_PREFIXES: [&str; 4] = ["node_", "process_", "sysmon_", "apt_"];
    let dir = TempDir::new("prefixes");
    let live = Daemon::on_roots(
        &dir,
        std::path::Path::new("/proc"),
        None,
        "alert_cpu = 0% for 0s",
    );
    let dir2 = TempDir::new("prefixes-fixture");
    let fixture_roots = Daemon::on_roots(
        &dir2,
        &fixture("proc/container-v2"),
        Some(&fixture("sys/handmade")),
        "alert_disk = 0%",
    );
    for daemon in [&live, &fixture_roots] {
        let text = daemon.get("/metrics").body_text();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
            .collect();
        assert!(names.len() > 100, "{text}");
        for name in names {
            assert!(
                OWN_PREFIXES.iter().any(|p| name.starts_with(p)),
                "{name} has none of {OWN_PREFIXES:?}"
            );
        }
    }
}
