//! `sysmon history --points N` takes what `/history.json?points=` takes,
//! 1 to 100000, and says so otherwise (exit 2), as `--range` does: 0 was
//! taken and printed one point for the whole range (`1 points of 86400
//! s`), a number past the bound was taken too.

use std::time::Duration;

use crate::common::*;
use crate::start;

#[test]
fn points_outside_what_history_json_takes_are_refused() {
    let dir = TempDir::new("history-cli-points");
    let mut daemon = start(&dir);
    let db = dir.join("state/history.db");
    wait_for(Duration::from_secs(10), || db.exists().then_some(()))
        .unwrap_or_else(|| panic!("no {}\n{}", db.display(), daemon.dump()));
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
    let config = dir.join("sysmon.conf");
    let config = config.to_str().unwrap();
    for (points, code) in [("0", 2), ("100001", 2), ("1", 0), ("100000", 0)] {
        for json in [false, true] {
            let mut args = vec!["history", "--config", config, "--points", points];
            if json {
                args.push("--json");
            }
            let out = run(sysmon(&args));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
            if code == 2 {
                let expected = format!("--points {points}: use 1 to 100000");
                assert!(stderr.contains(&expected), "{args:?}: lacks {expected:?}");
                assert!(out.stdout.is_empty(), "{args:?}: printed a range");
            }
        }
    }
}
