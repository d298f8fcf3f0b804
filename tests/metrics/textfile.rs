//! `textfile_dir`: node_exporter's textfile collector in sysmon. A real
//! daemon serves a directory holding a good file, a malformed one and one
//! with a client-side timestamp: /metrics carries the good file's series
//! (merged with a second file's under one header), the mtimes of the files
//! it served, `node_textfile_scrape_error 1`, and promtool accepts it all.
//! A FIFO named `*.prom` must not stall the scrape. Then the real output of
//! the community `apt_info.py` script (fetched by .ci/deps) goes through.
use crate::common::*;
use std::time::Duration;

const APT_INFO: &str = "/var/cache/sysmon-test/apt-info/apt_info.py";

fn mtime_line(dir: &std::path::Path, name: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    let path = dir.join(name);
    let mtime = std::fs::metadata(&path).unwrap().mtime();
    format!(
        "node_textfile_mtime_seconds{{file=\"{}\"}} {mtime}",
        path.display()
    )
}

#[test]
fn textfile_dir_serves_good_files_and_reports_bad_ones() {
    let dir = TempDir::new("metrics-textfile");
    let files = dir.join("textfile");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(
        files.join("smart.prom"),
        "# HELP smartmon_device_active SMART metric device_active\n\
         # TYPE smartmon_device_active gauge\n\
         smartmon_device_active{disk=\"/dev/sda\",type=\"sat\"} 1\n\
         # TYPE smartmon_read_seconds histogram\n\
         smartmon_read_seconds_bucket{le=\"0.5\"} 3\n\
         smartmon_read_seconds_bucket{le=\"+Inf\"} 4\n\
         smartmon_read_seconds_sum 1.5\n\
         smartmon_read_seconds_count 4\n",
    )
    .unwrap();
    std::fs::write(
        files.join("smart2.prom"),
        "# TYPE smartmon_device_active gauge\n\
         smartmon_device_active{disk=\"/dev/sdb\",type=\"sat\"} 0\n",
    )
    .unwrap();
    std::fs::write(files.join("bad.prom"), "broken_metric{ 1\n").unwrap();
    std::fs::write(
        files.join("stamped.prom"),
        "stamped_metric 1 1700000000000\n",
    )
    .unwrap();
    std::fs::write(files.join("notes.txt"), "not_a_prom_file 1\n").unwrap();
    let fifo = files.join("fifo.prom");
    assert!(sh(&format!("mkfifo {}", fifo.display())).status.success());

    // Every scrape rendered: the files change between two of them.
    let daemon = Daemon::on_fixture(
        &dir,
        &format!("textfile_dir = {}\nmetrics_cache = 0s", files.display()),
    );
    let r = daemon.get("/metrics");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    let text = r.body_text();
    let expected_family = "# HELP smartmon_device_active SMART metric device_active\n\
         # TYPE smartmon_device_active gauge\n\
         smartmon_device_active{disk=\"/dev/sda\",type=\"sat\"} 1\n\
         smartmon_device_active{disk=\"/dev/sdb\",type=\"sat\"} 0\n";
    assert!(text.contains(expected_family), "{text}");
    assert!(text.contains("\nsmartmon_read_seconds_count 4\n"), "{text}");
    for served in ["smart.prom", "smart2.prom"] {
        let line = mtime_line(&files, served);
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    for refused in [
        "broken_metric",
        "stamped_metric",
        "not_a_prom_file",
        "bad.prom",
        "stamped.prom",
        "fifo.prom",
        "notes.txt",
    ] {
        assert!(!text.contains(refused), "{refused} in:\n{text}");
    }
    assert!(text.contains("\nnode_textfile_scrape_error 1\n"), "{text}");
    if have_tool("promtool", "textfile_dir exposition check") {
        assert_promtool_accepts(text.as_bytes());
    }

    // Fix the bad files: the next scrape sees it, the error clears.
    std::fs::remove_file(files.join("bad.prom")).unwrap();
    std::fs::remove_file(&fifo).unwrap();
    std::fs::write(files.join("stamped.prom"), "stamped_metric 1\n").unwrap();
    let text = daemon.get("/metrics").body_text();
    assert!(text.contains("\nnode_textfile_scrape_error 0\n"), "{text}");
    assert!(text.contains("\nstamped_metric 1\n"), "{text}");
}

#[test]
fn apt_info_output_goes_through_textfile_dir() {
    if !std::path::Path::new(APT_INFO).exists() {
        eprintln!(
            "SKIPPED: apt_info.py through textfile_dir: {APT_INFO} missing (.ci/deps fetches it as root)"
        );
        return;
    }
    let out = sh(&format!("/usr/bin/python3 {APT_INFO}"));
    if !out.status.success() {
        eprintln!(
            "SKIPPED: apt_info.py through textfile_dir: it does not run here (python3-apt missing?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let produced = String::from_utf8(out.stdout).unwrap();
    assert!(produced.contains("apt_upgrades_pending"), "{produced}");
    let dir = TempDir::new("metrics-textfile-apt");
    let files = dir.join("textfile");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("apt.prom"), &produced).unwrap();
    // update_manager = none: sysmon exports no apt_* of its own here (with
    // `apt` it would, and the file would be refused as clashing).
    let daemon = Daemon::on_fixture(&dir, &format!("textfile_dir = {}", files.display()));
    let text = daemon.get("/metrics").body_text();
    assert!(
        text.contains("\nnode_textfile_scrape_error 0\n"),
        "{}\n{text}",
        daemon.dump()
    );
    for line in produced
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        assert!(
            text.lines().any(|l| l == line.trim_end()),
            "no `{line}` in:\n{text}"
        );
    }
    if have_tool("promtool", "apt_info.py through textfile_dir") {
        assert_promtool_accepts(text.as_bytes());
    }
}

/// `metrics_cache`: within its age, and while no sample, job or connection
/// changed, a scrape gets the body rendered last, textfiles and all; at
/// `0s` every scrape reads the files again.
#[test]
fn metrics_cache_answers_scrapes_from_the_last_render() {
    for (cache, second) in [("1m", "cached_value 1"), ("0s", "cached_value 2")] {
        let dir = TempDir::new("metrics-cache");
        let files = dir.join("textfiles");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::write(files.join("a.prom"), "cached_value 1\n").unwrap();
        // One sample at the start and none for an hour.
        let daemon = Daemon::on_fixture(
            &dir,
            &format!(
                "interval = 1h\ntextfile_dir = {}\nmetrics_cache = {cache}",
                files.display()
            ),
        );
        let first = daemon.get("/metrics").body_text();
        assert!(first.contains("\ncached_value 1\n"), "{first}");
        std::fs::write(files.join("a.prom"), "cached_value 2\n").unwrap();
        let text = daemon.get("/metrics").body_text();
        assert!(
            text.contains(&format!("\n{second}\n")),
            "metrics_cache = {cache}: {text}"
        );
        if cache == "1m" {
            // The very same body, its collector timings included.
            assert_eq!(text, first);
        }
    }
}

/// The lines of the daemon's log naming `needle`.
fn lines_with(daemon: &Daemon, needle: &str) -> Vec<String> {
    let log = daemon.log.lock().unwrap();
    log.iter().filter(|l| l.contains(needle)).cloned().collect()
}

/// A file refused (too large, then a FIFO) is named in one log line with
/// what was wrong, once while it stays so however many scrapes come, and
/// again when another one is; the files served beside it stay served.
/// Before, the only line was `collector textfile: no data ...: nothing
/// served from textfile_dir (see node_textfile_scrape_error)`, naming no
/// file and wrong about the file served (hostile-input sweep 2,
/// 2026-12-04).
#[test]
fn a_refused_file_is_named_in_one_log_line() {
    let dir = TempDir::new("metrics-textfile-named");
    let files = dir.join("textfile");
    std::fs::create_dir(&files).unwrap();
    std::fs::write(files.join("good.prom"), "good_metric 1\n").unwrap();
    let big = files.join("big.prom");
    let line = "big_metric{n=\"0123456789\"} 1\n";
    std::fs::write(&big, line.repeat((2 << 20) / line.len())).unwrap();
    let daemon = Daemon::on_fixture(
        &dir,
        &format!("textfile_dir = {}\nmetrics_cache = 0s", files.display()),
    );
    for _ in 0..3 {
        let text = daemon.get("/metrics").body_text();
        assert!(text.contains("\ngood_metric 1\n"), "{text}");
        assert!(text.contains("\nnode_textfile_scrape_error 1\n"), "{text}");
    }
    let named = |needle: &str, what: &str| {
        wait_for(Duration::from_secs(5), || {
            let lines = lines_with(&daemon, needle);
            lines.iter().any(|l| l.contains(what)).then_some(lines)
        })
        .unwrap_or_else(|| panic!("no line naming {needle} ({what})\n{}", daemon.dump()))
    };
    let lines = named(&format!("{}: ", big.display()), "larger than");
    assert_eq!(lines.len(), 1, "{}", daemon.dump());
    assert!(
        lines_with(&daemon, "nothing served from textfile_dir").is_empty(),
        "{}",
        daemon.dump()
    );

    std::fs::remove_file(&big).unwrap();
    let fifo = files.join("fifo.prom");
    assert!(sh(&format!("mkfifo {}", fifo.display())).status.success());
    for _ in 0..3 {
        assert!(
            daemon
                .get("/metrics")
                .body_text()
                .contains("\ngood_metric 1\n")
        );
    }
    let lines = named(&format!("{}: ", fifo.display()), "FIFO");
    assert_eq!(lines.len(), 1, "{}", daemon.dump());
}
