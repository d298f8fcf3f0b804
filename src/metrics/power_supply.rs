//! `/sys/class/power_supply/<supply>/*` at scrape time, as node_exporter
//! 1.5's `powersupplyclass` collector exports it (procfs 0.8's
//! `PowerSupplyClass`): `node_power_supply_online`, `_capacity`,
//! `_energy_watthour`, ... one family per numeric attribute ([`NUMERIC`]:
//! node_exporter's names and scales), labelled `power_supply`, and
//! `node_power_supply_info` labelled with the text attributes ([`TEXT`])
//! that are not empty.
//!
//! The class directory is listed at each scrape (names and inode numbers),
//! each supply's directory only when that listing changed, a kept file was
//! seen gone, or every 100 scrapes ([`ClassListing`]); the list of
//! supplies and of the files each has is rebuilt (allocating) only when a
//! listing differs. The first
//! [`KEPT_OPEN`] files are kept open and re-read with one `pread`; any
//! others are opened, read once and closed ([`procfile::Attribute`]). No
//! allocation once warm. A file that cannot be read or parsed drops its
//! own series (node_exporter drops the whole collector: README, /metrics).

use std::path::{Path, PathBuf};

use super::{Body, escaped, escaped_go_utf8};
use crate::proc::sysfs::parse_go_int;
use std::ffi::CString;

use crate::sample::listing::{ClassListing, c_path};
use crate::sample::procfile;

/// The files kept open (a laptop's battery and charger have about 40).
const KEPT_OPEN: usize = 128;

/// The most supplies kept.
const MAX_SUPPLIES: usize = 256;

/// (file, metric suffix, divisor): node_exporter 1.5's numeric attributes.
/// Counts as they are; micro-units (µA, µV, µWh, µAh, µW) over 1e6;
/// tenths of a degree over 10.
const NUMERIC: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// The text attributes of `node_power_supply_info`, in label order
/// (`power_supply`, the supply's name, sorts between `model_name` and
/// `scope`).
const TEXT: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];
/// `scope`'s index in [`TEXT`]: `power_supply` goes before it.
const SCOPE: usize = 5;

struct Supply {
    name: String,
    /// The file of each [`NUMERIC`] attribute the supply has.
    numeric: Vec<(usize, procfile::Attribute)>,
    /// The file of each [`TEXT`] attribute the supply has.
    text: Vec<(usize, procfile::Attribute)>,
    /// This scrape's values, parallel to `numeric`.
    values: Vec<Option<f64>>,
    dir: CString,
}

pub struct PowerSupplies {
    class_dir: PathBuf,
    /// The class directory and the supplies': when to build again.
    listings: ClassListing,
    supplies: Vec<Supply>,
}

/// A text attribute: procfs trims white space (`bytes.TrimSpace`).
fn text_value(raw: &[u8]) -> &[u8] {
    raw.trim_ascii()
}

impl PowerSupplies {
    pub fn new(sys_root: &Path) -> Self {
        let class_dir = sys_root.join("class/power_supply");
        PowerSupplies {
            listings: ClassListing::new(&class_dir),
            class_dir,
            supplies: Vec::new(),
        }
    }

    fn supply_dirs(supplies: &[Supply]) -> impl Iterator<Item = &std::ffi::CStr> {
        supplies.iter().map(|supply| supply.dir.as_c_str())
    }

