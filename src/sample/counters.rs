//! Per-device counters (interfaces, block devices): the kept-open file they
//! come from ([`DeviceFile`]), rates between two readings, and the one
//! routine that keeps a per-device list in step with the kernel's
//! ([`update_by_name`]).
//!
//! Invariant: rates are never negative (a counter that went backwards — a
//! reset, an interface re-created — gives 0 for that interval), and while the
//! set of names is unchanged, updating a list allocates nothing. A missing
//! file empties the list (the source is absent); a failed read or parse
//! keeps the list as it was.

use std::path::PathBuf;
use std::time::Instant;

use super::procfile::ProcFile;
use super::source::{Failure, Health, Repeats, read_optional};
use crate::proc::ParseError;

/// A file of per-device counters, its health, and when it was last read.
pub struct DeviceFile {
    file: ProcFile,
    health: Health,
    /// Whether the log says that the file repeats a device.
    repeats: Repeats,
    read_at: Option<Instant>,
}

impl DeviceFile {
    pub fn new(path: PathBuf) -> DeviceFile {
        DeviceFile {
            // Optional: a box without the file (a container without
            // /proc/net, a fixture) is not asked again at every sample.
            file: ProcFile::new(path).optional(),
            health: Health::default(),
            repeats: Repeats::default(),
            read_at: None,
        }
    }

    /// Reads the file and hands its bytes to `refresh` with the seconds since
    /// the last good reading (0 on the first), to bring `list` in step;
    /// `refresh` returns the position of a device the reading repeated
    /// (see [`update_by_name`]).
    pub fn sample<S: Named>(
        &mut self,
        now: Instant,
        list: &mut Vec<S>,
        refresh: impl FnOnce(&[u8], f64, &mut Vec<S>) -> Result<Option<usize>, ParseError>,
    ) {
        let seconds = seconds_since(self.read_at, now);
        let r = match read_optional(&mut self.file) {
            Ok(Some(buf)) => refresh(buf, seconds, list)
                .map(|repeated| {
                    self.read_at = Some(now);
                    let device = repeated.and_then(|at| list.get(at)).map(|s| s.name());
                    let what = device.map(RepeatedDevice);
                    self.repeats.note(&self.file.path().display(), what);
                })
                .map_err(Failure::Parse),
            Ok(None) => {
                list.clear();
                Ok(())
            }
            Err(e) => Err(e),
        };
        self.health.note(self.file.path(), r);
    }

    /// `FILE: why` while the file cannot be read or parsed.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }
}

/// A device a reading lists twice (for the log).
struct RepeatedDevice<'a>(&'a str);

impl std::fmt::Display for RepeatedDevice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device `{}` on more than one line", self.0)
    }
}

/// Bytes (or events) per second between two readings of a counter.
pub fn rate(previous: u64, current: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        current.saturating_sub(previous) as f64 / seconds
    } else {
        0.0
    }
}

/// Seconds from the previous reading (`None`: there was none, 0) to `now`.
fn seconds_since(previous: Option<Instant>, now: Instant) -> f64 {
    previous.map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
}

/// One device's figures in a list that [`update_by_name`] maintains.
pub trait Named {
    /// The kernel's name of the device (`eth0`, `sda1`).
    fn name(&self) -> &str;
}

