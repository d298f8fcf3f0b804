//! SIGHUP with other `history_tiers`: the running file is finished (its
//! steps in progress written), set aside under its own name with every
//! byte, and a file of the new tiers made and recorded into; `off` stops
//! recording without touching the file.

use std::fs;
use std::time::Duration;

use crate::common::*;
use crate::{points, served, start};

#[test]
fn sighup_with_other_tiers_sets_the_file_aside_and_starts_a_new_one() {
    let dir = TempDir::new("history-reload");
    let daemon = start(&dir);
    wait_for(Duration::from_secs(20), || {
        (points(&served(&daemon), "cpu").len() >= 2).then_some(())
    })
    .unwrap_or_else(|| panic!("no points\n{}", daemon.dump()));
    let base = "backup = off\nupdate_manager = none\ninterval = 100ms\nmounts = /\n";
    dir.config(&format!("{base}history_tiers = 3s:2h"));
    daemon.signal(1);
    assert!(
        daemon.wait_log("set aside as", Duration::from_secs(10)),
        "{}",
        daemon.dump()
    );
    let state = dir.join("state");
    let aside: Vec<_> = fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("history.db.aside-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    // The old file, whole: 3 header pages, 150 pages of 3 s, 360 of 30 s.
    assert_eq!(
        fs::metadata(&aside[0]).unwrap().len(),
        (3 + 150 + 360) * 4096
    );
    // The new one: 3 header pages and 300 pages of 3 s, recorded into.
    assert_eq!(
        fs::metadata(state.join("history.db")).unwrap().len(),
        (3 + 300) * 4096
    );
    wait_for(Duration::from_secs(20), || {
        (!points(&served(&daemon), "cpu").is_empty()).then_some(())
    })
    .unwrap_or_else(|| panic!("nothing recorded after the reload\n{}", daemon.dump()));

    // off: the file stays as it is and nothing more is written to it.
    dir.config(&format!("{base}history_tiers = off"));
    let reloads = daemon.logged("configuration reloaded");
    daemon.signal(1);
    wait_for(Duration::from_secs(10), || {
        (daemon.logged("configuration reloaded") > reloads).then_some(())
    })
    .unwrap_or_else(|| panic!("no second reload\n{}", daemon.dump()));
    let before = fs::read(state.join("history.db")).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        fs::read(state.join("history.db")).unwrap() == before,
        "written after off"
    );
}
