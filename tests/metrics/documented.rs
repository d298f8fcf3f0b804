//! sysmon's own families are documented where a user looks: every
//! `sysmon_*` family a real scrape carries is named in full in README.md
//! and in the man page (`sysmon.8`), so a family added to /metrics without
//! a word in either fails here. The scrape is of a daemon that has made a
//! backup, finished an audit and has alerts and the history file on, so the
//! families that wait for those are in it.
use crate::common::*;
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

#[test]
fn every_sysmon_family_in_a_scrape_is_named_in_readme_and_man_page() {
    let dir = TempDir::new("documented-families");
    let source = dir.join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("a"), "a").unwrap();
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = command\nupdate_command = echo 'pkg 1 -> 2 [security]'\n\
         alert_cpu = 99%\nalert_disk = 99%\nmounts = /\nmetrics_cache = 0s",
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
    let families = sysmon_families(&scrape);
    assert!(families.len() >= 20, "{families:?}");

    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let man = std::fs::read_to_string(repo().join("init/sysmon.8"))
        .unwrap()
        .replace("\\-", "-")
        .replace("\\&", "");
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
