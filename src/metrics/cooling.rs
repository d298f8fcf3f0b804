//! `/sys/class/thermal/cooling_device*` at scrape time, as node_exporter
//! 1.5's `thermal_zone` collector exports them (procfs 0.8's
//! `ClassCoolingDeviceStats`): `node_cooling_device_cur_state` and
//! `node_cooling_device_max_state`, labelled `name` (N of
//! `cooling_deviceN`) and `type`. (The zones' temperatures are the
//! sampler's: `node_thermal_zone_temp` in the renderer.)
//!
//! The class directory is listed at each scrape (names and inode numbers:
//! [`ClassListing`]); the device list is rebuilt (allocating) only when
//! that listing differs, and each device's `type` read then and kept with
//! it (a cooling device's type is given when it registers; one registered
//! anew is a new class entry). The `max_state` and `cur_state` of the
//! first [`KEPT_OPEN`] devices are kept open and re-read with one `pread`
//! each scrape; the others' are opened, read once and closed
//! ([`procfile::Attribute`]). No allocation once warm. A file that cannot
//! be read or parsed drops its series (an unreadable `type` both of the
//! device's); node_exporter drops every cooling device then (README,
//! /metrics).

use std::path::{Path, PathBuf};

use super::{Body, escaped, family};

use crate::sample::listing::ClassListing;
use crate::sample::procfile;

/// The devices whose files are kept open (a CPU's each on Intel: a big
/// machine's others are read as node_exporter reads them).
const KEPT_OPEN: usize = 64;

/// The most cooling devices kept (a CPU's each, and fans: a few hundred).
const MAX_DEVICES: usize = 4096;

/// `cooling_device[0-9]*`, the glob procfs lists.
fn is_cooling_device(name: &[u8]) -> bool {
    name.strip_prefix(b"cooling_device")
        .is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_digit))
}

struct Device {
    /// N of `cooling_deviceN`, as text (procfs trims the prefix).
    name: String,
    /// `type` (white space trimmed), read when the list was built; `None`
    /// if it could not be read.
    kind: Option<Vec<u8>>,
    /// `max_state`, `cur_state`.
    max_file: procfile::Attribute,
    cur_file: procfile::Attribute,
    /// This scrape's `cur_state` and `max_state`, `None` if unreadable.
    states: [Option<i64>; 2],
}

pub struct CoolingDevices {
    class_dir: PathBuf,
    /// `/sys/class/thermal`'s cooling devices: when to build again.
    listings: ClassListing,
    devices: Vec<Device>,
}

/// A state file: procfs' `strconv.ParseInt(TrimSpace(s), 10, 64)`, which
/// takes a sign (`cur_state` is -1 for intel_powerclamp when idle).
fn parse_state(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text.trim_ascii()).ok()?.parse().ok()
}

impl CoolingDevices {
    pub fn new(sys_root: &Path) -> Self {
        let class_dir = sys_root.join("class/thermal");
        CoolingDevices {
            listings: ClassListing::new(&class_dir),
            class_dir,
            devices: Vec::new(),
        }
    }

    fn rebuild(&mut self) {
        self.devices.clear();
        let mut names: Vec<String> = std::fs::read_dir(&self.class_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| is_cooling_device(n.as_bytes()))
            .collect();
        crate::sort::sort(&mut names);
        for dir_name in names.into_iter().take(MAX_DEVICES) {
            let dir = self.class_dir.join(&dir_name);
            let keep_open = self.devices.len() < KEPT_OPEN;
            let file = |name| procfile::Attribute::new(dir.join(name), keep_open);
            let mut buf = [0u8; procfile::SYSFS_READ_BYTES];
            let kind = procfile::read_once_into(&dir.join("type"), &mut buf)
                .ok()
                .map(|raw| raw.trim_ascii().to_vec());
            self.devices.push(Device {
                name: dir_name["cooling_device".len()..].to_string(),
                kind,
                max_file: file("max_state"),
                cur_file: file("cur_state"),
                states: [None; 2],
            });
        }
    }

    /// Both families, read now. True when some device could be read.
    pub fn write(&mut self, out: &mut Body) -> bool {
        if self.listings.check(is_cooling_device, [].into_iter()).stale {
            self.rebuild();
            self.listings.built([].into_iter());
        }
        let mut buf = [0u8; procfile::SYSFS_READ_BYTES];
        let mut gone = false;
        for device in &mut self.devices {
            let mut read = |file: &mut procfile::Attribute| {
                file.read(&mut buf, &mut gone).ok().and_then(parse_state)
            };
            device.states = [read(&mut device.cur_file), read(&mut device.max_file)];
        }
        if gone {
            self.listings.device_gone();
        }
        let mut any = false;
        for (index, (name, help)) in [
            (
                "node_cooling_device_cur_state",
                "Current throttle state of the cooling device",
            ),
            (
                "node_cooling_device_max_state",
                "Maximum throttle state of the cooling device",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let mut wrote_family = false;
            for device in &mut self.devices {
                let Some(state) = device.states[index] else {
                    continue;
                };
                let Some(kind) = &device.kind else {
                    continue;
                };
                if !wrote_family {
                    family(out, name, "gauge", help);
                    wrote_family = true;
                }
                any = true;
                out.push_str(name);
                out.push_str("{name=\"");
                escaped(out, &device.name);
                out.push_str("\",type=\"");
                super::escaped_go_utf8(out, kind);
                out.push_str("\"} ");
                out.i64(state);
                out.push('\n');
            }
        }
        any
    }
}
