//! The dashboard in a real browser: starts the daemon on a fixture /proc,
//! loads `GET /` in headless Chromium, and checks that the rendered page shows
//! the numbers `/data.json` serves, sparklines drawn from `/history.json`
//! and a firing alert (`alert_cpu = 0% for 0s` fires at the first sample)
//! colouring its card and listed in the alert banner. Also saves screenshots at phone and
//! desktop widths to `target/screenshots/` for a human to look at.
//!
//! Chromium is not a build dependency: without it the test prints a loud
//! SKIPPED line and passes, unless `SYSMON_REQUIRE_BROWSER=1` (set it in CI).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Daemon, TempDir};
use miniserde::json::{self, Number, Value};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
/// Virtual time Chromium lets the page run: the first fetch and render take
/// well under a second; a poll cycle is 5 s.
const VIRTUAL_TIME_BUDGET_MS: u32 = 6000;

/// Collects a child's output in a thread, so a full pipe never blocks it.
fn drain(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

fn url(daemon: &Daemon, path: &str) -> String {
    format!("http://{}{path}", daemon.addr)
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

struct Browser {
    exe: PathBuf,
}

/// What one Chromium run printed.
struct BrowserRun {
    command: String,
    stdout: String,
    stderr: String,
}

impl Browser {
    /// Chromium from PATH; without it, a loud SKIPPED line and `None`, or a
    /// panic when `SYSMON_REQUIRE_BROWSER=1`.
    fn find() -> Option<Browser> {
        let Some(exe) = find_in_path("chromium").or_else(|| find_in_path("chromium-browser"))
        else {
            if std::env::var_os("SYSMON_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
                panic!("chromium not installed and SYSMON_REQUIRE_BROWSER=1");
            }
            eprintln!("\n*** SKIPPED: chromium not installed (apt-get install chromium) ***\n");
            return None;
        };
        Some(Browser { exe })
    }

    /// Runs headless Chromium on `url` with its own throwaway profile; kills
    /// it after `BROWSER_TIMEOUT`.
    fn run(&self, extra: &[&str], url: &str) -> BrowserRun {
        let profile = TempDir::new("chromium-profile");
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--enable-logging=stderr",
            "--v=0",
        ]
        .map(String::from)
        .into();
        args.push(format!("--user-data-dir={}", profile.0.display()));
        args.push(format!("--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"));
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(url.to_string());
        let command = format!("{} {}", self.exe.display(), args.join(" "));

        let mut child = Command::new(&self.exe)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
        let (stdout, stderr) = (
            Arc::new(Mutex::new(String::new())),
            Arc::new(Mutex::new(String::new())),
        );
        let readers = [
            drain(child.stdout.take().unwrap(), stdout.clone()),
            drain(child.stderr.take().unwrap(), stderr.clone()),
        ];
        let deadline = Instant::now() + BROWSER_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium still running after {BROWSER_TIMEOUT:?}, killed: {command}\nstderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
            thread::sleep(Duration::from_millis(50));
        };
        for r in readers {
            let _ = r.join();
        }
        let run = BrowserRun {
            command,
            stdout: stdout.lock().unwrap().clone(),
            stderr: stderr.lock().unwrap().clone(),
        };
        assert!(
            status.success(),
            "chromium failed ({status}): {}\nstderr:\n{}",
            run.command,
            run.stderr
        );
        run
    }
}

/// `x.toFixed(1)` as JavaScript does it: an exact tie rounds away from zero,
/// where Rust's `{:.1}` rounds to even. Ties are the values with a fractional
/// part of .25 or .75, the only x.x5 a double holds exactly.
fn js_to_fixed_1(x: f64) -> String {
    let is_tie = (x * 4.0).fract() == 0.0 && (x * 2.0).fract() != 0.0;
    if !is_tie {
        return format!("{x:.1}");
    }
    let tenths = (x.abs() * 10.0).ceil() as u64;
    let sign = if x < 0.0 { "-" } else { "" };
    format!("{sign}{}.{}", tenths / 10, tenths % 10)
}

