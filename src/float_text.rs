//! f64 values printed exactly as `Display` prints them, without core's
//! float formatter.
//!
//! `{}` and `{:.N}` on an f64 link core's flt2dec (Grisu with its Dragon
//! fallback, for the shortest digits and for fixed places, with their
//! tables and big-number code): about 16 KB of the release binary, for a
//! few numbers in logs, CLI tables, alert texts and /metrics. Here the
//! shortest digits come from `zmij` (which miniserde already links for
//! /data.json) and fixed places from exact integer arithmetic.
//!
//! Invariant: [`Shortest`] prints what `{}` prints for every f64, and
//! [`Fixed`] what `{:.N}` prints (ties to even, as std) for every f64 and
//! N up to [`MAX_PLACES`]; both honour width, alignment, `+` and zero
//! padding as std's numbers do (right-aligned by default). The unit tests
//! compare both with std's formatter over random bit patterns and edge
//! cases. Neither allocates: the text is built on the stack.

use std::fmt;

/// `{}` of an f64: the shortest digits that read back as the same value,
/// in plain decimal notation (`0.0001`, `1e21` as 22 digits, `-0`).
#[derive(Clone, Copy)]
pub struct Shortest(pub f64);

/// `{:.N}` of an f64 (`.0` prints no point), N at most [`MAX_PLACES`].
#[derive(Clone, Copy)]
pub struct Fixed(pub f64, pub usize);

/// The most places [`Fixed`] prints.
pub const MAX_PLACES: usize = 9;

/// The longest text: 309 integer digits (f64::MAX) and a point and
/// [`MAX_PLACES`], or `0.` and 323 zeros before 17 digits (subnormals).
const LONGEST: usize = 345;

/// A stack buffer the digits are written into, front to back.
struct Text {
    bytes: [u8; LONGEST],
    len: usize,
}

