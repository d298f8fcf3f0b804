/// [patch] Of the elements of a header value such as `TE`
/// (`chunked;q=0.5, identity`), the name of the one `known` accepts with
/// the highest weight above 0 (`q=`, 1 when absent), the first listed
/// among equal weights: what upstream found by parsing every weight as an
/// `f32` and sorting the elements by it, stably. The weights are compared
/// as the decimal numbers they spell instead, which needs neither float
/// parsing nor a sort (both cost sysmon's binary 6 KB); a weight that is
/// not a plain decimal (`1e-1`, `inf`, `nan`) is skipped like an
/// unparsable one was, so its element weighs 1 unless a later `q=` parses.
pub fn preferred<'a>(input: &'a str, known: impl Fn(&str) -> bool) -> Option<&'a str> {
    let mut best: Option<(Weight<'a>, &'a str)> = None;
    for elem in input.split(',') {
        let mut params = elem.split(';');
        let name = params.next().unwrap_or_default().trim();
        let weight = params
            .find_map(|p| weight(p.trim_start().strip_prefix("q=")?))
            .unwrap_or(Weight {
                whole: 1,
                fraction: "",
            });
        if weight.is_zero() || !known(name) {
            continue;
        }
        if best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, name));
        }
    }
    best.map(|(_, name)| name)
}

/// A decimal weight: its whole part, then its fraction's digits without
/// trailing zeros (so that comparing the digits as text orders them as
/// numbers). Negative weights are kept as zero: both are ignored.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Weight<'a> {
    whole: u64,
    fraction: &'a str,
}

impl Weight<'_> {
    fn is_zero(&self) -> bool {
        self.whole == 0 && self.fraction.is_empty()
    }
}

/// `1`, `0.5`, `.5`, `5.`, `+0.5`, `-1` (as zero); None for anything else.
fn weight(text: &str) -> Option<Weight<'_>> {
    let text = text.trim();
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    if negative {
        return Some(Weight {
            whole: 0,
            fraction: "",
        });
    }
    let whole = whole.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    });
    Some(Weight {
        whole,
        fraction: fraction.trim_end_matches('0'),
    })
}

/// [patch] `a.eq_ignore_ascii_case(b)` for header names and tokens, its
/// byte loop out of line (+sysmon.23): inlined at each of some 20
/// comparisons (most against a constant name) it took about 5 KB of
/// sysmon's binary. The lengths are compared here, inline, so a name of
/// another length (most of them) costs no call.
#[inline]
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && same_length_same_name(a.as_bytes(), b.as_bytes())
}

#[inline(never)]
fn same_length_same_name(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod test {
    use std::cmp::Ordering;
    use std::str::FromStr;

    /// [patch] `same_name` answers as `eq_ignore_ascii_case` does, over
    /// names of equal and unequal lengths, cases and non-ASCII letters
    /// (+sysmon.23).
    #[test]
    fn same_name_is_eq_ignore_ascii_case() {
        let words = [
            "",
            "a",
            "A",
            "Host",
            "host",
            "HOST",
            "Hos",
            "Hostx",
            "Content-Length",
            "content-length",
            "Content_Length",
            "\u{e9}",
            "\u{c9}",
            "chunked",
            "CHUNKED",
            "identity",
            "TE",
            "te",
            "Connection",
            "close",
            "Upgrade",
            "upgradE",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    super::same_name(a, b),
                    a.eq_ignore_ascii_case(b),
                    "{:?} {:?}",
                    a,
                    b
                );
            }
        }
    }

    /// Upstream's parse, the oracle: every element with its weight as an
    /// `f32`, 1 when no `q=` parses.
    fn parse_header_value(input: &str) -> Vec<(&str, f32)> {
        input
            .split(',')
            .filter_map(|elem| {
                let mut params = elem.split(';');
                let t = params.next()?;
                let mut value = 1.0_f32;
                for p in params {
                    if p.trim_start().starts_with("q=") {
                        if let Ok(val) = f32::from_str(p.trim_start()[2..].trim()) {
                            value = val;
                            break;
                        }
                    }
                }
                Some((t.trim(), value))
            })
            .collect()
    }

    /// Upstream's choice: sorted by weight, stably, the first known above 0.
    fn upstream(input: &str, known: impl Fn(&str) -> bool) -> Option<&str> {
        let mut parse = parse_header_value(input);
        parse.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal));
        parse
            .iter()
            .find(|(name, q)| *q > 0.0 && known(name))
            .map(|(name, _)| *name)
    }

    fn known(name: &str) -> bool {
        name.eq_ignore_ascii_case("chunked") || name.eq_ignore_ascii_case("identity")
    }

    #[test]
    fn the_same_choice_as_upstream() {
        let cases = [
            "",
            "chunked",
            "identity",
            "gzip",
            "trailers",
            "trailers, chunked",
            "chunked, identity",
            "identity, chunked",
            "identity;q=0.5, chunked",
            "chunked;q=0.5, identity;q=0.8",
            "chunked;q=0.8, identity;q=0.5",
            "chunked;q=0.5, identity;q=0.50",
            "chunked;q=0, identity;q=0.001",
            "chunked;q=0.0, identity;q=0",
            "chunked;q=1, identity;q=1.0",
            "chunked;q=1.5, identity;q=2.0",
            "chunked; q=.5, identity; q=.45",
            "chunked;q=5., identity;q=4",
            "chunked;q=-1, identity;q=0.1",
            "chunked;q=+0.7, identity;q=0.6",
            "CHUNKED;q=0.9, Identity;q=0.95",
            "chunked;level=1;q=0.3, identity;q=0.2",
            "chunked;q=x;q=0.2, identity;q=0.3",
            "chunked;q=, identity;q=0.5",
            " chunked ; q=0.25 ,identity ; q=0.125 ",
            "gzip;q=1, chunked;q=0.5, deflate",
            ",,chunked;q=0.3,,",
            "chunked;q=0.999, identity;q=1",
            "chunked;q=12, identity;q=9.99",
        ];
        for case in cases {
            assert_eq!(
                super::preferred(case, known),
                upstream(case, known),
                "{case:?}"
            );
        }
    }

    #[test]
    fn weights_that_are_not_decimals_are_skipped() {
        // Upstream parsed these as floats; here the element weighs 1.
        assert_eq!(
            super::preferred("chunked;q=1e-1, identity;q=0.5", known),
            Some("chunked")
        );
        assert_eq!(super::preferred("chunked;q=nan", known), Some("chunked"));
        assert_eq!(super::preferred("chunked;q=.", known), Some("chunked"));
    }
}
