//! `textfile_dir`: node_exporter's textfile collector. At each scrape every
//! `*.prom` file directly in the directory (dotfiles too, no recursion, in
//! name order) is read, checked by [`super::exposition`], and its families
//! merged into /metrics, followed by `node_textfile_mtime_seconds{file=PATH}`
//! per file served and `node_textfile_scrape_error` (1 when any file or the
//! directory could not be used).
//!
//! Invariant: nothing here can break or stall the scrape. A file is opened
//! with `O_NONBLOCK` and refused unless it is a regular file (a FIFO would
//! block node_exporter); it is refused whole when it is larger than
//! [`MAX_FILE_BYTES`], when the files before it already brought
//! [`MAX_TOTAL_BYTES`], when it does not parse, carries a timestamp, or has
//! a family whose type differs from an earlier file's or that sysmon
//! exports itself (either would make the exposition invalid). The first
//! file refused in a scrape, and why, goes into the render's
//! [`super::health::Fault`]: the collector's log line names it, once until
//! it changes.
//!
//! The directory is listed with getdents64 into a kept buffer, and the
//! buffers (file text, parse results, the merge list) are kept per slot and
//! reused, so a warm scrape of unchanged files allocates nothing (README
//! "Textfile collector", `tests/alloc_free.rs`).

use std::fmt::Write;
use std::io::Read;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::exposition::{Kind, Parsed};
use super::health::Fault;
use super::{Body, escaped_bytes, family};

/// node_exporter has no bound; sysmon refuses a bigger file whole. The
/// scrape is rendered in the loop, so the bounds are in time: 4 MiB of
/// textfiles cost 6.5 ms of CPU per scrape and 20 MiB of RSS (musl release,
/// README "Textfile collector"), 16 MiB held the loop ~27 ms and took RSS
/// to 85 MiB; at these bounds a scrape holds it at most ~3.5 ms.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// All files of one scrape together; the rest are refused.
pub const MAX_TOTAL_BYTES: usize = 2 << 20;
/// `*.prom` files looked at per scrape; the rest are refused.
pub const MAX_FILES: usize = 1_000;
/// Every family sysmon writes itself starts with one of these (checked by
/// `tests/metrics/prometheus.rs` on a whole scrape); a textfile family
/// that does not cannot clash with one of them.
pub const OWN_PREFIXES: [&str; 4] = ["node_", "process_", "sysmon_", "apt_"];

#[derive(Default)]
struct Slot {
    /// The file name (bytes, without the directory).
    name: Vec<u8>,
    /// The file's text, checked UTF-8 (empty when it could not be read).
    text: String,
    parsed: Parsed,
    mtime_seconds: i64,
    served: bool,
}

/// One family of one served file, for the merge.
#[derive(Clone, Copy)]
struct Entry {
    slot: u32,
    family: u32,
}

pub struct TextfileDir {
    dir: PathBuf,
    /// `dir` for open(2); empty (never opens) if the path has a NUL byte.
    dir_c: std::ffi::CString,
    /// The directory, listed with getdents64 into a kept buffer; `None`
    /// until it could first be opened.
    listing: Option<crate::sys::DirCounter>,
    /// `dir/name`, rebuilt for each file without reallocating.
    path: PathBuf,
    slots: Vec<Slot>,
    used: usize,
    entries: Vec<Entry>,
    /// `# TYPE` names sysmon wrote itself this scrape (ranges into `out`),
    /// in render order.
    builtin: Vec<Range<usize>>,
    /// The names in `builtin` when `builtin_order` was made, each followed
    /// by `\n`: while a scrape's names are the same (the set of families
    /// changes only when a disk, interface or job comes or goes), the order
    /// is reused and the ~460 names are compared, not sorted.
    builtin_names: Vec<u8>,
    /// Indices into `builtin` in name order.
    builtin_order: Vec<u32>,
}

impl TextfileDir {
    pub fn new(dir: PathBuf) -> Self {
        TextfileDir {
            path: dir.clone(),
            dir_c: std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap_or_default(),
            listing: None,
            dir,
            slots: Vec::new(),
            used: 0,
            entries: Vec::new(),
            builtin: Vec::new(),
            builtin_names: Vec::new(),
            builtin_order: Vec::new(),
        }
    }

