//! node_exporter's families beyond the dashboard's (issue 12), each checked
//! against its fixture read independently here or against the machine:
//! `node_uname_info` as uname(1) says, `node_os_info`/`node_os_version` from
//! a fixture root's os-release (re-read when it changes), every
//! /proc/meminfo field, vmstat/netstat/sockstat/filefd/entropy/intr with
//! node_exporter's filters, softnet/conntrack/arp/udp queues, /sys/class/net,
//! every /proc/net/dev and /proc/diskstats column, filesystem inodes and
//! read-only state, timex and cpufreq limits; a malformed table drops its
//! own families and nothing else.
use crate::common::*;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The daemon on the `basic` /proc fixture with `root_fs` for os-release,
/// rendering every scrape (the tests change files between scrapes).
fn start(dir: &TempDir, root_fs: &std::path::Path) -> Daemon {
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /\nmetrics_cache = 0s");
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

/// `Proto: names` / `Proto: values` pairs of a fixture, naively, as
/// `Proto_Name -> value`.
fn fixture_pairs(rel: &str) -> Vec<(String, i64)> {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for pair in lines.chunks(2) {
        let names: Vec<&str> = pair[0].split_whitespace().collect();
        let values: Vec<&str> = pair[1].split_whitespace().collect();
        for (n, v) in names[1..].iter().zip(&values[1..]) {
            let proto = names[0].trim_end_matches(':');
            out.push((format!("{proto}_{n}"), v.parse().unwrap()));
        }
    }
    let snmp6 = std::fs::read_to_string(fixture("proc/basic/net/snmp6")).unwrap();
    if rel.ends_with("snmp") {
        for line in snmp6.lines() {
            let mut cols = line.split_whitespace();
            let (key, value) = (cols.next().unwrap(), cols.next().unwrap());
            let six = key.find('6').unwrap();
            out.push((
                format!("{}_{}", &key[..=six], &key[six + 1..]),
                value.parse().unwrap(),
            ));
        }
    }
    out
}

#[test]
fn kernel_tables_follow_node_exporters_names_and_filters() {
    let dir = TempDir::new("node-kernel");
    let daemon = start(&dir, &fixture("rootfs/debian12"));
    let text = metrics(&daemon);
    let value_of = |name: &str| -> String {
        let lines = lines_of(&text, name);
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        lines[0].rsplit(' ').next().unwrap().to_string()
    };
    let type_of = |name: &str| -> String {
        let prefix = format!("# TYPE {name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no TYPE for {name}"))
            .to_string()
    };
    // vmstat: exactly what node_exporter 1.5 exported on the machine the
    // fixture was captured on, untyped, with the fixture's values.
    let vmstat = std::fs::read_to_string(fixture("proc/basic/vmstat")).unwrap();
    let mut got: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("node_vmstat_"))
        .collect();
    got.sort();
    let mut want: Vec<String> = [
        "oom_kill",
        "pgfault",
        "pgmajfault",
        "pgpgin",
        "pgpgout",
        "pswpin",
        "pswpout",
    ]
    .iter()
    .map(|k| {
        let v = vmstat
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")))
            .unwrap();
        format!("node_vmstat_{k} {v}")
    })
    .collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(type_of("node_vmstat_pgfault"), "untyped");

    // netstat: node_exporter 1.5's series on that machine plus the two its
    // later filter added, values from the fixtures read naively.
    let mut fixture_values = fixture_pairs("proc/basic/net/netstat");
    fixture_values.extend(fixture_pairs("proc/basic/net/snmp"));
    let names = [
        "Icmp6_InErrors",
        "Icmp6_InMsgs",
        "Icmp6_OutMsgs",
        "Icmp_InErrors",
        "Icmp_InMsgs",
        "Icmp_OutMsgs",
        "Ip6_InOctets",
        "Ip6_OutOctets",
        "IpExt_InOctets",
        "IpExt_OutOctets",
        "Ip_Forwarding",
        "TcpExt_ListenDrops",
        "TcpExt_ListenOverflows",
        "TcpExt_SyncookiesFailed",
        "TcpExt_SyncookiesRecv",
        "TcpExt_SyncookiesSent",
        "TcpExt_TCPOFOQueue",
        "TcpExt_TCPRcvQDrop",
        "TcpExt_TCPSynRetrans",
        "TcpExt_TCPTimeouts",
        "Tcp_ActiveOpens",
        "Tcp_CurrEstab",
        "Tcp_InErrs",
        "Tcp_InSegs",
        "Tcp_OutRsts",
        "Tcp_OutSegs",
        "Tcp_PassiveOpens",
        "Tcp_RetransSegs",
        "Udp6_InDatagrams",
        "Udp6_InErrors",
        "Udp6_NoPorts",
        "Udp6_OutDatagrams",
        "Udp6_RcvbufErrors",
        "Udp6_SndbufErrors",
        "UdpLite6_InErrors",
        "UdpLite_InErrors",
        "Udp_InDatagrams",
        "Udp_InErrors",
        "Udp_NoPorts",
        "Udp_OutDatagrams",
        "Udp_RcvbufErrors",
        "Udp_SndbufErrors",
    ];
    let mut got: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("node_netstat_"))
        .collect();
    got.sort();
    let mut want: Vec<String> = names
        .iter()
        .map(|n| {
            let v = fixture_values.iter().find(|(k, _)| k == n).unwrap().1;
            format!("node_netstat_{n} {v}")
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(text.contains(
        "# HELP node_netstat_Tcp_InSegs Statistic TcpInSegs.\n# TYPE node_netstat_Tcp_InSegs untyped\n"
    ));

    // sockstat: every pair of both files, `mem` also in bytes.
    let page: u64 = String::from_utf8(
        Command::new("getconf")
            .arg("PAGESIZE")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    for file in ["sockstat", "sockstat6"] {
        let body = std::fs::read_to_string(fixture(&format!("proc/basic/net/{file}"))).unwrap();
        for line in body.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let proto = cols[0].trim_end_matches(':');
            for kv in cols[1..].chunks(2) {
                let name = format!("node_sockstat_{proto}_{}", kv[0]);
                assert_eq!(value_of(&name), kv[1], "{name}");
                assert_eq!(type_of(&name), "gauge");
                if kv[0] == "mem" {
                    let bytes = kv[1].parse::<u64>().unwrap() * page;
                    assert_eq!(value_of(&format!("{name}_bytes")), bytes.to_string());
                }
            }
        }
    }

    // filefd, entropy, intr.
    let file_nr = std::fs::read_to_string(fixture("proc/basic/sys/fs/file-nr")).unwrap();
    let cols: Vec<&str> = file_nr.split_whitespace().collect();
    assert_eq!(value_of("node_filefd_allocated"), cols[0]);
    assert_eq!(value_of("node_filefd_maximum"), cols[2]);
    let read = |rel: &str| {
        std::fs::read_to_string(fixture(rel))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        value_of("node_entropy_available_bits"),
        read("proc/basic/sys/kernel/random/entropy_avail")
    );
    assert_eq!(
        value_of("node_entropy_pool_size_bits"),
        read("proc/basic/sys/kernel/random/poolsize")
    );
    let stat = read("proc/basic/stat");
    let intr = stat
        .lines()
        .find_map(|l| l.strip_prefix("intr "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let intr: f64 = intr.parse().unwrap();
    assert_eq!(value_of("node_intr_total"), intr.to_string());
    assert_eq!(type_of("node_intr_total"), "counter");
    if have_tool("promtool", "the exposition's lint") {
        assert_promtool_accepts(text.as_bytes());
    }
}

#[test]
fn softnet_conntrack_and_arp_as_node_exporter_names_them() {
    let dir = TempDir::new("node-net");
    let daemon = start(&dir, &fixture("rootfs/debian12"));
    let text = metrics(&daemon);
    // softnet: every CPU's line, hexadecimal, the CPU from the index column.
    let softnet = std::fs::read_to_string(fixture("proc/basic/net/softnet_stat")).unwrap();
    for line in softnet.lines() {
        let cols: Vec<u64> = line
            .split_whitespace()
            .map(|c| u64::from_str_radix(c, 16).unwrap())
            .collect();
        let cpu = cols[12];
        for (name, col) in [
            ("node_softnet_processed_total", 0),
            ("node_softnet_dropped_total", 1),
            ("node_softnet_times_squeezed_total", 2),
            ("node_softnet_cpu_collision_total", 8),
            ("node_softnet_received_rps_total", 9),
            ("node_softnet_flow_limit_count_total", 10),
            ("node_softnet_backlog_len", 11),
        ] {
            let want = format!("{name}{{cpu=\"{cpu}\"}} {}", cols[col]);
            assert!(text.lines().any(|l| l == want), "no `{want}`");
        }
    }
    assert!(text.contains("# TYPE node_softnet_processed_total counter\n"));
    assert!(text.contains("# TYPE node_softnet_backlog_len gauge\n"));
    let read = |rel: &str| {
        std::fs::read_to_string(fixture(rel))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(
        lines_of(&text, "node_nf_conntrack_entries"),
        [format!(
            "node_nf_conntrack_entries {}",
            read("proc/basic/sys/net/netfilter/nf_conntrack_count")
        )]
    );
    assert_eq!(
        lines_of(&text, "node_nf_conntrack_entries_limit"),
        [format!(
            "node_nf_conntrack_entries_limit {}",
            read("proc/basic/sys/net/netfilter/nf_conntrack_max")
        )]
    );
    // net/stat/nf_conntrack: each column summed over the two CPU lines.
    for (name, sum) in [
        ("drop", 2),
        ("early_drop", 0),
        ("found", 0x2a + 0x10),
        ("ignore", 0x110 + 0xf0),
        ("insert", 0),
        ("insert_failed", 1),
        ("invalid", 3),
        ("search_restart", 4),
    ] {
        let name = format!("node_nf_conntrack_stat_{name}");
        assert_eq!(lines_of(&text, &name), [format!("{name} {sum}")], "{text}");
        assert!(text.contains(&format!("# TYPE {name} gauge\n")), "{name}");
    }
    // udp_queues: the fixture's queued datagrams (3 × 0x340 on v4, 0x340 on v6).
    for (ip, rx) in [("v4", 3 * 0x340), ("v6", 0x340)] {
        for (queue, v) in [("rx", rx), ("tx", 0)] {
            let want = format!("node_udp_queues{{ip=\"{ip}\",queue=\"{queue}\"}} {v}");
            assert!(text.lines().any(|l| l == want), "no `{want}`");
        }
    }
    // The fixture's one neighbour, on eth0.
    assert_eq!(
        lines_of(&text, "node_arp_entries"),
        ["node_arp_entries{device=\"eth0\"} 1"]
    );
}

/// `UDP: inuse 0` in net/sockstat (`UDP6: inuse 0` in sockstat6) is the
/// kernel saying its table lists no socket of that family: the queue sums
/// are 0 and net/udp (whose read walks the whole UDP hash table) is not
/// read. Here the tables still list the fixture's queued datagrams, which
/// a real kernel would count, so the 0s show they were not read; with a
/// count above 0 (the fixture as captured: 2) they are.
#[test]
fn udp_tables_are_not_read_when_sockstat_counts_no_udp_socket() {
    let dir = TempDir::new("node-udp-inuse");
    let root = copy_fixture(&dir, "proc/basic", "proc");
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /\nmetrics_cache = 0s");
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.to_str().unwrap(),
    ]);
    let queues = |text: &str| -> Vec<String> {
        lines_of(text, "node_udp_queues")
            .into_iter()
            .map(String::from)
            .collect()
    };
    let read_all = [
        "node_udp_queues{ip=\"v4\",queue=\"rx\"} 2496",
        "node_udp_queues{ip=\"v4\",queue=\"tx\"} 0",
        "node_udp_queues{ip=\"v6\",queue=\"rx\"} 832",
        "node_udp_queues{ip=\"v6\",queue=\"tx\"} 0",
    ];
    assert_eq!(queues(&metrics(&daemon)), read_all);
    let edit = |file: &str, from: &str, to: &str| {
        let path = root.join("net").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}: {text}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    // No IPv4 socket: v4 sums 0 without reading net/udp; v6 still read.
    edit("sockstat", "UDP: inuse 2 ", "UDP: inuse 0 ");
    let text = metrics(&daemon);
    assert!(text.contains("\nnode_sockstat_UDP_inuse 0\n"), "{text}");
    assert_eq!(
        queues(&text),
        [
            "node_udp_queues{ip=\"v4\",queue=\"rx\"} 0",
            "node_udp_queues{ip=\"v4\",queue=\"tx\"} 0",
            read_all[2],
            read_all[3],
        ]
    );
    // Neither family: all four 0, the family and its success still there.
    edit("sockstat6", "UDP6: inuse 2\n", "UDP6: inuse 0\n");
    let text = metrics(&daemon);
    assert_eq!(
        queues(&text),
        read_all.map(|l| format!("{} 0", l.rsplit_once(' ').unwrap().0))
    );
    assert!(text.contains("node_scrape_collector_success{collector=\"udp_queues\"} 1\n"));
    // The count is this scrape's: sockets again, tables read again.
    edit("sockstat", "UDP: inuse 0 ", "UDP: inuse 1 ");
    edit("sockstat6", "UDP6: inuse 0\n", "UDP6: inuse 1\n");
    assert_eq!(queues(&metrics(&daemon)), read_all);
    // A missing table is no family, as before, whatever sockstat says.
    edit("sockstat", "UDP: inuse 1 ", "UDP: inuse 0 ");
    std::fs::remove_file(root.join("net/udp")).unwrap();
    drop(daemon);
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.to_str().unwrap(),
    ]);
    let text = metrics(&daemon);
    assert!(queues(&text).is_empty(), "{text}");
    assert!(text.contains("node_scrape_collector_success{collector=\"udp_queues\"} 0\n"));
}

