//! hwmon, thermal zones, cooling devices and power supplies (issue 12):
//! the real node_exporter 1.5 and sysmon on the same fixture roots
//! (node_exporter's own sysfs fixture, `tests/fixtures/sys/node-exporter`,
//! and a /proc fixture), only the three collectors concerned enabled in
//! node_exporter; every series of their families identical in name, labels
//! and value, each family of the same type, and the collectors' success
//! the same.
use super::support::*;
use crate::common::*;

const PREFIXES: [&str; 4] = [
    "node_hwmon_",
    "node_thermal_zone_",
    "node_cooling_device_",
    "node_power_supply_",
];
const COLLECTORS: [&str; 3] = ["hwmon", "thermal_zone", "powersupplyclass"];

fn concerned(series: &str) -> bool {
    PREFIXES.iter().any(|p| series.starts_with(p))
        || COLLECTORS
            .iter()
            .any(|c| series == format!("node_scrape_collector_success{{collector=\"{c}\"}}"))
}

#[test]
fn every_series_equals_node_exporters_on_its_sysfs_fixture() {
    let dir = TempDir::new("prom-sysfs");
    let (sys_root, proc_root) = sysfs_fixture_roots();
    let Some(node_exporter) = node_exporter_on_sysfs_fixture(&dir) else {
        return;
    };
    let sysmon = Daemon::on_roots(&dir, &proc_root, Some(&sys_root), "metrics_cache = 0s");
    let theirs = scrape(node_exporter.addr);
    let ours = scrape(sysmon.addr);
    let pick = |e: &Exposition| -> Vec<(String, f64)> {
        e.samples
            .iter()
            .filter(|(s, _)| concerned(s))
            .map(|(s, v)| (s.clone(), *v))
            .collect()
    };
    let (theirs_series, ours_series) = (pick(&theirs), pick(&ours));
    // The fixture has every kind of file: the comparison is not vacuous.
    assert!(
        theirs_series.len() > 130,
        "node_exporter exported only {theirs_series:#?}"
    );
    let mut differences = Vec::new();
    for (series, value) in &theirs_series {
        match ours.samples.get(series) {
            // Equal as f64 bits (both print the shortest text that reads
            // back as the value), NaN with NaN.
            Some(v) if v.to_bits() == value.to_bits() => {}
            other => differences.push(format!("{series}: node_exporter {value}, sysmon {other:?}")),
        }
    }
    for (series, value) in &ours_series {
        if !theirs.samples.contains_key(series) {
            differences.push(format!("{series}: sysmon only ({value})"));
        }
    }
    for (family, kind) in theirs.types.iter().filter(|(f, _)| concerned(f)) {
        if ours.types.get(family) != Some(kind) {
            differences.push(format!(
                "TYPE {family}: node_exporter {kind}, sysmon {:?}",
                ours.types.get(family)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
