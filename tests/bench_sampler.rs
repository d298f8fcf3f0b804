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
