//! Issue 18: the install path a user takes, on fresh Debian 12 systems booted
//! with their own init in systemd-nspawn (rootfs tarballs made once by
//! mmdebstrap and cached, see [`debian_rootfs`]). The project tree is bound
//! read-only into the container; `make` ran on the host as the user would
//! (their own toolchain), and `make install` runs inside as root with the
//! PATH Debian's sudo gives (no cargo, no rustup). Each test then:
//! - enables and starts the service the way `make install` says;
//! - finds the boot backup holding /etc/shadow (root-only), state `ok`;
//! - finds the audit `stale` with an unknown count, since a minbase rootfs
//!   never downloaded apt's lists (/data.json, /metrics, `sysmon audit`
//!   exit 3);
//! - runs `make uninstall` with the service running: nothing runs, nothing
//!   is installed, nothing enables it.
//!
//! systemd: `systemctl enable --now sysmon`, a clean journal (no config dump).
//! OpenRC (sysvinit-core + openrc, Debian's OpenRC has no capability
//! support): `rc-update add sysmon default`, `rc-service sysmon start` with
//! the shipped conf.d, after the user was removed (what a DESTDIR install
//! leaves: the service creates it); kill -9 is followed by a respawn; the
//! next boot starts it (and makes that boot's backup).
//!
//! They boot containers and download packages on the first run, so they run
//! only with CI=true or SYSMON_SYSTEM_TESTS=1.
mod common;
use common::*;
use std::io::Read;
use std::time::{Duration, Instant};

const PORT: u16 = 8080;

/// The user's `make` on the host: the release binary in the tree, which the
/// container's `make install` copies. `None` (SKIPPED) if it cannot build.
fn user_make(why: &str) -> Option<()> {
    let mut cmd = std::process::Command::new("make");
    cmd.args(["-s", "-C"]).arg(repo()).arg("build");
    if run(cmd).status.success() {
        Some(())
    } else {
        eprintln!("SKIPPED: {why}: `make` (the release build) failed on the host");
        None
    }
}

fn enabled(what: &str) -> bool {
    system_tests_enabled(what)
        && is_root(what)
        && have_tool("systemd-nspawn", what)
        && have_tool("nsenter", what)
        && have_tool("setsid", what)
}

fn binds() -> Vec<String> {
    vec![format!("--bind-ro={}:/src/sysmon", repo().display())]
}

/// `make install` inside, as root without cargo: what it printed.
fn make_install(c: &Nspawn) -> String {
    let out = c.sh("cd /src/sysmon && command -v cargo rustup; make install");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "make install failed");
    assert!(
        !stdout.contains("/cargo") && !stdout.contains("/rustup"),
        "cargo is on the container's PATH: {stdout}"
    );
    assert!(
        !stderr.contains("target is not available") && !stderr.contains("cargo:"),
        "install spoke of building: {stderr}"
    );
    stdout
}

/// Waits for the backup and the audit to have finished; /data.json then.
fn settled(c: &Nspawn, log: &dyn Fn() -> String) -> miniserde::json::Value {
    let found = wait_for(Duration::from_secs(30), || {
        let r = c.get(PORT, "/data.json");
        if r.status != 200 {
            return None;
        }
        let v: miniserde::json::Value = miniserde::json::from_str(&r.body_text()).ok()?;
        let backup = text(&v, &["backup", "state"])?;
        let updates = text(&v, &["updates", "state"])?;
        (!["pending", "running"].contains(&backup.as_str())
            && !["pending", "running"].contains(&updates.as_str()))
        .then_some(v)
    });
    found.unwrap_or_else(|| panic!("the jobs never finished:\n{}", log()))
}

/// The boot backup holds the root-only /etc/shadow; the archive is `ok`.
fn assert_backup_complete(c: &Nspawn, v: &miniserde::json::Value) {
    assert_eq!(text(v, &["backup", "state"]).as_deref(), Some("ok"));
    let skipped =
        field(v, &["backup", "last", "skipped_permission"]).map(miniserde::json::to_string);
    assert_eq!(skipped.as_deref(), Some("0"));
    let file = text(v, &["backup", "last", "file"]).expect("an archive");
    let zip = std::fs::File::open(c.host_path(&file)).unwrap();
    let mut zip = zip::ZipArchive::new(zip).expect("a zip archive");
    let mut shadow = String::new();
    zip.by_name("etc/shadow")
        .expect("etc/shadow in the archive")
        .read_to_string(&mut shadow)
        .unwrap();
    assert!(shadow.lines().any(|l| l.starts_with("root:")), "{shadow}");
    assert_eq!(
        c.ok("stat -c '%a' /etc/shadow").trim(),
        "640",
        "root-only (group shadow)"
    );
}

