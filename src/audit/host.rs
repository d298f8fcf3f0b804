//! Facts about the system around the audit: how old the package lists are
//! and whether a reboot is pending. Every path is joined to `root` (`/` in
//! production; a fixture tree in tests) and the running kernel release is
//! read from `<proc_root>/sys/kernel/osrelease`, so tests never touch the
//! real system.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::managers::Manager;

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
            ListsStale::Missing => {
                "the package lists were never downloaded (no /var/lib/apt/lists): \
                 pending updates are unknown; run `apt-get update` or set update_refresh = on"
                    .into()
            }
            ListsStale::Old(age) => format!(
                "the package lists are {} old (more than {}): run `apt-get update` or set update_refresh = on",
                crate::config::format_duration(Duration::from_secs(*age)),
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

/// Whether a reboot is needed, and the packages that asked for it if known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reboot {
    pub required: Option<bool>,
    pub why: Vec<String>,
}

/// Debian/Ubuntu: `/run/reboot-required` (packages in `.pkgs`). Arch and
/// Alpine remove the old kernel's modules on upgrade: the running kernel's
/// `/usr/lib/modules/<release>` (or `/lib/modules/...`) gone means the
/// kernel on disk is not the one running. Elsewhere: unknown, unless the
/// Debian flag file exists.
pub fn reboot(manager: &Manager, root: &Path, proc_root: &Path) -> Reboot {
    let flag = root.join("run/reboot-required");
    if flag.exists() {
        let pkgs = std::fs::read(root.join("run/reboot-required.pkgs")).unwrap_or_default();
        let mut why: Vec<String> = String::from_utf8_lossy(&pkgs)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        why.dedup();
        return Reboot {
            required: Some(true),
            why,
        };
    }
    match manager {
        Manager::Apt => Reboot {
            required: Some(false),
            why: vec![],
        },
        Manager::Pacman | Manager::Apk => {
            // Never blocks, even on a FIFO put there (see procfile).
            let Ok(release) =
                crate::sample::procfile::read_once(&proc_root.join("sys/kernel/osrelease"))
            else {
                return Reboot::default();
            };
            let release = String::from_utf8_lossy(&release);
            let release = release.trim();
            if release.is_empty() || release.contains('/') || release == ".." {
                return Reboot::default();
            }
            let present = ["usr/lib/modules", "lib/modules"]
                .iter()
                .any(|d| root.join(d).join(release).is_dir());
            let why = if present {
                vec![]
            } else {
                vec![format!(
                    "running kernel {release} has no modules directory (kernel upgraded)"
                )]
            };
            Reboot {
                required: Some(!present),
                why,
            }
        }
        _ => Reboot::default(),
    }
}
