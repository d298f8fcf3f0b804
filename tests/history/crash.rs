//! kill -9 at 20 pseudo-random moments while the daemon writes its history
//! (a page written every 3 s, and every 30 s): after each kill the file
//! opens with nothing set aside and no corrupt point, `sysmon history`
//! reads it, and every point the daemon served just before the kill is
//! still there with the same figures. What a kill may lose is only what
//! was never written: the buckets in progress (the last batch).

use std::time::Duration;

use crate::common::*;
use crate::{assert_kept, points, read_by_cli, served, start};

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
        // 0.3 to 4.3 s: anywhere across a 3 s step.
        std::thread::sleep(Duration::from_millis(300 + next() % 4000));
        let before = points(&served(&daemon), "cpu");
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
