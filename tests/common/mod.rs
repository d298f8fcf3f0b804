//! Shared helpers for end-to-end tests: a private temp dir per test, a daemon
//! started on port 0 and torn down on drop, a raw HTTP/1.0 client, and a
//! private mount namespace for the tests that install into system paths.
//!
//! Every test that starts the real binary goes through [`Daemon::start`], so
//! the environment is cleared the same way everywhere and failures print the
//! command line and everything the daemon said.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sysmon");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

/// A writable copy of fixture `name` (links followed) at `dir/to`, for a
/// test that changes files under a running daemon.
pub fn copy_fixture(dir: &TempDir, name: &str, to: &str) -> PathBuf {
    let copy = dir.join(to);
    let copied = Command::new("cp")
        .args([
            "-rL",
            fixture(name).to_str().unwrap(),
            copy.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(copied.success(), "cp -rL {name}");
    copy
}

/// A directory of the test's own (`$TMPDIR/sysmon-test-NAME-PID-N`),
/// removed on drop, whether the test passed or failed: kept only when
/// [`KEEP_TEST_DIRS`] is set and the test failed, for post-mortems (a
/// failing test prints which). Before, every failed run left its tree in
/// /tmp for good, dozens of them.
pub struct TempDir(pub PathBuf);

/// Set (to anything) to keep a failed test's [`TempDir`].
pub const KEEP_TEST_DIRS: &str = "SYSMON_KEEP_TEST_DIRS";

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), name).unwrap()
    }

    /// Like [`TempDir::new`], in /dev/shm (tmpfs) when a directory can be
    /// made there, for trees of tens of thousands of files: ext4 makes
    /// them fast at first, but once as many were deleted in the last
    /// seconds its inode allocator skips each recently deleted inode
    /// (`recently_deleted` under `find_inode_bit`), and 30,000 files took
    /// 30–37 s instead of 2 on the test VM.
    pub fn in_memory(name: &str) -> TempDir {
        TempDir::under(Path::new("/dev/shm"), name).unwrap_or_else(|_| TempDir::new(name))
    }

    fn under(base: &Path, name: &str) -> std::io::Result<TempDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = base.join(format!("sysmon-test-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    /// Writes a config file whose output dirs live in this temp dir, with
    /// `extra` lines appended (later keys may not repeat the defaults here,
    /// so pass `backup`/`update_manager` lines only through `extra`).
    pub fn config(&self, extra: &str) -> PathBuf {
        let path = self.join("sysmon.conf");
        let text = format!(
            "backup_dir = {d}/backups\nlog_dir = {d}/logs\nstate_dir = {d}/state\n{extra}\n",
            d = self.0.display()
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let shown = self.0.display();
        if std::thread::panicking() {
            if std::env::var_os(KEEP_TEST_DIRS).is_some() {
                eprintln!("test files kept in {shown} ({KEEP_TEST_DIRS} is set)");
                return;
            }
            eprintln!("test files in {shown} removed; set {KEEP_TEST_DIRS}=1 to keep them");
        }
        // A process the test started may still be writing below (a child
        // of the daemon on its way out): tried again for a moment.
        for _ in 0..50 {
            match std::fs::remove_dir_all(&self.0) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return,
            }
        }
        eprintln!("cannot remove test files in {shown}");
    }
}

/// A command for the binary with a cleared environment (PATH kept, LC_ALL=C).
pub fn sysmon(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C");
    cmd
}

/// Runs a command to completion, printing everything on failure paths.
pub fn run(mut cmd: Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    print_run(&cmd, &out);
    out
}

/// What a command run to completion did, on stderr (shown on failure).
fn print_run(cmd: &Command, out: &Output) {
    eprintln!(
        "ran {cmd:?}: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The running daemon. Killed (SIGKILL) on drop if still alive.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub command: String,
    /// Every stderr line so far (a thread keeps draining the pipe).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts `sysmon run --listen 127.0.0.1:0 ARGS...` and waits (10 s at
    /// most) for the `listening on http://ADDR` line.
    pub fn start(args: &[&str]) -> Daemon {
        Daemon::start_with(args, |_| {})
    }

    /// The daemon on the `basic` fixture /proc with its outputs in `dir`, no
    /// boot jobs, only `/` as a disk, and `extra` config lines.
    pub fn on_fixture(dir: &TempDir, extra: &str) -> Daemon {
        Daemon::on_roots(dir, &fixture("proc/basic"), None, extra)
    }

    /// Like [`Daemon::on_fixture`] on any /proc root, and a /sys root if
    /// given (else the real /sys).
    pub fn on_roots(
        dir: &TempDir,
        proc_root: &Path,
        sys_root: Option<&Path>,
        extra: &str,
    ) -> Daemon {
        let config = dir.config(&format!(
            "backup = off\nupdate_manager = none\nmounts = /\n{extra}"
        ));
        let mut args = vec![
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            proc_root.to_str().unwrap(),
        ];
        if let Some(sys_root) = sys_root {
            args.extend(["--sys-root", sys_root.to_str().unwrap()]);
        }
        Daemon::start(&args)
    }

    /// Like [`Daemon::start`], letting the caller adjust the command (env vars).
    pub fn start_with(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Daemon {
        Daemon::start_on("127.0.0.1:0", args, adjust)
    }

    /// Like [`Daemon::start_with`], listening on `listen` (a fixed port).
    pub fn start_on(listen: &str, args: &[&str], adjust: impl FnOnce(&mut Command)) -> Daemon {
        let mut all = vec!["--listen", listen];
        all.extend_from_slice(args);
        Daemon::start_as_configured(&all, adjust)
    }

    /// `sysmon run ARGS...` listening where its config (or ARGS) says; the
    /// first TCP address it reports becomes `addr`.
    pub fn start_as_configured(args: &[&str], adjust: impl FnOnce(&mut Command)) -> Daemon {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let mut cmd = sysmon(&all);
        adjust(&mut cmd);
        Daemon::spawn(cmd)
    }

    /// Starts `cmd` (a `sysmon run ...`, perhaps behind a wrapper such as
    /// setpriv) and waits for its first `listening on http://ADDR` line.
    pub fn spawn(mut cmd: Command) -> Daemon {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let command = format!("{cmd:?}");
        let mut child = spawn_retrying_busy_text(&mut cmd)
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{command} did not report its address; stderr:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Daemon {
            child,
            addr,
            command,
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http(
            self.addr,
            &format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr),
        )
    }

    /// /data.json parsed as a generic JSON value.
    pub fn data(&self) -> miniserde::json::Value {
        let r = self.get("/data.json");
        assert_eq!(r.status, 200, "{}", self.dump());
        miniserde::json::from_str(&r.body_text())
            .unwrap_or_else(|e| panic!("bad JSON {e}: {}", r.body_text()))
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY-free: kill(1) keeps tests free of unsafe.
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Waits until a stderr line contains `needle`.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// How many lines the daemon has logged so far that contain `needle`.
    pub fn logged(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// The command and everything it said, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "{}\n--- stderr\n{}",
            self.command,
            self.log.lock().unwrap().join("\n")
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
    }
}

/// A backup source in `dir` with one readable file and `sub/secret`, which
/// the daemon started by [`Daemon::start_unprivileged`] may not read: as
/// root the whole temp dir goes to nobody (uid 65534) but the secret, which
/// stays root's with mode 0600; otherwise the secret gets mode 000.
pub fn tree_with_an_unreadable_file(dir: &TempDir) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("readable"), "for everyone\n").unwrap();
    let secret = src.join("sub/secret");
    std::fs::write(&secret, "root eyes only\n").unwrap();
    if is_root("(as root, the unreadable file is root's and the daemon runs as nobody)") {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "chmod 755 '{d}' && chown -R 65534:65534 '{d}' && chown 0:0 '{s}' && chmod 600 '{s}'",
                d = dir.path().display(),
                s = secret.display()
            ))
            .status()
            .unwrap();
        assert!(status.success());
    } else {
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    src
}

impl Daemon {
    /// `sysmon run --listen 127.0.0.1:0 ARGS...` as nobody (setpriv, which
    /// drops every capability with the uid) when we are root, as ourselves
    /// otherwise. `None`, after a loud SKIPPED, when root has no setpriv.
    pub fn start_unprivileged(args: &[&str]) -> Option<Daemon> {
        let mut all = vec!["run", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let inner = sysmon(&all);
        if !is_root("(as root the daemon runs as nobody)") {
            return Some(Daemon::spawn(inner));
        }
        if !have_tool("setpriv", "running the daemon unprivileged") {
            return None;
        }
        Some(Daemon::spawn(as_nobody(&inner)))
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw bytes, reads to EOF (HTTP/1.0 closes), splits head and body.
pub fn http(addr: SocketAddr, raw: &str) -> HttpResponse {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse_http(&bytes)
}

/// A whole HTTP/1.0 answer (read to EOF), split into head and body.
pub fn parse_http(bytes: &[u8]) -> HttpResponse {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let body = bytes.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    HttpResponse { status, head, body }
}

/// Whether a command exists on PATH; prints a loud SKIPPED line when not.
pub fn have_tool(tool: &str, why: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIPPED: {why}: `{tool}` is not installed (make test-deps installs it as root)");
    }
    found
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for daemons started
/// by an init system, where `--listen 127.0.0.1:0` cannot be read back).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` every 20 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sh -c SCRIPT`, run to completion (printed by [`run`]).
pub fn sh(script: &str) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    run(cmd)
}

/// Tests that change the machine itself (install into /etc, start services)
/// run only in CI or when asked; otherwise they say loudly that they did not.
pub fn system_tests_enabled(what: &str) -> bool {
    let on = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("SYSMON_SYSTEM_TESTS").is_ok_and(|v| v == "1");
    if !on {
        eprintln!(
            "SKIPPED: {what}: changes the system; runs only with CI=true or SYSMON_SYSTEM_TESTS=1"
        );
    }
    on
}

/// Whether we are root (the init-system tests need it); prints SKIPPED when not.
pub fn is_root(what: &str) -> bool {
    let root = running_as_root();
    if !root {
        eprintln!("SKIPPED: {what}: needs root");
    }
    root
}

/// Whether we are root, silently: for a test that takes another path as a
/// normal user rather than skipping (use [`is_root`] to skip).
pub fn running_as_root() -> bool {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    out.trim_ascii() == b"0"
}

/// A number from /proc/PID/status, e.g. `VmRSS:` (in KiB) or `Threads:`.
pub fn proc_status_number(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resident memory of `pid` in KiB.
pub fn rss_kib(pid: i32) -> u64 {
    proc_status_number(pid, "VmRSS:")
}

/// A private mount namespace (`unshare -m --propagation private`) in which
/// /etc, /var and /usr/local are overlays whose upper layers are `DIR/etc.upper`,
/// `DIR/var.upper` and `DIR/usr-local.upper`, and /run is an empty tmpfs: what
/// a test installs or starts there leaves the host as it was. A process holds
/// the namespace until drop; commands enter it with `nsenter -m`.
pub struct MountNamespace {
    holder: Child,
}

impl MountNamespace {
    /// Sets the namespace up, then runs `then` (shell) in it.
    pub fn new(dir: &TempDir, then: &str) -> MountNamespace {
        let d = dir.path().display();
        let setup = format!(
            "set -e
for l in etc var usr-local; do mkdir -p {d}/$l.upper {d}/$l.work; done
mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/etc.upper,workdir={d}/etc.work /etc
mount -t overlay overlay -o lowerdir=/var,upperdir={d}/var.upper,workdir={d}/var.work /var
mount -t overlay overlay -o lowerdir=/usr/local,upperdir={d}/usr-local.upper,workdir={d}/usr-local.work /usr/local
mount -t tmpfs tmpfs /run
{then}
echo ready
exec sleep 3600"
        );
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &setup])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!("mount namespace setup failed");
        }
        MountNamespace { holder }
    }

    /// `PROGRAM ARGS...` inside the namespace (not yet run).
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.holder.id().to_string(), "-m", "--", program])
            .args(args);
        cmd
    }

    /// `sh -c SCRIPT` inside the namespace (printed by `run`).
    pub fn sh(&self, script: &str) -> Output {
        run(self.command("sh", &["-c", script]))
    }

    /// Like [`MountNamespace::sh`], failing the test unless it succeeds; its stdout.
    pub fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "failed in the namespace: {script}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for MountNamespace {
    fn drop(&mut self) {
        // The mounts go with the last process in the namespace.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Regular files, symlinks and whiteouts below `dir`, relative to it.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A promtool lint that node_exporter's own names draw too (sysmon keeps
/// them so dashboards work): camelCase `node_memory_*` and `node_netstat_*`,
/// and `node_entropy_*_bits` ("use base unit bytes").
fn is_node_exporters_own_lint(line: &str) -> bool {
    let camel = (line.starts_with("node_memory_") || line.starts_with("node_netstat_"))
        && line.contains("camelCase");
    let bits = line.starts_with("node_entropy_") && line.contains("instead of \"bits\"");
    camel || bits
}

/// Runs `promtool check metrics` on `exposition` and fails on a format error
/// or any lint but node_exporter's own (see [`is_node_exporters_own_lint`]).
pub fn assert_promtool_accepts(exposition: &[u8]) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(exposition).unwrap();
    let out = child.wait_with_output().unwrap();
    let complaints =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert_ne!(code, Some(1), "format error:\n{complaints}");
    let other: Vec<&str> = complaints
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !is_node_exporters_own_lint(l))
        .collect();
    assert!(
        other.is_empty(),
        "promtool ({code:?}) complains:\n{}",
        other.join("\n")
    );
}