    fn rebuild(&mut self) {
        self.supplies.clear();
        let mut names: Vec<String> = std::fs::read_dir(&self.class_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        crate::sort::sort(&mut names);
        for name in names.into_iter().take(MAX_SUPPLIES) {
            let dir = self.class_dir.join(&name);
            if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            // Regular files only, as procfs takes them (not the `device`
            // or `subsystem` links, not `power/`).
            let is_file = |file: &str| {
                std::fs::symlink_metadata(dir.join(file)).is_ok_and(|m| m.file_type().is_file())
            };
            let mut kept = self
                .supplies
                .iter()
                .map(|s| s.numeric.len() + s.text.len())
                .sum::<usize>();
            let mut attribute = |file: &str| {
                kept += 1;
                procfile::Attribute::new(dir.join(file), kept <= KEPT_OPEN)
            };
            let numeric: Vec<(usize, procfile::Attribute)> = NUMERIC
                .iter()
                .enumerate()
                .filter(|(_, (file, ..))| is_file(file))
                .map(|(i, (file, ..))| (i, attribute(file)))
                .collect();
            let text = TEXT
                .iter()
                .enumerate()
                .filter(|(_, file)| is_file(file))
                .map(|(i, file)| (i, attribute(file)))
                .collect();
            self.supplies.push(Supply {
                name,
                values: vec![None; numeric.len()],
                numeric,
                text,
                dir: c_path(&dir),
            });
        }
    }

    /// Every family, read now. True when the class directory could be
    /// read (node_exporter's collector fails without it).
    pub fn write(&mut self, out: &mut Body) -> bool {
        let check = self
            .listings
            .check(|_| true, Self::supply_dirs(&self.supplies));
        if check.stale {
            self.rebuild();
            self.listings.built(Self::supply_dirs(&self.supplies));
        }
        let mut gone = false;
        let mut buf = [0u8; procfile::SYSFS_READ_BYTES];
        for supply in &mut self.supplies {
            for ((index, file), value) in supply.numeric.iter_mut().zip(&mut supply.values) {
                *value = file
                    .read(&mut buf, &mut gone)
                    .ok()
                    .and_then(|raw| parse_go_int(raw.trim_ascii()))
                    .map(|v| v as f64 / NUMERIC[*index].2);
            }
        }
        for (index, (_, suffix, _)) in NUMERIC.iter().enumerate() {
            let mut wrote_family = false;
            for supply in &self.supplies {
                let Some(value) = supply
                    .numeric
                    .iter()
                    .zip(&supply.values)
                    .find(|((i, _), _)| *i == index)
                    .and_then(|(_, v)| *v)
                else {
                    continue;
                };
                if !wrote_family {
                    out.push_str("# HELP node_power_supply_");
                    out.push_str(suffix);
                    out.push(' ');
                    out.push_str(suffix);
                    out.push_str(" value of /sys/class/power_supply/<power_supply>.\n# TYPE node_power_supply_");
                    out.push_str(suffix);
                    out.push_str(" gauge\n");
                    wrote_family = true;
                }
                out.push_str("node_power_supply_");
                out.push_str(suffix);
                out.push_str("{power_supply=\"");
                escaped(out, &supply.name);
                out.push_str("\"} ");
                out.f64(value);
                out.push('\n');
            }
        }
        if !self.supplies.is_empty() {
            out.push_str(family_lines!(
                "node_power_supply_info",
                "gauge",
                "info of /sys/class/power_supply/<power_supply>."
            ));
        }
        for supply in &mut self.supplies {
            out.push_str("node_power_supply_info{");
            let mut first = true;
            let mut wrote_name = false;
            for (index, file) in &mut supply.text {
                if *index >= SCOPE && !wrote_name {
                    label(out, &mut first, "power_supply", supply.name.as_bytes());
                    wrote_name = true;
                }
                let Ok(raw) = file.read(&mut buf, &mut gone) else {
                    continue;
                };
                let value = text_value(raw);
                if !value.is_empty() {
                    label(out, &mut first, TEXT[*index], value);
                }
            }
            if !wrote_name {
                label(out, &mut first, "power_supply", supply.name.as_bytes());
            }
            out.push_str("} 1\n");
        }
        if gone {
            self.listings.device_gone();
        }
        check.readable
    }
}

/// `name="value"`, after a comma unless it is the first.
fn label(out: &mut Body, first: &mut bool, name: &str, value: &[u8]) {
    if !*first {
        out.push(',');
    }
    *first = false;
    out.push_str(name);
    out.push_str("=\"");
    escaped_go_utf8(out, value);
    out.push('"');
}