    /// Reads the directory and appends its families, the mtimes and the
    /// error gauge to `out`, which holds sysmon's own families so far.
    /// False when the directory or a file could not be used (the error
    /// gauge's 1); the first one and why are then in `fault`.
    pub fn write(&mut self, out: &mut Body, fault: &mut Fault) -> bool {
        let mut errored = self.read_all(fault);
        errored |= self.merge(out.as_bytes(), fault);
        self.render(out);
        family(
            out,
            "node_textfile_scrape_error",
            "gauge",
            "1 if there was an error opening or reading a file, 0 otherwise",
        );
        let _ = writeln!(out, "node_textfile_scrape_error {}", u8::from(errored));
        !errored
    }

    /// Lists and reads the files into slots; true if anything failed.
    fn read_all(&mut self, fault: &mut Fault) -> bool {
        self.used = 0;
        let mut errored = false;
        // Opened afresh for each scrape (the directory may have been
        // replaced), into the listing's kept buffer.
        let opened = match &mut self.listing {
            Some(listing) => listing.reopen(&self.dir_c),
            None => crate::sys::DirCounter::open(&self.dir_c).map(|l| {
                self.listing = Some(l);
            }),
        };
        if let Err(e) = opened {
            fault.io(&self.dir, &e);
            return true;
        }
        let Some(listing) = self.listing.as_mut() else {
            return true;
        };
        let (slots, used) = (&mut self.slots, &mut self.used);
        let listed = listing.for_each_name(|name| {
            if !name.ends_with(b".prom") {
                return;
            }
            if *used == MAX_FILES {
                errored = true;
                return;
            }
            if *used == slots.len() {
                slots.push(Slot::default());
            }
            let slot = &mut slots[*used];
            slot.name.clear();
            slot.name.extend_from_slice(name);
            *used += 1;
        });
        if let Err(e) = &listed {
            fault.io(&self.dir, e);
        } else if errored {
            fault.refused(&self.dir, "more than 1,000 *.prom files: the rest refused");
        }
        errored |= listed.is_err();
        let slots = &mut self.slots[..self.used];
        // Names from one directory are distinct: the crate sort is exact.
        crate::sort::sort_by(slots, |a, b| a.name.cmp(&b.name));
        let mut total = 0;
        for slot in slots.iter_mut() {
            self.path.clear();
            self.path.push(&self.dir);
            self.path.push(std::ffi::OsStr::from_bytes(&slot.name));
            let read = read_one(&self.path, slot, MAX_TOTAL_BYTES - total);
            slot.served = read.is_ok();
            total += slot.text.len();
            errored |= !slot.served;
            match read {
                _ if fault.is_set() => {}
                Ok(()) => {}
                Err(Refused::Io(e)) => fault.io(&self.path, &e),
                Err(Refused::Why(why)) => fault.refused(&self.path, why),
                Err(Refused::Parse(e)) => fault.parse(
                    &self.path,
                    crate::proc::ParseError::new(e.line as u32, e.what),
                ),
            }
        }
        errored
    }

