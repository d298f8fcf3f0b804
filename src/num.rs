//! Numbers as sysmon shows them: one place for the rounding that the JSON
//! (`crate::report`) and the alert messages (`crate::alerts`) share, so a
//! figure reads the same on the dashboard and in a notification; and
//! counts in log lines and comments with their thousands grouped.

use std::fmt::{self, Write as _};

/// Rounds to one decimal for display; maps anything non-finite to 0.
pub fn round1(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// A count with thousands separated by commas: `1,234`.
pub struct Grouped(pub u64);

impl fmt::Display for Grouped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 20];
        let (mut n, mut len) = (self.0, 0);
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in (0..len).rev() {
            f.write_char(digits[i] as char)?;
            if i > 0 && i % 3 == 0 {
                f.write_char(',')?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grouped_puts_a_comma_every_three_digits() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1_234_567, "1,234,567"),
            (8_183_808, "8,183,808"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(super::Grouped(n).to_string(), text);
        }
    }
}
