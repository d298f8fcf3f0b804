//! The kernel's counter tables, read at scrape time under node_exporter's
//! names and default field filters: `vmstat`, `netstat` (net/netstat,
//! net/snmp, net/snmp6), `sockstat` (net/sockstat, net/sockstat6),
//! `filefd` (sys/fs/file-nr) and `entropy` (sys/kernel/random).
//!
//! Each file is kept open and re-read into its own reused buffer; a file
//! that is missing (no IPv6: no snmp6 or sockstat6) or malformed leaves
//! its families out of this scrape and nothing else. A line that repeats
//! one before it (an overlay /proc) is dropped, the first kept, so that
//! each series is written once ([`Heads`]), and logged once.

use std::path::Path;

use super::Body;
use super::heads::Heads;
use super::health::Fault;
use crate::proc::{netstat, sockstat, sysctl, vmstat};
use crate::sample::procfile::{Ends, ProcFile};
use crate::sample::source::Repeats;

pub struct KernelTables {
    vmstat: ProcFile,
    netstat: ProcFile,
    snmp: ProcFile,
    /// net/netstat's and net/snmp's headers and node_exporter's columns
    /// among them, so a scrape parses only their value lines.
    netstat_kept: netstat::KeptPairs,
    snmp_kept: netstat::KeptPairs,
    snmp6: ProcFile,
    sockstat: ProcFile,
    sockstat6: ProcFile,
    file_nr: ProcFile,
    entropy_avail: ProcFile,
    /// `poolsize`, a constant of the running kernel (4096 bits before
    /// 5.18, 256 since): read at the first scrape that could, then kept.
    pool_size: ProcFile,
    pool_size_bits: Option<u64>,
    page_size: u64,
    /// This scrape's `UDP: inuse` (net/sockstat) and `UDP6: inuse`
    /// (net/sockstat6); `None` when the file could not be read or parsed.
    udp_in_use: [Option<u64>; 2],
    /// The series starts of the last scrape's vmstat, netstat (net/netstat,
    /// net/snmp, net/snmp6 in that order) and sockstat series.
    vmstat_heads: Heads,
    netstat_heads: Heads,
    sockstat_heads: Heads,
    /// Whether the log says that vmstat, netstat (or snmp, snmp6) and
    /// sockstat (or sockstat6) repeat lines.
    repeats: [Repeats; 3],
}

/// `node_netstat_` + `protocol` + `_` + `name` with node_exporter's
/// untyped `Statistic ProtocolName.` help, then the value; nothing for a
/// name that is not a valid metric name.
fn netstat_series(out: &mut Body, heads: &mut Heads, protocol: &[u8], name: &[u8], value: i64) {
    let made = heads.write(out, [protocol, name, b""], |out| {
        let (Some(protocol), Some(name)) = (valid_name(protocol), valid_name(name)) else {
            return false;
        };
        out.push_str("# HELP ");
        let name_at = out.len();
        out.push_str("node_netstat_");
        out.push_str(protocol);
        out.push('_');
        out.push_str(name);
        let name_end = out.len();
        out.push_str(" Statistic ");
        out.push_str(protocol);
        out.push_str(name);
        out.type_and_sample_start(name_at..name_end, "untyped");
        true
    });
    if made {
        out.i64(value);
        out.push('\n');
    }
}

/// The start of `node_sockstat_{protocol}_{key}{suffix}`, a gauge, with
/// node_exporter's help text.
fn sockstat_head(out: &mut Body, protocol: &str, key: &str, suffix: &str) {
    out.push_str("# HELP ");
    let name_at = out.len();
    out.push_str("node_sockstat_");
    out.push_str(protocol);
    out.push('_');
    out.push_str(key);
    out.push_str(suffix);
    let name_end = out.len();
    out.push_str(" Number of ");
    out.push_str(protocol);
    out.push_str(" sockets in state ");
    out.push_str(key);
    out.push_str(suffix);
    out.type_and_sample_start(name_at..name_end, "gauge");
}

/// `part` as text if it may go into a metric name unchanged.
fn valid_name(part: &[u8]) -> Option<&str> {
    let valid = !part.is_empty() && part.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    // ASCII, so the conversion cannot fail.
    valid.then(|| std::str::from_utf8(part).ok()).flatten()
}

