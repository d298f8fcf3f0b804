//! `apt-get -s dist-upgrade` (simulation) output: the `Inst` lines.
//!
//! ```text
//! Inst bash [5.2.15-2] (5.2.15-2+deb12u1 Debian:12.12/stable [amd64])
//! Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
//! Inst linux-image-6.1.0-40-amd64 (6.1.153-1 Debian-Security:12/stable-security [amd64])
//! ```
//! `[old]` is missing for a package that is newly installed (a new kernel
//! ABI package, a new dependency): that is a note, not an update. The
//! origins list names every archive that has the new version; it is a
//! security update when one of them is a security archive (`Debian-Security:`,
//! `…/bookworm-security`, `Ubuntu:22.04/jammy-security`). A trailing `[...]`
//! after the parenthesis lists packages apt breaks temporarily; ignored.
//! The chatter apt prints around the lines (progress, package name lists
//! indented by two spaces, the summary) is recognised and skipped.

use super::model::{AptDetails, PACKAGES_KEPT, Package, Parsed, is_token, lines};
use crate::owned::owned;

pub fn parse(stdout: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut details = AptDetails::default();
    // The heading the indented package names below belong to.
    let mut current = Section::Other;
    for line in lines(stdout) {
        if let Some(rest) = line.strip_prefix("Inst ") {
            match parse_inst(rest) {
                Some((Inst::Upgrade(p), origins, arch)) => {
                    let label = (owned(origins), owned(arch));
                    details.upgradable_by_origin.push((label, 1));
                    out.push_package(p)
                }
                Some((Inst::New(p), _, _)) => {
                    out.push_note(format!("new package: {} {}", p.name, p.new))
                }
                None => out.push_unparsed(line),
            }
        } else if let Some(rest) = line.strip_prefix("Remv ") {
            out.push_note(format!("removed: {}", rest.trim()));
        } else if line.starts_with("The following ") || line.starts_with("Not upgrading") {
            current = Section::of(&line);
        } else if line.starts_with("  ") {
            let section = match current {
                Section::KeptBack => Some(&mut details.kept_back),
                Section::Phased => Some(&mut details.phased),
                Section::Autoremovable => Some(&mut details.autoremovable),
                Section::Other => None,
            };
            if let Some(names) = section {
                for name in line.split_whitespace().filter(|n| is_token(n)) {
                    if names.len() < PACKAGES_KEPT {
                        names.push(owned(name));
                    }
                }
            }
        } else if is_summary(&line) {
            details.summary_seen = true;
        } else if !is_chatter(&line) {
            out.push_unparsed(line);
        }
    }
    details.upgradable_by_origin = AptDetails::tally(details.upgradable_by_origin);
    details.autoremovable_count = details.autoremovable.len() as u64;
    out.apt = Some(Box::new(details));
    out
}

/// Notes for the log naming what apt left alone: called once the details
/// are final (the managers' second look sorts the phased out of the kept back).
pub fn push_detail_notes(out: &mut Parsed) {
    let Some(details) = out.apt.take() else {
        return;
    };
    for (what, names) in [
        ("kept back", &details.kept_back),
        ("phased (deferred)", &details.phased),
        ("autoremovable", &details.autoremovable),
    ] {
        if !names.is_empty() {
            out.push_note(format!("{what}: {}", names.join(" ")));
        }
    }
    out.apt = Some(details);
}

/// The `The following ...:` headings whose package lists are kept.
enum Section {
    /// `The following packages have been kept back:`
    KeptBack,
    /// apt 2.7.11 to 2.8 (Ubuntu 24.04): `The following upgrades have been
    /// deferred due to phasing:`; apt 2.9: `Not upgrading yet due to
    /// phasing:` (its kept back: `Not upgrading:`). apt 2.6 (Debian 12,
    /// Ubuntu 23.04) has no such heading: it lists phased updates among the
    /// kept back, and the managers sort them out with a second simulation.
    Phased,
    /// `The following package(s) was/were automatically installed and
    /// is/are no longer required:`
    Autoremovable,
    Other,
}

impl Section {
    fn of(heading: &str) -> Section {
        if heading.contains("kept back") || heading.starts_with("Not upgrading:") {
            Section::KeptBack
        } else if heading.contains("due to phasing") {
            Section::Phased
        } else if heading.contains("no longer required") {
            Section::Autoremovable
        } else {
            Section::Other
        }
    }
}

enum Inst {
    Upgrade(Package),
    New(Package),
}

