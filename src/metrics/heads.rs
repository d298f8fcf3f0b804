//! The start of each series a table family writes (`# HELP`, `# TYPE` and
//! the name, everything before the value), remembered from the last scrape
//! in the order they were written, so that a warm scrape copies it in one
//! call instead of checking, mangling and assembling the name again.
//!
//! The kernel tables behind most series (meminfo, vmstat, net/netstat,
//! net/snmp, net/snmp6, net/sockstat, and net/dev through the sample) have
//! the same lines in the same order at every read of a running kernel, so
//! the `n`-th series of a scrape is usually the `n`-th of the last one.
//!
//! Invariant: a head is a function of its key alone (the caller's `make`
//! reads nothing else), and a remembered head is used only when this
//! scrape's key at that position is byte for byte the remembered key; any
//! other key makes the head afresh and forgets what followed. So the body
//! is the same as without the memory, whatever the tables do. Warm (the
//! same keys as last time) it allocates nothing.

use std::ops::Range;

use super::Body;

#[derive(Default)]
pub struct Heads {
    /// The keys of the last scrape, one after another (each is up to
    /// [`KEY_PARTS`] byte strings).
    keys: Vec<u8>,
    /// The heads of the last scrape, one after another; an empty head is a
    /// key `make` refused (no series).
    text: String,
    /// Per series, in order: its key's parts' ranges in `keys` and its
    /// head's range in `text`.
    entries: Vec<([Range<usize>; KEY_PARTS], Range<usize>)>,
    /// The position of the next series in this scrape.
    next: usize,
}

/// The byte strings a key is made of (protocol, name and suffix; unused
/// parts are empty).
pub const KEY_PARTS: usize = 3;

impl Heads {
    /// A new scrape: the first series written next is the first remembered.
    pub fn start(&mut self) {
        self.next = 0;
    }

    /// Writes the head of the series keyed `key` to `out`: the remembered
    /// one if the last scrape's series at this position had the same key,
    /// else what `make` writes (remembered for the next scrape; `make`
    /// returns false, writing nothing, for a key that makes no series).
    /// True when a head was written: the caller writes the value.
    pub fn write(
        &mut self,
        out: &mut Body,
        key: [&[u8]; KEY_PARTS],
        make: impl FnOnce(&mut Body) -> bool,
    ) -> bool {
        if let Some((parts, head)) = self.entries.get(self.next)
            && parts
                .iter()
                .zip(key)
                .all(|(part, k)| same_bytes(&self.keys[part.clone()], k))
        {
            self.next += 1;
            out.push_str(&self.text[head.clone()]);
            return !head.is_empty();
        }
        self.forget_from(self.next);
        let start = out.len();
        let made = make(out);
        if !made {
            out.truncate(start);
        }
        let parts = key.map(|k| {
            let at = self.keys.len();
            self.keys.extend_from_slice(k);
            at..self.keys.len()
        });
        let at = self.text.len();
        if made {
            self.text.push_str(out.as_str_from(start));
        }
        self.entries.push((parts, at..self.text.len()));
        self.next += 1;
        made
    }

    /// Forgets the series from position `from` on (keys and heads are
    /// stored in order, so their storage is cut where that entry began).
    #[cold]
    fn forget_from(&mut self, from: usize) {
        if let Some((parts, head)) = self.entries.get(from) {
            self.keys.truncate(parts[0].start);
            self.text.truncate(head.start);
        }
        self.entries.truncate(from);
    }
}

