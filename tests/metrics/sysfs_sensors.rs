//! hwmon, cooling devices and power supplies as node_exporter 1.5 exports
//! them (issue 12), on node_exporter's own sysfs fixture
//! (`tests/fixtures/sys/node-exporter`, see its SOURCE): every series
//! equal to what node_exporter 1.5.0 exported on it (recorded beside the
//! fixture; `tests/prometheus/sysfs_families.rs` runs the real one), a file
//! that cannot be read or parsed dropping only its series, and a chip that
//! appears between scrapes showing at the next.
use crate::common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The families the three collectors export.
const PREFIXES: [&str; 4] = [
    "node_hwmon_",
    "node_thermal_zone_",
    "node_cooling_device_",
    "node_power_supply_",
];

fn start(dir: &TempDir, sys_root: &Path) -> Daemon {
    Daemon::on_roots(
        dir,
        &fixture("proc/basic"),
        Some(sys_root),
        "metrics_cache = 0s",
    )
}

fn metrics(daemon: &Daemon) -> String {
    let r = daemon.get("/metrics");
    assert_eq!(r.status, 200, "{}", daemon.dump());
    r.body_text()
}

/// The sample lines of the three collectors' families.
fn sensor_lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| PREFIXES.iter().any(|p| l.starts_with(p)))
        .map(str::to_string)
        .collect()
}

/// A copy of the fixture's sys/ (symlinks kept: they make the chip labels).
fn copy_of_fixture(dir: &TempDir) -> std::path::PathBuf {
    let sys = dir.join("sys");
    let status = Command::new("cp")
        .arg("-a")
        .arg(fixture("sys/node-exporter/sys"))
        .arg(&sys)
        .status()
        .unwrap();
    assert!(status.success());
    sys
}

#[test]
fn every_series_as_node_exporter_1_5_exported_it_on_its_fixture() {
    let dir = TempDir::new("sysfs-sensors");
    let daemon = start(&dir, &fixture("sys/node-exporter/sys"));
    let text = metrics(&daemon);
    let recorded =
        std::fs::read_to_string(fixture("sys/node-exporter/node_exporter-1.5.0.prom")).unwrap();
    let want: BTreeSet<String> = recorded
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let got = sensor_lines(&text);
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing (node_exporter has, sysmon not): {missing:#?}\nextra (sysmon only): {extra:#?}"
    );
    // Each family once, its lines together (the format requires it).
    for family in [
        "node_hwmon_fan_rpm",
        "node_hwmon_temp_celsius",
        "node_power_supply_info",
    ] {
        assert_eq!(
            text.matches(&format!("# TYPE {family} gauge\n")).count(),
            1,
            "{family}"
        );
        let lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with(&format!("{family}{{")))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            lines.last().unwrap() - lines[0] + 1,
            lines.len(),
            "{family}"
        );
    }
    for collector in ["hwmon", "thermal_zone", "powersupplyclass"] {
        assert!(
            text.contains(&format!(
                "node_scrape_collector_success{{collector=\"{collector}\"}} 1\n"
            )),
            "{collector}"
        );
    }
    if have_tool("promtool", "the exposition's lint") {
        assert_promtool_accepts(text.as_bytes());
    }
}

