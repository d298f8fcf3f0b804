//! `/proc/net/udp` and `/proc/net/udp6`: a header, then one socket per
//! line with `tx_queue:rx_queue` (hexadecimal bytes) in the fifth column.
//! node_exporter's `udp_queues` sums them over all sockets.

use super::{ParseError, fields, numbered_lines};

fn hex(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    bytes.iter().try_fold(0u64, |v, &b| {
        Some((v << 4) | u64::from((b as char).to_digit(16)?))
    })
}

/// `(tx, rx)` bytes queued over every socket of the file.
pub fn queue_sums(buf: &[u8]) -> Result<(u64, u64), ParseError> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for (no, line) in numbered_lines(buf).skip(1) {
        let queues = fields(line)
            .nth(4)
            .ok_or(ParseError::new(no, "fewer than 5 columns"))?;
        let colon = queues
            .iter()
            .position(|b| *b == b':')
            .ok_or(ParseError::new(no, "queues without a colon"))?;
        let bad = ParseError::new(no, "queue is not hexadecimal");
        tx = tx.saturating_add(hex(&queues[..colon]).ok_or(bad)?);
        rx = rx.saturating_add(hex(&queues[colon + 1..]).ok_or(bad)?);
    }
    Ok((tx, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_fixtures_queues() {
        // SOURCE: tests/fixtures/proc/debian12-vm-2core/SOURCE: three unread
        // 100-byte datagrams on 127.0.0.1, one 10-byte one on ::1. The
        // kernel charges each its buffer's truesize (0x340 = 832 bytes).
        let v4 = include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/net/udp");
        let v6 = include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/net/udp6");
        assert_eq!(queue_sums(v4), Ok((0, 3 * 0x340)));
        assert_eq!(queue_sums(v6), Ok((0, 0x340)));
        assert_eq!(queue_sums(b"header only\n"), Ok((0, 0)));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(queue_sums(b"h\n 1: a b 07\n").is_err());
        assert!(queue_sums(b"h\n 1: a b 07 0000\n").is_err());
        assert!(queue_sums(b"h\n 1: a b 07 00:zz\n").is_err());
    }
}