/// The JSON value at `path` (object keys) in `v`.
pub fn field<'a>(
    v: &'a miniserde::json::Value,
    path: &[&str],
) -> Option<&'a miniserde::json::Value> {
    path.iter().try_fold(v, |v, k| match v {
        miniserde::json::Value::Object(o) => o.get(*k),
        _ => None,
    })
}

/// The string at `path` in `v`, if it is one.
pub fn text(v: &miniserde::json::Value, path: &[&str]) -> Option<String> {
    match field(v, path)? {
        miniserde::json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The unsigned integer at `path` in `v`, if it is one.
pub fn number(v: &miniserde::json::Value, path: &[&str]) -> Option<u64> {
    match field(v, path)? {
        miniserde::json::Value::Number(miniserde::json::Number::U64(n)) => Some(*n),
        _ => None,
    }
}

/// A Debian rootfs made by `mmdebstrap --variant=minbase` with `include`d
/// packages, as a tarball cached across runs and clones in
/// `$SYSMON_ROOTFS_CACHE` (default /var/cache/sysmon-tests), keyed by the
/// suite and package list; extracted into `dir/root`. `None` (after a loud
/// SKIPPED) when mmdebstrap is missing. The package lists are left out, as
/// mmdebstrap does by default: apt has never downloaded any there.
pub fn debian_rootfs(dir: &TempDir, include: &str, why: &str) -> Option<PathBuf> {
    if !have_tool("mmdebstrap", why) || !have_tool("tar", why) {
        return None;
    }
    let args = [
        "--quiet",
        "--variant=minbase",
        &format!("--include={include}"),
        "bookworm",
    ];
    let key = args
        .join(" ")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let cache = std::env::var_os("SYSMON_ROOTFS_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/sysmon-tests"), PathBuf::from);
    std::fs::create_dir_all(&cache).unwrap();
    let tarball = cache.join(format!("debian-bookworm-{key:016x}.tar"));
    if !tarball.exists() {
        let started = Instant::now();
        let partial = cache.join(format!(
            "debian-bookworm-{key:016x}.{}.tar",
            std::process::id()
        ));
        let mut cmd = Command::new("mmdebstrap");
        cmd.args(args).arg(&partial);
        let out = run(cmd);
        assert!(out.status.success(), "mmdebstrap failed");
        std::fs::rename(&partial, &tarball).unwrap();
        eprintln!("made {} in {:?}", tarball.display(), started.elapsed());
    }
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut cmd = Command::new("tar");
    cmd.arg("-C").arg(&root).arg("-xf").arg(&tarball);
    assert!(run(cmd).status.success(), "tar -xf {}", tarball.display());
    Some(root)
}

/// A fresh machine-id (32 hex digits and a newline) for a container: an empty
/// or missing one makes systemd treat the boot as its first.
pub fn random_machine_id() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .unwrap();
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    id + "\n"
}

