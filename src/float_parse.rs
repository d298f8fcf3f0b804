//! Decimal text read as an f64 exactly as `str::parse::<f64>` reads it,
//! without core's float parser.
//!
//! `str::parse::<f64>` links core's dec2flt (Eisel-Lemire with a 10 KB
//! table of powers of five, and a decimal fallback with tables of its own):
//! about 15 KB of the release binary, for hwmon's values (integers), the
//! textfile checker's values and `VERSION_ID`'s `major.minor`. Here a value
//! of at most 19 significant digits with an exponent of at most 22 is one
//! exact product or quotient of two f64s (both exact, so the one rounding is
//! the correct one); anything else starts from an estimate a few units in
//! the last place (ulps) off, and steps to the right f64 by comparing the
//! text's exact value with the midpoints between neighbouring f64s, in big
//! integers on the stack.
//!
//! Invariant: [`parse`] returns what `str::parse::<f64>` returns for every
//! byte string (the same bits, a NaN's sign included; `None` where std
//! errs): an optional sign, then `inf`, `infinity` or `nan` in any case, or
//! digits with an optional point (at least one digit on either side) and an
//! optional exponent (`e` or `E`, a sign, at least one digit); rounded to
//! nearest, ties to even; too large is infinity, too small zero. It never
//! allocates. The unit tests compare it with std over edge cases, random
//! texts and the shortest and longest texts of random bit patterns.

use std::cmp::Ordering;

