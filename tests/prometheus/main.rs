//! sysmon as a drop-in for node_exporter, checked against the real thing:
//! Debian's node_exporter and a Prometheus server started on loopback beside
//! sysmon. The Grafana dashboard users import first, values and counters
//! compared with node_exporter's, and the shipped alerting rules run through
//! promtool.
#[path = "../common/mod.rs"]
mod common;
mod support; // node_exporter, Prometheus, its query API, the text format

mod agreement; // values equal node_exporter's, counters never go backwards
mod dashboard; // "Node Exporter Full": panels and drop-downs sysmon fills
mod netclass_netlink; // /sys/class/net from netlink = from sysfs = node_exporter's, in a namespace
mod rules; // init/prometheus/sysmon.rules.yml: promtool, a real Prometheus
mod sysfs_families; // hwmon, thermal, cooling, power supplies: series equal on a fixture
mod udp_queues; // node_udp_queues in a namespace of its own, with and without sockets

// The audit tests' shims, replaying a recorded package-manager run.
#[path = "../audit/support.rs"]
mod audit_support;
