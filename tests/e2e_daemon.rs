//! Issue #2 end to end: the real binary on a fixture /proc, over real TCP.
//!
//! Expected figures are worked out from tests/fixtures/proc/debian12-vm-2core
//! (`basic`) by hand; the arithmetic is in the comments. Nothing here calls
//! sysmon's library to get an expected value.

mod common;

use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use miniserde::json::{Number, Value};

const KIB: u64 = 1024;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `a.b.c` (and `a.0` for array elements) inside a JSON value.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, key| match v {
        Value::Object(o) => o.get(key).unwrap_or_else(|| panic!("no `{key}` in {path}")),
        Value::Array(a) => {
            &a[key
                .parse::<usize>()
                .unwrap_or_else(|_| panic!("`{key}` is not an index in {path}"))]
        }
        _ => panic!("`{key}` of {path}: not an object or array"),
    })
}

fn int(v: &Value, path: &str) -> u64 {
    match at(v, path) {
        Value::Number(Number::U64(n)) => *n,
        other => panic!("{path} is not an unsigned integer: {other:?}"),
    }
}

fn num(v: &Value, path: &str) -> f64 {
    match at(v, path) {
        Value::Number(Number::U64(n)) => *n as f64,
        Value::Number(Number::I64(n)) => *n as f64,
        Value::Number(Number::F64(n)) => *n,
        other => panic!("{path} is not a number: {other:?}"),
    }
}

fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    match at(v, path) {
        Value::String(s) => s,
        other => panic!("{path} is not a string: {other:?}"),
    }
}

fn len(v: &Value, path: &str) -> usize {
    match at(v, path) {
        Value::Array(a) => a.len(),
        other => panic!("{path} is not an array: {other:?}"),
    }
}

/// The shape of a JSON document: every key path with the kind of its value
/// (arrays described by their first element), to compare two schemas.
fn shape(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter() {
                shape(child, &format!("{prefix}.{k}"), out);
            }
        }
        Value::Array(a) => {
            out.push(format!("{prefix}: array"));
            if let Some(first) = a.first() {
                shape(first, &format!("{prefix}[]"), out);
            }
        }
        Value::Null => out.push(format!("{prefix}: null")),
        Value::Bool(_) => out.push(format!("{prefix}: bool")),
        Value::Number(_) => out.push(format!("{prefix}: number")),
        Value::String(_) => out.push(format!("{prefix}: string")),
    }
}

fn parse_json(body: &str) -> Value {
    miniserde::json::from_str(body).unwrap_or_else(|e| panic!("bad JSON ({e}): {body}"))
}

