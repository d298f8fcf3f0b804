//! What every parser produces: packages with updates, lines that were
//! understood but are not updates (notes), and lines that were not
//! understood (unparsed).
//!
//! Invariant: parsers take arbitrary bytes and never panic. Invalid UTF-8
//! is decoded lossily, one line at a time, so one bad byte costs at most the
//! line it is on; a line that does not parse is kept in `unparsed` (shown in
//! the log), never fatal.
//!
//! Invariant: what a parse keeps is bounded whatever the manager prints.
//! Names and versions are at most [`MAX_TOKEN_BYTES`] (a longer one makes
//! its line unparsed); at most [`PACKAGES_KEPT`] packages,
//! [`UNPARSED_KEPT`] unparsed lines (each cut to [`MAX_TOKEN_BYTES`]) and
//! [`NOTES_KEPT`] notes (each cut to [`NOTE_BYTES`]) are kept, the rest
//! only counted, so counts stay exact while memory does not follow the
//! output.
//!
//! Invariant: unparsed lines and notes are kept escaped ([`quote`]): no
//! control character a child printed reaches the log file or a terminal.

/// One pending update, versions exactly as the manager printed them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// The installed version; empty when the manager does not say.
    pub current: String,
    pub new: String,
    /// The new version fixes a security issue, as far as the manager says:
    /// apt (security origin), dnf (security advisory), `update_command`.
    pub security: bool,
}

impl Package {
    pub fn new(name: &str, current: &str, new: &str, security: bool) -> Package {
        Package {
            name: owned(name),
            current: owned(current),
            new: owned(new),
            security,
        }
    }

    /// `name current -> new [security]`, the line format of the log, of
    /// `sysmon audit` and of `update_command`.
    pub fn line(&self) -> String {
        let current = if self.current.is_empty() {
            "?"
        } else {
            &self.current
        };
        let tag = if self.security { " [security]" } else { "" };
        format!("{} {current} -> {}{tag}", self.name, self.new)
    }
}

use super::quote;
use crate::owned::owned;

/// Longest package name or version taken (bytes); real ones are far shorter.
pub const MAX_TOKEN_BYTES: usize = 256;
/// Packages kept per audit; more than any real system has pending.
pub const PACKAGES_KEPT: usize = 20_000;
/// Unparsed lines and notes kept per audit (the rest are counted).
pub const UNPARSED_KEPT: usize = 100;
pub const NOTES_KEPT: usize = 1000;
/// Longest note kept (bytes, escaped): a note joins names or advisory ids
/// a manager printed (apt's kept-back list, dnf's advisories of one
/// package), a few hundred bytes on a real system; uncut, 1,000 notes of a
/// hostile list could each hold megabytes.
pub const NOTE_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The first [`PACKAGES_KEPT`] packages; see [`Parsed::count`].
    pub packages: Vec<Package>,
    /// Understood lines that are not updates (new dependencies, removals,
    /// ignored or obsoleted packages), as `what: detail`.
    pub notes: Vec<String>,
    /// The first [`UNPARSED_KEPT`] lines not understood, each cut to
    /// [`MAX_TOKEN_BYTES`]; see [`Parsed::unparsed_count`].
    pub unparsed: Vec<String>,
    /// Packages counted but not kept, and how many of them are security updates.
    pub packages_dropped: u64,
    pub security_dropped: u64,
    /// Unparsed lines and notes counted but not kept.
    pub unparsed_dropped: u64,
    pub notes_dropped: u64,
    /// Why the security flags are unknown this time, for a manager that can
    /// usually tell (dnf's advisory list failed); every `security` is then
    /// false for want of an answer, not because none applies.
    pub security_unavailable: Option<String>,
    /// apt's figures beyond the pending list (see [`AptDetails`]).
    pub apt: Option<Box<AptDetails>>,
}

