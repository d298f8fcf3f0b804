//! What node_exporter says about itself, said by sysmon about itself (issue
//! 12: the dashboard's "Node Exporter Scrape Time", "Node Exporter Scrape"
//! and "Exporter Processes Memory" panels): the Prometheus client's
//! `process_*` series for the daemon's own process, checked against its
//! /proc/PID files read here, and `node_scrape_collector_duration_seconds`
//! and `_success` per group of families under node_exporter's collector
//! names, with success 0 exactly where the group's source is missing.
use crate::common::*;

/// The collectors every scrape reports, in node_exporter's names.
const COLLECTORS: [&str; 26] = [
    "uname",
    "os",
    "cpu",
    "meminfo",
    "filesystem",
    "loadavg",
    "stat",
    "time",
    "vmstat",
    "netstat",
    "sockstat",
    "filefd",
    "entropy",
    "softnet",
    "conntrack",
    "arp",
    "udp_queues",
    "timex",
    "netdev",
    "netclass",
    "diskstats",
    "pressure",
    "hwmon",
    "thermal_zone",
    "powersupplyclass",
    "cpufreq",
];

fn metrics(daemon: &Daemon) -> String {
    let r = daemon.get("/metrics");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    r.body_text()
}

/// The value of the one series `series` (name and labels as written).
fn value(text: &str, series: &str) -> Option<f64> {
    let mut found = text
        .lines()
        .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' '));
    let v = found.next()?.parse().ok();
    assert!(found.next().is_none(), "{series} twice in:\n{text}");
    v
}

/// collector -> (duration, success), every collector reported once.
fn collectors(text: &str) -> Vec<(String, f64, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("node_scrape_collector_success{collector=\"") else {
            continue;
        };
        let (name, _) = rest.split_once('"').unwrap();
        let success = value(
            text,
            &format!("node_scrape_collector_success{{collector=\"{name}\"}}"),
        );
        let duration = value(
            text,
            &format!("node_scrape_collector_duration_seconds{{collector=\"{name}\"}}"),
        );
        out.push((
            name.to_string(),
            duration.unwrap_or_else(|| panic!("no duration for {name}:\n{text}")),
            success.unwrap(),
        ));
    }
    out
}

#[test]
fn process_series_describe_sysmon_itself() {
    let dir = TempDir::new("exporter-process");
    // Sampled every 200 ms, and scraped once the threads (and their
    // malloc arenas, 64 MiB of address space each with glibc) exist.
    let daemon = Daemon::on_fixture(&dir, "interval = 200ms");
    let _ = metrics(&daemon);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let text = metrics(&daemon);
    let pid = daemon.pid();
    // vsize (bytes), field 23 of /proc/PID/stat, counted after the `)`.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let vsize: f64 = after_name.split(' ').nth(20).unwrap().parse().unwrap();
    let exported =
        value(&text, "process_virtual_memory_bytes").expect("process_virtual_memory_bytes");
    // Sampled a moment earlier: the mappings may differ by a thread stack
    // or an arena, not by more than 64 MiB.
    assert!(
        exported > 0.0 && (exported - vsize).abs() <= 64.0 * 1024.0 * 1024.0,
        "{exported} vs vsize {vsize}"
    );
    // The soft limits of /proc/PID/limits.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let soft = |row: &str| -> f64 {
        let line = limits.lines().find(|l| l.starts_with(row)).unwrap();
        match line[row.len()..].split_whitespace().next().unwrap() {
            "unlimited" => u64::MAX as f64,
            n => n.parse().unwrap(),
        }
    };
    assert_eq!(
        value(&text, "process_max_fds"),
        Some(soft("Max open files")),
        "{text}"
    );
    assert_eq!(
        value(&text, "process_virtual_memory_max_bytes"),
        Some(soft("Max address space")),
        "{text}"
    );
    for (name, kind) in [
        ("process_virtual_memory_bytes", "gauge"),
        ("process_virtual_memory_max_bytes", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_cpu_seconds_total", "counter"),
    ] {
        assert!(
            text.contains(&format!("\n# TYPE {name} {kind}\n")),
            "{name}: {text}"
        );
    }
}

