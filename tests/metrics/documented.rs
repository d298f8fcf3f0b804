//! What the daemon serves is documented where a user looks: every
//! `sysmon_*` family a real scrape carries is named in full in README.md
//! and in the man page (`sysmon.8`), and every key of a real /data.json is
//! in README's example of it, so a family or key added without a word in
//! the docs fails here. Both are read from a daemon that has made a backup,
//! finished an audit and has alerts and the history file on, so what waits
//! for those is there.
use crate::common::*;
use miniserde::json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// The `sysmon_*` family names of a scrape, from its `# TYPE` lines.
fn sysmon_families(exposition: &str) -> Vec<String> {
    let mut names: Vec<String> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .filter(|name| name.starts_with("sysmon_"))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A daemon on the real /proc that has made a backup of a one-file source,
/// finished an audit (`update_command`) and has alerts and the history file
/// on, and its first scrape that shows all of these.
fn busy_daemon(dir: &TempDir) -> (Daemon, String) {
    let source = dir.join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("a"), "a").unwrap();
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = command\nupdate_command = echo 'pkg 1 -> 2 [security]'\n\
         alert_cpu = 99%\nalert_disk = 1%\nmounts = /\nmetrics_cache = 0s",
        source.display()
    ));
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let wanted = [
        "sysmon_backup_last_success_timestamp_seconds",
        "sysmon_updates_pending",
        "sysmon_history_file_pages_written_total",
        "sysmon_alert_firing",
    ];
    let scrape = wait_for(Duration::from_secs(20), || {
        let text = daemon.get("/metrics").body_text();
        wanted
            .iter()
            .all(|w| text.contains(&format!("# TYPE {w} ")))
            .then_some(text)
    })
    .unwrap_or_else(|| {
        panic!(
            "no backup, audit, history file or alert in /metrics:\n{}",
            daemon.dump()
        )
    });
    (daemon, scrape)
}

#[test]
fn every_sysmon_family_in_a_scrape_is_named_in_readme_and_man_page() {
    let dir = TempDir::new("documented-families");
    let (_daemon, scrape) = busy_daemon(&dir);
    let families = sysmon_families(&scrape);
    assert!(families.len() >= 20, "{families:?}");

    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let man = std::fs::read_to_string(repo().join("init/sysmon.8"))
        .unwrap()
        .replace("\\-", "-")
        .replace("\\&", "")
        .replace("\\%", "");
    let missing = |doc: &str| -> Vec<&String> {
        families
            .iter()
            .filter(|f| !doc.contains(f.as_str()))
            .collect()
    };
    assert!(
        missing(&readme).is_empty(),
        "README.md does not name these /metrics families in full: {:?}",
        missing(&readme)
    );
    assert!(
        missing(&man).is_empty(),
        "init/sysmon.8 does not name these /metrics families in full: {:?}",
        missing(&man)
    );
}

/// Every key path (`backup.last.file`, `top.by_cpu[].pid`) of a JSON value.
fn key_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object.iter() {
                let here = format!("{path}.{key}");
                key_paths(inner, &here, out);
                out.insert(here);
            }
        }
        Value::Array(items) => {
            for item in items.iter() {
                key_paths(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

/// README's example /data.json: its first `json` block under `### /data.json`
/// (the sample up to `updates`) and its second (the objects after it, a
/// fragment of the same object).
fn readme_example() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("\n### /data.json\n")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("README has a /data.json section");
    let blocks: Vec<&str> = section
        .split("```json\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(
        blocks.len() >= 2,
        "README's /data.json examples: {blocks:?}"
    );
    let mut paths = BTreeSet::new();
    for text in [blocks[0].to_string(), format!("{{{}}}", blocks[1])] {
        let value: Value = miniserde::json::from_str(&text)
            .unwrap_or_else(|e| panic!("README's /data.json example is not JSON ({e}):\n{text}"));
        key_paths(&value, "", &mut paths);
    }
    paths
}

#[test]
fn every_key_of_a_real_data_json_is_in_readmes_example() {
    let dir = TempDir::new("documented-keys");
    let (daemon, _) = busy_daemon(&dir);
    // The disk alert (at 1 %: any root file system is over it) fires at a
    // sample, so alerts[]'s keys are always among the served ones, not only
    // when the machine is busy enough for the CPU alert.
    let data = wait_for(Duration::from_secs(20), || {
        let data = daemon.data();
        let firing = match &data {
            Value::Object(fields) => {
                matches!(fields.get("alerts"), Some(Value::Array(alerts)) if !alerts.is_empty())
            }
            _ => false,
        };
        firing.then_some(data)
    })
    .unwrap_or_else(|| panic!("no alert fired at alert_disk = 1%:\n{}", daemon.dump()));
    let mut served = BTreeSet::new();
    key_paths(&data, "", &mut served);
    assert!(served.len() >= 100, "{served:?}");
    let example = readme_example();
    let missing: Vec<&String> = served.difference(&example).collect();
    assert!(
        missing.is_empty(),
        "README's /data.json example lacks keys a real /data.json has: {missing:?}"
    );
}