/// How the page formats every percentage (`fmtPct` in src/index.html).
fn page_percent(v: &Value) -> String {
    let x = match v {
        Value::Number(Number::U64(n)) => *n as f64,
        Value::Number(Number::I64(n)) => *n as f64,
        Value::Number(Number::F64(n)) => *n,
        other => panic!("expected a number, got {}", json::to_string(other)),
    };
    format!("{}%", js_to_fixed_1(x))
}

/// Text as Chromium serialises it inside an element or attribute value.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\u{a0}', "&nbsp;")
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v {
        Value::Object(o) => o
            .get(key)
            .unwrap_or_else(|| panic!("no {key:?} in {}", json::to_string(v))),
        _ => panic!(
            "expected an object with {key:?}, got {}",
            json::to_string(v)
        ),
    }
}

fn string(v: &Value) -> &str {
    match v {
        Value::String(s) => s,
        other => panic!("expected a string, got {}", json::to_string(other)),
    }
}

/// The text right after the first `marker` at or after `from`, up to the next tag.
fn text_after<'a>(dom: &'a str, from: usize, marker: &str) -> Option<&'a str> {
    let start = from + dom[from..].find(marker)? + marker.len();
    let len = dom[start..].find('<')?;
    Some(&dom[start..start + len])
}

/// Where the page disagrees with one /data.json snapshot, one line each.
fn mismatches(dom: &str, data: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut check = |what: &str, found: Option<&str>, expected: String| {
        if found != Some(expected.as_str()) {
            wrong.push(format!(
                "{what}: page shows {found:?}, /data.json says {expected:?}"
            ));
        }
    };
    check(
        "#cpu-percent",
        text_after(dom, 0, "id=\"cpu-percent\">"),
        page_percent(field(field(data, "cpu"), "percent")),
    );
    check(
        "#mem-percent",
        text_after(dom, 0, "id=\"mem-percent\">"),
        page_percent(field(field(data, "memory"), "percent")),
    );
    check(
        "#hostname",
        text_after(dom, 0, "id=\"hostname\">"),
        html_escape(string(field(data, "hostname"))),
    );
    let Value::Array(disks) = field(data, "disks") else {
        panic!("disks is not an array")
    };
    for disk in disks {
        let mount = string(field(disk, "mount"));
        let what = format!("disk {mount}");
        match dom.find(&format!("data-mount=\"{}\"", html_escape(mount))) {
            Some(at) => check(
                &what,
                text_after(dom, at, "disk-percent\">"),
                page_percent(field(disk, "percent")),
            ),
            None => check(&what, None, format!("a card with data-mount={mount:?}")),
        }
    }
    wrong
}

/// The markup of the first card whose opening tag contains `marker`.
fn card_markup<'a>(dom: &'a str, marker: &str) -> Option<&'a str> {
    let start = dom.find(marker)?;
    let len = dom[start..].find("</section>")?;
    Some(&dom[start..start + len])
}

fn screenshot(browser: &Browser, daemon: &Daemon, width: u32, height: u32) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("dashboard-{width}.png"));
    let _ = std::fs::remove_file(&file);
    let run = browser.run(
        &[
            &format!("--window-size={width},{height}"),
            "--hide-scrollbars",
            &format!("--screenshot={}", file.display()),
        ],
        &url(daemon, "/"),
    );
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes, expected > 10 KB\ncommand: {}\nstderr:\n{}\n{}",
        file.display(),
        run.command,
        run.stderr,
        daemon.dump()
    );
    eprintln!("screenshot: {} ({size} bytes)", file.display());
}

