//! apt's details on this machine's real apt, in a private mount namespace
//! (overlays on /etc and /var, see `MountNamespace`) where one upgradable
//! package is held and one leaf package marked automatically installed,
//! so the host's apt state is left as it was. The daemon's `apt_*` series
//! must agree with apt itself (`apt list --upgradable`, `apt-mark
//! showhold`, `apt-get -s autoremove`), pass `promtool check metrics`, and
//! equal what the community `apt_info.py` script prints when both run
//! (fetched by .ci/deps). No count is hard-coded: they change daily.
//!
//! And on a replayed simulation: thousands of origins are counted in
//! bounded time, off the loop, into a bounded number of series.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::*;
use miniserde::json::Value;

const APT_INFO: &str = "/var/cache/sysmon-test/apt-info/apt_info.py";

/// The audit's `update_timeout` here. The daemon ends an audit still at
/// work then (`failed`, naming the step), so the wait for its end is
/// bounded by that, not by how fast apt runs: real apt on a loaded 2-core
/// machine (three simulations, beside other tests) is not a figure to
/// bound. The wait fails only when the daemon does not keep its own
/// deadline.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(300);

/// After `update_timeout`: the daemon's start, the kill and one answer.
const AUDIT_END_MARGIN: Duration = Duration::from_secs(30);

