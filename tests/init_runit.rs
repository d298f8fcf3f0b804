//! Issue #5: runit for real. `runsv` (it need not be PID 1) supervises the
//! shipped init/runit/sysmon service, copied verbatim into a temp dir; a
//! `conf` file beside `run` (the Void convention the script reads) points it
//! at the binary under test, a test config and a temp log dir, and runs it as
//! `nobody`. Checked: `sv status` says run, the port answers, the daemon runs
//! unprivileged with only CAP_DAC_READ_SEARCH, `kill -9` is followed by a
//! restart, `sv stop` stops it cleanly (SIGTERM, "stopped" in the svlogd log),
//! `sv exit` ends runsv, and a broken config never starts the daemon.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Runsv {
    child: Child,
    service: PathBuf,
}

impl Runsv {
    fn start(service: &Path) -> Runsv {
        let child = Command::new("runsv")
            .arg(service)
            .stdin(Stdio::null())
            .spawn()
            .expect("runsv");
        Runsv {
            child,
            service: service.to_path_buf(),
        }
    }

    fn sv(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("sv");
        cmd.args(args).arg(&self.service);
        let out = run(cmd);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pid runsv reports in supervise/pid, when the service is up.
    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.service.join("supervise/pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn log(&self, svlog: &Path) -> String {
        std::fs::read_to_string(svlog.join("current")).unwrap_or_default()
    }
}

impl Drop for Runsv {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("sv").arg("exit").arg(&self.service).output();
            if wait_for(Duration::from_secs(5), || {
                self.child.try_wait().ok().flatten()
            })
            .is_none()
            {
                if let Some(pid) = self.pid() {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                }
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

fn copy_service(dir: &TempDir) -> PathBuf {
    let service = dir.join("sv/sysmon");
    std::fs::create_dir_all(service.join("log")).unwrap();
    for file in ["run", "log/run"] {
        let to = service.join(file);
        std::fs::copy(repo().join("init/runit/sysmon").join(file), &to).unwrap();
    }
    service
}

fn status_of(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn runit_available() -> bool {
    have_tool("runsv", "runit supervision test")
        && have_tool("sv", "runit supervision test")
        && is_root("runit test (run as nobody)")
}

#[test]
fn runsv_supervises_restarts_and_stops_sysmon() {
    if !runit_available() {
        return;
    }
    let dir = TempDir::new("runit");
    let port = free_port();
    // Output directories do not exist yet: the run script makes them for the user.
    let out = dir.join("out");
    let config = dir.join("sysmon.conf");
    std::fs::write(
        &config,
        format!(
            "listen = 127.0.0.1:{port}\nbackup_dir = {o}/backups\nlog_dir = {o}/logs\nstate_dir = {o}/state\nbackup = off\nupdate_manager = none\n",
            o = out.display()
        ),
    )
    .unwrap();
    let svlog = dir.join("svlog");
    let service = copy_service(&dir);
    std::fs::write(
        service.join("conf"),
        format!(
            "SYSMON_BIN={BIN}\nSYSMON_CONFIG={}\nSYSMON_USER=nobody\nSYSMON_SVLOGDIR={}\n",
            config.display(),
            svlog.display()
        ),
    )
    .unwrap();

    let runsv = Runsv::start(&service);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let answers = || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            .is_ok()
            .then_some(())
    };
    let first = wait_for(Duration::from_secs(10), || {
        runsv.pid().filter(|_| answers().is_some())
    })
    .unwrap_or_else(|| {
        panic!(
            "sysmon never answered on {addr}; log:\n{}",
            runsv.log(&svlog)
        )
    });
    assert!(
        runsv.sv(&["status"]).starts_with("run: "),
        "{}",
        runsv.log(&svlog)
    );
    assert_eq!(http(addr, "GET /data.json HTTP/1.0\r\n\r\n").status, 200);

    // Unprivileged, with the one capability the backup needs and no way to gain more.
    let nobody = String::from_utf8(
        Command::new("id")
            .args(["-u", "nobody"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        status_of(first, "Uid:").split_whitespace().next(),
        Some(nobody.trim())
    );
    assert_eq!(
        status_of(first, "CapEff:"),
        "0000000000000004",
        "CAP_DAC_READ_SEARCH only"
    );
    // `run --user` empties the bounding set too (see sys::drop_privileges).
    assert_eq!(status_of(first, "CapBnd:"), "0000000000000000");
    assert_eq!(status_of(first, "NoNewPrivs:"), "1");
    // The run script created the output directories for that user.
    let meta = std::fs::metadata(out.join("logs")).expect("log_dir created by the run script");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta).to_string(),
        nobody.trim()
    );

    // kill -9: runsv starts a new process (about a second later).
    assert!(
        Command::new("kill")
            .args(["-9", &first.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let second = wait_for(Duration::from_secs(10), || {
        runsv.pid().filter(|p| *p != first && answers().is_some())
    })
    .unwrap_or_else(|| panic!("no restart after kill -9; log:\n{}", runsv.log(&svlog)));
    assert_ne!(first, second);

    // sv stop: SIGTERM, a clean stop, and the service stays down.
    assert!(
        runsv.sv(&["stop"]).starts_with("ok: down"),
        "{}",
        runsv.log(&svlog)
    );
    assert!(runsv.sv(&["status"]).starts_with("down: "));
    assert!(
        !Path::new(&format!("/proc/{second}")).exists(),
        "pid {second} still alive after sv stop"
    );
    assert!(answers().is_none(), "port still answers after sv stop");
    let log = wait_for(Duration::from_secs(5), || {
        Some(runsv.log(&svlog)).filter(|l| l.contains("sysmon: stopped"))
    })
    .unwrap_or_else(|| {
        panic!(
            "svlogd log lacks the clean stop line:\n{}",
            runsv.log(&svlog)
        );
    });
    assert_eq!(log.matches("listening on").count(), 2, "{log}");

    // sv exit: runsv (and its log service) end.
    runsv.sv(&["exit"]);
    let mut runsv = runsv;
    let ended = wait_for(Duration::from_secs(5), || runsv.child.try_wait().unwrap());
    assert!(ended.is_some(), "runsv still running after sv exit");
}

#[test]
fn runit_refuses_a_broken_config_with_its_line() {
    if !runit_available() {
        return;
    }
    let dir = TempDir::new("runit-bad");
    let config = dir.join("sysmon.conf");
    std::fs::write(&config, "backup = off\ninterval = soon\n").unwrap();
    let svlog = dir.join("svlog");
    let service = copy_service(&dir);
    std::fs::write(
        service.join("conf"),
        format!(
            "SYSMON_BIN={BIN}\nSYSMON_CONFIG={}\nSYSMON_USER=nobody\nSYSMON_SVLOGDIR={}\n",
            config.display(),
            svlog.display()
        ),
    )
    .unwrap();
    let runsv = Runsv::start(&service);
    let wanted = format!("{}:2: interval", config.display());
    let log = wait_for(Duration::from_secs(10), || {
        Some(runsv.log(&svlog)).filter(|l| l.contains(&wanted))
    });
    assert!(
        log.is_some(),
        "no `{wanted}` in the log:\n{}",
        runsv.log(&svlog)
    );
    assert!(
        !runsv.log(&svlog).contains("listening on"),
        "started despite the broken config"
    );
}

#[test]
fn runit_and_openrc_scripts_pass_shellcheck() {
    if !have_tool("shellcheck", "linting the service scripts") {
        return;
    }
    let mut cmd = Command::new("shellcheck");
    cmd.args(["-s", "sh"]).current_dir(repo());
    cmd.args([
        "init/runit/sysmon/run",
        "init/runit/sysmon/log/run",
        "init/openrc/sysmon",
        "init/openrc/sysmon.confd",
    ]);
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Issue 18: `make uninstall` while runit runs the service (enabled by the
/// link make printed) takes the link away, stops the daemon and ends runsv
/// before removing the files. Every install path is redirected into the
/// test's directory, so nothing of the host is touched.
#[test]
fn uninstall_stops_and_disables_a_running_runit_service() {
    if !runit_available() || !system_tests_enabled("runit uninstall test") {
        return;
    }
    let dir = TempDir::new("runit-uninstall");
    let port = free_port();
    let config = dir.join("sysmon.conf");
    std::fs::write(
        &config,
        format!(
            "listen = 127.0.0.1:{port}\nbackup_dir = {o}/backups\nlog_dir = {o}/logs\nstate_dir = {o}/state\nbackup = off\nupdate_manager = none\n",
            o = dir.join("out").display()
        ),
    )
    .unwrap();
    let service = copy_service(&dir);
    std::fs::write(
        service.join("conf"),
        format!(
            "SYSMON_BIN={BIN}\nSYSMON_CONFIG={}\nSYSMON_USER=nobody\nSYSMON_SVLOGDIR={}\n",
            config.display(),
            dir.join("svlog").display()
        ),
    )
    .unwrap();
    let rundir = dir.join("service");
    std::fs::create_dir_all(&rundir).unwrap();
    std::os::unix::fs::symlink(&service, rundir.join("sysmon")).unwrap();
    let mut runsv = Runsv::start(&service);
    let daemon =
        wait_for(Duration::from_secs(10), || runsv.pid()).unwrap_or_else(|| panic!("never up"));

    let mut cmd = Command::new("make");
    cmd.args(["-s", "-C"]).arg(repo()).arg("uninstall").args([
        format!("PREFIX={}", dir.join("prefix").display()),
        format!("SYSCONFDIR={}", dir.join("etc").display()),
        format!("RUNIT_SVDIR={}", dir.join("sv").display()),
        format!("RUNIT_RUNDIR={}", rundir.display()),
    ]);
    let out = run(cmd);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("sv down"), "{said}");
    assert!(
        !rundir.join("sysmon").exists(),
        "the enable link is still there"
    );
    let ended = wait_for(Duration::from_secs(10), || runsv.child.try_wait().unwrap());
    assert!(ended.is_some(), "runsv still runs after uninstall");
    assert!(
        !Path::new(&format!("/proc/{daemon}")).exists(),
        "sysmon {daemon} still runs"
    );
    assert!(!service.join("run").exists() && !service.join("log/run").exists());
}

/// Issue 14: the Services card under a real runsv. Three services, each
/// with its own runsv in a service directory sysmon is pointed at: one up
/// (`sleep`), one whose `run` exits at once (runsv restarts it every
/// second), one stopped with `sv down`. The crash loop is reported in
/// /data.json (`restarting` or `down`), /metrics and the
/// `service_failed` alert, which names it; the healthy and the stopped one
/// are not. Once its `run` is fixed the report and the alert clear.
#[test]
fn runit_services_in_a_crash_loop_are_reported_and_healthy_ones_are_not() {
    const WHAT: &str = "runit services test";
    if !have_tool("runsv", WHAT) || !have_tool("sv", WHAT) {
        return;
    }
    let dir = TempDir::new("runit-services");
    let svdir = dir.join("service");
    let script = |name: &str, body: &str| {
        let service = svdir.join(name);
        std::fs::create_dir_all(&service).unwrap();
        let run = service.join("run");
        std::fs::write(&run, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        service
    };
    let healthy = Runsv::start(&script("healthy", "exec sleep 1000"));
    let crashy = Runsv::start(&script("crashy", "exit 1"));
    let stopped = Runsv::start(&script("stopped", "exec sleep 1000"));
    assert!(
        wait_for(Duration::from_secs(5), || healthy.pid().and(stopped.pid())).is_some(),
        "runsv never started the services"
    );
    assert!(stopped.sv(&["stop"]).starts_with("ok: down"));

    let daemon = Daemon::on_fixture(
        &dir,
        &format!(
            "services = runit\nservices_runit_dir = {}\nservices_every = 1s\nalert_service_failed = on\ninterval = 1s\n",
            svdir.display()
        ),
    );
    let problems = |data: &miniserde::json::Value| -> Vec<(String, String)> {
        match field(data, &["services", "problems"]) {
            Some(miniserde::json::Value::Array(list)) => list
                .iter()
                .map(|p| {
                    (
                        text(p, &["name"]).unwrap_or_default(),
                        text(p, &["problem"]).unwrap_or_default(),
                    )
                })
                .collect(),
            other => panic!("no services.problems: {other:?}"),
        }
    };
    // A loop is seen at two polls in a row (1 s apart here).
    let reported = wait_for(Duration::from_secs(15), || {
        let data = daemon.data();
        let firing = daemon.get("/metrics").body_text();
        // The alert follows the poll that found the loop: wait until this
        // answer shows both (one answer may show the problem first).
        let alerts = field(&data, &["alerts"]).map(miniserde::json::to_string);
        (problems(&data).iter().any(|(n, _)| n == "crashy")
            && alerts.is_some_and(|a| a.contains("service_failed"))
            && firing.contains("sysmon_alert_firing{alert=\"service_failed\"} 1"))
        .then_some(data)
    })
    .unwrap_or_else(|| panic!("the crash loop was never reported\n{}", daemon.dump()));
    assert_eq!(
        text(&reported, &["services", "init"]).as_deref(),
        Some("runit")
    );
    let found = problems(&reported);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].1 == "restarting" || found[0].1 == "down",
        "{found:?}"
    );
    let alerts = miniserde::json::to_string(field(&reported, &["alerts"]).unwrap());
    assert!(
        alerts.contains("service_failed") && alerts.contains("1 service failed: crashy"),
        "{alerts}"
    );
    let metrics = daemon.get("/metrics").body_text();
    for line in [
        "sysmon_service_up{init=\"runit\",name=\"healthy\"} 1",
        "sysmon_service_failed{init=\"runit\",name=\"healthy\"} 0",
        "sysmon_service_up{init=\"runit\",name=\"stopped\"} 0",
        "sysmon_service_failed{init=\"runit\",name=\"stopped\"} 0",
        "sysmon_service_failed{init=\"runit\",name=\"crashy\"} 1",
        "sysmon_services_failed{init=\"runit\"} 1",
        "sysmon_services{init=\"runit\",state=\"inactive\"} 1",
    ] {
        assert!(
            metrics.contains(&format!("\n{line}\n")),
            "no {line} in:\n{metrics}"
        );
    }
    assert!(!metrics.contains("node_systemd_unit_state"), "systemd only");
    if have_tool("promtool", "checking the services families") {
        assert_promtool_accepts(metrics.as_bytes());
    }
    assert!(daemon.wait_log("alert service_failed firing", Duration::from_secs(5)));

    // Fixed: runsv runs the new `run` at its next restart; the loop ends.
    std::fs::write(svdir.join("crashy/run"), "#!/bin/sh\nexec sleep 1000\n").unwrap();
    let cleared = wait_for(Duration::from_secs(15), || {
        let data = daemon.data();
        (problems(&data).is_empty()
            && field(&data, &["alerts"]).is_some_and(|a| miniserde::json::to_string(a) == "[]"))
        .then_some(())
    });
    assert!(
        cleared.is_some(),
        "still reported after the fix\n{}",
        daemon.dump()
    );
    assert!(daemon.wait_log("alert service_failed resolved", Duration::from_secs(5)));
    drop(crashy);
}

/// Issue 14: runsv keeps `supervise/` root's (mode 0700). sysmon started as
/// root with `user = nobody` reads it with the CAP_DAC_READ_SEARCH it keeps;
/// started as nobody without any capability it cannot, and says so in
/// /data.json's `services.error` rather than showing no services.
#[test]
fn runit_status_is_read_with_the_kept_capability_and_its_absence_is_an_error() {
    const WHAT: &str = "runit services unprivileged";
    if !have_tool("runsv", WHAT) || !is_root(WHAT) || !have_tool("setpriv", WHAT) {
        return;
    }
    let dir = TempDir::new("runit-services-privileges");
    let svdir = dir.join("service");
    let service = svdir.join("healthy");
    std::fs::create_dir_all(&service).unwrap();
    std::fs::write(service.join("run"), "#!/bin/sh\nexec sleep 1000\n").unwrap();
    std::fs::set_permissions(
        service.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let runsv = Runsv::start(&service);
    assert!(wait_for(Duration::from_secs(5), || runsv.pid()).is_some());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(service.join("supervise"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o700, "runsv's supervise/ is root-only");
    let settings = format!(
        "backup = off\nupdate_manager = none\nhistory_tiers = off\nservices = runit\nservices_runit_dir = {}\nservices_every = 1s\n",
        svdir.display()
    );
    let services = |daemon: &Daemon| {
        wait_for(Duration::from_secs(10), || {
            let data = daemon.data();
            field(&data, &["services", "polled_at"])
                .is_some_and(|v| !matches!(v, miniserde::json::Value::Null))
                .then(|| miniserde::json::to_string(field(&data, &["services"]).unwrap()))
        })
        .unwrap_or_else(|| panic!("services never read\n{}", daemon.dump()))
    };

    let kept = Daemon::start(&[
        "--config",
        dir.config(&format!("{settings}user = nobody\n"))
            .to_str()
            .unwrap(),
    ]);
    let read = services(&kept);
    assert!(
        read.contains("\"active\":1,") && read.contains("\"error\":null"),
        "{read}"
    );
    drop(kept);

    let config = dir.join("unprivileged.conf");
    std::fs::write(&config, &settings).unwrap();
    let bare = Daemon::start_unprivileged(&["--config", config.to_str().unwrap()])
        .expect("setpriv is there");
    let read = services(&bare);
    assert!(
        read.contains("supervise/status: Permission denied") && read.contains("\"active\":0,"),
        "{read}"
    );
}
