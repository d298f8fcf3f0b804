//! `node_disk_info{device,major,minor,path,wwn,model,serial,revision}` for
//! the whole disks of the last sample, as node_exporter's `diskstats`
//! collector labels it: the device number from `/sys/block/<disk>/dev`, the
//! rest from udev's database (`ROOT/run/udev/data/b<major>:<minor>`:
//! `ID_PATH`, `ID_WWN`, `ID_MODEL`, `ID_SERIAL_SHORT`, `ID_REVISION`), the
//! file node_exporter reads.
//!
//! Without that file (no udev: containers, minimal systems) node_exporter
//! leaves those labels empty; sysmon takes what sysfs says instead:
//! `device/model`, `serial` (virtio) or `device/serial` (NVMe),
//! `device/rev` (SCSI, ATA) or `device/firmware_rev` (NVMe) and
//! `device/wwid`. `path` (udev's name for the bus topology) stays empty.
//!
//! The labels name the hardware and do not change while a disk is there, so
//! each disk's line is read again only when the set of disks changes and
//! every [`REFRESH_EVERY`] scrapes (udev may write a record after sysmon
//! started); the scrapes between write the kept lines. Reading them each
//! time cost about 9 µs a scrape on this one-disk VM (udev's record and
//! four of the sysfs files do not exist, and a failed open is a path walk
//! every time). The sysfs labels are read once per device number, not at
//! each of those readings: virtio-blk's `serial` is a request to the
//! device (a VM exit) at every read, 68-71 µs on this VM, and it names the
//! disk for as long as it has that number. Files are kept open and lines
//! kept in reused strings, so a warm scrape allocates nothing.

use std::path::{Path, PathBuf};

use super::{Body, escaped, escaped_bytes};
use crate::sample::DiskIoSample;
use crate::sample::procfile::ProcFile;

/// (label, udev key, sysfs files under /sys/block/<disk>, first readable
/// wins), in node_exporter's label order after `device`, `major`, `minor`.
const LABELS: [(&str, &[u8], &[&str]); 5] = [
    ("path", b"ID_PATH", &[]),
    ("wwn", b"ID_WWN", &["device/wwid"]),
    ("model", b"ID_MODEL", &["device/model"]),
    ("serial", b"ID_SERIAL_SHORT", &["serial", "device/serial"]),
    (
        "revision",
        b"ID_REVISION",
        &["device/rev", "device/firmware_rev"],
    ),
];
const ATTRIBUTE_BYTES: usize = 128;
/// Scrapes between two readings of the labels.
pub const REFRESH_EVERY: u32 = 100;

struct Disk {
    name: String,
    /// `/sys/block/<disk>/dev`: `major:minor`.
    dev: ProcFile,
    /// udev's record, for the device number it was opened for.
    udev: Option<((u32, u32), ProcFile)>,
    /// The sysfs fallbacks of [`LABELS`], in order.
    sysfs: Vec<ProcFile>,
    /// The disk's `node_disk_info{...} 1` line as last read; empty when its
    /// device number could not be read.
    line: String,
    /// The labels from sysfs (`",path=\"...` up to the last value), as
    /// read for the device number they hold.
    sysfs_labels: Option<((u32, u32), String)>,
}

pub struct DiskInfo {
    sys_block: PathBuf,
    udev_data: PathBuf,
    disks: Vec<Disk>,
    /// Scrapes until the labels are read again.
    refresh_in: u32,
}

/// `major:minor` as the kernel prints it in `dev`.
pub fn parse_dev(buf: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(buf.trim_ascii()).ok()?;
    let (major, minor) = text.split_once(':')?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    Some((number(major)?, number(minor)?))
}

/// The value of `E:key=` in a udev database record, if present.
pub fn udev_property<'a>(record: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    record.split(|b| *b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(b"E:")?.strip_prefix(key)?;
        rest.strip_prefix(b"=")
    })
}

impl DiskInfo {
    /// `root_fs` is where udev's database is looked for (`--root-fs`).
    pub fn new(sys_root: &Path, root_fs: &Path) -> Self {
        DiskInfo {
            sys_block: sys_root.join("block"),
            udev_data: root_fs.join("run/udev/data"),
            disks: Vec::new(),
            refresh_in: 0,
        }
    }

    /// Opens the files again when the disks are not those of last time;
    /// true if it did.
    fn sync(&mut self, disks: &[DiskIoSample]) -> bool {
        let mut whole = disks.iter().filter(|d| d.whole_disk);
        let same = self.disks.len() == disks.iter().filter(|d| d.whole_disk).count()
            && self
                .disks
                .iter()
                .all(|d| whole.next().is_some_and(|w| w.device == d.name));
        if same {
            return false;
        }
        self.disks.clear();
        for d in disks.iter().filter(|d| d.whole_disk) {
            let dir = self.sys_block.join(&d.device);
            self.disks.push(Disk {
                name: d.device.clone(),
                dev: ProcFile::with_capacity(dir.join("dev"), 32),
                udev: None,
                sysfs: LABELS
                    .iter()
                    .flat_map(|(_, _, files)| files.iter())
                    .map(|file| ProcFile::with_capacity(dir.join(file), ATTRIBUTE_BYTES))
                    .collect(),
                line: String::new(),
                sysfs_labels: None,
            });
        }
        true
    }

