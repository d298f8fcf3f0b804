//! `/sys/class/net/<iface>/*` at scrape time, as node_exporter's `netclass`
//! collector names it: `node_network_up`, `_carrier`, `_mtu_bytes`,
//! `_speed_bytes`, `_info{address,broadcast,device,duplex,ifalias,operstate}`
//! and the other numeric properties; and `statistics/rx_nohandler` as
//! `node_network_receive_nohandler_total` (node_exporter's `netdev` reads
//! it over netlink; /proc/net/dev lacks it).
//!
//! The interfaces are those of the last sample's /proc/net/dev (the same
//! set as the other `node_network_*` families).
//!
//! Two sources, one output: on the real `/sys` (`--sys-root` left at
//! `/sys`) the values come from one netlink `RTM_GETLINK` dump per scrape
//! ([`super::link_dump`]), each derived as the kernel derives the sysfs
//! file (net/core/net-sysfs.c; see [`from_link`]), so the text is byte
//! for byte what reading the files gives for the same state. What netlink
//! lacks is still read from sysfs: `speed` and `duplex` (only while the
//! device is up: the kernel refuses both otherwise), `flags` on kernels
//! without `IFLA_ALLMULTI` (before 6.6), a `tx_queue_len` above 2^31 − 1
//! (printed as a signed or unsigned number depending on the kernel); and
//! `addr_assign_type`, `dev_id` and `name_assign_type`, which change only
//! with the address or the name, read again when the ifindex or address
//! changes and every [`IDENTITY_EVERY`] scrapes (a device none of whose
//! three files exists, as without a mounted /sys, is left out as the files
//! would leave it). Any other `--sys-root`
//! (a fixture tree, another machine's /sys) is not the socket's network
//! namespace, and a scrape whose dump fails falls back too: every attribute
//! is then read from its file (kept open; 23 reads per interface).
//!
//! Each interface's files are kept open; they are opened again only when
//! the set of interfaces changes or a device was removed and created again
//! under the same name (a new ifindex in the dump; `ENODEV` from the old
//! files), so a warm scrape allocates nothing.

use std::path::{Path, PathBuf};

use super::link_dump::LinkDump;
use super::{Body, escaped, family};
use crate::proc::netclass::{parse_int, parse_text};
use crate::proc::rtnetlink::{
    IFF_ALLMULTI, IFF_DORMANT, IFF_LOWER_UP, IFF_PROMISC, IFF_RUNNING, IFF_UP, Link,
};
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
const ADDR_ASSIGN_TYPE: usize = 0;
const DEV_ID: usize = 5;
const FLAGS: usize = 7;
const IFINDEX: usize = 8;
const NAME_ASSIGN_TYPE: usize = 12;
const SPEED: usize = 15;
const TX_QUEUE_LEN: usize = 16;

/// The text properties `node_network_info` is labelled with, label order.
const TEXT: [&str; 5] = ["address", "broadcast", "duplex", "ifalias", "operstate"];
const DUPLEX: usize = 2;
const OPERSTATE: usize = 4;
/// The kernel's names of `IF_OPER_*` (net-sysfs.c `operstates`); a larger
/// value makes the sysfs read fail.
const OPERSTATES: [&str; 7] = [
    "unknown",
    "notpresent",
    "down",
    "lowerlayerdown",
    "testing",
    "dormant",
    "up",
];
/// A first buffer for one attribute (an `ifalias` may be up to 256 bytes:
/// the buffer grows then).
const ATTRIBUTE_BYTES: usize = 64;
/// Scrapes between two readings of the attributes netlink lacks
/// (`addr_assign_type` also changes when an address is set again to the
/// same value, which the dump cannot show).
const IDENTITY_EVERY: u32 = 100;

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
    /// This scrape's entry in the link dump (netlink source only).
    link: Option<usize>,
    /// The attributes netlink lacks, and for which device they were read.
    identity: Option<Identity>,
    /// `speed` and `duplex` refused by the kernel while the device was up
    /// (netlink source only; see [`Refusal`]).
    speed_refused: Option<Refusal>,
    duplex_refused: Option<Refusal>,
    /// This scrape found no directory for the device (files source only):
    /// none of its files is read.
    no_directory: bool,
}

