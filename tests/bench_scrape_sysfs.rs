//! `make bench` only (ignored by `make test`): what the scrape-time sysfs
//! families (hwmon, cooling devices, power supplies) cost per /metrics
//! render, on a generated /sys of many sensors: 8 chips each with the 63
//! sensor files of node_exporter's nct6779 fixture chip and 8 temperatures
//! of 4 files (760 sensor files), 32 cooling devices and node_exporter's
//! two power supplies. Prints `us_per_render_sensors N` for that root and
//! `us_per_render_no_sys N` for an empty /sys on the same /proc fixture,
//! and `sensor_series N`: the difference is the families' cost. Asserts
//! nothing about speed.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sysmon::config::{Config, UpdateManager};
use sysmon::daemon::Daemon;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), target).unwrap();
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A /sys with many sensors under `root`.
fn many_sensors(root: &Path) {
    let source = fixtures().join("sys/node-exporter/sys");
    let chip = source.join("devices/platform/nct6775.656/hwmon/hwmon3");
    std::fs::create_dir_all(root.join("class/hwmon")).unwrap();
    for i in 0..8 {
        let device = root.join(format!("devices/platform/nct6775.{i}"));
        let hwmon = device.join(format!("hwmon/hwmon{i}"));
        copy_dir(&chip, &hwmon);
        std::os::unix::fs::symlink(&device, hwmon.join("device")).unwrap();
        for t in 1..=8 {
            for (file, value) in [
                ("input", "45000\n"),
                ("max", "80000\n"),
                ("crit", "100000\n"),
                ("label", "Core\n"),
            ] {
                std::fs::write(hwmon.join(format!("temp{t}_{file}")), value).unwrap();
            }
        }
        std::os::unix::fs::symlink(&hwmon, root.join(format!("class/hwmon/hwmon{i}"))).unwrap();
    }
    for i in 0..32 {
        let dir = root.join(format!("class/thermal/cooling_device{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, value) in [
            ("type", "Processor\n"),
            ("max_state", "10\n"),
            ("cur_state", "0\n"),
        ] {
            std::fs::write(dir.join(file), value).unwrap();
        }
    }
    copy_dir(
        &source.join("class/power_supply"),
        &root.join("class/power_supply"),
    );
}

fn us_per_render(sys_root: &Path, scratch: &Path) -> (f64, usize) {
    let mut config = Config {
        listen: vec![sysmon::config::parse_listen("127.0.0.1:0").unwrap()],
        interval: Duration::from_secs(3600),
        proc_root: fixtures().join("proc/basic"),
        sys_root: sys_root.to_path_buf(),
        mounts: vec!["/".into()],
        ..Config::default()
    };
    config.backup.enabled = false;
    config.updates.manager = UpdateManager::None;
    config.state_dir = scratch.join("state");
    config.log_dir = scratch.join("logs");
    config.backup_dir = scratch.join("backups");
    let mut daemon = Daemon::bind(config).expect("bind");
    assert!(daemon.poll_once());
    for _ in 0..10 {
        let _ = daemon.render_metrics().len();
    }
    let text = daemon.render_metrics().to_string();
    let sensor_series = text
        .lines()
        .filter(|l| {
            ["node_hwmon_", "node_cooling_", "node_power_supply_"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .count();
    let n = 2_000u32;
    let start = Instant::now();
    for _ in 0..n {
        let _ = daemon.render_metrics().len();
    }
    (
        start.elapsed().as_secs_f64() * 1e6 / f64::from(n),
        sensor_series,
    )
}

#[test]
#[ignore = "benchmark: run by make bench"]
fn scrape_time_sysfs_families_per_render() {
    let scratch = std::env::temp_dir().join(format!("sysmon-bench-sysfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let sys = scratch.join("sys");
    many_sensors(&sys);
    let empty = scratch.join("empty-sys");
    std::fs::create_dir_all(&empty).unwrap();
    let (with, series) = us_per_render(&sys, &scratch);
    let (without, _) = us_per_render(&empty, &scratch);
    println!("us_per_render_sensors {with:.1}");
    println!("us_per_render_no_sys {without:.1}");
    println!("sensor_series {series}");
    std::fs::remove_dir_all(&scratch).unwrap();
}