    /// False when no disk's device number could be read.
    pub fn write(&mut self, disks: &[DiskIoSample], out: &mut Body) -> bool {
        let changed = self.sync(disks);
        if changed || self.refresh_in == 0 {
            self.refresh_in = REFRESH_EVERY;
            for disk in &mut self.disks {
                // Written into the body, kept, and taken back.
                let start = out.len();
                disk.read_line(&self.udev_data, out);
                disk.line.clear();
                disk.line.push_str(out.as_str_from(start));
                out.truncate(start);
            }
        }
        self.refresh_in -= 1;
        if self.disks.iter().all(|d| d.line.is_empty()) {
            return false;
        }
        out.push_str(family_lines!(
            "node_disk_info",
            "gauge",
            "Info of /sys/block/<block_device>."
        ));
        for disk in &self.disks {
            out.push_str(&disk.line);
        }
        true
    }
}

impl Disk {
    /// The labels from sysfs, read now: for each, the first of its files
    /// that reads as something.
    fn write_sysfs_labels(&mut self, out: &mut Body) {
        let mut sysfs = self.sysfs.iter_mut();
        for (label, _, files) in LABELS {
            out.push_str("\",");
            out.push_str(label);
            out.push_str("=\"");
            for file in sysfs.by_ref().take(files.len()) {
                if let Ok(value) = file.read_attribute() {
                    let value = value.trim_ascii();
                    if !value.is_empty() {
                        escaped_bytes(out, value);
                        break;
                    }
                }
            }
        }
    }

    /// Writes this disk's line now (nothing if its `dev` cannot be read).
    fn read_line(&mut self, udev_data: &Path, out: &mut Body) {
        let Some((major, minor)) = self.dev.read_attribute().ok().and_then(parse_dev) else {
            return;
        };
        if self.udev.as_ref().is_none_or(|(n, _)| *n != (major, minor)) {
            // A new device number: the one allocation, on a change.
            let path = udev_data.join(format!("b{major}:{minor}"));
            self.udev = Some(((major, minor), ProcFile::with_capacity(path, 1024)));
        }
        let record = match &mut self.udev {
            Some((_, file)) => file.read().ok(),
            None => None,
        };
        out.push_str("node_disk_info{device=\"");
        escaped(out, &self.name);
        out.push_str("\",major=\"");
        out.u64(u64::from(major));
        out.push_str("\",minor=\"");
        out.u64(u64::from(minor));
        match record {
            Some(record) => {
                for (label, key, _) in LABELS {
                    out.push_str("\",");
                    out.push_str(label);
                    out.push_str("=\"");
                    escaped_bytes(out, udev_property(record, key).unwrap_or_default());
                }
            }
            None => match &self.sysfs_labels {
                Some((number, labels)) if *number == (major, minor) => out.push_str(labels),
                _ => {
                    let start = out.len();
                    if self.sysfs_labels.is_some() {
                        // Another device under this name: its own files.
                        for file in &mut self.sysfs {
                            *file =
                                ProcFile::with_capacity(file.path().to_path_buf(), ATTRIBUTE_BYTES);
                        }
                    }
                    self.write_sysfs_labels(out);
                    let labels = out.as_str_from(start).to_string();
                    self.sysfs_labels = Some(((major, minor), labels));
                }
            },
        }
        out.push_str("\"} 1\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_and_udev_properties() {
        assert_eq!(parse_dev(b"253:0\n"), Some((253, 0)));
        assert_eq!(parse_dev(b"8:16"), Some((8, 16)));
        for bad in [
            &b""[..],
            b"253",
            b":0",
            b"253:",
            b"a:1",
            b"1:-1",
            b"99999999999:0",
        ] {
            assert_eq!(parse_dev(bad), None, "{bad:?}");
        }
        let record = b"S:disk/by-id/ata-X\nE:ID_MODEL=Samsung_SSD\nE:ID_MODEL_ENC=Samsung\\x20SSD\nE:ID_SERIAL_SHORT=S1\n";
        assert_eq!(
            udev_property(record, b"ID_MODEL"),
            Some(&b"Samsung_SSD"[..])
        );
        assert_eq!(udev_property(record, b"ID_SERIAL_SHORT"), Some(&b"S1"[..]));
        assert_eq!(udev_property(record, b"ID_PATH"), None);
    }
}