/// What apt knows beyond the list of pending updates, for the `apt_*`
/// metrics of the community `apt_info.py` textfile script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AptDetails {
    /// Pending upgrades (apt_info's `is_upgradable`: the listed ones plus
    /// those kept back) by `(origins, arch)`: the origins as apt-get prints
    /// them (`Label:Version/Archive, ...`) until [`super::host`] rewrites
    /// them as apt_info does (`Origin:Codename/Archive`, sorted, joined by `,`).
    /// Tallied ([`AptDetails::tally`]); at most [`ORIGIN_SERIES_KEPT`]
    /// once completed ([`AptDetails::keep_largest`]).
    pub upgradable_by_origin: OriginCounts,
    /// Upgradable but held (`apt-mark hold`), by `(origin, arch)` likewise.
    pub held_by_origin: OriginCounts,
    /// Kept back: held, or needing a removal; not counted as pending.
    pub kept_back: Vec<String>,
    /// The `(origins, arch)` of each of `kept_back`'s updates, as apt-get
    /// prints them (empty when apt did not say).
    pub kept_back_origins: Vec<(String, String)>,
    /// Upgrades deferred by Ubuntu's phasing; not counted as pending, as apt does.
    pub phased: Vec<String>,
    /// The `(origins, arch)` of each of `phased`'s updates, likewise.
    pub phased_origins: Vec<(String, String)>,
    /// Installed automatically and no longer required (`apt autoremove`).
    pub autoremovable: Vec<String>,
    /// How many: kept when [`Parsed::keep_first`] drops the names.
    pub autoremovable_count: u64,
    /// Held packages (`apt-mark showhold`), upgradable or not.
    pub held: Vec<String>,
    /// apt_info's `apt_package_cache_timestamp_seconds`, whole seconds.
    pub cache_timestamp_s: Option<u64>,
    /// The simulation printed its summary line (`N upgraded, N newly
    /// installed, ...`), as apt-get does whenever it ran to its end.
    pub summary_seen: bool,
}

/// Counts by `(origins, arch)`, as [`AptDetails`] keeps them.
pub type OriginCounts = Vec<((String, String), u64)>;

/// `(origin, arch)` series of `apt_upgrades_pending` and of
/// `apt_upgrades_held` kept: a real system has a handful (one per
/// archive and architecture); more only come from a manager printing
/// garbage, and each would be a series in every scrape.
pub const ORIGIN_SERIES_KEPT: usize = 64;
/// The origin of the series the others beyond [`ORIGIN_SERIES_KEPT`] are
/// summed into (its arch is empty), so that a sum over the family stays
/// exact. No real origin is spelled so: apt's are `Origin:Codename/Suite`.
pub const OTHER_ORIGINS: &str = "(other origins)";

impl AptDetails {
    /// `counts` with each `(origins, arch)` once, its counts summed, sorted
    /// by label: one sort ([`crate::sort`]), not a search per entry, which
    /// was quadratic (120,000 origins took 17 s).
    pub fn tally(mut counts: OriginCounts) -> OriginCounts {
        crate::sort::sort_by(&mut counts, |(a, _), (b, _)| a.cmp(b));
        let mut tallied: OriginCounts = Vec::new();
        for (label, n) in counts {
            match tallied.last_mut() {
                Some((last, total)) if *last == label => *total += n,
                _ => tallied.push((label, n)),
            }
        }
        tallied
    }

