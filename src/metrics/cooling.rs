//! `/sys/class/thermal/cooling_device*` at scrape time, as node_exporter
//! 1.5's `thermal_zone` collector exports them (procfs 0.8's
//! `ClassCoolingDeviceStats`): `node_cooling_device_cur_state` and
//! `node_cooling_device_max_state`, labelled `name` (N of
//! `cooling_deviceN`) and `type`. (The zones' temperatures are the
//! sampler's: `node_thermal_zone_temp` in the renderer.)
//!
//! The class directory is listed at each scrape into a kept buffer; the
//! device list is rebuilt (allocating) only when that listing differs. The
//! `type`, `max_state` and `cur_state` of the first [`KEPT_OPEN`] devices
//! are kept open and re-read with one `pread`; the others' are opened, read
//! once and closed ([`procfile::Attribute`]). No allocation once warm. A file
//! that cannot be read or parsed drops its series (an unreadable `type`
//! both of the device's); node_exporter drops every cooling device then
//! (README, /metrics).

use std::path::{Path, PathBuf};

use super::{Body, escaped, family};
use std::ffi::CString;

use crate::sample::listing::{Lister, ListingChange, c_path};
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
    /// `type`, `max_state`, `cur_state`.
    kind_file: procfile::Attribute,
    max_file: procfile::Attribute,
    cur_file: procfile::Attribute,
    /// This scrape's `cur_state` and `max_state`, `None` if unreadable.
    states: [Option<i64>; 2],
}

pub struct CoolingDevices {
    class_dir: PathBuf,
    class: CString,
    lister: Lister,
    devices: Vec<Device>,
    /// The listing the lists were built from, and this scrape's.
    changes: ListingChange,
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
            class: c_path(&class_dir),
            lister: Lister::default(),
            class_dir,
            devices: Vec::new(),
            changes: ListingChange::default(),
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
            self.devices.push(Device {
                name: dir_name["cooling_device".len()..].to_string(),
                kind_file: file("type"),
                max_file: file("max_state"),
                cur_file: file("cur_state"),
                states: [None; 2],
            });
        }
    }

    /// Both families, read now. True when some device could be read.
    pub fn write(&mut self, out: &mut Body) -> bool {
        self.lister
            .append(&self.class, self.changes.start(), is_cooling_device);
        if self.changes.stale() {
            self.rebuild();
            self.changes.built();
        }
        let mut buf = [0u8; procfile::SYSFS_READ_BYTES];
        for device in &mut self.devices {
            let mut read =
                |file: &mut procfile::Attribute| file.read(&mut buf).ok().and_then(parse_state);
            device.states = [read(&mut device.cur_file), read(&mut device.max_file)];
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
                // The type is read with each line: the text goes straight
                // into the body from the stack buffer.
                let Ok(kind) = device.kind_file.read(&mut buf) else {
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
                super::escaped_go_utf8(out, kind.trim_ascii());
                out.push_str("\"} ");
                out.i64(state);
                out.push('\n');
            }
        }
        any
    }
}