/// Longest origins list taken from an `Inst` line (bytes): a handful of
/// `Label:Version/Suite` entries; a longer one makes the line unparsed.
const MAX_ORIGINS_BYTES: usize = 1024;

/// An `Inst` line: the package, its origins as printed, its architecture.
fn parse_inst(rest: &str) -> Option<(Inst, &str, &str)> {
    let (name, rest) = rest.split_once(' ')?;
    let mut rest = rest.trim_start();
    let mut current = None;
    if let Some(after) = rest.strip_prefix('[') {
        let (old, after) = after.split_once(']')?;
        current = Some(old);
        rest = after.trim_start();
    }
    let inner = rest.strip_prefix('(')?;
    let (inner, _broken) = inner.split_once(')')?;
    let (new, origins) = inner.split_once(' ')?;
    // The architecture closes the parenthesis: `... [amd64]`.
    let (origins, arch) = origins
        .rsplit_once(" [")
        .map_or((origins, ""), |(o, a)| (o, a.trim_end_matches(']')));
    // Both become label values of a /metrics series.
    let labels_fit = origins.len() <= MAX_ORIGINS_BYTES && (arch.is_empty() || is_token(arch));
    if !is_token(name) || !is_token(new) || !current.is_none_or(is_token) || !labels_fit {
        return None;
    }
    let security = origins.split(", ").any(is_security_origin);
    let package = Package::new(name, current.unwrap_or(""), new, security);
    let inst = if current.is_some() {
        Inst::Upgrade(package)
    } else {
        Inst::New(package)
    };
    Some((inst, origins, arch))
}

/// The origins and architecture of each package a simulation has an `Inst`
/// line for, looked up by name: built once, searched by halves (a search
/// of the whole output per kept-back name was quadratic).
///
/// Invariant: `by_name` is sorted by name with each name once, the first
/// line of a name kept (what a search from the top finds).
#[derive(Debug, Default)]
pub struct InstOrigins {
    by_name: Vec<NameOrigins>,
}

/// A package name and the `(origins, arch)` of its `Inst` line.
type NameOrigins = (String, (String, String));

impl InstOrigins {
    pub fn of(stdout: &[u8]) -> InstOrigins {
        let mut lines: Vec<(usize, NameOrigins)> = lines(stdout)
            .filter_map(|line| {
                let rest = line.strip_prefix("Inst ")?;
                let name = rest.split(' ').next()?;
                let (_, origins, arch) = parse_inst(rest)?;
                Some((owned(name), (owned(origins), owned(arch))))
            })
            .enumerate()
            .collect();
        // By name, then by line: the first of each name is the one kept.
        crate::sort::sort_by(&mut lines, |(i, (a, _)), (j, (b, _))| {
            a.cmp(b).then(i.cmp(j))
        });
        let mut by_name: Vec<NameOrigins> = Vec::with_capacity(lines.len());
        for (_, entry) in lines {
            if by_name.last().is_none_or(|last| last.0 != entry.0) {
                by_name.push(entry);
            }
        }
        InstOrigins { by_name }
    }

    /// The `(origins, arch)` of `name`'s `Inst` line, if it has one.
    pub fn get(&self, name: &str) -> Option<&(String, String)> {
        let at = self
            .by_name
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()?;
        Some(&self.by_name[at].1)
    }
}

/// `Label:version/suite`: Debian's security archive is labelled
/// `Debian-Security`; its suite, like Ubuntu's, ends in `-security`.
fn is_security_origin(origin: &str) -> bool {
    let (label, suite) = origin.trim().split_once(':').unwrap_or(("", origin));
    let suite = suite.rsplit('/').next().unwrap_or(suite);
    label.eq_ignore_ascii_case("Debian-Security") || suite.ends_with("-security")
}

fn is_chatter(line: &str) -> bool {
    const PREFIXES: [&str; 11] = [
        "Use 'apt autoremove'",
        "Reading package lists",
        "Building dependency tree",
        "Reading state information",
        "Calculating upgrade",
        "The following ",
        "NOTE: This is only a simulation",
        "Conf ",
        "Purg ",
        "Done",
        "Need to get ",
    ];
    line.trim().is_empty()
        || line.starts_with(' ')
        || PREFIXES.iter().any(|p| line.starts_with(p))
        || is_summary(line)
}

