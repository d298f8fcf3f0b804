//! `make bench` only (ignored by `make test`): time per sample of the live
//! /proc, averaged over many samples. Prints `us_per_sample N` for every
//! source sysmon reads, and `us_per_sample_core N` for the core sources
//! alone (CPU, memory, load, uptime, disks: a root of links to just those
//! /proc files, so the others are absent and skipped). Asserts nothing
//! about speed: speed is measured, not tested. `tests/bench/run.sh` runs it
//! by this target's name.
use std::path::Path;
use std::time::Instant;

use sysmon::sample::{MountSelection, Sample, Sampler};

fn time_per_sample(proc_root: &Path, sys_root: &Path) -> f64 {
    let mut sampler = Sampler::new(proc_root, sys_root, MountSelection::Auto);
    let mut sample = Sample::default();
    for t in 0..100 {
        sampler.sample(t, &mut sample);
    }
    let n = 20_000u64;
    let start = Instant::now();
    for t in 0..n {
        sampler.sample(t, &mut sample);
    }
    assert!(
        sample.memory.total_bytes > 0 && !sample.disks.is_empty(),
        "the samples were real"
    );
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

#[test]
#[ignore = "benchmark: run by make bench"]
fn cpu_time_per_sample() {
    println!(
        "us_per_sample {:.1}",
        time_per_sample(Path::new("/proc"), Path::new("/sys"))
    );
    let core = std::env::temp_dir().join(format!("sysmon-bench-core-proc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&core);
    for rel in [
        "stat",
        "meminfo",
        "loadavg",
        "uptime",
        "self/mounts",
        "sys/kernel/hostname",
    ] {
        let link = core.join(rel);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(Path::new("/proc").join(rel), &link).unwrap();
    }
    let nothing = core.join("no-sys");
    println!("us_per_sample_core {:.1}", time_per_sample(&core, &nothing));
    std::fs::remove_dir_all(&core).unwrap();
}

/// The top processes (`top_processes = 5`) alone, on the live /proc: µs
/// per reading, and that per 100 processes. With `SYSMON_BENCH_SPAWN=N`,
/// N `sleep` processes are started first (and killed after), so the cost
/// at 5,000 processes is measured, not extrapolated.
#[test]
#[ignore = "benchmark: run by make bench"]
fn top_processes_time_per_sample() {
    use sysmon::sample::top::TopProcesses;
    let spawn: usize = std::env::var("SYSMON_BENCH_SPAWN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut sleepers = Vec::with_capacity(spawn);
    for _ in 0..spawn {
        match std::process::Command::new("sleep").arg("600").spawn() {
            Ok(child) => sleepers.push(child),
            Err(e) => {
                println!(
                    "SKIPPED: could spawn only {} sleep processes: {e}",
                    sleepers.len()
                );
                break;
            }
        }
    }
    let mut top = TopProcesses::new(Path::new("/proc"), Path::new("/etc/passwd"));
    top.set_rows(5);
    let mut out = sysmon::sample::TopSample::default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for _ in 0..5 {
        top.sample(Instant::now(), 1.0, cores, None, &mut out);
    }
    let n = if spawn > 0 { 50u32 } else { 500 };
    let start = Instant::now();
    for _ in 0..n {
        top.sample(Instant::now(), 1.0, cores, None, &mut out);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let processes = out.processes;
    for mut child in sleepers {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        processes > 0 && !out.by_memory.is_empty(),
        "the readings were real"
    );
    println!("top_processes {processes}");
    println!("top_us_per_sample {us:.0}");
    println!(
        "top_us_per_100_processes {:.1}",
        us * 100.0 / f64::from(processes)
    );
}
