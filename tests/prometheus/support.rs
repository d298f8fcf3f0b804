//! The real things sysmon stands beside: Debian's node_exporter and a
//! Prometheus server scraping it and sysmon on loopback, each killed on
//! drop; a query client for Prometheus' HTTP API and a parser for the text
//! exposition both exporters serve.
use crate::common::*;
use miniserde::json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process with its command line, killed on drop; its stderr is
/// printed if the test panicked.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    command: String,
    log: std::path::PathBuf,
}

impl Service {
    /// Starts `cmd` with its output in `log`, listening (soon) on `addr`.
    fn spawn(mut cmd: Command, addr: SocketAddr, log: std::path::PathBuf) -> Service {
        let file = std::fs::File::create(&log).unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let command = format!("{cmd:?}");
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        let service = Service {
            child,
            addr,
            command,
            log,
        };
        let listening = wait_for(Duration::from_secs(15), || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .ok()
                .map(|_| ())
        });
        assert!(listening.is_some(), "{} never listened", service.dump());
        service
    }

    /// Fails the test if the process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("exited {status}: {}", self.dump());
        }
    }

    pub fn dump(&self) -> String {
        format!(
            "{}\n--- output\n{}",
            self.command,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
    }
}

fn loopback_port() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

/// Debian's `prometheus-node-exporter` with its default collectors on a
/// loopback port; `None` after a loud SKIPPED when it is not installed.
pub fn node_exporter(dir: &TempDir) -> Option<Service> {
    // The textfile directory is Debian's default; an empty one of ours
    // keeps whatever the host's holds out of the comparison.
    let textfile = dir.join("node-exporter-textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    node_exporter_with(
        dir,
        &[format!(
            "--collector.textfile.directory={}",
            textfile.display()
        )],
    )
}

/// node_exporter's own sysfs fixture (hwmon, thermal, power supplies) and
/// the proc fixture both exporters read beside it.
pub fn sysfs_fixture_roots() -> (std::path::PathBuf, std::path::PathBuf) {
    (fixture("sys/node-exporter/sys"), fixture("proc/basic"))
}

/// node_exporter with only its hwmon, thermal_zone and powersupplyclass
/// collectors, on [`sysfs_fixture_roots`].
pub fn node_exporter_on_sysfs_fixture(dir: &TempDir) -> Option<Service> {
    let (sys_root, proc_root) = sysfs_fixture_roots();
    node_exporter_with(
        dir,
        &[
            format!("--path.sysfs={}", sys_root.display()),
            format!("--path.procfs={}", proc_root.display()),
            "--collector.disable-defaults".into(),
            "--collector.hwmon".into(),
            "--collector.thermal_zone".into(),
            "--collector.powersupplyclass".into(),
        ],
    )
}

/// [`node_exporter`] with `args` (collectors, `--path.sysfs`, ...) in
/// place of its defaults' textfile directory.
pub fn node_exporter_with(dir: &TempDir, args: &[String]) -> Option<Service> {
    node_exporter_via(dir, Command::new("prometheus-node-exporter"), args)
}

/// [`node_exporter_with`] started by `cmd`, a command that ends in
/// `prometheus-node-exporter` (`ip netns exec NAME prometheus-node-exporter`).
pub fn node_exporter_via(dir: &TempDir, mut cmd: Command, args: &[String]) -> Option<Service> {
    if !have_tool(
        "prometheus-node-exporter",
        "node_exporter beside sysmon (Debian package prometheus-node-exporter)",
    ) {
        return None;
    }
    let addr = loopback_port();
    cmd.arg(format!("--web.listen-address={addr}"))
        .args(args)
        .arg("--log.level=warn");
    Some(Service::spawn(cmd, addr, dir.join("node-exporter.log")))
}

/// A Prometheus server scraping each `(job, target)` every second and
/// evaluating the `rules` files every second; `None` after a loud SKIPPED
/// when it is not installed.
pub fn prometheus(
    dir: &TempDir,
    jobs: &[(&str, SocketAddr)],
    rules: &[&std::path::Path],
) -> Option<Service> {
    if !have_tool(
        "prometheus",
        "a real Prometheus server (Debian package prometheus)",
    ) {
        return None;
    }
    let mut yml = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
    );
    if !rules.is_empty() {
        yml.push_str("rule_files:\n");
        for file in rules {
            yml.push_str(&format!("  - '{}'\n", file.display()));
        }
    }
    yml.push_str("scrape_configs:\n");
    for (job, target) in jobs {
        yml.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        ));
    }
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, yml).unwrap();
    let addr = loopback_port();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn");
    Some(Service::spawn(cmd, addr, dir.join("prometheus.log")))
}

