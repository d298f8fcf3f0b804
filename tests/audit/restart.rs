//! What needs a restart after an update, through the real binary on the
//! real /proc: a process that maps a copy of a library under a system
//! library directory, which is then replaced the way package managers do
//! it (a new file renamed over the old one), is listed by `sysmon audit`
//! and by the daemon's /data.json and /metrics; once restarted it is not.
//! The library lives in /usr/local/lib inside a private mount namespace
//! (an overlay, see `MountNamespace`), so the host is left as it was.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;
use miniserde::json::Value;

const LIB: &str = "/usr/local/lib/sysmon-restart-test/libz.so.1";

fn obj<'a>(v: &'a Value, key: &str) -> &'a Value {
    let Value::Object(o) = v else {
        panic!("not an object: {}", miniserde::json::to_string(v))
    };
    o.get(key)
        .unwrap_or_else(|| panic!("no {key} in {}", miniserde::json::to_string(v)))
}

/// The `service` of the `restart_needed` entry listing `pid`.
fn service_of(updates: &Value, pid: u32) -> Option<String> {
    let Value::Array(groups) = obj(updates, "restart_needed") else {
        panic!("restart_needed is not a list")
    };
    groups.iter().find_map(|g| {
        let listed = miniserde::json::to_string(obj(g, "pids"));
        let listed = listed
            .trim_matches(['[', ']'])
            .split(',')
            .any(|p| p == pid.to_string());
        match (listed, obj(g, "service")) {
            (true, Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    })
}

/// (pids, files) of each `restart_needed` entry of an `updates` object.
fn restart_needed(updates: &Value) -> Vec<(Vec<u32>, Vec<String>)> {
    let Value::Array(groups) = obj(updates, "restart_needed") else {
        panic!(
            "restart_needed is not a list: {}",
            miniserde::json::to_string(updates)
        )
    };
    groups
        .iter()
        .map(|g| {
            let Value::Array(pids) = obj(g, "pids") else {
                panic!()
            };
            let Value::Array(files) = obj(g, "files") else {
                panic!()
            };
            let pids = pids
                .iter()
                .map(|p| miniserde::json::to_string(p).parse().unwrap())
                .collect();
            let files = files
                .iter()
                .map(|f| match f {
                    Value::String(s) => s.clone(),
                    _ => panic!(),
                })
                .collect();
            (pids, files)
        })
        .collect()
}

fn listed(updates: &Value, pid: u32) -> bool {
    restart_needed(updates)
        .iter()
        .any(|(pids, files)| pids.contains(&pid) && files.iter().any(|f| f == LIB))
}

/// `sleep` with the library copy preloaded, inside the namespace; nsenter
/// execs it, so the child's pid is the sleeper's.
fn sleeper(ns: &MountNamespace) -> Child {
    let mut cmd = ns.command("env", &[&format!("LD_PRELOAD={LIB}"), "sleep", "600"]);
    let child = cmd.stdin(Stdio::null()).spawn().expect("sleeper");
    let maps = format!("/proc/{}/maps", child.id());
    let mapped = wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&maps)
            .ok()
            .filter(|m| m.contains(LIB))
    });
    assert!(mapped.is_some(), "the sleeper never mapped {LIB}");
    child
}

