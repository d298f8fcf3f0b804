//! `/proc/vmstat`: one `name value` pair per line (since Linux 2.6).
//!
//! The set of names changes with every kernel; the caller picks the ones it
//! wants ([`node_exporter_default`] is node_exporter's default filter).

use super::{ParseError, fields, numbered_lines, parse_u64};

/// Every `name value` line; a line without a number is an error for that
/// line only.
pub fn entries(buf: &[u8]) -> impl Iterator<Item = Result<(&[u8], u64), ParseError>> {
    numbered_lines(buf).map(|(no, line)| kernel_form(line).map_or_else(|| by_fields(no, line), Ok))
}

/// The line as the kernel writes it, `name value` with one space and
/// digits only after it, split with one search and no field iterator
/// (a /metrics scrape reads every one of vmstat's ~180 lines); `None` for
/// anything else, which [`by_fields`] then reads. Where this gives a pair,
/// `by_fields` gives the same one: the name holds no separator and the
/// value, all digits, none either.
fn kernel_form(line: &[u8]) -> Option<(&[u8], u64)> {
    let at = super::find_either(line, b' ', b'\t')?;
    if at == 0 || line[at] != b' ' {
        return None;
    }
    Some((&line[..at], parse_u64(&line[at + 1..])?))
}

/// Any line, split on runs of spaces and tabs.
fn by_fields(no: u32, line: &[u8]) -> Result<(&[u8], u64), ParseError> {
    let mut cols = fields(line);
    let name = cols.next().ok_or(ParseError::new(no, "empty line"))?;
    let value = cols
        .next()
        .and_then(parse_u64)
        .ok_or(ParseError::new(no, "value is not a number"))?;
    if cols.next().is_some() {
        return Err(ParseError::new(no, "more than two columns"));
    }
    Ok((name, value))
}

/// node_exporter's `--collector.vmstat.fields` default,
/// `^(oom_kill|pgpg|pswp|pg.*fault).*`.
pub fn node_exporter_default(name: &[u8]) -> bool {
    name.starts_with(b"oom_kill")
        || name.starts_with(b"pgpg")
        || name.starts_with(b"pswp")
        || (name.starts_with(b"pg") && name[2..].windows(5).any(|w| w == b"fault"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_6_18_fixture_with_node_exporters_filter() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE (kernel 6.18).
        let buf = include_bytes!("../../tests/fixtures/proc/basic/vmstat");
        let all: Vec<_> = entries(buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), std::str::from_utf8(buf).unwrap().lines().count());
        let picked: Vec<&str> = all
            .iter()
            .filter(|(name, _)| node_exporter_default(name))
            .map(|(name, _)| std::str::from_utf8(name).unwrap())
            .collect();
        // What node_exporter 1.5 exported on the machine the fixture is from.
        assert_eq!(
            picked,
            [
                "pgpgin",
                "pgpgout",
                "pswpin",
                "pswpout",
                "pgfault",
                "pgmajfault",
                "oom_kill"
            ]
        );
        let pgfault = all.iter().find(|(n, _)| *n == b"pgfault").unwrap().1;
        assert_eq!(pgfault, 284_412_213);
    }

    /// The one-search split against the field split alone (the oracle),
    /// on lines of every shape a table could hold.
    #[test]
    fn the_kernel_form_split_equals_the_field_split() {
        let lines: &[&[u8]] = &[
            b"pgfault 284412213",
            b"a 0",
            b"nr_free_pages 18446744073709551615",
            b"nr_free_pages 18446744073709551616",
            b"pgfault  12",
            b"pgfault\t12",
            b"pgfault \t12",
            b" pgfault 12",
            b"\tpgfault 12",
            b"pgfault 12 ",
            b"pgfault 12\t",
            b"pgfault 12 13",
            b"pgfault 1x",
            b"pgfault -1",
            b"pgfault ",
            b"pgfault",
            b"",
            b" ",
            b"long_name_of_more_than_eight_bytes 7",
            b"pg\xfffault 3",
        ];
        for (no, line) in (1..).zip(lines) {
            let fast = kernel_form(line).map_or_else(|| by_fields(no, line), Ok);
            assert_eq!(
                fast,
                by_fields(no, line),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        let buf = include_bytes!("../../tests/fixtures/proc/basic/vmstat");
        assert!(
            std::str::from_utf8(buf)
                .unwrap()
                .lines()
                .all(|l| kernel_form(l.as_bytes()).is_some()),
            "every line of a real vmstat takes the one-search path"
        );
    }

    #[test]
    fn filter_matches_the_regex_on_a_table() {
        for (name, want) in [
            ("pgfault", true),
            ("pgmajfault", true),
            ("pgpgin", true),
            ("oom_kill", true),
            ("pswpout", true),
            ("pgfaultx", true),
            ("pg_fault", true),
            ("pgfree", false),
            ("nr_free_pages", false),
            ("thp_fault_alloc", false),
            ("pfault", false),
        ] {
            assert_eq!(node_exporter_default(name.as_bytes()), want, "{name}");
        }
    }

    #[test]
    fn garbage_is_an_error_for_its_line() {
        let got: Vec<_> = entries(b"a 1\nb x\nc 1 2\n\n").collect();
        assert_eq!(got[0], Ok((&b"a"[..], 1)));
        assert_eq!(got[1], Err(ParseError::new(2, "value is not a number")));
        assert_eq!(got[2], Err(ParseError::new(3, "more than two columns")));
        assert_eq!(got[3], Err(ParseError::new(4, "empty line")));
    }
}
