//! `/proc/net/sockstat` and `/proc/net/sockstat6`: `PROTO: key value key
//! value ...` lines (`sockets: used 15`, `TCP: inuse 1 orphan 0 tw 2 alloc
//! 1 mem 0`). `mem` is in pages.

use super::{ParseError, fields, numbered_lines, parse_u64};

/// Every (protocol, key, value); a line with a key and no number is an
/// error for the file, reported before anything of that line.
pub fn for_each(buf: &[u8], mut f: impl FnMut(&[u8], &[u8], u64)) -> Result<(), ParseError> {
    for (no, line) in numbered_lines(buf) {
        let mut cols = fields(line);
        let Some(proto) = cols.next() else { continue };
        let protocol = proto
            .strip_suffix(b":")
            .ok_or(ParseError::new(no, "protocol without a colon"))?;
        let mut check = fields(line).skip(1);
        while let Some(_key) = check.next() {
            check
                .next()
                .and_then(parse_u64)
                .ok_or(ParseError::new(no, "key without a number"))?;
        }
        while let (Some(key), Some(value)) = (cols.next(), cols.next()) {
            if let Some(v) = parse_u64(value) {
                f(protocol, key, v);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_6_18_fixtures() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE (kernel 6.18).
        for text in [
            include_str!("../../tests/fixtures/proc/basic/net/sockstat"),
            include_str!("../../tests/fixtures/proc/basic/net/sockstat6"),
        ] {
            let mut got = Vec::new();
            for_each(text.as_bytes(), |p, k, v| {
                got.push(format!(
                    "{} {} {v}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(k)
                ))
            })
            .unwrap();
            // The naive oracle.
            let mut want = Vec::new();
            for line in text.lines() {
                let cols: Vec<&str> = line.split_whitespace().collect();
                for kv in cols[1..].chunks(2) {
                    want.push(format!(
                        "{} {} {}",
                        cols[0].trim_end_matches(':'),
                        kv[0],
                        kv[1]
                    ));
                }
            }
            assert_eq!(got, want);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let mut n = 0;
        assert!(for_each(b"TCP inuse 1\n", |_, _, _| n += 1).is_err());
        assert!(for_each(b"TCP: inuse\n", |_, _, _| n += 1).is_err());
        assert!(for_each(b"TCP: inuse x\n", |_, _, _| n += 1).is_err());
        assert_eq!(n, 0);
    }
}
