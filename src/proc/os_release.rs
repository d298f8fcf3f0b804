//! `/etc/os-release` (or `/usr/lib/os-release`): `KEY=value` lines in the
//! shell-compatible syntax of os-release(5), as node_exporter's `os`
//! collector reads them for `node_os_info` and `node_os_version`.
//!
//! Not a /proc file, but parsed the same way: pure, over bytes, no
//! allocation; the caller unquotes a value into storage it owns
//! ([`Value::write_to`]). Values are unquoted as the shell would: inside
//! double quotes `\"`, `\\`, `` \` `` and `\$` stand for the character,
//! single quotes are literal, an unquoted value is taken as it is.

use super::{ParseError, numbered_lines};

/// One value as written in the file, quotes removed but not yet unescaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value<'a> {
    raw: &'a [u8],
    double_quoted: bool,
}

impl Value<'_> {
    /// Appends the value, unescaped, to `out`. Bytes that are not UTF-8
    /// become U+FFFD (a label value must be UTF-8).
    pub fn write_to(&self, out: &mut String) {
        let mut bytes = self.raw;
        while !bytes.is_empty() {
            let (piece, rest) = match bytes.iter().position(|b| *b == b'\\') {
                Some(i) if self.double_quoted && i + 1 < bytes.len() => {
                    let escaped = bytes[i + 1];
                    if matches!(escaped, b'"' | b'\\' | b'`' | b'$') {
                        push_utf8(out, &bytes[..i]);
                        out.push(char::from(escaped));
                    } else {
                        // The shell keeps a backslash before anything else.
                        push_utf8(out, &bytes[..i + 2]);
                    }
                    (&[][..], &bytes[i + 2..])
                }
                _ => (bytes, &[][..]),
            };
            push_utf8(out, piece);
            bytes = rest;
        }
    }
}