    /// Drops the files whose families clash with sysmon's own or with an
    /// earlier file's type, then leaves `entries` sorted by family name and
    /// file; true if a file was dropped.
    fn merge(&mut self, out: &[u8], fault: &mut Fault) -> bool {
        const TYPE: &[u8] = b"# TYPE ";
        self.builtin.clear();
        // Sysmon's own families all start with one of OWN_PREFIXES: the
        // index of them (a scan and a sort of ~460 names, ~10 µs) is built
        // only when a file has a family that could clash.
        let could_clash = self.slots[..self.used].iter().any(|slot| {
            slot.served
                && slot.parsed.families.iter().any(|f| {
                    let name = &slot.text.as_str()[f.name.clone()];
                    OWN_PREFIXES.iter().any(|p| name.starts_with(p))
                })
        });
        if !could_clash {
            return self.merge_types(fault);
        }
        let mut at = 0;
        // `# TYPE` at the start of a line only: a label value may hold it.
        // A scan for `#` eight bytes at a time (a byte at a time it was
        // ~150k instructions a scrape), then a compare: not a window
        // compare at every byte of the ~50 KB body.
        while let Some(n) = crate::proc::find_either(&out[at..], b'#', b'#') {
            let hash = at + n;
            at = hash + 1;
            if !out[hash..].starts_with(TYPE) {
                continue;
            }
            let line_start = hash == 0 || out[hash - 1] == b'\n';
            let start = hash + TYPE.len();
            let len = out[start..].iter().position(|&b| b == b' ').unwrap_or(0);
            if line_start {
                self.builtin.push(start..start + len);
            }
            at = start + len;
        }
        // Sorted again only when the names changed: `crate::sort` (the
        // crate's one heapsort) is fast enough for that, without the 4 KB
        // of code std's sort added for a sort on every scrape.
        if !same_names(&self.builtin_names, out, &self.builtin) {
            self.builtin_names.clear();
            for r in &self.builtin {
                self.builtin_names.extend_from_slice(&out[r.clone()]);
                self.builtin_names.push(b'\n');
            }
            self.builtin_order.clear();
            self.builtin_order.extend(0..self.builtin.len() as u32);
            let builtin = &self.builtin;
            // A name written twice would sort either way: the search
            // finds it all the same.
            crate::sort::sort_by(&mut self.builtin_order, |&a, &b| {
                out[builtin[a as usize].clone()].cmp(&out[builtin[b as usize].clone()])
            });
        }
        let mut dropped = false;
        for s in 0..self.used {
            let slot = &self.slots[s];
            if !slot.served {
                continue;
            }
            let text = slot.text.as_str();
            let own = slot.parsed.families.iter().any(|f| {
                let name = &text[f.name.clone()];
                name.starts_with("node_textfile_")
                    || name.starts_with("node_scrape_collector_")
                    || self
                        .builtin_order
                        .binary_search_by(|&i| {
                            out[self.builtin[i as usize].clone()].cmp(name.as_bytes())
                        })
                        .is_ok()
            });
            if own {
                self.refuse(
                    s,
                    fault,
                    "has a family sysmon exports itself: refused whole",
                );
                dropped = true;
            }
        }
        self.merge_types(fault) || dropped
    }

    /// The `s`-th file is not served; named in `fault` if it is the first.
    fn refuse(&mut self, s: usize, fault: &mut Fault, why: &'static str) {
        self.slots[s].served = false;
        if !fault.is_set() {
            self.path.clear();
            self.path.push(&self.dir);
            self.path
                .push(std::ffi::OsStr::from_bytes(&self.slots[s].name));
            fault.refused(&self.path, why);
        }
    }

    /// Leaves `entries` sorted by family name and file, dropping a file
    /// whose family has another type than an earlier file's; true if one was
    /// dropped.
    fn merge_types(&mut self, fault: &mut Fault) -> bool {
        let mut dropped = false;
        loop {
            self.entries.clear();
            for (s, slot) in self.slots[..self.used].iter().enumerate() {
                if !slot.served {
                    continue;
                }
                for (f, family) in slot.parsed.families.iter().enumerate() {
                    if family.end_sample > family.first_sample {
                        self.entries.push(Entry {
                            slot: s as u32,
                            family: f as u32,
                        });
                    }
                }
            }
            let slots = &self.slots;
            // (name, slot, family) is distinct: the crate sort is exact.
            crate::sort::sort_by(&mut self.entries, |a, b| {
                name_of(slots, *a)
                    .cmp(name_of(slots, *b))
                    .then(a.slot.cmp(&b.slot))
                    .then(a.family.cmp(&b.family))
            });
            // The first file of a name sets its type; a later file that
            // disagrees is dropped whole, and the merge starts again.
            let clash = self.entries.windows(2).find_map(|w| {
                let same = name_of(slots, w[0]) == name_of(slots, w[1]);
                (same && kind_of(slots, w[0]) != kind_of(slots, w[1])).then_some(w[1].slot)
            });
            match clash {
                Some(s) => {
                    let why = "has a family of another type than an earlier file's: refused whole";
                    self.refuse(s as usize, fault, why);
                    dropped = true;
                }
                None => return dropped,
            }
        }
    }