    /// Keeps the [`ORIGIN_SERIES_KEPT`]` - 1` largest of the tallied
    /// `counts` (ties by label) and sums the rest into one
    /// [`OTHER_ORIGINS`] series, sorted by label again. Returns how many
    /// series were summed (0 when all fit).
    pub fn keep_largest(counts: &mut OriginCounts) -> usize {
        if counts.len() <= ORIGIN_SERIES_KEPT {
            return 0;
        }
        crate::sort::sort_by(counts, |(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
        let rest = counts.split_off(ORIGIN_SERIES_KEPT - 1);
        let other = rest.iter().map(|(_, n)| n).sum();
        counts.push(((owned(OTHER_ORIGINS), String::new()), other));
        crate::sort::sort_by(counts, |(a, _), (b, _)| a.cmp(b));
        counts.shrink_to_fit();
        rest.len()
    }
}

impl Parsed {
    /// Every package with an update pending, kept or not.
    pub fn count(&self) -> u64 {
        self.packages.len() as u64 + self.packages_dropped
    }

    pub fn security_count(&self) -> u64 {
        self.packages.iter().filter(|p| p.security).count() as u64 + self.security_dropped
    }

    pub fn unparsed_count(&self) -> u64 {
        self.unparsed.len() as u64 + self.unparsed_dropped
    }

    pub fn notes_count(&self) -> u64 {
        self.notes.len() as u64 + self.notes_dropped
    }

    /// No package and no note: no line was read as an answer (lines
    /// skipped as chatter or headings do not count).
    pub fn understood_nothing(&self) -> bool {
        self.count() == 0 && self.notes_count() == 0
    }

    pub fn push_package(&mut self, package: Package) {
        if self.packages.len() < PACKAGES_KEPT {
            self.packages.push(package);
        } else {
            self.packages_dropped += 1;
            self.security_dropped += u64::from(package.security);
        }
    }

    /// Keeps `line` escaped and cut to [`MAX_TOKEN_BYTES`] (a copy: a 1 MB
    /// line does not keep its 1 MB buffer), or counts it.
    pub fn push_unparsed(&mut self, line: String) {
        if self.unparsed.len() < UNPARSED_KEPT {
            self.unparsed.push(quote::escaped(&line, MAX_TOKEN_BYTES));
        } else {
            self.unparsed_dropped += 1;
        }
    }

    /// Keeps `note` escaped (it may quote a child's text) and cut to
    /// [`NOTE_BYTES`], or counts it.
    pub fn push_note(&mut self, note: String) {
        self.push_note_with(|| note);
    }

    /// [`Parsed::push_note`] of the note `make` builds, built only when it
    /// is kept: a parser with a note per line does not format the notes
    /// past [`NOTES_KEPT`] only to count them.
    pub fn push_note_with(&mut self, make: impl FnOnce() -> String) {
        if self.notes.len() < NOTES_KEPT {
            self.notes.push(quote::escaped(&make(), NOTE_BYTES));
        } else {
            self.notes_dropped += 1;
        }
    }

    /// Keeps only the first `packages` packages and `lines` unparsed lines
    /// and notes (the rest counted), and hands the spare capacity back: what
    /// the daemon holds on to between audits.
    pub fn keep_first(&mut self, packages: usize, lines: usize) {
        if self.packages.len() > packages {
            let dropped = self.packages.split_off(packages);
            self.packages_dropped += dropped.len() as u64;
            self.security_dropped += dropped.iter().filter(|p| p.security).count() as u64;
        }
        if self.unparsed.len() > lines {
            self.unparsed_dropped += (self.unparsed.len() - lines) as u64;
            self.unparsed.truncate(lines);
        }
        if self.notes.len() > lines {
            self.notes_dropped += (self.notes.len() - lines) as u64;
            self.notes.truncate(lines);
        }
        self.packages.shrink_to_fit();
        self.unparsed.shrink_to_fit();
        self.notes.shrink_to_fit();
        // apt's name lists are in the log's notes; /metrics needs only the
        // counts by origin, which stay.
        if let Some(apt) = self.apt.as_deref_mut() {
            apt.kept_back = Vec::new();
            apt.kept_back_origins = Vec::new();
            apt.phased = Vec::new();
            apt.phased_origins = Vec::new();
            apt.autoremovable = Vec::new();
            apt.held = Vec::new();
        }
    }

    /// `3 security`, or `security unknown`: for the log and its summary.
    pub fn security_summary(&self) -> String {
        match self.security_unavailable {
            Some(_) => owned("security unknown"),
            None => format!("{} security", self.security_count()),
        }
    }
}

/// Installed versions by package name (`rpm -qa`, `xbps-query -l`), for
/// filling in [`Package::current`]. A sorted list searched by halves, not
/// a `HashMap`: the four maps the audit built once per run brought std's
/// SipHash, random keys and hash table code, about 9 KB of the release
/// binary, for lookups that are not on any hot path.
///
/// Invariant: `by_name` is sorted by name with each name once; of a name
/// listed twice, the version of the later line is kept (as collecting into
/// a map would keep it).
#[derive(Debug, Default)]
pub struct Installed {
    by_name: Vec<(String, String)>,
}

impl Installed {
    /// Not generic over the iterator: dnf's and xbps's parsers collect
    /// their pairs, and the sort and the pass over it are one copy.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Installed {
        let mut pairs: Vec<(usize, (String, String))> = pairs.into_iter().enumerate().collect();
        // By name, then by line: the last of each name is the one kept.
        crate::sort::sort_by(&mut pairs, |(i, (a, _)), (j, (b, _))| {
            a.cmp(b).then(i.cmp(j))
        });
        let mut by_name: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (_, pair) in pairs {
            match by_name.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => by_name.push(pair),
            }
        }
        Installed { by_name }
    }

