//! What a hostile package manager prints cannot grow the daemon (issue 11):
//! a 20 MB update list left RSS at 38.9 MiB for good, and four 1 MB package
//! names made /data.json 4 MB. Here the daemon starts with the audit off,
//! its RSS is taken, the audit is switched on by SIGHUP with an
//! `update_command` that prints the hostile output, and /data.json is
//! asked for all along (the loop must keep answering).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;

/// An executable script in `dir` printing what `body` (sh) prints.
fn script(dir: &TempDir, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn config_text(dir: &TempDir, audit: Option<&Path>) -> String {
    let audit = match audit {
        Some(command) => format!(
            "update_manager = command\nupdate_command = {}",
            command.display()
        ),
        None => "update_manager = none".into(),
    };
    format!(
        "backup_dir = {d}/backups\nlog_dir = {d}/logs\nstate_dir = {d}/state\n\
         backup = off\nmounts = /\ninterval = 1s\n{audit}\n",
        d = dir.path().display()
    )
}

struct Run {
    state: String,
    /// The slowest /data.json while the audit ran and after.
    slowest: Duration,
    /// The largest /data.json seen.
    largest_bytes: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
    data: miniserde::json::Value,
}

impl Run {
    /// RSS after the audit is back within [`RSS_GROWTH_KIB`] of before.
    #[track_caller]
    fn assert_memory_given_back(&self) {
        assert!(
            self.rss_after_kib <= self.rss_before_kib + RSS_GROWTH_KIB,
            "RSS {} KiB before, {} KiB after",
            self.rss_before_kib,
            self.rss_after_kib
        );
    }

    /// No /data.json took longer than [`ANSWER_WITHIN`] while the audit ran.
    #[track_caller]
    fn assert_answers_kept_coming(&self) {
        assert!(
            self.slowest < ANSWER_WITHIN,
            "slowest answer {:?}",
            self.slowest
        );
    }
}

/// Starts the daemon with the audit off, then turns it on with `command`.
fn audit_with(dir: &TempDir, command: &Path) -> (Daemon, Run) {
    let config = dir.join("sysmon.conf");
    std::fs::write(&config, config_text(dir, None)).unwrap();
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        fixture("proc/basic").to_str().unwrap(),
    ]);
    // Warm: a few samples and answers, so the baseline is the idle daemon's:
    // past the first sample (1 s), by whose deadline the daemon has dropped
    // start-up's pages (src/daemon.rs, `end_start_up`), and then the
    // answers' and samples' pages mapped back. A baseline taken right after
    // the drop counted the loop's own code mapped back as the audit's growth.
    for _ in 0..20 {
        daemon.data();
        std::thread::sleep(Duration::from_millis(100));
    }
    let rss_before_kib = rss_kib(daemon.pid());
    std::fs::write(&config, config_text(dir, Some(command))).unwrap();
    daemon.signal(1);
    let (mut slowest, mut largest_bytes) = (Duration::ZERO, 0);
    let start = Instant::now();
    let mut finished_at = None;
    let (state, data) = loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no result\n{}",
            daemon.dump()
        );
        let asked = Instant::now();
        let r = daemon.get("/data.json");
        slowest = slowest.max(asked.elapsed());
        assert_eq!(r.status, 200);
        largest_bytes = largest_bytes.max(r.body.len());
        let data: miniserde::json::Value = miniserde::json::from_str(&r.body_text()).unwrap();
        let state = text(&data, &["updates", "state"]).unwrap_or_default();
        if state == "ok" || state == "failed" {
            // Keep asking a little longer: the memory is given back after.
            let at = *finished_at.get_or_insert_with(Instant::now);
            if at.elapsed() > Duration::from_secs(1) {
                break (state, data);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rss_after_kib = rss_kib(daemon.pid());
    eprintln!(
        "{}: state {state}, RSS {rss_before_kib} KiB before, {rss_after_kib} KiB after, \
         slowest /data.json {slowest:?}, largest {largest_bytes} bytes",
        command.display()
    );
    (
        daemon,
        Run {
            state,
            slowest,
            largest_bytes,
            rss_before_kib,
            rss_after_kib,
            data,
        },
    )
}

/// The bound the README promises for the idle daemon's growth (about 2 MiB).
const RSS_GROWTH_KIB: u64 = 2048;
/// The issue's own bound for an answer while a manager runs.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

#[test]
fn a_20_mb_update_list_is_cut_off_and_the_memory_given_back() {
    let dir = TempDir::new("audit-bounds-20mb");
    let command = script(&dir, "flood", "yes 'pkg 1.0 -> 1.1' | head -c 20000000");
    let (daemon, run) = audit_with(&dir, &command);
    assert_eq!(run.state, "failed", "{}", daemon.dump());
    let error = text(&run.data, &["updates", "error"]).unwrap_or_default();
    assert!(error.contains("printed more than 16 MiB"), "{error}");
    run.assert_memory_given_back();
    run.assert_answers_kept_coming();
}

/// A manager that exits at once, leaving a descendant that writes into
/// its stdout without pause (the pipe enlarged to 1 MiB): the loop reads
/// it a share a turn (`src/audit/child.rs`'s tests count a poll's bytes),
/// keeps answering, the audit ends, and the descendant is gone once it has.
#[test]
fn a_descendant_flooding_after_the_manager_exited_ends_the_audit_and_is_killed() {
    let dir = TempDir::new("audit-bounds-descendant");
    let (pid_file, ready) = (dir.join("descendant.pid"), dir.join("ready"));
    // The manager exits once the descendant is writing.
    let command = script(
        &dir,
        "leaves",
        &format!(
            "perl -e 'fcntl(STDOUT, 1031, 1 << 20); $b = \"pkg 1.0 -> 1.1\\n\" x 4096;\n\
             syswrite(STDOUT, $b); open(my $f, \">\", $ARGV[0]); close $f;\n\
             while (1) {{ syswrite(STDOUT, $b) }}' {ready} &\n\
             echo $! > {pid}\n\
             while [ ! -e {ready} ]; do sleep 0.01; done\nexit 0",
            ready = ready.display(),
            pid = pid_file.display()
        ),
    );
    let (daemon, run) = audit_with(&dir, &command);
    // The run ends at the 16 MiB read cap, or at the first turn whose read
    // caught up with the writer (nothing more for now): then the list is
    // what was read, a cut list past the 4 MiB kept.
    let error = text(&run.data, &["updates", "error"]).unwrap_or_default();
    match run.state.as_str() {
        "ok" => {}
        "failed" => assert!(
            error.contains("printed more than 16 MiB") || error.contains("the list was cut"),
            "{error}"
        ),
        state => panic!("state {state}\n{}", daemon.dump()),
    }
    run.assert_answers_kept_coming();
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    // Gone, or a zombie about to be reaped; the failure mode is "never".
    let gone = (0..500).any(|_| {
        let state = std::fs::read_to_string(&stat).map(|s| {
            let after_name = s.rsplit(')').next().unwrap_or("").trim_start();
            after_name.starts_with('Z')
        });
        let gone = state.unwrap_or(true);
        if !gone {
            std::thread::sleep(Duration::from_millis(10));
        }
        gone
    });
    assert!(gone, "descendant {} still runs", pid.trim());
}

#[test]
fn a_long_update_list_under_the_cap_keeps_exact_counts() {
    let dir = TempDir::new("audit-bounds-long");
    // 150 000 valid lines, 3 MB: all kept for the parse (4 MiB), far more
    // than the 20 000 packages a parse keeps, all counted.
    let command = script(&dir, "long", "seq 1 150000 | sed 's/.*/pkg& 1.0 -> 1.1/'");
    let (daemon, run) = audit_with(&dir, &command);
    assert_eq!(run.state, "ok", "{}", daemon.dump());
    let count = field(&run.data, &["updates", "count"]).map(miniserde::json::to_string);
    assert_eq!(count.as_deref(), Some("150000"));
    // Every line counts, though only 20 000 are kept while the log is
    // written, 200 after.
    let logs = files_below(&dir.join("logs"));
    let log = std::fs::read_to_string(dir.join("logs").join(&logs[0])).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.ends_with(" 1.0 -> 1.1")).count(),
        20_000
    );
    assert!(log.contains("... and 130000 more packages, not kept"));
    // RSS is not asserted here: with glibc (this test build; the release
    // binary links musl) the parser thread's arena keeps its top after a
    // list this long, about 1.9 MiB (malloc_trim does not shrink a thread
    // arena's top). The failing 9 MB list below, dropped on that thread,
    // asserts it, as this test did before lists over the cap failed.
    assert!(
        run.largest_bytes < 128 * 1024,
        "{} bytes",
        run.largest_bytes
    );
    run.assert_answers_kept_coming();
}

