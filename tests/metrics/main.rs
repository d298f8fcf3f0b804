//! What sysmon exports about the machine: /metrics in the Prometheus text
//! format with node_exporter's names, every source in /data.json and
//! /metrics from fixture /proc and /sys roots, `/history.json`, and the
//! alerts and their commands, all through the real binary.
#[path = "../common/mod.rs"]
mod common;

mod content_encoding; // /metrics gzipped when the scrape accepts it, Vary on both
mod documented; // every sysmon_* family of a real scrape named in README and sysmon.8
mod exporter_self; // process_* of sysmon itself, node_scrape_collector_* per group
mod history_alerts; // /history.json, alerts firing and clearing, alert_command
mod node_families; // node_exporter's other families: uname, os, meminfo, kernel tables, netclass, ...
mod prometheus; // /metrics format and names, promtool
mod sources; // every source in /data.json and /metrics, a real Prometheus
mod sysfs_sensors; // hwmon, cooling devices, power supplies: node_exporter's fixture
mod textfile; // textfile_dir: *.prom files served as node_exporter's textfile collector
mod textfile_path; // textfile_path: the file written for node_exporter, across reloads and kills
