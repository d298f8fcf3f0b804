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

/// [`for_each_pair`] with a filter, for a table read again and again: the
/// header lines of the last whole parse are kept with the columns `keep`
/// chose among them, and while a read's header lines are those bytes only
/// its value lines are split: each value is still checked (a value line of
/// another protocol, a column count that differs from the header's or a
/// value that is not a number is the same error as in [`for_each_pair`]),
/// but names are neither split out nor matched. Any other header (a kernel
/// that gained a counter, another file) is parsed whole, and kept.
///
/// Invariant: `pairs` and `kept` describe `headers`, which holds header
/// lines a whole parse accepted (each with its `\n`); empty: nothing kept.
/// Warm (the same headers) it allocates nothing.
#[derive(Default)]
pub struct KeptPairs {
    headers: Vec<u8>,
    /// Per header line, in order: its protocol (without the colon) as a
    /// range of `headers`, its column count and its first entry in `kept`.
    pairs: Vec<(std::ops::Range<usize>, usize, usize)>,
    /// The chosen columns, by line: (column index, name as a range of `headers`).
    kept: Vec<(usize, std::ops::Range<usize>)>,
}

impl KeptPairs {
    pub fn for_each(
        &mut self,
        buf: &[u8],
        keep: impl Fn(&[u8], &[u8]) -> bool,
        mut f: impl FnMut(&[u8], &[u8], i64),
    ) -> Result<(), ParseError> {
        if !self.headers.is_empty() && self.same_headers(buf) {
            return self.kept_values(buf, &mut f);
        }
        self.headers.clear();
        self.pairs.clear();
        self.kept.clear();
        for_each_pair(buf, |p, n, v| {
            if keep(p, n) {
                f(p, n, v);
            }
        })?;
        // Accepted whole: keep its headers and what `keep` chose.
        let mut lines = numbered_lines(buf);
        while let Some((_, header)) = lines.next() {
            if header.is_empty() {
                continue;
            }
            lines.next();
            let start = self.headers.len();
            self.headers.extend_from_slice(header);
            self.headers.push(b'\n');
            let base = header.as_ptr() as usize;
            let range = |part: &[u8]| {
                let at = start + (part.as_ptr() as usize - base);
                at..at + part.len()
            };
            let mut names = fields(header);
            let proto = names.next().unwrap_or_default();
            let protocol = proto.strip_suffix(b":").unwrap_or(proto);
            let first_kept = self.kept.len();
            let mut columns = 0;
            for (column, name) in names.enumerate() {
                columns += 1;
                if keep(protocol, name) {
                    self.kept.push((column, range(name)));
                }
            }
            self.pairs.push((range(protocol), columns, first_kept));
        }
        Ok(())
    }

    /// Whether `buf`'s header lines are exactly the kept ones.
    fn same_headers(&self, buf: &[u8]) -> bool {
        let mut at = 0;
        let mut lines = numbered_lines(buf);
        while let Some((_, header)) = lines.next() {
            if header.is_empty() {
                continue;
            }
            let end = at + header.len();
            if self.headers.get(end) != Some(&b'\n') || !same_bytes(&self.headers[at..end], header)
            {
                return false;
            }
            at = end + 1;
            if lines.next().is_none() {
                return false;
            }
        }
        at == self.headers.len()
    }

    /// The value lines of a table whose headers are the kept ones.
    fn kept_values(
        &self,
        buf: &[u8],
        f: &mut impl FnMut(&[u8], &[u8], i64),
    ) -> Result<(), ParseError> {
        let mut lines = numbered_lines(buf);
        let mut pairs = self.pairs.iter().enumerate();
        while let Some((no, header)) = lines.next() {
            if header.is_empty() {
                continue;
            }
            let (Some((_, values)), Some((i, (protocol, columns, first_kept)))) =
                (lines.next(), pairs.next())
            else {
                return Err(ParseError::new(no, "header without a value line"));
            };
            let protocol = &self.headers[protocol.clone()];
            let kept_end = self.pairs.get(i + 1).map_or(self.kept.len(), |p| p.2);
            let mut kept = self.kept[*first_kept..kept_end].iter().peekable();
            let mut numbers = fields(values);
            let proto = numbers.next();
            if proto.and_then(|p| p.strip_suffix(b":")) != Some(protocol) {
                return Err(ParseError::new(no + 1, "value line of another protocol"));
            }
            let mut count = 0;
            for (column, value) in numbers.enumerate() {
                count += 1;
                if count > *columns {
                    break;
                }
                let v = parse_i64(value).ok_or(ParseError::new(no + 1, "value is not a number"))?;
                if let Some((_, name)) = kept.next_if(|(c, _)| *c == column) {
                    f(protocol, &self.headers[name.clone()], v);
                }
            }
            if count != *columns {
                return Err(ParseError::new(
                    no + 1,
                    "column count differs from the header",
                ));
            }
        }
        Ok(())
    }
}

