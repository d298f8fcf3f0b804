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
/// changes nothing. Returns how many lines were `name|cves`.
pub fn mark_security(parsed: &mut Parsed, stdout: &[u8]) -> usize {
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
}
