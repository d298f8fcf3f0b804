//! Facts about the system around the audit: how old the package lists are
//! and whether a reboot is pending. Every path is joined to `root` (`/` in
//! production; a fixture tree in tests) and the running kernel release is
//! read from `<proc_root>/sys/kernel/osrelease`, so tests never touch the
//! real system.

use crate::owned::owned;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::kernel;
use super::managers::Manager;
use super::model::{AptDetails, MAX_TOKEN_BYTES, OriginCounts};
use super::quote;

/// Seconds since the package lists were last refreshed: the newest mtime
/// among apt's lists (`/var/lib/apt/lists/*`) or pacman's sync databases
/// (`/var/lib/pacman/sync/*.db`). `None` when the manager keeps no such
/// lists, none were ever downloaded, or they cannot be read. Not apt's
/// `pkgcache.bin`: any apt command run as root rebuilds it, lists or not.
pub fn lists_age_s(manager: &Manager, root: &Path, now: SystemTime) -> Option<u64> {
    let newest = match manager {
        Manager::Apt => newest_mtime(&root.join("var/lib/apt/lists"), |name| name != "lock"),
        Manager::Pacman => newest_mtime(&root.join("var/lib/pacman/sync"), |name| {
            name.ends_with(".db")
        }),
        _ => None,
    }?;
    Some(now.duration_since(newest).map_or(0, |d| d.as_secs()))
}

/// apt answers from the lists on disk, which only `apt-get update` (or
/// `update_refresh = on`) renews: lists older than this give a stale answer.
/// Debian's apt-daily timer refreshes them twice a day.
pub const APT_LISTS_STALE_AFTER: Duration = Duration::from_secs(7 * 86_400);

/// Why the lists make an answer untrustworthy, if they do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListsStale {
    /// None were ever downloaded: the manager knows of no newer version, so
    /// "0 updates" means nothing; the count is unknown.
    Missing,
    /// Older than [`APT_LISTS_STALE_AFTER`] (their age in seconds).
    Old(u64),
}

impl ListsStale {
    pub fn why(&self) -> String {
        match self {
            ListsStale::Missing => owned(
                "the package lists were never downloaded (no /var/lib/apt/lists): \
                     pending updates are unknown; run `apt-get update` or set update_refresh = on",
            ),
            // In whole days (the threshold is days): `30d`, not `2592012s`.
            ListsStale::Old(age) => format!(
                "the package lists are {} old (more than {}): run `apt-get update` or set update_refresh = on",
                crate::config::format_duration(Duration::from_secs(*age / 86_400 * 86_400)),
                crate::config::format_duration(APT_LISTS_STALE_AFTER)
            ),
        }
    }
}

/// Only apt reads lists that nothing else refreshes: checkupdates, dnf, apk
/// and xbps fetch or expire their own metadata (a failure there is flagged
/// stale by [`super::managers`]).
pub fn lists_staleness(manager: &Manager, lists_age_s: Option<u64>) -> Option<ListsStale> {
    if *manager != Manager::Apt {
        return None;
    }
    match lists_age_s {
        None => Some(ListsStale::Missing),
        Some(age) if age > APT_LISTS_STALE_AFTER.as_secs() => Some(ListsStale::Old(age)),
        Some(_) => None,
    }
}

/// The newest mtime of the regular files in `dir` whose name passes `keep`.
fn newest_mtime(dir: &Path, keep: impl Fn(&str) -> bool) -> Option<SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .filter_map(|e| {
            e.metadata()
                .ok()
                .filter(std::fs::Metadata::is_file)?
                .modified()
                .ok()
        })
        .max()
}

/// Bytes of `/run/reboot-required.pkgs` read: thousands of names.
pub const REBOOT_PKGS_READ_BYTES: u64 = 64 * 1024;
/// Packages named as asking for the reboot; the rest are counted.
pub const REBOOT_PKGS_SHOWN: usize = 16;

/// Whether a reboot is needed, and why when known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reboot {
    pub required: Option<bool>,
    /// The first [`REBOOT_PKGS_SHOWN`] packages that asked for it
    /// (`/run/reboot-required.pkgs`), each once, escaped, in file order.
    pub why: Vec<String>,
    /// More packages that asked for it, not in `why`.
    pub why_more: usize,
    /// "kernel 6.1.0-18-amd64 running, 6.1.0-21-amd64 installed" ([`kernel`]).
    pub kernel: Option<String>,
}