/// `a == b` with eight bytes compared at a time (musl's `memcmp`, which
/// `==` on slices calls, goes a byte at a time: 3 % of a render here).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        // The last eight bytes, overlapping what was compared.
        word(a, n - 8) == word(b, n - 8)
    } else if n >= 4 {
        half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4)
    } else {
        a.iter().zip(b).all(|(x, y)| x == y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a table family writes per series through the memory: the
    /// head (made by a `make` that counts its calls) and the value.
    fn scrape(heads: &mut Heads, keys: &[(&str, &str)], makes: &mut usize) -> String {
        let mut out = Body::with_capacity(0);
        heads.start();
        for (i, (protocol, name)) in keys.iter().enumerate() {
            let wrote = heads.write(
                &mut out,
                [protocol.as_bytes(), name.as_bytes(), b""],
                |out| {
                    *makes += 1;
                    if name.contains(' ') {
                        out.push_str("refused");
                        return false;
                    }
                    out.push_str("# HELP x_");
                    out.push_str(protocol);
                    out.push('_');
                    out.push_str(name);
                    out.push_str(" h\nx_");
                    out.push_str(protocol);
                    out.push('_');
                    out.push_str(name);
                    out.push(' ');
                    true
                },
            );
            if wrote {
                out.u64(i as u64);
                out.push('\n');
            }
        }
        out.as_str().to_owned()
    }

    /// The naive oracle: the same text with no memory at all.
    fn fresh(keys: &[(&str, &str)]) -> String {
        scrape(&mut Heads::default(), keys, &mut 0)
    }

    #[test]
    fn remembered_heads_give_the_text_made_afresh_whatever_changes() {
        let table: &[&[(&str, &str)]] = &[
            &[("Tcp", "InSegs"), ("Tcp", "OutSegs"), ("Udp", "InErrors")],
            &[("Tcp", "InSegs"), ("Tcp", "OutSegs"), ("Udp", "InErrors")],
            // A line added in the middle, one removed, one renamed.
            &[
                ("Tcp", "InSegs"),
                ("Tcp", "New"),
                ("Tcp", "OutSegs"),
                ("Udp", "InErrors"),
            ],
            &[("Tcp", "InSegs"), ("Udp", "InErrors")],
            &[("Tcp", "InSegs"), ("Udp", "InErrorz")],
            // The same bytes split differently between the parts.
            &[("TcpI", "nSegs"), ("Udp", "InErrorz")],
            // A refused key, then the same table again, then fewer lines.
            &[("Tcp", "bad name"), ("Udp", "InErrorz")],
            &[("Tcp", "bad name"), ("Udp", "InErrorz")],
            &[("Udp", "InErrorz")],
            &[],
            &[("Tcp", "InSegs"), ("Tcp", "OutSegs"), ("Udp", "InErrors")],
        ];
        let mut heads = Heads::default();
        for keys in table {
            let mut makes = 0;
            assert_eq!(
                scrape(&mut heads, keys, &mut makes),
                fresh(keys),
                "{keys:?}"
            );
        }
        let mut makes = 0;
        let keys = table[0];
        scrape(&mut heads, keys, &mut makes);
        assert_eq!(makes, 0, "a warm scrape makes no head");
    }

    /// Against `==` (the naive oracle) for every length up to 40 and a
    /// difference at every position.
    #[test]
    fn same_bytes_is_slice_equality() {
        let a: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=a.len() {
            let x = &a[..n];
            assert!(same_bytes(x, x));
            assert!(!same_bytes(x, &a[..n.saturating_sub(1)]) || n == 0);
            for at in 0..n {
                let mut y = x.to_vec();
                y[at] ^= 0x20;
                assert_eq!(same_bytes(x, &y), x == y.as_slice(), "{n} {at}");
                assert!(!same_bytes(x, &y));
            }
        }
    }

    #[test]
    fn a_warm_scrape_allocates_no_more_storage() {
        let keys = [("Tcp", "InSegs"), ("Tcp", "OutSegs")];
        let mut heads = Heads::default();
        scrape(&mut heads, &keys, &mut 0);
        let capacities = (
            heads.keys.capacity(),
            heads.text.capacity(),
            heads.entries.capacity(),
        );
        for _ in 0..3 {
            scrape(&mut heads, &keys, &mut 0);
        }
        assert_eq!(
            (
                heads.keys.capacity(),
                heads.text.capacity(),
                heads.entries.capacity()
            ),
            capacities
        );
        assert_eq!(heads.entries.len(), 2);
    }
}
