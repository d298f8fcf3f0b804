//! What needs a restart, grouped by systemd unit under a real systemd as
//! PID 1: the host's own tree booted by systemd-nspawn (the shared
//! [`Nspawn::boot_host_tree`], from a private mount namespace whose
//! /usr/local is an overlay, so the host is left as it was). A service
//! unit's process maps a copy of libz under /usr/local/lib; once the copy
//! is replaced as dpkg and rpm do (a new file renamed over it), `sysmon
//! audit --json` run inside the container lists that process under the
//! unit's name, from its cgroup as systemd made it; after `systemctl
//! restart` the unit is gone from the list.
//!
//! It boots a container, so it runs only with CI=true or SYSMON_SYSTEM_TESTS=1.

use std::time::Duration;

use crate::common::*;
use miniserde::json::Value;

const WHAT: &str = "restart list by systemd unit (systemd-nspawn)";
const DIR: &str = "/usr/local/lib/sysmon-restart-test";
const UNIT: &str = "sysmon-restart-probe.service";

fn obj<'a>(v: &'a Value, key: &str) -> &'a Value {
    let Value::Object(o) = v else {
        panic!("not an object: {}", miniserde::json::to_string(v))
    };
    o.get(key)
        .unwrap_or_else(|| panic!("no {key} in {}", miniserde::json::to_string(v)))
}

/// `restart_needed` of `sysmon audit --json` as (service, pids, files).
fn restart_needed(container: &Nspawn) -> Vec<(Option<String>, Vec<u32>, Vec<String>)> {
    let out = container.sh(&format!(
        "{DIR}/sysmon audit --json --config /etc/sysmon-restart-test.conf"
    ));
    assert_eq!(out.status.code(), Some(0), "sysmon audit failed");
    let json: Value = miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let Value::Array(groups) = obj(&json, "restart_needed") else {
        panic!("restart_needed is not a list")
    };
    let strings = |v: &Value| -> Vec<String> {
        let Value::Array(items) = v else { panic!() };
        items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => miniserde::json::to_string(other),
            })
            .collect()
    };
    groups
        .iter()
        .map(|g| {
            let service = match obj(g, "service") {
                Value::String(s) => Some(s.clone()),
                _ => None,
            };
            let pids = strings(obj(g, "pids"))
                .iter()
                .map(|p| p.parse().unwrap())
                .collect();
            (service, pids, strings(obj(g, "files")))
        })
        .collect()
}

/// The unit's main pid once it maps the library copy.
fn main_pid_mapping_the_copy(container: &Nspawn) -> u32 {
    let pid: u32 = container
        .ok(&format!("systemctl show -p MainPID --value {UNIT}"))
        .trim()
        .parse()
        .unwrap();
    assert!(pid > 1, "{UNIT} has no main pid");
    let maps = container.host_path(&format!("proc/{pid}/maps"));
    let mapped = wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&maps)
            .ok()
            .filter(|m| m.contains(&format!("{DIR}/libz.so.1")))
    });
    assert!(mapped.is_some(), "pid {pid} never mapped the copy");
    pid
}

#[test]
fn replaced_library_is_listed_under_its_systemd_unit_until_restarted() {
    if !system_tests_enabled(WHAT)
        || !is_root(WHAT)
        || !have_tool("systemd-nspawn", WHAT)
        || !have_tool("unshare", WHAT)
        || !have_tool("nsenter", WHAT)
    {
        return;
    }
    let dir = TempDir::new("audit-restart-systemd");
    // The binary under test and the library copy, in /usr/local (the
    // container's /usr is the host's, read-only, this overlay included).
    let ns = MountNamespace::new(
        &dir,
        &format!(
            "mkdir -p {DIR} && cp {BIN} {DIR}/sysmon && cp /usr/lib/x86_64-linux-gnu/libz.so.1 {DIR}/libz.so.1"
        ),
    );
    let container = Nspawn::boot_host_tree(&ns, &dir);
    let booted = container.wait_systemd_booted();
    assert!(
        booted.is_some(),
        "the container's systemd never finished booting"
    );

    container.ok(&format!(
        "set -e
mkdir -p /etc/systemd/system
cat > /etc/systemd/system/{UNIT} <<'EOF'
[Service]
Environment=LD_PRELOAD={DIR}/libz.so.1
ExecStart=/bin/sleep infinity
EOF
cat > /etc/sysmon-restart-test.conf <<'EOF'
update_manager = command
update_command = true
backup = off
EOF
systemctl daemon-reload
systemctl start {UNIT}"
    ));
    let old = main_pid_mapping_the_copy(&container);
    let cgroup = container.ok(&format!("cat /proc/{old}/cgroup"));
    assert!(
        cgroup.contains(&format!("/system.slice/{UNIT}")),
        "systemd put it in {cgroup}"
    );

    // Mapped, not replaced: nothing to restart.
    let before = restart_needed(&container);
    assert!(
        !before.iter().any(|(_, pids, _)| pids.contains(&old)),
        "{before:?}"
    );

    // Replaced as dpkg and rpm do: a new file renamed over the old one.
    ns.ok(&format!(
        "cp {DIR}/libz.so.1 {DIR}/libz.so.1.new && mv {DIR}/libz.so.1.new {DIR}/libz.so.1"
    ));
    let after = restart_needed(&container);
    let group = after
        .iter()
        .find(|(_, pids, _)| pids.contains(&old))
        .unwrap_or_else(|| panic!("pid {old} not listed: {after:?}"));
    assert_eq!(group.0.as_deref(), Some(UNIT), "{after:?}");
    assert_eq!(group.2, [format!("{DIR}/libz.so.1")]);

    // Restarted, it maps the new file: the unit is no longer listed.
    container.ok(&format!("systemctl restart {UNIT}"));
    let new = main_pid_mapping_the_copy(&container);
    assert_ne!(new, old);
    let restarted = restart_needed(&container);
    assert!(
        !restarted
            .iter()
            .any(|(service, _, _)| service.as_deref() == Some(UNIT)),
        "{restarted:?}"
    );
}