impl Reboot {
    /// One line for /data.json: the kernel, then the packages.
    pub fn reason(&self) -> Option<String> {
        let more = match self.why_more {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let packages =
            (!self.why.is_empty()).then(|| format!("requested by {}{more}", self.why.join(", ")));
        match (&self.kernel, packages) {
            (Some(k), Some(p)) => Some(format!("{k}; {p}")),
            (Some(k), None) => Some(k.clone()),
            (None, p) => p,
        }
    }
}

/// Debian/Ubuntu write `/run/reboot-required` (packages in `.pkgs`); on
/// every system the running kernel is compared with the newest installed
/// one ([`kernel`]), which is what tells on Arch, Alpine, Void and Fedora.
/// With neither flag nor kernel to go by: apt says no (it would have
/// written the flag), the others unknown.
pub fn reboot(manager: &Manager, root: &Path, proc_root: &Path) -> Reboot {
    let kernel = kernel::check(root, proc_root);
    let kernel_required = kernel
        .as_ref()
        .and_then(kernel::KernelCheck::reboot_required);
    let kernel_reason = kernel.as_ref().and_then(kernel::KernelCheck::reason);
    let flag = root.join("run/reboot-required");
    let (mut why, mut why_more) = (Vec::new(), 0);
    if flag.exists() {
        let pkgs = read_lines_start(
            &root.join("run/reboot-required.pkgs"),
            REBOOT_PKGS_READ_BYTES,
        );
        (why, why_more) = packages_asking(&pkgs);
    }
    let required = match (flag.exists(), kernel_required, manager) {
        (true, _, _) => Some(true),
        (false, Some(k), _) => Some(k),
        (false, None, Manager::Apt) => Some(false),
        (false, None, _) => None,
    };
    Reboot {
        required,
        why,
        why_more,
        kernel: kernel_reason,
    }
}

/// The complete lines within the first `limit` bytes of the regular file
/// `path`; nothing when it is missing, unreadable or not a regular file.
/// Opened non-blocking: a FIFO put there must not hold the loop (this runs
/// in `finish`).
fn read_lines_start(path: &Path, limit: u64) -> Vec<u8> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = Vec::new();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    if let Ok(file) = file {
        if file.metadata().is_ok_and(|m| m.is_file()) {
            let _ = file.take(limit).read_to_end(&mut bytes);
        }
    }
    if bytes.len() as u64 == limit {
        // The last line may go on past the limit: not a name.
        let complete = bytes
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |at| at + 1);
        bytes.truncate(complete);
    }
    bytes
}

