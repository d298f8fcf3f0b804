//! `/proc/PID/smaps`: which mappings of a file were never written.
//!
//! Each mapping is a header line (`start-end perms offset dev inode path`)
//! followed by `Key: value kB` lines. A mapping qualifies as *clean* when it
//! has no write permission, is backed by a file (inode not 0), and holds no
//! anonymous page (`Anonymous: 0 kB`: nothing was copied on write, so every
//! resident page is the file's own). Relocated read-only data (RELRO) has
//! anonymous pages and never qualifies. `Anonymous` has been in smaps since
//! Linux 2.6.34; a mapping without it does not qualify.
//!
//! [`named_mapping`] finds one mapping by its name, such as the main
//! thread's `[stack]`.

use super::{ParseError, parse_u64};

/// One mapping's address range, `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: usize,
    pub end: usize,
}

/// Calls `each` for every clean mapping of the file named `path`.
pub fn clean_mappings_of(
    buf: &[u8],
    path: &[u8],
    mut each: impl FnMut(Mapping),
) -> Result<(), ParseError> {
    // The mapping being read: its range, whether it may qualify, and its
    // anonymous size once seen.
    let mut current: Option<(Mapping, bool)> = None;
    let mut anonymous_kib: Option<u64> = None;
    let mut finish = |current: Option<(Mapping, bool)>, anonymous_kib: Option<u64>| {
        if let (Some((mapping, true)), Some(0)) = (current, anonymous_kib) {
            each(mapping);
        }
    };
    for (n, line) in buf.split(|b| *b == b'\n').enumerate() {
        let line_no = u32::try_from(n + 1).unwrap_or(u32::MAX);
        if line.is_empty() {
            continue;
        }
        let mut cols = line.split(|b| *b == b' ').filter(|c| !c.is_empty());
        let first = cols.next().unwrap_or_default();
        if first.ends_with(b":") {
            if first == b"Anonymous:" {
                let kib = cols
                    .next()
                    .and_then(parse_u64)
                    .ok_or(ParseError::new(line_no, "Anonymous is not a number"))?;
                anonymous_kib = Some(kib);
            }
            continue;
        }
        // A header line: the mapping before it is complete.
        finish(current.take(), anonymous_kib.take());
        let dash = first
            .iter()
            .position(|b| *b == b'-')
            .ok_or(ParseError::new(line_no, "mapping range has no '-'"))?;
        let (start, end) = (hex(&first[..dash]), hex(&first[dash + 1..]));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(ParseError::new(line_no, "mapping range is not hexadecimal"));
        };
        let perms = cols.next().unwrap_or_default();
        let _offset = cols.next();
        let _device = cols.next();
        let inode = cols
            .next()
            .and_then(parse_u64)
            .ok_or(ParseError::new(line_no, "mapping has no inode number"))?;
        // The path is the rest of the line after the inode, spaces and all.
        let named = line_path(line) == Some(path);
        let writable = perms.get(1) != Some(&b'-');
        current = Some((Mapping { start, end }, named && inode != 0 && !writable));
    }
    finish(current, anonymous_kib);
    Ok(())
}

/// The range of the first mapping named `name` (the header's last column,
/// `[stack]` for the main thread's stack), or `None` when there is none.
/// Lines that are not well-formed headers are skipped: only a whole match
/// counts.
pub fn named_mapping(buf: &[u8], name: &[u8]) -> Option<Mapping> {
    buf.split(|b| *b == b'\n')
        .filter(|line| line_path(line) == Some(name))
        .find_map(|line| {
            let range = line.split(|b| *b == b' ').next()?;
            let dash = range.iter().position(|b| *b == b'-')?;
            Some(Mapping {
                start: hex(&range[..dash])?,
                end: hex(&range[dash + 1..])?,
            })
        })
}

/// The path of a header line: everything after the fifth column.
fn line_path(line: &[u8]) -> Option<&[u8]> {
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_ascii_start();
        let end = rest.iter().position(|b| *b == b' ')?;
        rest = &rest[end..];
    }
    Some(rest.trim_ascii())
}

fn hex(bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    bytes.iter().try_fold(0usize, |acc, b| {
        let digit = (*b as char).to_digit(16)?;
        Some(acc << 4 | digit as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(buf: &[u8], path: &[u8]) -> Vec<Mapping> {
        let mut out = Vec::new();
        clean_mappings_of(buf, path, |m| out.push(m)).unwrap();
        out
    }

    /// The release binary's mappings, read from a running daemon (see the
    /// fixture's SOURCE note): text and read-only data qualify, the
    /// writable data, the anonymous regions and the stack do not.
    #[test]
    fn the_release_binary_text_and_read_only_data_qualify() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/proc/smaps-release-musl/smaps"
        );
        let buf = std::fs::read(path).unwrap();
        let exe = b"/usr/local/bin/sysmon";
        assert_eq!(
            clean(&buf, exe),
            [
                Mapping {
                    start: 0x7f94ba002000,
                    end: 0x7f94ba00f000
                },
                Mapping {
                    start: 0x7f94ba00f000,
                    end: 0x7f94ba120000
                },
                Mapping {
                    start: 0x7f94ba120000,
                    end: 0x7f94ba16a000
                },
            ]
        );
        assert_eq!(clean(&buf, b"/usr/local/bin/other"), []);
    }

    /// Relocated read-only data (RELRO) has anonymous pages; a deleted
    /// binary (replaced by an upgrade) keeps its suffix in the path.
    #[test]
    fn copied_on_write_mappings_never_qualify() {
        let buf = b"\
55d0c0a00000-55d0c0a10000 r--p 00000000 fe:00 42   /bin/x (deleted)\n\
Rss:                  64 kB\n\
Anonymous:             0 kB\n\
55d0c0a10000-55d0c0a20000 r--p 00010000 fe:00 42   /bin/x (deleted)\n\
Anonymous:             4 kB\n\
55d0c0a20000-55d0c0a30000 r-xp 00020000 fe:00 42   /bin/x (deleted)\n\
Rss:                  64 kB\n";
        // The last one never says Anonymous: it does not qualify either.
        assert_eq!(
            clean(buf, b"/bin/x (deleted)"),
            [Mapping {
                start: 0x55d0c0a00000,
                end: 0x55d0c0a10000
            }]
        );
    }

    #[test]
    fn the_stack_is_found_by_name() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/proc/smaps-release-musl/smaps"
        );
        let buf = std::fs::read(path).unwrap();
        assert_eq!(
            named_mapping(&buf, b"[stack]"),
            Some(Mapping {
                start: 0x7ffc3ec7d000,
                end: 0x7ffc3ec9e000
            })
        );
        assert_eq!(named_mapping(&buf, b"[nothing]"), None);
        // A key line that mentions the name is not a header.
        assert_eq!(named_mapping(b"Name: [stack]\n", b"[stack]"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_mapping() {
        let mut seen = 0;
        assert!(
            clean_mappings_of(b"zz-10 r--p 0 0:0 1 /x\nAnonymous: 0 kB\n", b"/x", |_| {
                seen += 1
            })
            .is_err()
        );
        assert!(
            clean_mappings_of(b"10-20 r--p 0 0:0 1 /x\nAnonymous: x kB\n", b"/x", |_| {
                seen += 1
            })
            .is_err()
        );
        assert!(clean_mappings_of(b"1020 r--p 0 0:0 1 /x\n", b"/x", |_| seen += 1).is_err());
        assert_eq!(seen, 0);
        assert_eq!(clean(b"", b"/x"), []);
    }
}
