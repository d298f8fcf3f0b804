//! `/proc/self/mounts`: `device mountpoint fstype options 0 0` lines, with
//! space, tab, newline and backslash escaped as `\040` `\011` `\012` `\134`.
//!
//! Also decides which mounts count as disks by default: those `df` shows when
//! told to hide tmpfs and pseudo filesystems — a block device (or a network or
//! pool filesystem), each device once.

use super::{ParseError, fields, numbered_lines};

/// One mount line, fields still escaped as the kernel prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MountEntry<'a> {
    pub device: &'a [u8],
    pub mount_point: &'a [u8],
    pub fs_type: &'a [u8],
}

/// The mount lines, in order. A line with fewer than three fields is an error
/// carrying its line number; the caller decides whether to skip it.
pub fn entries(buf: &[u8]) -> impl Iterator<Item = Result<MountEntry<'_>, ParseError>> {
    numbered_lines(buf)
        .filter(|(_, l)| !l.is_empty())
        .map(|(no, line)| {
            let mut cols = fields(line);
            match (cols.next(), cols.next(), cols.next()) {
                (Some(device), Some(mount_point), Some(fs_type)) => Ok(MountEntry {
                    device,
                    mount_point,
                    fs_type,
                }),
                _ => Err(ParseError::new(no, "mount line has fewer than 3 fields")),
            }
        })
}

/// Undoes the kernel's octal escapes (`\040` → space). Malformed escapes are
/// kept literally. Allocates: called only when the mount table changed.
pub fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\'
            && i + 3 < raw.len()
            && raw[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
        {
            let value = u32::from(raw[i + 1] - b'0') * 64
                + u32::from(raw[i + 2] - b'0') * 8
                + u32::from(raw[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// Filesystems that are not on a local block device but hold real data.
const NETWORK_OR_POOL_FS: &[&[u8]] = &[
    b"nfs",
    b"nfs4",
    b"cifs",
    b"smb3",
    b"smbfs",
    b"ceph",
    b"glusterfs",
    b"fuse.sshfs",
    b"zfs",
    b"9p",
    b"virtiofs",
];

/// Whether `statvfs` of a mount of this type asks another party that may
/// never answer: a network file system's server, a FUSE daemon (`fuse`,
/// `fuseblk`, `fuse.NAME`), a hypervisor's share. ZFS is local.
pub fn may_hang(fs_type: &[u8]) -> bool {
    (NETWORK_OR_POOL_FS.contains(&fs_type) && fs_type != b"zfs")
        || fs_type == b"fuse"
        || fs_type == b"fuseblk"
        || fs_type.starts_with(b"fuse.")
}

/// The type of the file system mounted at `path` or, when none is, at the
/// nearest directory above it: the mount that answers `statvfs(path)` (the
/// last mount on a point is the one in effect). `None` for a relative
/// path or a table without `/`. Allocates (the table is indexed, see
/// [`MountPoints`]): for a path or two, when a backup starts; a caller
/// asking for many paths builds the index once.
pub fn holding_fs_type<'t>(table: &'t [u8], path: &[u8]) -> Option<&'t [u8]> {
    MountPoints::new(table).holding_fs_type(path)
}

/// The mount points of a table, unescaped, sorted by point and then by
/// line, each with its file system type. Asking for the holder of a path
/// looks up the path and each directory above it (a binary search each),
/// so asking for every disk of a table of 10,000 mounts costs 10,000 such
/// look-ups, not 10,000 parses of the table (which held the start 40 s).
pub struct MountPoints<'t>(Vec<(Vec<u8>, u32, &'t [u8])>);