    fn render(&self, out: &mut Body) {
        let slots = &self.slots;
        let mut i = 0;
        while i < self.entries.len() {
            let name = name_of(slots, self.entries[i]);
            let mut end = i + 1;
            while end < self.entries.len() && name_of(slots, self.entries[end]) == name {
                end += 1;
            }
            let group = &self.entries[i..end];
            let _ = write!(out, "# HELP {name} ");
            let help = group.iter().find_map(|e| {
                let slot = &slots[e.slot as usize];
                let f = &slot.parsed.families[e.family as usize];
                f.help.clone().map(|h| &slot.text.as_str()[h])
            });
            match help {
                Some(help) => out.push_str(help),
                None => {
                    out.push_str("Metric read from ");
                    for (n, e) in group.iter().enumerate() {
                        if n > 0 {
                            out.push_str(", ");
                        }
                        self.write_path(out, e.slot as usize, false);
                    }
                }
            }
            let _ = writeln!(out, "\n# TYPE {name} {}", kind_of(slots, group[0]).as_str());
            for e in group {
                let slot = &slots[e.slot as usize];
                let f = &slot.parsed.families[e.family as usize];
                let text = slot.text.as_str();
                for sample in &slot.parsed.samples[f.first_sample..f.end_sample] {
                    out.push_str(&text[sample.line.clone()]);
                    out.push('\n');
                }
            }
            i = end;
        }
        if slots[..self.used].iter().any(|s| s.served) {
            family(
                out,
                "node_textfile_mtime_seconds",
                "gauge",
                "Unixtime mtime of textfiles successfully read.",
            );
            for (s, slot) in slots[..self.used].iter().enumerate() {
                if slot.served {
                    out.push_str("node_textfile_mtime_seconds{file=\"");
                    self.write_path(out, s, true);
                    let _ = writeln!(out, "\"}} {}", slot.mtime_seconds);
                }
            }
        }
    }

    /// `dir/name` of a slot; escaped for a label value, or as HELP text
    /// (where only `\` and newline need escaping, and the label escaping
    /// of `"` would be read back as an invalid escape).
    fn write_path(&self, out: &mut Body, slot: usize, label: bool) {
        let dir = self.dir.as_os_str().as_bytes();
        let name = &self.slots[slot].name;
        for part in [dir, b"/".as_slice(), name.as_slice()] {
            if label {
                escaped_bytes(out, part);
            } else {
                for chunk in part.utf8_chunks() {
                    for c in chunk.valid().chars() {
                        match c {
                            '\\' => out.push_str("\\\\"),
                            '\n' => out.push_str("\\n"),
                            c => out.push(c),
                        }
                    }
                    if !chunk.invalid().is_empty() {
                        out.push(char::REPLACEMENT_CHARACTER);
                    }
                }
            }
        }
    }
}

fn name_of(slots: &[Slot], e: Entry) -> &str {
    let slot = &slots[e.slot as usize];
    &slot.text.as_str()[slot.parsed.families[e.family as usize].name.clone()]
}

fn kind_of(slots: &[Slot], e: Entry) -> Kind {
    slots[e.slot as usize].parsed.families[e.family as usize].kind
}

/// Reads, checks and parses one file into `slot`: true if it may be served.
/// `budget` is what is left of [`MAX_TOTAL_BYTES`].
/// Whether `names` (each followed by `\n`) lists exactly the names at
/// `ranges` of `out`, in that order.
fn same_names(names: &[u8], out: &[u8], ranges: &[Range<usize>]) -> bool {
    let mut rest = names;
    for r in ranges {
        let name = &out[r.clone()];
        let Some((kept, after)) = rest.split_at_checked(name.len()) else {
            return false;
        };
        if !equal_words(kept, name) || after.first() != Some(&b'\n') {
            return false;
        }
        rest = &after[1..];
    }
    rest.is_empty()
}

/// `a == b` for slices of one length, eight bytes at a time (musl's
/// `bcmp` goes a byte at a time: 53k instructions a scrape for the ~460
/// names).
fn equal_words(a: &[u8], b: &[u8]) -> bool {
    let (mut a_words, mut b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("eight bytes"));
    (&mut a_words)
        .zip(&mut b_words)
        .all(|(x, y)| word(x) == word(y))
        && a_words.remainder() == b_words.remainder()
}