/// Issue: 500 000 valid lines (9 MB) were read, the first 4 MiB kept and
/// the rest dropped, and the audit said "ok" with the count of the kept
/// part (the sweep: 300 000 lines reported as 104 857), its last line cut
/// in the middle and taken as valid (`openssl 3.0.1-1 -> 3`). A list cut
/// at the cap is now a failure that says so, never a short count.
#[test]
fn an_update_list_over_the_kept_4_mib_fails_not_a_short_count() {
    let dir = TempDir::new("audit-bounds-cut");
    let command = script(&dir, "cut", "seq 1 500000 | sed 's/.*/pkg& 1.0 -> 1.1/'");
    let (daemon, run) = audit_with(&dir, &command);
    assert_eq!(run.state, "failed", "{}", daemon.dump());
    let error = text(&run.data, &["updates", "error"]).unwrap_or_default();
    assert!(
        error.contains("exit status 0, but it printed more than 4 MiB (")
            && error.ends_with("bytes more were not kept): the list was cut"),
        "{error}"
    );
    assert_eq!(
        field(&run.data, &["updates", "count"])
            .map(miniserde::json::to_string)
            .as_deref(),
        Some("null")
    );
    run.assert_memory_given_back();
    run.assert_answers_kept_coming();
}

#[test]
fn huge_package_names_are_unparsed_and_keep_data_json_small() {
    let dir = TempDir::new("audit-bounds-names");
    // Four 1 MB names, then one real line.
    let command = script(
        &dir,
        "names",
        "for i in 1 2 3 4; do printf 'n%s' \"$i\"; head -c 1000000 /dev/zero | tr '\\0' x; echo ' 1.0 -> 1.1'; done\n\
         echo 'real 1.0 -> 1.1'",
    );
    let (daemon, run) = audit_with(&dir, &command);
    assert_eq!(run.state, "ok", "{}", daemon.dump());
    let count = field(&run.data, &["updates", "count"]).map(miniserde::json::to_string);
    assert_eq!(count.as_deref(), Some("1"));
    assert!(
        run.largest_bytes < 64 * 1024,
        "/data.json grew to {} bytes",
        run.largest_bytes
    );
    // The log says so, with each line cut short.
    let logs = files_below(&dir.join("logs"));
    let log = std::fs::read_to_string(dir.join("logs").join(&logs[0])).unwrap();
    assert!(log.contains("== unparsed lines (4) =="), "{log}");
    assert!(log.len() < 64 * 1024, "log of {} bytes", log.len());
    run.assert_memory_given_back();
    run.assert_answers_kept_coming();
}

