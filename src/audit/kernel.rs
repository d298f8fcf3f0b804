//! Is the running kernel the newest one installed? The running release is
//! `<proc_root>/sys/kernel/osrelease`; the installed ones are the entries of
//! `/lib/modules` and `/usr/lib/modules` (Debian, Fedora, Arch, Alpine,
//! Void) that hold a kernel's modules (`modules.dep`, `kernel/` or Arch's
//! `vmlinuz`), and the `/boot/vmlinuz-<release>` images, all under `root`.
//!
//! Only releases of the running kernel's flavour are compared: the words
//! after the last number (`amd64`, `rt-amd64`, Alpine's `lts` and `virt`,
//! Ubuntu's `generic`), so a second flavour installed beside the running one
//! is never taken for an update of it. Releases are ordered as rpm orders
//! versions ([`compare_releases`]): numbers by value, so `6.10` is newer
//! than `6.9`.
//!
//! No kernel installed at all (a container, a kernel not managed by the
//! package manager) answers "unknown", never "reboot".

use crate::owned::owned;
use std::cmp::Ordering;
use std::path::Path;

/// The kernel check: what runs, and the newest release of its flavour installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelCheck {
    pub running: String,
    /// `None`: no kernel of this flavour found installed (unknown).
    pub newest_installed: Option<String>,
}

impl KernelCheck {
    /// `Some(true)` when a newer kernel than the running one is installed.
    pub fn reboot_required(&self) -> Option<bool> {
        let newest = self.newest_installed.as_deref()?;
        Some(compare_releases(newest, &self.running) == Ordering::Greater)
    }

    /// "kernel 6.1.0-18-amd64 running, 6.1.0-21-amd64 installed", when a
    /// reboot is required.
    pub fn reason(&self) -> Option<String> {
        self.reboot_required()?.then(|| {
            format!(
                "kernel {} running, {} installed",
                self.running,
                self.newest_installed.as_deref().unwrap_or_default()
            )
        })
    }
}

/// Reads the running release and the installed kernels; `None` when the
/// running release cannot be read.
pub fn check(root: &Path, proc_root: &Path) -> Option<KernelCheck> {
    // Never blocks, even on a FIFO put there (see procfile).
    let raw = crate::sample::procfile::read_once(&proc_root.join("sys/kernel/osrelease")).ok()?;
    let running = owned(String::from_utf8_lossy(&raw).trim());
    if !is_release(&running) {
        return None;
    }
    let flavour = owned(flavour(&running));
    let newest_installed = installed(root)
        .into_iter()
        .filter(|r| self::flavour(r) == flavour)
        .max_by(|a, b| compare_releases(a, b));
    Some(KernelCheck {
        running,
        newest_installed,
    })
}

/// The kernel releases installed under `root`, unsorted, maybe repeated.
pub fn installed(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["lib/modules", "usr/lib/modules"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            // Not a leftover of removed out-of-tree modules (only
            // `updates/dkms`), nor Arch's `extramodules-*`.
            let holds_kernel = ["modules.dep", "kernel", "vmlinuz"]
                .iter()
                .any(|f| path.join(f).exists());
            if is_release(&name) && holds_kernel {
                out.push(name);
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join("boot")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(release) = name.strip_prefix("vmlinuz-") {
                if is_release(release) {
                    out.push(owned(release));
                }
            }
        }
    }
    out
}

/// A kernel release: starts with a digit, one path component, printable.
fn is_release(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.len() <= 128
        && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

/// The words after the release's last number, joined by `-`: `amd64` in
/// `6.1.0-18-amd64`, `rt-amd64` in `6.1.0-18-rt-amd64`, `` in
/// `6.7.4-arch1-1` and in `6.9.7-200.fc40.x86_64` (whose last `-` part
/// starts with a digit).
pub fn flavour(release: &str) -> &str {
    let mut cut = release.len();
    while let Some(i) = release[..cut].rfind('-') {
        if !release[i + 1..cut].starts_with(|c: char| c.is_ascii_alphabetic()) {
            break;
        }
        cut = i;
    }
    release.get(cut + 1..).unwrap_or_default()
}

/// rpm's `rpmvercmp` order: the strings are cut into runs of digits and
/// runs of letters (anything else separates); digit runs compare as
/// numbers and beat letter runs; letter runs compare as bytes; the one with
/// runs left over is newer.
pub fn compare_releases(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (segments(a), segments(b));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (Some(x), Some(y)) => {
                let digits = |s: &str| s.starts_with(|c: char| c.is_ascii_digit());
                let order = match (digits(x), digits(y)) {
                    (true, true) => {
                        let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                    }
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    (false, false) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

fn segments(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        let first = rest.chars().next()?;
        let end = if first.is_ascii_digit() {
            rest.find(|c: char| !c.is_ascii_digit())
        } else {
            rest.find(|c: char| !c.is_ascii_alphabetic())
        }
        .unwrap_or(rest.len());
        let (seg, tail) = rest.split_at(end);
        rest = tail;
        Some(seg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_order_like_rpmvercmp() {
        use Ordering::*;
        for (a, b, want) in [
            ("6.1.0-21-amd64", "6.1.0-18-amd64", Greater),
            ("6.10.0-1", "6.9.12-1", Greater),
            ("6.1.0-18-amd64", "6.1.0-18-amd64", Equal),
            ("6.7.4-arch1-1", "6.7.4-arch1-2", Less),
            ("6.7.10-arch1-1", "6.7.9-arch2-1", Greater),
            ("6.9.7-200.fc40.x86_64", "6.9.12-100.fc40.x86_64", Less),
            ("6.6.014-0-lts", "6.6.14-0-lts", Equal),
            ("5.15.0-100-generic", "5.15.0-99-generic", Greater),
            ("6.1", "6.1.0", Less),
        ] {
            assert_eq!(compare_releases(a, b), want, "{a} vs {b}");
            assert_eq!(compare_releases(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn flavours() {
        for (release, want) in [
            ("6.1.0-18-amd64", "amd64"),
            ("6.1.0-18-rt-amd64", "rt-amd64"),
            ("6.1.0-18-cloud-amd64", "cloud-amd64"),
            ("5.15.0-100-generic", "generic"),
            ("6.6.14-0-lts", "lts"),
            ("6.6.14-0-virt", "virt"),
            ("6.7.4-arch1-1", ""),
            ("6.6.14-1-lts", "lts"),
            ("6.9.7-200.fc40.x86_64", ""),
            ("6.6.14_1", ""),
            ("6.1.0", ""),
        ] {
            assert_eq!(flavour(release), want, "{release}");
        }
    }

    /// Arbitrary strings: no panic, and the order is antisymmetric.
    #[test]
    fn arbitrary_releases_never_panic() {
        let mut x: u64 = 0x6b65726e;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize
        };
        let pieces = [
            "6", "10", "-", ".", "arch", "rt", "amd64", "0", "~", "é", "_", "",
        ];
        for _ in 0..20_000 {
            let a: String = (0..next() % 8)
                .map(|_| pieces[next() % pieces.len()])
                .collect();
            let b: String = (0..next() % 8)
                .map(|_| pieces[next() % pieces.len()])
                .collect();
            assert_eq!(
                compare_releases(&a, &b),
                compare_releases(&b, &a).reverse(),
                "{a} {b}"
            );
            let _ = flavour(&a);
        }
    }
}