/// `text` as `str::parse::<f64>` reads it (module docs).
pub fn parse(text: &[u8]) -> Option<f64> {
    let (negative, unsigned) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = match Decimal::scan(unsigned) {
        Some(decimal) => decimal.value(),
        None if unsigned.eq_ignore_ascii_case(b"inf")
            || unsigned.eq_ignore_ascii_case(b"infinity") =>
        {
            f64::INFINITY
        }
        None if unsigned.eq_ignore_ascii_case(b"nan") => f64::NAN,
        None => return None,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The most significant digits the exact comparison reads; the rest only
/// say whether the value lies above the digits kept. A midpoint between two
/// f64s has at most 767 significant digits, so no midpoint lies strictly
/// between the kept digits and the kept digits followed by anything.
const KEPT_DIGITS: i64 = 768;

/// The significant digits held in a `u64` for the estimate.
const LEAD_DIGITS: i64 = 19;

/// A decimal number as written: its value is `D × 10^exp10`, D the integer
/// of its `digits` significant digits (from the first non-zero one).
struct Decimal<'a> {
    /// The digits and point as written, before any exponent.
    mantissa: &'a [u8],
    exp10: i64,
    digits: i64,
    /// The first [`LEAD_DIGITS`] significant digits (all when fewer).
    lead: u64,
}

impl<'a> Decimal<'a> {
    /// `None` unless the whole of `text` is digits, an optional point and an
    /// optional exponent, with at least one digit before the exponent.
    fn scan(text: &'a [u8]) -> Option<Self> {
        let (mut exp10, mut digits, mut lead) = (0i64, 0i64, 0u64);
        let (mut seen_digit, mut seen_point, mut end) = (false, false, text.len());
        for (i, &b) in text.iter().enumerate() {
            match b {
                b'0'..=b'9' => {
                    seen_digit = true;
                    exp10 -= i64::from(seen_point);
                    if digits > 0 || b != b'0' {
                        if digits < LEAD_DIGITS {
                            lead = lead * 10 + u64::from(b - b'0');
                        }
                        digits += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => {
                    end = i;
                    break;
                }
            }
        }
        if !seen_digit {
            return None;
        }
        if let Some(exponent) = text.get(end + 1..) {
            if (text[end] | 0x20) != b'e' {
                return None;
            }
            let (negative, figures) = match exponent.first() {
                Some(b'-') => (true, &exponent[1..]),
                Some(b'+') => (false, &exponent[1..]),
                _ => (false, exponent),
            };
            if figures.is_empty() || !figures.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Saturated far beyond any value's range (and any text's length).
            let written = figures
                .iter()
                .fold(0i64, |e, &b| (e * 10 + i64::from(b - b'0')).min(1 << 40));
            exp10 += if negative { -written } else { written };
        }
        Some(Decimal {
            mantissa: &text[..end],
            exp10,
            digits,
            lead,
        })
    }

    fn value(&self) -> f64 {
        if self.digits == 0 {
            return 0.0;
        }
        // 10^(top - 1) <= value < 10^top.
        let top = self.exp10 + self.digits;
        if top > 310 {
            return f64::INFINITY;
        }
        if top < -324 {
            return 0.0; // below half the least subnormal (4.9e-324)
        }
        if self.digits <= LEAD_DIGITS {
            if self.exp10 == 0 {
                return self.lead as f64; // `as` rounds to nearest, ties to even
            }
            if self.lead <= 1 << 53 && self.exp10.abs() <= 22 {
                // Both exact (10^22 is the largest power of ten an f64
                // holds), so the one rounding of `*` or `/` is the answer.
                let power = (0..self.exp10.abs()).fold(1.0, |p, _| p * 10.0);
                let lead = self.lead as f64;
                return if self.exp10 > 0 {
                    lead * power
                } else {
                    lead / power
                };
            }
        }
        // lead × 10^e, a few ulps off: e is in -343..=309 by `top`'s bounds.
        let e = (self.exp10 + self.digits - self.digits.min(LEAD_DIGITS)) as i32;
        let estimate = if e < -300 {
            self.lead as f64 * 10f64.powi(e + 300) * 1e-300
        } else {
            self.lead as f64 * 10f64.powi(e)
        };
        Exact::new(self).nearest(estimate.min(f64::MAX))
    }
}

/// The decimal's exact value, `D × 10^exp10`, D of at most
/// [`KEPT_DIGITS`] + 1 digits, for comparisons with midpoints.
struct Exact {
    digits: Big,
    exp10: i64,
    /// 5^|exp10|, the odd part of the power of ten.
    power_of_five: Big,
}

impl Exact {
    fn new(decimal: &Decimal) -> Self {
        let mut digits = Big::zero();
        let mut kept = 0;
        let mut above = false; // a non-zero digit past the ones kept
        for &b in decimal.mantissa {
            if b == b'.' || (kept == 0 && b == b'0') {
                continue;
            }
            if kept < KEPT_DIGITS {
                digits.mul_add(10, u64::from(b - b'0'));
                kept += 1;
            } else if b != b'0' {
                above = true;
                break;
            }
        }
        let mut exp10 = decimal.exp10 + (decimal.digits - kept);
        if above {
            digits.mul_add(10, 1);
            exp10 -= 1;
        }
        let mut power_of_five = Big::zero();
        power_of_five.mul_add(1, 1);
        power_of_five.mul_pow5(exp10.unsigned_abs());
        Exact {
            digits,
            exp10,
            power_of_five,
        }
    }

    /// The f64 nearest the value, stepping from `estimate` (finite, >= 0).
    fn nearest(&self, mut estimate: f64) -> f64 {
        loop {
            let above = f64::from_bits(estimate.to_bits() + 1);
            match self.cmp_midpoint_above(estimate) {
                Ordering::Greater if above.is_infinite() => return above,
                Ordering::Greater => {
                    estimate = above;
                    continue;
                }
                Ordering::Equal => return even(estimate, above),
                Ordering::Less if estimate == 0.0 => return estimate,
                Ordering::Less => {}
            }
            let below = f64::from_bits(estimate.to_bits() - 1);
            match self.cmp_midpoint_above(below) {
                Ordering::Less => estimate = below,
                Ordering::Equal => return even(below, estimate),
                Ordering::Greater => return estimate,
            }
        }
    }

    /// The value against the midpoint between `x` (finite, >= 0) and the
    /// next f64 up: `(2m + 1) × 2^(q - 1)` for `x = m × 2^q`.
    fn cmp_midpoint_above(&self, x: f64) -> Ordering {
        let bits = x.to_bits();
        let (biased, fraction) = ((bits >> 52) as i64, bits & ((1 << 52) - 1));
        let (m, q) = match biased {
            0 => (fraction, -1074),
            _ => (fraction | 1 << 52, biased - 1075),
        };
        // value = D × 5^exp10 × 2^exp10 against (2m + 1) × 2^(q - 1): the
        // power of five goes to the side where it is a factor, the power of
        // two to the side that keeps both integers.
        let (mut value, mut midpoint) = (self.digits, Big::zero());
        midpoint.mul_add(1, 2 * m + 1);
        if self.exp10 >= 0 {
            value.mul(&self.power_of_five);
        } else {
            midpoint.mul(&self.power_of_five);
        }
        let shift = self.exp10 - (q - 1);
        if shift >= 0 {
            value.shl(shift as usize);
        } else {
            midpoint.shl(shift.unsigned_abs() as usize);
        }
        value.cmp(&midpoint)
    }
}

/// Of two neighbouring f64s, the one with an even last bit.
fn even(low: f64, high: f64) -> f64 {
    if low.to_bits() & 1 == 0 { low } else { high }
}

/// Bits a [`Big`] holds. The largest number compared: D of 769 digits
/// (2,555 bits), or `(2m + 1) × 5^1093` (54 + 2,538 bits), the other side
/// shifted to within a few bits of it (the estimate is a few ulps off);
/// with D × 5^exp10 when exp10 >= 0 at most 10^310 (1,030 bits).
const BIG_BITS: usize = 4096;

/// An unsigned integer of at most [`BIG_BITS`] bits, little-endian limbs.
#[derive(Clone, Copy)]
struct Big {
    limbs: [u32; BIG_BITS / 32],
    /// Limbs in use; those above are zero.
    len: usize,
}

impl Big {
    fn zero() -> Self {
        Big {
            limbs: [0; BIG_BITS / 32],
            len: 0,
        }
    }

    /// self = self × factor + add (factor < 2^64).
    fn mul_add(&mut self, factor: u64, add: u64) {
        let mut carry = u128::from(add);
        for limb in &mut self.limbs[..self.len] {
            let product = u128::from(*limb) * u128::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        while carry != 0 {
            self.limbs[self.len] = carry as u32;
            self.len += 1;
            carry >>= 32;
        }
    }

    fn mul_pow5(&mut self, mut exponent: u64) {
        const POW5_27: u64 = 7_450_580_596_923_828_125; // the largest in a u64
        while exponent >= 27 {
            self.mul_add(POW5_27, 0);
            exponent -= 27;
        }
        self.mul_add(5u64.pow(exponent as u32), 0);
    }

    /// self = self × other (schoolbook).
    fn mul(&mut self, other: &Big) {
        let mut product = Big::zero();
        for (i, &a) in self.limbs[..self.len].iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.limbs[..other.len].iter().enumerate() {
                let sum = u64::from(a) * u64::from(b) + u64::from(product.limbs[i + j]) + carry;
                product.limbs[i + j] = sum as u32;
                carry = sum >> 32;
            }
            product.limbs[i + other.len] = carry as u32;
        }
        product.len = self.len + other.len;
        while product.len > 0 && product.limbs[product.len - 1] == 0 {
            product.len -= 1;
        }
        *self = product;
    }

    fn shl(&mut self, bits: usize) {
        if self.len == 0 {
            return;
        }
        let (whole, part) = (bits / 32, bits % 32);
        self.limbs.copy_within(..self.len, whole);
        self.limbs[..whole].fill(0);
        self.len += whole;
        if part > 0 {
            let top = self.limbs[self.len - 1] >> (32 - part);
            for i in (whole + 1..self.len).rev() {
                self.limbs[i] = self.limbs[i] << part | self.limbs[i - 1] >> (32 - part);
            }
            self.limbs[whole] <<= part;
            if top != 0 {
                self.limbs[self.len] = top;
                self.len += 1;
            }
        }
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.len.cmp(&other.len).then_with(|| {
            let (a, b) = (&self.limbs[..self.len], &other.limbs[..other.len]);
            a.iter().rev().cmp(b.iter().rev())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_parse(text: &[u8]) -> Option<f64> {
        std::str::from_utf8(text).ok()?.parse().ok()
    }

    fn assert_as_std(text: &[u8]) {
        let (ours, theirs) = (parse(text), std_parse(text));
        assert_eq!(
            ours.map(f64::to_bits),
            theirs.map(f64::to_bits),
            "{:?}: ours {ours:?}, std {theirs:?}",
            String::from_utf8_lossy(text)
        );
    }

    /// xorshift64*: the same numbers on every run.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn edge_cases_read_as_std_reads_them() {
        let long_ones = "1".repeat(800);
        let long_half = format!("2.{}5e-324", "0".repeat(900));
        let texts: Vec<Vec<u8>> = [
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1e-",
            "1.e5",
            ".5",
            "+.5",
            "-.5e-3",
            "5.",
            "1..2",
            "1.2.3",
            "1e5.5",
            "1e5e5",
            " 1",
            "1 ",
            "1\n",
            "0x10",
            "1_000",
            "inf",
            "-INF",
            "+Infinity",
            "infinit",
            "infinityy",
            "nan",
            "-NaN",
            "+nAn",
            "nan1",
            "0",
            "-0",
            "+0.000",
            "0e999999999999999999999",
            "00012.3400",
            "55000",
            "-1.5e3",
            "12",
            "22.04",
            "3.19",
            "8.",
            "9007199254740992",
            "9007199254740993",
            "9007199254740995",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234567890",
            "1e22",
            "1e23",
            "9007199254740993e22",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e308",
            "1e309",
            "1e400",
            "-1e400",
            "1e99999999999999999999999",
            "2.2250738585072014e-308",
            "2.2250738585072011e-308",
            "4.9406564584124654e-324",
            "2.4703282292062328e-324",
            "2.4703282292062327e-324",
            "7.4109846876186982e-324",
            "1e-324",
            "1e-400",
            "1e-99999999999999999999999",
            "0.1",
            "0.30000000000000004",
            "123.456e-7",
            "2.5",
            "3.5",
            "9007199254740993.0",
            "9007199254740993.000000000000000000000000000000001",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            long_ones.as_bytes().to_vec(),
            format!("0.{long_ones}").into_bytes(),
            format!("{long_ones}e-500").into_bytes(),
            format!("{long_ones}e-1100").into_bytes(),
            format!("{long_ones}e-1200").into_bytes(),
            format!("0.{}1", "0".repeat(330)).into_bytes(),
            long_half.into_bytes(),
            b"\xff1".to_vec(),
            b"1\xff".to_vec(),
        ])
        .collect();
        for text in texts {
            assert_as_std(&text);
        }
    }

    #[test]
    fn random_texts_read_as_std_reads_them() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"0123456789012345678901234567890123456789.eE+-n";
        for _ in 0..200_000 {
            let len = 1 + random.below(30) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| alphabet[random.below(alphabet.len() as u64) as usize])
                .collect();
            assert_as_std(&text);
        }
        // Numbers of every size and length: digits, a point, an exponent.
        for _ in 0..100_000 {
            let digits: String = (0..1 + random.below(40))
                .map(|_| char::from(b'0' + random.below(10) as u8))
                .collect();
            let point = random.below(digits.len() as u64 + 1) as usize;
            let exponent = random.below(700) as i64 - 350;
            assert_as_std(
                format!("{}.{}e{exponent}", &digits[..point], &digits[point..]).as_bytes(),
            );
            assert_as_std(digits.as_bytes());
        }
    }

    #[test]
    fn random_f64s_read_back_from_their_texts() {
        let mut random = Random(0x2545_f491_4f6c_dd1d);
        for _ in 0..50_000 {
            let x = f64::from_bits(random.next());
            if !x.is_finite() {
                continue;
            }
            // The shortest digits, 17, 41, and (now and then) every digit.
            assert_as_std(format!("{x}").as_bytes());
            assert_as_std(format!("{x:e}").as_bytes());
            assert_as_std(format!("{x:.16e}").as_bytes());
            assert_as_std(format!("{x:.40e}").as_bytes());
            if random.below(16) == 0 {
                assert_as_std(format!("{x:.800e}").as_bytes());
            }
        }
    }

    #[test]
    fn midpoints_round_to_even_and_their_neighbours_to_the_nearest() {
        // (2m + 1) × 2^(q - 1) exactly: an integer for q >= 1, and
        // (2m + 1) × 5^k × 10^-k for q - 1 = -k; then one unit above and
        // below in the last digit.
        let mut random = Random(0x0123_4567_89ab_cdef);
        for _ in 0..50_000 {
            let m = (1u128 << 52) | u128::from(random.next() >> 12);
            let odd = 2 * m + 1;
            let digits = if random.below(2) == 0 {
                let q = 1 + random.below(74) as u32;
                (odd << (q - 1)).to_string()
            } else {
                let k = 1 + random.below(30) as u32;
                let Some(scaled) = odd.checked_mul(5u128.pow(k)) else {
                    continue;
                };
                format!("{scaled}e-{k}")
            };
            let (mantissa, exponent) = digits.split_once('e').unwrap_or((&digits, "0"));
            let n: u128 = mantissa.parse().unwrap();
            for near in [n - 1, n, n + 1] {
                assert_as_std(format!("{near}e{exponent}").as_bytes());
                assert_as_std(
                    format!("{near}00e{}", exponent.parse::<i32>().unwrap() - 2).as_bytes(),
                );
            }
        }
    }
}