#[test]
fn a_file_that_cannot_be_read_or_parsed_drops_its_series_only() {
    let dir = TempDir::new("sysfs-sensors-bad");
    let sys = copy_of_fixture(&dir);
    let coretemp = sys.join("devices/platform/coretemp.0/hwmon/hwmon0");
    std::fs::write(coretemp.join("temp1_input"), "garbage\n").unwrap();
    // A FIFO where a sensor file should be: refused, never waited on.
    std::fs::remove_file(coretemp.join("temp2_max")).unwrap();
    let status = Command::new("mkfifo")
        .arg(coretemp.join("temp2_max"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(sys.join("class/power_supply/BAT0/capacity"), "lots\n").unwrap();
    std::fs::write(
        sys.join("devices/virtual/thermal/cooling_device0/cur_state"),
        "x\n",
    )
    .unwrap();
    let daemon = start(&dir, &sys);
    let got = sensor_lines(&metrics(&daemon));
    for gone in [
        "node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"}",
        "node_hwmon_temp_max_celsius{chip=\"platform_coretemp_0\",sensor=\"temp2\"}",
        "node_power_supply_capacity{power_supply=\"BAT0\"}",
        "node_cooling_device_cur_state{",
    ] {
        assert!(
            !got.iter().any(|l| l.starts_with(gone)),
            "{gone} still in {got:#?}"
        );
    }
    // Their neighbours, in the same families, are all there.
    for kept in [
        "node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp2\"} 54",
        "node_hwmon_temp_max_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 84",
        "node_hwmon_temp_crit_celsius{chip=\"platform_coretemp_0\",sensor=\"temp2\"} 100",
        "node_power_supply_energy_watthour{power_supply=\"BAT0\"} 36.58",
        "node_power_supply_online{power_supply=\"AC\"} 0",
        "node_thermal_zone_temp{type=\"cpu-thermal\",zone=\"0\"} 12.376",
        "node_cooling_device_max_state{name=\"0\",type=\"Processor\"} 3",
    ] {
        assert!(got.contains(kept), "no `{kept}` in {got:#?}");
    }
    // Nothing else was lost: node_exporter's recorded set less the four.
    assert_eq!(got.len(), 138 - 4, "{got:#?}");
}

#[test]
fn a_chip_that_appears_between_scrapes_is_read_at_the_next() {
    let dir = TempDir::new("sysfs-sensors-new-chip");
    let sys = copy_of_fixture(&dir);
    let daemon = start(&dir, &sys);
    let before = sensor_lines(&metrics(&daemon));
    assert!(!before.iter().any(|l| l.contains("chip=\"hwmon9\"")));
    let chip = sys.join("class/hwmon/hwmon9");
    std::fs::create_dir_all(&chip).unwrap();
    std::fs::write(chip.join("name"), "acpi-fan\n").unwrap();
    std::fs::write(chip.join("fan1_input"), "1200\n").unwrap();
    std::fs::write(chip.join("in0_input"), "1250\n").unwrap();
    let after = sensor_lines(&metrics(&daemon));
    for want in [
        "node_hwmon_chip_names{chip=\"acpi_fan\",chip_name=\"acpi_fan\"} 1",
        "node_hwmon_fan_rpm{chip=\"acpi_fan\",sensor=\"fan1\"} 1200",
        "node_hwmon_in_volts{chip=\"acpi_fan\",sensor=\"in0\"} 1.25",
    ] {
        assert!(after.contains(want), "no `{want}` in {after:#?}");
    }
    assert_eq!(after.len(), before.len() + 3);
}

/// `from`'s directory replaced by a new one holding `files` (name, text),
/// as sysfs registers a device anew: the new directory is made beside the
/// old one and renamed over it, so that it is another inode (on ext4 a
/// directory made just after `rm -r` may get the same number back, which
/// sysfs never hands out again so soon).
fn register_anew(from: &Path, files: &[(&str, &str)]) {
    let new = from.with_extension("new");
    std::fs::create_dir_all(&new).unwrap();
    for (name, text) in files {
        std::fs::write(new.join(name), text).unwrap();
    }
    std::fs::remove_dir_all(from).unwrap();
    std::fs::rename(&new, from).unwrap();
}

#[test]
fn a_sensor_file_added_or_removed_in_a_registered_chip_shows_within_100_scrapes() {
    // The chips' directories are listed again (every name, sensor file or
    // not) at least every 100 scrapes even when nothing says they changed:
    // on this fixture (ext4, not sysfs) a removed file that is kept open
    // still reads, where sysfs answers ENODEV.
    let dir = TempDir::new("sysfs-sensors-new-file");
    let sys = copy_of_fixture(&dir);
    let daemon = start(&dir, &sys);
    let before = sensor_lines(&metrics(&daemon));
    let chip = sys.join("class/hwmon/hwmon4");
    std::fs::write(chip.join("fan3_input"), "900\n").unwrap();
    std::fs::remove_file(chip.join("temp2_max")).unwrap();
    let mut after = sensor_lines(&metrics(&daemon));
    for _ in 0..99 {
        if after != before {
            break;
        }
        after = sensor_lines(&metrics(&daemon));
    }
    let added: Vec<_> = after.difference(&before).collect();
    let removed: Vec<_> = before.difference(&after).collect();
    assert_eq!(
        added,
        ["node_hwmon_fan_rpm{chip=\"hwmon4\",sensor=\"fan3\"} 900"],
        "{after:#?}"
    );
    assert_eq!(
        removed,
        ["node_hwmon_temp_max_celsius{chip=\"hwmon4\",sensor=\"temp2\"} 100"],
        "{after:#?}"
    );
    // A name no series comes from changes nothing but the listing.
    std::fs::write(chip.join("uevent"), "").unwrap();
    for _ in 0..101 {
        assert_eq!(sensor_lines(&metrics(&daemon)), after);
    }
}

#[test]
fn a_chip_registered_anew_with_other_files_is_read_at_the_next_scrape() {
    // The same name in /sys/class/hwmon, another directory (inode): its
    // files are listed again at once.
    let dir = TempDir::new("sysfs-sensors-anew");
    let sys = copy_of_fixture(&dir);
    let daemon = start(&dir, &sys);
    let before = sensor_lines(&metrics(&daemon));
    let of_chip = |lines: &BTreeSet<String>| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.contains("chip=\"hwmon4\""))
            .cloned()
            .collect()
    };
    assert_eq!(of_chip(&before).len(), 10, "{before:#?}");
    register_anew(
        &sys.join("class/hwmon/hwmon4"),
        &[("temp1_input", "41000\n"), ("fan1_input", "800\n")],
    );
    let after = sensor_lines(&metrics(&daemon));
    assert_eq!(
        of_chip(&after),
        [
            "node_hwmon_fan_rpm{chip=\"hwmon4\",sensor=\"fan1\"} 800",
            "node_hwmon_temp_celsius{chip=\"hwmon4\",sensor=\"temp1\"} 41",
        ],
        "{after:#?}"
    );
    // The other chips are as they were.
    let others = |lines: &BTreeSet<String>| -> BTreeSet<String> {
        let chip4 = of_chip(lines);
        lines
            .iter()
            .filter(|l| !chip4.contains(l))
            .cloned()
            .collect()
    };
    assert_eq!(others(&after), others(&before));
}

