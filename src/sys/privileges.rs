//! The calls the privilege drop of `user = NAME` is made of: the passwd and
//! group databases, the capability sets (capget/capset, the bounding and
//! ambient sets, keepcaps, no_new_privs) and the set*id calls, each a thin
//! wrapper. The order of the steps and the checks that each took are policy,
//! in `crate::privileges`.

use crate::owned::owned;
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
                    name: owned(name),
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

/// The one capability sysmon keeps after `crate::privileges::drop_privileges`: read any file
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
pub fn capset(sets: CapSets) -> io::Result<()> {
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

/// `prctl(PR_SET_KEEPCAPS)`: whether this thread keeps its permitted set
/// when its uids leave 0.
pub fn set_keep_capabilities(keep: bool) -> io::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(keep), 0).map(drop)
}

/// `prctl(PR_CAPBSET_READ)`: whether `cap` is in the bounding set; `None`
/// past the last capability this kernel knows (EINVAL).
pub fn bounding_set_has(cap: u32) -> io::Result<Option<bool>> {
    match prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap), 0) {
        Ok(set) => Ok(Some(set != 0)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `prctl(PR_CAPBSET_DROP)`: takes `cap` out of the bounding set (needs
/// CAP_SETPCAP).
pub fn bounding_set_drop(cap: u32) -> io::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0).map(drop)
}

/// `prctl(PR_CAP_AMBIENT_IS_SET)`: whether `cap` is in the ambient set (an
/// error past the last capability, or before Linux 4.3).
pub fn ambient_set_has(cap: u32) -> io::Result<bool> {
    let is_set = libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong;
    prctl(libc::PR_CAP_AMBIENT, is_set, libc::c_ulong::from(cap)).map(|set| set != 0)
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: no execve can grant privileges again.
pub fn set_no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).map(drop)
}

/// `prctl(PR_GET_NO_NEW_PRIVS)`.
pub fn no_new_privs() -> io::Result<bool> {
    prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0).map(|set| set == 1)
}

/// `setgroups(2)` through the C library, which applies it to every thread.
pub fn set_groups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: setgroups reads `groups.len()` ids from the slice.
    zero_or_errno(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) })
}

/// `setresgid(gid, gid, gid)`, for every thread.
pub fn set_resgid(gid: u32) -> io::Result<()> {
    // SAFETY: setresgid takes integers only.
    zero_or_errno(unsafe { libc::setresgid(gid, gid, gid) })
}

/// `setresuid(uid, uid, uid)`, for every thread.
pub fn set_resuid(uid: u32) -> io::Result<()> {
    // SAFETY: setresuid takes integers only.
    zero_or_errno(unsafe { libc::setresuid(uid, uid, uid) })
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
pub fn group_list(account: &Account) -> io::Result<Vec<u32>> {
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
            crate::sort::sort(&mut groups);
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
pub fn current_groups() -> io::Result<Vec<u32>> {
    // SAFETY: with a size of 0 getgroups writes nothing and returns the count.
    let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let len = usize::try_from(count).map_err(|_| io::Error::last_os_error())?;
    let mut groups: Vec<libc::gid_t> = vec![0; len];
    // SAFETY: getgroups writes at most `count` ids into `groups`, which holds that many.
    let got = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
    let got = usize::try_from(got).map_err(|_| io::Error::last_os_error())?;
    groups.truncate(got);
    crate::sort::sort(&mut groups);
    groups.dedup();
    Ok(groups)
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
    }
}
