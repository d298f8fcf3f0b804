//! The idle daemon (timer ticks and sampling, no requests) allocates
//! nothing at all once warmed up, so its memory cannot creep. A counting
//! global allocator records every allocation made on the thread that runs
//! the loop. (Its own test binary: the allocator would count for any test
//! linked beside it.)
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sysmon::config::{Config, UpdateManager};
use sysmon::daemon::Daemon;
use sysmon::sample::{MountSelection, Sample, Sampler};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Of those, the reallocations (a buffer grown).
    static REALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised
// thread-local Cell, whose access never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        let _ = REALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn reallocations() -> u64 {
    REALLOCATIONS.with(Cell::get)
}

fn config(proc_root: PathBuf) -> Config {
    let mut config = Config {
        listen: vec![sysmon::config::parse_listen("127.0.0.1:0").unwrap()],
        interval: Duration::from_millis(100),
        client_timeout: Duration::from_secs(1),
        // The interface filter runs on every sample too.
        network_exclude: vec![sysmon::nameglob::NameGlob::parse("lo").unwrap()],
        proc_root,
        ..Config::default()
    };
    config.backup.enabled = false;
    config.updates.manager = UpdateManager::None;
    // Nothing on the host: the history file and the boot log go to a
    // directory of this test run (the default is /var/lib/sysmon).
    sweep_earlier_runs();
    let scratch = std::env::temp_dir().join(format!("sysmon-alloc-{}", std::process::id()));
    // A state_dir of its own for each daemon: one state_dir is one daemon
    // (src/statelock.rs), and these tests run side by side in one process.
    static DAEMONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = DAEMONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    config.state_dir = scratch.join(format!("state-{n}"));
    config.log_dir = scratch.join("logs");
    config.backup_dir = scratch.join("backups");
    config.root_fs = private_root_fs();
    config
}

/// A root for `--root-fs` holding a copy of this machine's /etc/passwd, so
/// the top processes' user names come from a file no one else changes: the
/// sampler re-reads the passwd file (and allocates) whenever its mtime
/// moves, and other tests or tools on this machine (`useradd` in
/// tests/privileges.rs, a package install) may touch /etc/passwd while
/// these tests count. That re-read is the documented exception, not a
/// leak; what these tests count is everything else. One root per call
/// (the tests run in parallel, and rewriting a shared copy would move its
/// mtime under another test's count); /metrics' `node_os_info` reads the
/// os-release copied beside it, and udev's database is the machine's.
fn private_root_fs() -> PathBuf {
    sweep_earlier_runs();
    static ROOTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = ROOTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("sysmon-alloc-root-{}-{n}", std::process::id()));
    std::fs::create_dir_all(root.join("etc")).expect("mkdir etc");
    for file in ["etc/passwd", "etc/os-release"] {
        let text = std::fs::read(std::path::Path::new("/").join(file))
            .unwrap_or_else(|e| panic!("read /{file}: {e}"));
        std::fs::write(root.join(file), text).unwrap_or_else(|e| panic!("write {file}: {e}"));
    }
    let _ = std::os::unix::fs::symlink("/run", root.join("run"));
    root
}

/// Removes what earlier runs of these tests left in the temporary
/// directory: every `sysmon-alloc-*` entry whose pid (the run's, in its
/// name) is no running process's. The roots of [`private_root_fs`] and the
/// scratch directory of [`config`] stay while the run uses them (a
/// daemon under test may still read them when a test ends), so each run
/// removes its predecessors' instead: at most one run's are left.
fn sweep_earlier_runs() {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("sysmon-alloc-")) else {
                continue;
            };
            // `root-PID-N`; every other name ends in `-PID` or is `PID`.
            let pid = match rest.strip_prefix("root-") {
                Some(root) => root.split('-').next(),
                None => rest.rsplit('-').next(),
            };
            let Some(pid) = pid.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if !std::path::Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
}

/// What other tests and tools on this machine may change under the tests
/// that sample its live /proc, and what the daemon then rebuilds,
/// allocating by design once per change: the mount table (the disk list,
/// `sample/disks.rs`) and the network interfaces (their entries and
/// history series). A container another test starts (systemd-nspawn: its
/// mounts, its veth) does both. Reproduced in namespaces of the test's
/// own: 150 tmpfs mounts made 30 ms apart failed four of these tests (700
/// to 6,400 allocations), 100 veth pairs made 50 ms apart five (690 to
/// 6,245); loop devices coming and going, none.
struct MachineChanges {
    /// /proc/self/mounts, opened at the watch's start: the kernel flags it
    /// (POLLPRI) at every later change of the table.
    mounts: std::fs::File,
    interfaces: Vec<String>,
}

