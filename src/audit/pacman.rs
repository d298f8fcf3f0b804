//! `checkupdates` output (pacman-contrib), the same lines as `pacman -Qu`:
//!
//! ```text
//! linux 6.9.7.arch1-1 -> 6.9.8.arch1-1
//! python-pip 24.0-2 -> 24.1.1-1
//! nvidia 1:550.90.07-4 -> 1:555.58-1 [ignored]
//! ```
//! `[ignored]` marks a package held by `IgnorePkg`/`IgnoreGroup`: `pacman
//! -Syu` skips it, so it is a note, not a pending update.

use super::model::{Package, Parsed, is_token, lines};

/// `arch-audit --upgradable --format '%n|%c'`: one line per package that
/// has a fixed version in the repositories, `name|CVE-1,CVE-2` (arch-audit's
/// README: `arch-audit -uf "%n|%c"` → `curl|CVE-2016-9594,CVE-2016-9586`).
pub const ARCH_AUDIT_ARGS: [&str; 3] = ["--upgradable", "--format", "%n|%c"];

/// Flags the pending packages that arch-audit names, and notes their CVE
/// ids (`security: curl CVE-2016-9594,CVE-2016-9586`). A line that is not
/// `name|cves` is unparsed; a package arch-audit names that is not pending
/// changes nothing; of a name pending twice, the first is flagged (what a
/// search from the top finds). Returns how many lines were `name|cves`.
///
/// Each line is looked up in an index of the packages sorted by name
/// ([`FirstByName`]), not by a search of the whole list: that was
/// quadratic: 4 MiB of arch-audit lines against 20,000 pending packages
/// held the parser thread 7 s (release build; 70 s in a debug one).
pub fn mark_security(parsed: &mut Parsed, stdout: &[u8]) -> usize {
    let index = FirstByName::of(&parsed.packages);
    let mut understood = 0;
    for line in lines(stdout) {
        let Some((name, cves)) = line.trim().split_once('|') else {
            if !line.trim().is_empty() {
                parsed.push_unparsed(line);
            }
            continue;
        };
        if !is_token(name) {
            parsed.push_unparsed(line);
            continue;
        }
        understood += 1;
        if let Some(at) = index.get(&parsed.packages, name) {
            parsed.packages[at].security = true;
            parsed.push_note_with(|| format!("security: {name} {}", cves.trim()));
        }
    }
    understood
}

/// The positions of a package list sorted by name, searched by halves
/// (the project's one sort, [`crate::sort`]; no `HashMap`, see
/// [`super::model::Installed`]).
///
/// Invariant: `positions` are indices into the list it was built from,
/// sorted by that package's name, each name once, at its first position.
struct FirstByName {
    positions: Vec<usize>,
}

impl FirstByName {
    fn of(packages: &[Package]) -> FirstByName {
        let mut positions: Vec<usize> = (0..packages.len()).collect();
        // By name, then by position: the first of each name is kept.
        crate::sort::sort_by(&mut positions, |a, b| {
            packages[*a].name.cmp(&packages[*b].name).then(a.cmp(b))
        });
        positions.dedup_by(|later, kept| packages[*later].name == packages[*kept].name);
        FirstByName { positions }
    }

    /// The first position of `name` in `packages` (the list the index was
    /// built from).
    fn get(&self, packages: &[Package], name: &str) -> Option<usize> {
        let at = self
            .positions
            .binary_search_by(|p| packages[*p].name.as_str().cmp(name))
            .ok()?;
        Some(self.positions[at])
    }
}