impl<'t> MountPoints<'t> {
    /// Indexes `table`; its malformed lines are left out. Allocates.
    pub fn new(table: &'t [u8]) -> Self {
        let mut points: Vec<_> = entries(table)
            .filter_map(Result::ok)
            .zip(0u32..)
            .map(|(e, line)| (unescape(e.mount_point), line, e.fs_type))
            .collect();
        // Distinct keys (the line breaks ties): the last mount on a point
        // ends its run.
        crate::sort::sort_by(&mut points, |a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        MountPoints(points)
    }

    /// See [`holding_fs_type`].
    pub fn holding_fs_type(&self, path: &[u8]) -> Option<&'t [u8]> {
        if !path.starts_with(b"/") {
            return None;
        }
        let mut at = path;
        loop {
            // The last mount on `at`, if any: the end of its run.
            let end = self.0.partition_point(|(p, _, _)| p.as_slice() <= at);
            if let Some((_, _, fs_type)) = end
                .checked_sub(1)
                .map(|i| &self.0[i])
                .filter(|(p, _, _)| p.as_slice() == at)
            {
                return Some(fs_type);
            }
            // The directory above (`/a/b/` and `/a/b` both go to `/a/b`
            // first, then `/a`), and `/` last.
            let cut = at.iter().rposition(|&b| b == b'/')?;
            at = match cut {
                0 if at == b"/" => return None,
                0 => b"/",
                _ => &at[..cut],
            };
        }
    }
}

/// Filesystems on block devices that are always full by design and would
/// only trip disk alerts: read-only images (snaps, live media).
const ALWAYS_FULL_FS: &[&[u8]] = &[b"squashfs", b"iso9660", b"erofs"];

/// Whether `df` (hiding tmpfs and pseudo filesystems) would list this mount.
pub fn is_real_filesystem(entry: &MountEntry<'_>) -> bool {
    if ALWAYS_FULL_FS.contains(&entry.fs_type) {
        return false;
    }
    entry.device.starts_with(b"/") || NETWORK_OR_POOL_FS.contains(&entry.fs_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_unescapes() {
        let buf = b"/dev/sda1 /mnt/my\\040disk ext4 rw 0 0\nproc /proc proc rw 0 0\n";
        let all: Vec<_> = entries(buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(unescape(all[0].mount_point), b"/mnt/my disk");
        assert!(is_real_filesystem(&all[0]));
        assert!(!is_real_filesystem(&all[1]));
        assert_eq!(unescape(b"a\\134b\\0"), b"a\\b\\0");
        assert_eq!(unescape(b"\\777"), b"\\777");
    }

    #[test]
    fn network_and_fuse_mounts_may_hang_local_ones_do_not() {
        for fs in [
            "nfs",
            "nfs4",
            "cifs",
            "smb3",
            "ceph",
            "9p",
            "fuse",
            "fuseblk",
            "fuse.sshfs",
            "fuse.rclone",
        ] {
            assert!(may_hang(fs.as_bytes()), "{fs}");
        }
        for fs in [
            "ext4", "xfs", "btrfs", "zfs", "vfat", "tmpfs", "fusectl", "",
        ] {
            assert!(!may_hang(fs.as_bytes()), "{fs}");
        }
    }

    #[test]
    fn the_mount_holding_a_path_is_the_nearest_above_it() {
        let table = b"/dev/vda / ext4 rw 0 0\n\
            server:/export /mnt/nas nfs4 rw 0 0\n\
            /dev/vdb /mnt/nas/local ext4 rw 0 0\n\
            /dev/vdc /mnt/nas2 xfs rw 0 0\n\
            /dev/old /srv ext3 rw 0 0\n\
            host:/x /srv fuse.sshfs rw 0 0\n";
        let of = |path: &str| holding_fs_type(table, path.as_bytes());
        assert_eq!(of("/"), Some(&b"ext4"[..]));
        assert_eq!(of("/home/me"), Some(&b"ext4"[..]));
        assert_eq!(of("/mnt/nas"), Some(&b"nfs4"[..]));
        assert_eq!(of("/mnt/nas/photos/2026"), Some(&b"nfs4"[..]));
        assert_eq!(of("/mnt/nas/local/x"), Some(&b"ext4"[..]));
        assert_eq!(
            of("/mnt/nas2/x"),
            Some(&b"xfs"[..]),
            "a prefix, not a parent"
        );
        assert_eq!(
            of("/srv/data"),
            Some(&b"fuse.sshfs"[..]),
            "the last mount wins"
        );
        assert_eq!(of("relative"), None);
        assert_eq!(holding_fs_type(b"", b"/"), None);
    }

    #[test]
    fn short_line_is_an_error_with_its_number() {
        let got: Vec<_> = entries(b"/dev/sda1 / ext4 rw 0 0\nbroken\n").collect();
        assert!(got[0].is_ok());
        assert_eq!(
            got[1],
            Err(ParseError::new(2, "mount line has fewer than 3 fields"))
        );
    }
}
