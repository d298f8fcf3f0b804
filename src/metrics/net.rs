//! Network tables read at scrape time under node_exporter's names:
//! `softnet` (/proc/net/softnet_stat), `conntrack`
//! (/proc/sys/net/netfilter/nf_conntrack_{count,max}), `arp`
//! (/proc/net/arp, entries counted per device) and `udp_queues`
//! (/proc/net/udp, udp6: bytes queued, summed over sockets).
//!
//! Kept-open files and reused buffers as in [`super::kernel`]; the ARP
//! counts live in a list of (device offset, length, count) that only grows
//! when more devices have neighbours than ever before.

use std::path::Path;

use super::health::Fault;
use super::{Body, escaped_bytes, family};
use crate::proc::{arp, conntrack_stat, softnet, sysctl, udp};
use crate::sample::procfile::ProcFile;
use crate::sample::source::Repeats;

/// A CPU that softnet_stat lists twice (for the log).
struct RepeatedCpu(u32);

impl std::fmt::Display for RepeatedCpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cpu {} on more than one line", self.0)
    }
}

pub struct NetTables {
    softnet: ProcFile,
    conntrack_count: ProcFile,
    conntrack_max: ProcFile,
    /// /proc/net/stat/nf_conntrack: per-CPU counters, summed.
    conntrack_stat: ProcFile,
    arp: ProcFile,
    udp: ProcFile,
    udp6: ProcFile,
    /// This scrape's softnet lines, parsed once (grows only with the CPUs).
    softnet_lines: Vec<softnet::Softnet>,
    /// Whether the log says that softnet_stat repeats a CPU.
    softnet_repeats: Repeats,
    /// Per device with ARP entries: its name's offset and length in the
    /// ARP buffer, and how many entries it has.
    arp_counts: Vec<(usize, usize, u64)>,
}

type Pick = fn(&softnet::Softnet) -> Option<u64>;

/// (tx, rx) summed over `file`'s sockets; (0, 0) without reading it when
/// sockstat says no socket of its family is in use (see
/// [`NetTables::udp_queues`]) and the file opens.
fn queue_sums(file: &mut ProcFile, in_use: Option<u64>) -> Option<(u64, u64)> {
    if in_use == Some(0) && file.open().is_ok() {
        return Some((0, 0));
    }
    file.read().ok().and_then(|b| udp::queue_sums(b).ok())
}