    /// The installed version of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let at = self
            .by_name
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()?;
        Some(&self.by_name[at].1)
    }

    /// Sets each package's current version to the installed one, where known.
    pub fn fill_current(&self, parsed: &mut Parsed) {
        for p in &mut parsed.packages {
            if let Some(v) = self.get(&p.name) {
                p.current = owned(v);
            }
        }
    }
}

/// The lines of `bytes`, each decoded lossily, without `\n` or a trailing `\r`.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes
        .split(|b| *b == b'\n')
        .filter(move |_| !bytes.is_empty())
        .map(|line| String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned())
}

/// The `n`th white-space-separated word of `line` (from 0), as
/// `line.split_whitespace().nth(n)`: out of line, as the search for the
/// next word is some 300 bytes of code wherever it is inlined (README,
/// *Where the bytes go*).
#[inline(never)]
pub fn word(line: &str, n: usize) -> Option<&str> {
    line.split_whitespace().nth(n)
}

/// A package name or version token as managers print them: non-empty, at
/// most [`MAX_TOKEN_BYTES`], no white space, no control characters, no
/// U+FFFD (a lossily decoded byte).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_TOKEN_BYTES
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != char::REPLACEMENT_CHARACTER)
}

/// A small deterministic generator (xorshift) for the parsers' tests
/// against their naive oracles: the cases do not change from run to run.
#[cfg(test)]
pub(crate) struct Cases(pub u64);

#[cfg(test)]
impl Cases {
    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_is_split_whitespace_nth() {
        let texts = [
            "",
            " ",
            "a",
            "  ii bash-5.2.21_1   GNU Bourne",
            "x\ty\u{a0}z\n w",
            "ü ß",
        ];
        for text in texts {
            for n in 0..6 {
                assert_eq!(
                    word(text, n),
                    text.split_whitespace().nth(n),
                    "{text:?} {n}"
                );
            }
        }
    }

    #[test]
    fn lines_are_lossy_and_trimmed() {
        let got: Vec<String> = lines(b"a\r\nb\xff\n\nc").collect();
        assert_eq!(got, ["a", "b\u{fffd}", "", "c"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").count(), 0);
    }

    #[test]
    fn installed_keeps_the_last_version_of_a_name() {
        let pairs = [("b", "1"), ("a", "2"), ("b", "3"), ("c", "4"), ("a", "5")];
        let installed = Installed::from_pairs(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        );
        assert_eq!(installed.get("a"), Some("5"));
        assert_eq!(installed.get("b"), Some("3"));
        assert_eq!(installed.get("c"), Some("4"));
        assert_eq!(installed.get("d"), None);
        assert_eq!(Installed::default().get("a"), None);
    }

    #[test]
    fn package_line() {
        assert_eq!(
            Package::new("bash", "1:5.2-1", "1:5.2-2", true).line(),
            "bash 1:5.2-1 -> 1:5.2-2 [security]"
        );
        assert_eq!(Package::new("x", "", "2", false).line(), "x ? -> 2");
        assert!(
            !is_token("a b") && !is_token("") && !is_token("a\u{fffd}") && is_token("1:2.3+b1~rc1")
        );
        assert!(
            is_token(&"x".repeat(MAX_TOKEN_BYTES)) && !is_token(&"x".repeat(MAX_TOKEN_BYTES + 1))
        );
    }

    /// The tally against a naive count (a search per entry, as before).
    #[test]
    fn origin_tally_agrees_with_a_search_per_entry() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut entries = Vec::new();
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let label = (format!("O{}", seed % 37), format!("a{}", (seed >> 8) % 3));
            entries.push((label, 1 + (seed >> 16) % 4));
        }
        let mut naive: OriginCounts = Vec::new();
        for (label, n) in &entries {
            match naive.iter_mut().find(|(l, _)| l == label) {
                Some((_, total)) => *total += n,
                None => naive.push((label.clone(), *n)),
            }
        }
        crate::sort::sort(&mut naive);
        assert_eq!(AptDetails::tally(entries), naive);
    }

