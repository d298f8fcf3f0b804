//! The privilege drop of `user = NAME`: the policy. Becomes the user for
//! good, keeping only [`sys::CAP_DAC_READ_SEARCH`] for the backup, then
//! reads every part back, every thread included: [`drop_privileges`] either
//! leaves the process fully dropped (and checked) or returns an error naming
//! the step that failed, and the caller must then exit. Each step is a thin
//! wrapper in `sys`; the order of the steps and the checks are here.

use std::io;

use crate::sys::{self, Account, CapSets, KEPT_CAPS, context};

/// What [`drop_privileges`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Already that user (not root, or `user = root` as root): nothing done.
    AlreadyThatUser,
    /// Switched from root; the groups now held.
    Switched { groups: Vec<u32> },
}

/// Becomes `account` for good: its uid and gid (real, effective and saved)
/// and its groups; of all capabilities only [`sys::CAP_DAC_READ_SEARCH`], in the
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
/// The raw `capset` and the `prctl`s apply to the calling thread only; any
/// other (none since tiny_http +sysmon.4 serves from the loop's thread;
/// before, its I/O thread was started when the socket was bound) has no
/// `PR_SET_KEEPCAPS`, so the kernel clears all its capabilities when its
/// uids leave 0 (capabilities(7)). Every thread is checked through
/// /proc/self/task. Threads and children started later copy their creator.
pub fn drop_privileges(account: &Account) -> io::Result<Dropped> {
    let (uid, gid) = (account.uid, account.gid);
    let ids = sys::resuid();
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
    let groups = sys::group_list(account).map_err(|e| context("getgrouplist", e))?;
    // Keeps the permitted set through the uid change below (this thread only).
    sys::set_keep_capabilities(true).map_err(|e| context("prctl(PR_SET_KEEPCAPS, 1)", e))?;
    sys::set_groups(&groups).map_err(|e| context(format_args!("setgroups({groups:?})"), e))?;
    sys::set_resgid(gid).map_err(|e| context(format_args!("setresgid({gid})"), e))?;
    // Emptying the bounding set needs CAP_SETPCAP, which goes with root below.
    for cap in 0..64 {
        match sys::bounding_set_has(cap) {
            Ok(Some(false)) => {}
            Ok(Some(true)) => {
                sys::bounding_set_drop(cap)
                    .map_err(|e| context(format_args!("prctl(PR_CAPBSET_DROP, {cap})"), e))?;
            }
            // Past the last capability this kernel knows.
            Ok(None) => break,
            Err(e) => return Err(context(format_args!("prctl(PR_CAPBSET_READ, {cap})"), e)),
        }
    }
    sys::set_resuid(uid).map_err(|e| context(format_args!("setresuid({uid})"), e))?;
    let kept = CapSets {
        effective: KEPT_CAPS,
        permitted: KEPT_CAPS,
        inheritable: 0,
    };
    sys::capset(kept).map_err(|e| context("capset", e))?;
    sys::clear_inherited_capabilities()?;
    sys::set_keep_capabilities(false).map_err(|e| context("prctl(PR_SET_KEEPCAPS, 0)", e))?;
    sys::set_no_new_privs().map_err(|e| context("prctl(PR_SET_NO_NEW_PRIVS, 1)", e))?;
    verify_dropped(account, &groups, kept)?;
    Ok(Dropped::Switched { groups })
}

/// Reads every part of the drop back; an error names the first that did not take.
fn verify_dropped(account: &Account, groups: &[u32], kept: CapSets) -> io::Result<()> {
    let (uid, gid) = (account.uid, account.gid);
    let not_taken = |what: String| io::Error::other(format!("after the drop, {what}"));
    if sys::resuid() != (uid, uid, uid) {
        return Err(not_taken(format!("getresuid says {:?}", sys::resuid())));
    }
    if sys::resgid() != (gid, gid, gid) {
        return Err(not_taken(format!("getresgid says {:?}", sys::resgid())));
    }
    let held = sys::current_groups().map_err(|e| context("getgroups", e))?;
    if held != groups {
        return Err(not_taken(format!(
            "getgroups says {held:?}, not {groups:?}"
        )));
    }
    let caps = sys::capget().map_err(|e| context("capget", e))?;
    if caps != kept {
        return Err(not_taken(format!("capget says {caps:x?}, not {kept:x?}")));
    }
    for cap in 0..64 {
        // EINVAL past the last capability (or before Linux 4.3, for ambient).
        if sys::ambient_set_has(cap).is_ok_and(|set| set) {
            return Err(not_taken(format!("ambient capability {cap} is set")));
        }
        if sys::bounding_set_has(cap).is_ok_and(|set| set == Some(true)) {
            return Err(not_taken(format!(
                "capability {cap} is in the bounding set"
            )));
        }
    }
    if !sys::no_new_privs().is_ok_and(|set| set) {
        return Err(not_taken("no_new_privs is not set".into()));
    }
    // Here success is the failure.
    if sys::set_resuid(0).is_ok() {
        return Err(not_taken(
            "setresuid(0) succeeded: root can be regained".into(),
        ));
    }
    verify_threads(account, groups)
}

/// Every thread in /proc/self/task holds the same ids and groups as this
/// one, and no capability beyond [`sys::CAP_DAC_READ_SEARCH`].
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
        crate::sort::sort(&mut thread_groups);
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
    fn dropping_to_who_we_are_is_a_no_op_and_to_root_needs_root() {
        let root = sys::lookup_user("root").unwrap().unwrap();
        // Only what cannot switch runs here: a test must not drop its process.
        let (ruid, euid, suid) = sys::resuid();
        if (ruid, euid, suid) == (0, 0, 0) {
            assert_eq!(drop_privileges(&root).unwrap(), Dropped::AlreadyThatUser);
        } else if euid != 0 {
            let me = Account {
                name: "me".into(),
                uid: euid,
                gid: sys::resgid().1,
            };
            if (ruid, suid) == (euid, euid) {
                assert_eq!(drop_privileges(&me).unwrap(), Dropped::AlreadyThatUser);
            }
            let error = drop_privileges(&root).unwrap_err().to_string();
            assert!(error.contains("not root"), "{error}");
        }
    }
}