/// `name{labels} value` lines of the `apt_*` and `node_reboot_required`
/// series, as label text → value.
fn series(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|l| l.starts_with("apt_") || l.starts_with("node_reboot_required"))
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn sum(series: &BTreeMap<String, f64>, name: &str) -> f64 {
    series
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}{{")) || *k == name)
        .map(|(_, v)| v)
        .sum()
}

fn lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn apt_metrics_agree_with_apt_and_apt_info() {
    if !is_root("apt details test (mount namespace)")
        || !have_tool("apt-get", "apt details test")
        || !have_tool("promtool", "apt details test")
    {
        return;
    }
    let dir = TempDir::new("audit-apt-details");
    let ns = MountNamespace::new(&dir, "");
    // Lists as fresh as apt-daily leaves them: on a machine whose lists
    // are older than a week (no `apt-get update` since), the daemon
    // rightly says `stale`, which is the machine's state, not a fault of
    // the details compared here (this test then waited 60 s for `ok` and
    // failed). The newest mtime counts; only the overlay's copy changes.
    ns.ok("find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -exec touch {} +");
    // One upgradable package held, one leaf marked automatic (if any).
    let upgradable =
        ns.ok("LC_ALL=C apt list --upgradable 2>/dev/null | grep -F '[upgradable from'");
    let first = upgradable
        .lines()
        .next()
        .and_then(|l| l.split('/').next())
        .map(String::from);
    if let Some(name) = &first {
        ns.ok(&format!("apt-mark hold {name}"));
    } else {
        eprintln!("note: nothing upgradable on this machine; the held count is 0");
    }
    ns.ok("apt-mark auto zip >/dev/null 2>&1 || true");

    let config = dir.config(&format!(
        "update_manager = apt\nbackup = off\nupdate_timeout = {}s",
        UPDATE_TIMEOUT.as_secs()
    ));
    let mut cmd = ns.command(
        BIN,
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C");
    let daemon = Daemon::spawn(cmd);
    let began = Instant::now();
    let updates = wait_for(UPDATE_TIMEOUT + AUDIT_END_MARGIN, || {
        let Value::Object(d) = daemon.data() else {
            return None;
        };
        let u = d.get("updates")?.clone();
        let state = text(&u, &["state"]);
        let ended = state.is_some_and(|s| !matches!(s.as_str(), "pending" | "running"));
        ended.then_some(u)
    })
    .unwrap_or_else(|| {
        panic!(
            "the audit has not ended {AUDIT_END_MARGIN:?} past its update_timeout \
             ({UPDATE_TIMEOUT:?}); log:\n{}",
            daemon.dump()
        )
    });
    eprintln!("the audit ended after {:?}", began.elapsed());
    assert_eq!(
        text(&updates, &["state"]).as_deref(),
        Some("ok"),
        "{}\n{}",
        miniserde::json::to_string(&updates),
        daemon.dump()
    );
    let metrics = daemon.get("/metrics").body_text();
    assert_promtool_accepts(metrics.as_bytes());
    let ours = series(&metrics);
    eprintln!("sysmon's apt series: {ours:#?}");

    // apt itself, in the same namespace, at the same time.
    let upgradable = lines(
        &ns.ok("LC_ALL=C apt list --upgradable 2>/dev/null | grep -F '[upgradable from' || true"),
    );
    let held = lines(&ns.ok("apt-mark showhold"));
    let held_upgradable = upgradable
        .iter()
        .filter(|l| held.iter().any(|h| l.split('/').next() == Some(h)))
        .count();
    let autoremove = lines(&ns.ok("LC_ALL=C apt-get -s autoremove | grep '^Remv ' || true")).len();
    assert_eq!(sum(&ours, "apt_upgrades_pending"), upgradable.len() as f64);
    assert_eq!(sum(&ours, "apt_upgrades_held"), held_upgradable as f64);
    assert_eq!(ours["apt_autoremove_pending"], autoremove as f64);
    assert_eq!(held_upgradable, usize::from(first.is_some()));
    // The pending count, as apt upgrades: without what is held.
    let count: f64 = miniserde::json::to_string(field(&updates, &["count"]).unwrap())
        .parse()
        .unwrap();
    assert_eq!(count, (upgradable.len() - held_upgradable) as f64);

    // apt_info.py, when it can run here: the same series, label for label.
    if !std::path::Path::new(APT_INFO).exists() {
        eprintln!(
            "SKIPPED: apt_info.py comparison: {APT_INFO} missing (.ci/deps fetches it as root)"
        );
        return;
    }
    let out = ns.sh(&format!("/usr/bin/python3 {APT_INFO}"));
    if !out.status.success() {
        eprintln!("SKIPPED: apt_info.py comparison: it does not run here (python3-apt missing?)");
        return;
    }
    let theirs = series(&String::from_utf8_lossy(&out.stdout));
    for (key, value) in &theirs {
        if key == "apt_package_cache_timestamp_seconds" {
            assert_eq!(ours[key], value.floor(), "{key}");
        } else {
            assert_eq!(ours.get(key), Some(value), "{key}: ours {ours:#?}");
        }
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "ours {ours:#?}\ntheirs {theirs:#?}"
    );
}

/// The sweep: 120,000 `Inst` lines of as many origins took 17 s to parse
/// (a search per line), then their count was redone on the loop when the
/// result was published, holding it (and /metrics) 6 s, and /metrics had
/// 119,368 `apt_upgrades_pending` series. With 20,000 here: no poll of the
/// service takes long (the details are completed where the parse runs),
/// and 64 series are kept, the rest summed into one, the sum exact.
#[test]
fn many_origins_are_counted_off_the_loop_into_at_most_64_series() {
    use crate::support::{service, shimmed, status};
    use sysmon::audit::model::{ORIGIN_SERIES_KEPT, OTHER_ORIGINS};
    let (dir, shims) = shimmed("audit-apt-origins");
    let mut stdout: String = (0..20_000)
        .map(|i| format!("Inst p{i} [1] (2 O{i}:1/s [a])\n"))
        .collect();
    stdout.push_str("20000 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n");
    shims.tool_output("apt-get", &stdout, "", 0);
    let mut audit = service(dir.path(), &shims, sysmon::config::UpdateManager::Apt);
    let (start, mut slowest) = (Instant::now(), Duration::ZERO);
    while audit.completed() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no result: {:?}",
            status(&audit)
        );
        let polled = Instant::now();
        audit.poll(polled);
        slowest = slowest.max(polled.elapsed());
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("slowest poll {slowest:?}, audit {:?}", start.elapsed());
    assert_eq!(status(&audit).count, Some(20_000));
    let details = audit.apt_details().unwrap();
    let series = &details.upgradable_by_origin;
    assert_eq!(series.len(), ORIGIN_SERIES_KEPT);
    assert_eq!(series.iter().map(|(_, n)| n).sum::<u64>(), 20_000);
    assert_eq!(
        series[0],
        ((OTHER_ORIGINS.into(), String::new()), 20_000 - 63)
    );
    let logs = crate::support::logs(&dir.join("logs"));
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(
        log.contains("origins: 19937 (origin, arch) series beyond the 64 kept summed into origin=\"(other origins)\""),
        "{}",
        &log[log.len().saturating_sub(2000)..]
    );
    // Bounded by the stall it guards against: on the code before, the
    // poll that published the result held the loop 5.58 s (the count
    // redone, a search per line). 1 s still fails that by 5x; the 300 ms
    // it had is a figure of a quiet machine (now 26 ms), which a loaded CI
    // box may pass.
    assert!(slowest < Duration::from_secs(1), "a poll took {slowest:?}");
}
