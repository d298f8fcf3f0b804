//! `/proc/net/softnet_stat`: one line per online CPU of hexadecimal
//! counters. The column count grew with the kernel: 9 columns up to 2.6.x
//! (processed, dropped, time_squeeze, five zeros, cpu_collision), 11 from
//! 2.6.36 (received_rps, flow_limit_count), 13 from 5.10 (backlog length,
//! CPU index) and 15 from 6.x (input and process queue lengths, not read).
//! Before the index column, a line's CPU is its position, which is wrong
//! when CPUs are offline; node_exporter (procfs) does the same.

use super::{ParseError, fields, numbered_lines};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Softnet {
    pub cpu: u32,
    pub processed: u64,
    pub dropped: u64,
    pub time_squeezed: u64,
    pub cpu_collision: u64,
    /// Since Linux 2.6.36.
    pub received_rps: Option<u64>,
    /// Since Linux 2.6.36.
    pub flow_limit_count: Option<u64>,
    /// Since Linux 5.10.
    pub backlog_len: Option<u64>,
}

fn hex(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in bytes {
        let digit = (b as char).to_digit(16)?;
        v = (v << 4) | u64::from(digit);
    }
    Some(v)
}

/// Every CPU's line.
pub fn entries(buf: &[u8]) -> impl Iterator<Item = Result<Softnet, ParseError>> {
    numbered_lines(buf).map(|(no, line)| {
        let mut cols = [0u64; 13];
        let mut n = 0;
        for field in fields(line) {
            let v = hex(field).ok_or(ParseError::new(no, "not a hexadecimal number"))?;
            if n < cols.len() {
                cols[n] = v;
            }
            n += 1;
        }
        if n < 9 {
            return Err(ParseError::new(no, "fewer than 9 columns"));
        }
        let since = |columns: usize, v: u64| (n >= columns).then_some(v);
        Ok(Softnet {
            cpu: if n >= 13 {
                u32::try_from(cols[12]).map_err(|_| ParseError::new(no, "bad cpu index"))?
            } else {
                no - 1
            },
            processed: cols[0],
            dropped: cols[1],
            time_squeezed: cols[2],
            cpu_collision: cols[8],
            received_rps: since(11, cols[9]),
            flow_limit_count: since(11, cols[10]),
            backlog_len: since(13, cols[11]),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_6_18_fixture_has_15_columns_and_an_index() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE.
        let buf = include_bytes!("../../tests/fixtures/proc/basic/net/softnet_stat");
        let all: Vec<_> = entries(buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        // The naive oracle: u64::from_str_radix over the columns.
        for (line, got) in std::str::from_utf8(buf).unwrap().lines().zip(&all) {
            let cols: Vec<u64> = line
                .split_whitespace()
                .map(|c| u64::from_str_radix(c, 16).unwrap())
                .collect();
            assert_eq!(got.processed, cols[0]);
            assert_eq!(got.dropped, cols[1]);
            assert_eq!(got.time_squeezed, cols[2]);
            assert_eq!(got.backlog_len, Some(cols[11]));
            assert_eq!(u64::from(got.cpu), cols[12]);
        }
    }

    #[test]
    fn older_layouts() {
        let nine = b"00000010 00000001 00000002 0 0 0 0 0 00000003\n0000000a 0 0 0 0 0 0 0 0\n";
        let all: Vec<_> = entries(nine).collect::<Result<_, _>>().unwrap();
        assert_eq!(all[0].processed, 16);
        assert_eq!(all[0].cpu_collision, 3);
        assert_eq!(all[0].received_rps, None);
        assert_eq!(all[1].cpu, 1, "the line number before the index column");
        let eleven = b"1 2 3 0 0 0 0 0 4 5 6\n";
        let one = entries(eleven).next().unwrap().unwrap();
        assert_eq!(
            (one.received_rps, one.flow_limit_count, one.backlog_len),
            (Some(5), Some(6), None)
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(entries(b"1 2 3\n").next().unwrap().is_err());
        assert!(entries(b"1 2 3 0 0 0 0 0 x\n").next().unwrap().is_err());
        assert!(
            entries(b"1 2 3 0 0 0 0 0 11111111111111111\n")
                .next()
                .unwrap()
                .is_err()
        );
    }
}