impl MachineChanges {
    fn watch() -> MachineChanges {
        MachineChanges {
            mounts: std::fs::File::open("/proc/self/mounts").expect("/proc/self/mounts"),
            interfaces: interfaces(),
        }
    }

    /// What changed since [`MachineChanges::watch`], if anything.
    fn seen(&self) -> Option<String> {
        use std::os::fd::AsRawFd;
        if sysmon::sys::mount_table_changed(self.mounts.as_raw_fd()) {
            return Some("the mount table changed".into());
        }
        let now = interfaces();
        (now != self.interfaces).then(|| {
            format!(
                "the network interfaces changed from {:?} to {now:?}",
                self.interfaces
            )
        })
    }
}

/// The names in /proc/net/dev, sorted.
fn interfaces() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev");
    let mut names: Vec<String> = text
        .lines()
        .skip(2)
        .filter_map(|line| Some(line.split_once(':')?.0.trim().to_string()))
        .collect();
    names.sort();
    names
}

/// The allocations `window` counted (it warms up, then counts): the first
/// window's that made at most `allowed`, or during which the machine did
/// not change ([`MachineChanges`]). One that made more while the machine
/// changed is run again, up to ten windows: an allocation of sysmon's own
/// shows in every window.
fn counted_while_the_machine_stays(
    what: &str,
    allowed: u64,
    mut window: impl FnMut() -> u64,
) -> u64 {
    for _ in 0..10 {
        let changes = MachineChanges::watch();
        let allocated = window();
        if allocated <= allowed {
            return allocated;
        }
        match changes.seen() {
            None => return allocated,
            Some(change) => {
                eprintln!("{what}: {change} while counted ({allocated} allocations); again")
            }
        }
    }
    panic!("{what}: the machine changed in each of 10 windows; nothing counted");
}

/// The sampler alone, on the live /proc of this machine: after two warm-up
/// samples, a thousand more allocate nothing (the top processes included,
/// while this machine's processes come and go).
#[test]
fn sampler_allocates_nothing_once_warm() {
    for selection in [
        MountSelection::Auto,
        MountSelection::Listed(vec!["/".into()]),
    ] {
        let mut sampler = Sampler::new(
            std::path::Path::new("/proc"),
            std::path::Path::new("/sys"),
            selection.clone(),
        );
        sampler.set_top_processes(
            5,
            Some(Duration::ZERO),
            &private_root_fs().join("etc/passwd"),
        );
        let mut sample = Sample::default();
        let mut t = 0;
        let mut sample_once = |sample: &mut Sample| {
            t += 1;
            sampler.sample(t, sample);
        };
        let allocated = counted_while_the_machine_stays(&format!("{selection:?}"), 0, || {
            sample_once(&mut sample);
            sample_once(&mut sample);
            let before = allocations();
            for _ in 0..1000 {
                sample_once(&mut sample);
            }
            allocations() - before
        });
        assert_eq!(allocated, 0, "{selection:?}: allocations in 1000 samples");
        assert!(
            sample.memory.total_bytes > 0 && !sample.cores.is_empty() && !sample.disks.is_empty()
        );
        assert!(
            !sample.top.by_memory.is_empty(),
            "the top processes were read"
        );
    }
}

/// With `top_every = off` (issue 16) the top processes are read by an
/// answer (`read_top_on_demand`) and their kept `stat` files closed by the
/// next sample that nobody watches: three hundred such rounds on the live
/// /proc, once warm, allocate nothing (the files reopened each time).
#[test]
fn on_demand_top_readings_allocate_nothing_once_warm() {
    let mut sampler = Sampler::new(
        std::path::Path::new("/proc"),
        std::path::Path::new("/sys"),
        MountSelection::Auto,
    );
    sampler.set_top_processes(5, None, &private_root_fs().join("etc/passwd"));
    let mut sample = Sample::default();
    let (mut t, mut closed) = (0, 0);
    let allocated = counted_while_the_machine_stays("on-demand top", 0, || {
        for _ in 0..3 {
            sampler.sample_periodic(t, None, &mut sample);
            t += 1;
            assert!(sampler.read_top_on_demand(Instant::now(), &mut sample));
        }
        let before = allocations();
        closed = 0;
        for _ in 0..300 {
            sampler.sample_periodic(t, None, &mut sample);
            t += 1;
            closed += usize::from(sampler.kept_stat_files() == 0);
            sampler.read_top_on_demand(Instant::now(), &mut sample);
        }
        allocations() - before
    });
    assert_eq!(allocated, 0, "allocations in 300 rounds");
    assert_eq!(closed, 300, "a sample nobody watches closes the kept files");
    assert!(!sample.top.by_memory.is_empty() && sample.top.cpu_window_s.is_some());
}