pub fn parse(stdout: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    for line in lines(stdout) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [name, old, "->", new] if [name, old, new].iter().all(|s| is_token(s)) => {
                out.push_package(Package::new(name, old, new, false));
            }
            [name, old, "->", new, "[ignored]"] if [name, old, new].iter().all(|s| is_token(s)) => {
                out.push_note(format!("ignored: {name} {old} -> {new}"));
            }
            _ => out.push_unparsed(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::model::{Cases, PACKAGES_KEPT};

    #[test]
    fn lines_with_epochs_and_ignored() {
        let p = parse(b"linux 6.9.7.arch1-1 -> 6.9.8.arch1-1\nnvidia 1:550.90.07-4 -> 1:555.58-1 [ignored]\n\nvim 9.1.0-1 => 9.1.1-1\n");
        assert_eq!(
            p.packages,
            [Package::new(
                "linux",
                "6.9.7.arch1-1",
                "6.9.8.arch1-1",
                false
            )]
        );
        assert_eq!(p.notes, ["ignored: nvidia 1:550.90.07-4 -> 1:555.58-1"]);
        assert_eq!(p.unparsed, ["vim 9.1.0-1 => 9.1.1-1"]);
    }

    /// The search per line [`mark_security`] made before: the oracle.
    fn naive_mark_security(parsed: &mut Parsed, stdout: &[u8]) -> usize {
        let mut understood = 0;
        for line in lines(stdout) {
            let Some((name, cves)) = line.trim().split_once('|') else {
                if !line.trim().is_empty() {
                    parsed.push_unparsed(line);
                }
                continue;
            };
            if !is_token(name) {
                parsed.push_unparsed(line);
                continue;
            }
            understood += 1;
            if let Some(p) = parsed.packages.iter_mut().find(|p| p.name == name) {
                p.security = true;
                let note = format!("security: {name} {}", cves.trim());
                parsed.push_note(note);
            }
        }
        understood
    }

    /// The index against the search per line over generated cases: names
    /// pending twice, named twice or never by arch-audit, names arch-audit
    /// gives that are not pending, garbage lines.
    #[test]
    fn security_marks_agree_with_a_search_per_line() {
        let mut cases = Cases(0x2545_f491_4f6c_dd1d);
        for case in 0..300 {
            let names = 1 + cases.below(40);
            let mut parsed = Parsed::default();
            for i in 0..cases.below(30) {
                let name = format!("p{}", cases.below(names));
                parsed.push_package(Package::new(&name, "1", &format!("{i}"), false));
            }
            let mut audit = String::new();
            for _ in 0..cases.below(60) {
                match cases.below(8) {
                    0 => audit.push_str("garbage line\n"),
                    1 => audit.push('\n'),
                    2 => audit.push_str("bad name|CVE-1\n"),
                    _ => audit.push_str(&format!(
                        "p{}|CVE-{}\n",
                        cases.below(names + 5),
                        cases.below(9)
                    )),
                }
            }
            let mut want = parsed.clone();
            let want_understood = naive_mark_security(&mut want, audit.as_bytes());
            let got_understood = mark_security(&mut parsed, audit.as_bytes());
            assert_eq!(
                (got_understood, &parsed),
                (want_understood, &want),
                "case {case}: {audit}"
            );
        }
    }

    /// The hostile-input sweep's case: 20,000 pending packages and 4 MiB
    /// of arch-audit lines (the most a security list is read), most naming
    /// packages that are not pending. The search per line took 7 s in a
    /// release build (see the commit); the answer is checked here, not the
    /// time.
    #[test]
    fn four_mib_of_arch_audit_lines_against_every_package_kept() {
        let mut parsed = Parsed::default();
        for i in 0..PACKAGES_KEPT {
            parsed.push_package(Package::new(&format!("pkg{i}"), "1", "2", false));
        }
        let mut audit = String::new();
        // Every other package, from the end, then lines for missing names.
        for i in (0..PACKAGES_KEPT).rev().step_by(2) {
            audit.push_str(&format!("pkg{i}|CVE-{i}\n"));
        }
        let mut missing = 0;
        while audit.len() < crate::audit::child::OUTPUT_CAP - 32 {
            audit.push_str(&format!("gone{missing}|CVE-1\n"));
            missing += 1;
        }
        let understood = mark_security(&mut parsed, audit.as_bytes());
        assert_eq!(understood, PACKAGES_KEPT / 2 + missing);
        assert!(missing > 200_000, "{missing}");
        assert_eq!(parsed.security_count(), (PACKAGES_KEPT / 2) as u64);
        assert!(
            parsed
                .packages
                .iter()
                .all(|p| p.security == p.name.ends_with(['1', '3', '5', '7', '9']))
        );
        assert_eq!(parsed.notes_count(), (PACKAGES_KEPT / 2) as u64);
        assert_eq!(
            parsed.notes[0],
            format!(
                "security: pkg{} CVE-{}",
                PACKAGES_KEPT - 1,
                PACKAGES_KEPT - 1
            )
        );
    }
}
