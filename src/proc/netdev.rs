//! `/proc/net/dev`: two header lines, then one line per interface:
//! `  eth0: RXBYTES RXPACKETS RXERRS RXDROP FIFO FRAME COMPRESSED MULTICAST
//!  TXBYTES TXPACKETS TXERRS TXDROP FIFO COLLS CARRIER COMPRESSED`.
//!
//! The name ends at the line's last `:` (an alias such as `ibr10:30` has one
//! of its own, and a large counter may follow the colon without a space).
//! [`entries`] yields borrowed names and never allocates.

use super::{ParseError, fields, find_either, leading_numbers, numbered_lines};

/// The counters of one interface, as the kernel keeps them (since boot or
/// since the interface was created; they may wrap or reset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub rx_fifo: u64,
    pub rx_frame: u64,
    pub rx_compressed: u64,
    pub rx_multicast: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
    pub tx_fifo: u64,
    pub tx_colls: u64,
    pub tx_carrier: u64,
    pub tx_compressed: u64,
}

/// One interface line: the name and its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetDevEntry<'a> {
    pub name: &'a [u8],
    pub counters: NetCounters,
}

/// The interface lines of the file, in the kernel's order. The two header
/// lines are checked, so a file that is not /proc/net/dev fails at line 1.
pub fn entries(buf: &[u8]) -> impl Iterator<Item = Result<NetDevEntry<'_>, ParseError>> {
    let mut header_error = None;
    let mut lines = numbered_lines(buf);
    for expected in [&b"Inter-|"[..], b" face |"] {
        match lines.next() {
            Some((_, line)) if line.starts_with(expected) => {}
            Some((n, _)) => header_error = Some(ParseError::new(n, "not a /proc/net/dev header")),
            None => header_error = Some(ParseError::new(1, "missing /proc/net/dev header")),
        }
        if header_error.is_some() {
            break;
        }
    }
    let failed = header_error.is_some();
    header_error.map(Err).into_iter().chain(
        lines
            .filter(move |_| !failed)
            .map(|(n, line)| entry(n, line)),
    )
}

fn entry(n: u32, line: &[u8]) -> Result<NetDevEntry<'_>, ParseError> {
    // The last `:`, found eight bytes at a time from the first (the
    // counters after it hold none).
    let mut colon =
        find_either(line, b':', b':').ok_or(ParseError::new(n, "interface line has no ':'"))?;
    while let Some(next) = find_either(&line[colon + 1..], b':', b':') {
        colon += 1 + next;
    }
    let name = line[..colon].trim_ascii();
    if name.is_empty() {
        return Err(ParseError::new(n, "empty interface name"));
    }
    let mut values = [0u64; 16];
    let (count, more) = leading_numbers(&line[colon + 1..], &mut values)
        .map_err(|_| ParseError::new(n, "counter is not a number"))?;
    if count < values.len() {
        return Err(ParseError::new(n, "fewer than 16 counters"));
    }
    if fields(more).next().is_some() {
        return Err(ParseError::new(n, "more than 16 counters"));
    }
    Ok(NetDevEntry {
        name,
        counters: NetCounters {
            rx_bytes: values[0],
            rx_packets: values[1],
            rx_errors: values[2],
            rx_dropped: values[3],
            rx_fifo: values[4],
            rx_frame: values[5],
            rx_compressed: values[6],
            rx_multicast: values[7],
            tx_bytes: values[8],
            tx_packets: values[9],
            tx_errors: values[10],
            tx_dropped: values[11],
            tx_fifo: values[12],
            tx_colls: values[13],
            tx_carrier: values[14],
            tx_compressed: values[15],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/net/dev` on the project's CI-kind VM (see tests/fixtures).
    const VM: &[u8] = include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/net/dev");
    /// node_exporter's collector/fixtures/proc/net/dev (alias name with a
    /// colon, counters glued to the colon).
    const NODE_EXPORTER: &[u8] = include_bytes!("../../tests/fixtures/proc/net-dev-node-exporter");

    #[test]
    fn vm_capture() {
        let all: Vec<_> = entries(VM).map(Result::unwrap).collect();
        let names: Vec<&[u8]> = all.iter().map(|e| e.name).collect();
        assert_eq!(names, [&b"lo"[..], b"ifb0", b"ifb1", b"eth0"]);
        // eth0:  264579497 9391 0 0 0 0 0 0 | 569415 6774 0 0 ...
        assert_eq!(
            all[3].counters,
            NetCounters {
                rx_bytes: 264_579_497,
                rx_packets: 9391,
                tx_bytes: 569_415,
                tx_packets: 6774,
                ..NetCounters::default()
            }
        );
    }

    #[test]
    fn node_exporter_capture_with_odd_names() {
        let all: Vec<_> = entries(NODE_EXPORTER).map(Result::unwrap).collect();
        assert_eq!(all.len(), 8);
        let eth0 = all.iter().find(|e| e.name == b"eth0").unwrap();
        // `eth0:68210035552 520993275 ... 9315587528 43451486`
        assert_eq!(eth0.counters.rx_bytes, 68_210_035_552);
        assert_eq!(eth0.counters.rx_packets, 520_993_275);
        assert_eq!(eth0.counters.tx_bytes, 9_315_587_528);
        assert_eq!(eth0.counters.tx_packets, 43_451_486);
        assert!(all.iter().any(|e| e.name == b"ibr10:30"));
        // Every column lands in its own field: a line of 1..=16.
        let line = b"Inter-|\n face |\n  x: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
        let c = entries(line).next().unwrap().unwrap().counters;
        assert_eq!(
            [
                c.rx_bytes,
                c.rx_packets,
                c.rx_errors,
                c.rx_dropped,
                c.rx_fifo,
                c.rx_frame,
                c.rx_compressed,
                c.rx_multicast,
                c.tx_bytes,
                c.tx_packets,
                c.tx_errors,
                c.tx_dropped,
                c.tx_fifo,
                c.tx_colls,
                c.tx_carrier,
                c.tx_compressed
            ],
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
        );
        assert!(all.iter().any(|e| e.name == b"veth4B09XN"));
    }

    #[test]
    fn garbage_is_an_error() {
        let header = "Inter-|   Receive\n face |bytes\n";
        for bad in [
            "",
            "eth0: 1 2 3\n",
            &format!("{header}  eth0: 1 2 3\n"),
            &format!("{header}  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
            &format!("{header}  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n"),
            &format!("{header}  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"),
            &format!("{header}  : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
        ] {
            assert!(
                entries(bad.as_bytes()).any(|e| e.is_err()),
                "accepted {bad:?}"
            );
        }
    }
}
