//! Issue #5: OpenRC for real, without touching the host. In a private mount
//! namespace (`unshare -m`) /etc, /var and /usr/local are overlays whose
//! upper layers live in the test's temp dir, and /run is a fresh tmpfs holding
//! /run/openrc. There: `make install-openrc` (no DESTDIR, as a user would),
//! `rc-update add sysmon default`, `rc-service sysmon start`; the port
//! answers, `status` says started, the daemon runs as `sysmon`; `kill -9` is
//! followed by supervise-daemon's restart; `reload` applies; `stop` stops it
//! cleanly; `rc-update del` and `make uninstall` leave nothing in the overlays
//! but the sysmon user, what sysmon wrote, and the config the test edited.
//!
//! It installs packages' worth of files into (overlaid) system paths, so it
//! runs only with CI=true or SYSMON_SYSTEM_TESTS=1.
mod common;
use common::*;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

/// The private mount namespace (see [`MountNamespace`]) with OpenRC's run
/// directory in its /run; the supervisor is stopped before it goes.
struct OpenRc {
    ns: MountNamespace,
}

impl OpenRc {
    fn new(dir: &TempDir) -> OpenRc {
        let ns = MountNamespace::new(
            dir,
            "for s in daemons exclusive failed hotplugged inactive options scheduled started starting stopping tmp wasinactive; do
  mkdir -p /run/openrc/$s
done
echo default > /run/openrc/softlevel",
        );
        OpenRc { ns }
    }

    fn sh(&self, script: &str) -> Output {
        self.ns.sh(script)
    }

    fn ok(&self, script: &str) -> String {
        self.ns.ok(script)
    }

    fn child_pid(&self) -> Option<u32> {
        let out = self.sh("cat /run/openrc/options/sysmon/child_pid 2>/dev/null");
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }
}

impl Drop for OpenRc {
    fn drop(&mut self) {
        // Whatever happened: stop the supervisor before the namespace goes.
        let _ = self.sh("rc-service sysmon stop >/dev/null 2>&1; [ -f /run/supervise-sysmon.pid ] && kill $(cat /run/supervise-sysmon.pid); true");
    }
}

