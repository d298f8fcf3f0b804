//! Issue #7, privileges: `user = NAME` makes the daemon, started as root,
//! bind first and then become that user and its groups for good, keeping
//! only CAP_DAC_READ_SEARCH (the backup reads every file); its children get
//! no capability at all. What it writes is the user's: archives 0600, logs
//! 0640, directories 0700 (logs 0750). An unknown user stops start-up.
//!
//! The drop needs root: without it these tests print SKIPPED and pass.
//! They create a system user and group (`sysmon-t<pid><tag>`, removed on
//! drop even when a test fails), or use `nobody` where useradd is missing.
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use miniserde::json::{Number, Value};

/// A system user (with its own group and one more) for the length of a test.
struct TempUser {
    name: String,
    extra_group: Option<String>,
    created: bool,
}

impl TempUser {
    /// `sysmon-t<pid><tag>` in groups of its own name and `sysmon-g<pid><tag>`;
    /// `nobody` when useradd is not installed.
    fn create(tag: &str) -> TempUser {
        if !have_tool("useradd", "a user of the test's own") {
            eprintln!("using `nobody` instead");
            return TempUser {
                name: "nobody".into(),
                extra_group: None,
                created: false,
            };
        }
        let pid = std::process::id();
        // Set up before the commands run, so that Drop cleans up a half-made one.
        let user = TempUser {
            name: format!("sysmon-t{pid}{tag}"),
            extra_group: Some(format!("sysmon-g{pid}{tag}")),
            created: true,
        };
        let group = user.extra_group.as_deref().unwrap();
        assert!(sh(&format!("groupadd --system {group}")).status.success());
        assert!(
            sh(&format!(
                "useradd --system --no-create-home --shell /usr/sbin/nologin \
                 --user-group --groups {group} {}",
                user.name
            ))
            .status
            .success()
        );
        user
    }

    fn id(&self, flag: &str) -> Vec<u32> {
        let out = run({
            let mut c = Command::new("id");
            c.arg(flag).arg(&self.name);
            c
        });
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    }

    fn uid(&self) -> u32 {
        self.id("-u")[0]
    }

    fn gid(&self) -> u32 {
        self.id("-g")[0]
    }

    /// A directory of this user's, for sysmon to create its own in.
    fn own(&self, dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        let mut c = Command::new("chown");
        c.arg(&self.name).arg(dir);
        assert!(run(c).status.success());
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        if !self.created {
            return;
        }
        // userdel also removes the group named after the user.
        let _ = sh(&format!("userdel {0}; groupdel {0} 2>/dev/null", self.name));
        if let Some(group) = &self.extra_group {
            let _ = sh(&format!("groupdel {group}"));
        }
    }
}

/// `Key:\tvalue` lines of a /proc status file, read naively.
fn status_of(path: &Path) -> std::collections::HashMap<String, String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    status_fields(&text)
}

fn status_fields(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// As [`status_of`], or `None` when the task ended before the read
/// (ENOENT, or ESRCH for a task going away during it).
fn status_if_alive(path: &Path) -> Option<std::collections::HashMap<String, String>> {
    match fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(3) => None,
        Err(e) => panic!("{}: {e}", path.display()),
        Ok(text) => Some(status_fields(&text)),
    }
}

fn numbers(value: &str) -> Vec<u32> {
    value
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

fn mask(value: &str) -> u64 {
    u64::from_str_radix(value, 16).unwrap()
}

/// A port below 1024 that was free a moment ago: only root may bind it,
/// so a daemon answering there bound it before it dropped root.
fn free_privileged_port() -> u16 {
    (900..1024)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port from 900 to 1023")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn owner(path: &Path) -> u32 {
    fs::metadata(path).unwrap().uid()
}

fn only_file(dir: &Path, prefix: &str) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(files.len(), 1, "{files:?} in {}", dir.display());
    files.into_iter().next().unwrap()
}