/// A `speed` or `duplex` read that the kernel refused (`EINVAL`) while the
/// device was up, and the device's state then. net-sysfs.c refuses both
/// for a driver without `get_link_ksettings` (`lo`, `dummy`, `ifb`: every
/// scrape, for the device's life), a device not running or detached, or
/// a driver's failed query; the file is not asked again while the
/// ifindex and `ifi_flags` (up, running, carrier, ...) stay the same and
/// the device is not seen down, and at most [`IDENTITY_EVERY`] scrapes
/// (a detached device attached again, or a driver's query that failed
/// once, changes no flag).
#[derive(Clone, Copy)]
struct Refusal {
    ifindex: i32,
    flags: u32,
    at_scrape: u32,
}

/// `file` read now, unless the kernel refused it for the same device in
/// the same state within the last [`IDENTITY_EVERY`] scrapes (`refused`,
/// updated by this read). `None`: refused or unreadable.
fn read_link_setting<'f>(
    file: &'f mut ProcFile,
    refused: &mut Option<Refusal>,
    link: &Link,
    scrape: u32,
) -> Option<&'f [u8]> {
    let now = Refusal {
        ifindex: link.index,
        flags: link.flags,
        at_scrape: scrape,
    };
    if refused.is_some_and(|r| {
        r.ifindex == now.ifindex
            && r.flags == now.flags
            && scrape.wrapping_sub(r.at_scrape) < IDENTITY_EVERY
    }) {
        return None;
    }
    match file.read_attribute() {
        Ok(bytes) => {
            *refused = None;
            Some(bytes)
        }
        Err(e) => {
            *refused = (e.raw_os_error() == Some(libc::EINVAL)).then_some(now);
            None
        }
    }
}

/// `addr_assign_type`, `dev_id` and `name_assign_type` as read from sysfs
/// for the device with this ifindex and address.
#[derive(Clone, Copy)]
struct Identity {
    ifindex: i32,
    address: [u8; 32],
    address_len: usize,
    read_at_scrape: u32,
    addr_assign_type: Option<i64>,
    dev_id: Option<i64>,
    name_assign_type: Option<i64>,
    /// The device has no directory under this sysfs (none of the three
    /// files exists: /sys not mounted, or another namespace's): the files
    /// would show nothing, so the dump's values are not shown either.
    no_directory: bool,
}

impl Iface {
    fn new(class_net: &Path, name: &str) -> Iface {
        let dir = class_net.join(name);
        Iface {
            name: name.to_owned(),
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
            link: None,
            identity: None,
            speed_refused: None,
            duplex_refused: None,
            no_directory: false,
        }
    }

    /// Whether the device has no directory under this sysfs (a fixture
    /// root without `class/net`, another namespace's /sys): one `stat`
    /// of the directory while its `ifindex` file is not open, where
    /// reading its 23 files would be 23 failed opens a scrape. A kept-open
    /// `ifindex` says the directory is there (or was: `ENODEV` then).
    fn directory_missing(&self) -> bool {
        if self.numeric[IFINDEX].raw_fd().is_some() {
            return false;
        }
        self.numeric[IFINDEX]
            .path()
            .parent()
            .is_some_and(|dir| std::fs::metadata(dir).is_err())
    }

    /// Reads every numeric file into `values`: `true` when a kept-open
    /// file belongs to a device that is gone (`ENODEV`).
    fn read_files(&mut self) -> bool {
        let mut gone = false;
        for (file, value) in self.numeric.iter_mut().zip(&mut self.values) {
            *value = match file.read_attribute() {
                Ok(bytes) => parse_int(bytes),
                Err(e) => {
                    gone |= e.raw_os_error() == Some(libc::ENODEV);
                    None
                }
            };
        }
        gone
    }

    fn read_numeric(&mut self, i: usize) -> Option<i64> {
        self.numeric[i].read_attribute().ok().and_then(parse_int)
    }
}

pub struct NetClass {
    class_net: PathBuf,
    ifaces: Vec<Iface>,
    /// The netlink source (`None` for a `--sys-root` other than `/sys`).
    dump: Option<LinkDump>,
    /// This scrape's values are read ([`NetClass::begin`] ran).
    fresh: bool,
    /// This scrape's values come from the link dump.
    from_netlink: bool,
    scrapes: u32,
}

impl NetClass {
    pub fn new(sys_root: &Path) -> Self {
        NetClass {
            class_net: sys_root.join("class/net"),
            ifaces: Vec::new(),
            dump: (sys_root == Path::new("/sys")).then(LinkDump::new),
            fresh: false,
            from_netlink: false,
            scrapes: 0,
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
            self.ifaces.push(Iface::new(&self.class_net, &n.device));
        }
    }