/// The whole loop: timers, sampling every 100 ms, recording history (in
/// memory and in the history file, whose 1 s and 2 s tiers write a batch
/// of pages every 4 s, at least once during the measurement), evaluating
/// alerts (one firing throughout, one that can only be pending, one per
/// disk), writing the boot log every 700 ms (issue 14) and waiting on the
/// HTTP server, for five seconds with no request.
#[test]
fn idle_daemon_loop_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("sysmon-alloc-idle-{}", std::process::id()));
    let mut config = config(PathBuf::from("/proc"));
    config.state_dir = dir.join("state");
    config.history_tiers = sysmon::history_file::parse_tiers("1s:1m 2s:2m").unwrap();
    let threshold = |text| sysmon::config::parse_threshold(text).unwrap();
    config.alerts.cpu = threshold("0% for 0s");
    config.alerts.memory = threshold("100% for 1h");
    config.alerts.disk = threshold("100%");
    config.alerts.swap = threshold("50% for 1m");
    config.alerts.command = Some("exit 0".into());
    // The boot log's "still alive" write (issue 14) happens while measured.
    config.boot_log_every = Duration::from_millis(700);
    // The top processes at every sample (`top_processes = 5` by default).
    config.top_every = Some(Duration::from_millis(100));
    let mut daemon = Daemon::bind(config).expect("bind");
    let pages = |d: &Daemon| d.history_file_stats().map_or(0, |s| s.pages_written);
    let boot_log_writes = |d: &Daemon| d.boot_log().expect("a boot log").writes();
    // What the counted window did: turns, samples, history pages, boot log writes.
    let mut did = (0, 0, 0, 0);
    let allocated = counted_while_the_machine_stays("idle loop", 0, || {
        let warm_until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < warm_until {
            assert!(daemon.poll_once());
        }
        let generation = daemon.sample().generation;
        let pages_before = pages(&daemon);
        let boot_log_before = boot_log_writes(&daemon);
        let before = allocations();
        let until = Instant::now() + Duration::from_secs(5);
        let mut turns = 0;
        while Instant::now() < until {
            assert!(daemon.poll_once());
            turns += 1;
        }
        let allocated = allocations() - before;
        did = (
            turns,
            daemon.sample().generation - generation,
            pages(&daemon) - pages_before,
            boot_log_writes(&daemon) - boot_log_before,
        );
        allocated
    });
    let (turns, samples, pages, boot_log_written) = did;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(samples >= 25, "only {samples} samples in 5 s at 100 ms");
    assert!(
        boot_log_written >= 2,
        "boots.log written {boot_log_written} times while measured"
    );
    assert!(
        pages >= 2,
        "only {pages} history pages written while measured"
    );
    assert_eq!(
        allocated, 0,
        "{allocated} allocations in {turns} idle turns with {samples} samples"
    );
    // The work measured above really happened (the top processes are on
    // by default: `top_processes = 5`).
    assert!(
        daemon.sample().top.enabled && !daemon.sample().top.by_memory.is_empty(),
        "the top processes were read"
    );
    let firing: Vec<String> = daemon
        .alerts()
        .firing()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(firing, ["cpu"]);
    assert_eq!(
        daemon.alerts().commands_running(),
        0,
        "the `exit 0` was reaped"
    );
    let mut json = String::new();
    daemon.history().render_json(None, &mut json);
    let cpu = json
        .split("\"cpu\":[")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    let points = cpu.split(',').filter(|v| *v != "null").count() as u64;
    assert!(
        points > samples,
        "{points} cpu points for {samples} samples"
    );
}

