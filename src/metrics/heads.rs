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
//! A series is written once per scrape: a head whose series (its last
//! line, `name ` or `name{labels} `) this scrape already wrote is dropped,
//! the first one kept (a table that repeats a line, an overlay /proc such
//! as LXCFS, would otherwise make the whole scrape invalid for
//! Prometheus). The check is made when a head is made, against a hash
//! index of the scrape's series so far (a table of thousands of series
//! stays linear), and remembered: a warm scrape checks nothing.
//!
//! Invariant: a head is a function of its key and the keys before it in
//! the scrape (the caller's `make` reads nothing else; the keys before
//! decide whether it repeats a series), and a remembered head is used only
//! when this scrape's keys up to that position are byte for byte the
//! remembered ones; any other key makes the head afresh and forgets what
//! followed. So the body is the same as without the memory, whatever the
//! tables do. Warm (the same keys as last time) it allocates nothing.

use std::ops::Range;

use super::Body;
use crate::sample::source::Repeats;

#[derive(Default)]
pub struct Heads {
    /// The keys of the last scrape, one after another (each is up to
    /// [`KEY_PARTS`] byte strings).
    keys: Vec<u8>,
    /// The heads of the last scrape, one after another; an empty head is a
    /// key `make` refused (no series).
    text: String,
    /// Per series, in order.
    entries: Vec<Entry>,
    /// The position of the next series in this scrape.
    next: usize,
    /// Open addressing over the made series of `entries[..indexed]`
    /// (their position + 1; 0 is a free slot), a power of two at least
    /// twice their number; only touched when a head is made.
    index: Vec<u32>,
    /// How many entries `index` covers ([`STALE`]: it must be rebuilt).
    indexed: usize,
    /// This scrape's dropped repeats: how many, and the position of the
    /// first.
    repeats: (u32, Option<usize>),
}

/// One series of the last scrape: its key's parts' ranges in `keys`, its
/// head's range in `text`, and whether it repeats an earlier series of
/// that scrape (its head is then kept, to name it, but never written).
struct Entry {
    key: [Range<usize>; KEY_PARTS],
    head: Range<usize>,
    repeat: bool,
}

/// [`Heads::indexed`] when the index holds series that were forgotten.
const STALE: usize = usize::MAX;

/// The byte strings a key is made of (protocol, name and suffix; unused
/// parts are empty).
pub const KEY_PARTS: usize = 3;

impl Heads {
    /// A new scrape: the first series written next is the first remembered.
    pub fn start(&mut self) {
        self.next = 0;
        self.repeats = (0, None);
    }

    /// Writes the head of the series keyed `key` to `out`: the remembered
    /// one if the last scrape's series at this position had the same key,
    /// else what `make` writes (remembered for the next scrape; `make`
    /// returns false, writing nothing, for a key that makes no series).
    /// True when a head was written: the caller writes the value. False
    /// also for a series this scrape already wrote (see the module docs).
    pub fn write(
        &mut self,
        out: &mut Body,
        key: [&[u8]; KEY_PARTS],
        make: impl FnOnce(&mut Body) -> bool,
    ) -> bool {
        if let Some(entry) = self.entries.get(self.next)
            && entry
                .key
                .iter()
                .zip(key)
                .all(|(part, k)| same_bytes(&self.keys[part.clone()], k))
        {
            let at = self.next;
            self.next += 1;
            if entry.repeat {
                self.note_repeat(at);
                return false;
            }
            out.push_str(&self.text[entry.head.clone()]);
            return !entry.head.is_empty();
        }
        self.forget_from(self.next);
        let start = out.len();
        let made = make(out);
        if !made {
            out.truncate(start);
        }
        let key = key.map(|k| {
            let at = self.keys.len();
            self.keys.extend_from_slice(k);
            at..self.keys.len()
        });
        let at = self.text.len();
        if made {
            self.text.push_str(out.as_str_from(start));
        }
        let head = at..self.text.len();
        let repeat = made && self.repeats_a_series(head.clone());
        if repeat {
            out.truncate(start);
            self.note_repeat(self.next);
        }
        self.entries.push(Entry { key, head, repeat });
        self.next += 1;
        made && !repeat
    }

    /// This scrape's dropped repeats so far: how many, and the first one's
    /// series (`name` or `name{labels}`).
    pub fn repeats(&self) -> Option<(u32, &str)> {
        let first = &self.entries[self.repeats.1?];
        Some((
            self.repeats.0,
            series_of(&self.text[first.head.clone()]).trim_end(),
        ))
    }

    /// Logs this scrape's repeats in `file` once, when they appear (and
    /// once when they are gone), through `log`.
    pub fn report(&self, log: &mut Repeats, file: &dyn std::fmt::Display) {
        log.note(
            file,
            self.repeats()
                .map(|(dropped, series)| Repeated { dropped, series }),
        );
    }

    fn note_repeat(&mut self, at: usize) {
        self.repeats.0 += 1;
        self.repeats.1.get_or_insert(at);
    }

    /// Whether the head just made at `text[head]` (for position
    /// `self.next`) starts a series that `entries[..self.next]` already
    /// started; if not, its series joins the index. A head of family
    /// lines alone (ending in a newline) starts none.
    #[cold]
    fn repeats_a_series(&mut self, head: Range<usize>) -> bool {
        if series_of(&self.text[head.clone()]).is_empty() {
            return false;
        }
        if self.indexed > self.next {
            self.indexed = 0;
            self.index.fill(0);
        }
        // Room for every entry (a made head is at most one series each)
        // at half load; growing re-inserts what was indexed.
        if self.index.len() < 2 * (self.next + 1) {
            let len = (4 * (self.next + 1)).next_power_of_two().max(64);
            self.index.clear();
            self.index.resize(len, 0);
            self.indexed = 0;
        }
        while self.indexed < self.next {
            let at = self.indexed;
            self.indexed += 1;
            let entry = &self.entries[at];
            if entry.repeat || entry.head.is_empty() {
                continue;
            }
            // Not found: each indexed series was checked when it was made.
            let _ = self.find_or_insert(entry.head.clone(), at);
        }
        let found = self.find_or_insert(head, self.next);
        self.indexed += 1;
        found
    }

