//! The privilege drop of `user = NAME`: the passwd and group databases, the
//! capability sets, and [`drop_privileges`], which either leaves the process
//! fully dropped (and checked, every thread) or returns an error the caller
//! must exit on. The only part of `sys` that is policy rather than a thin
//! wrapper; it stays here because every step of it is a raw call whose
//! order matters (keepcaps, set*id, capset) and is checked by reading back.

use std::io;

use super::{context, zero_or_errno};

/// A user of the passwd database, as `user = NAME` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    /// The primary group.
    pub gid: u32,
}

/// Looks `name` up in the passwd database (`getpwnam_r`; a static musl
/// binary reads /etc/passwd itself, glibc asks NSS). `Ok(None)`: no such user.
pub fn lookup_user(name: &str) -> io::Result<Option<Account>> {
    let c_name =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: `pwd`, `result` and `buf` outlive the call, and getpwnam_r
        // writes only into them (at most buf.len() bytes into `buf`). We read
        // only the integer fields, and only when `result` points at `pwd`.
        let (rc, ids) = unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            );
            let found = rc == 0 && !result.is_null();
            (rc, found.then_some((pwd.pw_uid, pwd.pw_gid)))
        };
        match rc {
            0 => {
                return Ok(ids.map(|(uid, gid)| Account {
                    name: name.to_string(),
                    uid,
                    gid,
                }));
            }
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            // Some C libraries report "no such user" as one of these.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// The one capability sysmon keeps after [`drop_privileges`]: read any file
/// and search any directory, for the backup. It cannot write, chown, signal
/// or bind (the listening socket is bound before the drop).
pub const CAP_DAC_READ_SEARCH: u32 = 2;
/// [`CAP_DAC_READ_SEARCH`] as a capability mask.
pub const KEPT_CAPS: u64 = 1 << CAP_DAC_READ_SEARCH;
/// `_LINUX_CAPABILITY_VERSION_3` (linux/capability.h): two 32-bit words per set.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`; version 3 takes two, low word first.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// A thread's capability sets as 64-bit masks (bit N = capability N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `capget(2)` for the calling thread.
pub fn capget() -> io::Result<CapSets> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: with version 3 the kernel writes exactly two CapData into
    // `data`, and at most the header into `header`; both are ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |low: u32, high: u32| (u64::from(high) << 32) | u64::from(low);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)` for the calling thread only: the raw system call, which
/// leaves other threads as they are.
fn capset(sets: CapSets) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let word = |mask: u64, high: bool| (if high { mask >> 32 } else { mask }) as u32;
    let data = [false, true].map(|high| CapData {
        effective: word(sets.effective, high),
        permitted: word(sets.permitted, high),
        inheritable: word(sets.inheritable, high),
    });
    // SAFETY: the kernel reads the header and two CapData, all ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Empties this thread's ambient and inheritable capability sets, so that
/// programs it starts (the audit's package manager, `alert_command`) get no
/// capability. The service files hand sysmon CAP_DAC_READ_SEARCH as an
/// ambient capability (the only way to pass one to an unprivileged user); it
/// stays in sysmon's own permitted and effective sets, which is where the
/// backup needs it.
///
/// Returns `Ok(false)` when the inheritable set could not be emptied because
/// a seccomp filter refuses `capset` (systemd's `@privileged` group holds
/// it): without ambient capabilities, children get nothing from it but from
/// programs with file capabilities, which `no_new_privs` disarms too.
pub fn clear_inherited_capabilities() -> io::Result<bool> {
    let clear_all = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
    match prctl(libc::PR_CAP_AMBIENT, clear_all, 0) {
        // Ambient capabilities exist since Linux 4.3; before, EINVAL: none.
        Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
            return Err(context("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e));
        }
        _ => {}
    }
    let sets = capget().map_err(|e| context("capget", e))?;
    if sets.inheritable != 0 {
        let kept = CapSets {
            inheritable: 0,
            ..sets
        };
        match capset(kept) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return Ok(false),
            Err(e) => return Err(context("capset (inheritable to none)", e)),
        }
    }
    Ok(true)
}

/// `prctl(option, arg2, arg3, 0, 0)` for the options used here, which take
/// integers only: its result, or the error named after `option`.
fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> io::Result<u32> {
    let zero: libc::c_ulong = 0;
    // SAFETY: no pointer is passed; the kernel reads the integers only.
    let rc = unsafe { libc::prctl(option, arg2, arg3, zero, zero) };
    u32::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// The real, effective and saved set user ids.
pub fn resuid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid writes three ids we own; with valid pointers it cannot fail.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// The real, effective and saved set group ids.
pub fn resgid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: as in resuid.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// The groups of `account` (its primary group included) from the group
/// database, sorted and without repeats: what initgroups(3) would set.
fn group_list(account: &Account) -> io::Result<Vec<u32>> {
    const MAX_GROUPS: usize = 65_536; // NGROUPS_MAX on Linux
    let c_name = std::ffi::CString::new(account.name.as_str())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut count = libc::c_int::try_from(groups.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: getgrouplist writes at most `count` ids into `groups`,
        // which holds that many, and the number it found into `count`.
        let rc = unsafe {
            libc::getgrouplist(
                c_name.as_ptr(),
                account.gid,
                groups.as_mut_ptr(),
                &mut count,
            )
        };
        let found = usize::try_from(count).unwrap_or(0);
        if rc >= 0 {
            groups.truncate(found.min(groups.len()));
            groups.sort_unstable();
            groups.dedup();
            return Ok(groups);
        }
        // Too small; glibc and musl both put the number needed in `count`.
        if groups.len() >= MAX_GROUPS {
            return Err(io::Error::other("more groups than NGROUPS_MAX"));
        }
        groups.resize(found.max(groups.len() * 2).min(MAX_GROUPS), 0);
    }
}

/// The calling thread's supplementary groups, sorted and without repeats.
fn current_groups() -> io::Result<Vec<u32>> {
    // SAFETY: with a size of 0 getgroups writes nothing and returns the count.
    let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let len = usize::try_from(count).map_err(|_| io::Error::last_os_error())?;
    let mut groups: Vec<libc::gid_t> = vec![0; len];
    // SAFETY: getgroups writes at most `count` ids into `groups`, which holds that many.
    let got = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
    let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
    groups.truncate(got);
    groups.sort_unstable();
    groups.dedup();
    Ok(groups)
}

/// What [`drop_privileges`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Already that user (not root, or `user = root` as root): nothing done.
    AlreadyThatUser,
    /// Switched from root; the groups now held.
    Switched { groups: Vec<u32> },
}

/// Becomes `account` for good: its uid and gid (real, effective and saved)
/// and its groups; of all capabilities only [`CAP_DAC_READ_SEARCH`], in the
/// permitted and effective sets; inheritable, ambient and bounding sets
/// empty and `no_new_privs` set. So no child (the audit's package managers,
/// alert commands) starts with a capability or can gain one through a
/// setuid or file-capability program, and root cannot be regained.
///
/// As root this switches, then reads every part back (and tries to regain
/// root); an error names the first step that failed or did not take, and
/// the caller must then exit: never run half-dropped. Not root: a no-op if
/// already `account`, otherwise an error.
///
/// Threads: the C library's set*id and setgroups apply to every thread.
/// The raw `capset` and the `prctl`s apply to the calling thread only; the
/// others (tiny_http's, started when the socket was bound) had no
/// `PR_SET_KEEPCAPS`, so the kernel cleared all their capabilities when
/// their uids left 0 (capabilities(7)). Every thread is checked through
/// /proc/self/task. Threads and children started later copy their creator.
pub fn drop_privileges(account: &Account) -> io::Result<Dropped> {
    let (uid, gid) = (account.uid, account.gid);
    let ids = resuid();
    if ids.1 != 0 || uid == 0 {
        if ids == (uid, uid, uid) {
            return Ok(Dropped::AlreadyThatUser);
        }
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "running as uid {} (not root), which cannot become user `{}` (uid {uid}): \
                 start sysmon as root, or as that user without `user`",
                ids.1, account.name
            ),
        ));
    }
    let groups = group_list(account).map_err(|e| context("getgrouplist", e))?;
    // Keeps the permitted set through the uid change below (this thread only).
    prctl(libc::PR_SET_KEEPCAPS, 1, 0).map_err(|e| context("prctl(PR_SET_KEEPCAPS, 1)", e))?;
    // SAFETY: setgroups reads `groups.len()` ids from the vector.
    zero_or_errno(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })
        .map_err(|e| context(format_args!("setgroups({groups:?})"), e))?;
    // SAFETY: setresgid takes integers only.
    zero_or_errno(unsafe { libc::setresgid(gid, gid, gid) })
        .map_err(|e| context(format_args!("setresgid({gid})"), e))?;
    // Emptying the bounding set needs CAP_SETPCAP, which goes with root below.
    for cap in 0..64 {
        match prctl(libc::PR_CAPBSET_READ, cap, 0) {
            Ok(0) => {}
            Ok(_) => {
                prctl(libc::PR_CAPBSET_DROP, cap, 0)
                    .map_err(|e| context(format_args!("prctl(PR_CAPBSET_DROP, {cap})"), e))?;
            }
            // Past the last capability this kernel knows.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(context(format_args!("prctl(PR_CAPBSET_READ, {cap})"), e)),
        }
    }
    // SAFETY: setresuid takes integers only.
    zero_or_errno(unsafe { libc::setresuid(uid, uid, uid) })
        .map_err(|e| context(format_args!("setresuid({uid})"), e))?;
    let kept = CapSets {
        effective: KEPT_CAPS,
        permitted: KEPT_CAPS,
        inheritable: 0,
    };
    capset(kept).map_err(|e| context("capset", e))?;
    clear_inherited_capabilities()?;
    prctl(libc::PR_SET_KEEPCAPS, 0, 0).map_err(|e| context("prctl(PR_SET_KEEPCAPS, 0)", e))?;
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0)
        .map_err(|e| context("prctl(PR_SET_NO_NEW_PRIVS, 1)", e))?;
    verify_dropped(account, &groups, kept)?;
    Ok(Dropped::Switched { groups })
}

