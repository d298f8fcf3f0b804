//! Helpers for the audit tests: a shim directory on PATH that replays
//! recorded package-manager runs (tests/fixtures/audit/shims/replay), and a
//! loop that drives an `AuditService` to its next published result.
#![allow(dead_code)]

use std::ffi::OsString;

use crate::common::TempDir;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sysmon::audit::{AuditEnv, AuditService};
use sysmon::config::{Config, UpdateManager};
use sysmon::report::UpdatesJson;

pub fn audit_fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audit")
        .join(rel)
}

/// A directory holding only the shims a test installs, plus the few tools
/// the replay script needs, so no real package manager can leak in.
pub struct Shims {
    pub dir: PathBuf,
}

impl Shims {
    pub fn new(root: &Path) -> Shims {
        let dir = root.join("shims");
        let tools = dir.join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        for tool in ["cat", "tr", "sleep", "sh"] {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap();
            std::os::unix::fs::symlink(real, tools.join(tool)).unwrap();
        }
        Shims { dir }
    }

    /// Installs `name` replaying `fixture` (relative to tests/fixtures/audit,
    /// or absolute) for any arguments.
    pub fn tool(&self, name: &str, fixture: &str) -> &Self {
        self.link(name);
        std::fs::write(self.dir.join(format!("{name}.scenario")), scenario(fixture)).unwrap();
        self
    }

    /// Installs `name` replaying `fixture` only when called with `args`.
    pub fn tool_args(&self, name: &str, args: &str, fixture: &str) -> &Self {
        self.link(name);
        let key = args.replace([' ', '/'], "_");
        std::fs::write(
            self.dir.join(format!("{name}.{key}.scenario")),
            scenario(fixture),
        )
        .unwrap();
        self
    }

    /// Installs `name` printing `stdout` and `stderr` and exiting `exit`
    /// for any arguments: a run recorded on the spot, in `cases/NAME`.
    pub fn tool_output(&self, name: &str, stdout: &str, stderr: &str, exit: i32) -> &Self {
        let case = self.dir.join("cases").join(name);
        std::fs::create_dir_all(&case).unwrap();
        std::fs::write(case.join("stdout"), stdout).unwrap();
        std::fs::write(case.join("stderr"), stderr).unwrap();
        std::fs::write(case.join("exit"), format!("{exit}\n")).unwrap();
        self.tool(name, case.to_str().unwrap())
    }

    fn link(&self, name: &str) {
        let link = self.dir.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(audit_fixture("shims/replay"), link).unwrap();
        }
    }

    /// Every recorded call of `name`, one line each.
    pub fn calls(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.join(format!("{name}.calls")))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn path(&self) -> OsString {
        let mut p = self.dir.clone().into_os_string();
        p.push(":");
        p.push(self.dir.join("tools"));
        p
    }
}

fn scenario(fixture: &str) -> String {
    let path = Path::new(fixture);
    if path.is_absolute() {
        fixture.to_string()
    } else {
        audit_fixture(fixture).display().to_string()
    }
}

/// A config for the library: logs in `root/logs`, the running kernel in
/// `root/proc/sys/kernel/osrelease`.
pub fn config(root: &Path, manager: UpdateManager) -> Config {
    let mut c = Config {
        log_dir: root.join("logs"),
        proc_root: root.join("proc"),
        ..Config::default()
    };
    c.updates.manager = manager;
    c
}

/// An environment rooted at `root/sysroot` with only `shims` on PATH and no
/// retries. The root holds package lists fresh from a moment ago (apt's
/// lists and pacman's sync db, as on a maintained system) and nothing else
/// unless the test adds it; without them an apt answer is stale.
pub fn env(root: &Path, shims: &Shims) -> AuditEnv {
    let sysroot = root.join("sysroot");
    for (dir, file) in [
        (
            "var/lib/apt/lists",
            "deb.debian.org_debian_dists_bookworm_InRelease",
        ),
        ("var/lib/pacman/sync", "core.db"),
    ] {
        std::fs::create_dir_all(sysroot.join(dir)).unwrap();
        std::fs::write(sysroot.join(dir).join(file), "").unwrap();
    }
    AuditEnv {
        root: sysroot,
        path: shims.path(),
        retry_delays: Vec::new(),
        poll_period: Duration::from_millis(10),
    }
}

/// A temp dir named `name` with an empty shim directory inside it.
pub fn shimmed(name: &str) -> (TempDir, Shims) {
    let dir = TempDir::new(name);
    let shims = Shims::new(dir.path());
    (dir, shims)
}

/// The service for `manager` with the default config and environment
/// rooted at `root` (see [`config`] and [`env`]).
pub fn service(root: &Path, shims: &Shims, manager: UpdateManager) -> AuditService {
    AuditService::with_env(&config(root, manager), env(root, shims))
}

/// The `updates` object of /data.json for `service` now.
pub fn status(service: &AuditService) -> UpdatesJson {
    UpdatesJson::new(service)
}

/// Polls until one more result is published (at most `limit`).
pub fn drive(service: &mut AuditService, limit: Duration) {
    let target = service.completed() + 1;
    let start = Instant::now();
    while service.completed() < target {
        assert!(
            start.elapsed() < limit,
            "no result within {limit:?}; status {:?}",
            status(service)
        );
        service.poll(Instant::now());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The log files in `dir`, sorted by name.
pub fn logs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
