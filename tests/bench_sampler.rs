//! `make bench` only (ignored by `make test`): CPU time per sample of the
//! live /proc, averaged over many samples. Prints `us_per_sample N`; asserts
//! nothing about speed (speed is measured, not tested).
use std::time::Instant;

use sysmon::sample::{MountSelection, Sample, Sampler};

#[test]
#[ignore = "benchmark: run by make bench"]
fn cpu_time_per_sample() {
    let mut sampler = Sampler::new(
        std::path::Path::new("/proc"),
        std::path::Path::new("/sys"),
        MountSelection::Auto,
    );
    let mut sample = Sample::default();
    for t in 0..100 {
        sampler.sample(t, &mut sample);
    }
    let n = 20_000u64;
    let start = Instant::now();
    for t in 0..n {
        sampler.sample(t, &mut sample);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("us_per_sample {us:.1}");
    assert!(sample.memory.total_bytes > 0, "the samples were real");
}