/// `a == b` eight bytes at a time (slices' `==` is musl's byte-wise
/// `memcmp`, and a table's headers are some 3 KB).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails_equal = a8.remainder() == b8.remainder();
    let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().unwrap_or_default());
    tails_equal && a8.zip(b8).all(|(x, y)| word(x) == word(y))
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

    /// [`KeptPairs`] against [`for_each_pair`] filtered (the oracle): the
    /// first read (parsed whole), the next ones (values only), headers that
    /// change, and each kind of bad value line, on both paths.
    #[test]
    fn kept_pairs_equal_the_whole_parse() {
        let keep = node_exporter_default;
        let whole = |buf: &[u8]| {
            let mut out = Vec::new();
            let r = for_each_pair(buf, |p, n, v| {
                if keep(p, n) {
                    out.push((p.to_vec(), n.to_vec(), v));
                }
            });
            r.map(|()| out)
        };
        let kept = |k: &mut KeptPairs, buf: &[u8]| {
            let mut out = Vec::new();
            let r = k.for_each(buf, keep, |p, n, v| out.push((p.to_vec(), n.to_vec(), v)));
            r.map(|()| out)
        };
        let netstat = include_str!("../../tests/fixtures/proc/basic/net/netstat");
        let snmp = include_str!("../../tests/fixtures/proc/basic/net/snmp");
        // The values changed, the headers not: a new reading of the file.
        let bumped = |text: &str| {
            let mut out = String::new();
            for (i, line) in text.lines().enumerate() {
                if i % 2 == 0 {
                    out.push_str(line);
                } else {
                    let mut cols = line.split(' ');
                    out.push_str(cols.next().unwrap());
                    for v in cols {
                        let v: i64 = v.parse().unwrap();
                        out.push_str(&format!(" {}", v * 3 + 1));
                    }
                }
                out.push('\n');
            }
            out
        };
        for text in [netstat, snmp] {
            let mut k = KeptPairs::default();
            let first = kept(&mut k, text.as_bytes());
            assert_eq!(first, whole(text.as_bytes()));
            assert!(first.as_ref().unwrap().len() > 3, "{first:?}");
            assert!(!k.headers.is_empty(), "kept after a whole parse");
            let again = bumped(text);
            assert_eq!(kept(&mut k, again.as_bytes()), whole(again.as_bytes()));
            assert_ne!(kept(&mut k, again.as_bytes()), first);
            // Each way a value line can be bad is an error on the kept path
            // too (and the kept headers stay for the next good read).
            let lines: Vec<&str> = again.lines().collect();
            let values = lines[1];
            let bad_lines = [
                values.replacen(' ', " x", 1),
                format!("{values} 7"),
                values.rsplit_once(' ').unwrap().0.to_string(),
                values.replacen(':', "X:", 1),
            ];
            for bad in bad_lines {
                let mut with = lines.clone();
                with[1] = &bad;
                let text = with.join("\n") + "\n";
                assert!(whole(text.as_bytes()).is_err(), "{bad}");
                assert!(kept(&mut k, text.as_bytes()).is_err(), "{bad}");
                assert_eq!(kept(&mut k, again.as_bytes()), whole(again.as_bytes()));
            }
            // A header line without its value line.
            let cut = lines[..lines.len() - 1].join("\n");
            assert!(kept(&mut k, cut.as_bytes()).is_err());
            // Other headers (a counter the kernel gained): parsed whole.
            let mut grown: Vec<String> = again.lines().map(String::from).collect();
            grown[0] = grown[0].replacen(": ", ": Zz ", 1);
            grown[1] = grown[1].replacen(": ", ": 5 ", 1);
            let grown = grown.join("\n") + "\n";
            assert!(whole(grown.as_bytes()).is_ok());
            assert_eq!(kept(&mut k, grown.as_bytes()), whole(grown.as_bytes()));
            assert_eq!(kept(&mut k, grown.as_bytes()), whole(grown.as_bytes()));
            assert_eq!(kept(&mut k, text.as_bytes()), whole(text.as_bytes()));
            // Nothing but empty input.
            assert_eq!(kept(&mut k, b""), Ok(Vec::new()));
            assert_eq!(kept(&mut k, text.as_bytes()), whole(text.as_bytes()));
        }
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