/// Rendering /metrics, scrape-time reads included (uname, os-release, the
/// kernel tables, /sys/class/net, cpufreq limits, hwmon, cooling devices,
/// power supplies): on the live machine and on the fixture roots that have
/// sensors and cpufreq, after two warm-up scrapes a hundred more allocate
/// nothing (issue 12).
#[test]
fn metrics_scrape_allocates_nothing_once_warm() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (proc_root, sys_root) in [
        (PathBuf::from("/proc"), PathBuf::from("/sys")),
        (
            fixtures.join("proc/container-v2"),
            fixtures.join("sys/handmade"),
        ),
        // node_exporter's own fixture: hwmon chips with every kind of
        // sensor file, a cooling device, a battery and a mains supply.
        (
            fixtures.join("proc/basic"),
            fixtures.join("sys/node-exporter/sys"),
        ),
    ] {
        let mut config = config(proc_root.clone());
        config.sys_root = sys_root.clone();
        config.mounts = vec!["/".into()];
        config.alerts.disk = sysmon::config::parse_threshold("0%").unwrap();
        let (mut daemon, allocated, len) = allocations_in_100_warm_scrapes(config);
        let text = daemon.render_metrics();
        for family in [
            "node_uname_info{",
            "node_memory_Active_anon_bytes ",
            "node_cpu_seconds_total{",
            "node_timex_sync_status ",
        ] {
            assert!(text.contains(family), "no {family} in:\n{text}");
        }
        // (node_exporter's fixture has no /sys/class/net.)
        if !sys_root.ends_with("node-exporter/sys") {
            assert!(text.contains("node_network_up{"), "{text}");
        }
        if sys_root.ends_with("handmade") {
            assert!(
                text.contains("\nnode_cpu_scaling_frequency_max_hertz{"),
                "{text}"
            );
        }
        if sys_root.ends_with("node-exporter/sys") {
            for family in [
                "\nnode_hwmon_fan_rpm{",
                "\nnode_hwmon_temp_crit_celsius{",
                "\nnode_hwmon_sensor_label{",
                "\nnode_cooling_device_cur_state{",
                "\nnode_power_supply_online{",
                "\nnode_power_supply_info{",
            ] {
                assert!(text.contains(family), "no {family} in:\n{text}");
            }
        }
        if std::path::Path::new("/etc/os-release").exists() {
            assert!(text.contains("\nnode_os_info{"), "{text}");
        }
        assert_eq!(
            allocated,
            0,
            "{}: allocations in 100 scrapes of {len} bytes",
            proc_root.display()
        );
    }
}

/// A daemon on `config`, sampled once and its /metrics rendered twice to
/// warm it: it, the allocations in 100 renderings more, and the longest
/// text rendered.
fn allocations_in_100_warm_scrapes(config: Config) -> (Daemon, u64, usize) {
    let mut daemon = Daemon::bind(config).expect("bind");
    assert!(daemon.poll_once());
    let mut len = 0;
    let allocated = counted_while_the_machine_stays("100 scrapes", 0, || {
        len = len.max(daemon.render_metrics().len());
        len = len.max(daemon.render_metrics().len());
        let before = allocations();
        for _ in 0..100 {
            len = len.max(daemon.render_metrics().len());
        }
        allocations() - before
    });
    (daemon, allocated, len)
}

/// With `textfile_dir` set, a warm scrape allocates nothing either: the
/// directory is listed with getdents64 into a kept buffer (it was
/// `std::fs::read_dir`: a handle and two names per entry, issue 12), and the
/// files' texts and parse results reuse their buffers, however large the
/// files (README "Textfile collector").
#[test]
fn metrics_scrape_with_textfile_dir_allocates_nothing_once_warm() {
    let dir = std::env::temp_dir().join(format!("sysmon-alloc-textfile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let big: String = (0..2000)
        .map(|i| format!("big_series{{n=\"{i}\"}} {i}\n"))
        .collect();
    std::fs::write(
        dir.join("big.prom"),
        format!("# TYPE big_series gauge\n{big}"),
    )
    .unwrap();
    std::fs::write(dir.join("small.prom"), "# TYPE small gauge\nsmall 1\n").unwrap();
    std::fs::write(dir.join("bad.prom"), "bad{ 1\n").unwrap();
    std::fs::write(dir.join("ignored.txt"), "x 1\n").unwrap();
    let mut config = config(PathBuf::from("/proc"));
    config.textfile_dir = Some(dir.clone());
    let (mut daemon, allocated, _) = allocations_in_100_warm_scrapes(config);
    let text = daemon.render_metrics().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(text.contains("\nbig_series{n=\"1999\"} 1999\n"), "{text}");
    assert!(text.contains("\nsmall 1\n"), "{text}");
    assert!(text.contains("\nnode_textfile_scrape_error 1\n"), "{text}");
    assert_eq!(allocated, 0, "allocations in 100 scrapes with textfile_dir");
}

/// The idle loop after the boot jobs have finished: an update audit ran (a
/// `update_command` child, its pipes and log file) and the daemon went back
/// to timers and sampling, which again allocate nothing.
#[test]
fn idle_loop_after_an_audit_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("sysmon-alloc-audit-{}", std::process::id()));
    let mut config = config(PathBuf::from("/proc"));
    config.log_dir = dir.join("logs");
    config.state_dir = dir.join("state");
    config.backup_dir = dir.join("backups");
    config.updates.manager = UpdateManager::Command;
    config.updates.command = Some("echo 'pkg 1.0 -> 1.1'".into());
    let mut daemon = Daemon::bind(config).expect("bind");
    let deadline = Instant::now() + Duration::from_secs(20);
    while daemon.job_states().1.state != "ok" {
        assert!(
            Instant::now() < deadline,
            "audit did not finish: {:?}",
            daemon.job_states().1
        );
        assert!(daemon.poll_once());
    }
    let allocated = counted_while_the_machine_stays("idle loop after an audit", 0, || {
        let warm_until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < warm_until {
            assert!(daemon.poll_once());
        }
        let before = allocations();
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            assert!(daemon.poll_once());
        }
        allocations() - before
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        allocated, 0,
        "{allocated} allocations in the idle loop after an audit"
    );
}

