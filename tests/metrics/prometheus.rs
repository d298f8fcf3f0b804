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

/// The series of an exposition (each sample line but its value), in order.
fn series_of(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series))
        .collect()
}

/// Appends `line` to `rel` under `root`.
fn append(root: &std::path::Path, rel: &str, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join(rel))
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

/// /proc/meminfo is read by two: the sampler (its ten fields, every
/// interval) and /metrics (every field, at each scrape). A key written
/// twice (an overlay /proc) was logged by each, two warnings for one
/// cause; now once. `MemTotal` is repeated near the top, where both look;
/// `HugePages_Total` at the end, which only /metrics reads (the sampler
/// stops after `SReclaimable`), so /metrics says it.
#[test]
fn a_repeated_meminfo_key_is_logged_once_by_the_sampler_and_metrics() {
    for (case, repeat, series, said) in [
        (
            "top",
            "MemTotal:  1 kB",
            // The first line's figure: 24684084 kB.
            "\nnode_memory_MemTotal_bytes 25276502016\n",
            "line 2: MemTotal listed before",
        ),
        (
            "end",
            "HugePages_Total:  7",
            "\nnode_memory_HugePages_Total 0\n",
            "series `node_memory_HugePages_Total` written by more than one line",
        ),
    ] {
        let dir = TempDir::new(&format!("repeated-meminfo-key-{case}"));
        let proc_root = copy_fixture(&dir, "proc/basic", "proc");
        let meminfo = proc_root.join("meminfo");
        let text = std::fs::read_to_string(&meminfo).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        assert!(first.starts_with("MemTotal:"), "{first}");
        let text = match case {
            "top" => format!("{first}\n{repeat}\n{rest}"),
            _ => format!("{text}{repeat}\n"),
        };
        std::fs::write(&meminfo, text).unwrap();
        let daemon = Daemon::on_roots(&dir, &proc_root, None, "metrics_cache = 0s");
        scrape_twice_showing(&daemon, series, case);
        assert_eq!(
            daemon.logged("proc/meminfo"),
            1,
            "{case}: {}",
            daemon.dump()
        );
        assert_eq!(daemon.logged(said), 1, "{case}: {}", daemon.dump());
    }
}