/// Why a file was not served.
enum Refused {
    Io(std::io::Error),
    Why(&'static str),
    Parse(super::exposition::Error),
}

fn read_one(path: &std::path::Path, slot: &mut Slot, budget: usize) -> Result<(), Refused> {
    // The buffer goes out as bytes and comes back as a String (checked
    // once), keeping its capacity either way.
    let mut bytes = std::mem::take(&mut slot.text).into_bytes();
    bytes.clear();
    let read = read_bounded(path, &mut bytes, MAX_FILE_BYTES.min(budget));
    let mut utf8 = true;
    slot.text = String::from_utf8(bytes).unwrap_or_else(|e| {
        utf8 = false;
        let mut bytes = e.into_bytes();
        bytes.clear();
        String::from_utf8(bytes).unwrap_or_default()
    });
    let file = read.inspect_err(|_| slot.text.clear())?;
    if !utf8 {
        return Err(Refused::Why("not UTF-8: refused whole"));
    }
    slot.parsed.parse(&slot.text).map_err(Refused::Parse)?;
    // As node_exporter: the mtime is taken once the file has parsed, from
    // the file opened (a symlink's target).
    use std::os::unix::fs::MetadataExt;
    slot.mtime_seconds = file.metadata().map_err(Refused::Io)?.mtime();
    Ok(())
}

/// Reads at most `limit` bytes of a regular file into `bytes`: the open
/// file, or why it could not be opened, read, or is larger.
fn read_bounded(
    path: &std::path::Path,
    bytes: &mut Vec<u8>,
    limit: usize,
) -> Result<std::fs::File, Refused> {
    let file = crate::sample::procfile::open_regular(path).map_err(Refused::Io)?;
    (&file)
        .take(limit as u64 + 1)
        .read_to_end(bytes)
        .map_err(Refused::Io)?;
    match bytes.len() {
        n if n <= limit => Ok(file),
        _ if limit < MAX_FILE_BYTES => Err(Refused::Why(
            "past the 2 MiB all textfiles together may bring: refused",
        )),
        _ => Err(Refused::Why("larger than 1 MiB: refused")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(files: &[(&str, &str)], own: &str) -> String {
        let dir = std::env::temp_dir().join(format!(
            "sysmon-textfile-{}-{}",
            std::process::id(),
            files.len() * 1000 + own.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let mut t = TextfileDir::new(dir.clone());
        let mut out = Body::with_capacity(0);
        out.push_str(own);
        t.write(&mut out, &mut Fault::default());
        std::fs::remove_dir_all(&dir).unwrap();
        out.as_str().replace(dir.to_str().unwrap(), "D")
    }

    #[test]
    fn families_of_several_files_merge_under_one_header() {
        let out = scrape(
            &[
                ("b.prom", "# TYPE x gauge\nx{f=\"b\"} 2\n"),
                ("a.prom", "# HELP x X.\n# TYPE x gauge\nx{f=\"a\"} 1\ny 3\n"),
                (".dot.prom", "z 4\n"),
                ("ignored.txt", "w 5\n"),
            ],
            "",
        );
        assert!(
            out.starts_with(
                "# HELP x X.\n# TYPE x gauge\nx{f=\"a\"} 1\nx{f=\"b\"} 2\n\
             # HELP y Metric read from D/a.prom\n# TYPE y untyped\ny 3\n\
             # HELP z Metric read from D/.dot.prom\n# TYPE z untyped\nz 4\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("node_textfile_mtime_seconds{file=\"D/.dot.prom\"} "),
            "{out}"
        );
        assert!(!out.contains("\nw 5"), "{out}");
        assert!(out.ends_with("\nnode_textfile_scrape_error 0\n"), "{out}");
    }

    #[test]
    fn a_clashing_file_is_dropped_whole() {
        let out = scrape(
            &[
                ("a.prom", "# TYPE x gauge\nx 1\n"),
                ("b.prom", "x{f=\"b\"} 2\nkept_not 1\n"),
                ("c.prom", "node_load1 9\n"),
                ("d.prom", "ok 1\n"),
            ],
            "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.5\n",
        );
        assert!(
            !out.contains("kept_not") && !out.contains("node_load1 9"),
            "{out}"
        );
        assert!(out.contains("\nok 1\n") && out.contains("\nx 1\n"), "{out}");
        assert!(!out.contains("b.prom") && !out.contains("c.prom"), "{out}");
        assert!(out.ends_with("\nnode_textfile_scrape_error 1\n"), "{out}");
    }

    /// The bounds that keep a scrape short: a file over [`MAX_FILE_BYTES`]
    /// is refused, and so is one that would take the scrape's files over
    /// [`MAX_TOTAL_BYTES`]; those under both are served.
    #[test]
    fn files_over_the_size_bounds_are_refused() {
        let sized = |name: &str, bytes: usize| {
            let head = format!("# TYPE {name} gauge\n");
            let line = format!("{name}{{pad=\"{}\"}} 1\n", "x".repeat(100));
            let mut text = head.clone();
            while text.len() + line.len() <= bytes {
                text.push_str(&line);
            }
            text
        };
        let under = sized("a_fits", MAX_FILE_BYTES);
        let over = sized("b_too_big", MAX_FILE_BYTES + 200);
        assert!(under.len() <= MAX_FILE_BYTES && over.len() > MAX_FILE_BYTES);
        let out = scrape(&[("a.prom", &under), ("b.prom", &over)], "");
        assert!(out.contains("\n# TYPE a_fits gauge\n") || out.starts_with("# HELP a_fits"));
        assert!(
            !out.contains("b_too_big"),
            "a file over the bound is served"
        );
        assert!(out.ends_with("\nnode_textfile_scrape_error 1\n"));
        // Two files fill the total; a third that fits alone is refused.
        let third = sized("c_over_total", 1000);
        let full = MAX_TOTAL_BYTES - under.len();
        let second = sized("b_fits", full.min(MAX_FILE_BYTES));
        let out = scrape(
            &[("a.prom", &under), ("b.prom", &second), ("c.prom", &third)],
            "x",
        );
        assert!(out.contains("b_fits{"), "the second file is refused");
        assert!(!out.contains("c_over_total"), "the total bound is not kept");
        assert!(out.ends_with("\nnode_textfile_scrape_error 1\n"));
    }

    /// The order of sysmon's own names is kept between scrapes: a family
    /// that appears later (a disk mounted, a job started) or goes away must
    /// still be checked against, or no longer block, a file's family.
    #[test]
    fn own_families_that_come_and_go_are_checked_at_every_scrape() {
        let dir = std::env::temp_dir().join(format!("sysmon-textfile-own-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("a.prom"),
            "node_b_total 7
",
        )
        .unwrap();
        std::fs::write(
            dir.join("z.prom"),
            "apt_zz 1
",
        )
        .unwrap();
        let mut t = TextfileDir::new(dir.clone());
        let own = |names: &[&str]| {
            let mut out = Body::with_capacity(0);
            for n in names {
                out.push_str(&format!("# TYPE {n} gauge\n{n} 1\n"));
            }
            out
        };
        let serves_b = |t: &mut TextfileDir, names: &[&str]| {
            let mut out = own(names);
            t.write(&mut out, &mut Fault::default());
            let text = out.as_str();
            assert!(text.contains("\napt_zz 1\n"), "{text}");
            text.contains("\nnode_b_total 7\n")
        };
        assert!(serves_b(&mut t, &["node_c", "node_a"]));
        assert!(serves_b(&mut t, &["node_c", "node_a"]), "the kept order");
        assert!(!serves_b(&mut t, &["node_c", "node_a", "node_b_total"]));
        assert!(!serves_b(&mut t, &["node_c", "node_a", "node_b_total"]));
        assert!(serves_b(&mut t, &["node_c", "node_a"]), "gone again");
        assert!(!serves_b(&mut t, &["node_b_total", "node_c", "node_a"]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_failure() {
        let mut t = TextfileDir::new("/nonexistent/sysmon-textfile".into());
        let mut out = Body::with_capacity(0);
        t.write(&mut out, &mut Fault::default());
        let out = out.as_str();
        assert!(out.ends_with("\nnode_textfile_scrape_error 1\n"), "{out}");
        assert!(!out.contains("mtime"), "{out}");
    }
}