/// Reads every part of the drop back; an error names the first that did not take.
fn verify_dropped(account: &Account, groups: &[u32], kept: CapSets) -> io::Result<()> {
    let (uid, gid) = (account.uid, account.gid);
    let not_taken = |what: String| io::Error::other(format!("after the drop, {what}"));
    if resuid() != (uid, uid, uid) {
        return Err(not_taken(format!("getresuid says {:?}", resuid())));
    }
    if resgid() != (gid, gid, gid) {
        return Err(not_taken(format!("getresgid says {:?}", resgid())));
    }
    let held = current_groups().map_err(|e| context("getgroups", e))?;
    if held != groups {
        return Err(not_taken(format!(
            "getgroups says {held:?}, not {groups:?}"
        )));
    }
    let caps = capget().map_err(|e| context("capget", e))?;
    if caps != kept {
        return Err(not_taken(format!("capget says {caps:x?}, not {kept:x?}")));
    }
    let is_set = libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong;
    for cap in 0..64 {
        // EINVAL past the last capability (or before Linux 4.3, for ambient).
        if prctl(libc::PR_CAP_AMBIENT, is_set, cap).is_ok_and(|set| set != 0) {
            return Err(not_taken(format!("ambient capability {cap} is set")));
        }
        if prctl(libc::PR_CAPBSET_READ, cap, 0).is_ok_and(|set| set != 0) {
            return Err(not_taken(format!(
                "capability {cap} is in the bounding set"
            )));
        }
    }
    if prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0).ok() != Some(1) {
        return Err(not_taken("no_new_privs is not set".into()));
    }
    // SAFETY: setresuid takes integers only; here success is the failure.
    if unsafe { libc::setresuid(0, 0, 0) } == 0 {
        return Err(not_taken(
            "setresuid(0) succeeded: root can be regained".into(),
        ));
    }
    verify_threads(account, groups)
}