/// The table families (meminfo, vmstat, net/netstat, net/snmp, net/snmp6,
/// net/sockstat) reuse each series' HELP/TYPE/name from the last scrape
/// while the table has the same line at the same place
/// (`src/metrics/heads.rs`). Lines inserted, renamed and removed under a
/// running daemon must give, at the next scrape, exactly what a daemon
/// started afresh on the changed files gives (the naive oracle).
#[test]
fn table_families_follow_lines_added_renamed_and_removed_under_a_running_daemon() {
    let dir = TempDir::new("node-table-heads");
    let root = copy_fixture(&dir, "proc/basic", "proc");
    // Sampled every 200 ms: the netdev families come from the sample.
    let config = dir.config(
        "backup = off\nupdate_manager = none\nmounts = /\nmetrics_cache = 0s\ninterval = 200ms",
    );
    // The fresh daemon runs beside the first: a state_dir of its own (one
    // state_dir is one daemon, src/statelock.rs), the rest the same.
    let fresh_config = dir.join("fresh.conf");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("/state\n"), "{text}");
    std::fs::write(&fresh_config, text.replace("/state\n", "/state-fresh\n")).unwrap();
    let start_with = |config: &std::path::Path| {
        Daemon::start(&[
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            root.to_str().unwrap(),
        ])
    };
    let start = || start_with(&config);
    let tables = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                [
                    "node_memory_",
                    "node_vmstat_",
                    "node_netstat_",
                    "node_sockstat_",
                    "node_network_receive_",
                    "node_network_transmit_",
                ]
                .iter()
                .any(|f| l.contains(f))
                    && !l.contains("nohandler")
            })
            .map(String::from)
            .collect()
    };
    let running = start();
    let before = tables(&metrics(&running));
    assert!(
        before
            .iter()
            .any(|l| l == "node_memory_Active_anon_bytes 1585152")
    );
    assert!(before.iter().any(|l| l == "node_vmstat_pgfault 284412213"));
    // Twice, so the second scrape is served from the kept heads.
    assert_eq!(tables(&metrics(&running)), before);
    let edit = |file: &str, from: &str, to: &str| {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}: {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    // meminfo: a field inserted, one renamed (same length), one gone, a
    // kB field that becomes a count (the `_bytes` suffix goes); none of
    // the sampler's ten, whose absence would fail the sample.
    edit("meminfo", "MemFree:", "NewField:       12 kB\nMemFree:");
    edit("meminfo", "Active(anon):", "Active(anom):");
    edit("meminfo", "Mlocked:           10392 kB\n", "");
    edit(
        "meminfo",
        "Unevictable:       11316 kB",
        "Unevictable:       11316",
    );
    // vmstat: a kept name renamed, a kept line inserted.
    edit("vmstat", "pgfault 284412213", "pgfaulz 284412213");
    edit("vmstat", "pgpgin 8922545", "pgpgin 8922545\npgpgzz 5");
    // snmp6: a kept name renamed into another kept one's place.
    edit("net/snmp6", "Udp6InErrors", "Udp6NoPorts2");
    // sockstat: `mem` (which adds a `_bytes` series) renamed.
    edit("net/sockstat", "UDP: inuse 2 mem 0", "UDP: inuse 2 mex 0");
    // net/dev (the sample's): an interface renamed.
    edit("net/dev", "ifb1:", "ifb9:");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let changed = loop {
        let text = tables(&metrics(&running));
        if text.iter().any(|l| l.contains("device=\"ifb9\"")) {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "net/dev not sampled again"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let fresh = start_with(&fresh_config);
    assert_eq!(changed, tables(&metrics(&fresh)));
    assert_ne!(changed, before);
    for line in [
        "node_memory_NewField_bytes 12288",
        "node_memory_Active_anom_bytes 1585152",
        "node_memory_Unevictable 11316",
        "node_vmstat_pgpgzz 5",
        "node_sockstat_UDP_mex 0",
    ] {
        assert!(changed.iter().any(|l| l == line), "{line} missing");
    }
    for gone in [
        "node_memory_Mlocked_bytes",
        "node_vmstat_pgfault ",
        "node_sockstat_UDP_mem",
    ] {
        assert!(
            !changed.iter().any(|l| l.contains(gone)),
            "{gone}: {changed:?}"
        );
    }
    // And back: the first text again.
    drop(fresh);
    // (Written over in place: the daemon keeps the files open.)
    for file in ["meminfo", "vmstat", "net/snmp6", "net/sockstat", "net/dev"] {
        std::fs::copy(fixture("proc/basic").join(file), root.join(file)).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tables(&metrics(&running)) != before {
        assert!(
            std::time::Instant::now() < deadline,
            "not the first text again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The entropy pool's size is a constant of the running kernel (4096 bits
/// before Linux 5.18, 256 since): read at the first scrape, then kept,
/// while `entropy_avail` is read at each.
#[test]
fn entropy_pool_size_is_read_once() {
    let dir = TempDir::new("node-poolsize");
    let root = copy_fixture(&dir, "proc/basic", "proc");
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /\nmetrics_cache = 0s");
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.to_str().unwrap(),
    ]);
    let random = root.join("sys/kernel/random");
    assert_eq!(
        std::fs::read_to_string(random.join("poolsize")).unwrap(),
        "256\n"
    );
    let text = metrics(&daemon);
    assert!(
        text.contains("\nnode_entropy_pool_size_bits 256\n"),
        "{text}"
    );
    std::fs::write(random.join("poolsize"), "4096\n").unwrap();
    std::fs::write(random.join("entropy_avail"), "17\n").unwrap();
    let text = metrics(&daemon);
    assert!(
        text.contains("\nnode_entropy_pool_size_bits 256\n"),
        "{text}"
    );
    assert!(
        text.contains("\nnode_entropy_available_bits 17\n"),
        "{text}"
    );
}

#[test]
fn arp_entries_are_counted_per_device() {
    // A copy of the basic fixture with a busier ARP table.
    let dir = TempDir::new("node-arp");
    let root = copy_fixture(&dir, "proc/basic", "proc");
    std::fs::write(
        root.join("net/arp"),
        "IP address       HW type     Flags       HW address            Mask     Device\n\
         10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0\n\
         10.1.0.1 0x1 0x2 aa:bb:cc:dd:ee:01 * br-lan\n\
         10.0.0.2 0x1 0x0 00:00:00:00:00:00 * eth0\n\
         10.1.0.2 0x1 0x2 aa:bb:cc:dd:ee:02 * br-lan\n\
         10.1.0.3 0x1 0x2 aa:bb:cc:dd:ee:03 * br-lan\n",
    )
    .unwrap();
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /");
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(
        lines_of(&metrics(&daemon), "node_arp_entries"),
        [
            "node_arp_entries{device=\"eth0\"} 2",
            "node_arp_entries{device=\"br-lan\"} 3"
        ]
    );
}

#[test]
fn sys_class_net_properties_as_node_exporter_names_them() {
    let dir = TempDir::new("node-netclass");
    let daemon = Daemon::on_roots(
        &dir,
        &fixture("proc/container-v2"),
        Some(&fixture("sys/handmade")),
        "",
    );
    let text = metrics(&daemon);
    // The fixture's /proc/net/dev lists lo, ifb0, ifb1 and eth0; ifb1 has
    // no directory under class/net, so it has none of these series.
    for want in [
        "node_network_up{device=\"eth0\"} 1",
        "node_network_up{device=\"lo\"} 0",
        "node_network_up{device=\"ifb0\"} 0",
        "node_network_carrier{device=\"eth0\"} 1",
        "node_network_carrier{device=\"lo\"} 1",
        "node_network_mtu_bytes{device=\"eth0\"} 1400",
        "node_network_mtu_bytes{device=\"lo\"} 65536",
        // speed -1 ("unknown") times 125000, as node_exporter reports it.
        "node_network_speed_bytes{device=\"eth0\"} -125000",
        "node_network_flags{device=\"eth0\"} 4099",
        "node_network_carrier_changes_total{device=\"eth0\"} 2",
        "node_network_transmit_queue_length{device=\"eth0\"} 1000",
        "node_network_info{address=\"02:fc:00:00:00:01\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0\",duplex=\"unknown\",ifalias=\"\",operstate=\"up\"} 1",
    ] {
        assert!(text.lines().any(|l| l == want), "no `{want}` in:\n{text}");
    }
    assert!(!text.contains("device=\"ifb1\",duplex"), "{text}");
    assert!(!text.contains("node_network_up{device=\"ifb1\"}"), "{text}");
    // statistics/rx_nohandler (since Linux 4.6), node_exporter's netdev
    // figure that /proc/net/dev lacks: eth0 has the file, the others not.
    assert_eq!(
        lines_of(&text, "node_network_receive_nohandler_total"),
        ["node_network_receive_nohandler_total{device=\"eth0\"} 17"],
        "{text}"
    );
    assert!(text.contains("# TYPE node_network_receive_nohandler_total counter\n"));
    // Unreadable attributes are left out, not zero.
    assert!(
        lines_of(&text, "node_network_speed_bytes").len() == 1,
        "{text}"
    );
    assert!(!text.contains("node_network_carrier{device=\"ifb0\"}"));
    for (name, kind) in [
        ("node_network_carrier_changes_total", "counter"),
        ("node_network_mtu_bytes", "gauge"),
        ("node_network_up", "gauge"),
    ] {
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
    }
    if have_tool("promtool", "the exposition's lint") {
        assert_promtool_accepts(text.as_bytes());
    }
}

/// The `openat` calls of the daemon's loop thread during two scrapes, from
/// `strace` (None when strace cannot be had: the caller prints SKIPPED).
fn opens_during_two_scrapes(daemon: &Daemon, dir: &TempDir) -> Option<String> {
    if !have_tool("strace", "the files a scrape opens") {
        return None;
    }
    let log = dir.join("opens.strace");
    // The loop's thread only (no -f): the pid is the main thread's id.
    let mut strace = Command::new("strace")
        .args(["-qq", "-e", "trace=openat", "-o"])
        .arg(&log)
        .args(["-p", &daemon.pid().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("strace");
    std::thread::sleep(Duration::from_millis(700));
    metrics(daemon);
    metrics(daemon);
    std::thread::sleep(Duration::from_millis(200));
    // SIGINT: strace detaches and flushes its log.
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    let _ = strace.wait();
    Some(std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn an_interface_without_a_sysfs_directory_costs_no_failed_opens_and_shows_once_it_has_one() {
    // /proc/net/dev lists lo, ifb0, ifb1 and eth0; the /sys copy has no
    // class/net/ifb1. Its 23 files were each tried at every scrape (92 a
    // scrape on a fixture root without class/net, such as the bench's
    // sensor tree); one stat of the directory says none can open.
    let dir = TempDir::new("node-netclass-missing-dir");
    let sys = copy_fixture(&dir, "sys/handmade", "sys");
    let daemon = Daemon::on_roots(
        &dir,
        &fixture("proc/container-v2"),
        Some(&sys),
        "metrics_cache = 0s",
    );
    let text = metrics(&daemon);
    assert!(!text.contains("node_network_up{device=\"ifb1\"}"), "{text}");
    if let Some(opens) = opens_during_two_scrapes(&daemon, &dir) {
        let ifb1 = opens
            .lines()
            .filter(|l| l.contains("/class/net/ifb1/"))
            .count();
        assert_eq!(ifb1, 0, "files of a missing directory opened:\n{opens}");
        assert!(
            opens.lines().count() > 0,
            "strace saw no open at all: not attached?\n{opens}"
        );
    }
    // The directory appears under the running daemon: read at the next
    // scrape, as the files would be.
    let copied = Command::new("cp")
        .arg("-r")
        .arg(sys.join("class/net/ifb0"))
        .arg(sys.join("class/net/ifb1"))
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::write(sys.join("class/net/ifb1/mtu"), "1234\n").unwrap();
    std::fs::write(sys.join("class/net/ifb1/operstate"), "up\n").unwrap();
    let text = metrics(&daemon);
    for want in [
        "node_network_mtu_bytes{device=\"ifb1\"} 1234",
        "node_network_up{device=\"ifb1\"} 1",
    ] {
        assert!(text.lines().any(|l| l == want), "no `{want}` in:\n{text}");
    }
}

#[test]
fn every_proc_net_dev_column_is_a_counter() {
    let dir = TempDir::new("node-netdev");
    // A copy of the basic fixture whose eth0 line has a distinct figure in
    // every column, so a column read into the wrong family shows.
    let root = copy_fixture(&dir, "proc/basic", "proc");
    std::fs::write(
        root.join("net/dev"),
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n  \
         eth0: 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116\n",
    )
    .unwrap();
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /");
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.to_str().unwrap(),
    ]);
    let text = metrics(&daemon);
    for (i, family) in [
        "receive_bytes",
        "receive_packets",
        "receive_errs",
        "receive_drop",
        "receive_fifo",
        "receive_frame",
        "receive_compressed",
        "receive_multicast",
        "transmit_bytes",
        "transmit_packets",
        "transmit_errs",
        "transmit_drop",
        "transmit_fifo",
        "transmit_colls",
        "transmit_carrier",
        "transmit_compressed",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("node_network_{family}_total");
        assert_eq!(
            lines_of(&text, &name),
            [format!("{name}{{device=\"eth0\"}} {}", 101 + i)],
        );
        assert!(text.contains(&format!("# TYPE {name} counter\n")), "{name}");
    }
}

#[test]
fn every_diskstats_field_of_whole_disks() {
    let dir = TempDir::new("node-disk");
    let daemon = Daemon::on_roots(
        &dir,
        &fixture("proc/container-v2"),
        Some(&fixture("sys/handmade")),
        "",
    );
    let text = metrics(&daemon);
    // vda's line in the fixture (kernel 6.18: 17 fields), read naively.
    let diskstats = std::fs::read_to_string(fixture("proc/container-v2/diskstats")).unwrap();
    let f: Vec<f64> = diskstats
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("vda"))
        .unwrap()
        .split_whitespace()
        .skip(3)
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(f.len(), 17);
    for (name, kind, want) in [
        ("node_disk_reads_completed_total", "counter", f[0]),
        ("node_disk_reads_merged_total", "counter", f[1]),
        ("node_disk_read_bytes_total", "counter", f[2] * 512.0),
        (
            "node_disk_read_time_seconds_total",
            "counter",
            f[3] / 1000.0,
        ),
        ("node_disk_writes_completed_total", "counter", f[4]),
        ("node_disk_writes_merged_total", "counter", f[5]),
        ("node_disk_written_bytes_total", "counter", f[6] * 512.0),
        (
            "node_disk_write_time_seconds_total",
            "counter",
            f[7] / 1000.0,
        ),
        ("node_disk_io_now", "gauge", f[8]),
        ("node_disk_io_time_seconds_total", "counter", f[9] / 1000.0),
        (
            "node_disk_io_time_weighted_seconds_total",
            "counter",
            f[10] / 1000.0,
        ),
        ("node_disk_discards_completed_total", "counter", f[11]),
        ("node_disk_discards_merged_total", "counter", f[12]),
        ("node_disk_discarded_sectors_total", "counter", f[13]),
        (
            "node_disk_discard_time_seconds_total",
            "counter",
            f[14] / 1000.0,
        ),
        ("node_disk_flush_requests_total", "counter", f[15]),
        (
            "node_disk_flush_requests_time_seconds_total",
            "counter",
            f[16] / 1000.0,
        ),
    ] {
        assert_eq!(
            lines_of(&text, name),
            [format!("{name}{{device=\"vda\"}} {want}")],
            "{name}"
        );
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
    }
}

/// `node_disk_info`: the device number from /sys/block/<disk>/dev, the
/// other labels from udev's database under `--root-fs` as node_exporter
/// reads them, or, without it, what sysfs says (here the virtio serial).
/// The labels are kept between readings, which come every 100 scrapes.
#[test]
fn disk_info_from_udev_data_or_sysfs() {
    let dir = TempDir::new("node-disk-info");
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /\nmetrics_cache = 0s");
    let root_fs = dir.join("root");
    let udev = root_fs.join("run/udev/data");
    std::fs::create_dir_all(&udev).unwrap();
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        fixture("proc/container-v2").to_str().unwrap(),
        "--sys-root",
        fixture("sys/handmade").to_str().unwrap(),
        "--root-fs",
        root_fs.to_str().unwrap(),
    ]);
    let from_sysfs = [
        "node_disk_info{device=\"vda\",major=\"254\",minor=\"0\",path=\"\",wwn=\"\",model=\"\",serial=\"sysmon-vda-0001\",revision=\"\"} 1",
    ];
    let text = metrics(&daemon);
    assert_eq!(lines_of(&text, "node_disk_info"), from_sysfs, "{text}");
    assert!(text.contains("\n# TYPE node_disk_info gauge\n"), "{text}");
    // A udev record appears (the layout of /run/udev/data/b254:0 on
    // Debian 12): the kept line is served until the labels are read again.
    std::fs::write(
        udev.join("b254:0"),
        "S:disk/by-path/pci-0000:00:05.0\nW:3\nI:1834524\nE:ID_PATH=pci-0000:00:05.0\n\
         E:ID_MODEL=QEMU_HARDDISK\nE:ID_SERIAL_SHORT=udev-0002\nE:ID_REVISION=2.5+\n\
         E:ID_WWN=0x5000c500a1b2c3d4\nG:systemd\n",
    )
    .unwrap();
    let text = metrics(&daemon);
    assert_eq!(lines_of(&text, "node_disk_info"), from_sysfs, "{text}");
    let from_udev = [
        "node_disk_info{device=\"vda\",major=\"254\",minor=\"0\",path=\"pci-0000:00:05.0\",wwn=\"0x5000c500a1b2c3d4\",model=\"QEMU_HARDDISK\",serial=\"udev-0002\",revision=\"2.5+\"} 1",
    ];
    let text = (0..100)
        .map(|_| metrics(&daemon))
        .find(|text| lines_of(text, "node_disk_info") == from_udev)
        .expect("the udev record was never read");
    if have_tool("promtool", "the exposition's lint") {
        assert_promtool_accepts(text.as_bytes());
    }
}

/// A disk's labels from sysfs are read once for its device number:
/// virtio-blk's `serial` is a request to the device (a VM exit, ~70 µs) at
/// every read. A serial that changes under the same number is not seen
/// through any number of scrapes (the udev record is still looked for
/// every 100); a new number (another disk under the name) reads it again.
#[test]
fn disk_sysfs_labels_are_read_once_per_device_number() {
    let dir = TempDir::new("node-disk-serial");
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /\nmetrics_cache = 0s");
    let sys = dir.join("sys");
    let copied = Command::new("cp")
        .args([
            "-a",
            fixture("sys/handmade").to_str().unwrap(),
            sys.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(copied.success());
    let root_fs = dir.join("root");
    std::fs::create_dir_all(root_fs.join("run/udev/data")).unwrap();
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        fixture("proc/container-v2").to_str().unwrap(),
        "--sys-root",
        sys.to_str().unwrap(),
        "--root-fs",
        root_fs.to_str().unwrap(),
    ]);
    let line = |minor: u32, serial: &str| {
        format!(
            "node_disk_info{{device=\"vda\",major=\"254\",minor=\"{minor}\",path=\"\",wwn=\"\",model=\"\",serial=\"{serial}\",revision=\"\"}} 1"
        )
    };
    let first = line(0, "sysmon-vda-0001");
    assert_eq!(
        lines_of(&metrics(&daemon), "node_disk_info"),
        [first.as_str()]
    );
    std::fs::write(sys.join("block/vda/serial"), "changed-0002\n").unwrap();
    for _ in 0..250 {
        let text = metrics(&daemon);
        assert_eq!(
            lines_of(&text, "node_disk_info"),
            [first.as_str()],
            "{text}"
        );
    }
    std::fs::write(sys.join("block/vda/dev"), "254:16\n").unwrap();
    let second = line(16, "changed-0002");
    (0..101)
        .map(|_| metrics(&daemon))
        .find(|text| lines_of(text, "node_disk_info") == [second.as_str()])
        .expect("the new device number's labels were never read");
}

#[test]
fn filesystem_inodes_readonly_and_device_error() {
    let dir = TempDir::new("node-fs");
    let daemon = start(&dir, &fixture("rootfs/debian12"));
    let text = metrics(&daemon);
    let of = |name: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains("mountpoint=\"/\"}"))
            .unwrap_or_else(|| panic!("no {name} for / in:\n{text}"));
        line.rsplit(' ').next().unwrap().to_string()
    };
    // statfs(2) as coreutils' stat reports it: total inodes are fixed.
    let out = Command::new("stat")
        .args(["-f", "-c", "%c", "/"])
        .output()
        .unwrap();
    let total = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(of("node_filesystem_files"), total);
    let free: u64 = of("node_filesystem_files_free").parse().unwrap();
    assert!(free <= total.parse().unwrap());
    assert_eq!(of("node_filesystem_readonly"), "0");
    assert_eq!(of("node_filesystem_device_error"), "0");
    for name in [
        "node_filesystem_files",
        "node_filesystem_files_free",
        "node_filesystem_readonly",
        "node_filesystem_device_error",
    ] {
        assert!(text.contains(&format!("# TYPE {name} gauge\n")), "{name}");
    }
}

/// A read-only tmpfs with a fixed inode count, mounted in a private mount
/// namespace (root only): readonly 1, files as mounted.
#[test]
fn a_read_only_mount_is_readonly_with_its_inode_count() {
    if !is_root("mounting a read-only tmpfs in a private namespace") {
        return;
    }
    let dir = TempDir::new("node-fs-ro");
    let ro = dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let ns = MountNamespace::new(
        &dir,
        &format!(
            "mount -t tmpfs -o ro,size=1m,nr_inodes=1000 tmpfs {}",
            ro.display()
        ),
    );
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nmounts = {}",
        ro.display()
    ));
    let daemon = Daemon::spawn(ns.command(
        BIN,
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    ));
    let text = metrics(&daemon);
    let series = |name: &str| {
        format!(
            "{name}{{device=\"tmpfs\",fstype=\"tmpfs\",mountpoint=\"{}\"}}",
            ro.display()
        )
    };
    for (name, want) in [
        ("node_filesystem_readonly", "1"),
        ("node_filesystem_files", "1000"),
        ("node_filesystem_device_error", "0"),
    ] {
        let want = format!("{} {want}", series(name));
        assert!(text.lines().any(|l| l == want), "no `{want}` in:\n{text}");
    }
}

