//! Security on Arch through the real binary: pacman has no security flag,
//! so with updates pending `sysmon audit` runs `arch-audit --upgradable`
//! (a shim replaying tests/fixtures/audit/arch-audit) and flags what it
//! names, CVE ids in the log; without arch-audit, or when it fails, the
//! list stands and security is unknown (null, with the reason), not 0, in
//! the JSON and the log.

use crate::common::*;
use crate::support::Shims;
use miniserde::json::Value;

struct Audit {
    code: Option<i32>,
    json: Value,
    log: String,
    shims: Shims,
}

fn audit(dir: &TempDir, arch_audit: Option<&str>) -> Audit {
    let shims = Shims::new(dir.path());
    shims.tool("checkupdates", "pacman/updates");
    if let Some(fixture) = arch_audit {
        shims.tool("arch-audit", fixture);
    }
    let config = dir.config("update_manager = pacman");
    let mut cmd = sysmon(&["audit", "--json", "--config", config.to_str().unwrap()]);
    cmd.env("PATH", shims.path());
    let out = run(cmd);
    let json = miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let logs = crate::support::logs(&dir.join("logs"));
    assert_eq!(logs.len(), 1);
    Audit {
        code: out.status.code(),
        json,
        log: std::fs::read_to_string(&logs[0]).unwrap(),
        shims,
    }
}

fn json(v: &Value, key: &str) -> String {
    miniserde::json::to_string(field(v, &[key]).unwrap_or_else(|| panic!("no {key}")))
}

fn flagged(v: &Value) -> Vec<String> {
    let Some(Value::Array(pkgs)) = field(v, &["packages"]) else {
        panic!("no packages")
    };
    pkgs.iter()
        .filter(|p| json(p, "security") == "true")
        .map(|p| text(p, &["name"]).unwrap())
        .collect()
}

#[test]
fn arch_audit_present_flags_security_updates_with_their_cves() {
    let dir = TempDir::new("arch-audit-present");
    let a = audit(&dir, Some("arch-audit/present"));
    assert_eq!(a.code, Some(100));
    assert_eq!(
        a.shims.calls("arch-audit").len(),
        1,
        "{:?}",
        a.shims.calls("arch-audit")
    );
    assert!(a.shims.calls("arch-audit")[0].ends_with("args=--upgradable --format %n|%c"));
    assert_eq!(json(&a.json, "count"), "5");
    assert_eq!(json(&a.json, "security_count"), "2");
    assert_eq!(json(&a.json, "security_unknown"), "null");
    // openssl is not pending: arch-audit naming it changes nothing.
    assert_eq!(flagged(&a.json), ["linux", "zlib"]);
    assert!(
        a.log
            .contains("security: linux CVE-2024-1086,CVE-2024-26581"),
        "{}",
        a.log
    );
    assert!(
        a.log.contains("zlib 1:1.3.1-1 -> 1:1.3.1-2 [security]"),
        "{}",
        a.log
    );
}

#[test]
fn arch_audit_absent_leaves_security_unknown_not_zero() {
    let dir = TempDir::new("arch-audit-absent");
    let a = audit(&dir, None);
    assert_eq!(a.code, Some(100));
    assert_eq!(json(&a.json, "count"), "5");
    assert_eq!(json(&a.json, "security_count"), "null");
    assert!(
        json(&a.json, "security_unknown").contains("arch-audit is not installed"),
        "{}",
        miniserde::json::to_string(&a.json)
    );
    assert!(flagged(&a.json).is_empty());
    assert!(
        a.log
            .contains("security: unavailable: arch-audit is not installed"),
        "{}",
        a.log
    );
    assert!(a.log.contains("security unknown"), "{}", a.log);
}

#[test]
fn arch_audit_failing_leaves_security_unknown_and_says_why() {
    let dir = TempDir::new("arch-audit-failing");
    let a = audit(&dir, Some("arch-audit/failing"));
    assert_eq!(a.code, Some(100), "the list stands");
    assert_eq!(json(&a.json, "count"), "5");
    assert_eq!(json(&a.json, "security_count"), "null");
    let why = json(&a.json, "security_unknown");
    assert!(
        why.contains("arch-audit failed") && why.contains("security.archlinux.org"),
        "{why}"
    );
    assert!(
        a.log.contains("security: unavailable: arch-audit failed"),
        "{}",
        a.log
    );
}