/// A rootfs booted with its own init by `systemd-nspawn -b` (own PID,
/// network and mount namespaces; no machined registration, which needs
/// systemd on the host). Commands run inside through `nsenter` into its
/// PID 1. Powered off on drop (`poweroff` inside), killed if that fails.
pub struct Nspawn {
    nspawn: Child,
    /// The container's PID 1 as the host sees it.
    pub leader: u32,
    pub console: PathBuf,
    /// What powers it off from inside (`systemctl poweroff` or `/sbin/poweroff`).
    poweroff: &'static str,
}

impl Nspawn {
    /// Boots `root` with the extra nspawn `args` (binds ...). Returns once
    /// its PID 1 exists; the caller waits for the boot to finish.
    pub fn boot(root: &Path, args: &[String], poweroff: &'static str) -> Nspawn {
        let mut cmd = Command::new("setsid");
        cmd.args([
            "systemd-nspawn",
            "--quiet",
            "--boot",
            "--register=no",
            "--keep-unit",
            "--private-network",
        ])
        .arg(format!("--directory={}", root.display()))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        Nspawn::start(cmd, &root.with_extension("console.log"), poweroff)
    }

    /// Boots the host's own tree (`--directory=/ --volatile=yes`: a tmpfs
    /// root, the host's /usr, /usr/local overlay of `ns` included) with
    /// systemd as PID 1, from inside the mount namespace `ns` (TESTING.md,
    /// "systemd"). Returns once its PID 1 exists.
    pub fn boot_host_tree(ns: &MountNamespace, dir: &TempDir) -> Nspawn {
        // A machine-id makes this boot not a "first boot": otherwise systemd
        // applies the presets to every unit under /usr (here: postgresql,
        // prometheus, ...) and starts them all.
        let machine_id = dir.join("machine-id");
        std::fs::write(&machine_id, random_machine_id()).unwrap();
        let mut cmd = ns.command(
            "systemd-nspawn",
            &[
                "--quiet",
                "--directory=/",
                "--volatile=yes",
                "--register=no",
                "--keep-unit",
                "--private-network",
                &format!("--machine=sysmon-test-{}", std::process::id()),
                &format!("--bind-ro={}:/etc/machine-id", machine_id.display()),
                "--boot",
                "--",
                "systemd.unit=multi-user.target",
                "systemd.firstboot=off",
                // It would try to write the bound machine-id to disk, fail,
                // and leave the system "degraded".
                "systemd.mask=systemd-machine-id-commit.service",
            ],
        );
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        Nspawn::start(
            cmd,
            &dir.join("console.log"),
            "systemctl poweroff --no-block",
        )
    }

