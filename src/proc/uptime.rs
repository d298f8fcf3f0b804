//! `/proc/uptime`: seconds since boot, then idle seconds summed over CPUs.

use super::{ParseError, fields, parse_decimal};

pub fn parse(buf: &[u8]) -> Result<f64, ParseError> {
    let line = buf.split(|b| *b == b'\n').next().unwrap_or(buf);
    fields(line)
        .next()
        .and_then(parse_decimal)
        .ok_or(ParseError::new(1, "uptime is not a number"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_and_rejects() {
        assert_eq!(super::parse(b"350735.47 234388.90\n"), Ok(350735.47));
        assert!(super::parse(b"").is_err());
        assert!(super::parse(b"abc 1.0\n").is_err());
    }
}
