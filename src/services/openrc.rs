//! OpenRC: the services of the current runlevel and those started, read
//! from OpenRC's own state, the files `rc-status` reads: `/run/openrc/
//! softlevel` (the runlevel), `/run/openrc/{started,starting,stopping,
//! inactive,failed}/NAME` (one symlink per service in that state),
//! `/etc/runlevels/LEVEL/NAME`, and `/run/openrc/options/NAME/pidfile` (the
//! pid file `openrc-run` recorded at start: the daemon's for
//! start-stop-daemon, the supervisor's for supervise-daemon).
//!
//! Why not `rc-status --crashed`: on Debian 12 (OpenRC 0.45.2) a
//! `command_background` service killed with SIGKILL stays `started` and
//! `--crashed` prints nothing (no `daemons/` record is written for it; seen
//! in tests/init_openrc.rs's namespace). The pid file is there: sysmon calls
//! a started service *crashed* when its recorded pid file is gone or names
//! no live process, as OpenRC's own `rc_service_daemons_crashed` does with
//! the records it has. A service in the runlevel that is none of started,
//! starting or inactive is *stopped in its runlevel* (failed to start, or
//! stopped by hand); one in `failed/` failed at the last runlevel change.
//!
//! Cost: one `read_dir` per state directory and the runlevel, and a pid file
//! per started service: it allocates (names), once per `services_every`.

use std::path::{Path, PathBuf};

use super::State;

/// Why an OpenRC service counts as failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    Crashed,
    StoppedInRunlevel,
    FailedToStart,
}

/// One service as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub state: State,
    pub problem: Option<Problem>,
    /// Unix time it was marked started (its `started/` link's mtime).
    pub since_unix: Option<u64>,
}

/// Where OpenRC keeps its state (the roots are parameters for tests).
pub struct Roots {
    /// `/run/openrc`
    pub run_dir: PathBuf,
    /// `/etc/runlevels`
    pub runlevels_dir: PathBuf,
    /// `/proc`, for the pids of pid files.
    pub proc_root: PathBuf,
}

const STARTED: u8 = 1;
const STARTING: u8 = 2;
const STOPPING: u8 = 4;
const INACTIVE: u8 = 8;
const FAILED: u8 = 16;
const IN_RUNLEVEL: u8 = 32;

/// Reads every service of the runlevel and every service in a state
/// directory into `out` (cleared first), sorted by name.
pub fn read(roots: &Roots, out: &mut Vec<Service>) -> Result<(), String> {
    out.clear();
    let softlevel_path = roots.run_dir.join("softlevel");
    let softlevel = small_text(&softlevel_path)
        .map_err(|e| format!("{}: {e} (is OpenRC running?)", softlevel_path.display()))?;
    let softlevel = softlevel.trim();
    let mut names: Vec<(String, u8, Option<u64>)> = Vec::new();
    let mut mark = |dir: &Path, flag: u8, required: bool| -> Result<(), String> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let mtime = (flag == STARTED)
                .then(|| entry.metadata().ok()?.modified().ok())
                .flatten()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            match names.iter_mut().find(|(n, _, _)| *n == name) {
                Some(known) => {
                    known.1 |= flag;
                    known.2 = known.2.or(mtime);
                }
                None => names.push((name, flag, mtime)),
            }
        }
        Ok(())
    };
    mark(&roots.run_dir.join("started"), STARTED, true)?;
    mark(&roots.run_dir.join("starting"), STARTING, false)?;
    mark(&roots.run_dir.join("stopping"), STOPPING, false)?;
    mark(&roots.run_dir.join("inactive"), INACTIVE, false)?;
    mark(&roots.run_dir.join("failed"), FAILED, false)?;
    if !softlevel.is_empty() && !softlevel.contains('/') {
        mark(&roots.runlevels_dir.join(softlevel), IN_RUNLEVEL, false)?;
    }
    // Names are distinct (one entry per name, above): an unstable sort is exact.
    crate::sort::sort(&mut names);
    for (name, flags, since) in names {
        let (state, problem) = if flags & STOPPING != 0 {
            (State::Deactivating, None)
        } else if flags & STARTING != 0 {
            (State::Activating, None)
        } else if flags & STARTED != 0 {
            if crashed(roots, &name) {
                (State::Failed, Some(Problem::Crashed))
            } else {
                (State::Active, None)
            }
        } else if flags & INACTIVE != 0 {
            (State::Inactive, None)
        } else if flags & FAILED != 0 {
            (State::Failed, Some(Problem::FailedToStart))
        } else {
            // Only in the runlevel: it should run and does not.
            (State::Failed, Some(Problem::StoppedInRunlevel))
        };
        out.push(Service {
            name,
            state,
            problem,
            since_unix: if flags & STARTED != 0 { since } else { None },
        });
    }
    Ok(())
}

