//! The directories sysmon writes (`backup_dir`, `log_dir`, `state_dir`,
//! and for OpenRC the directory of its log file) and how a service script
//! prepares them for the service user before a start: `sysmon prepare-dirs`,
//! so no init script has to read `check-config` output.
//!
//! The rule, the same for every init system: a missing directory is created
//! with its mode (0700; 0750 for the log file's, which the group may read),
//! owned by the user and the user's primary group, its missing parents 0755
//! and root's (as `install -d` makes them). An existing directory named
//! `sysmon` is sysmon's own by name: its mode and owner are corrected (one
//! made by root, say through a manual `sysmon audit`, would otherwise stop
//! the service). Any other existing directory may be shared (`log_dir =
//! /var/log`) and is left exactly as it is.
//!
//! At start (and in `check-config`) an existing directory another user could
//! change is warned about, never refused: writable by its group or everyone
//! without the sticky bit, or owned by neither sysmon's user nor root, it
//! lets that user delete or replace archives, logs or state.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::Config;

/// One directory to prepare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dir {
    /// What it is: a config key, or `log file` for `--log-dir`.
    pub what: &'static str,
    pub path: PathBuf,
    pub mode: u32,
}

/// What a directory was found as, and what was done to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepared {
    Created,
    Corrected,
    LeftAsItIs,
}

/// The directories `config` writes, plus `log_dir` (the directory of the
/// service's log file) when given; a directory named twice is prepared
/// once, with the log file's mode.
pub fn of(config: &Config, log_dir: Option<&Path>) -> Vec<Dir> {
    let mut dirs: Vec<Dir> = Vec::new();
    for (what, path) in [
        ("backup_dir", &config.backup_dir),
        ("log_dir", &config.log_dir),
        ("state_dir", &config.state_dir),
    ] {
        if dirs.iter().all(|d| d.path != *path) {
            dirs.push(Dir {
                what,
                path: path.clone(),
                mode: 0o700,
            });
        }
    }
    if let Some(log_dir) = log_dir {
        dirs.retain(|d| d.path != log_dir);
        dirs.push(Dir {
            what: "log file",
            path: log_dir.to_path_buf(),
            mode: 0o750,
        });
    }
    dirs
}

/// Prepares `dir` for `uid`/`gid` by the rule above. The error says which
/// step failed.
pub fn prepare(dir: &Dir, uid: u32, gid: u32) -> io::Result<Prepared> {
    let path = &dir.path;
    let context = |what: &str, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
    };
    let outcome = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => {
            return Err(context(
                "cannot use",
                io::Error::new(io::ErrorKind::AlreadyExists, "not a directory"),
            ));
        }
        Ok(_) if path.file_name().is_some_and(|n| n == "sysmon") => Prepared::Corrected,
        Ok(_) => return Ok(Prepared::LeftAsItIs),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)
                    .map_err(|e| context("cannot create the parent of", e))?;
            }
            match std::fs::DirBuilder::new().mode(dir.mode).create(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(context("cannot create", e)),
            }
            Prepared::Created
        }
        Err(e) => return Err(context("cannot inspect", e)),
    };
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| context("cannot chown", e))?;
    // After the chown, which may clear set-id bits; explicit, not the umask's.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(dir.mode))
        .map_err(|e| context("cannot chmod", e))?;
    Ok(outcome)
}

/// What lets a user other than sysmon's and root change a directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loose {
    /// Writable by its group or everyone, without the sticky bit (which
    /// would keep others from removing or renaming what is not theirs).
    pub writable_by_others: bool,
    /// Owned by neither `daemon_uid` nor root: its owner may chmod it.
    pub foreign_owner: bool,
}

/// What is loose about a directory of `mode` (permission bits) owned by
/// `owner`, for a daemon running as `daemon_uid`.
pub fn looseness(mode: u32, owner: u32, daemon_uid: u32) -> Loose {
    Loose {
        writable_by_others: mode & 0o022 != 0 && mode & 0o1000 == 0,
        foreign_owner: owner != daemon_uid && owner != 0,
    }
}

