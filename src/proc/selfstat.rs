//! `/proc/<pid>/stat` of sysmon itself: its CPU time, resident pages, start
//! time and threads, so its own footprint is measured, not claimed.
//!
//! The command name (field 2) is in parentheses and may hold spaces or
//! parentheses itself; fields are counted from the last `)`.

use super::{ParseError, fields, find_either, parse_u64};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelfStat {
    pub user_ticks: u64,
    pub system_ticks: u64,
    /// Clock ticks after boot at which the process started.
    pub start_ticks: u64,
    pub threads: u64,
    /// Virtual memory size in bytes (field 23, `vsize`).
    pub vsize_bytes: u64,
    pub rss_pages: u64,
}

pub fn parse(buf: &[u8]) -> Result<SelfStat, ParseError> {
    // The last `)` (a name may hold one, or even a newline), then the
    // rest of its line, each found eight bytes at a time (a byte at a
    // time they were a third of this parse).
    let mut close =
        find_either(buf, b')', b')').ok_or(ParseError::new(1, "no `)` after the command name"))?;
    while let Some(next) = find_either(&buf[close + 1..], b')', b')') {
        close += 1 + next;
    }
    let after = &buf[close + 1..];
    let rest = &after[..find_either(after, b'\n', b'\n').unwrap_or(after.len())];
    // After `)`: field 3 (state) is index 0, so field N is index N - 3.
    let mut values = [0u64; 22];
    let mut count = 0;
    for (i, field) in fields(rest).enumerate().take(values.len()) {
        count += 1;
        // Only the fields taken below are parsed; some of the others are
        // signed (priority, nice) and the state is a letter.
        if matches!(i, 11 | 12 | 17 | 19 | 20 | 21) {
            values[i] = parse_u64(field).unwrap_or(u64::MAX);
        }
    }
    if count < 22 {
        return Err(ParseError::new(1, "fewer than 24 fields"));
    }
    let take = |field: usize| {
        let v = values[field - 3];
        if v == u64::MAX {
            Err(ParseError::new(1, "field is not a number"))
        } else {
            Ok(v)
        }
    };
    Ok(SelfStat {
        user_ticks: take(14)?,
        system_ticks: take(15)?,
        threads: take(20)?,
        start_ticks: take(22)?,
        vsize_bytes: take(23)?,
        rss_pages: take(24)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces_and_parens() {
        let line = b"4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 9 0 0 20 0 3 0 123456 8888888 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse(line).unwrap();
        assert_eq!(
            (
                s.user_ticks,
                s.system_ticks,
                s.threads,
                s.start_ticks,
                s.vsize_bytes,
                s.rss_pages
            ),
            (17, 9, 3, 123456, 8888888, 250)
        );
        // A name may hold a newline (PR_SET_NAME takes any bytes).
        let two_lines = b"4242 (a\nb) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 9 0 0 20 0 3 0 123456 8888888 250 0\n";
        assert_eq!(parse(two_lines).unwrap().rss_pages, 250);
        assert!(parse(b"4242 (x) S 1 2 3\n").is_err());
        assert!(parse(b"garbage").is_err());
    }
}