/// Issue #6: the newer sources on fixture roots that have every one of them
/// (hwmon, thermal zones, cpufreq, a cgroup v2 container, pressure), with a
/// fake clock that crosses the rescan period many times: listing the sensor
/// directories again and finding them unchanged allocates nothing either.
#[test]
fn new_sources_allocate_nothing_once_warm_even_when_rescanning() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut sampler = Sampler::new(
        &root.join("proc/container-v2"),
        &root.join("sys/handmade"),
        MountSelection::Listed(vec!["/".into()]),
    );
    let mut sample = Sample::default();
    let start = Instant::now();
    let at = |s: u64| start + Duration::from_secs(s);
    sampler.sample_at(at(0), 1, &mut sample);
    sampler.sample_at(at(1), 2, &mut sample);
    let before = allocations();
    for t in 0..500 {
        // 7 s steps: a rescan (every 60 s) every ninth sample or so.
        sampler.sample_at(at(2 + t * 7), 3 + t, &mut sample);
    }
    assert_eq!(allocations() - before, 0, "allocations in 500 samples");
    assert_eq!(sample.temperatures.len(), 3);
    assert_eq!(sample.thermal_zones.len(), 2);
    assert_eq!(sample.cpu_frequencies.len(), 2);
    assert!(sample.container.is_some() && sample.pressure.io.is_some());
    assert!(!sample.network.is_empty() && !sample.disk_io.is_empty());
}

/// A fresh copy of the fixture proc/basic (links followed) in the temp
/// dir, for a test `name` to change.
fn copy_of_basic_proc(fixtures: &std::path::Path, name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("sysmon-alloc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let copied = std::process::Command::new("cp")
        .arg("-rL")
        .arg(fixtures.join("proc/basic"))
        .arg(&root)
        .status()
        .unwrap();
    assert!(copied.success(), "cp -rL proc/basic");
    root
}

/// A sampler of `root` (and sys/handmade, mount `/`), warmed by two
/// samples, then asserted to allocate nothing in 500 more: it and the
/// last sample.
fn sampled_500_times_allocating_nothing(
    root: &std::path::Path,
    fixtures: &std::path::Path,
) -> (Sampler, Sample) {
    let mut sampler = Sampler::new(
        root,
        &fixtures.join("sys/handmade"),
        MountSelection::Listed(vec!["/".into()]),
    );
    let mut sample = Sample::default();
    sampler.sample(1, &mut sample);
    sampler.sample(2, &mut sample);
    let before = allocations();
    for t in 0..500 {
        sampler.sample(3 + t, &mut sample);
    }
    assert_eq!(allocations() - before, 0, "allocations in 500 samples");
    (sampler, sample)
}

/// More network interfaces than the in-memory history has series (a
/// container host's veths: here 80, two series each, past
/// `history::MAX_SERIES`): once warm, sampling and recording the history
/// allocate nothing, the series past the room left out (logged once).
/// Before, each series left out built its name at every record and
/// dropped it: the idle loop of a daemon on a machine with 20 veth pairs
/// made 231 allocations a second, and the loop's tests on the live /proc
/// failed whenever another test had made such interfaces.
#[test]
fn history_past_its_series_allocates_nothing_once_warm() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let root = copy_of_basic_proc(&fixtures, "many-interfaces");
    let mut dev = std::fs::read_to_string(root.join("net/dev")).unwrap();
    for i in 0..80 {
        dev.push_str(&format!(
            "  veth{i}: {i}00 1 0 0 0 0 0 0 {i}00 1 0 0 0 0 0 0\n"
        ));
    }
    std::fs::write(root.join("net/dev"), dev).unwrap();
    let (mut sampler, mut sample) = sampled_500_times_allocating_nothing(&root, &fixtures);
    let epoch = Instant::now();
    let mut history =
        sysmon::history::History::new(epoch, Duration::from_secs(1), Duration::from_secs(60));
    let mut record = |t: u64, sample: &mut Sample| {
        sampler.sample(t, sample);
        history.record(epoch + Duration::from_secs(t), t * 1000, sample);
    };
    for t in 0..3 {
        record(t, &mut sample);
    }
    let before = allocations();
    for t in 3..203 {
        record(t, &mut sample);
    }
    let allocated = allocations() - before;
    let _ = std::fs::remove_dir_all(&root);
    let interfaces = sample
        .network
        .iter()
        .filter(|n| n.device.starts_with("veth"))
        .count();
    assert_eq!(interfaces, 80, "the fixture's interfaces sampled");
    assert_eq!(history.keys().count(), sysmon::history::MAX_SERIES);
    assert_eq!(allocated, 0, "allocations in 200 samples recorded");
}