/// The directories `config` writes, each once, with the mode sysmon gives
/// the ones it creates (README, *Security*): what [`loose_warnings`] checks.
pub fn written(config: &Config) -> Vec<(&'static str, PathBuf, u32)> {
    let mut dirs: Vec<(&'static str, PathBuf, u32)> = Vec::new();
    for (what, path, mode) in [
        ("backup_dir", &config.backup_dir, 0o700),
        ("log_dir", &config.log_dir, 0o750),
        ("state_dir", &config.state_dir, 0o700),
    ] {
        if dirs.iter().all(|d| d.1 != *path) {
            dirs.push((what, path.clone(), mode));
        }
    }
    dirs
}

/// Warns (log) of each existing directory of `dirs` ([`written`]) that a
/// user other than `daemon_uid` and root could change, once each, naming
/// the path, its mode and owner, and the fix. A missing directory is made
/// right when first written; one that cannot be looked at is reported by
/// whatever writes it. One on a mount that may hang (NFS, CIFS, FUSE: by
/// the mount table under `proc_root`) is not looked at: its `stat` would
/// wait for the server, holding the start, and this is advice, not a
/// condition of serving.
pub fn warn_if_loose(dirs: &[(&'static str, PathBuf, u32)], daemon_uid: u32, proc_root: &Path) {
    use std::os::unix::fs::MetadataExt;
    for (what, path, wanted_mode) in dirs {
        if crate::backup::gate::may_hang(proc_root, path) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        let (mode, owner) = (meta.mode() & 0o7777, meta.uid());
        let loose = looseness(mode, owner, daemon_uid);
        if meta.is_dir() && loose != Loose::default() {
            crate::log::warn(format_args!(
                "{}",
                LooseWarning {
                    what,
                    path,
                    mode,
                    owner,
                    wanted_mode: *wanted_mode,
                    daemon_uid,
                    loose,
                }
            ));
        }
    }
}

/// The text of one [`warn_if_loose`] warning.
struct LooseWarning<'a> {
    what: &'a str,
    path: &'a Path,
    mode: u32,
    owner: u32,
    wanted_mode: u32,
    daemon_uid: u32,
    loose: Loose,
}

impl std::fmt::Display for LooseWarning<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (path, owner, uid) = (self.path.display(), self.owner, self.daemon_uid);
        write!(
            f,
            "{} {path} (mode {:04o}, owner uid {owner}) is ",
            self.what, self.mode
        )?;
        let (writable, foreign) = (self.loose.writable_by_others, self.loose.foreign_owner);
        if writable {
            f.write_str("writable by its group or everyone without the sticky bit")?;
        }
        if writable && foreign {
            f.write_str(", and ")?;
        }
        if foreign {
            write!(
                f,
                "owned by uid {owner}, neither sysmon's (uid {uid}) nor root"
            )?;
        }
        f.write_str(": another user can delete or replace what sysmon keeps there; ")?;
        if writable {
            write!(f, "chmod {:o} {path}", self.wanted_mode)?;
        }
        if writable && foreign {
            f.write_str(", ")?;
        }
        if foreign {
            write!(f, "chown {uid} {path}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn creates_missing_corrects_its_own_and_leaves_shared_ones() {
        let root = std::env::temp_dir().join(format!("sysmon-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("shared")).unwrap();
        std::fs::set_permissions(root.join("shared"), PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(root.join("own/sysmon")).unwrap();
        std::fs::set_permissions(root.join("own/sysmon"), PermissionsExt::from_mode(0o755))
            .unwrap();
        let text = format!(
            "backup_dir = {r}/new/deep/backups\nlog_dir = {r}/shared\nstate_dir = {r}/own/sysmon\n",
            r = root.display()
        );
        let config = Config::parse(text.as_bytes(), Path::new("/etc/sysmon.conf")).unwrap();
        let (uid, gid) = (crate::sys::effective_uid(), crate::sys::resgid().1);
        let done: Vec<(&str, Prepared)> = of(&config, None)
            .iter()
            .map(|d| (d.what, prepare(d, uid, gid).unwrap()))
            .collect();
        assert_eq!(
            done,
            [
                ("backup_dir", Prepared::Created),
                ("log_dir", Prepared::LeftAsItIs),
                ("state_dir", Prepared::Corrected)
            ]
        );
        assert_eq!(mode(&root.join("new/deep/backups")), 0o700);
        assert_eq!(mode(&root.join("new/deep")), 0o755);
        assert_eq!(mode(&root.join("shared")), 0o755);
        assert_eq!(mode(&root.join("own/sysmon")), 0o700);
        // The log file's directory: 0750, once, even when it is a key's too.
        let dirs = of(&config, Some(&root.join("own/sysmon")));
        assert_eq!(dirs.len(), 3);
        assert_eq!(dirs[2].mode, 0o750);
        prepare(&dirs[2], uid, gid).unwrap();
        assert_eq!(mode(&root.join("own/sysmon")), 0o750);
        // A file where a directory should be is an error naming it.
        std::fs::write(root.join("file"), "").unwrap();
        let file = Dir {
            what: "log_dir",
            path: root.join("file"),
            mode: 0o700,
        };
        let error = prepare(&file, uid, gid).unwrap_err().to_string();
        assert!(error.contains("not a directory"), "{error}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn loose_is_writable_by_others_without_sticky_or_a_foreign_owner() {
        let daemon = 1000;
        for (mode, owner, writable, foreign) in [
            (0o700, 1000, false, false),
            (0o750, 0, false, false),
            (0o755, 1000, false, false),
            (0o777, 1000, true, false),
            (0o770, 1000, true, false),
            (0o707, 0, true, false),
            (0o1777, 0, false, false),
            (0o700, 1001, false, true),
            (0o777, 1001, true, true),
        ] {
            assert_eq!(
                looseness(mode, owner, daemon),
                Loose {
                    writable_by_others: writable,
                    foreign_owner: foreign
                },
                "{mode:o} owned by {owner}"
            );
        }
    }
}