/// Every thread in /proc/self/task holds the same ids and groups as this
/// one, and no capability beyond [`CAP_DAC_READ_SEARCH`].
fn verify_threads(account: &Account, groups: &[u32]) -> io::Result<()> {
    use crate::fsutil::with_path;
    use crate::proc::status;
    let dir = std::path::Path::new("/proc/self/task");
    let mut thread_groups = Vec::new();
    for task in std::fs::read_dir(dir).map_err(|e| with_path(dir, e))? {
        let path = task.map_err(|e| with_path(dir, e))?.path().join("status");
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            // A thread that ended meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(with_path(&path, e)),
        };
        let not_taken =
            |what: String| io::Error::other(format!("after the drop, {}: {what}", path.display()));
        let c = status::parse(&text).map_err(|e| not_taken(e.to_string()))?;
        status::groups(&text, &mut thread_groups).map_err(|e| not_taken(e.to_string()))?;
        thread_groups.sort_unstable();
        thread_groups.dedup();
        if c.uids != [account.uid; 4] || c.gids != [account.gid; 4] {
            return Err(not_taken(format!("uids {:?}, gids {:?}", c.uids, c.gids)));
        }
        if thread_groups != groups {
            return Err(not_taken(format!(
                "groups {thread_groups:?}, not {groups:?}"
            )));
        }
        let beyond = (c.cap_permitted | c.cap_effective) & !KEPT_CAPS;
        if beyond != 0 || c.cap_inheritable != 0 || c.cap_ambient.unwrap_or(0) != 0 {
            return Err(not_taken(format!("capabilities left: {c:x?}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_users_and_reads_capabilities() {
        let root = lookup_user("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(lookup_user("no-such-user-7f3a").unwrap(), None);
        assert!(lookup_user("a\0b").is_err());
        let caps = capget().unwrap();
        assert_eq!(caps.effective & !caps.permitted, 0, "{caps:x?}");
        // Only what cannot switch runs here: a test must not drop its process.
        let (ruid, euid, suid) = resuid();
        if (ruid, euid, suid) == (0, 0, 0) {
            assert_eq!(drop_privileges(&root).unwrap(), Dropped::AlreadyThatUser);
        } else if euid != 0 {
            let me = Account {
                name: "me".into(),
                uid: euid,
                gid: resgid().1,
            };
            if (ruid, suid) == (euid, euid) {
                assert_eq!(drop_privileges(&me).unwrap(), Dropped::AlreadyThatUser);
            }
            let error = drop_privileges(&root).unwrap_err().to_string();
            assert!(error.contains("not root"), "{error}");
        }
    }
}