/// A /proc whose tables repeat lines (an overlay /proc such as LXCFS; no
/// kernel does): /proc/stat its aggregate `cpu`, a `cpuN` and `btime`,
/// meminfo `MemTotal` (early, where the sampler reads), net/dev `lo`,
/// diskstats `vda` and vmstat `pgfault`. The repeats are dropped with the
/// first line kept, and neither the sampler nor a scrape allocates once
/// warm: the dropping (and the log line said once) costs nothing after.
#[test]
fn a_proc_that_repeats_lines_allocates_nothing_once_warm() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let root = copy_of_basic_proc(&fixtures, "repeats");
    // `line` put after line `after` (1-based) of `rel`: after the end when
    // `after` is past it.
    let insert = |rel: &str, after: usize, line: &str| {
        let path = root.join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(after.min(lines.len()), line);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    };
    insert("stat", 1, "cpu  9 9 9 9 9 9 9 9 0 0");
    insert("stat", usize::MAX, "cpu1 1 1 1 1 1 1 1 1 0 0");
    insert("stat", usize::MAX, "btime 7");
    insert("meminfo", 1, "MemTotal: 1 kB");
    insert(
        "net/dev",
        usize::MAX,
        "    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0",
    );
    insert(
        "diskstats",
        usize::MAX,
        " 253 0 vda 1 1 1 1 1 1 1 1 0 1 1 0 0 0 0 0 0",
    );
    insert("vmstat", usize::MAX, "pgfault 1");

    let (_sampler, sample) = sampled_500_times_allocating_nothing(&root, &fixtures);
    // The first lines' figures (basic/stat: btime 1795643488, cpu 6355 user).
    assert_eq!(sample.cores.len(), 2);
    assert_eq!(sample.boot_time_s, Some(1_795_643_488));
    assert_eq!(sample.cpu_ticks.user, 6355);
    assert_eq!(sample.memory.total_bytes, 24_684_084 * 1024);
    assert_eq!(
        sample.network.iter().filter(|n| n.device == "lo").count(),
        1
    );
    assert_eq!(
        sample.disk_io.iter().filter(|d| d.device == "vda").count(),
        1
    );

    let mut config = config(root.clone());
    config.sys_root = fixtures.join("sys/handmade");
    config.mounts = vec!["/".into()];
    let (mut daemon, allocated, len) = allocations_in_100_warm_scrapes(config);
    let text = daemon.render_metrics();
    assert_eq!(text.matches("\nnode_vmstat_pgfault ").count(), 1, "{text}");
    assert!(
        text.contains("\nnode_boot_time_seconds 1795643488\n"),
        "{text}"
    );
    assert_eq!(allocated, 0, "allocations in 100 scrapes of {len} bytes");
    let _ = std::fs::remove_dir_all(&root);
}

/// Sources that fail at every sample (a /proc/stat cut to `cpu 1 2`, a
/// meminfo that is gone: an io error, whose text std formats into a new
/// String) cost nothing once warm: the failure reported is rewritten only
/// when it changes, and the same one is recognised without formatting it.
#[test]
fn sources_failing_at_every_sample_allocate_nothing_once_warm() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let root = copy_of_basic_proc(&fixtures, "failing");
    std::fs::write(root.join("stat"), "cpu 1 2\n").unwrap();
    std::fs::remove_file(root.join("meminfo")).unwrap();
    let (sampler, _sample) = sampled_500_times_allocating_nothing(&root, &fixtures);
    let stat = format!("{}: line 1: cpu line", root.join("stat").display());
    let meminfo = format!("{}: ", root.join("meminfo").display());
    let errors: Vec<&str> = sampler.failures().collect();
    assert!(errors.iter().any(|e| e.starts_with(&stat)), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with(&meminfo)), "{errors:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Issue 14: reading runit's services (the service directory listed, each
