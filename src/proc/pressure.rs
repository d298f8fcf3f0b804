//! `/proc/pressure/{cpu,memory,io}` (Linux 4.20+, `CONFIG_PSI`):
//! `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and, for memory and io
//! (and cpu since Linux 5.13), a `full` line of the same shape. `total` is in
//! microseconds.
//!
//! [`parse`] reads the kernel's own layout (`psi_show`: single spaces, two
//! fraction digits, `some` then `full`) in one pass, and anything else
//! through the general field-by-field parse, which decides; the one-pass
//! reading gives the same figures or none (an oracle test), and it was a
//! seventh of a sample's instructions the other way (6,708 of 46,506).

use super::{POWERS_OF_TEN, ParseError, fields, numbered_lines, parse_decimal, parse_u64};

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
    match kernel_layout(buf) {
        Some(pressure) => Ok(pressure),
        None => parse_fields(buf),
    }
}

/// `buf` in the layout the kernel prints, read in one pass: a `some` line
/// and optionally a `full` line, each `avg10=D.D avg60=D.D avg300=D.D
/// total=N` with single spaces, fractions of at most 9 digits and totals
/// of at most 19. `None` for anything else, right or wrong.
fn kernel_layout(buf: &[u8]) -> Option<Pressure> {
    let mut rest = buf;
    let some = kernel_line(&mut rest, b"some ")?;
    let full = if rest.is_empty() {
        None
    } else {
        Some(kernel_line(&mut rest, b"full ")?)
    };
    rest.is_empty().then_some(Pressure { some, full })
}

/// One line of [`kernel_layout`] from the start of `rest`, which is moved
/// past it (and past its newline, if any).
fn kernel_line(rest: &mut &[u8], kind: &[u8]) -> Option<PressureLine> {
    let mut at = Cursor(rest);
    at.tag(kind)?;
    at.tag(b"avg10=")?;
    let avg10 = at.decimal()?;
    at.tag(b" avg60=")?;
    let avg60 = at.decimal()?;
    at.tag(b" avg300=")?;
    let avg300 = at.decimal()?;
    at.tag(b" total=")?;
    let (total_us, _) = at.integer(19)?;
    let line_end = at.0;
    *rest = match line_end {
        [] => line_end,
        [b'\n', after @ ..] => after,
        _ => return None,
    };
    Some(PressureLine {
        avg10,
        avg60,
        avg300,
        total_us,
    })
}

/// What is left of a line being read by [`kernel_line`].
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn tag(&mut self, tag: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(tag)?;
        Some(())
    }

    /// 1 ..= `max_digits` ASCII digits, as [`parse_u64`] reads them (19
    /// cannot overflow), and how many there were.
    #[inline(always)]
    fn integer(&mut self, max_digits: usize) -> Option<(u64, usize)> {
        let mut value = 0u64;
        let mut digits = 0;
        while let Some(&b) = self.0.get(digits) {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            if digits == max_digits {
                return None;
            }
            value = value * 10 + u64::from(digit);
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        self.0 = &self.0[digits..];
        Some((value, digits))
    }

    /// `INT.FRAC`, the `f64` [`parse_decimal`] makes of it (the same
    /// division), for a fraction of 1 ..= 9 digits.
    #[inline(always)]
    fn decimal(&mut self) -> Option<f64> {
        let (whole, _) = self.integer(19)?;
        self.tag(b".")?;
        let (numerator, digits) = self.integer(9)?;
        Some(whole as f64 + numerator as f64 / POWERS_OF_TEN[digits])
    }
}

/// The general parse: fields split by any blanks, `some` and `full` in
/// either order, checked line by line with the line's number in the error.
fn parse_fields(buf: &[u8]) -> Result<Pressure, ParseError> {
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

    /// The one-pass reading against the general parse: the same figures
    /// or none, over the captures, their every cut, and random changes of
    /// one or two bytes to digits, blanks, dots and line ends.
    #[test]
    fn the_kernel_layout_reads_as_the_general_parse() {
        let full = b"full avg10=0.00 avg60=0.01 avg300=0.05 total=4546260\n";
        let cases: [&[u8]; 5] = [
            CPU,
            IO,
            b"some avg10=1.50 avg60=0.00 avg300=0.00 total=12\n",
            b"some avg10=100.00 avg60=99.999999999 avg300=0.1 total=18446744073709551615",
            full,
        ];
        let mut read = 0;
        for case in cases {
            for cut in 0..=case.len() {
                let got = kernel_layout(&case[..cut]);
                read += usize::from(got.is_some());
                if let Some(got) = got {
                    assert_eq!(Ok(got), parse_fields(&case[..cut]), "{:?}", &case[..cut]);
                }
            }
        }
        assert!(read >= 4, "only {read} cuts were read in one pass");
        let swaps = b"0123456789 .\n\tx=";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as usize
        };
        for _ in 0..50_000 {
            let mut bytes = IO.to_vec();
            for _ in 0..1 + next() % 2 {
                let at = next() % bytes.len();
                bytes[at] = swaps[next() % swaps.len()];
            }
            if let Some(got) = kernel_layout(&bytes) {
                assert_eq!(Ok(got), parse_fields(&bytes), "{bytes:?}");
            }
        }
        assert_eq!(kernel_layout(CPU), Some(parse_fields(CPU).unwrap()));
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