/// The figures of `basic` (tests/fixtures/proc/debian12-vm-2core), as both
/// /data.json and `sysmon sample` must show them.
fn check_basic_fixture_values(data: &Value, started: u64) {
    assert_eq!(text(data, "version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(text(data, "hostname"), "vm");
    let time = int(data, "time");
    assert!(
        (started..=unix_now()).contains(&time),
        "time {time} outside the test's run"
    );
    // uptime 479.76 s -> one decimal.
    assert_eq!(num(data, "uptime_s"), 479.8);
    assert_eq!(
        [
            num(data, "load.0"),
            num(data, "load.1"),
            num(data, "load.2")
        ],
        [1.07, 0.63, 0.26]
    );

    // Memory: MemTotal 24684084 kB, MemAvailable 24152916 kB.
    assert_eq!(int(data, "memory.total"), 24_684_084 * KIB);
    assert_eq!(int(data, "memory.available"), 24_152_916 * KIB);
    // used = 24684084 - 24152916 = 531168 kB; 531168 / 24684084 = 2.1519 % -> 2.2.
    assert_eq!(int(data, "memory.used"), 531_168 * KIB);
    assert_eq!(num(data, "memory.percent"), 2.2);
    // Buffers 6912 + Cached 1152508 + SReclaimable 81784 = 1241204 kB.
    assert_eq!(int(data, "memory.buffers_cached"), 1_241_204 * KIB);
    assert_eq!(
        (
            int(data, "memory.swap_total"),
            int(data, "memory.swap_used")
        ),
        (0, 0)
    );

    // CPU since boot (the files do not change, so every interval is empty):
    // `cpu  6355 345 4164 84226 349 0 75 13 0 0`
    // busy = 6355+345+4164+0+75+13 = 10952; total = 10952+84226+349 = 95527;
    // 10952/95527 = 11.4648 % -> 11.5; iowait 349/95527 = 0.365 % -> 0.4;
    // steal 13/95527 = 0.014 % -> 0.0.
    assert_eq!(num(data, "cpu.percent"), 11.5);
    assert_eq!(num(data, "cpu.iowait_percent"), 0.4);
    assert_eq!(num(data, "cpu.steal_percent"), 0.0);
    assert_eq!(len(data, "cpu.cores"), 2);
    assert_eq!(
        (int(data, "cpu.cores.0.id"), int(data, "cpu.cores.1.id")),
        (0, 1)
    );
    // cpu0 busy 3030+111+1806+12+3 = 4962 of 4962+42748+41 = 47751: 10.39 % -> 10.4;
    //      iowait 41/47751 = 0.086 % -> 0.1.
    // cpu1 busy 3325+233+2357+63+10 = 5988 of 5988+41478+307 = 47773: 12.53 % -> 12.5;
    //      iowait 307/47773 = 0.64 % -> 0.6.
    assert_eq!(
        (
            num(data, "cpu.cores.0.percent"),
            num(data, "cpu.cores.0.iowait_percent")
        ),
        (10.4, 0.1)
    );
    assert_eq!(
        (
            num(data, "cpu.cores.1.percent"),
            num(data, "cpu.cores.1.iowait_percent")
        ),
        (12.5, 0.6)
    );

    // `mounts = /`: the fixture names /dev/vda (ext4) on /; the sizes are this
    // machine's (statvfs of /), checked against df in tests/sampler/accuracy.rs.
    assert_eq!(len(data, "disks"), 1);
    assert_eq!(
        (
            text(data, "disks.0.mount"),
            text(data, "disks.0.fs"),
            text(data, "disks.0.device")
        ),
        ("/", "ext4", "/dev/vda")
    );
    let (total, used, available) = (
        int(data, "disks.0.total"),
        int(data, "disks.0.used"),
        int(data, "disks.0.available"),
    );
    assert!(
        total > 0 && used <= total && available <= total - used,
        "{total} {used} {available}"
    );
    assert!(int(data, "disks.0.percent") <= 100);

    assert_eq!(text(data, "backup.state"), "disabled");
    assert_eq!(text(data, "updates.state"), "disabled");
}

fn quiet_config(dir: &TempDir) -> std::path::PathBuf {
    // interval 1h: a single sample for the whole test, so GET and HEAD see the same document.
    dir.config("backup = off\nupdate_manager = none\nmounts = /\ninterval = 1h")
}

#[test]
fn serves_page_json_head_404_405_from_a_fixture() {
    let started = unix_now();
    let dir = TempDir::new("e2e-serve");
    let config = quiet_config(&dir);
    let proc_root = fixture("proc/basic");
    let mut daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        proc_root.to_str().unwrap(),
    ]);

    let page = daemon.get("/");
    assert_eq!(page.status, 200, "{}", daemon.dump());
    assert_eq!(
        page.header("Content-Type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = page
        .header("Content-Security-Policy")
        .expect("CSP on the page");
    assert!(
        csp.contains("default-src 'none'"),
        "CSP not restrictive: {csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "CSP allows framing: {csp}"
    );
    let html = page.body_text().to_ascii_lowercase();
    assert!(
        html.starts_with("<!doctype html"),
        "{}",
        &html[..html.len().min(100)]
    );
    assert!(
        html.contains("data.json"),
        "the page does not fetch /data.json"
    );

    let json = daemon.get("/data.json");
    assert_eq!(json.status, 200);
    assert_eq!(
        json.header("Content-Type").as_deref(),
        Some("application/json")
    );
    assert_eq!(json.header("Cache-Control").as_deref(), Some("no-store"));
    let data = parse_json(&json.body_text());
    check_basic_fixture_values(&data, started);
    // The query string is ignored.
    assert_eq!(daemon.get("/data.json?t=123").body, json.body);

    // HEAD: same status and headers, no body.
    for (path, got) in [("/data.json", &json), ("/", &page)] {
        let head = http(
            daemon.addr,
            &format!("HEAD {path} HTTP/1.0\r\nHost: localhost\r\n\r\n"),
        );
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(
            head.body.is_empty(),
            "HEAD {path} sent {} body bytes",
            head.body.len()
        );
        for name in ["Content-Type", "Cache-Control", "Content-Security-Policy"] {
            assert_eq!(head.header(name), got.header(name), "HEAD {path}: {name}");
        }
        // The length of the body a GET would have sent.
        assert_eq!(
            head.header("Content-Length"),
            Some(got.body.len().to_string()),
            "HEAD {path}: Content-Length"
        );
    }

    for path in ["/nope", "/data.json/", "/../etc/passwd", "/index.htm"] {
        assert_eq!(daemon.get(path).status, 404, "GET {path}");
    }
    for request in [
        "POST /data.json HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        "PUT / HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        "DELETE /data.json HTTP/1.0\r\n\r\n",
    ] {
        let r = http(daemon.addr, request);
        assert_eq!(r.status, 405, "{request:?}: {}", r.head);
        let allow = r.header("Allow").unwrap_or_default();
        assert!(
            allow.contains("GET") && allow.contains("HEAD"),
            "{request:?}: Allow = {allow:?}"
        );
    }

    daemon.signal(15);
    let status = daemon
        .wait_exit(Duration::from_secs(1))
        .expect("exits within 1 s of SIGTERM");
    assert!(status.success(), "{status:?}\n{}", daemon.dump());
}

#[test]
fn sigterm_and_sigint_exit_zero_within_one_second() {
    for signal in [15, 2] {
        let dir = TempDir::new("e2e-signal");
        let config = quiet_config(&dir);
        let proc_root = fixture("proc/basic");
        let mut daemon = Daemon::start(&[
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            proc_root.to_str().unwrap(),
        ]);
        // Busy with a client first, so the loop is really running.
        assert_eq!(daemon.get("/data.json").status, 200);
        let sent = Instant::now();
        daemon.signal(signal);
        let status = daemon.wait_exit(Duration::from_secs(1));
        let status = status.unwrap_or_else(|| {
            panic!("still running 1 s after signal {signal}\n{}", daemon.dump())
        });
        assert!(
            status.success(),
            "signal {signal}: {status:?}\n{}",
            daemon.dump()
        );
        eprintln!("signal {signal}: exited 0 after {:?}", sent.elapsed());
    }
}

/// Runs a command that must finish by itself; kills it after `limit`.
fn run_limited(mut cmd: Command, limit: Duration) -> (Option<ExitStatus>, Output) {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "ran {shown}: {status:?}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (status, out)
}

#[test]
fn bad_config_exits_2_with_file_and_line_and_writes_nothing() {
    // (name, extra config lines, what stderr must say; `{}` is the config path)
    // The three lines TempDir::config writes come first, so extra line 1 is line 4.
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown-key",
            "backup = on\nbackup_source = /etc\nfrobnicate = 1",
            "{}:6: unknown key `frobnicate`",
        ),
        (
            "bad-interval",
            "interval = 5 parsecs\nbackup = on\nbackup_source = /etc",
            "{}:4: interval",
        ),
        ("bad-switch", "backup = sometimes", "{}:4: backup"),
        ("bad-listen", "listen = localhost", "{}:4: listen"),
        (
            "repeated-key",
            "interval = 5s\ninterval = 10s",
            "{}:5: `interval` is already set",
        ),
        (
            "no-equals",
            "backup_source /etc",
            "{}:4: expected `key = value`",
        ),
        // Issue 11: checks across keys name the line that completes the
        // conflict, and a duration that overflows is refused.
        (
            "cross-key",
            "auth_user = admin\ninterval = 5s",
            "{}:4: auth_user and auth_password_file go together",
        ),
        (
            "cross-key-later",
            "update_command = /bin/true\ninterval = 5s\nupdate_manager = apt",
            "{}:6: update_command is set but update_manager = apt",
        ),
        (
            "overflowing-duration",
            "update_every = 18446744073709551615ms",
            "{}:4: update_every: `18446744073709551615ms` is too long",
        ),
        // A mount point listed twice gave every node_filesystem_* series
        // twice (Prometheus refuses the scrape); a later `auto` dropped the
        // points; a source listed twice was archived twice more.
        (
            "mount-listed-twice",
            "mounts = /\nmounts = /tmp/..",
            "{}:5: mounts: `/tmp/..` is `/`, already listed on line 4",
        ),
        (
            "mounts-auto-after-points",
            "mounts = /\nmounts = auto",
            "{}:5: mounts: `auto` after mount points (from line 4)",
        ),
        // A wildcard beside an address of its family on the same port
        // passed check-config and failed at run's second bind (EADDRINUSE).
        (
            "listen-overlap",
            "listen = 0.0.0.0:8080\ninterval = 5s\nlisten = 127.0.0.1:8080",
            "{}:6: listen: `127.0.0.1:8080` overlaps `0.0.0.0:8080` on line 4: \
             0.0.0.0:8080 takes port 8080 on every IPv4 address",
        ),
        // A path key took a word of another key as a path: `off` made a
        // directory named `off`.
        (
            "path-keyword",
            "backup_source = off",
            "{}:4: backup_source: `off` is a word of this file, not a path: \
             backup_source takes a folder to archive; to turn the backup off",
        ),
        (
            "backup-source-listed-twice",
            "backup_source = /etc\nbackup_source = /etc/",
            "{}:5: backup_source: `/etc/` is `/etc`, already listed on line 4",
        ),
    ];
    for &(name, extra, expected) in cases {
        let dir = TempDir::new(&format!("e2e-badconf-{name}"));
        let config = dir.config(extra);
        let config_str = config.to_str().unwrap();
        let expected = expected.replace("{}", config_str);
        // `--listen` replaces the file's `listen` lines, which are then
        // not checked (run_listen_does_not_check_the_files_listen_lines_it_replaces):
        // `run` meets those only without it (refused before any bind).
        let run = match name {
            "listen-overlap" => vec!["run", "--config", config_str],
            _ => vec!["run", "--listen", "127.0.0.1:0", "--config", config_str],
        };
        for args in [
            run,
            vec!["sample", "--config", config_str],
            vec!["check-config", "--config", config_str],
        ] {
            let (status, out) = run_limited(sysmon(&args), Duration::from_secs(10));
            let status =
                status.unwrap_or_else(|| panic!("{name}: `sysmon {}` kept running", args[0]));
            assert_eq!(status.code(), Some(2), "{name}: sysmon {}", args[0]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&expected),
                "{name}: stderr lacks {expected:?}:\n{stderr}"
            );
            assert!(out.stdout.is_empty(), "{name}: printed on stdout");
            // The backup, log and state dirs the file names were not created.
            for sub in ["backups", "logs", "state"] {
                assert!(
                    !dir.join(sub).exists(),
                    "{name}: sysmon {} created {sub}",
                    args[0]
                );
            }
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, ["sysmon.conf"], "{name}: files appeared");
        }
    }

    // Unreadable: a directory, and a file that does not exist.
    let dir = TempDir::new("e2e-badconf-unreadable");
    for target in [dir.path().to_path_buf(), dir.join("missing.conf")] {
        let target_str = target.to_str().unwrap();
        let (status, out) = run_limited(
            sysmon(&["run", "--listen", "127.0.0.1:0", "--config", target_str]),
            Duration::from_secs(10),
        );
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{target_str}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{target_str}: cannot read")),
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "files appeared"
    );
}

