//! `node_uname_info`, `node_os_info`, `node_os_version` and
//! `node_os_support_end_timestamp_seconds`: what the standard Grafana
//! dashboard builds its Job, Nodename and Instance drop-downs from.
//!
//! Read at scrape time, as node_exporter does: `uname(2)` on every scrape
//! (the host name can change), os-release re-parsed only when its path or
//! modification time changed since the last scrape (node_exporter's cache
//! rule), so a warm scrape costs one `uname` and one `stat` and allocates
//! nothing.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Body, escaped, escaped_bytes};
use crate::proc::os_release;

/// The os-release fields node_exporter labels `node_os_info` with, in its
/// (alphabetical) label order, and the variable each comes from.
const INFO_LABELS: [(&str, &[u8]); 12] = [
    ("build_id", b"BUILD_ID"),
    ("id", b"ID"),
    ("id_like", b"ID_LIKE"),
    ("image_id", b"IMAGE_ID"),
    ("image_version", b"IMAGE_VERSION"),
    ("name", b"NAME"),
    ("pretty_name", b"PRETTY_NAME"),
    ("variant", b"VARIANT"),
    ("variant_id", b"VARIANT_ID"),
    ("version", b"VERSION"),
    ("version_codename", b"VERSION_CODENAME"),
    ("version_id", b"VERSION_ID"),
];
const ID: usize = 1;
const ID_LIKE: usize = 2;
const NAME: usize = 5;
const VERSION_ID: usize = 11;

/// The parsed os-release, and which file at which mtime it came from.
pub struct OsRelease {
    /// `ROOT/etc/os-release` then `ROOT/usr/lib/os-release`, the first that
    /// exists wins (os-release(5), node_exporter).
    paths: [PathBuf; 2],
    /// Which of `paths` and its mtime the values below were read from;
    /// `None` before the first successful read.
    read_from: Option<(usize, SystemTime)>,
    values: [String; 12],
    support_end: String,
}

impl OsRelease {
    pub fn new(root_fs: &Path) -> Self {
        OsRelease {
            paths: [
                root_fs.join("etc/os-release"),
                root_fs.join("usr/lib/os-release"),
            ],
            read_from: None,
            values: Default::default(),
            support_end: String::new(),
        }
    }

    /// Re-reads the file if it changed; `false` when neither file can be
    /// read (the families are then left out, as node_exporter does).
    fn refresh(&mut self) -> bool {
        for (index, path) in self.paths.iter().enumerate() {
            let mtime = match std::fs::metadata(path).and_then(|m| m.modified()) {
                Ok(mtime) => mtime,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(_) => return false,
            };
            if self.read_from == Some((index, mtime)) {
                return true;
            }
            // A changed file: the one allocation of this family.
            let Ok(bytes) = crate::sample::procfile::read_once(path) else {
                return false;
            };
            for value in &mut self.values {
                value.clear();
            }
            self.support_end.clear();
            // A malformed line is skipped, the rest still counts (envparse
            // in node_exporter gives up on the file; labels from the good
            // lines serve the dashboard better than none).
            for (key, value) in os_release::entries(&bytes).flatten() {
                if key == b"SUPPORT_END" {
                    value.write_to(&mut self.support_end);
                } else if let Some(i) = INFO_LABELS.iter().position(|(_, k)| *k == key) {
                    self.values[i].clear();
                    value.write_to(&mut self.values[i]);
                }
            }
            self.read_from = Some((index, mtime));
            return true;
        }
        self.read_from = None;
        false
    }

    /// False when neither os-release file could be read.
    pub fn write(&mut self, out: &mut Body) -> bool {
        if !self.refresh() {
            return false;
        }
        out.push_str(family_lines!("node_os_info", "gauge", "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id."));
        out.push_str("node_os_info{");
        for (i, (label, _)) in INFO_LABELS.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            escaped(out, &self.values[i]);
            out.push('"');
        }
        out.push_str("} 1\n");
        if let Some(version) = os_release::major_minor(&self.values[VERSION_ID]) {
            out.push_str(family_lines!(
                "node_os_version",
                "gauge",
                "Metric containing the major.minor part of the OS version."
            ));
            out.push_str("node_os_version{id=\"");
            escaped(out, &self.values[ID]);
            out.push_str("\",id_like=\"");
            escaped(out, &self.values[ID_LIKE]);
            out.push_str("\",name=\"");
            escaped(out, &self.values[NAME]);
            use std::fmt::Write;
            let _ = writeln!(out, "\"}} {}", crate::float_text::Shortest(version));
        }
        if let Some(end) = os_release::support_end_unix_s(&self.support_end) {
            out.push_str(family_lines!(
                "node_os_support_end_timestamp_seconds",
                "gauge",
                "Metric containing the end-of-life date timestamp of the OS."
            ));
            use std::fmt::Write;
            let _ = writeln!(out, "node_os_support_end_timestamp_seconds {end}");
        }
        true
    }
}

/// `node_uname_info`, labels in node_exporter's order.
pub fn write_uname(out: &mut Body) -> bool {
    let Ok(u) = crate::sys::uname() else {
        return false;
    };
    out.push_str(family_lines!(
        "node_uname_info",
        "gauge",
        "Labeled system information as provided by the uname system call."
    ));
    out.push_str("node_uname_info{");
    for (i, (label, value)) in [
        ("domainname", u.domainname()),
        ("machine", u.machine()),
        ("nodename", u.nodename()),
        ("release", u.release()),
        ("sysname", u.sysname()),
        ("version", u.version()),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        out.push_str(label);
        out.push_str("=\"");
        escaped_bytes(out, value);
        out.push('"');
    }
    out.push_str("} 1\n");
    true
}