    /// Starts `nspawn`, a command that execs `systemd-nspawn --boot ...`
    /// (through setsid or nsenter, which exec it), its output going to
    /// `console`; returns once the container's PID 1 exists.
    pub fn start(mut nspawn: Command, console: &Path, poweroff: &'static str) -> Nspawn {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(console)
            .unwrap();
        nspawn
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        eprintln!("starting {nspawn:?}");
        let mut nspawn = nspawn.spawn().expect("systemd-nspawn");
        // The launcher execs nspawn, so this is nspawn's pid; its child in
        // another PID namespace is the container's PID 1.
        let ours = std::fs::read_link("/proc/self/ns/pid").unwrap();
        let found = wait_for(Duration::from_secs(15), || {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", nspawn.id()))
                    .ok()?;
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
                .find(|c| {
                    std::fs::read_link(format!("/proc/{c}/ns/pid")).is_ok_and(|ns| ns != ours)
                })
        });
        let Some(leader) = found else {
            let _ = nspawn.kill();
            let _ = nspawn.wait();
            panic!(
                "systemd-nspawn started no container:\n{}",
                std::fs::read_to_string(console).unwrap_or_default()
            );
        };
        Nspawn {
            nspawn,
            leader,
            console: console.to_path_buf(),
            poweroff,
        }
    }

