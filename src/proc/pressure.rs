//! `/proc/pressure/{cpu,memory,io}` (Linux 4.20+, `CONFIG_PSI`):
//! `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and, for memory and io
//! (and cpu since Linux 5.13), a `full` line of the same shape. `total` is in
//! microseconds.

use super::{ParseError, fields, numbered_lines, parse_decimal, parse_u64};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PressureLine {
    /// Percent of wall time stalled, averaged over 10 s, 60 s and 300 s.
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total_us: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Pressure {
    /// Some task stalled on the resource.
    pub some: PressureLine,
    /// All non-idle tasks stalled at once; `None` for cpu before Linux 5.13.
    pub full: Option<PressureLine>,
}

pub fn parse(buf: &[u8]) -> Result<Pressure, ParseError> {
    let mut some = None;
    let mut full = None;
    for (n, line) in numbered_lines(buf) {
        let mut cols = fields(line);
        let slot = match cols.next() {
            Some(b"some") => &mut some,
            Some(b"full") => &mut full,
            _ => return Err(ParseError::new(n, "line is neither `some` nor `full`")),
        };
        if slot.is_some() {
            return Err(ParseError::new(n, "repeated line"));
        }
        let mut value =
            |key: &[u8]| -> Option<&[u8]> { cols.next()?.strip_prefix(key)?.strip_prefix(b"=") };
        let bad = ParseError::new(n, "expected avg10= avg60= avg300= total=");
        let avg10 = value(b"avg10").and_then(parse_decimal).ok_or(bad)?;
        let avg60 = value(b"avg60").and_then(parse_decimal).ok_or(bad)?;
        let avg300 = value(b"avg300").and_then(parse_decimal).ok_or(bad)?;
        let total_us = value(b"total").and_then(parse_u64).ok_or(bad)?;
        if cols.next().is_some() {
            return Err(ParseError::new(n, "unexpected field after total="));
        }
        *slot = Some(PressureLine {
            avg10,
            avg60,
            avg300,
            total_us,
        });
    }
    Ok(Pressure {
        some: some.ok_or(ParseError::new(1, "missing `some` line"))?,
        full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: &[u8] = include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/pressure/cpu");
    const IO: &[u8] = include_bytes!("../../tests/fixtures/proc/debian12-vm-2core/pressure/io");

    #[test]
    fn vm_captures() {
        let cpu = parse(CPU).unwrap();
        // some avg10=42.09 avg60=34.01 avg300=21.36 total=179016283
        assert_eq!(
            cpu.some,
            PressureLine {
                avg10: 42.09,
                avg60: 34.01,
                avg300: 21.36,
                total_us: 179_016_283
            }
        );
        assert_eq!(cpu.full.unwrap().total_us, 0);
        let io = parse(IO).unwrap();
        // full avg10=0.00 avg60=0.01 avg300=0.05 total=4546260
        assert_eq!(io.full.unwrap().avg300, 0.05);
        assert_eq!(io.full.unwrap().total_us, 4_546_260);
    }

    #[test]
    fn old_kernel_cpu_has_no_full_line() {
        let p = parse(b"some avg10=1.50 avg60=0.00 avg300=0.00 total=12\n").unwrap();
        assert_eq!(p.some.avg10, 1.5);
        assert_eq!(p.full, None);
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            "",
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            "some avg10=0.00 avg60=0.00 avg300=0.00\n",
            "some avg10=x avg60=0.00 avg300=0.00 total=0\n",
            "some avg60=0.00 avg10=0.00 avg300=0.00 total=0\n",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 extra=1\n",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
            "half avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
    }
}
