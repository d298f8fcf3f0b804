//! `dnf -q check-update` (dnf 4) and its dnf5 spelling: one available
//! update per line as `name.arch  [epoch:]version-release  repository`.
//!
//! ```text
//! kernel.x86_64                        6.9.7-200.fc40              updates
//! texlive-collection-latexrecommended.noarch
//!                                      9:svn65512-70.fc40          updates
//! Obsoleting Packages
//! grub2-tools.x86_64                   1:2.06-121.fc40             updates
//!     grub2-tools-efi.x86_64           1:2.06-95.fc40              @updates
//! ```
//! A name too long for its column is wrapped: the rest of the entry follows
//! on an indented line. After `Obsoleting Packages` (dnf5: `Obsoleting
//! packages`) each entry is followed by the indented packages it replaces;
//! those are notes, the updates themselves are already listed above. dnf5
//! adds an `Upgrades` heading. The installed version is not printed, so
//! [`parse_installed`] reads `rpm -qa` with [`RPM_QUERYFORMAT`].

use std::collections::HashMap;

use super::model::{Package, Parsed, is_token, lines};

/// `name.arch [epoch:]version-release`, the epoch only when set, as dnf prints it.
pub const RPM_QUERYFORMAT: &str = "%{NAME}.%{ARCH} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n";

pub fn parse(stdout: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut obsoleting = false;
    // A wrapped entry: the fields seen so far and the lines they came from.
    let mut pending: Vec<String> = Vec::new();
    let mut pending_lines: Vec<String> = Vec::new();
    for line in lines(stdout) {
        let indented = line.starts_with([' ', '\t']);
        let trimmed = line.trim();
        // Only an indented line continues a wrapped entry.
        let continues = indented && !obsoleting;
        if !pending.is_empty() && !continues {
            out.unparsed.append(&mut pending_lines);
            pending.clear();
        }
        if trimmed.is_empty()
            || trimmed == "Upgrades"
            || trimmed.starts_with("Last metadata expiration check")
            || trimmed.starts_with("Security: ")
        {
            continue;
        }
        if trimmed.eq_ignore_ascii_case("Obsoleting Packages") {
            obsoleting = true;
            continue;
        }
        if obsoleting {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            match fields.as_slice() {
                [name, evr, _repo] if indented && is_token(name) && is_token(evr) => {
                    out.notes.push(format!("obsoleted: {name} {evr}"))
                }
                [name, evr, _repo] if is_token(name) && is_token(evr) => {
                    out.notes.push(format!("obsoleting: {name} {evr}"))
                }
                _ => out.unparsed.push(line),
            }
            continue;
        }
        pending.extend(trimmed.split_whitespace().map(str::to_string));
        pending_lines.push(line);
        match pending.len() {
            0..=2 => continue,
            3 if is_token(&pending[0]) && is_token(&pending[1]) && pending[0].contains('.') => {
                out.packages
                    .push(Package::new(&pending[0], "", &pending[1], false));
                pending_lines.clear();
            }
            _ => out.unparsed.append(&mut pending_lines),
        }
        pending.clear();
    }
    out.unparsed.append(&mut pending_lines);
    out
}

/// `rpm -qa --qf RPM_QUERYFORMAT` → `name.arch` → version.
pub fn parse_installed(stdout: &[u8]) -> HashMap<String, String> {
    lines(stdout)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (name, evr) = (fields.next()?, fields.next()?);
            Some((name.to_string(), evr.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_and_obsoleting() {
        let text =
            b"Last metadata expiration check: 0:12:34 ago on Mon 01 Jul 2024 10:00:00 AM UTC.\n\n\
kernel.x86_64                        6.9.7-200.fc40              updates\n\
texlive-collection-latexrecommended.noarch\n\
\x20                                    9:svn65512-70.fc40          updates\n\
Obsoleting Packages\n\
grub2-tools.x86_64                   1:2.06-121.fc40             updates\n\
\x20   grub2-tools-efi.x86_64           1:2.06-95.fc40              @updates\n";
        let mut p = parse(text);
        let installed = parse_installed(b"kernel.x86_64 6.8.5-301.fc40\n");
        for pkg in &mut p.packages {
            if let Some(v) = installed.get(&pkg.name) {
                pkg.current.clone_from(v);
            }
        }
        assert_eq!(
            p.packages,
            [
                Package::new("kernel.x86_64", "6.8.5-301.fc40", "6.9.7-200.fc40", false),
                Package::new(
                    "texlive-collection-latexrecommended.noarch",
                    "",
                    "9:svn65512-70.fc40",
                    false
                ),
            ]
        );
        assert_eq!(
            p.notes,
            [
                "obsoleting: grub2-tools.x86_64 1:2.06-121.fc40",
                "obsoleted: grub2-tools-efi.x86_64 1:2.06-95.fc40"
            ]
        );
        assert!(p.unparsed.is_empty(), "{:?}", p.unparsed);
    }

    #[test]
    fn dangling_wrap_is_unparsed() {
        let p = parse(b"lonely.noarch\nnext.x86_64 1-1 repo\n");
        assert_eq!(p.unparsed, ["lonely.noarch"]);
        assert_eq!(p.packages.len(), 1);
    }
}