/// The text of a small state or pid file: a regular file only, opened
/// without blocking, at most [`SMALL_FILE`] bytes read.
fn small_text(path: &Path) -> std::io::Result<String> {
    let bytes = crate::sample::procfile::read_at_most(path, SMALL_FILE)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// More than any runlevel name, path or pid OpenRC writes.
const SMALL_FILE: usize = 4096;

/// Whether started service `name` recorded a pid file that is gone or
/// names no live process. No recorded pid file: not judged (false).
fn crashed(roots: &Roots, name: &str) -> bool {
    let option = roots.run_dir.join("options").join(name).join("pidfile");
    let Ok(pidfile) = small_text(&option) else {
        return false;
    };
    let pidfile = pidfile.trim();
    if pidfile.is_empty() {
        return false;
    }
    // The pid file may be the service's own (its user can write where it
    // lies): a FIFO or a huge file there must not hold or grow the loop.
    let Ok(text) = small_text(Path::new(pidfile)) else {
        return true;
    };
    let Some(pid) = crate::proc::parse_u64(text.trim().as_bytes()).filter(|p| *p > 0) else {
        return true;
    };
    !alive(&roots.proc_root, pid)
}

/// A process with this pid exists and is not a zombie.
fn alive(proc_root: &Path, pid: u64) -> bool {
    match std::fs::read(proc_root.join(crate::owned::text_of(&pid)).join("stat")) {
        Ok(stat) => crate::orphans::parse_stat(&stat).is_some_and(|e| !e.zombie),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// The layout `openrc-run` made in tests/init_openrc.rs's namespace
    /// (OpenRC 0.45.2): state links point at the init script.
    fn tree(dir: &Path) -> Roots {
        let run = dir.join("run/openrc");
        for d in [
            "started", "starting", "stopping", "inactive", "failed", "options",
        ] {
            std::fs::create_dir_all(run.join(d)).unwrap();
        }
        std::fs::create_dir_all(dir.join("etc/runlevels/default")).unwrap();
        std::fs::write(run.join("softlevel"), "default\n").unwrap();
        Roots {
            run_dir: run,
            runlevels_dir: dir.join("etc/runlevels"),
            proc_root: PathBuf::from("/proc"),
        }
    }

    fn service(roots: &Roots, name: &str, states: &[&str], runlevel: bool, pid: Option<&str>) {
        for state in states {
            symlink(
                format!("/etc/init.d/{name}"),
                roots.run_dir.join(state).join(name),
            )
            .unwrap();
        }
        if runlevel {
            symlink(
                format!("/etc/init.d/{name}"),
                roots.runlevels_dir.join("default").join(name),
            )
            .unwrap();
        }
        if let Some(pid) = pid {
            let options = roots.run_dir.join("options").join(name);
            std::fs::create_dir_all(&options).unwrap();
            let pidfile = roots.run_dir.join(format!("{name}.pid"));
            std::fs::write(&pidfile, pid).unwrap();
            std::fs::write(options.join("pidfile"), pidfile.to_str().unwrap()).unwrap();
        }
    }

    #[test]
    fn crashed_stopped_and_healthy_services() {
        let dir = std::env::temp_dir().join(format!("sysmon-openrc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let roots = tree(&dir);
        let me = std::process::id().to_string();
        service(&roots, "healthy", &["started"], true, Some(&me));
        // pid 0 is never a process; `4194305` is above the kernel's pid limit.
        service(&roots, "crashed", &["started"], true, Some("4194305\n"));
        service(&roots, "stopped", &[], true, None);
        service(&roots, "manual", &["started"], false, None);
        service(&roots, "coming", &["starting"], true, None);
        service(&roots, "broken", &["failed"], false, None);
        let mut out = Vec::new();
        read(&roots, &mut out).unwrap();
        let got: Vec<(&str, State, Option<Problem>)> = out
            .iter()
            .map(|s| (s.name.as_str(), s.state, s.problem))
            .collect();
        assert_eq!(
            got,
            [
                ("broken", State::Failed, Some(Problem::FailedToStart)),
                ("coming", State::Activating, None),
                ("crashed", State::Failed, Some(Problem::Crashed)),
                ("healthy", State::Active, None),
                ("manual", State::Active, None),
                ("stopped", State::Failed, Some(Problem::StoppedInRunlevel)),
            ]
        );
        assert!(out[3].since_unix.is_some(), "started: the link's mtime");
        // Its pid file gone: crashed too.
        std::fs::remove_file(roots.run_dir.join("healthy.pid")).unwrap();
        read(&roots, &mut out).unwrap();
        assert_eq!(out[3].problem, Some(Problem::Crashed));
        // A pid file that is a FIFO nobody writes: read without waiting,
        // refused (not a regular file), so judged crashed; the read returns.
        let fifo = roots.run_dir.join("healthy.pid");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        read(&roots, &mut out).unwrap();
        assert_eq!(out[3].problem, Some(Problem::Crashed));
        std::fs::remove_file(&fifo).unwrap();
        std::fs::remove_file(roots.run_dir.join("softlevel")).unwrap();
        let err = read(&roots, &mut out).unwrap_err();
        assert!(err.contains("softlevel"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
