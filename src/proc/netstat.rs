//! `/proc/net/netstat` and `/proc/net/snmp` (pairs of lines: `Proto: Name
//! Name ...` then `Proto: value value ...`) and `/proc/net/snmp6` (one
//! `Ip6InReceives  value` per line), as node_exporter's `netstat`
//! collector reads them.
//!
//! Values are signed: `Tcp: MaxConn` is -1 (RFC 2012's "dynamic").
//! Callback style so nothing is collected: `f(protocol, name, value)`.

use super::{ParseError, fields, numbered_lines};

/// A decimal with an optional leading `-`, strictly (see [`super::parse_u64`]).
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    match bytes.strip_prefix(b"-") {
        Some(digits) => {
            let v = super::parse_u64(digits)?;
            0i64.checked_sub_unsigned(v)
        }
        None => i64::try_from(super::parse_u64(bytes)?).ok(),
    }
}

/// netstat / snmp: every (protocol, name, value), in one pass. A header and
/// value line that disagree (protocol or column count) is an error, as is a
/// missing value line or a value that is not a number. What was reported
/// before an error stands: a caller that wants all or nothing (as
/// node_exporter, whose collector fails as a whole) takes it back.
pub fn for_each_pair(buf: &[u8], mut f: impl FnMut(&[u8], &[u8], i64)) -> Result<(), ParseError> {
    let mut lines = numbered_lines(buf);
    while let Some((no, header)) = lines.next() {
        if header.is_empty() {
            continue;
        }
        let (_, values) = lines
            .next()
            .ok_or(ParseError::new(no, "header without a value line"))?;
        let proto = fields(header)
            .next()
            .ok_or(ParseError::new(no, "empty header"))?;
        if fields(values).next() != Some(proto) {
            return Err(ParseError::new(no + 1, "value line of another protocol"));
        }
        let protocol = proto
            .strip_suffix(b":")
            .ok_or(ParseError::new(no, "protocol without a colon"))?;
        let (mut names, mut numbers) = (fields(header).skip(1), fields(values).skip(1));
        loop {
            match (names.next(), numbers.next()) {
                (Some(name), Some(value)) => {
                    let v =
                        parse_i64(value).ok_or(ParseError::new(no + 1, "value is not a number"))?;
                    f(protocol, name, v);
                }
                (None, None) => break,
                _ => {
                    return Err(ParseError::new(
                        no + 1,
                        "column count differs from the header",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// snmp6: `Ip6InReceives 123` lines, split after the first `6` into
/// protocol (`Ip6`) and name (`InReceives`), as node_exporter does; a line
/// whose key has no `6` is skipped.
pub fn for_each_snmp6(buf: &[u8], mut f: impl FnMut(&[u8], &[u8], i64)) -> Result<(), ParseError> {
    for (no, line) in numbered_lines(buf) {
        let mut cols = fields(line);
        let (Some(key), Some(value)) = (cols.next(), cols.next()) else {
            continue;
        };
        let Some(six) = key.iter().position(|b| *b == b'6') else {
            continue;
        };
        let value = parse_i64(value).ok_or(ParseError::new(no, "value is not a number"))?;
        f(&key[..=six], &key[six + 1..], value);
    }
    Ok(())
}

/// node_exporter's `--collector.netstat.fields` default (since 1.6; 1.5
/// lacked `TCPOFOQueue` and `TCPRcvQDrop`, which the Grafana dashboard
/// queries), for the key `Protocol_Name`:
/// `^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$`
pub fn node_exporter_default(protocol: &[u8], name: &[u8]) -> bool {
    // `.*_(InErrors|InErrs)$` over the joined key: the name ends so, or the
    // name is exactly it (names hold no `_`; the protocol's part of `.*`).
    if name.ends_with(b"InErrors") || name.ends_with(b"InErrs") {
        let stem = name.len() - if name.ends_with(b"InErrors") { 8 } else { 6 };
        if stem == 0 || name[stem - 1] == b'_' {
            return true;
        }
    }
    let one_of = |set: &[&[u8]]| set.contains(&name);
    match protocol {
        b"Ip" => name == b"Forwarding",
        b"Ip6" | b"IpExt" => one_of(&[b"InOctets", b"OutOctets"]),
        b"Icmp" | b"Icmp6" => one_of(&[b"InMsgs", b"OutMsgs"]),
        b"TcpExt" => {
            name.starts_with(b"Listen")
                || name.starts_with(b"Syncookies")
                || one_of(&[
                    b"TCPSynRetrans",
                    b"TCPTimeouts",
                    b"TCPOFOQueue",
                    b"TCPRcvQDrop",
                ])
        }
        b"Tcp" => one_of(&[
            b"ActiveOpens",
            b"InSegs",
            b"OutSegs",
            b"OutRsts",
            b"PassiveOpens",
            b"RetransSegs",
            b"CurrEstab",
        ]),
        b"Udp" | b"Udp6" => one_of(&[
            b"InDatagrams",
            b"OutDatagrams",
            b"NoPorts",
            b"RcvbufErrors",
            b"SndbufErrors",
        ]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        run: impl FnOnce(&mut dyn FnMut(&[u8], &[u8], i64)) -> Result<(), ParseError>,
    ) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        run(&mut |p, n, v| {
            out.push((
                format!(
                    "{}_{}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(n)
                ),
                v,
            ))
        })
        .unwrap();
        out
    }

    /// The naive oracle: split the fixture with std and zip header and values.
    fn naive_pairs(text: &str) -> Vec<(String, i64)> {
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::new();
        for pair in lines.chunks(2) {
            let names: Vec<&str> = pair[0].split_whitespace().collect();
            let values: Vec<&str> = pair[1].split_whitespace().collect();
            let proto = names[0].trim_end_matches(':');
            for (n, v) in names[1..].iter().zip(&values[1..]) {
                out.push((format!("{proto}_{n}"), v.parse().unwrap()));
            }
        }
        out
    }

    #[test]
    fn netstat_and_snmp_fixtures_match_the_naive_split() {
        // SOURCE: tests/fixtures/proc/basic/SOURCE (kernel 6.18).
        for text in [
            include_str!("../../tests/fixtures/proc/basic/net/netstat"),
            include_str!("../../tests/fixtures/proc/basic/net/snmp"),
        ] {
            let got = collect(|f| for_each_pair(text.as_bytes(), f));
            assert_eq!(got, naive_pairs(text));
        }
        let snmp = include_str!("../../tests/fixtures/proc/basic/net/snmp");
        let got = collect(|f| for_each_pair(snmp.as_bytes(), f));
        assert!(got.contains(&("Tcp_MaxConn".into(), -1)), "signed values");
        assert!(got.contains(&("Ip_Forwarding".into(), 2)));
    }

    #[test]
    fn snmp6_splits_after_the_six() {
        let got = collect(|f| {
            for_each_snmp6(
                b"Ip6InReceives    7\nIcmp6OutMsgs 3\nUdpLite6InErrors 0\nnosix 1\n",
                f,
            )
        });
        assert_eq!(
            got,
            [
                ("Ip6_InReceives".into(), 7),
                ("Icmp6_OutMsgs".into(), 3),
                ("UdpLite6_InErrors".into(), 0)
            ]
        );
        let real = include_bytes!("../../tests/fixtures/proc/basic/net/snmp6");
        assert!(collect(|f| for_each_snmp6(real, f)).len() > 50);
    }

    #[test]
    fn mismatched_or_garbage_pairs_are_errors() {
        let mut n = 0;
        let mut count = |_: &[u8], _: &[u8], _: i64| n += 1;
        assert!(for_each_pair(b"Tcp: A B\nUdp: 1 2\n", &mut count).is_err());
        assert!(for_each_pair(b"Tcp: A B\n", &mut count).is_err());
        assert_eq!(n, 0, "nothing reported from a pair whose shape is wrong");
        // A bad value or a column count that differs is found where it is:
        // the caller takes back what was reported (all or nothing, see
        // `KernelTables::netstat`).
        let quiet = |_: &[u8], _: &[u8], _: i64| {};
        assert!(for_each_pair(b"Tcp: A B\nTcp: 1 x\n", quiet).is_err());
        assert!(for_each_pair(b"Tcp: A B\nTcp: 1\n", quiet).is_err());
        assert!(for_each_pair(b"Tcp: A\nTcp: 1 2\n", quiet).is_err());
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"--1"), None);
    }

    #[test]
    fn filter_matches_the_regex_on_a_table() {
        for (key, want) in [
            ("Tcp_InErrs", true),
            ("Udp_InErrors", true),
            ("UdpLite_InErrors", true),
            ("Icmp6_InErrors", true),
            ("Tcp_XInErrs", false),
            ("Ip_Forwarding", true),
            ("Ip_DefaultTTL", false),
            ("IpExt_InOctets", true),
            ("Ip6_OutOctets", true),
            ("Ip_InOctets", false),
            ("Icmp_InMsgs", true),
            ("Icmp6_OutMsgs", true),
            ("TcpExt_ListenDrops", true),
            ("TcpExt_SyncookiesSent", true),
            ("TcpExt_TCPOFOQueue", true),
            ("TcpExt_TCPRcvQDrop", true),
            ("TcpExt_TCPTimeouts", true),
            ("TcpExt_TCPSynRetrans", true),
            ("TcpExt_TW", false),
            ("Tcp_CurrEstab", true),
            ("Tcp_MaxConn", false),
            ("Udp6_NoPorts", true),
            ("UdpLite_NoPorts", false),
        ] {
            let (p, n) = key.split_once('_').unwrap();
            assert_eq!(
                node_exporter_default(p.as_bytes(), n.as_bytes()),
                want,
                "{key}"
            );
        }
    }
}