/// `supervise/status` read and judged) allocates nothing once warm when
/// nothing changed; the status files are real runsv captures, in a
/// directory of 20 services, polled on a fake clock.
#[test]
fn runit_services_poll_allocates_nothing_once_warm() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/services/runit");
    let dir = std::env::temp_dir().join(format!("sysmon-alloc-runit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for i in 0..20 {
        let supervise = dir.join(format!("service-{i}/supervise"));
        std::fs::create_dir_all(&supervise).unwrap();
        let capture = if i % 5 == 0 {
            "crash.status"
        } else {
            "up.status"
        };
        std::fs::copy(fixtures.join(capture), supervise.join("status")).unwrap();
    }
    let config = sysmon::config::ServicesConfig {
        init: sysmon::config::ServiceInit::Runit,
        every: Duration::from_secs(1),
        ignore: vec!["service-1?".into()],
        runit_dir: Some(dir.clone()),
    };
    let start = Instant::now();
    let mut services =
        sysmon::services::Services::new(&config, std::path::Path::new("/proc"), start);
    // The captures' time: `up` has run for a minute, `crash` is down (wanted up) as long.
    let unix = 1_796_200_332;
    for s in 0..2 {
        services.poll(start + Duration::from_secs(s), unix + s);
    }
    let before = allocations();
    for s in 2..102 {
        services.poll(start + Duration::from_secs(s), unix + s);
    }
    let allocated = allocations() - before;
    let _ = std::fs::remove_dir_all(&dir);
    let snap = services.snapshot();
    assert_eq!(services.all().len(), 20);
    assert_eq!((snap.counts[0], snap.failed, snap.ignored), (16, 2, 2));
    assert_eq!(allocated, 0, "allocations in 100 polls of 20 services");
}

/// What a client thread does to the daemon, and where it has got to.
struct Scrapes {
    /// The client's warm-up is over: the loop thread starts counting.
    warm: std::sync::atomic::AtomicBool,
    /// The loop thread counts from now on: the client may go on.
    counting: std::sync::atomic::AtomicBool,
    /// The measured requests are answered: the loop thread stops counting.
    done: std::sync::atomic::AtomicBool,
}

/// Reads one answer off `stream` (a head with `Content-Length`, then that
/// many bytes; `carry` holds what was read beyond it) and returns its
/// head.
fn read_answer(stream: &mut std::net::TcpStream, carry: &mut Vec<u8>) -> String {
    use std::io::Read;
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = carry.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).expect("read an answer's head");
        assert!(n > 0, "the daemon closed the connection mid-answer");
        carry.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(carry[..head_end].to_vec()).expect("an ASCII head");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap_or_else(|| panic!("no Content-Length in {head}"))
        .trim()
        .parse()
        .expect("a Content-Length");
    while carry.len() < head_end + length {
        let n = stream.read(&mut chunk).expect("read an answer's body");
        assert!(n > 0, "the daemon closed the connection mid-body");
        carry.extend_from_slice(&chunk[..n]);
    }
    carry.drain(..head_end + length);
    head
}