    /// Waits (30 s at most) for the container's systemd to finish booting:
    /// `running`, or `degraded` (some unit failed), or `None`.
    pub fn wait_systemd_booted(&self) -> Option<String> {
        wait_for(Duration::from_secs(30), || {
            let out = self
                .command(
                    "timeout",
                    &["10", "systemctl", "is-system-running", "--wait"],
                )
                .output()
                .ok()?;
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            ["running", "degraded"]
                .contains(&state.as_str())
                .then_some(state)
        })
    }

    /// `PROGRAM ARGS...` inside the container, with the PATH Debian's sudo
    /// gives root (`secure_path`: no ~/.cargo/bin) and LC_ALL=C.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.leader.to_string(), "-a", "--", program])
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LC_ALL", "C")
            .env("SYSTEMD_COLORS", "0")
            .env("SYSTEMD_PAGER", "");
        cmd
    }

    /// `sh -c SCRIPT` inside (printed by [`run`]).
    pub fn sh(&self, script: &str) -> Output {
        run(self.command("sh", &["-c", script]))
    }

    /// Like [`Nspawn::sh`], failing the test unless it succeeds; its stdout.
    pub fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "failed in the container: {script}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A path inside the container, as the host can open it.
    pub fn host_path(&self, inside: &str) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.leader)).join(inside.trim_start_matches('/'))
    }

    /// GET `path` from 127.0.0.1:`port` inside the container's network
    /// namespace (bash's /dev/tcp: no client needs to be installed).
    pub fn get(&self, port: u16, path: &str) -> HttpResponse {
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && cat <&3"
        );
        let out = self
            .command("timeout", &["10", "bash", "-c", &script])
            .output()
            .expect("nsenter");
        parse_http(&out.stdout)
    }

    /// Pids of the processes inside whose command name is `comm`.
    pub fn pids(&self, comm: &str) -> Vec<u32> {
        let out = self
            .command(
                "sh",
                &[
                    "-c",
                    &format!(
                        "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = '{comm}' ] && echo ${{p#/proc/}}; done; true"
                    ),
                ],
            )
            .output()
            .expect("nsenter");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Powers off from inside and waits for nspawn to exit: its status.
    pub fn poweroff(&mut self) -> Option<ExitStatus> {
        let _ = self
            .command("sh", &["-c", self.poweroff])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Some(status) = self.nspawn.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Nspawn {
    fn drop(&mut self) {
        if self.nspawn.try_wait().ok().flatten().is_some() {
            return;
        }
        if self.poweroff().is_none() {
            // SIGKILL to the namespace's PID 1 ends every process in it.
            eprintln!("the container did not power off: killing it");
            let _ = Command::new("kill")
                .args(["-9", &self.leader.to_string()])
                .status();
            let _ = self.nspawn.kill();
            let _ = self.nspawn.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- console\n{}",
                std::fs::read_to_string(&self.console).unwrap_or_default()
            );
        }
    }
}

/// Copies the directory tree `from` to `to` (made if missing), following
/// symlinks: a fixture root a test may then change.
/// `command` run as nobody (uid and gid 65534, no groups) through
/// `setpriv`, with a cleared environment but PATH (needs root and setpriv).
pub fn as_nobody(command: &Command) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(command.get_program())
        .args(command.get_args())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C");
    cmd
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `cmd.spawn()`, tried again for up to 2 s while exec fails with ETXTBSY.
/// A test that has just copied a binary (as `make install` would) can hit
/// it while other tests of the same binary spawn children: a child forked
/// while the copy's write descriptor was open holds it until its own exec
/// closes it (O_CLOEXEC acts only at exec), and the kernel refuses to
/// execute a file open for writing.
pub fn spawn_retrying_busy_text(cmd: &mut Command) -> std::io::Result<Child> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// Makes a FIFO at `path` (what a hostile or careless hand may leave where
/// sysmon expects a file).
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Runs a command to completion like [`run`], but kills it and panics if
/// it is still running after `limit` (a command that hangs, not one that
/// fails, is the bug under test).
pub fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let exited = wait_for(limit, || child.try_wait().unwrap());
    if exited.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} still running after {limit:?}");
    }
    let out = child.wait_with_output().unwrap();
    print_run(&cmd, &out);
    out
}
