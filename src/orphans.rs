//! Descendants of audit and alert children whose parent died: found,
//! traced to the job that started them, and killed with everything below
//! them once that job has ended.
//!
//! `sysmon run` and `sysmon audit` make the process a child subreaper
//! ([`sys::become_child_subreaper`]): when a process below a job's child
//! exits, its children are reparented to sysmon instead of init. So every
//! process a job started is at any moment either below a job child that
//! sysmon tracks (killed with its process group on timeout), or an
//! *orphan*: a child of sysmon that no job tracks. `setsid`, a double fork
//! or a new process group change nothing about that.
//!
//! Invariants:
//! - An orphan still in a job child's process group (its pgid is the pid of
//!   that child, which leads its own group) belongs to that job; one whose
//!   group or session is that of a job that just ended belongs to it. Either
//!   is killed as soon as its job has ended. One that left the group
//!   (`setsid`) may come from any job running when it was first seen: it is
//!   killed once all of those have ended (jobs started later do not count,
//!   so it cannot be kept alive for ever). With no job running, every
//!   orphan is killed at once; at shutdown, all of them.
//! - Killing takes the whole subtree: SIGSTOP the orphan, then (by ppid in
//!   `/proc/*/stat`) everything below it, again until a pass finds nothing
//!   new, then SIGKILL all. A stopped process cannot fork, so none escapes
//!   by forking while the tree is walked.
//! - Reaping is by pid, `waitpid(pid, WNOHANG)` on orphans only, never
//!   `waitpid(-1)`: the status of a job's own child stays for its
//!   `std::process::Child`. What lay below a killed orphan is reparented to
//!   sysmon as it dies, and the following sweeps reap it.
//! - Cost: a sweep reads every `/proc/PID/stat` (allocates, about a
//!   millisecond per few hundred processes). It runs only when the set of
//!   job children changed, then every [`SWEEP_PERIOD`] while killed
//!   processes are still in /proc, every [`WAITING_SWEEP_PERIOD`] while
//!   orphans wait for their jobs, and at shutdown. An idle loop compares two
//!   empty slices and allocates nothing.
//!
//! Not covered: a descendant that gained privileges (a setuid program)
//! cannot be signalled by a sysmon that dropped them (`user = NAME`); and
//! after `kill -9` of sysmon itself only the direct children die (by
//! `PR_SET_PDEATHSIG`), what they started is reparented to init.

use std::time::{Duration, Instant};

use crate::{log, sys};

/// How often killed processes are looked at until they are gone.
pub const SWEEP_PERIOD: Duration = Duration::from_millis(100);
/// How often orphans waiting for their jobs are looked at (to reap one that
/// exits by itself); they become killable only when a job ends, which
/// triggers a sweep of its own.
pub const WAITING_SWEEP_PERIOD: Duration = Duration::from_secs(1);
/// How long a killed process is watched for its end (and reaped).
const KILLED_WATCH: Duration = Duration::from_secs(10);
/// Passes of the tree walk before the subtree is killed anyway.
const WALK_PASSES: usize = 16;

/// What a sweep needs from `/proc/PID/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    /// State `Z`: exited, waiting to be reaped.
    pub zombie: bool,
}

/// Parses `/proc/PID/stat`: `pid (comm) state ppid pgrp session ...`. The
/// command name may hold spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat(bytes: &[u8]) -> Option<ProcEntry> {
    let open = bytes.iter().position(|b| *b == b'(')?;
    let close = bytes.iter().rposition(|b| *b == b')')?;
    let pid = crate::proc::parse_u64(bytes[..open].trim_ascii())?;
    let mut fields = bytes
        .get(close + 1..)?
        .split(|b| *b == b' ')
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let mut number =
        || -> Option<u32> { u32::try_from(crate::proc::parse_u64(fields.next()?)?).ok() };
    let (ppid, pgid, sid) = (number()?, number()?, number()?);
    Some(ProcEntry {
        pid: u32::try_from(pid).ok()?,
        ppid,
        pgid,
        sid,
        zombie: state == b'Z',
    })
}

/// Every process in `/proc` now (those that vanish while read are skipped).
fn snapshot(out: &mut Vec<ProcEntry>) {
    out.clear();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let path = std::path::Path::new("/proc").join(name).join("stat");
        if let Some(e) = crate::sample::procfile::read_once(&path)
            .ok()
            .and_then(|b| parse_stat(&b))
        {
            out.push(e);
        }
    }
}

