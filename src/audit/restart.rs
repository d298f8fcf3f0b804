//! Which processes need a restart after an update: those still mapping an
//! executable or library that was deleted or replaced on disk (`(deleted)`
//! in `/proc/PID/maps`) under the system's binary and library directories
//! ([`SYSTEM_DIRS`]), grouped by service as needrestart reports them: the
//! systemd unit from `/proc/PID/cgroup`, else the runit or OpenRC
//! (supervise-daemon) service supervising it, else the command name.
//!
//! Invariants: read-only (nothing is restarted); never run by the sampler,
//! only after an audit and by `sysmon audit`; bounded: at most
//! [`MAPS_CAP`] bytes of maps per process, [`GROUPS_CAP`] groups with at
//! most [`PIDS_CAP`] pids and [`FILES_CAP`] files each (the totals are
//! counted past the caps). Processes that vanish or cannot be read (another
//! user's, without root) are counted, not errors. The parsers are pure:
//! [`deleted_system_files`], [`systemd_unit`].

use crate::owned::owned;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Paths whose deleted mappings matter: where packages put programs and
/// libraries. Not /tmp, /dev/shm, memfd or SysV shm, which are deleted by
/// design.
pub const SYSTEM_DIRS: [&str; 14] = [
    "/usr/bin/",
    "/usr/sbin/",
    "/usr/lib/",
    "/usr/lib32/",
    "/usr/lib64/",
    "/usr/libx32/",
    "/usr/libexec/",
    "/usr/local/bin/",
    "/usr/local/lib/",
    "/bin/",
    "/sbin/",
    "/lib/",
    "/lib32/",
    "/lib64/",
];
/// Bytes of one process's maps read (a browser maps a few hundred kB).
pub const MAPS_CAP: usize = 8 << 20;
pub const GROUPS_CAP: usize = 64;
pub const PIDS_CAP: usize = 64;
pub const FILES_CAP: usize = 16;

/// Processes sharing a service (or a command) that need a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// The systemd unit, runit or OpenRC service; `None` outside any.
    pub service: Option<String>,
    /// The command name (`/proc/PID/comm`) of the first process found.
    pub command: String,
    /// Ascending, at most [`PIDS_CAP`].
    pub pids: Vec<u32>,
    /// The deleted files mapped, at most [`FILES_CAP`].
    pub files: Vec<String>,
}

/// One scan of all processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// At most [`GROUPS_CAP`], services first, then by command.
    pub groups: Vec<Group>,
    /// Processes needing a restart, all of them (past the caps too).
    pub processes: u64,
    pub scanned: u64,
    /// Processes whose maps could not be read (permission; not vanished).
    pub unreadable: u64,
    pub elapsed: Duration,
    /// Why the scan could not look at every process (the proc root not
    /// listed; descriptors or memory ran out): its figures are then no
    /// answer, and the last scan's stand.
    pub error: Option<String>,
}

/// Scans every process under `proc_root` (`/proc` in production).
pub fn scan(proc_root: &Path) -> Scan {
    let started = Instant::now();
    let mut out = Scan::default();
    let entries = match std::fs::read_dir(proc_root) {
        Ok(entries) => entries,
        Err(e) => {
            out.error = Some(format!("{}: {e}", proc_root.display()));
            return out;
        }
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    crate::sort::sort(&mut pids);
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut files = Vec::new();
    for pid in pids {
        let dir = pid_dir(proc_root, pid);
        buf.clear();
        match std::fs::File::open(dir.join("maps"))
            .and_then(|f| f.take(MAPS_CAP as u64).read_to_end(&mut buf))
        {
            Ok(_) => out.scanned += 1,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                out.unreadable += 1;
                continue;
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
                ) =>
            {
                out.error = Some(format!("{}: {e}", dir.join("maps").display()));
                return out;
            }
            Err(_) => continue, // gone, or a kernel thread being reaped
        }
        files.clear();
        deleted_system_files(&buf, &mut files);
        if files.is_empty() {
            continue;
        }
        out.processes += 1;
        let service = service_of(proc_root, pid);
        let command = read_small(&dir.join("comm")).unwrap_or_default();
        let found = out
            .groups
            .iter()
            .position(|g| g.service == service && (service.is_some() || g.command == command));
        let at = match found {
            Some(at) => at,
            None if out.groups.len() < GROUPS_CAP => {
                out.groups.push(Group {
                    service,
                    command,
                    ..Group::default()
                });
                out.groups.len() - 1
            }
            None => continue,
        };
        let group = &mut out.groups[at];
        if group.pids.len() < PIDS_CAP {
            group.pids.push(pid);
        }
        for f in &files {
            if group.files.len() < FILES_CAP && !group.files.contains(f) {
                group.files.push(f.clone());
            }
        }
    }
    // A group is one service, or one command outside any: the key is unique.
    crate::sort::sort_by(&mut out.groups, |a, b| {
        (a.service.is_none(), &a.service, &a.command).cmp(&(
            b.service.is_none(),
            &b.service,
            &b.command,
        ))
    });
    out.elapsed = started.elapsed();
    out
}