#[test]
fn timex_families_from_adjtimex() {
    let dir = TempDir::new("node-timex");
    let daemon = start(&dir, &fixture("rootfs/debian12"));
    let text = metrics(&daemon);
    let counters = [
        "node_timex_pps_jitter_total",
        "node_timex_pps_calibration_total",
        "node_timex_pps_error_total",
        "node_timex_pps_stability_exceeded_total",
    ];
    let gauges = [
        "node_timex_sync_status",
        "node_timex_offset_seconds",
        "node_timex_frequency_adjustment_ratio",
        "node_timex_maxerror_seconds",
        "node_timex_estimated_error_seconds",
        "node_timex_status",
        "node_timex_loop_time_constant",
        "node_timex_tick_seconds",
        "node_timex_pps_frequency_hertz",
        "node_timex_pps_jitter_seconds",
        "node_timex_pps_shift_seconds",
        "node_timex_pps_stability_hertz",
        "node_timex_tai_offset_seconds",
    ];
    for (names, kind) in [(&counters[..], "counter"), (&gauges[..], "gauge")] {
        for name in names {
            assert_eq!(lines_of(&text, name).len(), 1, "{name}");
            assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
        }
    }
    // The clock tick is 1/USER_HZ seconds.
    let hz: f64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert_eq!(
        lines_of(&text, "node_timex_tick_seconds"),
        [format!("node_timex_tick_seconds {}", 1e6 / hz / 1e6)]
    );
    let sync = lines_of(&text, "node_timex_sync_status")[0];
    assert!(sync.ends_with(" 0") || sync.ends_with(" 1"), "{sync}");
}

