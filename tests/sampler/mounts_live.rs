//! On real procfs the sampler re-reads /proc/self/mounts only when the
//! kernel flags a change (POLLPRI). A mount made while the daemon runs must
//! still show up: in a private mount namespace (root only), a tmpfs mounted
//! on a listed mount point appears in /data.json at the next sample. And a
//! mount table longer than the kernel's page is read to its end.
use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_new_mount_is_noticed_while_running() {
    if !is_root("mount-change test (mounts in a private namespace)")
        || !have_tool(
            "unshare",
            "mount-change test needs a private mount namespace",
        )
    {
        return;
    }
    let dir = TempDir::new("mounts-live");
    let point = dir.join("point");
    std::fs::create_dir_all(&point).unwrap();
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\ninterval = 100ms\nmounts = {}",
        point.display()
    ));
    // The daemon and the later mount share one private namespace: sh runs
    // sysmon in the background, waits for the go file, then mounts.
    let go = dir.join("go");
    let script = format!(
        "{bin} run --listen 127.0.0.1:0 --config {config} & pid=$!; trap 'kill $pid; wait $pid; exit' TERM; \
         while [ ! -e {go} ]; do sleep 0.05; done; mount -t tmpfs -o size=1m sysmon-test {point}; wait $pid",
        bin = BIN,
        config = config.display(),
        go = go.display(),
        point = point.display()
    );
    let mut daemon = Daemon::start_with(&[], |cmd| {
        *cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(Stdio::null());
    });
    let fs_of_point = |d: &Daemon| -> String {
        let data = d.get("/data.json").body_text();
        let v: miniserde::json::Value = miniserde::json::from_str(&data).unwrap();
        let miniserde::json::Value::Object(top) = v else {
            panic!()
        };
        let Some(miniserde::json::Value::Array(disks)) = top.get("disks") else {
            return String::new();
        };
        disks
            .iter()
            .find_map(|disk| match disk {
                miniserde::json::Value::Object(o) => match o.get("fs") {
                    Some(miniserde::json::Value::String(fs)) => Some(fs.clone()),
                    _ => None,
                },
                _ => None,
            })
            .unwrap_or_default()
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(
        fs_of_point(&daemon),
        "tmpfs",
        "not mounted yet: {}",
        daemon.dump()
    );
    std::fs::write(&go, b"").unwrap();
    let start = Instant::now();
    while fs_of_point(&daemon) != "tmpfs" {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the new mount was never noticed: {}",
            daemon.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGTERM to the shell, which passes it on, so no sysmon is left behind.
    daemon.signal(15);
    assert!(
        daemon.wait_exit(Duration::from_secs(5)).is_some(),
        "{}",
        daemon.dump()
    );
}

/// Issue 12: /proc/self/mounts is a table of records that the kernel hands
/// out a page at a time; a short read is not its end. With 150 mounts
/// before it (~12 KB of table), a listed mount point is still found.
#[test]
fn a_mount_past_the_first_page_of_the_table_is_found() {
    if !is_root("long mount table test (mounts in a private namespace)")
        || !have_tool(
            "unshare",
            "long mount table test needs a private mount namespace",
        )
    {
        return;
    }
    let dir = TempDir::new("mounts-long");
    let point = dir.join("point");
    std::fs::create_dir_all(&point).unwrap();
    let config = dir.config(&format!(
        "backup = off\nupdate_manager = none\ninterval = 100ms\nmounts = {}",
        point.display()
    ));
    let script = format!(
        "for i in $(seq 150); do mkdir -p {pad}/$i && mount -t tmpfs -o size=1m sysmon-pad {pad}/$i || exit 1; done; \
         mount -t tmpfs -o size=1m sysmon-test {point} || exit 1; \
         exec {bin} run --listen 127.0.0.1:0 --config {config}",
        pad = dir.join("pad").display(),
        point = point.display(),
        bin = BIN,
        config = config.display(),
    );
    let mut daemon = Daemon::start_with(&[], |cmd| {
        *cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(Stdio::null());
    });
    let start = Instant::now();
    loop {
        let data = daemon.get("/data.json").body_text();
        if data.contains("\"fs\":\"tmpfs\"") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the mount after 150 others was never found: {data}\n{}",
            daemon.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon.signal(15);
    assert!(
        daemon.wait_exit(Duration::from_secs(5)).is_some(),
        "{}",
        daemon.dump()
    );
}
