//! Network, disk I/O, pressure, temperatures, CPU frequency and the cgroup
//! v2 container reach /data.json and /metrics with the figures of fixture
//! proc and sys roots, absent sources are left out, the textfile-collector
//! file is written, and a real Prometheus server scrapes sysmon (issue #6).
use crate::common::*;
use miniserde::json::{Number, Value};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start_on_fixtures(dir: &TempDir, extra: &str) -> Daemon {
    let (proc_root, sys_root) = (fixture("proc/container-v2"), fixture("sys/handmade"));
    Daemon::on_roots(dir, &proc_root, Some(&sys_root), extra)
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v {
        Value::Object(o) => o.get(key).unwrap_or_else(|| panic!("no `{key}` in {o:?}")),
        other => panic!("not an object looking for `{key}`: {other:?}"),
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(Number::U64(n)) => *n as f64,
        Value::Number(Number::I64(n)) => *n as f64,
        Value::Number(Number::F64(n)) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

fn text(v: &Value) -> &str {
    match v {
        Value::String(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

fn array(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => panic!("not an array: {other:?}"),
    }
}

/// Column `col` (0-based, after the name) of `name`'s line in a fixture.
fn fixture_column(rel: &str, name: &str, col: usize) -> u64 {
    let body = std::fs::read_to_string(fixture(rel)).unwrap();
    let line = body
        .lines()
        .find(|l| {
            l.split_whitespace()
                .any(|f| f.trim_end_matches(':') == name)
        })
        .unwrap();
    let after = line.split_once(name).unwrap().1.trim_start_matches(':');
    after.split_whitespace().nth(col).unwrap().parse().unwrap()
}

#[test]
fn data_json_has_the_new_objects_from_fixture_roots() {
    let dir = TempDir::new("sources-data");
    let daemon = start_on_fixtures(&dir, "");
    let data = daemon.data();

    let network = array(get(&data, "network"));
    let eth0 = network
        .iter()
        .find(|n| text(get(n, "device")) == "eth0")
        .unwrap_or_else(|| panic!("{network:?}"));
    let rx = fixture_column("proc/container-v2/net/dev", "eth0", 0);
    let tx = fixture_column("proc/container-v2/net/dev", "eth0", 8);
    assert_eq!(num(get(eth0, "rx_bytes")), rx as f64);
    assert_eq!(num(get(eth0, "tx_bytes")), tx as f64);
    // The fixture does not move: no traffic.
    assert_eq!(num(get(eth0, "rx_bytes_per_s")), 0.0);

    let disk_io = array(get(&data, "disk_io"));
    assert_eq!(disk_io.len(), 1, "loop*/zram0 are idle: {disk_io:?}");
    assert_eq!(text(get(&disk_io[0], "device")), "vda");
    assert!(matches!(get(&disk_io[0], "whole_disk"), Value::Bool(true)));

    let temps = array(get(&data, "temperatures"));
    let seen: Vec<(String, String, f64)> = temps
        .iter()
        .map(|t| {
            (
                text(get(t, "chip")).to_string(),
                text(get(t, "sensor")).to_string(),
                num(get(t, "celsius")),
            )
        })
        .collect();
    // Millidegrees in the fixture files / 1000.
    let want = [
        ("acpitz", "temp1", 27.8),
        ("coretemp", "Package id 0", 55.0),
        ("coretemp", "Core 0", 52.0),
        ("thermal_zone0", "x86_pkg_temp", 55.0),
        ("thermal_zone1", "acpitz", -1.5),
    ];
    let want: Vec<(String, String, f64)> = want
        .iter()
        .map(|(c, s, v)| (c.to_string(), s.to_string(), *v))
        .collect();
    assert_eq!(seen, want);

    // pressure/cpu `some avg10=42.09`, pressure/io `full avg10=0.00`.
    let pressure = get(&data, "pressure");
    assert_eq!(num(get(pressure, "cpu_some_avg10")), 42.09);
    assert_eq!(num(get(pressure, "io_some_avg10")), 0.89);
    assert_eq!(num(get(pressure, "io_full_avg10")), 0.0);

    // loadavg `... 9/152 ...`? read it: running from /proc/stat procs_running.
    let loadavg = std::fs::read_to_string(fixture("proc/container-v2/loadavg")).unwrap();
    let total: u64 = loadavg
        .split_whitespace()
        .nth(3)
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let stat = std::fs::read_to_string(fixture("proc/container-v2/stat")).unwrap();
    let running: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("procs_running "))
        .unwrap()
        .parse()
        .unwrap();
    let processes = get(&data, "processes");
    assert_eq!(num(get(processes, "total")), total as f64);
    assert_eq!(num(get(processes, "running")), running as f64);

    // cpufreq 2400000 and 1800000 kHz: mean 2100 MHz.
    assert_eq!(num(get(get(&data, "cpu"), "frequency_mhz")), 2100.0);

    // cpu.max `150000 100000` = 1.5 CPUs; memory.max 536870912, memory.current 140316672.
    let container = get(&data, "container");
    assert_eq!(num(get(container, "cpu_limit_cores")), 1.5);
    assert_eq!(num(get(container, "memory_limit")), 536_870_912.0);
    assert_eq!(num(get(container, "memory_used")), 140_316_672.0);

    let own = get(&data, "self");
    assert!(num(get(own, "rss_bytes")) > 0.0 && num(get(own, "open_fds")) > 2.0);
    assert!(num(get(own, "threads")) >= 1.0);
}

/// Pressure (like sysmon's own footprint) feeds no history and no alert:
/// the loop does not read it at each sample, an answer does, at the first
/// /data.json or /metrics after a sample (issue 16). At `interval = 1h`
/// the only sample is start-up's, yet both answers show the file as it is
/// when asked; after a later sample, a new answer reads it again.
#[test]
fn pressure_is_read_when_an_answer_shows_it() {
    let dir = TempDir::new("sources-on-demand");
    let proc_root = dir.join("proc");
    copy_dir(&fixture("proc/container-v2"), &proc_root);
    let cpu = proc_root.join("pressure/cpu");
    let pressure = |avg10: &str, total_us: u64| {
        let text = format!(
            "some avg10={avg10} avg60=1.00 avg300=1.00 total={total_us}\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        );
        std::fs::write(&cpu, text).unwrap();
    };
    pressure("1.00", 1_000_000);
    let daemon = Daemon::on_roots(
        &dir,
        &proc_root,
        Some(&fixture("sys/handmade")),
        "interval = 1h\n",
    );
    let shown = || {
        let data = daemon.data();
        let metrics = daemon.get("/metrics").body_text();
        let total = metrics
            .lines()
            .find_map(|l| l.strip_prefix("node_pressure_cpu_waiting_seconds_total "))
            .unwrap_or_else(|| panic!("no cpu pressure in:\n{metrics}"))
            .to_string();
        (num(get(get(&data, "pressure"), "cpu_some_avg10")), total)
    };
    pressure("7.25", 5_000_000);
    assert_eq!(shown(), (7.25, "5".to_string()), "{}", daemon.dump());

    pressure("8.50", 6_500_000);
    dir.config("backup = off\nupdate_manager = none\nmounts = /\ninterval = 1s\n");
    daemon.signal(1); // SIGHUP
    assert!(
        daemon.wait_log("configuration reloaded", Duration::from_secs(10)),
        "{}",
        daemon.dump()
    );
    std::thread::sleep(Duration::from_millis(1500)); // a sample at 1 s
    assert_eq!(shown(), (8.5, "6.5".to_string()), "{}", daemon.dump());
}

#[test]
fn data_json_leaves_absent_sources_out() {
    // The VM's own capture: v1 cgroups (no container), an empty sys root.
    let dir = TempDir::new("sources-absent");
    std::fs::create_dir_all(dir.join("sys")).unwrap();
    let sys_root = dir.join("sys");
    let daemon = Daemon::on_roots(&dir, &fixture("proc/basic"), Some(&sys_root), "");
    let data = daemon.data();
    assert!(matches!(get(&data, "container"), Value::Null));
    assert!(matches!(
        get(get(&data, "cpu"), "frequency_mhz"),
        Value::Null
    ));
    assert!(array(get(&data, "temperatures")).is_empty());
    // Without /sys/block/vda, vda is not known as a whole disk.
    let disk_io = array(get(&data, "disk_io"));
    assert!(matches!(get(&disk_io[0], "whole_disk"), Value::Bool(false)));
    let metrics = daemon.get("/metrics").body_text();
    for absent in [
        "node_hwmon",
        "node_thermal",
        "node_cpu_scaling",
        "sysmon_container",
        "node_disk_",
    ] {
        assert!(!metrics.contains(absent), "{absent} in:\n{metrics}");
    }
    assert!(
        daemon.logged("warn") + daemon.logged("error") == 0,
        "{}",
        daemon.dump()
    );
}

#[test]
fn metrics_have_node_exporter_series_for_the_new_sources() {
    let dir = TempDir::new("sources-metrics");
    let daemon = start_on_fixtures(&dir, "");
    let text = daemon.get("/metrics").body_text();
    let rx = fixture_column("proc/container-v2/net/dev", "eth0", 0);
    let sectors_read = fixture_column("proc/container-v2/diskstats", "vda", 2);
    let io_ms = fixture_column("proc/container-v2/diskstats", "vda", 9);
    for want in [
        format!("node_network_receive_bytes_total{{device=\"eth0\"}} {rx}"),
        format!(
            "node_disk_read_bytes_total{{device=\"vda\"}} {}",
            sectors_read * 512
        ),
        format!(
            "node_disk_io_time_seconds_total{{device=\"vda\"}} {}",
            io_ms as f64 / 1000.0
        ),
        // pressure/io full total=4546260 µs
        "node_pressure_io_stalled_seconds_total 4.54626".to_string(),
        "node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 55".to_string(),
        "node_hwmon_chip_names{chip=\"platform_coretemp_0\",chip_name=\"coretemp\"} 1".to_string(),
        "node_thermal_zone_temp{type=\"acpitz\",zone=\"1\"} -1.5".to_string(),
        "node_cpu_scaling_frequency_hertz{cpu=\"1\"} 1800000000".to_string(),
        "sysmon_container_cpu_limit_cores 1.5".to_string(),
        "sysmon_container_memory_limit_bytes 536870912".to_string(),
        "# TYPE node_network_transmit_drop_total counter".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "missing `{want}` in:\n{text}"
        );
    }
    // Only whole disks, like node_exporter's default exclusion.
    assert!(!text.contains("device=\"loop0\""));

    if !have_tool(
        "promtool",
        "promtool check metrics (Debian package prometheus)",
    ) {
        return;
    }
    assert_promtool_accepts(text.as_bytes());
}

#[test]
fn textfile_gets_sysmons_own_series_atomically() {
    let dir = TempDir::new("sources-textfile");
    let collector = dir.join("textfile");
    std::fs::create_dir_all(&collector).unwrap();
    let prom = collector.join("sysmon.prom");
    let daemon = start_on_fixtures(&dir, &format!("textfile_path = {}", prom.display()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !prom.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let body = std::fs::read_to_string(&prom)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", prom.display(), daemon.dump()));
    assert!(body.contains("\nsysmon_build_info{version=\""), "{body}");
    assert!(body.contains("\nsysmon_backup_running 0\n"), "{body}");
    assert!(
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.starts_with("sysmon_")),
        "only sysmon's own series:\n{body}"
    );
    let mode = std::fs::metadata(&prom).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let names: Vec<_> = std::fs::read_dir(&collector)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["sysmon.prom"], "no temp file left behind");
}

/// Prometheus, killed on drop.
struct Prometheus(Child);
impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `/api/v1/query?query=EXPR`: the answer, when it has at least one series.
fn query(addr: std::net::SocketAddr, expr: &str) -> Option<Value> {
    // Not listening yet (common::http treats that as a test failure).
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    let r = http(
        addr,
        &format!("GET /api/v1/query?query={expr} HTTP/1.0\r\nHost: {addr}\r\n\r\n"),
    );
    if r.status != 200 {
        return None;
    }
    let v: Value = miniserde::json::from_str(&r.body_text()).ok()?;
    (!result(&v).is_empty()).then_some(v)
}

fn result(answer: &Value) -> &[Value] {
    array(get(get(answer, "data"), "result"))
}

#[test]
fn a_real_prometheus_scrapes_sysmon() {
    if !have_tool(
        "prometheus",
        "a real Prometheus server (Debian package prometheus)",
    ) {
        return;
    }
    let dir = TempDir::new("sources-prometheus");
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 1s");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let port = free_port();
    let yml = dir.join("prometheus.yml");
    std::fs::write(
        &yml,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sysmon\n    static_configs:\n      - targets: ['{}']\n",
            daemon.addr
        ),
    )
    .unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", yml.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let command = format!("{cmd:?}");
    let mut prometheus = Prometheus(cmd.spawn().expect("start prometheus"));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // New targets reach the scraper only every ~5 s (TESTING.md).
    let wanted = [
        "up",
        "node_memory_MemTotal_bytes",
        "sysmon_build_info",
        "node_network_receive_bytes_total",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut missing: Vec<&str> = wanted.to_vec();
    while !missing.is_empty() && Instant::now() < deadline {
        if let Ok(Some(status)) = prometheus.0.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(prometheus.0.stderr.as_mut().unwrap(), &mut err);
            panic!("{command} exited {status}:\n{err}");
        }
        missing.retain(|expr| {
            let Some(answer) = query(addr, expr) else {
                return true;
            };
            if *expr == "up" {
                // value: [timestamp, "1"]
                return text(&array(get(&result(&answer)[0], "value"))[1]) != "1";
            }
            false
        });
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        missing.is_empty(),
        "Prometheus never returned {missing:?} ({command}); sysmon:\n{}",
        daemon.dump()
    );
    let mem = query(addr, "node_memory_MemTotal_bytes").unwrap();
    let job = text(get(get(&result(&mem)[0], "metric"), "job"));
    assert_eq!(job, "sysmon");
}

/// A source that cannot be parsed at a sample keeps its last good figures
/// for the dashboard, and says so: /data.json lists `FILE: line N: why` in
/// `source_errors`, and /metrics leaves that collector's series out with
/// `node_scrape_collector_success` 0 (node_exporter's failed collector),
/// where the build before served the stale figures as live with success
/// 1. Both come back when the file does.
#[test]
fn a_source_that_fails_is_named_and_its_stale_figures_stay_out_of_metrics() {
    let dir = TempDir::new("sources-failing");
    let proc_root = dir.join("proc");
    copy_dir(&fixture("proc/container-v2"), &proc_root);
    let daemon = Daemon::on_roots(
        &dir,
        &proc_root,
        Some(&fixture("sys/handmade")),
        "interval = 1s\nmetrics_cache = 0s\n",
    );
    let success = |metrics: &str, collector: &str| {
        let head = format!("node_scrape_collector_success{{collector=\"{collector}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(head.as_str()))
            .unwrap_or_else(|| panic!("no {head} in:\n{metrics}"))
            .to_string()
    };
    let errors = |data: &Value| -> Vec<String> {
        array(get(data, "source_errors"))
            .iter()
            .map(|e| text(e).to_string())
            .collect()
    };
    assert!(errors(&daemon.data()).is_empty(), "{}", daemon.dump());
    let originals: Vec<(std::path::PathBuf, Vec<u8>)> = ["stat", "loadavg", "net/dev", "diskstats"]
        .iter()
        .map(|f| {
            let path = proc_root.join(f);
            let text = std::fs::read(&path).unwrap();
            (path, text)
        })
        .collect();
    for (path, _) in &originals {
        std::fs::write(path, "cpu 1 2\nx y\n").unwrap();
    }
    let broken = wait_for(Duration::from_secs(10), || {
        let data = daemon.data();
        (errors(&data).len() == 4).then_some(data)
    })
    .unwrap_or_else(|| panic!("{:?}\n{}", errors(&daemon.data()), daemon.dump()));
    let listed = errors(&broken);
    for (file, why) in [
        ("stat", "line 1:"),
        ("loadavg", ""),
        ("net/dev", ""),
        ("diskstats", ""),
    ] {
        let path = proc_root.join(file).display().to_string();
        assert!(
            listed
                .iter()
                .any(|e| e.starts_with(&format!("{path}: {why}"))),
            "{file}: {listed:?}"
        );
    }
    // The dashboard keeps the last good figures meanwhile.
    assert!(num(get(get(&broken, "cpu"), "percent")) >= 0.0);
    let metrics = daemon.get("/metrics").body_text();
    for (collector, family) in [
        ("cpu", "node_cpu_seconds_total"),
        ("stat", "node_boot_time_seconds"),
        ("loadavg", "node_load1"),
        ("netdev", "node_network_receive_bytes_total"),
        ("diskstats", "node_disk_reads_completed_total"),
    ] {
        assert_eq!(success(&metrics, collector), "0", "{collector}");
        assert!(
            !metrics.lines().any(|l| l.starts_with(family)),
            "{family} shown while its source fails"
        );
    }
    assert_eq!(success(&metrics, "meminfo"), "1");
    for (path, text) in &originals {
        std::fs::write(path, text).unwrap();
    }
    assert!(
        wait_for(Duration::from_secs(10), || errors(&daemon.data())
            .is_empty()
            .then_some(()))
        .is_some(),
        "{}",
        daemon.dump()
    );
    let metrics = daemon.get("/metrics").body_text();
    for collector in ["cpu", "stat", "loadavg", "netdev", "diskstats"] {
        assert_eq!(success(&metrics, collector), "1", "{collector}");
    }
    assert!(metrics.contains("node_load1 "), "{metrics}");
}

/// A source that fails one way and then another reports the failure it
/// has now in /data.json's `source_errors` (before, the first stayed: a
/// /proc/stat cut at line 1, then broken at line 2, still said line 1),
/// while the log says it once, when the failing starts, and again only
/// after it recovered and failed anew.
#[test]
fn a_failing_source_reports_its_current_error_and_logs_once() {
    let dir = TempDir::new("sources-failing-changes");
    let proc_root = dir.join("proc");
    copy_dir(&fixture("proc/container-v2"), &proc_root);
    let stat = proc_root.join("stat");
    let good = std::fs::read(&stat).unwrap();
    let daemon = Daemon::on_roots(
        &dir,
        &proc_root,
        Some(&fixture("sys/handmade")),
        "interval = 200ms\n",
    );
    let errors = |data: &Value| -> Vec<String> {
        array(get(data, "source_errors"))
            .iter()
            .map(|e| text(e).to_string())
            .collect()
    };
    let until = |what: &str, want: &[String]| {
        wait_for(Duration::from_secs(10), || {
            (errors(&daemon.data()) == want).then_some(())
        })
        .unwrap_or_else(|| {
            let got = errors(&daemon.data());
            panic!("never {what}: {want:?}, but {got:?}\n{}", daemon.dump())
        });
    };
    until("readable", &[]);
    let first = format!(
        "{}: line 1: cpu line has fewer than 4 columns",
        stat.display()
    );
    let then = format!("{}: line 2: bad cpu number", stat.display());
    std::fs::write(&stat, "cpu 1 2\n").unwrap();
    until("the first error", std::slice::from_ref(&first));
    std::fs::write(&stat, "cpu 1 2 3 4\ncpuX 1 2 3 4\n").unwrap();
    until("the error it has now", std::slice::from_ref(&then));
    assert_eq!(daemon.logged(&first), 1, "{}", daemon.dump());
    assert_eq!(daemon.logged(&then), 0, "{}", daemon.dump());
    std::fs::write(&stat, &good).unwrap();
    until("readable again", &[]);
    std::fs::write(&stat, "cpu 1 2 3 4\ncpuX 1 2 3 4\n").unwrap();
    until("failing anew", std::slice::from_ref(&then));
    assert_eq!(daemon.logged(&first), 1, "{}", daemon.dump());
    assert_eq!(daemon.logged(&then), 1, "{}", daemon.dump());
    let again = format!("{}: readable again", stat.display());
    assert_eq!(daemon.logged(&again), 1, "{}", daemon.dump());
}

/// A /proc/pressure file that is there but not understood (a `some` line
/// of garbage, then a share of 250 %) is a failing source like the others:
/// /data.json's `source_errors` names the file and what is wrong, the
/// dashboard keeps the last good figure, /metrics leaves the pressure
/// group out with `node_scrape_collector_success` 0, and the log says it
/// once; an absent file (io here) stays silent. Before, the figure became
/// null with no word anywhere, and 250 % was served.
#[test]
fn a_pressure_file_there_but_not_understood_is_a_source_error() {
    let dir = TempDir::new("sources-pressure-bad");
    let proc_root = dir.join("proc");
    copy_dir(&fixture("proc/container-v2"), &proc_root);
    let _ = std::fs::remove_file(proc_root.join("pressure/io"));
    let write = |rel: &str, some_avg10: &str| {
        let text = format!(
            "some avg10={some_avg10} avg60=1.00 avg300=1.00 total=1000000\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        );
        std::fs::write(proc_root.join(rel), text).unwrap();
    };
    write("pressure/cpu", "3.00");
    write("pressure/memory", "2.00");
    let daemon = Daemon::on_roots(
        &dir,
        &proc_root,
        Some(&fixture("sys/handmade")),
        "interval = 200ms\nmetrics_cache = 0s\n",
    );
    let errors = |data: &miniserde::json::Value| -> Vec<String> {
        match get(data, "source_errors") {
            miniserde::json::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    miniserde::json::Value::String(s) => s.clone(),
                    other => panic!("{other:?}"),
                })
                .collect(),
            other => panic!("source_errors: {other:?}"),
        }
    };
    // Polled: the files are read on demand, once per sample.
    let until = |what: &str, check: &dyn Fn(&miniserde::json::Value, &str) -> bool| {
        wait_for(std::time::Duration::from_secs(10), || {
            let data = daemon.data();
            let metrics = daemon.get("/metrics").body_text();
            check(&data, &metrics).then_some(())
        })
        .unwrap_or_else(|| panic!("never {what}:\n{}", daemon.dump()));
    };
    until("good", &|data, metrics| {
        errors(data).is_empty()
            && num(get(get(data, "pressure"), "cpu_some_avg10")) == 3.0
            && metrics.contains("\nnode_scrape_collector_success{collector=\"pressure\"} 1\n")
    });

    std::fs::write(proc_root.join("pressure/cpu"), "some avg10=x\n").unwrap();
    let cpu_error = format!(
        "{}: line 1: expected avg10= avg60= avg300= total=",
        proc_root.join("pressure/cpu").display()
    );
    until("the cpu file named", &|data, metrics| {
        errors(data) == [cpu_error.clone()]
            && num(get(get(data, "pressure"), "cpu_some_avg10")) == 3.0
            && metrics.contains("\nnode_scrape_collector_success{collector=\"pressure\"} 0\n")
            && !metrics.contains("\nnode_pressure_")
    });

    write("pressure/cpu", "3.00");
    until("the cpu file good again", &|data, _| {
        errors(data).is_empty()
    });
    write("pressure/memory", "250.00");
    let memory_error = format!(
        "{}: a `some` average outside 0..=100 %",
        proc_root.join("pressure/memory").display()
    );
    until("the memory file named", &|data, _| {
        errors(data) == [memory_error.clone()]
            && num(get(get(data, "pressure"), "memory_some_avg10")) == 2.0
    });

    write("pressure/memory", "2.50");
    until("all good again", &|data, metrics| {
        errors(data).is_empty()
            && num(get(get(data, "pressure"), "memory_some_avg10")) == 2.5
            && metrics.contains("\nnode_pressure_memory_waiting_seconds_total 1\n")
    });
    assert_eq!(daemon.logged(&cpu_error), 1, "{}", daemon.dump());
    assert_eq!(daemon.logged(&memory_error), 1, "{}", daemon.dump());
    assert_eq!(daemon.logged("pressure/io"), 0, "{}", daemon.dump());
}