/// An orphan kept until the jobs it may have come from have ended.
struct Waiting {
    pid: u32,
    /// Job children (pids) running when it was first seen that it may come from.
    jobs: Vec<u32>,
}

#[derive(Default)]
pub struct Orphans {
    /// Only a subreaper gets orphans; otherwise (the library used in a test
    /// process beside other code that starts children) there is nothing to
    /// do, and a child not ours to judge must not be mistaken for one.
    enabled: bool,
    /// Job children running at the last sweep.
    jobs: Vec<u32>,
    waiting: Vec<Waiting>,
    /// Processes sent SIGKILL (orphans and what was below them) that are
    /// still in /proc, with when.
    killed: Vec<(u32, Instant)>,
    /// `None`: nothing to look at until the jobs change.
    next_sweep_at: Option<Instant>,
    procs: Vec<ProcEntry>,
}

impl Orphans {
    /// Active when this process is a child subreaper already (`run` and
    /// `audit` make it one before they start any job).
    pub fn new() -> Orphans {
        Orphans {
            enabled: sys::is_child_subreaper(),
            ..Orphans::default()
        }
    }

    /// `jobs`: the pids of the job children running now (started and not
    /// yet reaped by their jobs). Sweeps when they changed or one is due.
    pub fn poll(&mut self, now: Instant, jobs: &[u32]) {
        if !self.enabled {
            return;
        }
        let changed = jobs != self.jobs.as_slice();
        if !changed && self.next_sweep_at.is_none_or(|at| now < at) {
            return;
        }
        let ended: Vec<u32> = self
            .jobs
            .iter()
            .filter(|pid| !jobs.contains(pid))
            .copied()
            .collect();
        self.jobs.clear();
        self.jobs.extend_from_slice(jobs);
        self.sweep(&ended, false);
        self.next_sweep_at = if !self.killed.is_empty() {
            Some(now + SWEEP_PERIOD)
        } else if !self.waiting.is_empty() {
            Some(now + WAITING_SWEEP_PERIOD)
        } else {
            None
        };
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_sweep_at
    }

    /// Orphans waiting for their jobs, and killed processes not yet gone.
    pub fn pending(&self) -> usize {
        self.waiting.len() + self.killed.len()
    }

