//! `textfile_path`: sysmon's own series written for node_exporter's textfile
//! collector on a short-lived thread, never on the loop. The write is
//! fsynced (the file and its directory), which on a slow or hung disk (NFS,
//! a dying SD card) takes as long as the disk does; on the loop that
//! stalled every answer.
//!
//! The mechanism is the audit log's ([`crate::audit`], `finish`): a named
//! thread that owns what it writes, handed over through a slot, and the
//! loop writing itself only when no thread can be had.
//!
//! Invariants:
//! - At most one writer thread is in flight. A text handed in while it
//!   writes replaces any text still waiting (the newest wins), and the
//!   writer takes it when done: the file ends with the last text handed in.
//! - The loop only takes the slot's lock, which the writer holds to take a
//!   text (or find none and end), never across a write.
//! - Each write is [`fsutil::write_atomic`] (temporary + rename, 0644: node_exporter
//!   usually runs as another user); an error is logged with the path.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{fsutil, log};

#[derive(Default)]
pub struct TextfileWriter {
    slot: Arc<Mutex<Slot>>,
}

#[derive(Default)]
struct Slot {
    /// The newest text not yet taken by a writer, and where it goes.
    pending: Option<(PathBuf, Vec<u8>)>,
    /// A writer thread is in flight (it ends only with `pending` empty).
    writing: bool,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // Plain data, consistent at every unlock (panic = abort besides).
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TextfileWriter {
    /// Has `text` written to `path`: by the writer in flight once it is
    /// done (replacing a text that waited), else by a new one.
    pub fn write(&mut self, path: &Path, text: &[u8]) {
        let mut slot = lock(&self.slot);
        slot.pending = Some((path.to_path_buf(), text.to_vec()));
        if slot.writing {
            return;
        }
        slot.writing = true;
        drop(slot);
        let theirs = Arc::clone(&self.slot);
        let spawned = std::thread::Builder::new()
            .name("sysmon-textfile".into())
            .spawn(move || {
                // No signal may land on a thread waiting for a server.
                crate::sys::block_all_in_this_thread();
                write_pending(&theirs);
            });
        if let Err(e) = spawned {
            log::warn(format_args!(
                "textfile: cannot start the writer thread ({e}): writing on the loop"
            ));
            write_pending(&self.slot);
        }
    }
}

/// Writes the slot's texts, the newest each time, until none is left.
fn write_pending(slot: &Mutex<Slot>) {
    loop {
        let next = {
            let mut slot = lock(slot);
            let next = slot.pending.take();
            slot.writing = next.is_some();
            next
        };
        let Some((path, text)) = next else { return };
        fsutil::test_gate("SYSMON_TEST_TEXTFILE_GATE");
        // The error names the path (`fsutil::with_path`).
        if let Err(e) = fsutil::write_atomic(&path, &text, 0o644) {
            log::error(format_args!("textfile: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest text wins and no second writer starts while one is in
    /// flight: texts handed in while the slot says a writer is busy wait
    /// in it, replaced by each newer one, and only the last is written.
    #[test]
    fn a_busy_writer_is_handed_the_newest_text_only() {
        let dir = std::env::temp_dir().join(format!("sysmon-textfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sysmon.prom");
        let mut writer = TextfileWriter::default();
        // As while a writer is in flight: nothing new is started.
        lock(&writer.slot).writing = true;
        for text in ["a 1\n", "a 2\n", "a 3\n"] {
            writer.write(&path, text.as_bytes());
        }
        assert!(!path.exists(), "written with a writer in flight");
        // The writer in flight, done with its text, takes the newest.
        write_pending(&writer.slot);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 3\n");
        let slot = lock(&writer.slot);
        assert!(slot.pending.is_none() && !slot.writing);
        drop(slot);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