/// `s` percent-encoded for a query string (everything but RFC 3986's
/// unreserved characters).
pub fn url_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One series of an instant vector: its labels and its value.
#[derive(Debug)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// `/api/v1/query?query=EXPR` (an instant query, now): the series it
/// returns (a scalar answer counts as one series without labels), or
/// Prometheus' error.
pub fn query(prometheus: SocketAddr, expr: &str) -> Result<Vec<Series>, String> {
    let r = http(
        prometheus,
        &format!(
            "GET /api/v1/query?query={} HTTP/1.0\r\nHost: {prometheus}\r\n\r\n",
            url_encoded(expr)
        ),
    );
    let body = r.body_text();
    if r.status != 200 {
        return Err(format!("HTTP {}: {body}", r.status));
    }
    let answer: Value =
        miniserde::json::from_str(&body).map_err(|e| format!("bad JSON ({e}): {body}"))?;
    let data = field(&answer, &["data"]).ok_or_else(|| body.clone())?;
    let kind = text(data, &["resultType"]).unwrap_or_default();
    let value_of = |pair: &Value| -> f64 {
        match pair {
            Value::Array(a) => match a.get(1) {
                Some(Value::String(s)) => s.parse().unwrap_or(f64::NAN),
                _ => f64::NAN,
            },
            _ => f64::NAN,
        }
    };
    match (kind.as_str(), field(data, &["result"])) {
        ("vector", Some(Value::Array(items))) => Ok(items
            .iter()
            .map(|item| Series {
                labels: match field(item, &["metric"]) {
                    Some(Value::Object(o)) => o
                        .iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::String(s) => s.clone(),
                                other => format!("{other:?}"),
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                    _ => BTreeMap::new(),
                },
                value: field(item, &["value"]).map_or(f64::NAN, value_of),
            })
            .collect()),
        ("scalar", Some(pair)) => Ok(vec![Series {
            labels: BTreeMap::new(),
            value: value_of(pair),
        }]),
        _ => Err(format!("unexpected answer: {body}")),
    }
}

/// Waits (`limit` at most) until every job in `jobs` has been scraped
/// successfully at least `scrapes` times in the last `window`, so that
/// `rate(...[window])` has the two points it needs.
pub fn wait_scraped(
    prometheus: &mut Service,
    jobs: &[&str],
    scrapes: u32,
    window: &str,
    limit: Duration,
) {
    // `up` is 1 for each successful scrape: its sum counts them.
    let expr = format!("sum_over_time(up[{window}])");
    let ready = wait_for(limit, || {
        prometheus.assert_alive();
        std::thread::sleep(Duration::from_millis(200));
        let up = query(prometheus.addr, &expr).ok()?;
        jobs.iter()
            .all(|job| {
                up.iter().any(|s| {
                    s.labels.get("job").map(String::as_str) == Some(*job)
                        && s.value >= f64::from(scrapes)
                })
            })
            .then_some(())
    });
    assert!(
        ready.is_some(),
        "within {limit:?}, not every job of {jobs:?} had {scrapes} good scrapes in {window}: {:?}",
        query(prometheus.addr, "up")
    );
}

/// The text exposition format, parsed: each sample line as the series
/// (`name{labels}` as written, labels sorted) with its value, and each
/// family's `# TYPE`.
#[derive(Debug, Default)]
pub struct Exposition {
    pub samples: BTreeMap<String, f64>,
    pub types: BTreeMap<String, String>,
}

impl Exposition {
    pub fn parse(body: &str) -> Exposition {
        let mut out = Exposition::default();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                out.types.insert(name.to_string(), kind.trim().to_string());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            // The value is the last field after the labels (no timestamps
            // from either exporter).
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line `{line}`"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("bad value in `{line}`: {e}"));
            out.samples.insert(canonical(series), value);
        }
        out
    }

    /// Every series of family `name`: its labels and value.
    pub fn family(&self, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        self.samples
            .iter()
            .filter(|(series, _)| series.split('{').next() == Some(name))
            .map(|(series, v)| (labels_of(series), *v))
            .collect()
    }
}

/// `name{b="2",a="1"}` as `name{a="1",b="2"}`.
fn canonical(series: &str) -> String {
    let Some((name, _)) = series.split_once('{') else {
        return series.to_string();
    };
    let labels = labels_of(series);
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// The labels of `name{a="1",b="2"}` (values kept escaped as written).
pub fn labels_of(series: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let Some((_, rest)) = series.split_once('{') else {
        return labels;
    };
    let mut rest = rest.trim_end_matches('}');
    while let Some((key, after)) = rest.split_once("=\"") {
        // Find the closing quote, skipping escaped ones.
        let bytes = after.as_bytes();
        let mut end = 0;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        labels.insert(
            key.trim_start_matches(',').to_string(),
            after[..end.min(after.len())].to_string(),
        );
        rest = after.get(end + 1..).unwrap_or("");
    }
    labels
}

/// GET /metrics from `addr`, parsed.
pub fn scrape(addr: SocketAddr) -> Exposition {
    let r = http(
        addr,
        &format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n"),
    );
    assert_eq!(r.status, 200, "GET /metrics from {addr}: {}", r.head);
    Exposition::parse(&r.body_text())
}

/// sysmon on the real machine, sampling every second (as the Prometheus
/// scrapes do), no boot jobs.
pub fn sysmon_on_this_machine(dir: &TempDir) -> Daemon {
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 1s");
    Daemon::start(&["--config", config.to_str().unwrap()])
}
