//! The history file's counters in /metrics (`sysmon_history_file_*`): the
//! pages and synced batches written move as batches land, nothing failed,
//! and without a history file the families are absent.

use std::time::Duration;

use crate::common::*;
use crate::start;

/// A counter's value in a /metrics body.
fn counter(metrics: &str, name: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn batches_written_show_as_counters_in_metrics() {
    let dir = TempDir::new("history-counters");
    let daemon = start(&dir);
    let scrape = |name: &str| counter(&daemon.get("/metrics").body_text(), name);
    // A batch every 12 s: wait for the first.
    let first = wait_for(Duration::from_secs(40), || {
        scrape("sysmon_history_file_syncs_total").filter(|n| *n >= 1)
    })
    .unwrap_or_else(|| panic!("no batch counted\n{}", daemon.dump()));
    let pages = scrape("sysmon_history_file_pages_written_total").unwrap();
    assert!(pages >= first, "{pages} pages for {first} batches");
    assert_eq!(scrape("sysmon_history_file_write_errors_total"), Some(0));
    assert_eq!(scrape("sysmon_history_file_clock_steps_total"), Some(0));
    assert_eq!(
        scrape("sysmon_history_file_samples_held_back_lost_total"),
        Some(0)
    );
    // The next batch moves both.
    wait_for(Duration::from_secs(40), || {
        scrape("sysmon_history_file_syncs_total").filter(|n| *n > first)
    })
    .unwrap_or_else(|| panic!("no second batch counted\n{}", daemon.dump()));
    assert!(scrape("sysmon_history_file_pages_written_total").unwrap() > pages);
    let metrics = daemon.get("/metrics").body_text();
    assert!(
        metrics.contains("# TYPE sysmon_history_file_pages_written_total counter\n"),
        "{metrics}"
    );
    if have_tool("promtool", "the history file's /metrics families") {
        assert_promtool_accepts(metrics.as_bytes());
    }
}

#[test]
fn without_a_history_file_the_families_are_absent() {
    let dir = TempDir::new("history-counters-off");
    let config =
        dir.config("backup = off\nupdate_manager = none\ninterval = 100ms\nhistory_tiers = off");
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(300));
    let metrics = daemon.get("/metrics").body_text();
    assert!(metrics.contains("\nsysmon_build_info{"), "{metrics}");
    assert!(!metrics.contains("sysmon_history_file_"), "{metrics}");
}