impl Text {
    fn new() -> Text {
        Text {
            bytes: [0; LONGEST],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    fn push_all(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn zeros(&mut self, n: usize) {
        self.bytes[self.len..self.len + n].fill(b'0');
        self.len += n;
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and `.` are ever pushed.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// NaN and the infinities as std spells them; None for a finite value.
fn non_finite(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v.is_infinite() {
        Some("inf")
    } else {
        None
    }
}

impl fmt::Display for Shortest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let nonnegative = v.is_nan() || v.is_sign_positive();
        if let Some(text) = non_finite(v) {
            return f.pad_integral(nonnegative, "", text);
        }
        let mut zmij = zmij::Buffer::new();
        let printed = zmij.format_finite(v.abs());
        // zmij prints `1.0`, `0.001234`, `12340000000.0` or `1.234e33`.
        // Without an exponent and with too few digits for a tie (below),
        // that is std's text once an integer's `.0` is cut.
        if printed.len() < 16 && !printed.contains('e') {
            let plain = printed.strip_suffix(".0").unwrap_or(printed);
            return f.pad_integral(nonnegative, "", plain);
        }
        // Else from its digits, and where the point goes.
        let (mantissa, exponent) = match printed.split_once('e') {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (printed, 0),
        };
        let point = mantissa.find('.').unwrap_or(mantissa.len()) as i32;
        let digits = mantissa.as_bytes();
        let mut text = Text::new();
        // The significant digits D (no leading or trailing zeros) and k
        // such that the value is 0.D × 10^k.
        let mut sig = [0u8; 24];
        let mut n = 0;
        let mut k = point + exponent;
        for &d in digits.iter().filter(|d| d.is_ascii_digit()) {
            if n == 0 && d == b'0' {
                k -= 1;
                continue;
            }
            sig[n] = d;
            n += 1;
        }
        while n > 0 && sig[n - 1] == b'0' {
            n -= 1;
        }
        // zmij breaks an exact tie between two shortest candidates to the
        // even one, std upwards (1394865425023536.25 → `…536.3`). A tie
        // needs n digits to reach within half an ulp (below v × 2^-53) of
        // v while missing it by half a unit of the last: 10^-n < 2^-52,
        // so n ≥ 16 (15 checked, for margin).
        let digits_value = sig[..n]
            .iter()
            .fold(0u64, |z, d| z * 10 + u64::from(d - b'0'));
        if n >= 15 && is_exactly(v.abs(), digits_value * 10 + 5, k - n as i32 - 1) {
            let mut z = digits_value + 1;
            let mut up = [0u8; 24];
            let mut len = 0;
            while z > 0 {
                up[len] = b'0' + (z % 10) as u8;
                z /= 10;
                len += 1;
            }
            k += len as i32 - n as i32; // a carry out of the first digit
            for (i, d) in up[..len].iter().rev().enumerate() {
                sig[i] = *d;
            }
            n = len;
            while n > 0 && sig[n - 1] == b'0' {
                n -= 1;
            }
        }
        let sig = &sig[..n];
        if sig.is_empty() {
            text.push(b'0');
        } else if k <= 0 {
            text.push_all(b"0.");
            text.zeros(k.unsigned_abs() as usize);
            text.push_all(sig);
        } else if (k as usize) < sig.len() {
            text.push_all(&sig[..k as usize]);
            text.push(b'.');
            text.push_all(&sig[k as usize..]);
        } else {
            text.push_all(sig);
            text.zeros(k as usize - sig.len());
        }
        f.pad_integral(nonnegative, "", text.as_str())
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (v, places) = (self.0, self.1.min(MAX_PLACES));
        let nonnegative = v.is_nan() || v.is_sign_positive();
        if let Some(text) = non_finite(v) {
            return f.pad_integral(nonnegative, "", text);
        }
        let mut text = Text::new();
        fixed(v.abs(), places, &mut text);
        f.pad_integral(nonnegative, "", text.as_str())
    }
}

/// The mantissa and binary exponent of a finite `v`: `v = m × 2^e`.
fn decode(v: f64) -> (u64, i32) {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    }
}

/// Whether `v` (finite, not negative) is exactly `t × 10^q`:
/// `m × 2^(e-q) = t × 5^q`, in integers (a side that does not fit in 128
/// bits is not equal: `t` is below 2^64 and `m` below 2^53).
fn is_exactly(v: f64, t: u64, q: i32) -> bool {
    let (m, e) = decode(v);
    let (left, right) = (u128::from(m), u128::from(t));
    let shift = |x: u128, by: u32| (by < 128 && x.leading_zeros() >= by).then(|| x << by);
    let times_5 = |x: u128, by: u32| 5u128.checked_pow(by).and_then(|p| x.checked_mul(p));
    let twos = e - q;
    let fives = q;
    let sides = (if twos >= 0 {
        shift(left, twos as u32).map(|l| (l, right))
    } else {
        shift(right, twos.unsigned_abs()).map(|r| (left, r))
    })
    .and_then(|(l, r)| {
        if fives >= 0 {
            times_5(r, fives as u32).map(|r| (l, r))
        } else {
            times_5(l, fives.unsigned_abs()).map(|l| (l, r))
        }
    });
    sides.is_some_and(|(l, r)| l == r)
}

/// `v` (finite, not negative) with `places` decimals, rounded to the
/// nearest, ties to even, from its exact value `m × 2^e`.
fn fixed(v: f64, places: usize, text: &mut Text) {
    let (m, e) = decode(v);
    let scale = 10u64.pow(places as u32);
    if e >= 0 {
        // An integer: its digits, then the places as zeros.
        integer_digits(m, e as u32, text);
        if places > 0 {
            text.push(b'.');
            text.zeros(places);
        }
        return;
    }
    // v × 10^places = m × 10^places / 2^s, the numerator below 2^83.
    let s = e.unsigned_abs();
    let n = u128::from(m) * u128::from(scale);
    let scaled = if s >= 128 {
        0 // n < 2^63 ≤ half of 2^s: rounds to 0
    } else {
        let (q, r) = (n >> s, n & ((1u128 << s) - 1));
        let half = 1u128 << (s - 1);
        if r > half || (r == half && (q & 1) == 1) {
            q + 1
        } else {
            q
        }
    };
    let scale = u128::from(scale);
    push_u128(scaled / scale, text);
    if places > 0 {
        text.push(b'.');
        let mut frac = [b'0'; MAX_PLACES];
        let mut rest = scaled % scale;
        for slot in frac[..places].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        text.push_all(&frac[..places]);
    }
}

fn push_u128(mut n: u128, text: &mut Text) {
    let mut digits = [0u8; 39];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    text.push_all(&digits[at..]);
}

/// The decimal digits of `m × 2^e` (m < 2^53, e ≤ 971), in base-10^9
/// limbs, least significant first.
fn integer_digits(m: u64, e: u32, text: &mut Text) {
    const BASE: u64 = 1_000_000_000;
    let mut limbs = [0u64; 36]; // 2^1024 < 10^309 < BASE^35
    let (mut len, mut rest) = (0, m);
    while rest > 0 || len == 0 {
        limbs[len] = rest % BASE;
        rest /= BASE;
        len += 1;
    }
    // Doubling 32 bits at a time keeps each product below 2^62.
    let mut left = e;
    while left > 0 {
        let step = left.min(32);
        left -= step;
        let mut carry = 0u64;
        for limb in &mut limbs[..len] {
            let x = (*limb << step) + carry;
            *limb = x % BASE;
            carry = x / BASE;
        }
        while carry > 0 {
            limbs[len] = carry % BASE;
            carry /= BASE;
            len += 1;
        }
    }
    push_u128(u128::from(limbs[len - 1]), text);
    for &limb in limbs[..len - 1].iter().rev() {
        let mut digits = [b'0'; 9];
        let mut n = limb;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        text.push_all(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: the same bit patterns on every run.
    fn patterns(count: usize) -> impl Iterator<Item = f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..count).map(move |_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            f64::from_bits(state.wrapping_mul(0x2545_f491_4f6c_dd1d))
        })
    }

    fn edge_cases() -> Vec<f64> {
        let mut cases = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.25,
            0.35,
            0.5,
            1.5,
            2.5,
            0.05,
            0.15,
            0.125,
            0.0625,
            9.95,
            9.999_999,
            99.95,
            999.999_5,
            1e-7,
            1e15,
            1e16,
            1e21,
            1e22,
            1e23,
            123_456.789,
            4_503_599_627_370_496.5,
            1_394_865_425_023_536.2,
            0.5e-322,
            9.5,
            0.95,
            99.5,
            9_007_199_254_740_993.0,
            18_446_744_073_709_551_615.0,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::EPSILON,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            92.54,
            33.333_333_333_333_336,
            0.000_123,
        ];
        for e in -30..=30 {
            cases.push(10f64.powi(e));
            cases.push(2f64.powi(e * 10));
            cases.push(0.5 * 10f64.powi(e));
        }
        cases
    }

