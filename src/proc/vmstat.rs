//! `/proc/vmstat`: one `name value` pair per line (since Linux 2.6).
//!
//! The set of names changes with every kernel; the caller picks the ones it
//! wants ([`node_exporter_default`] is node_exporter's default filter).

use super::{ParseError, fields, numbered_lines, parse_u64};

/// Every `name value` line; a line without a number is an error for that
/// line only.
pub fn entries(buf: &[u8]) -> impl Iterator<Item = Result<(&[u8], u64), ParseError>> {
    numbered_lines(buf).map(|(no, line)| {
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
    })
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