    /// Reads this scrape's values, once for both writers: from the link
    /// dump if there is one and it works, else from the files.
    fn begin(&mut self, network: &[NetSample]) {
        self.sync(network);
        if self.fresh {
            return;
        }
        self.fresh = true;
        self.scrapes = self.scrapes.wrapping_add(1);
        self.from_netlink =
            !self.ifaces.is_empty() && self.dump.as_mut().is_some_and(LinkDump::dump);
        if self.from_netlink {
            self.values_from_dump();
        } else {
            for iface in &mut self.ifaces {
                iface.link = None;
                iface.no_directory = iface.directory_missing();
                if iface.no_directory {
                    iface.values = [None; 17];
                    continue;
                }
                if iface.read_files() {
                    // Created again under the same name since the files
                    // were opened: they are the old device's.
                    *iface = Iface::new(&self.class_net, &iface.name);
                    iface.read_files();
                }
            }
        }
    }

    fn values_from_dump(&mut self) {
        let Some(dump) = &self.dump else { return };
        let links = dump.links();
        // The dump and /proc/net/dev both list devices in the kernel's
        // order, so the search starts after the last match.
        let mut next = 0;
        for iface in &mut self.ifaces {
            let found = (0..links.len())
                .map(|k| (next + k) % links.len())
                .find(|&k| links[k].name() == iface.name.as_bytes());
            iface.link = found;
            let Some(k) = found else {
                // Gone since the sample: no series, as its directory.
                iface.values = [None; 17];
                continue;
            };
            next = k + 1;
            let link = &links[k];
            let same_device = iface.identity.is_some_and(|id| id.ifindex == link.index);
            if iface.identity.is_some() && !same_device {
                // Created again under the same name: the kept-open files
                // are the old device's (reads fail with ENODEV).
                *iface = Iface::new(&self.class_net, &iface.name);
                iface.link = found;
            }
            let stale = match iface.identity {
                Some(id) => {
                    id.address[..id.address_len] != *link.address()
                        || self.scrapes.wrapping_sub(id.read_at_scrape) >= IDENTITY_EVERY
                }
                None => true,
            };
            if stale {
                let mut address = [0u8; 32];
                address[..link.address().len()].copy_from_slice(link.address());
                let mut missing = 0;
                let mut read = |i: usize| match iface.numeric[i].read_attribute() {
                    Ok(bytes) => parse_int(bytes),
                    Err(e) => {
                        missing += usize::from(e.kind() == std::io::ErrorKind::NotFound);
                        None
                    }
                };
                let (addr_assign_type, dev_id, name_assign_type) =
                    (read(ADDR_ASSIGN_TYPE), read(DEV_ID), read(NAME_ASSIGN_TYPE));
                iface.identity = Some(Identity {
                    ifindex: link.index,
                    address,
                    address_len: link.address().len(),
                    read_at_scrape: self.scrapes,
                    addr_assign_type,
                    dev_id,
                    name_assign_type,
                    no_directory: missing == 3,
                });
            }
            if iface.identity.is_some_and(|id| id.no_directory) {
                iface.link = None;
                iface.values = [None; 17];
                continue;
            }
            iface.values = from_link(link);
            if let Some(id) = iface.identity {
                iface.values[ADDR_ASSIGN_TYPE] = id.addr_assign_type;
                iface.values[DEV_ID] = id.dev_id;
                iface.values[NAME_ASSIGN_TYPE] = id.name_assign_type;
            }
            let running = link.flags & IFF_UP != 0;
            if !running {
                // Asked again once it is up (an ifconfig down/up cycle
                // is the usual cure for a detached device).
                iface.speed_refused = None;
                iface.duplex_refused = None;
            }
            iface.values[SPEED] = if running {
                read_link_setting(
                    &mut iface.numeric[SPEED],
                    &mut iface.speed_refused,
                    link,
                    self.scrapes,
                )
                .and_then(parse_int)
            } else {
                None
            };
            if iface.values[FLAGS].is_none() {
                iface.values[FLAGS] = iface.read_numeric(FLAGS);
            }
            if iface.values[TX_QUEUE_LEN].is_none() && link.tx_queue_len.is_some() {
                iface.values[TX_QUEUE_LEN] = iface.read_numeric(TX_QUEUE_LEN);
            }
        }
    }