/// Two scrapes of `daemon`'s /metrics, each answered 200 with `series` in
/// it (`case` names the test's case in a failure), then a wait until the
/// lines logged while rendering have been read from the pipe.
fn scrape_twice_showing(daemon: &Daemon, series: &str, case: &str) {
    for _ in 0..2 {
        let r = daemon.get("/metrics");
        assert_eq!(r.status, 200, "{}", daemon.dump());
        let text = r.body_text();
        assert!(text.contains(series), "{case}: no {series:?} in\n{text}");
    }
    // A line logged while rendering is read from the pipe by a thread.
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// /proc/meminfo that cannot be read was logged twice with the same error:
/// by the sampler (`FILE: why (keeping the previous figures)`) and by
/// /metrics' collector health (`collector meminfo failing ...: FILE:
/// why`), which reads the file again at each scrape. The error is now said
/// once, by the sampler; the collector's line (its success turned 0)
/// points to it, as cpu's and stat's do. A directory stands for the
/// unreadable file (root reads past any mode); it is there before the
/// start because a file read once stays open.
#[test]
fn an_unreadable_meminfo_is_logged_once_by_the_sampler_and_metrics() {
    let dir = TempDir::new("unreadable-meminfo");
    let proc_root = copy_fixture(&dir, "proc/basic", "proc");
    let meminfo = proc_root.join("meminfo");
    let text = std::fs::read_to_string(&meminfo).unwrap();
    std::fs::remove_file(&meminfo).unwrap();
    std::fs::create_dir(&meminfo).unwrap();
    let daemon = Daemon::on_roots(&dir, &proc_root, None, "metrics_cache = 0s\ninterval = 1s");
    let success = "node_scrape_collector_success{collector=\"meminfo\"} ";
    scrape_twice_showing(&daemon, &format!("\n{success}0\n"), "unreadable");
    let why = "a directory, not a regular file";
    assert_eq!(daemon.logged(why), 1, "{}", daemon.dump());
    let pointer = format!(
        "collector meminfo: no data (node_scrape_collector_success 0): nothing served from {}/meminfo (the sampler's log line says why)",
        proc_root.display()
    );
    assert_eq!(daemon.logged(&pointer), 1, "{}", daemon.dump());
    assert_eq!(daemon.logged("proc/meminfo"), 2, "{}", daemon.dump());
    // Readable again: each says so once.
    std::fs::remove_dir(&meminfo).unwrap();
    std::fs::write(&meminfo, text).unwrap();
    assert!(
        daemon.wait_log("meminfo: readable again", std::time::Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    let r = daemon.get("/metrics");
    assert!(r.body_text().contains(&format!("\n{success}1\n")));
    assert!(
        daemon.wait_log(
            "collector meminfo: succeeding again",
            std::time::Duration::from_secs(5)
        ),
        "{}",
        daemon.dump()
    );
    assert_eq!(daemon.logged(why), 1, "{}", daemon.dump());
}

/// /proc/meminfo whose `MemTotal` in bytes overflows u64 (kB × 1024 past
/// 2^64; no kernel prints it, an overlay /proc or a corrupt fixture can):
/// /data.json kept the last good figures, as the sampler does on a parse
/// error, while /metrics, which read the file again, showed about 1.9e22.
/// Both are fed by the same sample now: the last good figure in both, the
/// error named once in the log (by the sampler; /metrics' collector line
/// points to it). The file is overwritten in place, never truncated, so
/// the sampler reads either the good text or the bad one.
#[test]
fn an_overflowing_meminfo_keeps_the_last_good_figures_in_data_json_and_metrics() {
    use std::io::Write as _;
    let dir = TempDir::new("overflowing-meminfo");
    let proc_root = copy_fixture(&dir, "proc/basic", "proc");
    let meminfo = proc_root.join("meminfo");
    let text = std::fs::read_to_string(&meminfo).unwrap();
    let daemon = Daemon::on_roots(&dir, &proc_root, None, "metrics_cache = 0s\ninterval = 1s");
    // The fixture's 24684084 kB.
    let good_bytes = 24_684_084u64 * 1024;
    let good = format!("\nnode_memory_MemTotal_bytes {good_bytes}\n");
    assert!(daemon.get("/metrics").body_text().contains(&good));
    let (first, rest) = text.split_once('\n').unwrap();
    assert!(first.starts_with("MemTotal:"), "{first}");
    let bad = format!("MemTotal:       18446744073709551615 kB\n{rest}");
    assert!(bad.len() > text.len(), "overwrites the whole good text");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&meminfo)
        .unwrap();
    file.write_all(bad.as_bytes()).unwrap();
    drop(file);
    let why = "meminfo: line 1: value overflows";
    assert!(
        daemon.wait_log(why, std::time::Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    for _ in 0..3 {
        let metrics = daemon.get("/metrics").body_text();
        let total = metrics
            .lines()
            .find(|l| l.starts_with("node_memory_MemTotal_bytes "));
        assert_eq!(
            total,
            Some(good.trim()),
            "/metrics' MemTotal is not the last good one:\n{metrics}"
        );
        let data = daemon.data();
        assert_eq!(
            number(&data, &["memory", "total"]),
            Some(good_bytes),
            "{}",
            daemon.dump()
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(daemon.logged("value overflows"), 1, "{}", daemon.dump());
}

/// An offline CPU leaves a gap in /proc/stat (cpu0 cpu2 cpu3, as after
/// `echo 0 > /sys/devices/system/cpu/cpu1/online`), and an overlay /proc
/// may list CPUs out of order: /metrics and /data.json give each core once,
/// by its kernel number, in ascending order, with its own ticks; promtool
/// accepts the exposition.
#[test]
fn an_offline_cpu_and_cpus_out_of_order_keep_their_numbers() {
    let dir = TempDir::new("cpu-gap");
    let proc_root = copy_fixture(&dir, "proc/hotplug", "proc");
    // hotplug/stat.2 (cpu1 offline; user ticks cpu0 150, cpu2 300, cpu3
    // 100), its cpuN lines highest first.
    let text = std::fs::read_to_string(proc_root.join("stat.2")).unwrap();
    let (total, cores) = text.split_once('\n').unwrap();
    let mut lines: Vec<&str> = cores.lines().collect();
    lines.reverse();
    let stat = format!("{total}\n{}\n", lines.join("\n"));
    std::fs::write(proc_root.join("stat"), stat).unwrap();
    let daemon = Daemon::on_roots(&dir, &proc_root, None, "metrics_cache = 0s");
    let r = daemon.get("/metrics");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    let text = r.body_text();
    let user: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("node_cpu_seconds_total{cpu=\""))
        .filter_map(|l| l.split_once("\",mode=\"user\"} "))
        .map(|(cpu, seconds)| (cpu.to_string(), seconds.parse().unwrap()))
        .collect();
    // USER_HZ is 100, as metrics_use_node_exporter_names_and_fixture_values has it.
    let want: Vec<(String, f64)> = [("0", 1.5), ("2", 3.0), ("3", 1.0)]
        .iter()
        .map(|(cpu, seconds)| (cpu.to_string(), *seconds))
        .collect();
    assert_eq!(user, want, "{text}");
    if have_tool("promtool", "promtool check metrics with a CPU offline") {
        assert_promtool_accepts(text.as_bytes());
    }
    let data = daemon.data();
    let Some(miniserde::json::Value::Array(cores)) = field(&data, &["cpu", "cores"]) else {
        panic!("no cpu.cores in /data.json")
    };
    let ids: Vec<String> = cores
        .iter()
        .map(|c| match field(c, &["id"]) {
            Some(miniserde::json::Value::Number(n)) => n.to_string(),
            other => panic!("core id {other:?}"),
        })
        .collect();
    assert_eq!(ids, ["0", "2", "3"]);
}

/// A /proc (an overlay such as LXCFS, a broken module) that writes a line
/// twice, with other figures, in every table read per line: vmstat,
/// net/netstat, net/snmp, net/snmp6, net/sockstat, net/sockstat6,
/// net/softnet_stat, stat (a `cpuN`), net/dev and diskstats (a device).
/// Before, /metrics had `node_vmstat_pgfault` (and the others) twice:
/// promtool and Prometheus rejected the whole scrape ("second HELP line
/// for metric name"). Now each series is written once with the first
/// line's figure, /data.json lists each CPU and device once, and the log
/// names each file once, not at every scrape.
#[test]
fn a_proc_that_repeats_lines_still_gives_each_series_once() {
    let dir = TempDir::new("repeated-lines");
    let proc_root = copy_fixture(&dir, "proc/basic", "proc");
    let sys_root = dir.join("sys");
    std::fs::create_dir_all(sys_root.join("block/vda")).unwrap();
    let first_line = |rel: &str, starts: &str| {
        let text = std::fs::read_to_string(proc_root.join(rel)).unwrap();
        let line = text.lines().find(|l| l.starts_with(starts));
        line.unwrap_or_else(|| panic!("no {starts:?} in {rel}"))
            .to_string()
    };
    // Each repeat carries figures of its own: the first line must win.
    let tcp_ext_header = first_line("net/netstat", "TcpExt: ");
    let zeros = vec!["0"; tcp_ext_header.split_whitespace().count() - 1].join(" ");
    let tcp_header = first_line("net/snmp", "Tcp: ");
    let tcp_values = tcp_header
        .split_whitespace()
        .skip(1)
        .map(|_| "7")
        .collect::<Vec<_>>();
    let softnet_cpu1 = first_line("net/softnet_stat", "035028c0 ");
    for (rel, line) in [
        ("vmstat", "pgfault 1".to_string()),
        ("net/netstat", format!("{tcp_ext_header}\nTcpExt: {zeros}")),
        (
            "net/snmp",
            format!("{tcp_header}\nTcp: {}", tcp_values.join(" ")),
        ),
        ("net/snmp6", "Ip6InOctets 1".to_string()),
        (
            "net/sockstat",
            "TCP: inuse 999 orphan 0 tw 0 alloc 0 mem 5".to_string(),
        ),
        ("net/sockstat6", "UDP6: inuse 999".to_string()),
        (
            "net/softnet_stat",
            softnet_cpu1.replacen("035028c0", "00000001", 1),
        ),
        ("stat", "cpu1 1 1 1 1 1 1 1 1 0 0".to_string()),
        (
            "net/dev",
            "    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0".to_string(),
        ),
        (
            "diskstats",
            " 253 0 vda 1 1 1 1 1 1 1 1 0 1 1 0 0 0 0 0 0".to_string(),
        ),
    ] {
        append(&proc_root, rel, &line);
    }
    let daemon = Daemon::on_roots(&dir, &proc_root, Some(&sys_root), "metrics_cache = 0s");
    for _ in 0..2 {
        let r = daemon.get("/metrics");
        assert_eq!(r.status, 200, "{}", daemon.dump());
        let text = r.body_text();
        let mut seen = std::collections::HashSet::new();
        for series in series_of(&text) {
            assert!(seen.insert(series), "{series} twice in:\n{text}");
        }
        let mut families = std::collections::HashSet::new();
        for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
            assert!(families.insert(family), "# TYPE {family} twice");
        }
        for want in [
            "\nnode_vmstat_pgfault 284412213\n",
            "\nnode_sockstat_TCP_inuse 3\n",
            "\nnode_sockstat_TCP_mem_bytes 0\n",
            "\nnode_softnet_processed_total{cpu=\"1\"} 55584960\n",
            "\nnode_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 33.25\n",
            "\nnode_network_receive_bytes_total{device=\"lo\"} 1016369346\n",
        ] {
            assert!(text.contains(want), "no {want:?} in:\n{text}");
        }
        for (name, fixture_line) in [
            ("node_netstat_TcpExt_ListenDrops", &tcp_ext_header),
            ("node_netstat_Tcp_InSegs", &tcp_header),
        ] {
            let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
            assert!(
                line.is_some_and(|l| !l.ends_with(" 0") && !l.ends_with(" 7")),
                "{name} is not the first line's ({fixture_line}): {line:?}"
            );
        }
        assert!(
            text.contains("\nnode_scrape_collector_success{collector=\"vmstat\"} 1\n"),
            "{text}"
        );
        if have_tool("promtool", "promtool check metrics on repeated /proc lines") {
            assert_promtool_accepts(text.as_bytes());
        }
    }
    let data = daemon.data();
    let names = |list: &str, key: &str| -> Vec<String> {
        let Some(miniserde::json::Value::Array(items)) = field(&data, &[list]) else {
            panic!("no {list} in /data.json")
        };
        items.iter().map(|i| text(i, &[key]).unwrap()).collect()
    };
    assert_eq!(names("network", "device"), ["lo", "ifb0", "ifb1", "eth0"]);
    assert_eq!(names("disk_io", "device"), ["vda"]);
    let Some(miniserde::json::Value::Array(cores)) = field(&data, &["cpu", "cores"]) else {
        panic!("no cpu.cores in /data.json")
    };
    assert_eq!(cores.len(), 2, "cpu1 listed once");
    for file in [
        "proc/vmstat: series `node_vmstat_pgfault`",
        "proc/net/netstat, snmp or snmp6: series `node_netstat_",
        "proc/net/sockstat or sockstat6: series `node_sockstat_",
        "proc/net/softnet_stat: cpu 1 on more than one line",
        "proc/stat: line 11: cpu1 listed before",
        "proc/net/dev: device `lo` on more than one line",
        "proc/diskstats: device `vda` on more than one line",
    ] {
        assert_eq!(daemon.logged(file), 1, "{file}\n{}", daemon.dump());
    }
}