fn push_utf8(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// The assignments of the file in order; blank and `#` lines are skipped.
/// A line that is not `KEY=value` with a well-formed value is an error for
/// that line only.
pub fn entries(buf: &[u8]) -> impl Iterator<Item = Result<(&[u8], Value<'_>), ParseError>> {
    numbered_lines(buf).filter_map(|(no, line)| {
        let line = line.trim_ascii();
        if line.is_empty() || line[0] == b'#' {
            return None;
        }
        Some(entry(no, line))
    })
}

fn entry(no: u32, line: &[u8]) -> Result<(&[u8], Value<'_>), ParseError> {
    let line = line.strip_prefix(b"export ").unwrap_or(line);
    let eq = line
        .iter()
        .position(|b| *b == b'=')
        .ok_or(ParseError::new(no, "no `=`"))?;
    let key = &line[..eq];
    let valid_key = !key.is_empty()
        && !key[0].is_ascii_digit()
        && key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if !valid_key {
        return Err(ParseError::new(no, "bad variable name"));
    }
    let value = &line[eq + 1..];
    let unterminated = ParseError::new(no, "unterminated quote");
    let value = match value.first() {
        Some(b'"') => {
            let body = &value[1..];
            // The closing quote is the first one not escaped by a backslash.
            let mut i = 0;
            let close = loop {
                match body.get(i) {
                    None => return Err(unterminated),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break i,
                    Some(_) => i += 1,
                }
            };
            if !body[close + 1..].trim_ascii().is_empty() {
                return Err(ParseError::new(no, "text after the closing quote"));
            }
            Value {
                raw: &body[..close],
                double_quoted: true,
            }
        }
        Some(b'\'') => {
            let body = &value[1..];
            let close = body.iter().position(|b| *b == b'\'').ok_or(unterminated)?;
            if !body[close + 1..].trim_ascii().is_empty() {
                return Err(ParseError::new(no, "text after the closing quote"));
            }
            Value {
                raw: &body[..close],
                double_quoted: false,
            }
        }
        _ => Value {
            raw: value,
            double_quoted: false,
        },
    };
    Ok((key, value))
}

/// node_exporter's `node_os_version`: the leading `major[.minor]` of
/// `VERSION_ID` (`^[0-9]+\.?[0-9]*`) as a number; `None` when it does not
/// start with a digit ("rolling", empty).
pub fn major_minor(version_id: &str) -> Option<f64> {
    let bytes = version_id.as_bytes();
    let int_end = bytes
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(bytes.len());
    if int_end == 0 {
        return None;
    }
    let mut end = int_end;
    if bytes.get(end) == Some(&b'.') {
        end += 1;
        end += bytes[end..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }
    // "12." parses too: Rust, like Go's ParseFloat, reads it as 12.
    crate::float_parse::parse(&bytes[..end])
}

/// `SUPPORT_END` (`YYYY-MM-DD`, UTC midnight) as Unix seconds, as
/// node_exporter's `node_os_support_end_timestamp_seconds`; `None` unless
/// the date is well formed.
pub fn support_end_unix_s(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |s: &[u8]| super::parse_u64(s).and_then(|v| i64::try_from(v).ok());
    let (year, month, day) = (number(&b[..4])?, number(&b[5..7])?, number(&b[8..])?);
    let days_in_month = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let max_day = match month {
        2 if leap => 29,
        1..=12 => days_in_month[(month - 1) as usize],
        _ => return None,
    };
    if day < 1 || day > max_day {
        return None;
    }
    // Days from 1970-01-01 to the date in the proleptic Gregorian calendar
    // (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(buf: &[u8]) -> Vec<(String, String)> {
        entries(buf)
            .map(|e| {
                let (key, value) = e.unwrap();
                let mut text = String::new();
                value.write_to(&mut text);
                (String::from_utf8(key.to_vec()).unwrap(), text)
            })
            .collect()
    }

    #[test]
    fn parses_the_debian_12_fixture() {
        // SOURCE: tests/fixtures/rootfs/debian12/SOURCE.
        let got = parsed(include_bytes!(
            "../../tests/fixtures/rootfs/debian12/usr/lib/os-release"
        ));
        let want = [
            ("PRETTY_NAME", "Debian GNU/Linux 12 (bookworm)"),
            ("NAME", "Debian GNU/Linux"),
            ("VERSION_ID", "12"),
            ("VERSION", "12 (bookworm)"),
            ("VERSION_CODENAME", "bookworm"),
            ("ID", "debian"),
            ("HOME_URL", "https://www.debian.org/"),
            ("SUPPORT_URL", "https://www.debian.org/support"),
            ("BUG_REPORT_URL", "https://bugs.debian.org/"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn unquotes_like_the_shell() {
        let got = parsed(
            b"# comment\n\nA=plain\nB=\"say \\\"hi\\\" \\\\ \\$HOME \\n\"\nC='single \\\" kept'\nexport D=\"\"\n",
        );
        assert_eq!(
            got,
            [
                ("A".into(), "plain".into()),
                ("B".into(), "say \"hi\" \\ $HOME \\n".into()),
                ("C".into(), "single \\\" kept".into()),
                ("D".into(), String::new()),
            ]
        );
    }

    #[test]
    fn a_bad_line_is_an_error_for_that_line() {
        let results: Vec<_> =
            entries(b"ID=x\nNAME=\"open\nnot an assignment\n1X=y\nOK=1\n").collect();
        assert_eq!(results.len(), 5);
        assert!(results[0].is_ok() && results[4].is_ok());
        assert_eq!(
            results[1].unwrap_err(),
            ParseError::new(2, "unterminated quote")
        );
        assert_eq!(results[2].unwrap_err(), ParseError::new(3, "no `=`"));
        assert_eq!(
            results[3].unwrap_err(),
            ParseError::new(4, "bad variable name")
        );
    }

    #[test]
    fn version_is_the_leading_major_minor() {
        for (id, want) in [
            ("12", Some(12.0)),
            ("22.04", Some(22.04)),
            ("3.19.1", Some(3.19)),
            ("8.", Some(8.0)),
            ("rolling", None),
            ("", None),
        ] {
            assert_eq!(major_minor(id), want, "{id}");
        }
    }

    #[test]
    fn support_end_matches_known_dates() {
        assert_eq!(support_end_unix_s("1970-01-01"), Some(0));
        // `date -u -d 2028-06-30 +%s`
        assert_eq!(support_end_unix_s("2028-06-30"), Some(1_845_936_000));
        assert_eq!(support_end_unix_s("2024-02-29"), Some(1_709_164_800));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "soon",
            "2024-00-10",
        ] {
            assert_eq!(support_end_unix_s(bad), None, "{bad}");
        }
    }
}