#[test]
fn dashboard_renders_data_json_in_chromium() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dir = TempDir::new("dashboard");
    // Sampling every 100 ms fills the history quickly: with history = 1m,
    // the page's ?points=120 folds 5 samples into each point.
    let daemon = Daemon::on_fixture(
        &dir,
        "interval = 100ms\nhistory = 1m\nalert_cpu = 0% for 0s",
    );

    let history_points = || {
        let body = daemon.get("/history.json?points=120").body_text();
        let cpu = body
            .split("\"cpu\":[")
            .nth(1)
            .unwrap_or("")
            .split(']')
            .next();
        cpu.map_or(0, |c| {
            c.split(',')
                .filter(|v| *v != "null" && !v.is_empty())
                .count()
        })
    };
    let started = Instant::now();
    while history_points() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "history never reached 3 points\n{}",
            daemon.dump()
        );
        thread::sleep(Duration::from_millis(100));
    }

    // The daemon samples on its own schedule (and "/" is the real root
    // filesystem, not a fixture), so the page may have rendered the sample
    // before or after ours: accept either.
    let before = daemon.data();
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let after = daemon.data();
    let dom = &run.stdout;

    let failure = |msg: String| {
        format!(
            "{msg}\ncommand: {}\n/data.json before: {}\n/data.json after: {}\nchromium stderr:\n{}\nDOM:\n{dom}\n{}",
            run.command,
            json::to_string(&before),
            json::to_string(&after),
            run.stderr,
            daemon.dump()
        )
    };
    // "Refused to ..." is how Chromium logs a Content-Security-Policy violation.
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains("Refused to"))
        .collect();
    assert!(
        errors.is_empty(),
        "{}",
        failure(format!("JavaScript or CSP errors: {errors:#?}"))
    );
    assert!(
        dom.contains("data-loaded=\"1\""),
        "{}",
        failure("page never rendered data (no data-loaded=\"1\")".into())
    );
    let status = dom
        .find("id=\"status\"")
        .and_then(|at| text_after(dom, at, ">"));
    assert_eq!(
        status,
        Some("live"),
        "{}",
        failure("status is not live".into())
    );
    let (wrong_before, wrong_after) = (mismatches(dom, &before), mismatches(dom, &after));
    assert!(
        wrong_before.is_empty() || wrong_after.is_empty(),
        "{}",
        failure(format!(
            "page differs from /data.json\nvs before:\n{}\nvs after:\n{}",
            wrong_before.join("\n"),
            wrong_after.join("\n")
        ))
    );

    let cpu_card = card_markup(dom, "class=\"card cpu");
    let polyline_points = cpu_card
        .and_then(|c| c.split("<polyline").nth(1))
        .and_then(|p| p.split("points=\"").nth(1))
        .and_then(|p| p.split('"').next())
        .map_or(0, |p| {
            p.split_whitespace().filter(|xy| xy.contains(',')).count()
        });
    assert!(
        cpu_card.is_some_and(|c| c.contains("<svg")) && polyline_points >= 2,
        "{}",
        failure(format!(
            "no sparkline with >= 2 points under the CPU card (found {polyline_points})"
        ))
    );
    assert!(
        dom.contains("class=\"card cpu alerting\""),
        "{}",
        failure("the firing cpu alert does not colour the CPU card".into())
    );
    let banner = dom
        .find("id=\"alerts\"")
        .map(|at| &dom[at..at + dom[at..].find("</div></div>").unwrap_or(0)]);
    assert!(
        banner
            .is_some_and(|b| !b.contains("hidden") && b.contains(">cpu<") && b.contains("CPU at ")),
        "{}",
        failure(format!(
            "the alert banner does not list the cpu alert: {banner:?}"
        ))
    );

    screenshot(&browser, &daemon, 390, 844);
    screenshot(&browser, &daemon, 1280, 800);
}

/// Issue 18: a backup that could not read a file for lack of permission is
/// shown as `partial`, with the count, never as a plain `ok`.
#[test]
fn dashboard_shows_an_incomplete_backup_as_partial() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dir = TempDir::new("dashboard-partial");
    let src = common::tree_with_an_unreadable_file(&dir);
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = none\nmounts = /",
        src.display()
    ));
    let Some(daemon) = Daemon::start_unprivileged(&["--config", config.to_str().unwrap()]) else {
        return;
    };
    let done = common::wait_for(Duration::from_secs(20), || {
        let v = daemon.data();
        (common::text(&v, &["backup", "state"]).as_deref() == Some("partial")).then_some(())
    });
    assert!(done.is_some(), "{}", daemon.dump());
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let card = card_markup(&run.stdout, "class=\"card backup").unwrap_or_else(|| {
        panic!("no backup card:\n{}", run.stdout);
    });
    assert!(
        card.contains("id=\"backup-state\">partial<"),
        "the state pill: {card}"
    );
    assert!(
        card.contains("Incomplete: 1 file(s) could not be read (permission denied)."),
        "{card}"
    );
}

