//! Every `/proc/meminfo` field as `node_memory_<Field>[_bytes]`, read at
//! scrape time (the sampler parses only the ten fields the dashboard needs).
//!
//! node_exporter's name mangling: `Active(anon)` becomes `Active_anon`; a
//! field printed in kB is multiplied by 1024 and gets `_bytes`; a count
//! (`HugePages_Total`) keeps its name and value. Fields the kernel adds
//! later appear without a code change, as with node_exporter up to 1.5.
//! A repeated field (an overlay /proc) is written once, the first kept,
//! and logged once: by the sampler, which reads the file too, when it is
//! one of its ten fields (above `SReclaimable`), else here. A file the
//! sampler cannot read or understand is logged by it alone, and its ten
//! figures are then the last good ones here as in /data.json (one sample
//! feeds both); a kB figure whose bytes overflow u64 is never shown.

use std::path::Path;

use super::Body;
use super::heads::Heads;
use super::health::Fault;
use crate::proc::meminfo::fields_of;
use crate::sample::MeminfoSaid;
use crate::sample::procfile::{Ends, ProcFile};
use crate::sample::source::Repeats;

pub struct MemInfoFields {
    file: ProcFile,
    /// The series starts of the last scrape, one per field.
    heads: Heads,
    /// Whether the log says that meminfo repeats a field.
    repeats: Repeats,
}

/// A key that becomes a valid metric name after the `(x)` → `_x` rewrite.
fn valid_key(key: &[u8]) -> bool {
    !key.is_empty()
        && key
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'(' | b')'))
}

/// Writes `key` (checked by [`valid_key`]: ASCII) with node_exporter's
/// rewrite of `(x)` into `_x`, in runs between the parentheses.
fn push_mangled(out: &mut Body, key: &[u8]) {
    let Ok(mut rest) = std::str::from_utf8(key) else {
        return;
    };
    while let Some(at) = rest.bytes().position(|b| b == b'(' || b == b')') {
        out.push_str(&rest[..at]);
        if rest.as_bytes()[at] == b'(' {
            out.push('_');
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

impl MemInfoFields {
    pub fn new(proc_root: &Path) -> Self {
        MemInfoFields {
            // About 1.5 KB; grown once if a kernel prints more.
            file: ProcFile::with_capacity(proc_root.join("meminfo"), 2048)
                .ending(Ends::AtShortRead),
            heads: Heads::default(),
            repeats: Repeats::default(),
        }
    }

    /// `false` when the file cannot be read, or the sampler's last reading
    /// failed (the caller falls back to the sample's fields, the last good
    /// ones). A malformed line is left out, the rest still count.
    /// `sampler_said`: what the sampler's log says of the file
    /// (`Sample::meminfo_said`); this scrape's repeats, or its failure, the
    /// same cause, are then not said again: the failure leaves `fault`
    /// empty, and the collector's line points to the sampler's.
    pub fn write(&mut self, out: &mut Body, fault: &mut Fault, sampler_said: MeminfoSaid) -> bool {
        if sampler_said.failing {
            return false;
        }
        let buf = match self.file.read() {
            Ok(buf) => buf,
            Err(e) => {
                fault.io(self.file.path(), &e);
                return false;
            }
        };
        self.heads.start();
        for field in fields_of(buf).flatten() {
            let (suffix, value) = if field.in_kib {
                ("_bytes", field.number as f64 * 1024.0)
            } else {
                ("", field.number as f64)
            };
            let made = self
                .heads
                .write(out, [field.key, suffix.as_bytes(), b""], |out| {
                    if !valid_key(field.key) {
                        return false;
                    }
                    // The mangled name is written once and copied twice.
                    out.push_str("# HELP ");
                    let name_at = out.len();
                    out.push_str("node_memory_");
                    push_mangled(out, field.key);
                    out.push_str(suffix);
                    let name_end = out.len();
                    out.push_str(" Memory information field ");
                    out.repeat(name_at + "node_memory_".len()..name_end);
                    out.type_and_sample_start(name_at..name_end, "gauge");
                    true
                });
            if made {
                out.f64(value);
                out.push('\n');
            }
        }
        // The sampler read the file first (at start, before any scrape,
        // and at every interval). While it says so, this log stays as it
        // was: noting "none" here would say the repeats are gone.
        if !sampler_said.repeats {
            let file = self.file.path().display();
            self.heads.report(&mut self.repeats, &file);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_names_like_node_exporter() {
        let mut out = Body::with_capacity(0);
        for key in ["Active(anon)", "HugePages_Total", "NFS_Unstable"] {
            push_mangled(&mut out, key.as_bytes());
            out.push(' ');
        }
        assert_eq!(out.as_str(), "Active_anon HugePages_Total NFS_Unstable ");
        assert!(!valid_key(b"Bad key"));
        assert!(!valid_key(b""));
    }
}
