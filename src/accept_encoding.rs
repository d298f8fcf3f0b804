//! Whether a request's `Accept-Encoding` lets /metrics be sent gzipped
//! (RFC 9110 §12.5.3). Pure and allocation-free: one pass over each
//! header line's bytes, so a hostile 8 KiB line costs a linear scan.
//!
//! The rule: gzip is used when a member names `gzip` or `x-gzip` (in any
//! case) with a weight above zero, or when none names either and a `*`
//! has a weight above zero. A weight of zero (`q=0`, `q=0.0`, `q=0.000`)
//! refuses; so does a member that does not parse (a bad `q`, a parameter
//! other than `q`): bad input is read as "not acceptable", never as an
//! error, so the worst it costs is an answer sent uncompressed. Where two
//! members name the same coding, a refusal wins: the client is sent gzip
//! only if nothing it said refuses it.
//!
//! Several `Accept-Encoding` lines are one list (RFC 9110 §5.3): the
//! caller passes every header (`Request::headers`, in the order sent). A
//! line whose value is not ASCII never reaches sysmon (the server leaves
//! it out of the head, tiny_http +sysmon.14): it counts as not sent.

use crate::access::{same_name, same_name_bytes};

/// Whether the `Accept-Encoding` lines among `headers` (a request's
/// name and value pairs) accept gzip; no line at all does not. Out of
/// line: the answer's path of every other route stays as it was.
#[inline(never)]
pub fn accepts_gzip<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    // Per kind of member, gzip (or x-gzip) and `*`: whether one named
    // it, and whether one of those refused it.
    let (mut named, mut refused) = ([false; 2], [false; 2]);
    for (name, line) in headers {
        if !same_name(name, "Accept-Encoding") {
            continue;
        }
        // A member: `coding [OWS ";" OWS "q=" qvalue]`, OWS around it;
        // an empty one (`a,,b`) says nothing.
        for member in line.as_bytes().split(|&b| b == b',') {
            let (coding, weight) = match member.iter().position(|&b| b == b';') {
                Some(at) => (&member[..at], Some(&member[at + 1..])),
                None => (member, None),
            };
            let kind = match trim_ows(coding) {
                b"*" => 1,
                [b'x' | b'X', b'-', c @ ..] | c if same_name_bytes(c, b"gzip") => 0,
                _ => continue,
            };
            named[kind] = true;
            refused[kind] |= !weight.is_none_or(above_zero);
        }
    }
    let kind = if named[0] { 0 } else { 1 };
    named[kind] && !refused[kind]
}

/// Whether a weight (what follows the `;`) is `q=` a qvalue above zero.
/// A qvalue is `0[.ddd]` or `1[.000]` (RFC 9110 §12.4.2); anything else
/// (`q=0.5x`, `q=2`, `q=.5`, `q = 1`, `level=1`) does not parse: false.
fn above_zero(weight: &[u8]) -> bool {
    let [b'q' | b'Q', b'=', whole @ (b'0' | b'1'), rest @ ..] = trim_ows(weight) else {
        return false;
    };
    let fraction = match rest {
        [] => &[][..],
        [b'.', fraction @ ..] if fraction.len() <= 3 => fraction,
        _ => return false,
    };
    let mut thousandths = u32::from(whole - b'0') * 1000;
    let mut place = 100;
    for &digit in fraction {
        if !digit.is_ascii_digit() {
            return false;
        }
        thousandths += u32::from(digit - b'0') * place;
        place /= 10;
    }
    (1..=1000).contains(&thousandths)
}

