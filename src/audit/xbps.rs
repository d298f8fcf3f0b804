//! Void's xbps. `xbps-install -Mun` (dry run of an update, repository index
//! synced in memory only) prints one transaction entry per line:
//!
//! ```text
//! pkgver action arch repository installed-size download-size
//! firefox-128.0.3_1 update x86_64 https://repo-default.voidlinux.org/current 253424640 70184428
//! ```
//! Only `update` is a pending update; `install` is a new dependency the
//! update pulls in, `remove`/`hold`/`configure` are notes. The installed
//! version is not printed, so [`parse_installed`] reads `xbps-query -l`
//! (`ii pkgver description`) and [`Installed::fill_current`] joins the two.

use super::model::{Installed, Package, Parsed, is_token, lines, word};
use crate::owned::owned;

/// What `xbps-install -u` prints, exiting 0, when the package database
/// lists nothing installed (bin/xbps-install/transaction.c, `dist_upgrade`:
/// ENOENT from `xbps_transaction_update_packages`). A Void system always
/// has packages: its root is wrong or its database broken, not up to date.
pub const NO_PACKAGES: &str = "No packages currently registered.";

/// Why [`NO_PACKAGES`] fails the audit, after the command and its exit.
pub const NO_PACKAGES_WHY: &str = "but says \"No packages currently registered.\": \
    xbps's package database lists no installed package, which a Void system always \
    has: a wrong root (`rootdir` in xbps.d) or a broken /var/db/xbps, not 0 updates";

/// Whether `stdout` is [`NO_PACKAGES`] and nothing else.
pub fn says_no_packages(stdout: &[u8]) -> bool {
    stdout.trim_ascii() == NO_PACKAGES.as_bytes()
}

pub fn parse(stdout: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    for line in lines(stdout) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let entry = match fields.as_slice() {
            [pkgver, action, _arch, _repo, ..] => split_pkgver(pkgver).map(|nv| (nv, *action)),
            _ => None,
        };
        match entry {
            Some(((name, version), "update")) => {
                out.push_package(Package::new(name, "", version, false))
            }
            Some(((name, version), action)) if is_token(action) => {
                out.push_note(format!("{action}: {name} {version}"))
            }
            _ => out.push_unparsed(line),
        }
    }
    out
}

/// `xbps-query -l`: `ii bash-5.2.21_1   GNU Bourne Again Shell` → name → version.
pub fn parse_installed(stdout: &[u8]) -> Installed {
    Installed::from_pairs(
        lines(stdout)
            .filter_map(|line| {
                let pkgver = word(&line, 1)?;
                let (name, version) = split_pkgver(pkgver)?;
                Some((owned(name), owned(version)))
            })
            .collect(),
    )
}

/// `xorg-server-21.1.11_1` → (`xorg-server`, `21.1.11_1`): the version is
/// after the last `-` and ends in `_revision`.
pub fn split_pkgver(pkgver: &str) -> Option<(&str, &str)> {
    let (name, version) = pkgver.rsplit_once('-')?;
    let (_, revision) = version.rsplit_once('_')?;
    let ok = !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit());
    (ok && is_token(name) && is_token(version)).then_some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_lines() {
        let mut p = parse(
            b"xorg-server-xwayland-24.1.2_1 update x86_64 https://repo-default.voidlinux.org/current 2461696 912345\n\
libnew-1.0_1 install x86_64 https://repo-default.voidlinux.org/current 102400 40960\n\
garbage\n",
        );
        let installed = parse_installed(b"ii xorg-server-xwayland-24.1.1_1 Nested X server\nii bash-5.2.21_1 GNU Bourne Again Shell\n");
        installed.fill_current(&mut p);
        assert_eq!(
            p.packages,
            [Package::new(
                "xorg-server-xwayland",
                "24.1.1_1",
                "24.1.2_1",
                false
            )]
        );
        assert_eq!(p.notes, ["install: libnew 1.0_1"]);
        assert_eq!(p.unparsed, ["garbage"]);
        assert_eq!(split_pkgver("nonsense"), None);
    }
}
