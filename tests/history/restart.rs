//! Run, sample, stop, start: the points recorded before the stop are served
//! by the new process, unchanged, and the batch and the step the stop
//! interrupted were written at SIGTERM.

use std::time::Duration;

use crate::common::*;
use crate::{assert_kept, points, read_by_cli, served, start};

#[test]
fn a_restart_keeps_the_history() {
    let dir = TempDir::new("history-restart");
    let mut daemon = start(&dir);
    let before = wait_for(Duration::from_secs(20), || {
        let p = points(&served(&daemon), "cpu");
        (p.len() >= 3).then_some(p)
    })
    .unwrap_or_else(|| panic!("no 3 cpu points in 20 s\n{}", daemon.dump()));
    // The CLI reads the same file alongside the writer.
    assert_kept(
        &before,
        &points(&read_by_cli(&dir), "cpu"),
        "sysmon history while running",
    );
    let memory = points(&served(&daemon), "memory");
    assert!(!memory.is_empty());
    daemon.signal(15);
    assert!(
        daemon
            .wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    let stopped_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The batch not yet written and the step in progress at SIGTERM were
    // written at the stop: in the file, a point at or after the last one
    // served as written before the stop, before the stop itself.
    let on_disk = points(&read_by_cli(&dir), "cpu");
    assert_kept(&before, &on_disk, "in the file after the stop");
    let last_before = *before.keys().last().unwrap();
    assert!(
        on_disk.keys().any(|t| *t > last_before && *t <= stopped_at),
        "no point after {last_before}: {on_disk:?}"
    );

    let daemon = start(&dir);
    assert!(
        daemon.wait_log("points kept", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    assert_eq!(
        daemon.logged("(new,"),
        0,
        "the file was made again:\n{}",
        daemon.dump()
    );
    let after = points(&served(&daemon), "cpu");
    assert_kept(&before, &after, "after a restart");
    assert_kept(
        &memory,
        &points(&served(&daemon), "memory"),
        "memory after a restart",
    );
}
