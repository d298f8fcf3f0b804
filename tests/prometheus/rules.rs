//! `init/prometheus/sysmon.rules.yml`, the alerting rules shipped for
//! Prometheus users: valid (`promtool check rules`), right on recorded
//! series (`promtool test rules` with `sysmon.rules.test.yml`: every rule
//! firing and not firing), and written against what sysmon serves: every
//! series they name is in the real binary's /metrics, and a real Prometheus
//! evaluating them on sysmon's scrapes fires the alerts sysmon's state calls
//! for, with no rule in error.
use super::audit_support::shimmed;
use super::support::*;
use crate::common::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn rules_file() -> PathBuf {
    repo().join("init/prometheus/sysmon.rules.yml")
}

/// `promtool ARGS...`, its output printed; fails the test unless it exits 0.
fn promtool(args: &[&str]) -> String {
    let mut cmd = Command::new("promtool");
    cmd.args(args);
    let out = run(cmd);
    assert!(out.status.success(), "promtool {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn promtool_checks_and_unit_tests_the_rules() {
    if !have_tool(
        "promtool",
        "promtool check/test rules (Debian package prometheus)",
    ) {
        return;
    }
    let rules = rules_file();
    let said = promtool(&["check", "rules", rules.to_str().unwrap()]);
    assert!(said.contains("SUCCESS: 9 rules found"), "{said}");
    let tests = repo().join("tests/prometheus/sysmon.rules.test.yml");
    let said = promtool(&["test", "rules", tests.to_str().unwrap()]);
    assert!(said.contains("SUCCESS"), "{said}");
}

/// The metric names (`node_*`, `sysmon_*`) in the rules' expressions:
/// every identifier so named outside comments and annotations (the
/// templates there say `$labels.instance`, never a metric).
fn names_in_rules() -> Vec<String> {
    let text = std::fs::read_to_string(rules_file()).unwrap();
    let mut names: Vec<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.contains("summary:"))
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| w.starts_with("node_") || w.starts_with("sysmon_"))
        .map(String::from)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_rules_fire_on_a_real_prometheus_scraping_sysmon() {
    if !have_tool(
        "prometheus",
        "a real Prometheus server (Debian package prometheus)",
    ) {
        return;
    }
    // A state in which CPU (sysmon's alert at 0%, at once) and security
    // updates (the recorded apt run has 72; sysmon's alert at 1) fire, and
    // a backup made a moment ago is not too old.
    let (dir, shims) = shimmed("rules-live");
    shims.tool("apt-get", "apt/bookworm-115");
    let source = dir.join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("file"), "backed up\n").unwrap();
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = apt\ninterval = 1s\nalert_cpu = 0% for 0s\nalert_updates_security = 1",
        source.display()
    ));
    let path = shims.path();
    let sysmon = Daemon::start_with(&["--config", config.to_str().unwrap()], |cmd| {
        cmd.env("PATH", &path);
    });
    let metrics = wait_for(Duration::from_secs(20), || {
        let text = sysmon.get("/metrics").body_text();
        (text.contains("\nsysmon_updates_security_pending ")
            && text.contains("\nsysmon_backup_last_success_timestamp_seconds "))
        .then_some(text)
    })
    .unwrap_or_else(|| panic!("no audit or backup result: {}", sysmon.dump()));

    // Every name the rules use is a family sysmon serves.
    let names = names_in_rules();
    eprintln!("the rules use {names:?}");
    assert!(names.len() >= 10, "{names:?}");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !metrics.contains(&format!("\n# TYPE {n} ")))
        .collect();
    assert!(
        missing.is_empty(),
        "the rules use {missing:?}, not in sysmon's /metrics"
    );

    let rules = rules_file();
    let Some(mut prometheus) = prometheus(&dir, &[("sysmon", sysmon.addr)], &[&rules]) else {
        return;
    };
    wait_scraped(
        &mut prometheus,
        &["sysmon"],
        1,
        "5s",
        Duration::from_secs(30),
    );
    // The rules without a hold fire on their first evaluation after a scrape.
    let firing = |alert: &str, extra: &str| {
        let expr =
            format!("ALERTS{{alertname=\"{alert}\",alertstate=\"firing\",job=\"sysmon\"{extra}}}");
        query(prometheus.addr, &expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    };
    let fired = wait_for(Duration::from_secs(15), || {
        (!firing("SysmonSecurityUpdates", "").is_empty()
            && !firing("SysmonAlertFiring", ",alert=\"cpu\"").is_empty()
            && !firing("SysmonAlertFiring", ",alert=\"updates_security\"").is_empty())
        .then_some(())
    });
    assert!(
        fired.is_some(),
        "SysmonSecurityUpdates and SysmonAlertFiring{{alert=cpu|updates_security}} never fired: {:?}\nsysmon:\n{metrics}",
        query(prometheus.addr, "ALERTS")
    );
    assert!(
        firing("SysmonBackupTooOld", "").is_empty(),
        "a fresh backup is not too old"
    );
    assert!(
        firing("SysmonBackupFailed", "").is_empty(),
        "the backup succeeded"
    );
    // sysmon reads the real /run/reboot-required (apt's flag).
    let reboot = std::path::Path::new("/run/reboot-required").exists();
    assert_eq!(!firing("SysmonRebootRequired", "").is_empty(), reboot);

    // No rule fails to evaluate on sysmon's series.
    let r = http(
        prometheus.addr,
        &format!(
            "GET /api/v1/rules HTTP/1.0\r\nHost: {}\r\n\r\n",
            prometheus.addr
        ),
    );
    let body = r.body_text();
    assert_eq!(r.status, 200, "{body}");
    assert_eq!(body.matches("\"health\":\"ok\"").count(), 9, "{body}");
}