/// A `checkupdates` in `dir/shims` that saves its own /proc status to
/// `out/child-status` and reports nothing pending: the audit's child, seen
/// from inside. Returns the shim directory and that file.
fn recording_checkupdates(dir: &TempDir, out: &Path) -> (PathBuf, PathBuf) {
    let shims = dir.join("shims");
    fs::create_dir_all(&shims).unwrap();
    let child_status = out.join("child-status");
    let shim = shims.join("checkupdates");
    fs::write(
        &shim,
        format!(
            "#!/bin/sh\ncat /proc/$$/status > {}\nexit 2\n",
            child_status.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&shim, fs::Permissions::from_mode(0o755)).unwrap();
    (shims, child_status)
}

/// Root-only files to back up: a 0600 file, and a file in a 0700 directory.
fn root_only_sources(dir: &TempDir) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(src.join("private")).unwrap();
    fs::write(src.join("secret.txt"), "root eyes only\n").unwrap();
    fs::write(src.join("private/key"), "a private key\n").unwrap();
    fs::set_permissions(src.join("secret.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(src.join("private/key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(src.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o700)).unwrap();
    src
}

#[test]
fn user_drops_root_after_binding_keeping_only_cap_dac_read_search() {
    if !is_root("dropping privileges with `user`") {
        return;
    }
    let dir = TempDir::new("privileges");
    let user = TempUser::create("a");
    let (uid, gid) = (user.uid(), user.gid());
    let out = dir.join("out");
    user.own(&out);
    let src = root_only_sources(&dir);
    // The audit's package manager: records its own credentials, reports nothing pending.
    let (shims, child_status) = recording_checkupdates(&dir, &out);
    let config = dir.join("sysmon.conf");
    fs::write(
        &config,
        format!(
            "user = {name}\nbackup_dir = {o}/backups\nlog_dir = {o}/logs\nstate_dir = {o}/state\n\
             backup_source = {src}\nupdate_manager = pacman\nmounts = /\n",
            name = user.name,
            o = out.display(),
            src = src.display()
        ),
    )
    .unwrap();
    let port = free_privileged_port();
    let path = format!("{}:/usr/bin:/bin", shims.display());
    // A unix socket too, made by root before the drop.
    let run_dir = dir.join("run");
    user.own(&run_dir);
    let socket = run_dir.join("http.sock");
    let mut d = Daemon::start_on(
        &format!("127.0.0.1:{port}"),
        &[
            "--listen",
            socket.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        |c| {
            c.env("PATH", &path);
        },
    );
    assert_eq!(d.addr.port(), port);
    assert!(
        d.wait_log(
            &format!("running as user {}", user.name),
            Duration::from_secs(5)
        ),
        "{}",
        d.dump()
    );

    // The process: the user's ids and groups, CAP_DAC_READ_SEARCH (bit 2) alone.
    let status = status_of(Path::new(&format!("/proc/{}/status", d.pid())));
    assert_eq!(numbers(&status["Uid"]), [uid; 4], "{status:?}");
    assert_eq!(numbers(&status["Gid"]), [gid; 4], "{status:?}");
    let groups: BTreeSet<u32> = numbers(&status["Groups"]).into_iter().collect();
    let want_groups: BTreeSet<u32> = user.id("-G").into_iter().collect();
    assert_eq!(groups, want_groups);
    if user.extra_group.is_some() {
        assert_eq!(groups.len(), 2, "its own group and the extra one");
    }
    assert_eq!(mask(&status["CapEff"]), 0x4, "{status:?}");
    assert_eq!(mask(&status["CapPrm"]), 0x4, "{status:?}");
    assert_eq!(mask(&status["CapInh"]), 0, "{status:?}");
    assert_eq!(mask(&status["CapAmb"]), 0, "{status:?}");
    assert_eq!(mask(&status["CapBnd"]), 0, "{status:?}");
    assert_eq!(status["NoNewPrivs"], "1");
    // Every thread, tiny_http's included (started before the drop). A
    // short-lived one (a mount probe, a slow sensor's read) may end between
    // the listing and the read: its status is gone, and it is skipped; the
    // main thread's never is.
    let tasks = fs::read_dir(format!("/proc/{}/task", d.pid())).unwrap();
    let mut checked = 0;
    for task in tasks {
        let path = task.unwrap().path().join("status");
        let Some(task) = status_if_alive(&path) else {
            continue;
        };
        checked += 1;
        assert_eq!(numbers(&task["Uid"]), [uid; 4], "{task:?}");
        assert_eq!(mask(&task["CapEff"]) & !0x4, 0, "{task:?}");
        assert_eq!(mask(&task["CapPrm"]) & !0x4, 0, "{task:?}");
        assert_eq!(mask(&task["CapInh"]) | mask(&task["CapAmb"]), 0);
    }
    assert!(checked >= 1, "no thread of {} read", d.pid());

    // Both jobs finish; the dashboard answers on the privileged port.
    let v = wait_for(Duration::from_secs(30), || {
        let v = d.data();
        let done =
            |job| text(&v, &[job, "state"]).is_some_and(|s| s != "pending" && s != "running");
        (done("backup") && done("updates")).then_some(v)
    })
    .unwrap_or_else(|| panic!("the jobs did not finish\n{}", d.dump()));
    let json = miniserde::json::to_string(&v);
    assert_eq!(
        text(&v, &["backup", "state"]).as_deref(),
        Some("ok"),
        "{json}"
    );
    assert_eq!(
        text(&v, &["updates", "state"]).as_deref(),
        Some("ok"),
        "{json}"
    );
    assert!(
        matches!(
            field(&v, &["backup", "last", "skipped"]),
            Some(Value::Number(Number::U64(0)))
        ),
        "nothing skipped: {json}"
    );

    // The archive: the user's, 0600, in a 0700 directory of the user's,
    // holding the files only root could read.
    let backups = out.join("backups");
    assert_eq!((owner(&backups), mode(&backups)), (uid, 0o700));
    let archive = only_file(&backups, "backup_");
    assert_eq!((owner(&archive), mode(&archive)), (uid, 0o600));
    let verify = run(sysmon(&["verify", archive.to_str().unwrap()]));
    assert!(verify.status.success());
    if have_tool("unzip", "reading the root-only files back") {
        for (entry, content) in [
            ("src/secret.txt", "root eyes only\n"),
            ("src/private/key", "a private key\n"),
        ] {
            let out = run({
                let mut c = Command::new("unzip");
                c.arg("-p").arg(&archive).arg(entry);
                c
            });
            assert_eq!(String::from_utf8_lossy(&out.stdout), content, "{entry}");
        }
    }
    // The audit log: 0640 in a 0750 directory (the daemon's umask is 077).
    let logs = out.join("logs");
    assert_eq!((owner(&logs), mode(&logs)), (uid, 0o750));
    let log = only_file(&logs, "updates_");
    assert_eq!((owner(&log), mode(&log)), (uid, 0o640));
    let state = out.join("state");
    assert_eq!((owner(&state), mode(&state)), (uid, 0o700));

    // The audit's child: the user, and no capability of any kind.
    let child = status_of(&child_status);
    assert_eq!(numbers(&child["Uid"]), [uid; 4], "{child:?}");
    for set in ["CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"] {
        assert_eq!(mask(&child[set]), 0, "{set} of the audit child: {child:?}");
    }
    assert_eq!(child["NoNewPrivs"], "1");

    // The unix socket was handed to the user and its group, and still serves.
    let meta = fs::symlink_metadata(&socket).unwrap();
    assert_eq!((meta.uid(), meta.gid(), mode(&socket)), (uid, gid, 0o660));
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream
        .write_all(b"GET /data.json HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200 "), "{answer}");
    // ... and the user, not root, removes it at exit.
    d.signal(15);
    assert!(
        d.wait_exit(Duration::from_secs(5)).is_some(),
        "{}",
        d.dump()
    );
    assert!(!socket.exists(), "the socket outlived the daemon");
}

#[test]
fn not_root_switches_to_no_one_else_and_becoming_yourself_is_a_no_op() {
    if !is_root("running as another user with setpriv")
        || !have_tool("setpriv", "starting sysmon as another user")
    {
        return;
    }
    let dir = TempDir::new("privileges-not-root");
    let user = TempUser::create("b");
    let out = dir.join("out");
    user.own(&out);
    let as_user = |target: &str, seconds: &str| {
        let config = dir.join(&format!("{target}.conf"));
        fs::write(
            &config,
            format!(
                "user = {target}\nbackup = off\nupdate_manager = none\nmounts = /\n\
                 backup_dir = {o}/backups\nlog_dir = {o}/logs\nstate_dir = {o}/state\n",
                o = out.display()
            ),
        )
        .unwrap();
        let mut c = Command::new("timeout");
        c.args(["-s", "TERM", seconds, "setpriv"])
            .arg(format!("--reuid={}", user.uid()))
            .arg(format!("--regid={}", user.gid()))
            .arg("--clear-groups")
            .arg(BIN)
            .args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        run(c)
    };
    let out_root = as_user("root", "10");
    let stderr = String::from_utf8_lossy(&out_root.stderr);
    assert_eq!(out_root.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot drop privileges to user `root`: running as uid")
            && stderr.contains("(not root)"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
    // As itself: runs (until timeout's SIGTERM, 124), saying there was nothing to drop.
    let out_self = as_user(&user.name, "2");
    let stderr = String::from_utf8_lossy(&out_self.stderr);
    assert_eq!(out_self.status.code(), Some(124), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "user = {}: already running as that user",
            user.name
        )) && stderr.contains("listening on")
            && stderr.contains("stopped"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_user_stops_start_up_with_status_2_naming_it() {
    let dir = TempDir::new("privileges-unknown");
    let name = format!("sysmon-nosuch{}", std::process::id());
    let config = dir.config(&format!("backup = off\nuser = {name}"));
    for args in [&["run", "--listen", "127.0.0.1:0"][..], &["check-config"]] {
        let mut all = args.to_vec();
        all.extend(["--config", config.to_str().unwrap()]);
        let out = run(sysmon(&all));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        // Line 5: the helper writes the three directories first.
        assert!(
            stderr.contains(&format!(
                "{}:5: user: no user `{name}` on this system",
                config.display()
            )),
            "{stderr}"
        );
    }
    for output in ["backups", "logs", "state"] {
        assert!(!dir.join(output).exists(), "{output} was created");
    }
}

#[test]
fn warnings_at_start_and_a_changed_user_waits_for_a_restart() {
    if !is_root("warnings about running as root") {
        return;
    }
    let dir = TempDir::new("privileges-warnings");
    let user = TempUser::create("c");
    let out = dir.join("out");
    user.own(&out);
    let config = dir.join("sysmon.conf");
    let write_config = |extra: &str| {
        let text = format!(
            "backup = off\nupdate_manager = none\nmounts = /\nbackup_dir = {o}/backups\n\
             log_dir = {o}/logs\nstate_dir = {o}/state\n{extra}\n",
            o = out.display()
        );
        fs::write(&config, text).unwrap();
    };
    let args = ["--config", config.to_str().unwrap()];
    let beyond_loopback = "running as root and listening on 0.0.0.0";

    // Root, no `user`, every address: warned, once.
    write_config("");
    let d = Daemon::start_on("0.0.0.0:0", &args, |_| {});
    assert_eq!(d.get("/data.json").status, 200);
    let warned = |d: &Daemon, needle: &str| {
        let log = d.log.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).count()
    };
    assert_eq!(warned(&d, beyond_loopback), 1, "{}", d.dump());
    drop(d);

    // With `user`: no such warning, but one for update_refresh, which needs root.
    write_config(&format!("user = {}\nupdate_refresh = on", user.name));
    let d = Daemon::start_on("0.0.0.0:0", &args, |_| {});
    assert_eq!(d.get("/data.json").status, 200);
    assert_eq!(warned(&d, beyond_loopback), 0, "{}", d.dump());
    assert_eq!(
        warned(&d, "update_refresh = on needs root"),
        1,
        "{}",
        d.dump()
    );

    // SIGHUP with another user: applies the rest, keeps the user, keeps serving.
    write_config("user = root\nupdate_refresh = on\ninterval = 1s");
    d.signal(1);
    assert!(
        d.wait_log(
            &format!(
                "SIGHUP: user changed to root but stays {} until restart",
                user.name
            ),
            Duration::from_secs(5)
        ),
        "{}",
        d.dump()
    );
    assert!(d.wait_log("SIGHUP: configuration reloaded", Duration::from_secs(5)));
    assert_eq!(d.get("/data.json").status, 200);
    let status = status_of(Path::new(&format!("/proc/{}/status", d.pid())));
    assert_eq!(numbers(&status["Uid"]), [user.uid(); 4]);
}

/// Under the shipped systemd unit (and any manager using setpriv), CAP_DAC_READ_SEARCH
/// arrives as an *ambient* capability (the only way to hand one to an
/// unprivileged user). sysmon keeps it for its own backup but must not pass
/// it to the programs it starts (the audit's package manager, alert_command).
#[test]
fn an_ambient_capability_from_the_service_manager_stays_with_sysmon() {
    if !is_root("starting sysmon as a service manager with ambient capabilities does")
        || !have_tool("setpriv", "handing sysmon an ambient capability")
    {
        return;
    }
    let dir = TempDir::new("privileges-ambient");
    let user = TempUser::create("c");
    let out = dir.join("out");
    user.own(&out);
    let (shims, child_status) = recording_checkupdates(&dir, &out);
    let config = dir.join("sysmon.conf");
    fs::write(
        &config,
        format!(
            "backup = off\nupdate_manager = pacman\nmounts = /\n\
             backup_dir = {o}/backups\nlog_dir = {o}/logs\nstate_dir = {o}/state\n",
            o = out.display()
        ),
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", shims.display());
    let gid = user.gid().to_string();
    let d = Daemon::start_with(&["--config", config.to_str().unwrap()], |c| {
        // A service manager passing the capability on as an ambient one
        // (as systemd's AmbientCapabilities= does), with setpriv.
        let program = c.get_program().to_owned();
        let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
        let mut wrapped = Command::new("setpriv");
        wrapped
            .arg(format!("--reuid={}", user.name))
            .arg(format!("--regid={gid}"))
            .args([
                "--init-groups",
                "--inh-caps=-all,+dac_read_search",
                "--ambient-caps=-all,+dac_read_search",
                "--bounding-set=-all,+dac_read_search",
                "--no-new-privs",
            ])
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", &path)
            .env("LC_ALL", "C");
        *c = wrapped;
    });
    let child = wait_for(Duration::from_secs(10), || {
        let text = fs::read_to_string(&child_status).ok()?;
        text.contains("NoNewPrivs")
            .then(|| status_of(&child_status))
    })
    .unwrap_or_else(|| panic!("the audit never ran\n{}", d.dump()));
    let daemon = status_of(Path::new(&format!("/proc/{}/status", d.pid())));
    assert_eq!(numbers(&daemon["Uid"]), [user.uid(); 4], "{daemon:?}");
    assert_eq!(mask(&daemon["CapEff"]), 0x4, "sysmon keeps it: {daemon:?}");
    assert_eq!(mask(&daemon["CapAmb"]), 0, "{daemon:?}");
    for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(mask(&child[set]), 0, "{set} of the audit child: {child:?}");
    }
}
