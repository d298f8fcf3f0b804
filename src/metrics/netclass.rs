//! `/sys/class/net/<iface>/*` at scrape time, as node_exporter's `netclass`
//! collector names it: `node_network_up`, `_carrier`, `_mtu_bytes`,
//! `_speed_bytes`, `_info{address,broadcast,device,duplex,ifalias,operstate}`
//! and the other numeric properties; and `statistics/rx_nohandler` as
//! `node_network_receive_nohandler_total` (node_exporter's `netdev` reads
//! it over netlink; /proc/net/dev lacks it).
//!
//! The interfaces are those of the last sample's /proc/net/dev (the same
//! set as the other `node_network_*` families). Each interface's files are
//! kept open; they are opened again only when that set changes, so a warm
//! scrape allocates nothing.

use std::path::{Path, PathBuf};

use super::{Body, escaped, family};
use crate::proc::netclass::{parse_int, parse_text};
use crate::sample::NetSample;
use crate::sample::procfile::ProcFile;

/// (file, metric suffix, type, value multiplier): node_exporter's numeric
/// properties, in its order. `speed` is Mbit/s, exported in bytes/s.
const NUMERIC: [(&str, &str, &str, i64); 17] = [
    ("addr_assign_type", "address_assign_type", "gauge", 1),
    ("carrier", "carrier", "gauge", 1),
    ("carrier_changes", "carrier_changes_total", "counter", 1),
    ("carrier_up_count", "carrier_up_changes_total", "counter", 1),
    (
        "carrier_down_count",
        "carrier_down_changes_total",
        "counter",
        1,
    ),
    ("dev_id", "device_id", "gauge", 1),
    ("dormant", "dormant", "gauge", 1),
    ("flags", "flags", "gauge", 1),
    ("ifindex", "iface_id", "gauge", 1),
    ("iflink", "iface_link", "gauge", 1),
    ("link_mode", "iface_link_mode", "gauge", 1),
    ("mtu", "mtu_bytes", "gauge", 1),
    ("name_assign_type", "name_assign_type", "gauge", 1),
    ("netdev_group", "net_dev_group", "gauge", 1),
    ("type", "protocol_type", "gauge", 1),
    ("speed", "speed_bytes", "gauge", 125_000),
    ("tx_queue_len", "transmit_queue_length", "gauge", 1),
];

/// The text properties `node_network_info` is labelled with, label order.
const TEXT: [&str; 5] = ["address", "broadcast", "duplex", "ifalias", "operstate"];
const OPERSTATE: usize = 4;
/// A first buffer for one attribute (an `ifalias` may be up to 256 bytes:
/// the buffer grows then).
const ATTRIBUTE_BYTES: usize = 64;

struct Iface {
    name: String,
    numeric: [ProcFile; 17],
    text: [ProcFile; 5],
    /// `statistics/rx_nohandler` (since Linux 4.6): packets dropped because
    /// no protocol handler took them, which /proc/net/dev does not show.
    rx_nohandler: ProcFile,
    /// This scrape's readings (`None`: unreadable).
    values: [Option<i64>; 17],
    /// This scrape's `operstate` could be read, and was `up`.
    present: bool,
    up: bool,
}

pub struct NetClass {
    class_net: PathBuf,
    ifaces: Vec<Iface>,
}

impl NetClass {
    pub fn new(sys_root: &Path) -> Self {
        NetClass {
            class_net: sys_root.join("class/net"),
            ifaces: Vec::new(),
        }
    }

    /// Opens the files again when the interfaces are not those of last time.
    fn sync(&mut self, network: &[NetSample]) {
        let same = self.ifaces.len() == network.len()
            && self
                .ifaces
                .iter()
                .zip(network)
                .all(|(i, n)| i.name == n.device);
        if same {
            return;
        }
        self.ifaces.clear();
        for n in network {
            let dir = self.class_net.join(&n.device);
            self.ifaces.push(Iface {
                name: n.device.clone(),
                numeric: NUMERIC
                    .map(|(file, ..)| ProcFile::with_capacity(dir.join(file), ATTRIBUTE_BYTES)),
                text: TEXT.map(|file| ProcFile::with_capacity(dir.join(file), ATTRIBUTE_BYTES)),
                rx_nohandler: ProcFile::with_capacity(
                    dir.join("statistics/rx_nohandler"),
                    ATTRIBUTE_BYTES,
                ),
                values: [None; 17],
                present: false,
                up: false,
            });
        }
    }