/// Never downloaded lists: stale, count unknown, everywhere.
fn assert_audit_unknown(c: &Nspawn, v: &miniserde::json::Value) {
    assert_eq!(text(v, &["updates", "state"]).as_deref(), Some("stale"));
    assert_eq!(
        field(v, &["updates", "count"])
            .map(miniserde::json::to_string)
            .as_deref(),
        Some("null")
    );
    assert!(
        text(v, &["updates", "error"]).is_some_and(|e| e.contains("never downloaded")),
        "{}",
        miniserde::json::to_string(v)
    );
    let metrics = c.get(PORT, "/metrics").body_text();
    assert!(metrics.contains("\nsysmon_updates_stale 1\n"), "{metrics}");
    assert!(!metrics.contains("sysmon_updates_pending"), "{metrics}");
    assert!(
        metrics.contains("\nsysmon_backup_last_files_unreadable 0\n"),
        "{metrics}"
    );
    let out = c.sh("sysmon audit");
    assert_eq!(out.status.code(), Some(3), "sysmon audit: unknown");
    assert!(out.stdout.is_empty());
}

/// After `make uninstall`: no sysmon process, none of its files.
fn assert_uninstalled(c: &Nspawn, files: &[&str]) {
    let gone = wait_for(Duration::from_secs(10), || {
        c.pids("sysmon").is_empty().then_some(())
    });
    assert!(gone.is_some(), "sysmon still runs: {:?}", c.pids("sysmon"));
    for f in files {
        assert!(
            std::fs::symlink_metadata(c.host_path(f)).is_err(),
            "{f} is still there"
        );
    }
}

