//! What sysmon exports about the machine: /metrics in the Prometheus text
//! format with node_exporter's names, every source in /data.json and
//! /metrics from fixture /proc and /sys roots, `/history.json`, and the
//! alerts and their commands, all through the real binary.
#[path = "../common/mod.rs"]
mod common;

mod history_alerts;
mod prometheus;
mod sources;