/// The first [`FILES_CAP`] deleted files under [`SYSTEM_DIRS`] that a
/// maps text names, each once, in order of first mapping, appended to the
/// empty `out`.
///
/// A maps line is `start-end perms offset dev inode [path]`, the path
/// padded to a column and ending in ` (deleted)` once its file is unlinked
/// (replaced files are unlinked: package managers rename the new one over).
///
/// [`FILES_CAP`] is all a group keeps, and enough for it: a group holding
/// `k` files gains from a process's first [`FILES_CAP`] distinct files at
/// least `FILES_CAP - k` new ones, all it has room for. Each file was
/// looked for among all found so far, which was quadratic: 8 MiB of maps
/// ([`MAPS_CAP`]) naming 87,000 distinct deleted libraries took the scan
/// thread 98 s for that one process (debug build; see the commit).
pub fn deleted_system_files(maps: &[u8], out: &mut Vec<String>) {
    for line in maps.split(|b| *b == b'\n') {
        let Some(line) = line.strip_suffix(b" (deleted)") else {
            continue;
        };
        let Some(at) = line.iter().position(|b| *b == b'/') else {
            continue;
        };
        // The path starts at the first `/` after the five fields.
        let fields = line[..at].split(|b| *b == b' ').filter(|f| !f.is_empty());
        if fields.count() != 5 {
            continue;
        }
        let path = String::from_utf8_lossy(&line[at..]);
        if SYSTEM_DIRS.iter().any(|d| path.starts_with(d)) && !out.iter().any(|f| *f == path) {
            out.push(path.into_owned());
            if out.len() == FILES_CAP {
                return;
            }
        }
    }
}

/// The systemd unit of a `/proc/PID/cgroup` text: the last path component
/// ending in `.service` (`0::/system.slice/ssh.service` → `ssh.service`;
/// under a user's manager `user@1000.service/app.slice/x.service` → `x.service`).
pub fn systemd_unit(cgroup: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(cgroup);
    text.lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .flat_map(|path| path.split('/'))
        .rfind(|c| c.ends_with(".service"))
        .map(owned)
}

/// The service `pid` belongs to: its systemd unit, else the runit
/// (`runsv NAME`) or OpenRC (`supervise-daemon NAME ...`) supervisor among
/// its first few ancestors.
fn service_of(proc_root: &Path, pid: u32) -> Option<String> {
    let dir = pid_dir(proc_root, pid);
    if let Some(unit) = std::fs::read(dir.join("cgroup"))
        .ok()
        .and_then(|c| systemd_unit(&c))
    {
        return Some(unit);
    }
    let mut pid = pid;
    for _ in 0..4 {
        pid = parent_of(proc_root, pid)?;
        if pid <= 1 {
            return None;
        }
        let dir = pid_dir(proc_root, pid);
        let comm = read_small(&dir.join("comm"))?;
        if comm == "runsv" || comm == "supervise-daemon" {
            let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
            let name = cmdline.split(|b| *b == 0).nth(1)?;
            let name = String::from_utf8_lossy(name);
            let name = name.rsplit('/').next().unwrap_or_default();
            return (!name.is_empty()).then(|| owned(name));
        }
    }
    None
}

/// `/proc/PID` under `proc_root`: out of line, as the scan's four uses
/// are cold and each inlined copy was some 200 bytes.
#[inline(never)]
fn pid_dir(proc_root: &Path, pid: u32) -> PathBuf {
    proc_root.join(crate::owned::text_of(&pid))
}

fn parent_of(proc_root: &Path, pid: u32) -> Option<u32> {
    let stat = std::fs::read(pid_dir(proc_root, pid).join("stat")).ok()?;
    let after = stat.iter().rposition(|b| *b == b')')?;
    let rest = String::from_utf8_lossy(&stat[after + 1..]);
    super::model::word(&rest, 1)?.parse().ok()
}

