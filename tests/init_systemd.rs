//! Issue #5: the systemd unit is valid and hardened, and the daemon speaks
//! sd_notify (READY only once listening, STATUS, WATCHDOG, RELOADING,
//! STOPPING) to a socket of the test's own, as systemd would see it.
mod common;
use common::*;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The unit as `make install` writes it, with ExecStart= (and the other
/// sysmon commands) pointing at the binary under test: `systemd-analyze
/// verify` requires every Exec binary to exist and be executable, and the
/// installed /usr/local/bin/sysmon does not exist here. `--root=` is no way
/// out (verify then looks for the unit itself and its targets in that root).
fn unit_for_test(dir: &TempDir) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("init/systemd/sysmon.service")).unwrap();
    assert!(
        text.contains("ExecStart=/usr/local/bin/sysmon run --config /etc/sysmon.conf"),
        "{text}"
    );
    let path = dir.join("sysmon.service");
    std::fs::write(&path, text.replace("/usr/local/bin/sysmon", BIN)).unwrap();
    path
}

#[test]
fn systemd_analyze_verify_prints_nothing() {
    if !have_tool("systemd-analyze", "verifying the systemd unit") {
        return;
    }
    let dir = TempDir::new("verify");
    let unit = unit_for_test(&dir);
    // --man=no: Documentation=man:sysmon(8) is not installed here.
    let mut cmd = std::process::Command::new("systemd-analyze");
    cmd.args(["verify", "--man=no"])
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0");
    let out = run(cmd);
    // Unknown keys and bad values are only warnings with exit status 0: any
    // output at all is a failure.
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn systemd_analyze_verify_does_catch_a_bad_key() {
    // The check above can fail: a misspelt key does produce output.
    if !have_tool("systemd-analyze", "verifying the systemd unit") {
        return;
    }
    let dir = TempDir::new("verify-bad");
    let unit = unit_for_test(&dir);
    let text = std::fs::read_to_string(&unit)
        .unwrap()
        .replace("ProtectHome=", "ProtectHomme=");
    std::fs::write(&unit, text).unwrap();
    let mut cmd = std::process::Command::new("systemd-analyze");
    cmd.args(["verify", "--man=no"]).arg(&unit);
    let out = run(cmd);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ProtectHomme"));
}

#[test]
fn hardening_exposure_is_at_most_2_0() {
    if !have_tool("systemd-analyze", "scoring the unit's hardening") {
        return;
    }
    let dir = TempDir::new("security");
    let unit = unit_for_test(&dir);
    let mut cmd = std::process::Command::new("systemd-analyze");
    // The threshold is the exposure score times ten; above it the exit status is 1.
    cmd.args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(&unit);
    let out = run(cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or("no score line");
    eprintln!("{line}");
    assert!(out.status.success(), "exposure above 2.0: {line}");
}

/// A datagram socket of the test's own, as systemd's would be: `@abstract`
/// or a path in the test's temp dir. Returns it and the NOTIFY_SOCKET value.
fn notify_socket(dir: &TempDir, abstract_name: bool) -> (UnixDatagram, String) {
    let (socket, value) = if abstract_name {
        // The temp dir's name is unique per test and process.
        let name = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
        (UnixDatagram::bind_addr(&addr).unwrap(), format!("@{name}"))
    } else {
        let path = dir.join("notify.sock");
        (
            UnixDatagram::bind(&path).unwrap(),
            path.display().to_string(),
        )
    };
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    (socket, value)
}

struct Notified {
    child: Child,
    socket: UnixDatagram,
    stderr: std::path::PathBuf,
    got: Vec<(Instant, String)>,
}

impl Notified {
    fn start(
        dir: &TempDir,
        abstract_name: bool,
        listen: SocketAddr,
        env: &[(&str, &str)],
    ) -> Notified {
        let config = dir.config("backup = off\nupdate_manager = none");
        let (socket, value) = notify_socket(dir, abstract_name);
        let stderr = dir.join("stderr");
        let listen = listen.to_string();
        let mut cmd = sysmon(&[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &listen,
        ]);
        cmd.env("NOTIFY_SOCKET", &value)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        eprintln!("starting {cmd:?}");
        let child = cmd.spawn().unwrap();
        Notified {
            child,
            socket,
            stderr,
            got: Vec::new(),
        }
    }

    /// The next datagram, or None after `limit`.
    fn next(&mut self, limit: Duration) -> Option<String> {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < limit {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.got.push((Instant::now(), text.clone()));
                return Some(text);
            }
        }
        None
    }

    /// Every datagram for `time`.
    fn collect(&mut self, time: Duration) -> Vec<String> {
        let end = Instant::now() + time;
        let mut out = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            if let Some(m) = self.next(left) {
                out.push(m);
            }
        }
        out
    }

    fn signal(&self, signal: &str) {
        assert!(
            std::process::Command::new("kill")
                .arg(signal)
                .arg(self.child.id().to_string())
                .status()
                .unwrap()
                .success()
        );
    }

    fn dump(&self) -> String {
        format!(
            "datagrams: {:?}\n--- stderr\n{}",
            self.got.iter().map(|(_, m)| m).collect::<Vec<_>>(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
    }
}

fn count(messages: &[String], wanted: &str) -> usize {
    messages.iter().filter(|m| m.as_str() == wanted).count()
}

fn full_protocol(abstract_name: bool) {
    let dir = TempDir::new(if abstract_name {
        "notify-abstract"
    } else {
        "notify-path"
    });
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut n = Notified::start(&dir, abstract_name, addr, &[("WATCHDOG_USEC", "200000")]);

    // READY=1 is the first thing said, and the port accepts at once: nothing
    // is done between receiving it and connecting.
    let first = n.next(Duration::from_secs(10));
    let connected = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert_eq!(first.as_deref(), Some("READY=1"), "{}", n.dump());
    assert!(
        connected.is_ok(),
        "READY=1 arrived but {addr} refused: {connected:?}\n{}",
        n.dump()
    );
    drop(connected);
    let answer = http(addr, "GET /data.json HTTP/1.0\r\n\r\n");
    assert_eq!(answer.status, 200, "{}", n.dump());

    // Then STATUS= and the watchdog at half of 200 ms: about ten in a second.
    let second = n.collect(Duration::from_millis(1000));
    assert_eq!(
        count(&second, "STATUS=monitoring"),
        1,
        "{second:?}\n{}",
        n.dump()
    );
    let pings = count(&second, "WATCHDOG=1");
    assert!(
        pings >= 3,
        "{pings} WATCHDOG=1 in 1 s with WATCHDOG_USEC=200000: {second:?}"
    );
    let unexpected: Vec<_> = second
        .iter()
        .filter(|m| *m != "WATCHDOG=1" && *m != "STATUS=monitoring")
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");

    // SIGHUP: RELOADING=1, then READY=1 once the config is re-read.
    n.signal("-HUP");
    let reload = n.collect(Duration::from_millis(600));
    let reload: Vec<_> = reload.into_iter().filter(|m| m != "WATCHDOG=1").collect();
    assert_eq!(reload, ["RELOADING=1", "READY=1"], "{}", n.dump());

    // SIGTERM: STOPPING=1 and a clean exit.
    n.signal("-TERM");
    let stop = n.collect(Duration::from_millis(600));
    assert!(
        stop.iter().any(|m| m == "STOPPING=1"),
        "{stop:?}\n{}",
        n.dump()
    );
    let status = wait_for(Duration::from_secs(2), || n.child.try_wait().unwrap())
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sd_notify_over_a_socket_path() {
    full_protocol(false);
}

#[test]
fn sd_notify_over_an_abstract_socket() {
    full_protocol(true);
}

#[test]
fn no_ready_when_the_port_cannot_be_bound() {
    // The port is taken: sysmon must fail without ever claiming readiness.
    let dir = TempDir::new("notify-busy");
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap();
    let mut n = Notified::start(&dir, false, addr, &[]);
    let status = wait_for(Duration::from_secs(10), || n.child.try_wait().unwrap()).expect("exits");
    assert_eq!(status.code(), Some(1), "{}", n.dump());
    let said = n.collect(Duration::from_millis(100));
    assert!(said.iter().all(|m| m != "READY=1"), "{said:?}");
    let stderr = std::fs::read_to_string(&n.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn no_watchdog_when_it_is_meant_for_another_process() {
    // WATCHDOG_PID names pid 1, not sysmon: the pings are not sysmon's to send.
    let dir = TempDir::new("notify-otherpid");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut n = Notified::start(
        &dir,
        false,
        addr,
        &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")],
    );
    assert_eq!(
        n.next(Duration::from_secs(10)).as_deref(),
        Some("READY=1"),
        "{}",
        n.dump()
    );
    let said = n.collect(Duration::from_millis(700));
    assert_eq!(said, ["STATUS=monitoring"], "{}", n.dump());
}

#[test]
fn without_notify_socket_nothing_is_sent_and_it_runs() {
    // The OpenRC/runit case: no NOTIFY_SOCKET, no warning about it.
    let dir = TempDir::new("notify-none");
    let config = dir.config("backup = off\nupdate_manager = none");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(daemon.get("/data.json").status, 200);
    assert!(
        !daemon
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("sd_notify")),
        "{}",
        daemon.dump()
    );
}