#[test]
fn a_malformed_table_drops_its_families_and_nothing_else() {
    let dir = TempDir::new("node-bad-table");
    let root = copy_fixture(&dir, "proc/basic", "proc");
    // A value that is not a number in the last line of net/snmp (after the
    // whole of net/netstat was good), and in the middle of vmstat.
    let snmp = std::fs::read_to_string(root.join("net/snmp")).unwrap();
    std::fs::write(root.join("net/snmp"), format!("{}x\n", snmp.trim_end())).unwrap();
    let vmstat = std::fs::read_to_string(root.join("vmstat")).unwrap();
    std::fs::write(
        root.join("vmstat"),
        vmstat.replacen("pgfault ", "pgfault x", 1),
    )
    .unwrap();
    let config = dir.config("backup = off\nupdate_manager = none\nmounts = /");
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.to_str().unwrap(),
    ]);
    let text = metrics(&daemon);
    // netstat's series (written before snmp failed) are taken back, and
    // snmp6 is not read: node_exporter's netstat collector fails whole.
    assert!(!text.contains("node_netstat_"), "{text}");
    assert!(!text.contains("node_vmstat_"), "vmstat is all or nothing");
    // The rest is untouched.
    assert!(text.contains("\nnode_sockstat_TCP_inuse "));
    assert!(text.contains("\nnode_memory_MemTotal_bytes "));
    if have_tool("promtool", "the exposition's lint") {
        assert_promtool_accepts(text.as_bytes());
    }
}

#[test]
fn cpufreq_limits_per_cpu() {
    let dir = TempDir::new("node-cpufreq");
    let daemon = Daemon::on_roots(
        &dir,
        &fixture("proc/container-v2"),
        Some(&fixture("sys/handmade")),
        "",
    );
    let text = metrics(&daemon);
    // The fixture's kHz figures, in Hz, for both CPUs.
    for (name, hz) in [
        ("node_cpu_frequency_max_hertz", 4_200_000_000u64),
        ("node_cpu_frequency_min_hertz", 400_000_000),
        ("node_cpu_scaling_frequency_max_hertz", 3_400_000_000),
        ("node_cpu_scaling_frequency_min_hertz", 800_000_000),
    ] {
        assert_eq!(
            lines_of(&text, name),
            [
                format!("{name}{{cpu=\"0\"}} {hz}"),
                format!("{name}{{cpu=\"1\"}} {hz}")
            ]
        );
        assert!(text.contains(&format!("# TYPE {name} gauge\n")), "{name}");
    }
}