#[test]
fn openrc_installs_supervises_restarts_reloads_stops_and_uninstalls() {
    if !system_tests_enabled("OpenRC end-to-end test")
        || !is_root("OpenRC end-to-end test")
        || !have_tool("openrc-run", "OpenRC end-to-end test")
        || !have_tool("supervise-daemon", "OpenRC end-to-end test")
        || !have_tool("unshare", "OpenRC end-to-end test")
    {
        return;
    }
    let dir = TempDir::new("openrc");
    let ns = OpenRc::new(&dir);
    let repo = repo();
    let repo = repo.display();

    let installed = ns.ok(&format!(
        "make -s -C '{repo}' install-openrc SYSMON_BIN='{BIN}'"
    ));
    assert!(
        installed.contains("rc-update add sysmon default"),
        "{installed}"
    );
    assert!(
        ns.ok("id -u sysmon").trim().parse::<u32>().is_ok(),
        "make install created no sysmon user"
    );

    // Point the installed config at a free port and keep the jobs quiet.
    let port = free_port();
    ns.ok(&format!("printf 'listen = 127.0.0.1:{port}\\nbackup = off\\nupdate_manager = none\\ninterval = 5s\\n' > /etc/sysmon.conf"));
    // Regression: a log directory made earlier by root (a manual `sysmon
    // audit` as root does that) must not keep the service from starting.
    ns.ok(
        "mkdir -p /var/log/sysmon && chown root:root /var/log/sysmon && chmod 0750 /var/log/sysmon",
    );
    ns.ok("rc-update add sysmon default");
    ns.ok("test -L /etc/runlevels/default/sysmon");
    ns.ok("rc-service sysmon start");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let answers = || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
    let log =
        || String::from_utf8_lossy(&ns.sh("cat /var/log/sysmon/sysmon.log").stdout).into_owned();
    assert!(
        wait_for(Duration::from_secs(10), || answers().then_some(())).is_some(),
        "port {port} never answered:\n{}",
        log()
    );
    assert_eq!(http(addr, "GET /data.json HTTP/1.0\r\n\r\n").status, 200);
    assert!(ns.ok("rc-service sysmon status").contains("started"));

    let first = ns
        .child_pid()
        .expect("supervise-daemon records the child pid");
    let status = std::fs::read_to_string(format!("/proc/{first}/status")).unwrap();
    let uid = ns.ok("id -u sysmon");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(uid.trim())),
        "{status}"
    );
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
    // Started as root, sysmon became its user keeping the capability, with
    // or without capability support in supervise-daemon (Debian has none).
    assert!(
        status.lines().any(|l| l == "CapEff:\t0000000000000004"),
        "{status}"
    );

    // kill -9: supervise-daemon starts it again (respawn_delay = 2 s).
    assert!(
        Command::new("kill")
            .args(["-9", &first.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let second = wait_for(Duration::from_secs(15), || {
        ns.child_pid().filter(|p| *p != first && answers())
    });
    assert!(second.is_some(), "no restart after kill -9:\n{}", log());
    assert!(ns.ok("rc-service sysmon status").contains("started"));

    // reload: checkconfig, then SIGHUP; the new interval is served.
    ns.ok("sed -i 's/^interval = 5s/interval = 2s/' /etc/sysmon.conf");
    ns.ok("rc-service sysmon reload");
    let reloaded = wait_for(Duration::from_secs(5), || {
        log().contains("configuration reloaded").then_some(())
    });
    assert!(reloaded.is_some(), "{}", log());
    // `run --user` came from the service, not the file: no change to report.
    assert!(!log().contains("user changed"), "{}", log());
    assert!(
        http(addr, "GET /data.json HTTP/1.0\r\n\r\n")
            .body_text()
            .contains("\"interval_s\":2.0")
    );

    // stop: SIGTERM, a clean stop.
    ns.ok("rc-service sysmon stop");
    let stopped = ns.sh("rc-service sysmon status");
    assert!(String::from_utf8_lossy(&stopped.stdout).contains("stopped"));
    assert!(!answers(), "port still answers after stop");
    assert!(log().contains("sysmon: stopped"), "{}", log());

    ns.ok("rc-update del sysmon default");
    let said = ns.ok(&format!("make -s -C '{repo}' uninstall"));
    assert!(said.contains("kept /etc/sysmon.conf"), "{said}");
    ns.ok("rm /etc/sysmon.conf");

    // What is left in the overlays is only what is meant to stay.
    let allowed_etc = [
        "passwd",
        "passwd-",
        "group",
        "group-",
        "shadow",
        "shadow-",
        "gshadow",
        "gshadow-",
        ".pwd.lock",
        "subuid",
        "subgid",
    ];
    let etc: Vec<String> = files_below(&dir.join("etc.upper"))
        .into_iter()
        .filter(|f| !allowed_etc.contains(&f.as_str()))
        .collect();
    assert!(etc.is_empty(), "left in /etc: {etc:?}");
    let var: Vec<String> = files_below(&dir.join("var.upper"))
        .into_iter()
        .filter(|f| {
            !(f.starts_with("log/sysmon/")
                || f.starts_with("lib/sysmon/")
                || f.starts_with("backups/sysmon/"))
        })
        .collect();
    assert!(var.is_empty(), "left in /var: {var:?}");
    let usr_local = files_below(&dir.join("usr-local.upper"));
    assert!(usr_local.is_empty(), "left in /usr/local: {usr_local:?}");
}

/// Issue 14: the Services card under real OpenRC (openrc-run and
/// supervise-daemon in the namespace above). In the default runlevel: a
/// healthy supervised service, one started in the background whose daemon
/// is then killed (`rc-status --crashed` misses it on Debian, see
/// src/services/openrc.rs), one never started, and one never started whose
/// name `services_ignore` matches. sysmon, run in the namespace, reports
/// the crashed and the stopped one (and the alert names them), lists the
/// ignored one as ignored, and not the healthy one; once both are started
/// again the report and the alert clear.
#[test]
fn openrc_crashed_and_stopped_services_are_reported_and_healthy_ones_are_not() {
    const WHAT: &str = "OpenRC services test";
    if !system_tests_enabled(WHAT)
        || !is_root(WHAT)
        || !have_tool("openrc-run", WHAT)
        || !have_tool("supervise-daemon", WHAT)
        || !have_tool("unshare", WHAT)
    {
        return;
    }
    let dir = TempDir::new("openrc-services");
    let ns = OpenRc::new(&dir);
    /// Stops the test's services whatever happens (a failed assertion too).
    struct Stop<'a>(&'a OpenRc);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0
                .sh("for s in healthy crashy stopped; do rc-service $s stop; done; true");
        }
    }
    let _stop = Stop(&ns);
    // Only these services in the runlevel (the host's links are hidden by
    // the overlay's whiteouts).
    ns.ok(
        "set -e
rm -f /etc/runlevels/default/*
mkdir -p /etc/init.d
svc() { printf '#!/sbin/openrc-run\\n%s\\n' \"$2\" > /etc/init.d/$1; chmod +x /etc/init.d/$1; ln -s /etc/init.d/$1 /etc/runlevels/default/$1; }
svc healthy 'supervisor=supervise-daemon
command=/bin/sleep
command_args=1000'
svc crashy 'command=/bin/sleep
command_args=1001
command_background=yes
pidfile=/run/crashy.pid'
svc stopped 'command=/bin/sleep
command_args=1002
command_background=yes
pidfile=/run/stopped.pid'
svc ignored-one 'command=/bin/sleep
command_args=1003
command_background=yes
pidfile=/run/ignored.pid'
rc-service healthy start
rc-service crashy start
kill -9 $(cat /run/crashy.pid)",
    );
    let config = dir.join("sysmon.conf");
    std::fs::write(
        &config,
        format!(
            "backup = off\nupdate_manager = none\nmounts = /\nstate_dir = {}\nservices = openrc\nservices_every = 1s\nservices_ignore = ign*\nalert_service_failed = on\ninterval = 1s\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    let daemon = Daemon::spawn(ns.ns.command(
        BIN,
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    ));
    let problems = |data: &miniserde::json::Value| -> Vec<String> {
        match field(data, &["services", "problems"]) {
            Some(miniserde::json::Value::Array(list)) => {
                list.iter().map(miniserde::json::to_string).collect()
            }
            other => panic!("no services.problems: {other:?}"),
        }
    };
    let reported = wait_for(Duration::from_secs(10), || {
        let data = daemon.data();
        let metrics = daemon.get("/metrics").body_text();
        // The alert in /data.json too: its body is rendered once per
        // sample, and may be a render from before the alert fired.
        let alerts = miniserde::json::to_string(field(&data, &["alerts"]).unwrap());
        (problems(&data).len() == 3
            && alerts.contains("2 services failed: crashy, stopped")
            && metrics.contains("sysmon_alert_firing{alert=\"service_failed\"} 1"))
        .then_some(data)
    })
    .unwrap_or_else(|| panic!("never reported\n{}", daemon.dump()));
    let found = problems(&reported);
    let expected = [
        "{\"ignored\":false,\"name\":\"crashy\",\"problem\":\"crashed\",\"since\":",
        "{\"ignored\":false,\"name\":\"stopped\",\"problem\":\"stopped\",\"since\":",
        "{\"ignored\":true,\"name\":\"ignored-one\",\"problem\":\"stopped\",\"since\":",
    ];
    for (got, want) in found.iter().zip(expected) {
        // Re-serialized by miniserde's Value: keys in order; `since` a time.
        assert!(got.starts_with(want), "{found:?}");
    }
    let services = miniserde::json::to_string(field(&reported, &["services"]).unwrap());
    assert!(
        services.contains("\"init\":\"openrc\"")
            && services.contains("\"active\":1,")
            && services.contains("\"failed\":2,\"ignored\":1,"),
        "{services}"
    );
    let alerts = miniserde::json::to_string(field(&reported, &["alerts"]).unwrap());
    assert!(
        alerts.contains("2 services failed: crashy, stopped"),
        "{alerts}"
    );
    let metrics = daemon.get("/metrics").body_text();
    for line in [
        "sysmon_service_up{init=\"openrc\",name=\"healthy\"} 1",
        "sysmon_service_failed{init=\"openrc\",name=\"healthy\"} 0",
        "sysmon_service_failed{init=\"openrc\",name=\"crashy\"} 1",
        "sysmon_service_failed{init=\"openrc\",name=\"stopped\"} 1",
        "sysmon_service_failed{init=\"openrc\",name=\"ignored-one\"} 0",
        "sysmon_services_failed{init=\"openrc\"} 2",
    ] {
        assert!(
            metrics.contains(&format!("\n{line}\n")),
            "no {line} in:\n{metrics}"
        );
    }
    if have_tool("promtool", "checking the services families") {
        assert_promtool_accepts(metrics.as_bytes());
    }

    // Both started again: nothing failed, the alert resolves.
    ns.ok("rc-service crashy zap && rc-service crashy start && rc-service stopped start");
    let cleared = wait_for(Duration::from_secs(10), || {
        let data = daemon.data();
        let found = problems(&data);
        (found.len() == 1
            && found[0].contains("ignored-one")
            && miniserde::json::to_string(field(&data, &["alerts"]).unwrap()) == "[]")
            .then_some(())
    });
    assert!(cleared.is_some(), "still reported\n{}", daemon.dump());
    assert!(daemon.wait_log("alert service_failed resolved", Duration::from_secs(5)));
    drop(daemon);
}
