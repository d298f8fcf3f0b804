//! `/proc/net/arp`: a header, then `IP HWtype Flags HWaddress Mask Device`
//! per neighbour. node_exporter (up to 1.5, and with `--no-collector.arp.netlink`
//! since) counts every line per device, complete or not; so does sysmon.

use super::{ParseError, fields, numbered_lines};

/// The device of each entry, in file order.
pub fn devices(buf: &[u8]) -> impl Iterator<Item = Result<&[u8], ParseError>> {
    numbered_lines(buf).skip(1).map(|(no, line)| {
        let mut cols = fields(line);
        cols.nth(5)
            .ok_or(ParseError::new(no, "fewer than 6 columns"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fixture_and_a_busier_table() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE.
        let buf = include_bytes!("../../tests/fixtures/proc/basic/net/arp");
        let got: Vec<_> = devices(buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(got, [&b"eth0"[..]]);
        let busy =
            b"IP address       HW type     Flags       HW address            Mask     Device\n\
10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0\n\
10.0.0.2 0x1 0x0 00:00:00:00:00:00 * eth0\n\
10.1.0.1 0x1 0x2 aa:bb:cc:dd:ee:01 * br-lan\n";
        let got: Vec<_> = devices(busy).collect::<Result<_, _>>().unwrap();
        assert_eq!(got, [&b"eth0"[..], b"eth0", b"br-lan"]);
        assert!(
            devices(b"header\n10.0.0.1 0x1 0x2\n")
                .next()
                .unwrap()
                .is_err()
        );
        assert_eq!(devices(b"").count(), 0);
    }
}