    #[test]
    fn origin_series_beyond_the_cap_are_summed_into_one() {
        let few: OriginCounts = (0..ORIGIN_SERIES_KEPT)
            .map(|i| ((format!("O{i:03}"), "amd64".into()), 1))
            .collect();
        let mut kept = few.clone();
        assert_eq!(AptDetails::keep_largest(&mut kept), 0);
        assert_eq!(kept, few);

        let mut many: OriginCounts = (0..20_000u64)
            .map(|i| {
                (
                    (format!("O{i:05}"), "a".into()),
                    1 + u64::from(i % 1000 == 0) * 50,
                )
            })
            .collect();
        let total: u64 = many.iter().map(|(_, n)| n).sum();
        assert_eq!(
            AptDetails::keep_largest(&mut many),
            20_000 - (ORIGIN_SERIES_KEPT - 1)
        );
        assert_eq!(many.len(), ORIGIN_SERIES_KEPT);
        assert_eq!(many.iter().map(|(_, n)| n).sum::<u64>(), total);
        // The 20 large ones are kept, the rest summed; sorted by label.
        assert_eq!(many.iter().filter(|(_, n)| *n == 51).count(), 20);
        assert_eq!(
            many[0],
            ((OTHER_ORIGINS.into(), String::new()), total - 20 * 51 - 43)
        );
        assert!(many.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn what_is_kept_is_bounded_and_counts_stay_exact() {
        let mut p = Parsed::default();
        for i in 0..PACKAGES_KEPT + 10 {
            p.push_package(Package::new("a", "1", "2", i % 2 == 0));
        }
        for _ in 0..UNPARSED_KEPT + 5 {
            p.push_unparsed("\u{e9}".repeat(1000));
        }
        assert_eq!(p.packages.len(), PACKAGES_KEPT);
        assert_eq!(p.count(), (PACKAGES_KEPT + 10) as u64);
        assert_eq!(p.security_count(), ((PACKAGES_KEPT + 10) / 2) as u64);
        assert_eq!(p.unparsed.len(), UNPARSED_KEPT);
        assert_eq!(p.unparsed_count(), (UNPARSED_KEPT + 5) as u64);
        assert!(p.unparsed.iter().all(|l| l.len() <= MAX_TOKEN_BYTES));
        p.keep_first(200, 20);
        assert_eq!((p.packages.len(), p.unparsed.len()), (200, 20));
        assert_eq!(p.count(), (PACKAGES_KEPT + 10) as u64);
        assert_eq!(p.security_count(), ((PACKAGES_KEPT + 10) / 2) as u64);
        assert_eq!(p.unparsed_count(), (UNPARSED_KEPT + 5) as u64);
    }

    /// The hostile-input sweep: notes were kept whole, so 1,000 notes of
    /// a few MB each (dnf: one package named by 20,000 advisories, listed
    /// 1,000 times by check-update) held gigabytes.
    #[test]
    fn notes_are_cut_and_those_not_kept_are_not_built() {
        let mut p = Parsed::default();
        p.push_note(format!("kept back: {}", "pkg ".repeat(1 << 20)));
        assert!(p.notes[0].len() <= NOTE_BYTES, "{}", p.notes[0].len());
        assert!(p.notes[0].starts_with("kept back: pkg pkg"));
        assert!(p.notes[0].ends_with(quote::CUT_MARK));
        for _ in 1..NOTES_KEPT {
            p.push_note("x".into());
        }
        let mut built = 0;
        for _ in 0..5 {
            p.push_note_with(|| {
                built += 1;
                "y".into()
            });
        }
        assert_eq!(
            (built, p.notes.len(), p.notes_count()),
            (0, NOTES_KEPT, NOTES_KEPT as u64 + 5)
        );
    }
}