/// The client's side: `warm_up` requests, then (once the loop counts)
/// `measured` more, each on the one keep-alive connection or on a new
/// connection each; every answer must be a 200. The request carries a
/// UTF-8 cookie, as a browser's may, and `extra` header lines.
fn scrape(
    addr: std::net::SocketAddr,
    (path, extra): (&str, &str),
    keep_alive: bool,
    warm_up: usize,
    measured: usize,
    state: &Scrapes,
) {
    use std::io::Write;
    use std::sync::atomic::Ordering::SeqCst;
    // A browser may send a cookie with bytes that are not ASCII (another
    // app's on the same host): its line is left out of the head
    // (tiny_http +sysmon.14), which must cost nothing either.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: alloc-test\r\n\
         Cookie: user=Jürgen\r\nAccept: */*\r\n{extra}\r\n"
    );
    let connect = || {
        let s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let mut stream = connect();
    let mut carry = Vec::new();
    for i in 0..warm_up + measured {
        if i == warm_up {
            state.warm.store(true, SeqCst);
            while !state.counting.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if !keep_alive && i > 0 {
            stream = connect();
            carry.clear();
        }
        stream
            .write_all(request.as_bytes())
            .expect("send a request");
        let head = read_answer(&mut stream, &mut carry);
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\n"),
            "{path} answer {i}: {head}"
        );
        assert_eq!(
            head.contains("\r\nContent-Encoding: gzip\r\n"),
            extra.contains("gzip"),
            "{path} {extra:?} answer {i}: {head}"
        );
    }
    state.done.store(true, SeqCst);
}

/// Allocations on the loop's thread in 200 warm answers, at most: none
/// per answer, and room for a kept list growing once (the reactor's list
/// of free slots takes its first entry when the client's last connection
/// closes, which the loop may see before it stops counting). Before
/// 2026-12-03 a warm answer made 24 allocations over a keep-alive
/// connection and 25 over a new connection each (the request head's
/// buffer, target, header list and each header's name and value, the
/// answer's header list and each of its six headers' name and value, the
/// `Content-Length` text; the new connection's shared socket); tiny_http
/// +sysmon.7 keeps the head as reused text, prints the answer's head from
/// borrowed lines and reuses a closed connection's socket allocation
/// (PATCHES.md; README *Performance*, "Answers without allocations").
const MAX_ALLOCATIONS_IN_200_ANSWERS: u64 = 2;

/// Answering requests over HTTP (issues 12 and 16): once warm, 200 scrapes
/// of /metrics (rendered afresh each time, `metrics_cache = 0s`) and of
/// /data.json, over one keep-alive connection and over a new connection
/// each, grow no buffer at each request on the loop's thread and allocate
/// nothing (`MAX_ALLOCATIONS_IN_200_ANSWERS`). The answer's header list grew from 3
/// to 6 to 12 entries (576 bytes) at every request, a size class musl's
/// allocator mapped and unmapped again each time: one 4 KiB mmap/munmap
/// pair per scrape.
#[test]
fn http_answers_allocate_nothing_once_warm() {
    for path in ["/metrics", "/data.json"] {
        for keep_alive in [true, false] {
            answers_allocating_nothing((path, ""), keep_alive, Duration::ZERO);
        }
    }
}

/// A gzip scrape (as Prometheus asks) of a cached body: the member is made
/// once after the render (deflate's state allocated and freed then), and
/// each further scrape sends it as it is, allocating nothing. Over one
/// keep-alive connection: a new connection each changes the connection
/// counters a cached body is kept for, so each would be a render.
#[test]
fn cached_gzip_answers_allocate_nothing_once_warm() {
    answers_allocating_nothing(
        ("/metrics", "Accept-Encoding: gzip\r\n"),
        true,
        Duration::from_secs(60),
    );
}

/// 200 warm answers to `request` (a path and extra header lines) with
/// `metrics_cache`, over one keep-alive connection or a connection each:
/// no buffer grown at each, nothing allocated
/// (`MAX_ALLOCATIONS_IN_200_ANSWERS`).
fn answers_allocating_nothing(request: (&str, &str), keep_alive: bool, metrics_cache: Duration) {
    use std::sync::atomic::Ordering::SeqCst;
    let (path, extra) = request;
    let how = if keep_alive {
        "one keep-alive connection"
    } else {
        "a connection each"
    };
    let what = format!("{path} {extra:?} over {how}");
    // Buffers grown and samples taken in the counted window.
    let (mut grown, mut samples) = (0, 0);
    let allocated = counted_while_the_machine_stays(&what, MAX_ALLOCATIONS_IN_200_ANSWERS, || {
        let mut config = config(PathBuf::from("/proc"));
        config.metrics_cache = metrics_cache;
        // No sample while measured: /data.json is rendered afresh (by
        // miniserde, which allocates) once after each sample, and
        // this test counts what an answer costs.
        config.interval = Duration::from_secs(600);
        let mut daemon = Daemon::bind(config).expect("bind");
        let addr = daemon.local_addr().expect("a TCP address");
        let state = std::sync::Arc::new(Scrapes {
            warm: false.into(),
            counting: false.into(),
            done: false.into(),
        });
        let client = {
            let state = std::sync::Arc::clone(&state);
            let (path, extra) = (path.to_string(), extra.to_string());
            std::thread::spawn(move || scrape(addr, (&path, &extra), keep_alive, 50, 200, &state))
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut before = None;
        while !state.done.load(SeqCst) && !client.is_finished() {
            assert!(Instant::now() < deadline, "{what}: the client got stuck");
            assert!(daemon.poll_once());
            if before.is_none() && state.warm.load(SeqCst) {
                before = Some((allocations(), reallocations(), daemon.sample().generation));
                state.counting.store(true, SeqCst);
            }
        }
        let (allocations_before, reallocations_before, generation) = before.expect("counted");
        samples = daemon.sample().generation - generation;
        let allocated = allocations() - allocations_before;
        grown = reallocations() - reallocations_before;
        // (a failed answer panics the client: join says so)
        client
            .join()
            .expect("the client's requests all answered 200");
        allocated
    });
    assert_eq!(samples, 0, "{what}: a sample while measured");
    // A kept buffer may still grow once in a while (a longer
    // answer, then kept); the header list grew at every request.
    assert!(
        grown <= 2,
        "{what}: {grown} buffers grown in 200 warm requests, {samples} samples"
    );
    assert!(
        allocated <= MAX_ALLOCATIONS_IN_200_ANSWERS,
        "{what}: {allocated} allocations in 200 warm requests"
    );
}