impl KernelTables {
    pub fn new(proc_root: &Path) -> Self {
        // First buffers near each file's size on a 6.18 kernel (vmstat 4.0
        // KB, netstat 4.2, snmp 1.3, snmp6 3.2); a bigger file grows its
        // buffer once. Every page of a buffer is touched, so this is RSS.
        // netstat, snmp, snmp6 and sockstat are rendered whole (one read);
        // vmstat is a table of `name value` records (below 128 bytes).
        let file = |rel: &str, bytes| {
            ProcFile::with_capacity(proc_root.join(rel), bytes).ending(Ends::AtShortRead)
        };
        let number = |rel: &str| ProcFile::with_capacity(proc_root.join(rel), 64);
        KernelTables {
            vmstat: ProcFile::with_capacity(proc_root.join("vmstat"), 8192)
                .ending(Ends::Records { max_record: 128 }),
            netstat: file("net/netstat", 8192),
            snmp: file("net/snmp", 2048),
            netstat_kept: netstat::KeptPairs::default(),
            snmp_kept: netstat::KeptPairs::default(),
            snmp6: file("net/snmp6", 4096),
            sockstat: file("net/sockstat", 512),
            sockstat6: file("net/sockstat6", 256),
            file_nr: number("sys/fs/file-nr"),
            entropy_avail: number("sys/kernel/random/entropy_avail"),
            pool_size: number("sys/kernel/random/poolsize"),
            pool_size_bits: None,
            page_size: crate::sys::page_size(),
            udp_in_use: [None; 2],
            vmstat_heads: Heads::default(),
            netstat_heads: Heads::default(),
            sockstat_heads: Heads::default(),
            repeats: Default::default(),
        }
    }