/// After a failed backup the card still says when the last one succeeded
/// (`backup.last.last_success_at`): before, it showed the failure alone,
/// and nothing on the page said whether any backup was there to restore.
/// It also shows that success's archive, size and file name
/// (`backup.last.last_success`): before, the only size on the card was the
/// failed run's (none).
#[test]
fn dashboard_shows_the_last_success_after_a_failed_backup() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dir = TempDir::new("dashboard-last-success");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f.txt"), "data\n").unwrap();
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = none\nmounts = /",
        src.display()
    ));
    let daemon = Daemon::start(&["--config", config.to_str().unwrap()]);
    let state_is = |daemon: &Daemon, want: &str| {
        common::wait_for(Duration::from_secs(20), || {
            let v = daemon.data();
            (common::text(&v, &["backup", "state"]).as_deref() == Some(want)).then_some(())
        })
        .is_some()
    };
    assert!(state_is(&daemon, "ok"), "{}", daemon.dump());
    let v = daemon.data();
    let good_bytes = common::number(&v, &["backup", "last", "bytes"]).expect("the good run's size");
    let good_file = common::text(&v, &["backup", "last", "file"]).expect("the good run's file");
    // Under 1 KiB, the page writes the size as it is.
    assert!(good_bytes > 0 && good_bytes < 1024, "{good_bytes}");
    let good_name = good_file.rsplit('/').next().unwrap();
    // A backup by hand that fails, taken up at SIGHUP.
    std::fs::remove_dir_all(&src).unwrap();
    let out = common::run(common::sysmon(&[
        "backup",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    daemon.signal(1);
    assert!(state_is(&daemon, "failed"), "{}", daemon.dump());
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let card = card_markup(&run.stdout, "class=\"card backup").unwrap_or_else(|| {
        panic!("no backup card:\n{}", run.stdout);
    });
    assert!(card.contains("Last backup (failed)"), "{card}");
    assert!(
        card.contains("<span>Last success</span><b id=\"backup-last-success\">"),
        "{card}"
    );
    let value_of = |id: &str| {
        let at = card.find(&format!("id=\"{id}\""))?;
        let end = card[at..].find("</b>")?;
        Some(&card[at..at + end])
    };
    let size = value_of("backup-last-success-size");
    assert!(
        size.is_some_and(|b| b.ends_with(&format!(">{good_bytes} B"))),
        "the success's size ({good_bytes} B): {size:?} in {card}"
    );
    // The name alone (it fits a phone); the whole path on hover.
    let file = value_of("backup-last-success-file");
    assert!(
        file.is_some_and(|b| b.ends_with(&format!(">{good_name}"))
            && b.contains(&format!("title=\"{good_file}\""))),
        "the success's file ({good_file}): {file:?} in {card}"
    );
}

/// The range switch (issue 13): loaded with `#range=1h`, the page reads
/// `/history.json?range=1h` from the history file, marks `1h` pressed, and
/// draws each sparkline over a min/max band (a polygon per unbroken run)
/// under the mean line; `live` stays the plain in-memory sparkline.
#[test]
fn dashboard_range_switch_draws_min_max_bands() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dir = TempDir::new("dashboard-range");
    // A 1 s tier of 2 minutes: ?range=1h is read from it, a point a second;
    // the live window of 1 m has a point per 5 samples at ?points=120.
    let daemon = Daemon::on_fixture(
        &dir,
        "interval = 100ms\nhistory = 1m\nhistory_tiers = 1s:2m",
    );
    let file_points = || {
        let body = daemon.get("/history.json?range=1h&points=120").body_text();
        body.split("\"cpu\":{\"min\":[")
            .nth(1)
            .and_then(|c| c.split(']').next())
            .map_or(0, |c| c.split(',').filter(|v| *v != "null").count())
    };
    let started = Instant::now();
    while file_points() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the history file never served 4 points\n{}",
            daemon.dump()
        );
        thread::sleep(Duration::from_millis(200));
    }
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/#range=1h"));
    let dom = &run.stdout;
    let failure = |msg: &str| {
        format!(
            "{msg}\n{}\nstderr:\n{}\nDOM:\n{dom}",
            run.command, run.stderr
        )
    };
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains("Refused to"))
        .collect();
    assert!(
        errors.is_empty(),
        "{}",
        failure(&format!("JavaScript or CSP errors: {errors:#?}"))
    );
    assert!(
        dom.contains("data-range=\"1h\""),
        "{}",
        failure("the 1h history never loaded")
    );
    assert!(
        dom.contains("aria-pressed=\"true\">1h</button>"),
        "{}",
        failure("the 1h button is not the pressed one")
    );
    let cpu = card_markup(dom, "class=\"card cpu").unwrap_or("");
    let band_points = cpu
        .split("class=\"band b0\" points=\"")
        .nth(1)
        .and_then(|p| p.split('"').next())
        .map_or(0, |p| p.split_whitespace().count());
    // A band of n points has 2n corners (the maxima, then the minima back).
    assert!(
        band_points >= 8,
        "{}",
        failure(&format!(
            "no min/max band under the CPU sparkline ({band_points} corners)"
        ))
    );
    assert!(
        cpu.contains("<polyline"),
        "{}",
        failure("no mean line over the band")
    );

    // The live view has no band.
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let live = card_markup(&run.stdout, "class=\"card cpu").unwrap_or("");
    assert!(
        run.stdout.contains("data-range=\"live\""),
        "live history never loaded:\n{}",
        run.stdout
    );
    assert!(
        live.contains("<polyline") && !live.contains("class=\"band"),
        "live view:\n{live}"
    );
}