#[test]
fn every_collector_is_timed_and_fails_only_where_its_source_is_missing() {
    // The Debian 12 capture has every file the scrape reads.
    let dir = TempDir::new("exporter-collectors");
    let daemon = Daemon::on_roots(
        &dir,
        &fixture("proc/basic"),
        Some(&fixture("sys/handmade")),
        "",
    );
    let text = metrics(&daemon);
    let found = collectors(&text);
    let names: Vec<&str> = found.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, COLLECTORS, "{text}");
    for (name, seconds, success) in &found {
        assert!((0.0..1.0).contains(seconds), "{name} took {seconds} s");
        assert!(*success == 0.0 || *success == 1.0, "{name}: {success}");
    }
    let success = |name: &str| found.iter().find(|c| c.0 == name).unwrap().2;
    for name in [
        "uname",
        "cpu",
        "meminfo",
        "vmstat",
        "netstat",
        "sockstat",
        "filefd",
        "entropy",
        "softnet",
        "conntrack",
        "arp",
        "udp_queues",
        "timex",
        "netdev",
        "netclass",
        "hwmon",
        "thermal_zone",
        "cpufreq",
        "pressure",
    ] {
        assert_eq!(success(name), 1.0, "{name}:\n{text}");
    }
    assert!(
        !names.contains(&"textfile"),
        "textfile without textfile_dir"
    );
    assert!(text.contains("\n# TYPE node_scrape_collector_success gauge\n"));
    if have_tool("promtool", "the exposition's lint") {
        assert_promtool_accepts(text.as_bytes());
    }
    drop(daemon);

    // A 2.6.18 capture: no vmstat, no net/ tables, no conntrack, no
    // entropy files; an empty /sys (no class/net, hwmon, thermal, cpufreq);
    // and a textfile_dir that does not exist.
    let dir = TempDir::new("exporter-collectors-old");
    let empty_sys = dir.path().join("sys");
    std::fs::create_dir_all(&empty_sys).unwrap();
    let daemon = Daemon::on_roots(
        &dir,
        &fixture("proc/linux-2.6.18-8col-4core"),
        Some(&empty_sys),
        &format!("textfile_dir = {}", dir.path().join("absent").display()),
    );
    let text = metrics(&daemon);
    let found = collectors(&text);
    let success = |name: &str| found.iter().find(|c| c.0 == name).unwrap().2;
    for name in [
        "vmstat",
        "netstat",
        "sockstat",
        "filefd",
        "entropy",
        "softnet",
        "conntrack",
        "arp",
        "udp_queues",
        "netclass",
        "hwmon",
        "thermal_zone",
        "powersupplyclass",
        "cpufreq",
        "textfile",
    ] {
        assert_eq!(success(name), 0.0, "{name}:\n{text}");
    }
    for name in ["uname", "cpu", "meminfo", "loadavg", "stat", "timex"] {
        assert_eq!(success(name), 1.0, "{name}:\n{text}");
    }
}

