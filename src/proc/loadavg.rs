//! `/proc/loadavg`: `0.52 0.41 0.30 2/345 6789`.

use super::{ParseError, fields, parse_decimal, parse_u64};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoadAvg {
    pub load: [f64; 3],
    /// Runnable scheduling entities right now.
    pub running: u64,
    /// Scheduling entities (threads) that exist.
    pub total: u64,
}

pub fn parse(buf: &[u8]) -> Result<LoadAvg, ParseError> {
    let line = buf.split(|b| *b == b'\n').next().unwrap_or(buf);
    let mut cols = fields(line);
    let mut load = [0.0; 3];
    for slot in &mut load {
        *slot = cols
            .next()
            .and_then(parse_decimal)
            .ok_or(ParseError::new(1, "load average is not a number"))?;
    }
    let tasks = cols
        .next()
        .ok_or(ParseError::new(1, "missing running/total field"))?;
    let slash = tasks
        .iter()
        .position(|b| *b == b'/')
        .ok_or(ParseError::new(1, "running/total field has no '/'"))?;
    let running = parse_u64(&tasks[..slash]).ok_or(ParseError::new(1, "bad running count"))?;
    let total = parse_u64(&tasks[slash + 1..]).ok_or(ParseError::new(1, "bad task count"))?;
    Ok(LoadAvg {
        load,
        running,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let got = parse(b"0.52 0.41 0.30 2/345 6789\n").unwrap();
        assert_eq!(got.load, [0.52, 0.41, 0.30]);
        assert_eq!((got.running, got.total), (2, 345));
        assert!(parse(b"0.52 0.41\n").is_err());
        assert!(parse(b"0.52 0.41 x 1/2 3\n").is_err());
        assert!(parse(b"1 2 3 12 5").is_err());
        assert!(parse(b"").is_err());
    }
}