/// Issue 17: the updates card shows why a reboot is needed and which
/// services need a restart. The daemon runs in a private mount namespace
/// (root) whose `/boot` holds a newer kernel than the fixture /proc's
/// running one and whose `/run/reboot-required.pkgs` names two packages;
/// in the fixture /proc, pid 4242 (`nginx.service` by its cgroup) maps a
/// deleted libssl and pid 4343 (no unit) a deleted libc. The audit itself
/// is an `update_command` printing one security update.
#[test]
fn dashboard_shows_reboot_reason_and_restart_list() {
    let Some(browser) = Browser::find() else {
        return;
    };
    if !common::is_root("dashboard reboot and restart test (mount namespace)") {
        return;
    }
    let dir = TempDir::new("dashboard-restart");
    let proc_root = dir.join("proc");
    let copied = common::sh(&format!(
        "cp -rHT {} {}",
        common::fixture("proc/basic").display(),
        proc_root.display()
    ));
    assert!(copied.status.success());
    std::fs::create_dir_all(proc_root.join("sys/kernel")).unwrap();
    std::fs::write(proc_root.join("sys/kernel/osrelease"), "6.1.0-18-amd64\n").unwrap();
    for (pid, comm, cgroup, lib) in [
        (
            4242,
            "nginx",
            "0::/system.slice/nginx.service\n",
            "/usr/lib/x86_64-linux-gnu/libssl.so.3",
        ),
        (
            4343,
            "vim",
            "0::/user.slice/session-1.scope\n",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ),
    ] {
        let d = proc_root.join(pid.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
        std::fs::write(d.join("cgroup"), cgroup).unwrap();
        std::fs::write(
            d.join("maps"),
            format!(
                "55d0c0a00000-55d0c0a20000 r--p 00000000 08:01 1311       /usr/bin/{comm}\n\
                 7f1c2a000000-7f1c2a050000 r-xp 00000000 08:01 2622       {lib} (deleted)\n\
                 7f1c2b000000-7f1c2b001000 rw-s 00000000 00:01 4          /dev/zero (deleted)\n"
            ),
        )
        .unwrap();
    }
    let ns = common::MountNamespace::new(
        &dir,
        "mount -t tmpfs tmpfs /boot\n\
         touch /boot/vmlinuz-6.1.0-18-amd64 /boot/vmlinuz-6.1.0-21-amd64\n\
         touch /run/reboot-required\n\
         printf 'linux-image-6.1.0-21-amd64\\nlibc6\\n' > /run/reboot-required.pkgs",
    );
    let config = dir.config(
        "backup = off\nmounts = /\nupdate_manager = command\n\
         update_command = echo 'openssl 3.0.11 -> 3.0.17 [security]'",
    );
    let mut cmd = ns.command(
        common::BIN,
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            proc_root.to_str().unwrap(),
        ],
    );
    cmd.env("LC_ALL", "C");
    let daemon = Daemon::spawn(cmd);
    let updates = common::wait_for(Duration::from_secs(30), || {
        let data = daemon.data();
        let updates = field(&data, "updates").clone();
        let scanned = !matches!(field(&updates, "restart_needed"), Value::Null);
        (string(field(&updates, "state")) == "ok" && scanned).then_some(updates)
    })
    .unwrap_or_else(|| panic!("no audit with a restart scan:\n{}", daemon.dump()));
    let reason = string(field(&updates, "reboot_reason")).to_string();
    assert_eq!(
        reason,
        "kernel 6.1.0-18-amd64 running, 6.1.0-21-amd64 installed; \
         requested by linux-image-6.1.0-21-amd64, libc6"
    );

    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    assert!(
        !run.stderr.contains("Uncaught"),
        "JS error:\n{}",
        run.stderr
    );
    let card = card_markup(&run.stdout, "class=\"card updates").unwrap_or_else(|| {
        panic!("no updates card:\n{}", run.stdout);
    });
    assert!(card.contains("id=\"reboot-required\""), "{card}");
    assert!(card.contains(&html_escape(&reason)), "the reason: {card}");
    assert!(
        card.contains("id=\"restart-needed\">2 processes need a restart<"),
        "{card}"
    );
    let start = card
        .find("id=\"restart-list\"")
        .unwrap_or_else(|| panic!("no restart list: {card}"));
    let list = &card[start..];
    let list = &list[..list.find("</ul>").unwrap_or(list.len())];
    for expected in [
        "<span class=\"name\">nginx.service</span>",
        "pid 4242: /usr/lib/x86_64-linux-gnu/libssl.so.3<",
        "<span class=\"name\">vim</span>",
        "pid 4343: /usr/lib/x86_64-linux-gnu/libc.so.6<",
    ] {
        assert!(list.contains(expected), "{expected} not in {list}");
    }
    assert!(
        list.find("nginx.service") < list.find(">vim<"),
        "services first: {list}"
    );
    assert!(!list.contains("/dev/zero"), "{list}");
    assert!(card.contains("openssl"), "the update itself: {card}");
}