/// `run --listen` replaces the file's addresses and was not checked as the
/// file's `listen` lines are: `--listen 0.0.0.0:P --listen 127.0.0.1:P`
/// bound the first and failed at the second (exit 1, "Address already in
/// use"), and one socket path twice failed as "another process answers on
/// this socket". Refused before anything is bound, naming both values.
#[test]
fn run_refuses_listen_arguments_that_cannot_both_be_bound() {
    let dir = TempDir::new("e2e-listen-arguments-overlap");
    let config = quiet_config(&dir);
    let port = free_port();
    let wildcard = format!("0.0.0.0:{port}");
    let loopback = format!("127.0.0.1:{port}");
    let socket = dir.join("sysmon.sock");
    let socket = socket.to_str().unwrap();
    for (first, second, why) in [
        (
            wildcard.as_str(),
            loopback.as_str(),
            format!(
                "0.0.0.0:{port} takes port {port} on every IPv4 address, \
                 so the second bind fails (address in use)"
            ),
        ),
        (socket, socket, "the same unix socket twice".to_string()),
    ] {
        let args = [
            "run",
            "--listen",
            first,
            "--listen",
            second,
            "--config",
            config.to_str().unwrap(),
        ];
        let (status, out) = run_limited(sysmon(&args), Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{first} {second}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = format!("--listen `{second}` overlaps --listen `{first}`: {why}");
        assert!(stderr.contains(&expected), "lacks {expected:?}:\n{stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
        assert!(
            !std::path::Path::new(socket).exists(),
            "the socket was made"
        );
    }
}

/// `run --listen` replaces the file's `listen` lines, yet the file's were
/// still checked: two that cannot both be bound, or one address listed
/// twice, stopped `run --listen 127.0.0.1:0` (exit 2), and a reload of
/// such a file was refused, though neither binds them. The command line's
/// addresses are checked (above); the file's lines draw a warning at their
/// line that they are replaced, at start and on reload. `check-config`,
/// which has no `--listen`, still refuses them.
#[test]
fn run_listen_does_not_check_the_files_listen_lines_it_replaces() {
    let dir = TempDir::new("e2e-listen-replaces-file");
    let port = free_port();
    let proc_root = fixture("proc/basic");
    for lines in [
        format!("listen = 0.0.0.0:{port}\nlisten = 127.0.0.1:{port}"),
        format!("listen = 127.0.0.1:{port}\nlisten = 127.0.0.1:{port}"),
    ] {
        // Lines 1-3 are the directories `dir.config` writes; `listen`
        // is on lines 8 and 9.
        let config = dir.config(&format!(
            "backup = off\nupdate_manager = none\nmounts = /\ninterval = 1h\n{lines}"
        ));
        let config = config.to_str().unwrap();
        let out = run(sysmon(&["check-config", "--config", config]));
        assert_eq!(out.status.code(), Some(2), "{lines}");
        let daemon = Daemon::start(&[
            "--config",
            config,
            "--proc-root",
            proc_root.to_str().unwrap(),
        ]);
        let warning = format!(
            "warning: {config}:8: listen has no effect with run --listen: the addresses \
             given on the command line replace the file's `listen` lines (8, 9)"
        );
        warns_at_start_and_on_reload(&daemon, config, "listen", &warning);
    }
}

/// `daemon` serves, logs `warning` (that the file's `key`, on line 8 of
/// `config`, has no effect) at start, and again at SIGHUP, where the
/// reload succeeds; no error is logged and it still serves.
fn warns_at_start_and_on_reload(daemon: &Daemon, config: &str, key: &str, warning: &str) {
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
    assert!(
        daemon.wait_log(warning, Duration::from_secs(5)),
        "no `{warning}` logged\n{}",
        daemon.dump()
    );
    daemon.signal(1);
    assert!(
        daemon.wait_log("configuration reloaded", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    assert!(
        daemon.wait_log(
            &format!("SIGHUP: {config}:8: {key} has no effect"),
            Duration::from_secs(5)
        ),
        "{}",
        daemon.dump()
    );
    assert_eq!(
        daemon.logged(&format!("{key} has no effect")),
        2,
        "{}",
        daemon.dump()
    );
    assert_eq!(daemon.logged("error"), 0, "{}", daemon.dump());
    assert_eq!(daemon.get("/data.json").status, 200, "{}", daemon.dump());
}

/// `run --user` replaces the file's `user`, yet the file's was still looked
/// up: `user = no-such-user` stopped `run --user root` (exit 2, "no user
/// `no-such-user`"), and a reload of such a file was refused, though the
/// daemon never becomes that user. As with `--listen` (above), the
/// replaced line is not checked; a warning at its line says it has no
/// effect, at start and on reload. `check-config`, which has no `--user`,
/// still refuses it.
#[test]
fn run_user_does_not_look_up_the_files_user_it_replaces() {
    let dir = TempDir::new("e2e-user-replaces-file");
    let proc_root = fixture("proc/basic");
    // As root, `--user root` stays root; as anyone else, becoming oneself
    // is "already running as that user".
    let mut id = Command::new("id");
    id.arg("-un");
    let me = String::from_utf8(run(id).stdout).unwrap();
    let me = me.trim();
    // Lines 1-3 are the directories `dir.config` writes; `user` is on 8.
    let config = dir.config(
        "backup = off\nupdate_manager = none\nmounts = /\ninterval = 1h\nuser = no-such-user-5c1e",
    );
    let config = config.to_str().unwrap();
    let out = run(sysmon(&["check-config", "--config", config]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{config}:8: user: no user `no-such-user-5c1e`")),
        "{stderr}"
    );
    let daemon = Daemon::start(&[
        "--config",
        config,
        "--proc-root",
        proc_root.to_str().unwrap(),
        "--user",
        me,
    ]);
    let warning = format!(
        "warning: {config}:8: user has no effect with run --user: the user given on the \
         command line replaces the file's `user`"
    );
    warns_at_start_and_on_reload(&daemon, config, "user", &warning);
}

/// Port 0 is "any free port": two `127.0.0.1:0` are two sockets, each with
/// a port of its own. In the file the second line was refused as "listed
/// twice" (exit 2); on the command line it must stay allowed beside the
/// overlap check `run --listen` now makes.
#[test]
fn port_zero_listed_twice_binds_two_ports() {
    let dir = TempDir::new("e2e-port-zero-twice");
    let config = dir.config(
        "backup = off\nupdate_manager = none\nmounts = /\ninterval = 1h\n\
         listen = 127.0.0.1:0\nlisten = 127.0.0.1:0",
    );
    let config = config.to_str().unwrap();
    let out = run(sysmon(&["check-config", "--config", config]));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let listens = stdout.lines().filter(|l| *l == "listen = 127.0.0.1:0");
    assert_eq!(listens.count(), 2, "{stdout}");
    let proc_root = fixture("proc/basic");
    let proc_root = proc_root.to_str().unwrap();
    let twice = ["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"];
    for listen in [&[][..], &twice[..]] {
        let mut args = listen.to_vec();
        args.extend(["--config", config, "--proc-root", proc_root]);
        let daemon = Daemon::start_as_configured(&args, |_| {});
        let addrs = wait_for(Duration::from_secs(10), || {
            let log = daemon.log.lock().unwrap();
            let addrs: Vec<std::net::SocketAddr> = log
                .iter()
                .filter_map(|l| l.split("listening on http://").nth(1))
                .map(|a| a.trim().parse().unwrap())
                .collect();
            (addrs.len() == 2).then_some(addrs)
        })
        .unwrap_or_else(|| panic!("{args:?}: two addresses not reported\n{}", daemon.dump()));
        assert_ne!(addrs[0].port(), addrs[1].port(), "{args:?}");
        for addr in addrs {
            let raw = format!("GET /data.json HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            assert_eq!(http(addr, &raw).status, 200, "{args:?}: {addr}");
        }
    }
}

/// A config file or password file that is not a regular file, or is huge,
/// is refused by name, without waiting and without reading it whole: a FIFO
/// made `check-config` (and `run`) wait for a writer, and a symlink to
/// /dev/zero made them allocate until the allocation failed.
#[test]
fn a_fifo_device_or_huge_config_or_password_file_is_refused_without_waiting() {
    let dir = TempDir::new("e2e-config-not-regular");
    let fifo = dir.join("fifo.conf");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let zero = dir.join("zero.conf");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let huge = dir.join("huge.conf");
    let line = "# a comment that pads the file to more than 1 MiB\n";
    std::fs::write(&huge, line.repeat((1 << 20) / line.len() + 1)).unwrap();
    for (config, reason) in [
        (&fifo, "a FIFO, not a regular file"),
        (&zero, "a character device, not a regular file"),
        (&huge, "larger than 1048576 bytes"),
    ] {
        let config = config.to_str().unwrap();
        let expected = format!("{config}: cannot read: {reason}");
        for args in [
            vec!["check-config", "--config", config],
            vec!["run", "--listen", "127.0.0.1:0", "--config", config],
        ] {
            let (status, out) = run_limited(sysmon(&args), Duration::from_secs(10));
            let status =
                status.unwrap_or_else(|| panic!("`sysmon {}` waited on {config}", args[0]));
            assert_eq!(status.code(), Some(2), "sysmon {} {config}", args[0]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(&expected), "lacks {expected:?}: {stderr}");
        }
    }

    // A FIFO of mode 600 passed the password file's mode check, and its
    // read waited for a writer.
    use std::os::unix::fs::PermissionsExt;
    let password = dir.join("password");
    assert!(
        Command::new("mkfifo")
            .arg(&password)
            .status()
            .unwrap()
            .success()
    );
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nauth_user = admin\nauth_password_file = {}",
        password.display()
    ));
    let config = config.to_str().unwrap();
    let (status, out) = run_limited(
        sysmon(&["check-config", "--config", config]),
        Duration::from_secs(10),
    );
    let status = status.expect("`sysmon check-config` waited on a FIFO password file");
    assert_eq!(status.code(), Some(2));
    let expected = format!(
        "{config}:7: auth_password_file {}: a FIFO, not a regular file",
        password.display()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&expected), "lacks {expected:?}: {stderr}");
    // And a password file too large to be one.
    std::fs::remove_file(&password).unwrap();
    std::fs::write(&password, "x".repeat(5000)).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(sysmon(&["check-config", "--config", config]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("larger than 4096 bytes"),
        "{out:?}"
    );
}

/// What a config error quotes from the file reaches stderr (a terminal,
/// the journal) escaped and cut: an escape sequence, a NUL or a megabyte
/// went out as they were. A NUL in a path is caught by `check-config`, and
/// a byte order mark at the start is skipped.
#[test]
fn config_errors_reach_stderr_escaped_and_cut() {
    let dir = TempDir::new("e2e-config-escaped");
    let huge = "9".repeat(1_000_000);
    for (name, extra, expected) in [
        (
            "escape",
            "interval = \u{1b}[2J\u{1b}]0;owned\u{7}".to_string(),
            "{}:4: interval: `\\x1b[2J\\x1b]0;owned\\x07` is not a duration",
        ),
        (
            "nul",
            "state_dir = /var/lib/a\0b".to_string(),
            "{}:4: state_dir: `/var/lib/a\\0b` contains a NUL byte",
        ),
        ("huge", format!("history = {huge}"), "{}:4: history: `999"),
    ] {
        let config = dir.join(&format!("{name}.conf"));
        std::fs::write(
            &config,
            format!("backup = off\nupdate_manager = none\n\n{extra}\n"),
        )
        .unwrap();
        let config = config.to_str().unwrap();
        let out = run(sysmon(&["check-config", "--config", config]));
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = expected.replace("{}", config);
        assert!(
            stderr.contains(&expected),
            "{name}: lacks {expected:?}: {stderr}"
        );
        assert!(
            !out.stderr
                .iter()
                .any(|b| b.is_ascii_control() && *b != b'\n'),
            "{name}: a control byte reached stderr: {stderr:?}"
        );
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(out.stderr.len() < 500, "{name}: {} bytes", out.stderr.len());
    }

    let config = dir.join("bom.conf");
    std::fs::write(&config, "\u{feff}interval = 7s\nbackup = off\n").unwrap();
    let out = run(sysmon(&[
        "check-config",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\ninterval = 7s\n"));
}

#[test]
fn check_config_refuses_the_password_file_run_refuses() {
    // Issue 11: check-config accepted a 0644 password file that run refused.
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("e2e-password-mode");
    let password = dir.join("password");
    std::fs::write(&password, "secret\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nauth_user = admin\nauth_password_file = {}",
        password.display()
    ));
    let config_str = config.to_str().unwrap();
    let expected = format!(
        "{config_str}:7: auth_password_file {}: mode 644 lets others read it",
        password.display()
    );
    for args in [
        vec!["run", "--listen", "127.0.0.1:0", "--config", config_str],
        vec!["check-config", "--config", config_str],
    ] {
        let (status, out) = run_limited(sysmon(&args), Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(2), "sysmon {}", args[0]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&expected), "sysmon {}: {stderr}", args[0]);
        assert!(
            out.stdout.is_empty(),
            "sysmon {} printed on stdout",
            args[0]
        );
    }
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(sysmon(&["check-config", "--config", config_str]));
    assert_eq!(out.status.code(), Some(0));
}

/// A setting another key makes pointless was accepted silently:
/// check-config warns on stderr, naming both lines, and still exits 0
/// with the configuration on stdout.
#[test]
fn check_config_warns_of_settings_without_effect() {
    let dir = TempDir::new("e2e-checkconfig-no-effect");
    let config = dir.config("backup = off\nalert_backup_age = 2d\nupdate_manager = none");
    let out = run(sysmon(&[
        "check-config",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "sysmon: warning: {}:5: alert_backup_age = 2d has no effect with backup = off \
             (line 4): the daemon makes no backup (`sysmon backup` still does)\n",
            config.display()
        )
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("\nalert_backup_age = 2d\n")
    );
}

#[test]
fn check_config_prints_the_effective_configuration() {
    let dir = TempDir::new("e2e-checkconfig");
    let config = dir.config("# a comment\ninterval = 500ms   # trailing comment\nmounts = /\nmounts = /tmp\nbackup = off\nupdate_manager = none");
    let out = run(sysmon(&[
        "check-config",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let d = dir.path().display();
    for line in [
        format!("# effective configuration (from {})", config.display()),
        "listen = 127.0.0.1:8080".into(), // the default, not in the file
        "interval = 500ms".into(),
        "mounts = /\nmounts = /tmp".into(),
        format!("backup_dir = {d}/backups"),
        format!("log_dir = {d}/logs"),
        format!("state_dir = {d}/state"),
        "backup = off".into(),
        "update_manager = none".into(),
        // What the default tiers make the daemon preallocate.
        format!(
            "# history file: 8,183,808 bytes ({d}/state/history.db, made at this size, never grows)"
        ),
    ] {
        assert!(
            stdout.contains(&format!("{line}\n")),
            "missing {line:?} in:\n{stdout}"
        );
    }
    // What it prints is itself a valid config with the same effect.
    let again = dir.join("again.conf");
    std::fs::write(&again, &stdout).unwrap();
    let out2 = run(sysmon(&[
        "check-config",
        "--config",
        again.to_str().unwrap(),
    ]));
    assert_eq!(out2.status.code(), Some(0));
    let first_line_dropped = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(
        first_line_dropped(&String::from_utf8(out2.stdout).unwrap()),
        first_line_dropped(&stdout)
    );
}

#[test]
fn sample_prints_the_data_json_schema_with_fixture_values() {
    let started = unix_now();
    let dir = TempDir::new("e2e-sample");
    let config = quiet_config(&dir);
    let proc_root = fixture("proc/basic");
    let out = run(sysmon(&[
        "sample",
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        proc_root.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    let printed = parse_json(&String::from_utf8(out.stdout).unwrap());
    check_basic_fixture_values(&printed, started);

    // Same schema as the daemon's /data.json.
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        proc_root.to_str().unwrap(),
    ]);
    let served = daemon.data();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    shape(&printed, "", &mut a);
    shape(&served, "", &mut b);
    // The one field whose type differs by design: `sysmon sample` takes
    // two readings, so its CPU window is a number; the daemon's first
    // answer is its first reading of the top processes (`top_every =
    // off`), with no earlier one to compare with, so the window is null.
    let window = |v: &mut Vec<String>, from: &str| {
        let at = v.iter().position(|l| l == from);
        let at = at.unwrap_or_else(|| panic!("no `{from}` in {v:#?}"));
        v[at] = ".top.cpu_window_s: number or null".to_string();
    };
    window(&mut a, ".top.cpu_window_s: number");
    window(&mut b, ".top.cpu_window_s: null");
    assert_eq!(a, b);
    for key in [
        "version",
        "hostname",
        "time",
        "uptime_s",
        "cpu",
        "load",
        "memory",
        "disks",
        "disk_errors",
        "backup",
        "updates",
    ] {
        assert!(
            a.iter().any(|k| k.starts_with(&format!(".{key}"))),
            "schema lacks {key}"
        );
    }
}

#[test]
fn sample_on_old_kernel_and_many_core_fixtures() {
    let dir = TempDir::new("e2e-sample-old");
    let config = quiet_config(&dir);
    // Linux 2.6.32 without MemAvailable: procps 3.3's estimate with
    // min_free_kbytes 45056 -> wmark_low 56320 kB;
    // 100000 - 56320 + 500000 - min(250000, 56320) + 40000 - min(20000, 56320) = 507360 kB.
    let out = run(sysmon(&[
        "sample",
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        fixture("proc/linux-2.6.32-1core-estimate")
            .to_str()
            .unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    let data = parse_json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(text(&data, "hostname"), "squeeze");
    assert_eq!(int(&data, "memory.available"), 507_360 * KIB);
    // used 1017888 - 507360 = 510528 kB = 50.156 % -> 50.2.
    assert_eq!(num(&data, "memory.percent"), 50.2);
    // busy 123456+789+45678+67+890+12 = 170892 of 170892+9876543+12345 = 10059780 -> 1.699 % -> 1.7.
    assert_eq!(num(&data, "cpu.percent"), 1.7);
    assert_eq!(len(&data, "cpu.cores"), 1);

    let out = run(sysmon(&[
        "sample",
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        fixture("proc/synthetic-96core").to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    let data = parse_json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(len(&data, "cpu.cores"), 96);
    for i in 0..96 {
        assert_eq!(int(&data, &format!("cpu.cores.{i}.id")), i as u64);
    }
    // Swap 67108860 kB total, 67108860 - 66060284 = 1048576 kB used.
    assert_eq!(
        (
            int(&data, "memory.swap_total"),
            int(&data, "memory.swap_used")
        ),
        (67_108_860 * KIB, 1_048_576 * KIB)
    );
}

#[test]
fn version_flag() {
    let out = run(sysmon(&["--version"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("sysmon {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// An argument that is not UTF-8 (a Latin-1 file name, a stray byte) is a
/// usage error naming the argument, exit 2, as any other bad argument:
/// `std::env::args` panicked on it, and every command aborted (exit 134,
/// a backtrace) before a word of why.
#[test]
fn arguments_that_are_not_utf_8_are_refused_by_name() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("e2e-args-not-utf8");
    let config = dir.config("backup = off\nupdate_manager = none");
    let config = config.to_str().unwrap();
    let latin1 = dir.path().join(OsStr::from_bytes(b"caf\xe9.conf"));
    let latin1 = latin1.as_os_str();
    let cases: [(Vec<&OsStr>, String); 4] = [
        (
            vec!["check-config".as_ref(), "--config".as_ref(), latin1],
            format!("argument 3 `{}/caf\\xe9.conf`", dir.path().display()),
        ),
        (
            vec![
                "run".as_ref(),
                "--config".as_ref(),
                config.as_ref(),
                "--listen".as_ref(),
                OsStr::from_bytes(b"127.0.0.1:0\xff"),
            ],
            "argument 5 `127.0.0.1:0\\xff`".to_string(),
        ),
        (
            vec![OsStr::from_bytes(b"\xc3")],
            "argument 1 `\\xc3`".to_string(),
        ),
        (
            vec![
                "history".as_ref(),
                "--range".as_ref(),
                OsStr::from_bytes(b"1\xffd"),
            ],
            "argument 3 `1\\xffd`".to_string(),
        ),
    ];
    for (args, expected) in cases {
        let mut cmd = sysmon(&[]);
        cmd.args(&args);
        let (status, out) = run_limited(cmd, Duration::from_secs(10));
        let status = status.unwrap_or_else(|| panic!("{args:?}: did not exit"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(status.code(), Some(2), "{args:?}: {status}: {stderr}");
        assert!(
            stderr.contains(&format!("{expected} is not valid UTF-8")),
            "{args:?}: lacks {expected:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// An empty argument is a usage error naming it (exit 2), whatever the
/// command: no option takes an empty value, and the errors it made named
/// nothing (`: cannot read: No such file or directory` for `--config ''`,
/// `verify: : open: ...`), or there was none: `--sys-root ''` and
/// `--root-fs ''` were taken, and sysfs and os-release read relative to
/// the working directory.
#[test]
fn empty_arguments_are_refused_by_name() {
    let dir = TempDir::new("e2e-args-empty");
    let config = dir.config("backup = off\nupdate_manager = none");
    let config = config.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["check-config", "--config", ""],
            "argument 3 (the value of --config) is empty",
        ),
        (
            &["sample", "--config", config, "--sys-root", ""],
            "argument 5 (the value of --sys-root) is empty",
        ),
        (
            &[
                "run",
                "--config",
                config,
                "--listen",
                "127.0.0.1:0",
                "--root-fs",
                "",
            ],
            "argument 7 (the value of --root-fs) is empty",
        ),
        (&["verify", ""], "argument 2 is empty"),
        (
            &["top", "--config", config, "--proc-root", ""],
            "argument 5 (the value of --proc-root) is empty",
        ),
        (&[""], "argument 1 is empty"),
    ];
    for (args, expected) in cases {
        let (status, out) = run_limited(sysmon(args), Duration::from_secs(10));
        let status = status.unwrap_or_else(|| panic!("{args:?}: did not exit"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(status.code(), Some(2), "{args:?}: {status}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: lacks {expected:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: printed something");
    }
}

/// `run --listen` is held to the bound of the file's `listen` lines
/// (`MAX_LINES_OF_ONE_KEY`, 1024): each address is checked against every
/// earlier one, so the work grows with the square of the count, and every
/// one is bound. Unbounded, 20,000 `--listen 127.0.0.1:0` took 40 s to
/// fail (out of descriptors after binding them); 1,025 bound 1,025 ports.
#[test]
fn run_refuses_more_listen_arguments_than_listen_lines() {
    let dir = TempDir::new("e2e-many-listen");
    let config = dir.config("backup = off\nupdate_manager = none");
    let mut args = vec!["run", "--config", config.to_str().unwrap()];
    for _ in 0..1025 {
        args.extend(["--listen", "127.0.0.1:0"]);
    }
    let (status, out) = run_limited(sysmon(&args), Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = status.unwrap_or_else(|| panic!("1,025 --listen: still running: {stderr}"));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--listen: given more than 1024 times"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

/// A command whose output cannot be written (stdout on a full disk,
/// here `/dev/full`) says so and exits 1: `println!` panicked ("failed
/// printing to stdout"), and every printing command aborted (exit 134, a
/// backtrace). A closed pipe is still SIGPIPE's, as for cat.
#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: no /dev/full");
        return;
    }
    let dir = TempDir::new("e2e-stdout-full");
    let config = dir.config("backup = off\nupdate_manager = none");
    let config = config.to_str().unwrap();
    let proc_root = fixture("proc/basic");
    let proc_root = proc_root.to_str().unwrap();
    let cases: [&[&str]; 5] = [
        &["check-config", "--config", config],
        &["sample", "--config", config, "--proc-root", proc_root],
        &[
            "top",
            "--config",
            config,
            "--proc-root",
            proc_root,
            "--interval",
            "100ms",
        ],
        &["--version"],
        &["--help"],
    ];
    for args in cases {
        let mut cmd = sysmon(args);
        cmd.stdout(std::fs::File::create("/dev/full").unwrap());
        let out = cmd.stderr(Stdio::piped()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("sysmon: error: stdout: No space left on device"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `--sys-root` and `--root-fs` naming a directory that is not there are
/// start-up errors naming the flag and the path (exit 2), as `--proc-root`
/// is, for every command that takes them: before, `run` started and each
/// collector failed at the first scrape (os-release's message named no
/// path), and `sample` printed its figures without sysfs.
#[test]
fn a_missing_sys_root_or_root_fs_is_a_start_up_error() {
    let dir = TempDir::new("e2e-missing-roots");
    let config = dir.config("backup = off\nupdate_manager = none");
    let config = config.to_str().unwrap();
    let missing = dir.join("missing");
    let missing = missing.to_str().unwrap();
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "").unwrap();
    let a_file = a_file.to_str().unwrap();
    let proc_root = fixture("proc/basic");
    let proc_root = proc_root.to_str().unwrap();
    let listen = ["--listen", "127.0.0.1:0"];
    let cases: [(&[&str], &str, &str); 5] = [
        (&["run", "--sys-root", missing], "--sys-root", missing),
        (&["run", "--root-fs", missing], "--root-fs", missing),
        (&["run", "--root-fs", a_file], "--root-fs", a_file),
        (
            &["sample", "--proc-root", proc_root, "--sys-root", missing],
            "--sys-root",
            missing,
        ),
        (
            &["sample", "--proc-root", proc_root, "--sys-root", a_file],
            "--sys-root",
            a_file,
        ),
    ];
    for (args, flag, path) in cases {
        let mut all = args.to_vec();
        all.extend(["--config", config]);
        if args[0] == "run" {
            all.extend(listen);
        }
        let (status, out) = run_limited(sysmon(&all), Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let status = status.unwrap_or_else(|| panic!("{all:?}: still running: {stderr}"));
        assert_eq!(status.code(), Some(2), "{all:?}: {stderr}");
        assert!(
            stderr.contains(&format!("sysmon: error: {flag} {path}: ")),
            "{all:?}: {stderr}"
        );
        assert!(!stderr.contains("listening on"), "{all:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{all:?}: printed something");
    }
}

/// A usage error with stderr on a full disk (`/dev/full`) is still exit 2:
/// `eprintln!` panicked when its write failed (exit 134, a backtrace
/// nobody could read either). There is nowhere left to report the failed
/// write; the exit status says what happened.
#[test]
fn a_usage_error_on_a_full_stderr_is_exit_2_not_a_panic() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: no /dev/full");
        return;
    }
    let cases: [&[&str]; 3] = [&["--nonsense"], &[], &["sample", "--nonsense"]];
    for args in cases {
        let out = sysmon(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {:?}", out.status);
        assert!(out.stdout.is_empty(), "{args:?}: printed something");
    }
}

/// `network_exclude`: the interfaces matching a glob are left out of
/// /data.json (and so of /metrics and the history); a glob that cannot name
/// an interface is a config error with its line.
#[test]
fn network_exclude_leaves_interfaces_out() {
    let dir = TempDir::new("e2e-net-exclude");
    let sample = |extra: &str| {
        let config = dir.config(&format!(
            "backup = off\nupdate_manager = none\nmounts = /\n{extra}"
        ));
        run(sysmon(&[
            "sample",
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            fixture("proc/basic").to_str().unwrap(),
        ]))
    };
    let devices = |out: &std::process::Output| {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let data = parse_json(&String::from_utf8_lossy(&out.stdout));
        (0..len(&data, "network"))
            .map(|i| text(&data, &format!("network.{i}.device")).to_string())
            .collect::<Vec<_>>()
    };
    let all = devices(&sample(""));
    assert!(
        all.iter().any(|d| d == "lo") && all.iter().any(|d| d == "ifb0"),
        "{all:?}"
    );
    let kept = devices(&sample("network_exclude = lo\nnetwork_exclude = ifb*"));
    let expected: Vec<String> = all
        .iter()
        .filter(|d| *d != "lo" && !d.starts_with("ifb"))
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(kept, expected);

    let bad = sample("network_exclude = eth 0");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("sysmon.conf:7: network_exclude: `eth 0` cannot match an interface name"),
        "{stderr}"
    );
}

#[test]
fn sample_refuses_a_missing_or_empty_proc_root() {
    // Issue 11: both printed a sample of zeros and exited 0.
    let dir = TempDir::new("e2e-sample-noproc");
    let config = quiet_config(&dir);
    let config_str = config.to_str().unwrap();
    let missing = dir.join("missing");
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let cases = [
        (
            missing.clone(),
            format!(
                "--proc-root {}: No such file or directory",
                missing.display()
            ),
        ),
        (
            empty.clone(),
            format!(
                "cannot sample {}/stat: No such file or directory",
                empty.display()
            ),
        ),
    ];
    for (root, expected) in cases {
        let root_str = root.to_str().unwrap();
        let (status, out) = run_limited(
            sysmon(&["sample", "--config", config_str, "--proc-root", root_str]),
            Duration::from_secs(10),
        );
        assert_eq!(status.and_then(|s| s.code()), Some(2), "{root_str}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&expected), "lacks {expected:?}: {stderr}");
        assert!(out.stdout.is_empty(), "printed a sample for {root_str}");
    }
    // The daemon refuses a proc root that is not there, too.
    let (status, out) = run_limited(
        sysmon(&[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config_str,
            "--proc-root",
            missing.to_str().unwrap(),
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(status.and_then(|s| s.code()), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!(
        "--proc-root {}: No such file or directory",
        missing.display()
    )));
}

#[test]
fn a_fifo_in_the_proc_root_never_blocks_sample_or_the_daemon() {
    // Issue 11: open(2) on a FIFO without a writer waited forever.
    let dir = TempDir::new("e2e-sample-fifo");
    let config = quiet_config(&dir);
    let config_str = config.to_str().unwrap();
    let root = dir.join("proc");
    let copied = Command::new("cp")
        .arg("-rL")
        .arg(fixture("proc/basic"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(copied.success());
    for name in ["stat", "loadavg"] {
        std::fs::remove_file(root.join(name)).unwrap();
        let made = Command::new("mkfifo")
            .arg(root.join(name))
            .status()
            .unwrap();
        assert!(made.success());
    }
    let root_str = root.to_str().unwrap();
    let (status, out) = run_limited(
        sysmon(&["sample", "--config", config_str, "--proc-root", root_str]),
        Duration::from_secs(10),
    );
    let status = status.expect("`sysmon sample` hung on a FIFO");
    assert_eq!(status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in ["stat", "loadavg"] {
        let expected = format!("cannot sample {root_str}/{name}: a FIFO, not a regular file");
        assert!(stderr.contains(&expected), "lacks {expected:?}: {stderr}");
    }
    assert!(out.stdout.is_empty());

    // The daemon starts (its first sample is taken before it reports its
    // address), answers, and says which file it refused.
    let daemon = Daemon::start(&["--config", config_str, "--proc-root", root_str]);
    let data = daemon.data();
    assert_eq!(text(&data, "hostname"), "vm");
    assert!(
        daemon.wait_log(
            &format!("{root_str}/stat: a FIFO, not a regular file"),
            Duration::from_secs(5)
        ),
        "{}",
        daemon.dump()
    );
}

/// `disk_errors` lists at most 32 mounts however many have no figures (the
/// mount table is not sysmon's: a user may mount a thousand sshfs shares),
/// each with its reason, in the listed order.
/// A real file system found in the mount table whose `statvfs` is refused
/// (a mount point under a directory sysmon may not enter, as `make run`'s
/// normal user meets under /root) is listed in `disk_errors` with why;
/// the build before dropped it as if it were a pseudo file system, so it
/// was in neither list. A mount point that is not there to be asked (the
/// table of another root) is still left out. Root only (nobody is refused).
#[test]
fn a_found_mount_whose_statvfs_is_refused_is_listed_with_why() {
    if !is_root("a mount refused to nobody") || !have_tool("setpriv", "running sample as nobody") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("e2e-disk-refused");
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(dir.path(), open.clone()).unwrap();
    let locked = dir.join("locked");
    std::fs::create_dir_all(locked.join("mnt")).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let proc_root = dir.join("proc");
    copy_dir(&fixture("proc/basic"), &proc_root);
    let refused = locked.join("mnt");
    let absent = dir.join("absent/mnt");
    std::fs::write(
        proc_root.join("self/mounts"),
        format!(
            "/dev/vda1 / ext4 rw,relatime 0 0\n/dev/vdz {} ext4 rw 0 0\n/dev/vdy {} ext4 rw 0 0\n",
            refused.display(),
            absent.display()
        ),
    )
    .unwrap();
    for d in [&proc_root, &proc_root.join("self")] {
        std::fs::set_permissions(d, open.clone()).unwrap();
    }
    let config = dir.config("backup = off\nupdate_manager = none\ninterval = 1h");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(as_nobody(&sysmon(&[
        "sample",
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        proc_root.to_str().unwrap(),
    ])));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let printed = parse_json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(len(&printed, "disk_errors"), 1, "{stderr}");
    assert_eq!(
        text(&printed, "disk_errors.0.mount"),
        refused.to_str().unwrap()
    );
    assert_eq!(
        text(&printed, "disk_errors.0.error"),
        "statvfs: Permission denied (os error 13)"
    );
    assert_eq!(len(&printed, "disks"), 1, "only /");
    assert_eq!(text(&printed, "disks.0.mount"), "/");
}

#[test]
fn disk_errors_are_bounded() {
    let dir = TempDir::new("e2e-disk-errors");
    let missing: String = (0..40)
        .map(|i| format!("mounts = {}/missing{i}\n", dir.path().display()))
        .collect();
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nmounts = /\n{missing}"
    ));
    let out = run(sysmon(&["sample", "--config", config.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    let printed = parse_json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(len(&printed, "disks"), 1);
    assert_eq!(len(&printed, "disk_errors"), 32);
    assert_eq!(
        text(&printed, "disk_errors.31.mount"),
        format!("{}/missing31", dir.path().display())
    );
    assert_eq!(
        text(&printed, "disk_errors.0.error"),
        "statvfs: No such file or directory (os error 2)"
    );
}

/// A `backup_dir` another user can change (0777, no sticky bit: anyone may
/// delete or replace an archive) is warned about once, at start and by
/// `check-config`, naming the path, its mode and the fix; not refused. The
/// build before said nothing. Directories sysmon made itself (the backup's
/// 0700, the state's 0700) draw no warning.
#[test]
fn a_backup_dir_others_can_write_is_warned_about_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("loose-dirs");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/a.txt"), "a").unwrap();
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\nmounts = /\nbackup_source = {}",
        dir.join("src").display()
    ));
    let config = config.to_str().unwrap();
    let proc_root = fixture("proc/basic");
    let args = [
        "--config",
        config,
        "--proc-root",
        proc_root.to_str().unwrap(),
    ];
    let made = run(sysmon(&["backup", "--config", config]));
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    let backups = dir.join("backups");
    let loose = "can delete or replace what sysmon keeps there";

    // Fresh: made by sysmon (the backup's directory, the state's).
    let mut daemon = Daemon::start(&args);
    assert_eq!(daemon.logged(loose), 0, "{}", daemon.dump());
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
    let out = run(sysmon(&["check-config", "--config", config]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains(loose), "{err}");

    // Loosened: one warning, at start and in check-config.
    std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(0o777)).unwrap();
    let wanted = format!("backup_dir {} (mode 0777, owner uid ", backups.display());
    let mut daemon = Daemon::start(&args);
    assert_eq!(daemon.logged(loose), 1, "{}", daemon.dump());
    assert_eq!(daemon.logged(&wanted), 1, "{}", daemon.dump());
    assert_eq!(
        daemon.logged(&format!("chmod 700 {}", backups.display())),
        1,
        "{}",
        daemon.dump()
    );
    assert_eq!(daemon.get("/data.json").status, 200, "warned, not refused");
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
    let out = run(sysmon(&["check-config", "--config", config]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches(loose).count(), 1, "{err}");
    assert!(err.contains(&wanted), "{err}");

    // Owned by another user (nobody), mode 0700: that user may chmod it.
    if running_as_root() {
        std::fs::set_permissions(&backups, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&backups, Some(65534), None).unwrap();
        let out = run(sysmon(&["check-config", "--config", config]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches(loose).count(), 1, "{err}");
        assert!(
            err.contains("owned by uid 65534, neither sysmon's (uid 0) nor root")
                && err.contains(&format!("chown 0 {}", backups.display())),
            "{err}"
        );
    }
}