/// Brings `list` in step with `entries()` (the wanted devices of one reading,
/// in the kernel's order): `update(old, counters)` moves each device's
/// figures on. When the names are the same as last time, in the same order,
/// the list is updated in place from the counters `staged` during the one
/// parse (warm, it allocates nothing); otherwise it is rebuilt (allocating),
/// each survivor keeping its previous figures for its rate and each newcomer
/// made by `new(entry)`.
///
/// A device the reading names again after its first line (an overlay
/// /proc such as LXCFS; a kernel never does) is dropped, the first line
/// kept, so that no device is listed twice; the result is the position in
/// `list` of the first device so repeated, if any. Only a line whose name
/// is not the one at its position is looked for among those before it, so
/// a reading like the last costs no search.
///
/// A parse error anywhere leaves `list` untouched: nothing is updated until
/// the whole reading has parsed. The file is parsed once while the names
/// stay the same (it was parsed twice, once to check and once to update:
/// a fifth of a sample's instructions); `entries` is called again only to
/// rebuild.
pub fn update_by_name<S, E, C, I>(
    list: &mut Vec<S>,
    staged: &mut Vec<C>,
    entries: impl Fn() -> I,
    entry_name: impl Fn(&E) -> &[u8],
    entry_counters: impl Fn(&E) -> C,
    mut new: impl FnMut(&E) -> S,
    mut update: impl FnMut(&mut S, &C),
) -> Result<Option<usize>, ParseError>
where
    S: Named + Clone,
    C: Copy,
    I: Iterator<Item = Result<E, ParseError>>,
{
    let at_in = |list: &[S], name: &[u8]| list.iter().position(|s| s.name().as_bytes() == name);
    staged.clear();
    let mut same = true;
    let mut repeated = None;
    for entry in entries() {
        let entry = entry?;
        if same {
            let name = entry_name(&entry);
            match list.get(staged.len()) {
                Some(s) if s.name().as_bytes() == name => {}
                _ => match at_in(&list[..staged.len().min(list.len())], name) {
                    Some(at) => {
                        repeated.get_or_insert(at);
                        continue;
                    }
                    None => same = false,
                },
            }
        }
        staged.push(entry_counters(&entry));
    }
    same &= staged.len() == list.len();
    if same {
        for (s, counters) in list.iter_mut().zip(staged.iter()) {
            update(s, counters);
        }
        return Ok(repeated);
    }
    repeated = None;
    let old = std::mem::take(list);
    for entry in entries().flatten() {
        let name = entry_name(&entry);
        if let Some(at) = at_in(list, name) {
            repeated.get_or_insert(at);
            continue;
        }
        let mut s = old
            .iter()
            .find(|o| o.name().as_bytes() == name)
            .cloned()
            .unwrap_or_else(|| new(&entry));
        update(&mut s, &entry_counters(&entry));
        list.push(s);
    }
    Ok(repeated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Dev {
        name: String,
        total: u64,
        delta: u64,
    }
    impl Named for Dev {
        fn name(&self) -> &str {
            &self.name
        }
    }

    /// `name=value` pairs; `!` is a line that does not parse.
    fn apply(list: &mut Vec<Dev>, reading: &[&'static str]) -> Result<Option<usize>, ParseError> {
        let entries = || {
            reading.iter().enumerate().map(|(i, item)| {
                let (name, value) = item
                    .split_once('=')
                    .ok_or(ParseError::new(i as u32 + 1, "no ="))?;
                Ok((name, value.parse::<u64>().unwrap()))
            })
        };
        update_by_name(
            list,
            &mut Vec::new(),
            entries,
            |e: &(&str, u64)| e.0.as_bytes(),
            |e| e.1,
            |e| Dev {
                name: e.0.to_string(),
                total: e.1,
                delta: 0,
            },
            |d, total| {
                d.delta = total.saturating_sub(d.total);
                d.total = *total;
            },
        )
    }

    fn seen(list: &[Dev]) -> Vec<(&str, u64)> {
        list.iter().map(|d| (d.name.as_str(), d.delta)).collect()
    }

    #[test]
    fn each_device_keeps_its_own_figures_whatever_the_order() {
        let mut list = Vec::new();
        apply(&mut list, &["a=10", "b=100"]).unwrap();
        assert_eq!(seen(&list), [("a", 0), ("b", 0)]);
        // Same names: updated in place, the storage kept.
        let storage = list.as_ptr();
        apply(&mut list, &["a=15", "b=130"]).unwrap();
        assert_eq!(seen(&list), [("a", 5), ("b", 30)]);
        assert_eq!(list.as_ptr(), storage);
        // Reordered, one gone, one new: rebuilt in the new order, each
        // survivor's delta from its own previous reading.
        apply(&mut list, &["c=7", "b=131"]).unwrap();
        assert_eq!(seen(&list), [("c", 0), ("b", 1)]);
        // A reading that does not parse leaves the list as it was.
        let before = list.clone();
        assert!(apply(&mut list, &["c=9", "!"]).is_err());
        assert_eq!(list, before);
        apply(&mut list, &[]).unwrap();
        assert!(list.is_empty());
    }

    /// A device on a second line (an overlay /proc) is dropped, the first
    /// kept, and named by its position; a reading that repeats the last
    /// one's repeat updates the list in place.
    #[test]
    fn a_repeated_device_is_listed_once_the_first_line_kept() {
        let mut list = Vec::new();
        assert_eq!(apply(&mut list, &["a=10", "b=100", "a=5"]), Ok(Some(0)));
        assert_eq!(seen(&list), [("a", 0), ("b", 0)]);
        assert_eq!(list[0].total, 10);
        let storage = list.as_ptr();
        assert_eq!(
            apply(&mut list, &["a=15", "b=130", "a=7", "b=1"]),
            Ok(Some(0))
        );
        assert_eq!(seen(&list), [("a", 5), ("b", 30)]);
        assert_eq!(list.as_ptr(), storage);
        // Rebuilt (a newcomer first), the repeat still dropped.
        assert_eq!(
            apply(&mut list, &["c=1", "b=131", "c=9", "a=16"]),
            Ok(Some(0))
        );
        assert_eq!(seen(&list), [("c", 0), ("b", 1), ("a", 1)]);
        assert_eq!(apply(&mut list, &["c=2", "b=132", "a=17"]), Ok(None));
    }
}