/// The boot log on the uptime card (issue 14): after a boot that sysmon was
/// never stopped in (SIGKILL, then a new `boot_id`), the card lists the
/// previous boot marked `unclean`, and the `unexpected_reboot` alert
/// colours it and is in the banner.
#[test]
fn dashboard_marks_an_unclean_boot_on_the_uptime_card() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dir = TempDir::new("dashboard-boots");
    let proc_root = dir.join("proc");
    common::copy_dir(&common::fixture("proc/basic"), &proc_root);
    let boot = |n: u32| {
        std::fs::write(
            proc_root.join("sys/kernel/random/boot_id"),
            format!("{n:08x}-b007-4000-8000-000000000000\n"),
        )
        .unwrap()
    };
    boot(1);
    let mut first = Daemon::on_roots(&dir, &proc_root, None, "");
    // The start's record is written beside the first answer (issue 16):
    // killed before it is on disk, this boot would leave no trace to mark.
    let log = dir.join("state").join("boots.log");
    let recorded = common::wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&log).ok()?;
        let last = text.lines().last()?;
        (last.starts_with("00000001-") && last.ends_with(" up")).then_some(())
    });
    assert!(
        recorded.is_some(),
        "boot 1 never recorded\n{}",
        first.dump()
    );
    first.signal(9);
    assert!(first.wait_exit(Duration::from_secs(10)).is_some());
    boot(2);
    let daemon = Daemon::on_roots(&dir, &proc_root, None, "");
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains("Refused to"))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", run.stderr);
    let card = card_markup(&run.stdout, "class=\"card uptime").unwrap_or_else(|| {
        panic!("no uptime card:\n{}", run.stdout);
    });
    assert!(card.contains("class=\"card uptime alerting\""), "{card}");
    assert!(card.contains("previous boots"), "{card}");
    assert!(
        card.contains("class=\"kv unclean\"") && card.contains(">unclean<"),
        "the unclean boot is not marked: {card}"
    );
    assert!(
        card.contains("00000001-b007-4000-8000-000000000000"),
        "the boot id is in the row's title: {card}"
    );
    assert!(
        run.stdout.contains(">unexpected_reboot<"),
        "not in the banner"
    );
}