/// The whole of the regular file `path`; `None` when it is missing,
/// unreadable or not a regular file. Opened non-blocking: opening a FIFO
/// put there would wait for a writer for ever.
fn read_regular(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// The packages of `reboot-required.pkgs`: the first [`REBOOT_PKGS_SHOWN`]
/// distinct names in file order, escaped, and how many distinct others
/// there are. dpkg appends one line per trigger, so names repeat; the
/// count is by a sort (a search per name was quadratic: 60,000 names took
/// 8 s on the loop).
fn packages_asking(pkgs: &[u8]) -> (Vec<String>, usize) {
    let text = String::from_utf8_lossy(pkgs);
    let mut names: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut shown: Vec<&str> = Vec::with_capacity(REBOOT_PKGS_SHOWN);
    for name in &names {
        if shown.len() == REBOOT_PKGS_SHOWN {
            break;
        }
        if !shown.contains(name) {
            shown.push(name);
        }
    }
    crate::sort::sort(&mut names);
    names.dedup();
    let shown_escaped = shown
        .iter()
        .map(|name| quote::escaped(name, MAX_TOKEN_BYTES))
        .collect();
    (shown_escaped, names.len() - shown.len())
}

/// Completes apt's details from the system under `root`, as `apt_info.py`
/// reports them: the held packages (dpkg's selections), the kept-back and
/// phased updates counted as upgradable (and as held when held), every origin
/// rewritten from apt-get's `Label:Version/Archive` to apt_info's
/// `Origin:Codename/Archive` using the Release files in
/// `/var/lib/apt/lists`, and the package cache's timestamp. At most
/// [`super::model::ORIGIN_SERIES_KEPT`] series are kept of each count; returns how many
/// more there were (summed into one, see [`AptDetails::keep_largest`]).
///
/// Its work grows with the number of packages (and dpkg's status file is
/// read whole): it runs with the log, on its thread in the daemon, never
/// on the loop (see `audit::record`). Files are read only when regular
/// ([`read_regular`]): a FIFO put at dpkg's status is not waited on.
pub fn complete_apt_details(details: &mut AptDetails, root: &Path) -> usize {
    let lists = root.join("var/lib/apt/lists");
    let releases = release_origins(&lists);
    let rewrite = |printed: &str| -> String {
        let mut parts: Vec<String> = printed
            .split(", ")
            .filter(|p| !p.is_empty())
            .map(|p| {
                // The last Release file read that prints so, as a map
                // filled in reading order would keep.
                releases
                    .iter()
                    .rev()
                    .find(|(printed, _)| printed == p.trim())
                    .map_or_else(|| owned(p.trim()), |(_, origin)| origin.clone())
            })
            .collect();
        crate::sort::sort(&mut parts);
        parts.dedup();
        parts.join(",")
    };
    details.held = held_packages(&root.join("var/lib/dpkg/status"));
    // Each series rewritten once, with its count.
    let mut upgradable: OriginCounts = details
        .upgradable_by_origin
        .iter()
        .map(|((origins, arch), n)| ((rewrite(origins), arch.clone()), *n))
        .collect();
    let mut held = Vec::new();
    let not_installed = details
        .kept_back
        .iter()
        .zip(extend_empty(&details.kept_back_origins))
        .chain(
            details
                .phased
                .iter()
                .zip(extend_empty(&details.phased_origins)),
        );
    for (name, (origins, arch)) in not_installed {
        let label = (rewrite(origins), arch.clone());
        // `held` is sorted (held_packages).
        if details.held.binary_search(name).is_ok() {
            held.push((label.clone(), 1));
        }
        upgradable.push((label, 1));
    }
    details.upgradable_by_origin = AptDetails::tally(upgradable);
    details.held_by_origin = AptDetails::tally(held);
    let summed = AptDetails::keep_largest(&mut details.upgradable_by_origin)
        + AptDetails::keep_largest(&mut details.held_by_origin);
    // As apt_info: the periodic job's stamp when there is one, else the
    // lists' partial directory (apt_info also checks that
    // APT::Periodic::Update-Package-Lists is on; sysmon reads no apt config).
    let stamp = root.join("var/lib/apt/periodic/update-success-stamp");
    let stamp = if stamp.is_file() {
        stamp
    } else {
        lists.join("partial")
    };
    details.cache_timestamp_s = std::fs::metadata(stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    summed
}

/// `origins`, then `("", "")` for ever: for names whose origins apt did not say.
fn extend_empty(origins: &[(String, String)]) -> impl Iterator<Item = &(String, String)> {
    const UNKNOWN: &(String, String) = &(String::new(), String::new());
    origins.iter().chain(std::iter::repeat(UNKNOWN))
}

/// `Label:Version/Suite` (as apt-get prints a release) → `Origin:Codename/Suite`
/// (as apt_info prints it), from the `*Release` files of `lists`, in the
/// order they were read (a few dozen at most: searched in a line).
fn release_origins(lists: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(lists) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with("Release") {
            continue;
        }
        let Some(text) = read_regular(&e.path()) else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        let field = |key: &str| {
            text.lines()
                .take_while(|l| !l.starts_with("MD5Sum:") && !l.starts_with("SHA256:"))
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(str::trim)
                .unwrap_or_default()
        };
        let (origin, label, suite) = (field("Origin"), field("Label"), field("Suite"));
        let (version, codename) = (field("Version"), field("Codename"));
        // apt's pkgCache::VerIterator::RelStr.
        let mut printed = String::new();
        if !label.is_empty() {
            printed = format!("{label}:");
        }
        if version.is_empty() {
            printed.push_str(suite);
        } else {
            printed.push_str(&format!("{version}/{suite}"));
        }
        out.push((printed, format!("{origin}:{codename}/{suite}")));
    }
    out
}

/// The packages dpkg's status marks held (`Status: hold ...`), named as
/// `apt-mark showhold` names them: `libc6:i386` for a foreign architecture,
/// the bare name for the native one and `all`. The native architecture is
/// dpkg's own (what `dpkg --print-architecture` prints); without a `dpkg`
/// stanza every name stays bare.
fn held_packages(status: &Path) -> Vec<String> {
    let Some(text) = read_regular(status) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let stanzas = || {
        text.split("\n\n").map(|stanza| {
            let field = |key: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
                    .map(str::trim)
            };
            (field("Package"), field("Status"), field("Architecture"))
        })
    };
    let native = stanzas()
        .find(|(name, _, _)| *name == Some("dpkg"))
        .and_then(|(_, _, arch)| arch);
    let mut held = Vec::new();
    for (name, status, arch) in stanzas() {
        let (Some(name), Some(status)) = (name, status) else {
            continue;
        };
        if !status.starts_with("hold ") {
            continue;
        }
        let name = match (arch, native) {
            (Some(arch), Some(native)) if arch != native && arch != "all" => {
                format!("{name}:{arch}")
            }
            _ => owned(name),
        };
        held.push(name);
    }
    crate::sort::sort(&mut held);
    held.dedup();
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The age is said in days, as the threshold is, not in raw seconds.
    #[test]
    fn old_lists_say_their_age_in_days() {
        let why = ListsStale::Old(30 * 86_400 + 12).why();
        assert!(
            why.starts_with("the package lists are 30d old (more than 7d)"),
            "{why}"
        );
    }

    /// 60,000 names (dpkg repeats them) took 8 s to de-duplicate on the
    /// loop, and all of them went into `reboot_reason`. Counted, not timed:
    /// the sort's comparisons stay within 2 n log2 n (heapsort's bound; a
    /// pairwise de-duplication makes n²/2, 1.8 billion here), and doubling
    /// the names little more than doubles them.
    #[test]
    fn reboot_packages_are_counted_by_a_sort_and_few_are_shown() {
        let names = |n: usize| {
            let mut pkgs = String::new();
            for i in 0..n {
                pkgs.push_str(&format!("pkg{}\n", i % (n / 2)));
            }
            pkgs
        };
        let comparisons = |pkgs: &str| {
            crate::sort::COMPARISONS.with(|n| n.set(0));
            let asking = packages_asking(pkgs.as_bytes());
            (asking, crate::sort::COMPARISONS.with(std::cell::Cell::get))
        };
        let (_, half) = comparisons(&names(30_000));
        let ((shown, more), made) = comparisons(&names(60_000));
        let bound = 2 * 60_000 * u64::from(60_000u32.ilog2() + 1);
        assert!(
            made > 0 && made <= bound,
            "{made} comparisons, bound {bound}"
        );
        assert!(made <= half * 22 / 10, "{half} then {made} comparisons");
        assert_eq!(shown.len(), REBOOT_PKGS_SHOWN);
        assert_eq!((shown[0].as_str(), shown[15].as_str()), ("pkg0", "pkg15"));
        assert_eq!(more, 30_000 - REBOOT_PKGS_SHOWN);
        let reboot = Reboot {
            required: Some(true),
            why: shown,
            why_more: more,
            kernel: None,
        };
        let reason = reboot.reason().unwrap();
        assert!(reason.ends_with("pkg14, pkg15 and 29984 more"), "{reason}");

        let (shown, more) = packages_asking(b"libc6\n\x1b[2Jx\nlibc6\n  \n");
        assert_eq!((shown, more), (vec!["libc6".into(), "\\x1b[2Jx".into()], 0));
    }

    #[test]
    fn only_the_start_of_the_packages_file_is_read_in_whole_lines() {
        let dir = std::env::temp_dir().join(format!("sysmon-host-pkgs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("reboot-required.pkgs");
        std::fs::write(&path, "linux-image-amd64\n".repeat(100_000)).unwrap();
        let read = read_lines_start(&path, REBOOT_PKGS_READ_BYTES);
        assert!(read.len() as u64 <= REBOOT_PKGS_READ_BYTES && read.ends_with(b"amd64\n"));
        assert!(
            read_lines_start(&dir, REBOOT_PKGS_READ_BYTES).is_empty(),
            "a directory"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