    /// `vmstat`; each group returns whether its source could be read and
    /// parsed (its families written), for `node_scrape_collector_success`.
    pub fn vmstat(&mut self, out: &mut Body, fault: &mut Fault) -> bool {
        let buf = match self.vmstat.read() {
            Ok(buf) => buf,
            Err(e) => {
                fault.io(self.vmstat.path(), &e);
                return false;
            }
        };
        // All or nothing, as node_exporter (a bad line fails the collector):
        // one pass, and what was written is taken back on an error.
        let start = out.len();
        self.vmstat_heads.start();
        let mut bad = None;
        for entry in vmstat::entries(buf) {
            let (name, value) = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            };
            if !vmstat::node_exporter_default(name) {
                continue;
            }
            let made = self.vmstat_heads.write(out, [name, b"", b""], |out| {
                let Some(name) = valid_name(name) else {
                    return false;
                };
                out.push_str("# HELP ");
                let name_at = out.len();
                out.push_str("node_vmstat_");
                out.push_str(name);
                let name_end = out.len();
                out.push_str(" /proc/vmstat information field ");
                out.push_str(name);
                out.type_and_sample_start(name_at..name_end, "untyped");
                true
            });
            if made {
                out.u64(value);
                out.push('\n');
            }
        }
        if let Some(e) = bad {
            out.truncate(start);
            fault.parse(self.vmstat.path(), e);
            return false;
        }
        let file = self.vmstat.path().display();
        self.vmstat_heads.report(&mut self.repeats[0], &file);
        true
    }

    pub fn netstat(&mut self, out: &mut Body, fault: &mut Fault) -> bool {
        // node_exporter's collector fails as a whole if netstat or snmp
        // cannot be read or parsed (written series are taken back); snmp6
        // may be absent (IPv6 disabled).
        let (netstat_buf, snmp_buf) = match (self.netstat.read(), self.snmp.read()) {
            (Ok(netstat), Ok(snmp)) => (netstat, snmp),
            (Err(e), _) => {
                fault.io(self.netstat.path(), &e);
                return false;
            }
            (_, Err(e)) => {
                fault.io(self.snmp.path(), &e);
                return false;
            }
        };
        let start = out.len();
        let heads = &mut self.netstat_heads;
        heads.start();
        let mut emit = |p: &[u8], n: &[u8], v: i64| netstat_series(out, heads, p, n, v);
        let keep = netstat::node_exporter_default;
        let parsed = match self.netstat_kept.for_each(netstat_buf, keep, &mut emit) {
            Err(e) => Err((self.netstat.path(), e)),
            Ok(()) => (self.snmp_kept.for_each(snmp_buf, keep, &mut emit))
                .map_err(|e| (self.snmp.path(), e)),
        };
        if let Err((path, e)) = parsed {
            out.truncate(start);
            fault.parse(path, e);
            return false;
        }
        if let Ok(buf) = self.snmp6.read() {
            let start6 = out.len();
            let mut emit = |p: &[u8], n: &[u8], v: i64| {
                if netstat::node_exporter_default(p, n) {
                    netstat_series(out, heads, p, n, v);
                }
            };
            if netstat::for_each_snmp6(buf, &mut emit).is_err() {
                out.truncate(start6);
            }
        }
        let file = format_args!("{}, snmp or snmp6", self.netstat.path().display());
        self.netstat_heads.report(&mut self.repeats[1], &file);
        true
    }

    /// True when net/sockstat (IPv4) was served; sockstat6 is optional.
    pub fn sockstat(&mut self, out: &mut Body, fault: &mut Fault) -> bool {
        let page_size = self.page_size;
        let mut ipv4 = false;
        self.udp_in_use = [None; 2];
        self.sockstat_heads.start();
        for (i, file) in [&mut self.sockstat, &mut self.sockstat6]
            .into_iter()
            .enumerate()
        {
            let buf = match file.read() {
                Ok(buf) => buf,
                Err(e) => {
                    if i == 0 {
                        fault.io(file.path(), &e);
                    }
                    continue;
                }
            };
            if let Err(e) = sockstat::for_each(buf, |_, _, _| {}) {
                if i == 0 {
                    fault.parse(file.path(), e);
                }
                continue;
            }
            ipv4 |= i == 0;
            let udp_in_use = &mut self.udp_in_use[i];
            let udp = [&b"UDP"[..], b"UDP6"][i];
            let heads = &mut self.sockstat_heads;
            let _ = sockstat::for_each(buf, |protocol, key, value| {
                // The first, as for the series.
                if protocol == udp && key == b"inuse" && udp_in_use.is_none() {
                    *udp_in_use = Some(value);
                }
                let made = heads.write(out, [protocol, key, b""], |out| {
                    let (Some(p), Some(k)) = (valid_name(protocol), valid_name(key)) else {
                        return false;
                    };
                    if p == "sockets" && k == "used" {
                        out.push_str(family_lines!(
                            "node_sockstat_sockets_used",
                            "gauge",
                            "Number of IPv4 sockets in use."
                        ));
                        out.push_str("node_sockstat_sockets_used ");
                    } else {
                        sockstat_head(out, p, k, "");
                    }
                    true
                });
                if !made {
                    return;
                }
                out.u64(value);
                out.push('\n');
                // Pages, and node_exporter adds the figure in bytes.
                if key == b"mem" {
                    let made = heads.write(out, [protocol, key, b"_bytes"], |out| {
                        let (Some(p), Some(k)) = (valid_name(protocol), valid_name(key)) else {
                            return false;
                        };
                        sockstat_head(out, p, k, "_bytes");
                        true
                    });
                    if made {
                        out.u64(value.saturating_mul(page_size));
                        out.push('\n');
                    }
                }
            });
        }
        let file = format_args!("{} or sockstat6", self.sockstat.path().display());
        self.sockstat_heads.report(&mut self.repeats[2], &file);
        ipv4
    }

    /// The UDP sockets of this netns as this scrape's [`Self::sockstat`]
    /// read them: (IPv4, IPv6), each `None` if its file was not read.
    pub fn udp_sockets_in_use(&self) -> (Option<u64>, Option<u64>) {
        (self.udp_in_use[0], self.udp_in_use[1])
    }

    pub fn filefd(&mut self, out: &mut Body, fault: &mut Fault) -> bool {
        let file_nr = match self.file_nr.read() {
            Ok(buf) => sysctl::file_nr(buf)
                .map_err(|e| fault.parse(self.file_nr.path(), e))
                .ok(),
            Err(e) => {
                fault.io(self.file_nr.path(), &e);
                None
            }
        };
        if let Some((allocated, maximum)) = file_nr {
            out.push_str(family_lines!(
                "node_filefd_allocated",
                "gauge",
                "File descriptor statistics: allocated."
            ));
            out.sample_u64("node_filefd_allocated", allocated);
            out.push_str(family_lines!(
                "node_filefd_maximum",
                "gauge",
                "File descriptor statistics: maximum."
            ));
            out.sample_u64("node_filefd_maximum", maximum);
        }
        file_nr.is_some()
    }

    /// True when both entropy figures were read.
    pub fn entropy(&mut self, out: &mut Body) -> bool {
        let single =
            |file: &mut ProcFile| file.read().ok().and_then(|b| sysctl::single_u64(b).ok());
        let available = single(&mut self.entropy_avail);
        if let Some(bits) = available {
            out.push_str(family_lines!(
                "node_entropy_available_bits",
                "gauge",
                "Bits of available entropy."
            ));
            out.sample_u64("node_entropy_available_bits", bits);
        }
        if self.pool_size_bits.is_none() {
            self.pool_size_bits = single(&mut self.pool_size);
        }
        let pool_size = self.pool_size_bits;
        if let Some(bits) = pool_size {
            out.push_str(family_lines!(
                "node_entropy_pool_size_bits",
                "gauge",
                "Bits of entropy pool."
            ));
            out.sample_u64("node_entropy_pool_size_bits", bits);
        }
        available.is_some() && pool_size.is_some()
    }
}