/// node_exporter's `node_nf_conntrack_stat_*`: (header column, help),
/// in its (alphabetical) order; gauges, as it types them.
const CONNTRACK_STAT: [(&str, &str); 8] = [
    (
        "drop",
        "Number of packets dropped due to conntrack failure.",
    ),
    (
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    ("found", "Number of searched entries which were successful."),
    (
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    ("insert", "Number of entries inserted into the list."),
    (
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    (
        "invalid",
        "Number of packets seen which can not be tracked.",
    ),
    (
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

impl NetTables {
    pub fn new(proc_root: &Path) -> Self {
        // 128 bytes per socket: a first buffer for a few, grown with them.
        let file = |rel: &str| ProcFile::with_capacity(proc_root.join(rel), 1024);
        NetTables {
            softnet: ProcFile::with_capacity(proc_root.join("net/softnet_stat"), 1024),
            conntrack_count: ProcFile::with_capacity(
                proc_root.join("sys/net/netfilter/nf_conntrack_count"),
                64,
            ),
            conntrack_max: ProcFile::with_capacity(
                proc_root.join("sys/net/netfilter/nf_conntrack_max"),
                64,
            ),
            conntrack_stat: ProcFile::with_capacity(proc_root.join("net/stat/nf_conntrack"), 2048),
            arp: ProcFile::with_capacity(proc_root.join("net/arp"), 1024),
            udp: file("net/udp"),
            udp6: file("net/udp6"),
            softnet_lines: Vec::new(),
            softnet_repeats: Repeats::default(),
            arp_counts: Vec::new(),
        }
    }

    /// `udp_queues`; each group returns whether its source could be read
    /// and parsed (its families written), for `node_scrape_collector_success`.
    ///
    /// `in_use` is this scrape's (`UDP: inuse`, `UDP6: inuse`) from
    /// net/sockstat{,6}. Reading net/udp walks the kernel's whole UDP hash
    /// table (16,384 slots on a small machine: 30-60 µs, half of the
    /// scrape's kernel time) even when it lists nothing, and `inuse` counts
    /// exactly the sockets that walk lists: the kernel adds one when it
    /// hashes a socket of that family (bind, autobind) and takes it off when
    /// it unhashes it (Linux `udp_lib_get_port`/`udp_lib_unhash`; an
    /// IPv6 socket turned IPv4 by IPV6_ADDRFORM moves its count; v4-mapped
    /// sockets are IPv6 sockets on both sides; UDP-Lite has its own table,
    /// counter and files). So with none in use the sums are 0 without the
    /// read. The file must still open, as node_exporter's read would.
    pub fn udp_queues(&mut self, out: &mut Body, in_use: (Option<u64>, Option<u64>)) -> bool {
        // As node_exporter: no v4 file, no family; v6 only when v4 is there.
        let Some((tx4, rx4)) = queue_sums(&mut self.udp, in_use.0) else {
            return false;
        };
        out.push_str(family_lines!(
            "node_udp_queues",
            "gauge",
            "Number of allocated memory in the kernel for UDP datagrams in bytes."
        ));
        out.sample_u64("node_udp_queues{ip=\"v4\",queue=\"rx\"}", rx4);
        out.sample_u64("node_udp_queues{ip=\"v4\",queue=\"tx\"}", tx4);
        if let Some((tx6, rx6)) = queue_sums(&mut self.udp6, in_use.1) {
            out.sample_u64("node_udp_queues{ip=\"v6\",queue=\"rx\"}", rx6);
            out.sample_u64("node_udp_queues{ip=\"v6\",queue=\"tx\"}", tx6);
        }
        true
    }

    pub fn softnet(&mut self, out: &mut Body, fault: &mut Fault) -> bool {
        let buf = match self.softnet.read() {
            Ok(buf) => buf,
            Err(e) => {
                fault.io(self.softnet.path(), &e);
                return false;
            }
        };
        self.softnet_lines.clear();
        let mut repeated = None;
        let mut bad = None;
        for line in softnet::entries(buf) {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            };
            // The kernel lists CPUs in ascending order: only a line that
            // breaks it is looked for among the others. A CPU's second
            // line (an overlay /proc) is dropped, the first kept.
            let ascending = self.softnet_lines.last().is_none_or(|l| l.cpu < line.cpu);
            if !ascending && self.softnet_lines.iter().any(|l| l.cpu == line.cpu) {
                repeated.get_or_insert(line.cpu);
                continue;
            }
            self.softnet_lines.push(line);
        }
        if let Some(e) = bad {
            fault.parse(self.softnet.path(), e);
            return false;
        }
        let file = self.softnet.path().display();
        self.softnet_repeats.note(&file, repeated.map(RepeatedCpu));
        let families: [(&str, &str, &str, Pick); 7] = [
            (
                "node_softnet_processed_total",
                "counter",
                "Number of processed packets",
                |s| Some(s.processed),
            ),
            (
                "node_softnet_dropped_total",
                "counter",
                "Number of dropped packets",
                |s| Some(s.dropped),
            ),
            (
                "node_softnet_times_squeezed_total",
                "counter",
                "Number of times processing packets ran out of quota",
                |s| Some(s.time_squeezed),
            ),
            (
                "node_softnet_cpu_collision_total",
                "counter",
                "Number of collision occur while obtaining device lock while transmitting",
                |s| Some(s.cpu_collision),
            ),
            (
                "node_softnet_received_rps_total",
                "counter",
                "Number of times cpu woken up received_rps",
                |s| s.received_rps,
            ),
            (
                "node_softnet_flow_limit_count_total",
                "counter",
                "Number of times flow limit has been reached",
                |s| s.flow_limit_count,
            ),
            (
                "node_softnet_backlog_len",
                "gauge",
                "Softnet backlog status",
                |s| s.backlog_len,
            ),
        ];
        for (name, kind, help, pick) in families {
            if !self.softnet_lines.iter().any(|s| pick(s).is_some()) {
                continue;
            }
            family(out, name, kind, help);
            for s in &self.softnet_lines {
                if let Some(v) = pick(s) {
                    out.push_str(name);
                    out.push_str("{cpu=\"");
                    out.u64(u64::from(s.cpu));
                    out.push_str("\"} ");
                    out.u64(v);
                    out.push('\n');
                }
            }
        }
        true
    }

    pub fn conntrack(&mut self, out: &mut Body) -> bool {
        // node_exporter's collector needs both (no module loaded: neither).
        let count = self
            .conntrack_count
            .read()
            .ok()
            .and_then(|b| sysctl::single_u64(b).ok());
        let max = self
            .conntrack_max
            .read()
            .ok()
            .and_then(|b| sysctl::single_u64(b).ok());
        let (Some(count), Some(max)) = (count, max) else {
            return false;
        };
        out.push_str(family_lines!(
            "node_nf_conntrack_entries",
            "gauge",
            "Number of currently allocated flow entries for connection tracking."
        ));
        out.sample_u64("node_nf_conntrack_entries", count);
        out.push_str(family_lines!(
            "node_nf_conntrack_entries_limit",
            "gauge",
            "Maximum size of connection tracking table."
        ));
        out.sample_u64("node_nf_conntrack_entries_limit", max);
        self.conntrack_stat(out);
        true
    }

    /// `node_nf_conntrack_stat_*`, each column summed over the CPUs; left
    /// out when the file cannot be read or parsed, a column the kernel
    /// does not print is left out alone.
    fn conntrack_stat(&mut self, out: &mut Body) {
        let Ok(buf) = self.conntrack_stat.read() else {
            return;
        };
        let names = CONNTRACK_STAT.map(|(name, _)| name.as_bytes());
        let mut sums = [None; 8];
        if conntrack_stat::sums(buf, &names, &mut sums).is_err() {
            return;
        }
        for ((name, help), sum) in CONNTRACK_STAT.iter().zip(sums) {
            let Some(sum) = sum else { continue };
            out.push_str("# HELP node_nf_conntrack_stat_");
            out.push_str(name);
            out.push(' ');
            out.push_str(help);
            out.push_str("\n# TYPE node_nf_conntrack_stat_");
            out.push_str(name);
            out.push_str(" gauge\nnode_nf_conntrack_stat_");
            out.push_str(name);
            out.push(' ');
            out.u64(sum);
            out.push('\n');
        }
    }

    /// True when /proc/net/arp was read and parsed (no neighbours is a
    /// success with no series).
    pub fn arp(&mut self, out: &mut Body, fault: &mut Fault) -> bool {
        let buf = match self.arp.read() {
            Ok(buf) => buf,
            Err(e) => {
                fault.io(self.arp.path(), &e);
                return false;
            }
        };
        let bad = arp::devices(buf).find_map(Result::err);
        if let Some(e) = bad {
            fault.parse(self.arp.path(), e);
            return false;
        }
        self.arp_counts.clear();
        for device in arp::devices(buf).flatten() {
            let name = |&(at, len, _): &(usize, usize, u64)| &buf[at..at + len];
            match self.arp_counts.iter_mut().find(|c| name(c) == device) {
                Some(entry) => entry.2 += 1,
                None => {
                    // `device` is a subslice of `buf`: its offset is exact.
                    let at = device.as_ptr() as usize - buf.as_ptr() as usize;
                    self.arp_counts.push((at, device.len(), 1));
                }
            }
        }
        if self.arp_counts.is_empty() {
            return true;
        }
        out.push_str(family_lines!(
            "node_arp_entries",
            "gauge",
            "ARP entries by device"
        ));
        for &(at, len, count) in &self.arp_counts {
            out.push_str("node_arp_entries{device=\"");
            escaped_bytes(out, &buf[at..at + len]);
            out.push_str("\"} ");
            out.u64(count);
            out.push('\n');
        }
        true
    }
}
