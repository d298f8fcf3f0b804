//! `apk version -l '<'` output (apk-tools `app_version.c`): a header, then
//! per package the installed `name-version` padded to 40 columns, the
//! comparison, the available version and the repository tag (often empty):
//!
//! ```text
//! Installed:                                Available:
//! busybox-1.36.1-r15                      < 1.36.1-r16
//! py3-cryptography-41.0.3-r0              < 41.0.7-r0 @community
//! ```
//! A `name-version` of 40 characters or more leaves no space before the
//! `<`. apk versions always end in `-rN`, so the name is everything before
//! the second-to-last `-`.

use super::model::{Package, Parsed, is_token, lines, word};

pub fn parse(stdout: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    for line in lines(stdout) {
        if line.trim().is_empty() || line.starts_with("Installed:") {
            continue;
        }
        match parse_line(&line) {
            Some(p) => out.push_package(p),
            None => out.push_unparsed(line),
        }
    }
    out
}

/// Whether the first line that is not blank is apk's header. apk-tools
/// prints it on stdout before the list whenever it runs at its default
/// verbosity, with or without packages to list (`if (apk_verbosity > 0)`
/// in 2.7 to 2.14, `apk_msg` in 3.0, `ver_main` of `app_version.c`), and
/// leaves it out only when quiet, when the lines are bare names: output
/// without it is not the list sysmon asked for, however it exited.
pub fn has_header(stdout: &[u8]) -> bool {
    stdout
        .split(|b| *b == b'\n')
        .find(|line| !line.trim_ascii().is_empty())
        .map(<[u8]>::trim_ascii)
        .is_some_and(|line| line.starts_with(b"Installed:") && line.ends_with(b"Available:"))
}

fn parse_line(line: &str) -> Option<Package> {
    let at = line.find(['<', '>', '=', '?', '~'])?;
    let (left, right) = line.split_at(at);
    let (op, right) = right.split_at(1);
    if op != "<" {
        return None;
    }
    let (name, current) = split_pkgver(left.trim())?;
    let new = word(right, 0)?;
    is_token(new).then(|| Package::new(name, current, new, false))
}

/// `py3-foo-1.2.3-r0` → (`py3-foo`, `1.2.3-r0`).
pub fn split_pkgver(pkgver: &str) -> Option<(&str, &str)> {
    let (rest, release) = pkgver.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    let release_ok = release
        .strip_prefix('r')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let version_ok = version.starts_with(|c: char| c.is_ascii_digit());
    (release_ok && version_ok && is_token(name) && is_token(version))
        .then(|| (name, &pkgver[name.len() + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_padding() {
        let text = "Installed:                                Available:\n\
busybox-1.36.1-r15                      < 1.36.1-r16 \n\
py3-cryptography-41.0.3-r0              < 41.0.7-r0 @community\n\
a-very-long-package-name-for-testing-1.2.3-r10< 1.2.4-r0 \n\
nonsense line\n";
        let p = parse(text.as_bytes());
        assert_eq!(
            p.packages,
            [
                Package::new("busybox", "1.36.1-r15", "1.36.1-r16", false),
                Package::new("py3-cryptography", "41.0.3-r0", "41.0.7-r0", false),
                Package::new(
                    "a-very-long-package-name-for-testing",
                    "1.2.3-r10",
                    "1.2.4-r0",
                    false
                ),
            ]
        );
        assert_eq!(p.unparsed, ["nonsense line"]);
        assert_eq!(split_pkgver("foo-r1"), None);
        assert_eq!(split_pkgver("foo-bar-r1"), None);
    }
}