fn read_small(path: &Path) -> Option<String> {
    let raw = crate::sample::procfile::read_once(path).ok()?;
    Some(owned(String::from_utf8_lossy(&raw).trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_files_under_system_dirs_only() {
        let maps = b"\
55d0c0a00000-55d0c0a28000 r--p 00000000 08:01 1311                       /usr/sbin/sshd (deleted)
7f1e2a000000-7f1e2a022000 r--p 00000000 08:01 2222                       /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)
7f1e2a022000-7f1e2a100000 r-xp 00022000 08:01 2222                       /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)
7f1e2b000000-7f1e2b001000 r--p 00000000 08:01 3333                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f1e2c000000-7f1e2c100000 rw-s 00000000 00:01 4444                       /dev/shm/pulse-shm-1 (deleted)
7f1e2d000000-7f1e2d100000 rw-s 00000000 00:01 5555                       /memfd:wayland-cursor (deleted)
7f1e2e000000-7f1e2e100000 rw-s 00000000 00:01 6666                       /SYSV00000000 (deleted)
7f1e2f000000-7f1e2f100000 r--p 00000000 08:01 7777                       /tmp/x.so (deleted)
7f1e30000000-7f1e30001000 r--p 00000000 08:01 8888                       /lib/modules/a b/with space.so (deleted)
7ffd1e000000-7ffd1e021000 rw-p 00000000 00:00 0                          [stack]
garbage (deleted)
";
        let mut got = Vec::new();
        deleted_system_files(maps, &mut got);
        assert_eq!(
            got,
            [
                "/usr/sbin/sshd",
                "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                "/lib/modules/a b/with space.so"
            ]
        );
        got.clear();
        deleted_system_files(b"", &mut got);
        assert!(got.is_empty());
    }

    /// The search among all files found so far that the function made
    /// before: the oracle, uncapped.
    fn naive_deleted_system_files(maps: &[u8]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in maps.split(|b| *b == b'\n') {
            let Some(line) = line.strip_suffix(b" (deleted)") else {
                continue;
            };
            let Some(at) = line.iter().position(|b| *b == b'/') else {
                continue;
            };
            let fields = line[..at].split(|b| *b == b' ').filter(|f| !f.is_empty());
            if fields.count() != 5 {
                continue;
            }
            let path = String::from_utf8_lossy(&line[at..]);
            if SYSTEM_DIRS.iter().any(|d| path.starts_with(d)) && !out.iter().any(|f| *f == path) {
                out.push(path.into_owned());
            }
        }
        out
    }

    fn maps_line(i: u64, path: &str) -> String {
        format!("{i:x}000-{i:x}fff r--p 00000000 08:01 {i} {path} (deleted)\n")
    }

    /// The first [`FILES_CAP`] of what the search found, over generated
    /// maps: files mapped twice, outside the system dirs, not deleted.
    #[test]
    fn deleted_files_agree_with_the_uncapped_search() {
        let mut x: u64 = 0x1234_5678;
        let mut below = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for case in 0..300 {
            let mut maps = String::new();
            for i in 0..below(60) {
                let dir = ["/usr/lib/", "/tmp/", "/lib64/"][below(3) as usize];
                let path = format!("{dir}lib{}.so", below(30));
                match below(5) {
                    0 => maps.push_str(&format!("{i:x}000-{i:x}fff r--p 0 08:01 1 {path}\n")),
                    _ => maps.push_str(&maps_line(i, &path)),
                }
            }
            let mut want = naive_deleted_system_files(maps.as_bytes());
            want.truncate(FILES_CAP);
            let mut got = Vec::new();
            deleted_system_files(maps.as_bytes(), &mut got);
            assert_eq!(got, want, "case {case}: {maps}");
        }
    }

    /// The hostile-input sweep's case: a process whose maps (the 8 MiB
    /// read) name a different deleted library on each line.
    #[test]
    fn a_process_mapping_87_000_deleted_libraries() {
        let mut maps = String::new();
        let mut i = 0;
        while maps.len() < MAPS_CAP - 128 {
            maps.push_str(&maps_line(
                i,
                &format!("/usr/lib/x86_64-linux-gnu/libgone{i}.so.1"),
            ));
            i += 1;
        }
        assert!(i > 60_000, "{i}");
        let mut got = Vec::new();
        deleted_system_files(maps.as_bytes(), &mut got);
        assert_eq!(got.len(), FILES_CAP);
        assert_eq!(
            got[FILES_CAP - 1],
            format!("/usr/lib/x86_64-linux-gnu/libgone{}.so.1", FILES_CAP - 1)
        );
    }

    #[test]
    fn units_from_cgroup() {
        for (cgroup, want) in [
            (&b"0::/system.slice/ssh.service\n"[..], Some("ssh.service")),
            (
                b"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-x.service\n",
                Some("app-x.service"),
            ),
            (
                b"12:pids:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n0::/\n",
                Some("cron.service"),
            ),
            (b"0::/user.slice/user-1000.slice/session-2.scope\n", None),
            (b"0::/\n", None),
            (b"", None),
        ] {
            assert_eq!(systemd_unit(cgroup).as_deref(), want);
        }
    }

    /// Arbitrary bytes (a small LCG, seeded) never panic the parsers, and
    /// what they return is always a system path.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x5eed;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        };
        let alphabet = b"/usr/lib (deleted)\n 0:-.service\xff\xc3";
        for _ in 0..20_000 {
            let len = usize::from(next()) % 96;
            let bytes: Vec<u8> = (0..len)
                .map(|_| match next() % 4 {
                    0 => next(),
                    _ => alphabet[usize::from(next()) % alphabet.len()],
                })
                .collect();
            let mut files = Vec::new();
            deleted_system_files(&bytes, &mut files);
            assert!(
                files
                    .iter()
                    .all(|f| SYSTEM_DIRS.iter().any(|d| f.starts_with(d)))
            );
            let _ = systemd_unit(&bytes);
        }
    }
}