#[test]
fn fresh_debian_with_systemd_make_install_enable_backup_audit_uninstall() {
    const WHAT: &str = "install on a fresh Debian with systemd";
    if !enabled(WHAT) || user_make(WHAT).is_none() {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("debian-systemd");
    let Some(root) = debian_rootfs(&dir, "systemd,systemd-sysv,dbus,make", WHAT) else {
        return;
    };
    std::fs::write(root.join("etc/machine-id"), random_machine_id()).unwrap();
    eprintln!("rootfs ready after {:?}", started.elapsed());
    let mut args = binds();
    args.extend(["--".into(), "systemd.firstboot=off".into()]);
    let mut c = Nspawn::boot(&root, &args, "systemctl poweroff --no-block");
    let booted = c.wait_systemd_booted();
    assert!(booted.is_some(), "systemd never finished booting");
    eprintln!("booted after {:?}", started.elapsed());

    let said = make_install(&c);
    assert!(said.contains("    systemctl enable --now sysmon"), "{said}");
    let journal = || {
        String::from_utf8_lossy(
            &c.command("journalctl", &["-u", "sysmon", "-o", "cat", "--no-pager"])
                .output()
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    c.ok("systemctl enable --now sysmon");
    let v = settled(&c, &journal);
    assert_backup_complete(&c, &v);
    assert_audit_unknown(&c, &v);
    // A clean start: systemd's own line and sysmon's, no configuration dump.
    let log = journal();
    assert!(!log.contains("backup_dir = "), "{log}");
    assert_eq!(
        log.lines().filter(|l| l.starts_with("Started ")).count(),
        1,
        "{log}"
    );

    // Uninstall while it runs: stopped, disabled, gone.
    let said = c.ok("cd /src/sysmon && make uninstall");
    assert!(said.contains("systemctl disable --now sysmon"), "{said}");
    assert_uninstalled(
        &c,
        &[
            "/usr/local/bin/sysmon",
            "/usr/local/lib/systemd/system/sysmon.service",
            "/etc/systemd/system/multi-user.target.wants/sysmon.service",
            "/etc/sysmon.conf",
        ],
    );
    let state = c.sh("systemctl is-active sysmon");
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "inactive");
    let ended = c.poweroff();
    assert!(ended.is_some(), "the container did not power off");
    eprintln!("done in {:?}", started.elapsed());
}

/// The OpenRC container's boot is done once the default runlevel started.
fn openrc_booted(c: &Nspawn) -> bool {
    wait_for(Duration::from_secs(30), || {
        let out = c.command("sh", &["-c", "[ \"$(cat /run/openrc/softlevel 2>/dev/null)\" = default ] && ! ls /run/openrc/starting/* >/dev/null 2>&1 && rc-status -r"]).output().ok()?;
        (out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "default")
            .then_some(())
    })
    .is_some()
}

fn child_pid(c: &Nspawn) -> Option<u32> {
    let out = c
        .command("cat", &["/run/openrc/options/sysmon/child_pid"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[test]
fn fresh_debian_with_openrc_make_install_start_respawn_reboot_uninstall() {
    const WHAT: &str = "install on a fresh Debian with sysvinit and OpenRC";
    if !enabled(WHAT) || user_make(WHAT).is_none() {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("debian-openrc");
    let Some(root) = debian_rootfs(&dir, "sysvinit-core,openrc,make", WHAT) else {
        return;
    };
    eprintln!("rootfs ready after {:?}", started.elapsed());
    let mut c = Nspawn::boot(&root, &binds(), "/sbin/poweroff");
    assert!(
        openrc_booted(&c),
        "OpenRC never reached the default runlevel"
    );
    eprintln!("booted after {:?}", started.elapsed());
    // What the issue saw: this OpenRC cannot pass capabilities.
    let supervisor = std::fs::read(c.host_path("/sbin/supervise-daemon")).unwrap();
    let no_caps = b"Capabilities support not enabled";
    assert!(
        supervisor.windows(no_caps.len()).any(|w| w == no_caps),
        "Debian's supervise-daemon has capability support now"
    );

    let said = make_install(&c);
    assert!(said.contains("rc-update add sysmon default"), "{said}");
    // The container's root is the rootfs directory: the log is readable
    // from here across boots.
    let log_file = root.join("var/log/sysmon/sysmon.log");
    let log = || std::fs::read_to_string(&log_file).unwrap_or_default();
    // A DESTDIR or package install creates no user: the service does, at
    // its first start. Emulated by taking away the one make made.
    c.ok("userdel sysmon && ! id sysmon");
    c.ok("rc-update add sysmon default");
    let start = c.sh("rc-service sysmon start");
    assert!(start.status.success(), "{}", log());
    // It says so, and (clean start) nothing about sysmon's directories.
    let said = String::from_utf8_lossy(&start.stdout).into_owned()
        + &String::from_utf8_lossy(&start.stderr);
    assert!(said.contains("Creating the system user sysmon"), "{said}");
    assert!(!said.contains("/var/"), "{said}");
    let v = settled(&c, &log);
    assert_backup_complete(&c, &v);
    assert_audit_unknown(&c, &v);
    // sysmon became its user itself, keeping only CAP_DAC_READ_SEARCH.
    let first = child_pid(&c).expect("supervise-daemon records the child pid");
    let status = c.ok(&format!("cat /proc/{first}/status"));
    let uid = c.ok("id -u sysmon");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(uid.trim())),
        "{status}"
    );
    assert!(status.contains("\nCapEff:\t0000000000000004\n"), "{status}");
    // A second start of a started service, and a restart, print no
    // directory corrections.
    let restart = c.sh("rc-service sysmon restart");
    let said = String::from_utf8_lossy(&restart.stdout).into_owned()
        + &String::from_utf8_lossy(&restart.stderr);
    assert!(restart.status.success(), "{said}");
    assert!(!said.contains("correcting"), "{said}");

    // kill -9: supervise-daemon starts it again.
    let before = wait_for(Duration::from_secs(10), || {
        child_pid(&c).filter(|p| *p != first && c.get(PORT, "/data.json").status == 200)
    })
    .expect("restarted");
    c.ok(&format!("kill -9 {before}"));
    let respawned = wait_for(Duration::from_secs(15), || {
        child_pid(&c).filter(|p| *p != before && c.get(PORT, "/data.json").status == 200)
    });
    assert!(respawned.is_some(), "no respawn after kill -9:\n{}", log());

    // The next boot starts it, and makes that boot's backup.
    let ended = c.poweroff();
    assert!(ended.is_some(), "the container did not power off");
    drop(c);
    let c = Nspawn::boot(&root, &binds(), "/sbin/poweroff");
    assert!(
        openrc_booted(&c),
        "OpenRC never reached the default runlevel again"
    );
    let v = settled(&c, &log);
    assert_backup_complete(&c, &v);
    let archives = c.ok("ls /var/backups/sysmon");
    assert_eq!(
        archives.lines().count(),
        2,
        "one backup per boot: {archives}"
    );

    // Uninstall while it runs: stopped, out of the runlevel, gone.
    let said = c.ok("cd /src/sysmon && make uninstall");
    assert!(said.contains("rc-service sysmon stop"), "{said}");
    assert_uninstalled(
        &c,
        &[
            "/usr/local/bin/sysmon",
            "/etc/init.d/sysmon",
            "/etc/runlevels/default/sysmon",
            "/etc/conf.d/sysmon",
            "/etc/sysmon.conf",
        ],
    );
    assert!(
        c.pids("supervise-daemon").is_empty(),
        "the supervisor still runs"
    );
    eprintln!("done in {:?}", started.elapsed());
}