/// `115 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.`
fn is_summary(line: &str) -> bool {
    line.split_once(" upgraded, ")
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inst_lines() {
        let text = b"Reading package lists...\nThe following packages will be upgraded:\n  bash libgcrypt20\n\
2 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n\
Inst bash [5.2.15-2] (5.2.15-2+deb12u1 Debian:12.12/stable [amd64])\n\
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []\n\
Inst libssl3:i386 [3.0.11-1~deb12u2] (3.0.17-1~deb12u2 Ubuntu:22.04/jammy-security [i386])\n\
Inst linux-image-6.1.0-40-amd64 (6.1.153-1 Debian:12.12/stable [amd64])\n\
Conf bash (5.2.15-2+deb12u1 Debian:12.12/stable [amd64])\n\
Remv oldpkg [1.0]\n\
Inst broken [1.0 (2.0\n\
something else\n";
        let p = parse(text);
        assert_eq!(
            p.packages,
            [
                Package::new("bash", "5.2.15-2", "5.2.15-2+deb12u1", false),
                Package::new("libgcrypt20", "1.10.1-3", "1.10.1-3+deb12u1", true),
                Package::new("libssl3:i386", "3.0.11-1~deb12u2", "3.0.17-1~deb12u2", true),
            ]
        );
        assert_eq!(
            p.notes,
            [
                "new package: linux-image-6.1.0-40-amd64 6.1.153-1",
                "removed: oldpkg [1.0]"
            ]
        );
        assert_eq!(p.unparsed, ["Inst broken [1.0 (2.0", "something else"]);
    }

    /// Origins and arch become /metrics label values: bounded.
    #[test]
    fn an_inst_line_with_absurd_origins_is_unparsed() {
        let long = format!(
            "Inst a [1] (2 {} [amd64])\nInst b [1] (2 D:1/s [a b])\nInst c [1] (2 D:1/s [amd64])\n",
            "O:1/s, ".repeat(200)
        );
        let p = parse(long.as_bytes());
        assert_eq!(p.packages, [Package::new("c", "1", "2", false)]);
        assert_eq!(p.unparsed.len(), 2);
    }

    #[test]
    fn security_origins() {
        assert!(is_security_origin("Debian-Security:12/oldstable-security"));
        assert!(is_security_origin("Debian:12/bookworm-security"));
        assert!(is_security_origin("Ubuntu:22.04/jammy-security"));
        assert!(!is_security_origin("Debian:12.15/oldstable"));
        assert!(!is_security_origin("security-team-ppa:1/stable"));
    }

    /// apt 2.6 (Debian 12, captured here with one package held and one
    /// marked automatic) and the phasing heading of apt 2.7.11 (Ubuntu 24.04).
    #[test]
    fn kept_back_phased_and_autoremovable_sections() {
        let text = b"Reading package lists...\n\
The following package was automatically installed and is no longer required:\n  zip\n\
Use 'apt autoremove' to remove it.\n\
The following packages have been kept back:\n  bash\n\
The following upgrades have been deferred due to phasing:\n  libfoo1 libbar:i386\n\
The following packages will be upgraded:\n  sed\n\
1 upgraded, 0 newly installed, 0 to remove and 1 not upgraded.\n\
Inst sed [4.9-1] (4.9-1+deb12u1 Debian:12.15/oldstable [amd64])\n\
Inst tzdata [2025b-0+deb12u2] (2026f-0+deb12u1 Debian-Security:12/oldstable-security [all])\n";
        let p = parse(text);
        assert!(p.unparsed.is_empty(), "{:?}", p.unparsed);
        assert_eq!(p.count(), 2);
        let d = p.apt.as_deref().unwrap();
        assert_eq!(d.kept_back, ["bash"]);
        assert_eq!(d.phased, ["libfoo1", "libbar:i386"]);
        assert_eq!(d.autoremovable, ["zip"]);
        // Tallied: sorted by label.
        assert_eq!(
            d.upgradable_by_origin,
            [
                (
                    ("Debian-Security:12/oldstable-security".into(), "all".into()),
                    1
                ),
                (("Debian:12.15/oldstable".into(), "amd64".into()), 1),
            ]
        );
        let origins = InstOrigins::of(text);
        assert_eq!(
            origins.get("tzdata"),
            Some(&("Debian-Security:12/oldstable-security".into(), "all".into()))
        );
        assert_eq!(
            origins.get("sed"),
            Some(&("Debian:12.15/oldstable".into(), "amd64".into()))
        );
        assert_eq!(origins.get("bash"), None);
    }
}
