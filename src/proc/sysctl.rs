//! Small `/proc/sys` files: one number (`kernel/random/entropy_avail`,
//! `poolsize`) or `fs/file-nr` (`allocated unused maximum`, tab-separated;
//! `unused` has been 0 since Linux 2.6).

use super::{ParseError, fields, parse_u64};

/// A file holding one number and a newline.
pub fn single_u64(buf: &[u8]) -> Result<u64, ParseError> {
    let mut cols = fields(buf.strip_suffix(b"\n").unwrap_or(buf));
    let value = cols
        .next()
        .and_then(parse_u64)
        .ok_or(ParseError::new(1, "not a number"))?;
    if cols.next().is_some() {
        return Err(ParseError::new(1, "more than one number"));
    }
    Ok(value)
}

/// `fs/file-nr`: `(allocated, maximum)`.
pub fn file_nr(buf: &[u8]) -> Result<(u64, u64), ParseError> {
    let mut cols = fields(buf.strip_suffix(b"\n").unwrap_or(buf));
    let mut next = || {
        cols.next()
            .and_then(parse_u64)
            .ok_or(ParseError::new(1, "expected three numbers"))
    };
    let (allocated, _unused, maximum) = (next()?, next()?, next()?);
    Ok((allocated, maximum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_6_18_fixtures() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE; values as `cat` showed them.
        let nr = include_bytes!("../../tests/fixtures/proc/basic/sys/fs/file-nr");
        let text = std::str::from_utf8(nr).unwrap();
        let cols: Vec<u64> = text
            .split_whitespace()
            .map(|c| c.parse().unwrap())
            .collect();
        assert_eq!(file_nr(nr), Ok((cols[0], cols[2])));
        let pool = include_bytes!("../../tests/fixtures/proc/basic/sys/kernel/random/poolsize");
        assert_eq!(single_u64(pool), Ok(256));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(single_u64(b"").is_err());
        assert!(single_u64(b"1 2\n").is_err());
        assert!(single_u64(b"-1\n").is_err());
        assert!(file_nr(b"1\t0\n").is_err());
        assert!(file_nr(b"1\tx\t3\n").is_err());
    }
}
