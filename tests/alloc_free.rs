//! Issue #2: the idle daemon (timer ticks and sampling, no requests)
//! allocates nothing at all once warmed up. A counting global allocator
//! records every allocation made on the thread that runs the loop.
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
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn config(proc_root: PathBuf) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        interval: Duration::from_millis(100),
        proc_root,
        ..Config::default()
    };
    config.backup.enabled = false;
    config.updates.manager = UpdateManager::None;
    config
}

/// The sampler alone, on the live /proc of this machine: after two warm-up
/// samples, a thousand more allocate nothing.
#[test]
fn sampler_allocates_nothing_once_warm() {
    for selection in [
        MountSelection::Auto,
        MountSelection::Listed(vec!["/".into()]),
    ] {
        let mut sampler = Sampler::new(std::path::Path::new("/proc"), selection.clone());
        let mut sample = Sample::default();
        sampler.sample(1, &mut sample);
        sampler.sample(2, &mut sample);
        let before = allocations();
        for t in 0..1000 {
            sampler.sample(3 + t, &mut sample);
        }
        assert_eq!(
            allocations() - before,
            0,
            "{selection:?}: allocations in 1000 samples"
        );
        assert!(
            sample.memory.total_bytes > 0 && !sample.cores.is_empty() && !sample.disks.is_empty()
        );
    }
}

/// The whole loop: timers, sampling every 100 ms, recording history,
/// evaluating alerts (one firing throughout, one that can only be pending,
/// one per disk) and waiting on the HTTP server, for a couple of seconds
/// with no request.
#[test]
fn idle_daemon_loop_allocates_nothing() {
    let mut config = config(PathBuf::from("/proc"));
    let threshold = |text| sysmon::config::parse_threshold(text).unwrap();
    config.alerts.cpu = threshold("0% for 0s");
    config.alerts.memory = threshold("100% for 1h");
    config.alerts.disk = threshold("100%");
    config.alerts.swap = threshold("50% for 1m");
    config.alerts.command = Some("exit 0".into());
    let mut daemon = Daemon::bind(config).expect("bind");
    let warm_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm_until {
        assert!(daemon.poll_once());
    }
    let generation = daemon.sample().generation;
    let before = allocations();
    let until = Instant::now() + Duration::from_secs(2);
    let mut turns = 0;
    while Instant::now() < until {
        assert!(daemon.poll_once());
        turns += 1;
    }
    let allocated = allocations() - before;
    let samples = daemon.sample().generation - generation;
    assert!(samples >= 10, "only {samples} samples in 2 s at 100 ms");
    assert_eq!(
        allocated, 0,
        "{allocated} allocations in {turns} idle turns with {samples} samples"
    );
    // The work measured above really happened.
    let firing: Vec<String> = daemon.alerts().json().into_iter().map(|a| a.name).collect();
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