    #[test]
    fn shortest_prints_what_display_prints() {
        for v in edge_cases().into_iter().chain(patterns(200_000)) {
            assert_eq!(
                Shortest(v).to_string(),
                format!("{v}"),
                "{:#x}",
                v.to_bits()
            );
        }
        // Small decimals, as sysmon prints them (percentages, seconds).
        for i in 0..100_000 {
            let v = f64::from(i) / 1000.0;
            assert_eq!(Shortest(v).to_string(), format!("{v}"));
        }
    }

    #[test]
    fn fixed_prints_what_display_prints_with_places() {
        for v in edge_cases().into_iter().chain(patterns(100_000)) {
            for places in 0..=MAX_PLACES {
                assert_eq!(
                    Fixed(v, places).to_string(),
                    format!("{v:.places$}"),
                    "{:#x} .{places}",
                    v.to_bits()
                );
            }
        }
        for i in 0..100_000 {
            let v = f64::from(i) / 1000.0 + 0.0005;
            for places in 0..=3 {
                assert_eq!(Fixed(v, places).to_string(), format!("{v:.places$}"));
            }
        }
    }

    #[test]
    fn width_alignment_and_sign_as_for_numbers() {
        for v in [0.0, -0.0, 1.25, -1.25, 1234.5, 0.001] {
            assert_eq!(format!("{:>12}", Fixed(v, 1)), format!("{v:>12.1}"));
            assert_eq!(format!("{:12}", Fixed(v, 1)), format!("{v:12.1}"));
            assert_eq!(format!("{:<12}", Shortest(v)), format!("{v:<12}"));
            assert_eq!(format!("{:+}", Shortest(v)), format!("{v:+}"));
            assert_eq!(format!("{:08}", Fixed(v, 2)), format!("{v:08.2}"));
        }
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(format!("{:>12}", Fixed(v, 1)), format!("{v:>12.1}"));
            assert_eq!(format!("{:>12}", Shortest(v)), format!("{v:>12}"));
        }
    }
}