/// Issue: a manager writing 8 MB of stderr without a newline made a 4 MB
/// `error` in every /data.json and a 4 MB log line, and what it wrote went
/// out unescaped (ESC, CR, NUL: terminal escapes and fake log lines). The
/// error now quotes each line escaped and at most 200 bytes, 1 KiB in all;
/// the daemon's log and the audit log file carry no control character.
#[test]
fn a_flood_of_stderr_and_terminal_escapes_stay_out_of_the_error_and_the_logs() {
    let dir = TempDir::new("audit-bounds-stderr");
    let command = script(
        &dir,
        "stderr",
        "printf 'bad\\033[2Jthing\\rFAKE: audit: 0 updates pending\\000nul\\n' >&2\n\
         head -c 8000000 /dev/zero | tr '\\0' E >&2\nexit 3",
    );
    let (daemon, run) = audit_with(&dir, &command);
    assert_eq!(run.state, "failed", "{}", daemon.dump());
    let error = text(&run.data, &["updates", "error"]).unwrap_or_default();
    assert!(error.len() <= 1024, "error of {} bytes", error.len());
    assert!(
        error.contains("exit status 3")
            && error.contains("\"bad\\x1b[2Jthing\\rFAKE: audit: 0 updates pending\\0nul\"")
            && error.contains("EEEE…"),
        "{error}"
    );
    assert!(!error.contains(char::is_control), "{error:?}");
    let logged: Vec<String> = daemon.log.lock().unwrap().clone();
    let failed = logged
        .iter()
        .find(|l| l.contains("audit failed"))
        .expect("the failure is logged");
    assert!(
        failed.len() < 2048 && !failed.contains(char::is_control),
        "{} bytes: {:?}",
        failed.len(),
        &failed[..failed.len().min(300)]
    );
    assert!(!logged.iter().any(|l| l.starts_with("FAKE")), "{logged:?}");
    let logs = files_below(&dir.join("logs"));
    let log = std::fs::read(dir.join("logs").join(&logs[0])).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert!(
        !log.contains(|c: char| c.is_control() && c != '\n'),
        "control characters in the log file"
    );
    assert!(
        log.contains("\nbad\\x1b[2Jthing\\rFAKE: audit: 0 updates pending\\0nul\n"),
        "{}",
        &log[..log.len().min(2000)]
    );
    run.assert_answers_kept_coming();
}