/// `bytes` without optional whitespace (spaces and tabs) at either end.
fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> bool {
        lines(&[line])
    }

    fn lines(lines: &[&str]) -> bool {
        let other = [("Accept", "*/*"), ("X-Accept-Encoding", "gzip")];
        accepts_gzip(
            lines
                .iter()
                .map(|line| ("Accept-Encoding", *line))
                .chain(other),
        )
    }

    #[test]
    fn gzip_is_taken_when_named_or_matched_by_a_star_with_weight() {
        for yes in [
            "gzip",
            "GZIP",
            "x-gzip",
            "X-Gzip",
            "deflate, gzip;q=0.5",
            "*",
            "br;q=1.0, *;q=0.1",
            "gzip, deflate, br",
            " gzip ",
            "gzip ; q=1",
            "gzip;q=1.000",
            "gzip;Q=0.001",
            "gzip;q=1.",
            "identity;q=0, gzip",
            ",,gzip,,",
            "\tgzip\t;\tq=0.9",
            "br, *",
            "identity, *;q=0.5",
        ] {
            assert!(one(yes), "{yes:?} accepts gzip");
        }
    }

    #[test]
    fn gzip_is_not_taken_when_refused_absent_or_malformed() {
        for no in [
            "",
            "identity",
            "br",
            "deflate, br",
            "gzip;q=0",
            "gzip;q=0.0",
            "gzip;q=0.000",
            "gzip;q=0.",
            "*;q=0",
            "gzip;q=0, *",
            "x-gzip;q=0, *;q=1",
            "gzip, gzip;q=0",
            "gzip;q=0, x-gzip",
            // malformed weights: that member refuses
            "gzip;q=",
            "gzip;q=2",
            "gzip;q=1.5",
            "gzip;q=1.0001",
            "gzip;q=0.0001",
            "gzip;q=.5",
            "gzip;q=0.5x",
            "gzip;q = 0.5",
            "gzip;q=-1",
            "gzip;q=+1",
            "gzip;level=1",
            "gzip;",
            "gzip;q=0.5;q=1",
            "*;q=abc",
            // not gzip
            "gzip2",
            "xgzip",
            "g zip",
            "gzip deflate",
            "\"gzip\"",
            "**",
        ] {
            assert!(!one(no), "{no:?} does not accept gzip");
        }
        assert!(!lines(&[]), "no line at all");
        assert!(accepts_gzip([("accept-ENCODING", "gzip")].into_iter()));
    }

    /// Several lines are one list; a refusal on any line wins.
    #[test]
    fn several_lines_are_one_list() {
        assert!(lines(&["br", "gzip"]));
        assert!(!lines(&["gzip", "gzip;q=0"]));
        assert!(!lines(&["*", "gzip;q=0"]));
        assert!(lines(&["identity", "*"]));
        assert!(!lines(&["", ""]));
    }

    /// Hostile lines: long, all separators, all semicolons, long digits.
    /// Each is one pass; none panics, none is read as gzip unless it is.
    #[test]
    fn hostile_lines_are_read_in_one_pass_without_panic() {
        let commas = ",".repeat(8 * 1024);
        assert!(!one(&commas));
        let semicolons = format!("gzip{}", ";".repeat(8 * 1024));
        assert!(!one(&semicolons));
        let digits = format!("gzip;q=0.{}", "1".repeat(8 * 1024));
        assert!(!one(&digits));
        let spaces = format!("{}gzip{}", " ".repeat(4096), " ".repeat(4096));
        assert!(one(&spaces));
        let many = "br, ".repeat(2 * 1024) + "gzip";
        assert!(one(&many));
        let stars = "*;q=0,".repeat(1000) + "*";
        assert!(!one(&stars));
        let junk: String = (0u8..128).map(char::from).cycle().take(8 * 1024).collect();
        let _ = one(&junk);
    }

    /// Against a naive reading of the same rule over a table of members:
    /// every pair of members, as one line and as two.
    #[test]
    fn pairs_of_members_agree_with_a_naive_reading() {
        let members = [
            "gzip",
            "GZIP;q=0",
            "x-gzip;q=0.5",
            "*",
            "*;q=0",
            "br",
            "gzip;q=x",
            "",
        ];
        // (named gzip, gzip weight ok), (named *, * weight ok) per member
        let naive = |m: &str| -> (Option<bool>, Option<bool>) {
            match m {
                "gzip" | "x-gzip;q=0.5" => (Some(true), None),
                "GZIP;q=0" | "gzip;q=x" => (Some(false), None),
                "*" => (None, Some(true)),
                "*;q=0" => (None, Some(false)),
                _ => (None, None),
            }
        };
        for a in members {
            for b in members {
                let (ga, sa) = naive(a);
                let (gb, sb) = naive(b);
                let gzip: Vec<bool> = [ga, gb].into_iter().flatten().collect();
                let star: Vec<bool> = [sa, sb].into_iter().flatten().collect();
                let expected = if gzip.is_empty() {
                    !star.is_empty() && star.iter().all(|&ok| ok)
                } else {
                    gzip.iter().all(|&ok| ok)
                };
                assert_eq!(one(&format!("{a}, {b}")), expected, "{a:?}, {b:?}");
                assert_eq!(lines(&[a, b]), expected, "{a:?} / {b:?}");
            }
        }
    }
}
