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
//! Each disk's files are kept open and opened again only when the set of
//! disks changes, so a warm scrape allocates nothing.

use std::path::{Path, PathBuf};

use super::{Body, escaped, escaped_bytes, family};
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

struct Disk {
    name: String,
    /// `/sys/block/<disk>/dev`: `major:minor`.
    dev: ProcFile,
    /// udev's record, for the device number it was opened for.
    udev: Option<((u32, u32), ProcFile)>,
    /// The sysfs fallbacks of [`LABELS`], in order.
    sysfs: Vec<ProcFile>,
}

pub struct DiskInfo {
    sys_block: PathBuf,
    udev_data: PathBuf,
    disks: Vec<Disk>,
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
        }
    }

    fn sync(&mut self, disks: &[DiskIoSample]) {
        let mut whole = disks.iter().filter(|d| d.whole_disk);
        let same = self.disks.len() == disks.iter().filter(|d| d.whole_disk).count()
            && self
                .disks
                .iter()
                .all(|d| whole.next().is_some_and(|w| w.device == d.name));
        if same {
            return;
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
            });
        }
    }

    /// False when no disk's device number could be read.
    pub fn write(&mut self, disks: &[DiskIoSample], out: &mut Body) -> bool {
        self.sync(disks);
        let mut any = false;
        for disk in &mut self.disks {
            let Some((major, minor)) = disk.dev.read_attribute().ok().and_then(parse_dev) else {
                continue;
            };
            if !any {
                family(
                    out,
                    "node_disk_info",
                    "gauge",
                    "Info of /sys/block/<block_device>.",
                );
                any = true;
            }
            if disk.udev.as_ref().is_none_or(|(n, _)| *n != (major, minor)) {
                // A new device number: the one allocation, on a change.
                let path = self.udev_data.join(format!("b{major}:{minor}"));
                disk.udev = Some(((major, minor), ProcFile::with_capacity(path, 1024)));
            }
            let record = match &mut disk.udev {
                Some((_, file)) => file.read().ok(),
                None => None,
            };
            out.push_str("node_disk_info{device=\"");
            escaped(out, &disk.name);
            out.push_str("\",major=\"");
            out.u64(u64::from(major));
            out.push_str("\",minor=\"");
            out.u64(u64::from(minor));
            let mut sysfs = disk.sysfs.iter_mut();
            for (label, key, files) in LABELS {
                out.push_str("\",");
                out.push_str(label);
                out.push_str("=\"");
                let mine = sysfs.by_ref().take(files.len());
                match record {
                    Some(record) => {
                        escaped_bytes(out, udev_property(record, key).unwrap_or_default());
                    }
                    None => {
                        for file in mine {
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
            }
            out.push_str("\"} 1\n");
        }
        any
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