#[test]
fn a_chip_removed_between_scrapes_is_gone_at_the_next() {
    let dir = TempDir::new("sysfs-sensors-removed-chip");
    let sys = copy_of_fixture(&dir);
    let daemon = start(&dir, &sys);
    let before = sensor_lines(&metrics(&daemon));
    assert!(before.iter().any(|l| l.contains("chip=\"hwmon4\"")));
    std::fs::remove_dir_all(sys.join("class/hwmon/hwmon4")).unwrap();
    let after = sensor_lines(&metrics(&daemon));
    let expected: BTreeSet<String> = before
        .iter()
        .filter(|l| !l.contains("chip=\"hwmon4\""))
        .cloned()
        .collect();
    assert_eq!(after, expected);
}

#[test]
fn a_cooling_device_or_power_supply_registered_anew_is_read_at_the_next_scrape() {
    // The cooling device's `type` is read when the list is built: one
    // registered anew (same name, another type) shows its own at once, as
    // does a power supply registered anew with other files.
    let dir = TempDir::new("sysfs-sensors-anew-cooling");
    let sys = copy_of_fixture(&dir);
    let daemon = start(&dir, &sys);
    let before = sensor_lines(&metrics(&daemon));
    assert!(before.contains("node_cooling_device_max_state{name=\"0\",type=\"Processor\"} 3"));
    assert!(before.contains("node_power_supply_online{power_supply=\"AC\"} 0"));
    register_anew(
        &sys.join("devices/virtual/thermal/cooling_device0"),
        &[
            ("type", "Fan\n"),
            ("max_state", "7\n"),
            ("cur_state", "2\n"),
        ],
    );
    register_anew(
        &sys.join("class/power_supply/AC"),
        &[
            ("online", "1\n"),
            ("type", "Mains\n"),
            ("voltage_now", "5000000\n"),
        ],
    );
    // The thermal class's entry is a symlink: registered anew, it is made
    // again too (another inode, as a real re-registration gives: kernfs
    // numbers are not reused at once). Made under another name and renamed
    // over the old one: removed first, ext4 may hand the freed inode
    // number straight back to the new link (seen once in CI, when other
    // tests had taken the lower free inodes), and the class listing would
    // rightly see no change.
    let link = sys.join("class/thermal/cooling_device0");
    let target = std::fs::read_link(&link).unwrap();
    let fresh = link.with_extension("new");
    std::os::unix::fs::symlink(&target, &fresh).unwrap();
    std::fs::rename(&fresh, &link).unwrap();
    let after = sensor_lines(&metrics(&daemon));
    let of = |lines: &BTreeSet<String>, what: &str| -> Vec<String> {
        lines.iter().filter(|l| l.contains(what)).cloned().collect()
    };
    assert_eq!(
        of(&after, "node_cooling_device"),
        [
            "node_cooling_device_cur_state{name=\"0\",type=\"Fan\"} 2",
            "node_cooling_device_max_state{name=\"0\",type=\"Fan\"} 7",
        ],
        "{after:#?}"
    );
    assert_eq!(
        of(&after, "power_supply=\"AC\""),
        [
            "node_power_supply_info{power_supply=\"AC\",type=\"Mains\"} 1",
            "node_power_supply_online{power_supply=\"AC\"} 1",
            "node_power_supply_voltage_volt{power_supply=\"AC\"} 5",
        ],
        "{after:#?}"
    );
}

