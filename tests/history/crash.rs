//! kill -9 at 20 pseudo-random moments while the daemon writes its history
//! (batches every 12 s: the pages of 3 s and 30 s steps): after each kill
//! the file opens with nothing set aside and no corrupt point, `sysmon
//! history` reads it, and every point the daemon served as written just
//! before the kill is still there with the same figures. What a kill may
//! lose is only what was never written: the daemon's memory, which holds
//! at most the last batch and the step in progress (checked each time
//! from `written_end`).

use std::time::Duration;

use crate::common::*;
use crate::{BATCH_S, STEP_S, assert_kept, points, read_by_cli, served, start, written_end};

const KILLS: usize = 20;

#[test]
fn kill_9_while_writing_loses_at_most_the_last_batch() {
    let dir = TempDir::new("history-crash");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut served_ever = std::collections::BTreeMap::new();
    let mut last = std::collections::BTreeMap::new();
    for round in 0..KILLS {
        let mut daemon = start(&dir);
        if round > 0 {
            assert!(
                daemon.wait_log("points kept", Duration::from_secs(5)),
                "{}",
                daemon.dump()
            );
            for bad in [
                "set aside",
                "corrupt",
                "cut short",
                "without the history file",
            ] {
                assert_eq!(
                    daemon.logged(bad),
                    0,
                    "round {round}: {bad}\n{}",
                    daemon.dump()
                );
            }
            assert_eq!(
                daemon.logged("(new,"),
                0,
                "round {round}\n{}",
                daemon.dump()
            );
        }
        // 0.3 to 8.3 s: anywhere across 3 s steps, and across a 12 s
        // batch in about half the rounds.
        std::thread::sleep(Duration::from_millis(300 + next() % 8000));
        let json = served(&daemon);
        let before = points(&json, "cpu");
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        // Memory holds at most the last batch and the step in progress.
        assert!(
            now_s.saturating_sub(written_end(&json)) <= BATCH_S + STEP_S + 1,
            "round {round}: written only up to {} at {now_s}",
            written_end(&json)
        );
        daemon.signal(9);
        daemon.wait_exit(Duration::from_secs(5)).expect("killed");
        let after = points(&read_by_cli(&dir), "cpu");
        assert_kept(&before, &after, &format!("round {round}"));
        served_ever.extend(before);
        last = after;
    }
    // Later rounds lost nothing of the earlier ones either.
    assert!(!served_ever.is_empty(), "nothing was ever served");
    assert_kept(&served_ever, &last, "after all rounds");
}