fn audit_json(config: &std::path::Path) -> Value {
    let out = run(sysmon(&[
        "audit",
        "--json",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    miniserde::json::from_str(&text).unwrap()
}

#[test]
fn replaced_library_is_listed_until_the_process_restarts() {
    if !is_root("restart scan test (mount namespace)") || !have_tool("unshare", "restart scan test")
    {
        return;
    }
    let dir = TempDir::new("audit-restart");
    let ns = MountNamespace::new(
        &dir,
        &format!(
            "mkdir -p /usr/local/lib/sysmon-restart-test && cp /usr/lib/x86_64-linux-gnu/libz.so.1 {LIB}"
        ),
    );
    let config = dir.config("update_manager = command\nupdate_command = true");
    let mut old = sleeper(&ns);
    let old_pid = old.id();

    // Mapped, not replaced: nothing to restart.
    assert!(!listed(&audit_json(&config), old_pid));

    // Replaced as dpkg and rpm do: a new file renamed over the old one.
    ns.ok(&format!("cp {LIB} {LIB}.new && mv {LIB}.new {LIB}"));
    let updates = audit_json(&config);
    assert!(
        listed(&updates, old_pid),
        "pid {old_pid} not listed: {}",
        miniserde::json::to_string(&updates)
    );

    // The daemon: after its audit, /data.json and /metrics say the same.
    let daemon = Daemon::start_with(&["--config", config.to_str().unwrap()], |_| {});
    let data = wait_for(Duration::from_secs(20), || {
        let u = obj(&daemon.data(), "updates").clone();
        matches!(obj(&u, "restart_needed"), Value::Array(_)).then_some(u)
    })
    .expect("the daemon never published restart_needed");
    assert!(
        listed(&data, old_pid),
        "{}",
        miniserde::json::to_string(&data)
    );
    let metrics = daemon.get("/metrics").body_text();
    let processes: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sysmon_restart_needed_processes "))
        .expect("sysmon_restart_needed_processes in /metrics")
        .parse()
        .unwrap();
    assert!(processes >= 1.0, "{metrics}");
    assert_promtool_accepts(metrics.as_bytes());
    drop(daemon);

    // Restarted: the new process maps the new file; neither pid is listed.
    old.kill().unwrap();
    old.wait().unwrap();
    let mut new = sleeper(&ns);
    let updates = audit_json(&config);
    assert!(!listed(&updates, old_pid));
    assert!(
        !listed(&updates, new.id()),
        "{}",
        miniserde::json::to_string(&updates)
    );
    new.kill().unwrap();
    new.wait().unwrap();
}

/// A runit service (runsv supervising it, no PID 1 needed) whose process
/// maps the replaced library is listed under the service's name.
#[test]
fn runit_service_is_named_by_its_supervisor() {
    if !is_root("restart scan test (mount namespace)")
        || !have_tool("unshare", "restart scan test")
        || !have_tool("runsv", "restart scan by runit service")
    {
        return;
    }
    let dir = TempDir::new("audit-restart-runit");
    let ns = MountNamespace::new(
        &dir,
        &format!(
            "mkdir -p /usr/local/lib/sysmon-restart-test && cp /usr/lib/x86_64-linux-gnu/libz.so.1 {LIB}"
        ),
    );
    let service = dir.join("sysmon-restart-svc");
    std::fs::create_dir_all(&service).unwrap();
    let run_script = service.join("run");
    std::fs::write(
        &run_script,
        format!("#!/bin/sh\nexec env LD_PRELOAD={LIB} sleep 600\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&run_script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut runsv = ns
        .command("runsv", &[service.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .expect("runsv");
    let pid_file = service.join("supervise/pid");
    let pid: u32 = wait_for(Duration::from_secs(10), || {
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .ok()?
            .contains(LIB)
            .then_some(pid)
    })
    .expect("the runit service never started");
    ns.ok(&format!("cp {LIB} {LIB}.new && mv {LIB}.new {LIB}"));
    let config = dir.config("update_manager = command\nupdate_command = true");
    let updates = audit_json(&config);
    let _ = run(ns.command("sv", &["exit", service.to_str().unwrap()]));
    let _ = runsv.wait();
    let _ = std::fs::remove_dir_all(&service);
    assert_eq!(
        service_of(&updates, pid).as_deref(),
        Some("sysmon-restart-svc"),
        "{}",
        miniserde::json::to_string(&updates)
    );
}

/// A scan that cannot list the processes (here the proc root is a file;
/// on a box, descriptors or memory running out: a daemon at
/// `LimitNOFILE=16` logged `0 processes scanned`) answered "nothing to
/// restart", `restart_needed: []` and `sysmon_restart_needed_processes 0`:
/// an all-clear for processes it never saw, replacing a scan that had
/// found some. Such a scan is logged as failed and the last one stands
/// (here none: `null`, unknown).
#[test]
fn a_scan_that_cannot_list_the_processes_is_no_all_clear() {
    use crate::support::{config, drive, env, shimmed, status};
    let (dir, shims) = shimmed("audit-restart-unlisted");
    let mut c = config(dir.path(), sysmon::config::UpdateManager::Command);
    c.updates.command = Some("true".into());
    std::fs::write(&c.proc_root, "not a directory\n").unwrap();
    let mut audit = sysmon::audit::AuditService::with_env(&c, env(dir.path(), &shims));
    drive(&mut audit, Duration::from_secs(30));
    let json = status(&audit);
    assert!(
        json.restart_needed.is_none(),
        "an all-clear from a scan that saw nothing: {}",
        miniserde::json::to_string(&json)
    );
}