/// A chip `big` (hwmon0) with `fan1_input` .. `fan1100_input` reading 1 ..
/// 1100: more files than the 1,024 hwmon keeps open. Returns its directory.
fn chip_of_1100_fans(dir: &TempDir) -> std::path::PathBuf {
    let chip = dir.join("sys/class/hwmon/hwmon0");
    std::fs::create_dir_all(&chip).unwrap();
    std::fs::write(chip.join("name"), "big\n").unwrap();
    for n in 1..=1100 {
        std::fs::write(chip.join(format!("fan{n}_input")), format!("{n}\n")).unwrap();
    }
    chip
}

#[test]
fn a_sensor_file_seen_gone_has_its_chip_listed_again_at_the_next_scrape() {
    // Past the 1,024 files kept open a file is opened at each scrape; one
    // that is no longer there (ENOENT, as a kept one of a removed sysfs
    // device reads ENODEV) has the chips listed again at the next scrape,
    // which finds the file added with it, rather than within 100 scrapes.
    let dir = TempDir::new("sysfs-sensors-gone");
    let chip = chip_of_1100_fans(&dir);
    let daemon = start(&dir, &dir.join("sys"));
    let has = |text: &str, sensor: &str| {
        text.contains(&format!(
            "node_hwmon_fan_rpm{{chip=\"big\",sensor=\"{sensor}\"}}"
        ))
    };
    assert!(has(&metrics(&daemon), "fan999"));
    // fan999 sorts last: it is not kept open.
    std::fs::remove_file(chip.join("fan999_input")).unwrap();
    std::fs::write(chip.join("fan2000_input"), "5\n").unwrap();
    let seen_gone = metrics(&daemon);
    assert!(!has(&seen_gone, "fan999"));
    let next = metrics(&daemon);
    assert!(has(&next, "fan2000"), "not listed again after ENOENT");
}

#[test]
fn hundreds_of_sensor_files_are_all_read_kept_open_or_not() {
    // 1,100 fans: past the 1,024 files hwmon keeps open, the rest are
    // opened at each scrape; every one is exported and re-read.
    let dir = TempDir::new("sysfs-sensors-many");
    let chip = chip_of_1100_fans(&dir);
    let daemon = start(&dir, &dir.join("sys"));
    let fans = |text: &str| -> Vec<(u32, f64)> {
        let mut fans: Vec<(u32, f64)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("node_hwmon_fan_rpm{chip=\"big\",sensor=\"fan"))
            .map(|rest| {
                let (n, value) = rest.split_once("\"} ").unwrap();
                (n.parse().unwrap(), value.parse().unwrap())
            })
            .collect();
        fans.sort_by_key(|f| f.0);
        fans
    };
    let first = fans(&metrics(&daemon));
    assert_eq!(first.len(), 1100);
    assert!(first.iter().all(|(n, v)| f64::from(*n) == *v), "{first:?}");
    // The series are in name order: fan1 is kept open, fan999 (the last)
    // is not.
    for n in [1, 999] {
        std::fs::write(chip.join(format!("fan{n}_input")), "7\n").unwrap();
    }
    let second = fans(&metrics(&daemon));
    assert_eq!(second[0], (1, 7.0));
    assert_eq!(second[998], (999, 7.0));
    assert_eq!(second[150], (151, 151.0));
    // Bounded: 1,024 of the 1,100 files held open between scrapes (the
    // directory itself is held too, by the listings).
    let held = std::fs::read_dir(format!("/proc/{}/fd", daemon.pid()))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
        .filter(|target| target.parent() == Some(chip.as_path()))
        .count();
    assert_eq!(held, 1024);
}