    /// `node_network_receive_nohandler_total`, node_exporter's `netdev`
    /// figure from its netlink path, from `IFLA_STATS64` or
    /// `statistics/rx_nohandler` for the interfaces that have it (none
    /// before Linux 4.6: no family). The first of the two writers in a
    /// scrape: it starts the scrape's reading.
    pub fn write_nohandler(&mut self, network: &[NetSample], out: &mut Body) {
        self.fresh = false;
        self.begin(network);
        let links = match (&self.dump, self.from_netlink) {
            (Some(dump), true) => dump.links(),
            _ => &[],
        };
        let mut wrote_family = false;
        for iface in &mut self.ifaces {
            let v = if self.from_netlink {
                iface
                    .link
                    .and_then(|k| links[k].rx_nohandler)
                    .and_then(|v| i64::try_from(v).ok())
            } else if iface.no_directory {
                None
            } else {
                iface.rx_nohandler.read_attribute().ok().and_then(parse_int)
            };
            let Some(v) = v else { continue };
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
        self.begin(network);
        self.fresh = false;
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
        let links = match (&self.dump, self.from_netlink) {
            (Some(dump), true) => dump.links(),
            _ => &[],
        };
        // One pass reads the text files; `up` is written after from the
        // operstate remembered here, so each file is read once.
        for iface in &mut self.ifaces {
            // An interface without a readable operstate has no directory
            // here (gone since the sample, or another sysfs): node_exporter
            // would not list it, so its line is taken back.
            let line_start = out.len();
            out.push_str("node_network_info{");
            let link = iface.link.map(|k| &links[k]);
            let operstate = if self.from_netlink {
                link.and_then(|l| OPERSTATES.get(usize::from(l.operstate?)).copied())
            } else {
                None
            };
            for (k, file) in iface.text.iter_mut().enumerate() {
                let label = TEXT[k];
                if k == 2 {
                    // `device` sorts between broadcast and duplex.
                    out.push_str("device=\"");
                    escaped(out, &iface.name);
                    out.push_str("\",");
                }
                out.push_str(label);
                out.push_str("=\"");
                let read = match (link, k) {
                    (None, _) if self.from_netlink || iface.no_directory => None,
                    (None, _) => file.read_attribute().ok().and_then(parse_text),
                    (Some(l), 0) => {
                        hardware_address(out, l.address());
                        Some("")
                    }
                    (Some(l), 1) => {
                        hardware_address(out, l.broadcast());
                        Some("")
                    }
                    (Some(l), DUPLEX) if l.flags & IFF_UP != 0 => {
                        read_link_setting(file, &mut iface.duplex_refused, l, self.scrapes)
                            .and_then(parse_text)
                    }
                    (Some(_), DUPLEX) => None,
                    (Some(l), 3) => std::str::from_utf8(l.alias()).ok(),
                    (Some(_), _) => operstate,
                };
                if k == OPERSTATE {
                    iface.present = read.is_some();
                    iface.up = read == Some("up");
                }
                escaped(out, read.unwrap_or(""));
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

/// The numeric sysfs attributes as the kernel derives each from the same
/// fields `rtnl_fill_ifinfo` reports (net/core/net-sysfs.c): `carrier`
/// and `dormant` are refused (`None`) while the device is not up; `flags`
/// is `dev->flags`, which holds `IFF_PROMISC`/`IFF_ALLMULTI` while their
/// counts are above zero and never the derived `IFF_RUNNING`,
/// `IFF_LOWER_UP`, `IFF_DORMANT`; `iflink` is the ifindex when
/// `IFLA_LINK` is left out; the `%d` fields are the kernel's unsigned
/// values printed as signed. `None` also where the dump does not know:
/// the identity attributes, `speed`, and `flags` or `tx_queue_len` when
/// they cannot be derived exactly (read from sysfs by the caller).
fn from_link(link: &Link) -> [Option<i64>; 17] {
    let signed = |v: Option<u32>| v.map(|v| i64::from(v as i32));
    let running = link.flags & IFF_UP != 0;
    let derived = IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT | IFF_PROMISC | IFF_ALLMULTI;
    let flags = match (link.promiscuity, link.allmulti) {
        (Some(promiscuity), Some(allmulti)) => Some(i64::from(
            (link.flags & !derived)
                | if promiscuity > 0 { IFF_PROMISC } else { 0 }
                | if allmulti > 0 { IFF_ALLMULTI } else { 0 },
        )),
        _ => None,
    };
    let mut values = [None; 17];
    // IFLA_CARRIER (since 3.12); before it `IFF_LOWER_UP`, which
    // dev_get_flags() sets from the same carrier bit while the device is up.
    let carrier = link
        .carrier
        .map_or(link.flags & IFF_LOWER_UP != 0, |c| c != 0);
    values[1] = running.then_some(i64::from(carrier));
    values[2] = signed(link.carrier_changes);
    values[3] = signed(link.carrier_up_count);
    values[4] = signed(link.carrier_down_count);
    values[6] = running.then_some(i64::from(link.flags & IFF_DORMANT != 0));
    values[FLAGS] = flags;
    values[8] = Some(i64::from(link.index));
    values[9] = Some(
        link.iflink
            .map_or(i64::from(link.index), |v| i64::from(v as i32)),
    );
    values[10] = link.link_mode.map(i64::from);
    values[11] = signed(link.mtu);
    values[13] = signed(link.group);
    values[14] = Some(i64::from(link.link_type));
    values[TX_QUEUE_LEN] = link
        .tx_queue_len
        .filter(|&v| v <= i32::MAX as u32)
        .map(i64::from);
    values
}

/// A hardware address as sysfs prints it (`%*phC`): lower-case hex bytes
/// joined by `:`; nothing for a device without one.
fn hardware_address(out: &mut Body, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::rtnetlink::tests::Builder;
    use crate::proc::rtnetlink::{
        IFLA_ALLMULTI, IFLA_CARRIER, IFLA_GROUP, IFLA_LINK, IFLA_MTU, IFLA_PROMISCUITY,
        IFLA_TXQLEN, parse_part,
    };

    fn link(build: impl FnOnce(&mut Builder)) -> Link {
        let mut b = Builder::new();
        build(&mut b);
        b.done(1);
        let mut links = Vec::new();
        assert_eq!(parse_part(&b.bytes, 1, &mut links), Ok(true));
        links[0]
    }

    #[test]
    fn a_device_that_is_down_has_no_carrier_nor_dormant() {
        // ifi_flags of a veth that is down: BROADCAST|MULTICAST.
        let l = link(|b| {
            b.link(1, 5, 1, 0x1002).attribute(IFLA_CARRIER, &[1]);
        });
        let v = from_link(&l);
        assert_eq!((v[1], v[6]), (None, None));
        // Up, no IFLA_CARRIER (before 3.12): IFF_LOWER_UP says it.
        let l = link(|b| {
            b.link(1, 5, 1, 0x1_1043);
        });
        assert_eq!((from_link(&l)[1], from_link(&l)[6]), (Some(1), Some(0)));
        let l = link(|b| {
            b.link(1, 5, 1, 0x2_1043);
        });
        assert_eq!(from_link(&l)[6], Some(1));
    }

    #[test]
    fn flags_are_dev_flags_with_the_counts_bits() {
        // ifi_flags: UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP and a user's
        // PROMISC request, while the promiscuity count is 0 and allmulti 2.
        let l = link(|b| {
            b.link(1, 5, 1, 0x1_1143)
                .u32(IFLA_PROMISCUITY, 0)
                .u32(IFLA_ALLMULTI, 2);
        });
        assert_eq!(from_link(&l)[FLAGS], Some(0x1203));
        // Without IFLA_ALLMULTI (before 6.6) the caller reads the file.
        let l = link(|b| {
            b.link(1, 5, 1, 0x1_1043).u32(IFLA_PROMISCUITY, 0);
        });
        assert_eq!(from_link(&l)[FLAGS], None);
    }

    #[test]
    fn sysfs_prints_these_signed_and_iflink_defaults_to_the_index() {
        let l = link(|b| {
            b.link(1, 9, 1, 0x1002)
                .u32(IFLA_MTU, 1500)
                .u32(IFLA_GROUP, u32::MAX)
                .u32(IFLA_TXQLEN, u32::MAX);
        });
        let v = from_link(&l);
        assert_eq!((v[11], v[13]), (Some(1500), Some(-1)));
        // tx_queue_len past i32::MAX: printed signed or not by kernel
        // version, so the caller reads the file.
        assert_eq!(v[TX_QUEUE_LEN], None);
        assert_eq!((v[8], v[9]), (Some(9), Some(9)));
        let l = link(|b| {
            b.link(1, 9, 1, 0x1002).u32(IFLA_LINK, 4);
        });
        assert_eq!(from_link(&l)[9], Some(4));
    }

    #[test]
    fn hardware_addresses_as_sysfs_prints_them() {
        let mut out = Body::with_capacity(64);
        hardware_address(&mut out, &[0x0a, 0xff, 0x00]);
        assert_eq!(out.as_str(), "0a:ff:00");
        let mut out = Body::with_capacity(64);
        hardware_address(&mut out, &[]);
        assert_eq!(out.as_str(), "");
    }
}