/// A collector whose source breaks under a running daemon (vmstat given a
/// line without a number, net/sockstat a line without a colon) is logged
/// once when it starts failing, naming the collector, the file and the
/// error, and once when it succeeds again; the scrapes in between say
/// nothing. Before, `node_scrape_collector_success` went 0 with no word in
/// the log at all.
#[test]
fn a_collector_that_starts_failing_is_logged_once_and_its_recovery_once() {
    let dir = TempDir::new("collector-log");
    let proc_root = copy_fixture(&dir, "proc/basic", "proc");
    let daemon = Daemon::on_roots(&dir, &proc_root, None, "metrics_cache = 0s");
    let success = |text: &str, collector: &str| {
        value(
            text,
            &format!("node_scrape_collector_success{{collector=\"{collector}\"}}"),
        )
    };
    let text = metrics(&daemon);
    assert_eq!(success(&text, "vmstat"), Some(1.0));
    assert_eq!(success(&text, "sockstat"), Some(1.0));

    let vmstat = proc_root.join("vmstat");
    let sockstat = proc_root.join("net/sockstat");
    let (vmstat_good, sockstat_good) = (
        std::fs::read_to_string(&vmstat).unwrap(),
        std::fs::read_to_string(&sockstat).unwrap(),
    );
    let vmstat_lines = vmstat_good.lines().count();
    std::fs::write(&vmstat, format!("{vmstat_good}pgfault x\n")).unwrap();
    std::fs::write(&sockstat, format!("TCP inuse 1\n{sockstat_good}")).unwrap();
    for _ in 0..3 {
        let text = metrics(&daemon);
        assert_eq!(success(&text, "vmstat"), Some(0.0), "{text}");
        assert_eq!(success(&text, "sockstat"), Some(0.0), "{text}");
    }
    let vmstat_warning = format!(
        "warning: collector vmstat failing (node_scrape_collector_success 0): {}: line {}: value is not a number",
        vmstat.display(),
        vmstat_lines + 1
    );
    let sockstat_warning = format!(
        "warning: collector sockstat failing (node_scrape_collector_success 0): {}: line 1: protocol without a colon",
        sockstat.display()
    );
    std::fs::write(&vmstat, &vmstat_good).unwrap();
    std::fs::write(&sockstat, &sockstat_good).unwrap();
    for _ in 0..2 {
        let text = metrics(&daemon);
        assert_eq!(success(&text, "vmstat"), Some(1.0), "{text}");
        assert_eq!(success(&text, "sockstat"), Some(1.0), "{text}");
    }
    let recovered = "collector sockstat: succeeding again";
    assert!(
        daemon.wait_log(recovered, std::time::Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    for (line, times) in [
        (vmstat_warning.as_str(), 1),
        (sockstat_warning.as_str(), 1),
        (
            "collector vmstat: succeeding again (node_scrape_collector_success 1)",
            1,
        ),
        (recovered, 1),
        ("collector vmstat", 2),
        ("collector sockstat", 2),
    ] {
        assert_eq!(daemon.logged(line), times, "{line}\n{}", daemon.dump());
    }
}

/// A collector failing with an io error of sysmon's own (no errno:
/// `open_regular` refuses a directory and a character device with the
/// same kind, `InvalidInput`) was logged with the kind alone ("invalid
/// input parameter"), and once failing, a change of failure (the
/// directory become a link to /dev/null) was not logged at all. The log
/// now gives sysmon's text, and a changed failure once; the same failure
/// again says nothing.
#[test]
fn a_collector_failing_with_sysmons_own_error_logs_its_text_and_its_change() {
    let dir = TempDir::new("collector-own-error");
    let proc_root = copy_fixture(&dir, "proc/basic", "proc");
    // Broken before the start: a file read is kept open (and read again
    // from offset 0) until it fails, so one replaced under a working
    // daemon would still be read from the file that was there.
    let vmstat = proc_root.join("vmstat");
    let vmstat_good = std::fs::read_to_string(&vmstat).unwrap();
    std::fs::remove_file(&vmstat).unwrap();
    std::fs::create_dir(&vmstat).unwrap();
    let daemon = Daemon::on_roots(&dir, &proc_root, None, "metrics_cache = 0s");
    let success = |text: &str| value(text, "node_scrape_collector_success{collector=\"vmstat\"}");
    for _ in 0..3 {
        assert_eq!(success(&metrics(&daemon)), Some(0.0));
    }
    std::fs::remove_dir(&vmstat).unwrap();
    std::os::unix::fs::symlink("/dev/null", &vmstat).unwrap();
    for _ in 0..3 {
        assert_eq!(success(&metrics(&daemon)), Some(0.0));
    }
    std::fs::remove_file(&vmstat).unwrap();
    std::fs::write(&vmstat, vmstat_good).unwrap();
    assert_eq!(success(&metrics(&daemon)), Some(1.0));
    let recovered = "collector vmstat: succeeding again (node_scrape_collector_success 1)";
    assert!(
        daemon.wait_log(recovered, std::time::Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    let refused = ", not a regular file: refused (reading it could block)";
    for (line, times) in [
        (
            format!(
                "warning: collector vmstat failing (node_scrape_collector_success 0): {}: a directory{refused}",
                vmstat.display()
            ),
            1,
        ),
        (
            format!(
                "warning: collector vmstat still failing (node_scrape_collector_success 0), now: {}: a character device{refused}",
                vmstat.display()
            ),
            1,
        ),
        ("invalid input parameter".into(), 0),
        ("collector vmstat".into(), 3),
    ] {
        assert_eq!(daemon.logged(&line), times, "{line}\n{}", daemon.dump());
    }
}