    /// `node_network_receive_nohandler_total`, node_exporter's `netdev`
    /// figure from its netlink path, read from sysfs for the interfaces
    /// that have the file (none before Linux 4.6: no family).
    pub fn write_nohandler(&mut self, network: &[NetSample], out: &mut Body) {
        self.sync(network);
        let mut wrote_family = false;
        for iface in &mut self.ifaces {
            let Some(v) = iface.rx_nohandler.read_attribute().ok().and_then(parse_int) else {
                continue;
            };
            if !wrote_family {
                family(
                    out,
                    "node_network_receive_nohandler_total",
                    "counter",
                    "Network device statistic receive_nohandler.",
                );
                wrote_family = true;
            }
            out.push_str("node_network_receive_nohandler_total{device=\"");
            escaped(out, &iface.name);
            out.push_str("\"} ");
            out.i64(v);
            out.push('\n');
        }
    }

    /// True when some interface's directory could be read.
    pub fn write(&mut self, network: &[NetSample], out: &mut Body) -> bool {
        self.sync(network);
        for iface in &mut self.ifaces {
            for (file, value) in iface.numeric.iter_mut().zip(&mut iface.values) {
                *value = file.read_attribute().ok().and_then(parse_int);
            }
        }
        for (i, (_, suffix, kind, scale)) in NUMERIC.iter().enumerate() {
            if self.ifaces.iter().all(|f| f.values[i].is_none()) {
                continue;
            }
            out.push_str("# HELP ");
            let name_at = out.len();
            out.push_str("node_network_");
            out.push_str(suffix);
            let name_end = out.len();
            out.push_str(" Network device property: ");
            out.push_str(suffix);
            out.push_str("\n# TYPE ");
            out.repeat(name_at..name_end);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
            for iface in &self.ifaces {
                let Some(v) = iface.values[i] else { continue };
                out.repeat(name_at..name_end);
                out.push_str("{device=\"");
                escaped(out, &iface.name);
                out.push_str("\"} ");
                out.i64(v.saturating_mul(*scale));
                out.push('\n');
            }
        }
        if self.ifaces.is_empty() {
            return false;
        }
        family(
            out,
            "node_network_info",
            "gauge",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        );
        // One pass reads the text files; `up` is written after from the
        // operstate remembered here, so each file is read once.
        for iface in &mut self.ifaces {
            // An interface without a readable operstate has no directory
            // here (gone since the sample, or another sysfs): node_exporter
            // would not list it, so its line is taken back.
            let line_start = out.len();
            iface.present = false;
            out.push_str("node_network_info{");
            for (k, file) in iface.text.iter_mut().enumerate() {
                let label = TEXT[k];
                if k == 2 {
                    // `device` sorts between broadcast and duplex.
                    out.push_str("device=\"");
                    escaped(out, &iface.name);
                    out.push_str("\",");
                }
                let read = file.read_attribute().ok().and_then(parse_text);
                if k == OPERSTATE {
                    iface.present = read.is_some();
                    iface.up = read == Some("up");
                }
                let text = read.unwrap_or("");
                out.push_str(label);
                out.push_str("=\"");
                escaped(out, text);
                out.push_str(if k + 1 < TEXT.len() { "\"," } else { "\"" });
            }
            out.push_str("} 1\n");
            if !iface.present {
                out.truncate(line_start);
            }
        }
        family(
            out,
            "node_network_up",
            "gauge",
            "Value is 1 if operstate is 'up', 0 otherwise.",
        );
        for iface in self.ifaces.iter().filter(|i| i.present) {
            out.push_str("node_network_up{device=\"");
            escaped(out, &iface.name);
            out.push_str(if iface.up { "\"} 1\n" } else { "\"} 0\n" });
        }
        self.ifaces.iter().any(|i| i.present)
    }
}