/// Issue 14: the Services card in Chromium, on a real runsv whose service
/// crashes in a loop beside a healthy one: the card says how many failed,
/// lists the failed one first with its problem and for how long, and the
/// alert banner names it.
#[test]
fn dashboard_services_card_lists_the_failed_one_with_how_long() {
    let Some(browser) = Browser::find() else {
        return;
    };
    if !common::have_tool("runsv", "dashboard services card") {
        return;
    }
    let dir = TempDir::new("dashboard-services");
    let svdir = dir.join("service");
    let mut supervisors = Vec::new();
    for (name, body) in [("web", "exec sleep 1000"), ("crashy", "exit 1")] {
        let service = svdir.join(name);
        std::fs::create_dir_all(&service).unwrap();
        let run = service.join("run");
        std::fs::write(&run, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        supervisors.push(
            Command::new("runsv")
                .arg(&service)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    // `web` up before the daemon first looks: a runsv still starting it
    // shows it down, and the card would list it failed for a moment.
    let web_up = common::wait_for(Duration::from_secs(10), || {
        let status = std::fs::read(svdir.join("web/supervise/stat")).unwrap_or_default();
        (status == b"run\n").then_some(())
    });
    assert!(web_up.is_some(), "runsv never ran web");
    let daemon = Daemon::on_fixture(
        &dir,
        &format!(
            "services = runit\nservices_runit_dir = {}\nservices_every = 1s\nalert_service_failed = on\ninterval = 1s\n",
            svdir.display()
        ),
    );
    let seen = common::wait_for(Duration::from_secs(15), || {
        let v = daemon.data();
        let alerts = miniserde::json::to_string(common::field(&v, &["alerts"]).unwrap());
        (alerts.contains("service_failed")).then_some(())
    });
    let run = seen.map(|()| browser.run(&["--dump-dom"], &url(&daemon, "/")));
    for (mut runsv, name) in supervisors.into_iter().zip(["web", "crashy"]) {
        let _ = Command::new("sv")
            .arg("exit")
            .arg(svdir.join(name))
            .output();
        let _ = runsv.wait();
    }
    let run = run.unwrap_or_else(|| panic!("never failed:\n{}", daemon.dump()));
    let card = card_markup(&run.stdout, "class=\"card services").unwrap_or_else(|| {
        panic!("no services card:\n{}", run.stdout);
    });
    assert!(card.contains("id=\"services-state\">1 failed<"), "{card}");
    assert!(card.contains(">runit<"), "{card}");
    assert!(
        card.contains("<span class=\"name\">crashy</span>")
            && (card.contains(">restarting<") || card.contains(">down<"))
            && card.contains("<span class=\"ver\">for "),
        "{card}"
    );
    assert!(
        !card.contains(">web<"),
        "the healthy one is not listed: {card}"
    );
    assert!(
        run.stdout.contains("1 service failed: crashy"),
        "the alert banner"
    );
}

/// The Processes card (issue 14) lists /data.json's `top` rows, in order:
/// on the live /proc with `interval = 1h`, so the one sample the page
/// reads is the one fetched here, whose top reading (`top_every = off`)
/// this request took: no CPU interval yet (`cpu_window_s` null, the CPU
/// list says so), the memory list has `top_processes` rows.
#[test]
fn dashboard_lists_the_top_processes() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dir = TempDir::new("dashboard-top");
    let daemon = Daemon::on_roots(
        &dir,
        Path::new("/proc"),
        None,
        "interval = 1h\ntop_processes = 4",
    );
    let data = daemon.data();
    let pids = |list: &str| -> Vec<String> {
        let Value::Array(rows) = field(field(&data, "top"), list) else {
            panic!("top.{list} is not a list")
        };
        rows.iter()
            .map(|r| match field(r, "pid") {
                Value::Number(Number::U64(p)) => p.to_string(),
                other => panic!("pid: {}", json::to_string(other)),
            })
            .collect()
    };
    let by_memory = pids("by_memory");
    assert_eq!(by_memory.len(), 4, "{}", json::to_string(&data));
    assert!(pids("by_cpu").is_empty(), "one sample: no interval yet");
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let dom = &run.stdout;
    let card = card_markup(dom, "class=\"card top")
        .unwrap_or_else(|| panic!("no Processes card:\n{dom}\nstderr:\n{}", run.stderr));
    let shown: Vec<&str> = card
        .split("id=\"top-memory\"")
        .nth(1)
        .unwrap_or("")
        .split("data-pid=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(shown, by_memory, "{card}");
    // The first reading has no earlier one: no window, and the note says so.
    assert!(
        matches!(field(field(&data, "top"), "cpu_window_s"), Value::Null),
        "{}",
        json::to_string(&data)
    );
    assert!(
        card.contains("<h3>By CPU</h3>") && card.contains("No earlier reading to compare with yet"),
        "{card}"
    );
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains("Refused to"))
        .collect();
    assert!(errors.is_empty(), "JavaScript or CSP errors: {errors:#?}");

    // Past the first reading (issue 16): the CPU list's title says the
    // time its shares cover, `top.cpu_window_s` (one interval while the
    // page's request falls in the watch, else the time since its end).
    let dir = TempDir::new("dashboard-top-window");
    let daemon = Daemon::on_roots(
        &dir,
        Path::new("/proc"),
        None,
        "interval = 100ms\ntop_processes = 4",
    );
    daemon.data(); // the first reading
    std::thread::sleep(std::time::Duration::from_millis(250));
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let card = card_markup(&run.stdout, "class=\"card top")
        .unwrap_or_else(|| panic!("no Processes card:\n{}", run.stdout));
    assert!(card.contains("<h3>By CPU, last "), "{card}");
}

/// A listed mount without figures (here a mount point that does not
/// exist: `statvfs` fails) gets a disk card that says why, from
/// /data.json's `disk_errors`, where its figures would be; before, the
/// mount had no card at all and the page said nothing.
#[test]
fn dashboard_shows_a_mount_without_figures_and_why() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let dir = TempDir::new("dashboard-disk-error");
    let missing = dir.join("no-such-mount");
    let daemon = Daemon::on_fixture(&dir, &format!("mounts = {}", missing.display()));
    let run = browser.run(&["--dump-dom"], &url(&daemon, "/"));
    let marker = format!(
        "data-mount=\"{}\"",
        html_escape(&missing.display().to_string())
    );
    let card = card_markup(&run.stdout, &marker).unwrap_or_else(|| {
        panic!("no card for the missing mount:\n{}", run.stdout);
    });
    assert!(
        card.contains("statvfs: No such file or directory (os error 2)"),
        "{card}"
    );
    // `/` still has its own card with figures.
    assert!(
        card_markup(&run.stdout, "data-mount=\"/\"").is_some_and(|c| c.contains("Available")),
        "{}",
        run.stdout
    );
}