    /// Looks the series of `text[head]` up in the index; inserts it as
    /// position `at` when absent. True when it was there.
    fn find_or_insert(&mut self, head: Range<usize>, at: usize) -> bool {
        let series = series_of(&self.text[head]);
        let mask = self.index.len() - 1;
        let mut slot = (fnv1a(series.as_bytes()) as usize) & mask;
        loop {
            match self.index[slot] {
                0 => {
                    // Positions fit: an entry is at least a few bytes of
                    // a body far below 4 GiB.
                    self.index[slot] = u32::try_from(at + 1).unwrap_or(u32::MAX);
                    return false;
                }
                i => {
                    let other = &self.entries[i as usize - 1].head;
                    if series_of(&self.text[other.clone()]) == series {
                        return true;
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Forgets the series from position `from` on (keys and heads are
    /// stored in order, so their storage is cut where that entry began).
    #[cold]
    fn forget_from(&mut self, from: usize) {
        if let Some(entry) = self.entries.get(from) {
            self.keys.truncate(entry.key[0].start);
            self.text.truncate(entry.head.start);
        }
        self.entries.truncate(from);
        if self.indexed > from {
            self.indexed = STALE;
        }
    }
}

/// What [`Heads::report`] says of a scrape's repeats.
struct Repeated<'a> {
    dropped: u32,
    series: &'a str,
}

impl std::fmt::Display for Repeated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "series `{}` written by more than one line ({} dropped)",
            self.series, self.dropped
        )
    }
}

/// The series a head starts: its last line (`name ` or `name{labels} `);
/// empty for family lines alone.
fn series_of(head: &str) -> &str {
    head.rsplit_once('\n').map_or(head, |(_, last)| last)
}

/// FNV-1a, 64 bits: the index's hash (series names are short and not
/// chosen to collide; a collision costs a comparison, not a wrong answer).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
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

    /// The naive oracle: the same text with no memory at all, each
    /// series after its first left out.
    fn fresh(keys: &[(&str, &str)]) -> String {
        let mut out = String::new();
        let mut written = std::collections::HashSet::new();
        for (i, (protocol, name)) in keys.iter().enumerate() {
            let series = format!("x_{protocol}_{name} ");
            if name.contains(' ') || !written.insert(series.clone()) {
                continue;
            }
            out += &format!("# HELP x_{protocol}_{name} h\n{series}{i}\n");
        }
        out
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
            // A repeated line (LXCFS), the first kept; then gone again.
            &[
                ("Tcp", "InSegs"),
                ("Tcp", "OutSegs"),
                ("Tcp", "InSegs"),
                ("Udp", "InErrors"),
            ],
            &[
                ("Tcp", "InSegs"),
                ("Tcp", "OutSegs"),
                ("Tcp", "InSegs"),
                ("Udp", "InErrors"),
            ],
            &[("Tcp", "InSegs"), ("Tcp", "OutSegs"), ("Udp", "InErrors")],
            // Other keys that make the same series; a repeat made afresh
            // after a changed line, and a repeat of a refused key.
            &[("Tcp_A", "B"), ("Tcp", "A_B"), ("Tcp", "A_B")],
            &[("Ip", "X"), ("Tcp", "A_B"), ("Tcp_A", "B"), ("Ip", "X")],
            &[("Tcp", "bad name"), ("Tcp", "bad name"), ("Ip", "X")],
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
        for keys in [table[0], table[12]] {
            scrape(&mut heads, keys, &mut 0);
            let mut makes = 0;
            scrape(&mut heads, keys, &mut makes);
            assert_eq!(makes, 0, "a warm scrape makes no head, repeats or not");
        }
    }

    /// Repeats are counted and named per scrape, warm or not, and a table
    /// of thousands of series (the index grown several times, rebuilt
    /// after a change in the middle) gives the oracle's text.
    #[test]
    fn repeats_are_counted_and_large_tables_match_the_oracle() {
        let mut heads = Heads::default();
        let keys = [
            ("Tcp", "InSegs"),
            ("Ip", "X"),
            ("Tcp", "InSegs"),
            ("Ip", "X"),
        ];
        for _ in 0..2 {
            scrape(&mut heads, &keys, &mut 0);
            assert_eq!(heads.repeats(), Some((2, "x_Tcp_InSegs")));
        }
        scrape(&mut heads, &keys[..2], &mut 0);
        assert_eq!(heads.repeats(), None);

        let names: Vec<String> = (0..3000).map(|i| format!("n{}", i % 2500)).collect();
        let mut big: Vec<(&str, &str)> = names.iter().map(|n| ("P", n.as_str())).collect();
        for _ in 0..2 {
            assert_eq!(scrape(&mut heads, &big, &mut 0), fresh(&big));
            assert_eq!(heads.repeats(), Some((500, "x_P_n0")));
        }
        big[1000] = ("Q", "n1");
        big[2999] = ("P", "new");
        assert_eq!(scrape(&mut heads, &big, &mut 0), fresh(&big));
        big.truncate(2000);
        assert_eq!(scrape(&mut heads, &big, &mut 0), fresh(&big));
        assert_eq!(heads.repeats(), None);
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