    /// Shutdown, after the jobs killed and reaped their own children:
    /// kills every orphan with its subtree and reaps them, waiting at most
    /// `limit` for the kernel to finish them off.
    pub fn kill_all(&mut self, limit: Duration) {
        if !self.enabled {
            return;
        }
        let deadline = Instant::now() + limit;
        self.jobs.clear();
        while self.sweep(&[], true) {
            if Instant::now() >= deadline {
                log::warn(format_args!(
                    "{} processes started by jobs were killed but not yet reaped at exit",
                    self.pending()
                ));
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Looks at every child of ours that no job tracks: reaps the exited,
    /// kills those whose jobs have ended (`ended`: job children gone since
    /// the last sweep; `everything`: shutdown), keeps the others waiting.
    /// True while anything is left: an orphan waiting, or a killed process
    /// still in `/proc`.
    fn sweep(&mut self, ended: &[u32], everything: bool) -> bool {
        let own = std::process::id();
        let now = Instant::now();
        let mut procs = std::mem::take(&mut self.procs);
        snapshot(&mut procs);
        // A killed process is done once it left /proc (reaped: by us, or by
        // its parent if that was still alive); the age bound covers a pid
        // reused by an unrelated process.
        self.killed.retain(|(pid, at)| {
            now.duration_since(*at) < KILLED_WATCH && procs.iter().any(|p| p.pid == *pid)
        });
        let orphans: Vec<ProcEntry> = procs
            .iter()
            .filter(|p| p.ppid == own && !self.jobs.contains(&p.pid))
            .copied()
            .collect();
        // Forget waiting orphans that are no longer ours.
        self.waiting
            .retain(|w| orphans.iter().any(|o| o.pid == w.pid && !o.zombie));
        for orphan in &orphans {
            if orphan.zombie {
                self.reap(orphan.pid);
            } else if self.killed.iter().any(|(pid, _)| *pid == orphan.pid) {
                // Dying; the next sweep reaps it.
            } else if everything || self.job_ended(orphan, ended) {
                self.kill_tree(orphan.pid, &mut procs, now);
            }
        }
        self.procs = procs;
        !self.waiting.is_empty() || !self.killed.is_empty()
    }

    /// Whether every job `orphan` may have come from has ended; records it
    /// as waiting when first seen otherwise.
    fn job_ended(&mut self, orphan: &ProcEntry, ended: &[u32]) -> bool {
        let running = &self.jobs;
        if let Some(w) = self.waiting.iter_mut().find(|w| w.pid == orphan.pid) {
            w.jobs.retain(|pid| running.contains(pid));
            return w.jobs.is_empty();
        }
        let jobs = if running.contains(&orphan.pgid) {
            vec![orphan.pgid]
        } else if ended.contains(&orphan.pgid) || ended.contains(&orphan.sid) {
            Vec::new()
        } else {
            running.clone()
        };
        if jobs.is_empty() {
            return true;
        }
        self.waiting.push(Waiting {
            pid: orphan.pid,
            jobs,
        });
        false
    }

    /// SIGSTOP `root` and everything below it until the tree stops
    /// growing, then SIGKILL it all (see the module docs).
    fn kill_tree(&mut self, root: u32, procs: &mut Vec<ProcEntry>, now: Instant) {
        let mut tree = vec![root];
        let _ = sys::signal_process(root, libc::SIGSTOP);
        for _ in 0..WALK_PASSES {
            snapshot(procs);
            let before = tree.len();
            // Processes are listed by pid, not by ancestry: repeat until closed.
            loop {
                let found = procs
                    .iter()
                    .filter(|p| tree.contains(&p.ppid) && !tree.contains(&p.pid))
                    .map(|p| p.pid)
                    .collect::<Vec<_>>();
                if found.is_empty() {
                    break;
                }
                for pid in found {
                    let _ = sys::signal_process(pid, libc::SIGSTOP);
                    tree.push(pid);
                }
            }
            if tree.len() == before {
                break;
            }
        }
        for pid in &tree {
            let _ = sys::signal_process(*pid, libc::SIGKILL);
            self.killed.push((*pid, now));
        }
        self.waiting.retain(|w| w.pid != root);
        log::info(format_args!(
            "killed {} process(es) left behind by an audit or alert command (pid {root} and below)",
            tree.len()
        ));
    }

    /// Reaps our exited child `pid`.
    fn reap(&mut self, pid: u32) {
        match sys::reap_if_exited(pid) {
            Ok(true) => self.killed.retain(|(k, _)| *k != pid),
            Ok(false) => {}
            Err(e) => log::warn(format_args!("cannot reap process {pid}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_the_last_parenthesis() {
        // Captured from Linux 6.1 (`cat /proc/PID/stat`), comm with a space
        // and parentheses as a hostile program may choose.
        let line = b"4242 (a) b (c) S 17 4242 4242 0 -1 4194560 95 0 0 0 0 0 0 0 20 0 1 0\n";
        assert_eq!(
            parse_stat(line),
            Some(ProcEntry {
                pid: 4242,
                ppid: 17,
                pgid: 4242,
                sid: 4242,
                zombie: false
            })
        );
        let zombie = b"77 (sh) Z 1 70 70 0 -1 4227148 0 0 0 0 0 0 0 0 20 0 1 0\n";
        assert!(parse_stat(zombie).unwrap().zombie);
        for bad in [
            &b""[..],
            b"12 sh S 1 2 3",
            b"x (sh) S 1 2 3",
            b"12 (sh) S 1 2",
        ] {
            assert_eq!(parse_stat(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_a_subreaper_looks_for_orphans() {
        // The test process is no subreaper: its children (other tests')
        // are left alone.
        assert!(!sys::is_child_subreaper());
        let mut orphans = Orphans::new();
        orphans.poll(Instant::now(), &[1]);
        orphans.poll(Instant::now(), &[]);
        assert_eq!(orphans.next_deadline(), None);
    }

    #[test]
    fn the_live_snapshot_holds_this_process() {
        let mut procs = Vec::new();
        snapshot(&mut procs);
        let me = procs
            .iter()
            .find(|p| p.pid == std::process::id())
            .expect("this process in /proc");
        assert!(!me.zombie);
    }
}
