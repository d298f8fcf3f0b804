//! kill -9 at any moment of a backup and an update audit leaves nothing
//! corrupt behind (issue #7): 20 pseudo-random kill points, restarting each
//! time. Afterwards every archive under a final name passes `unzip -t`,
//! archives made before a kill are untouched, no temporary is left once a
//! run completes, and no audit child outlived the daemon that started it.
use crate::common::*;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const KILLS: usize = 20;

fn tree(dir: &Path) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    fs::create_dir_all(dir.join("text")).unwrap();
    let line: String = (0..2000)
        .map(|i| format!("line {i} of a text file\n"))
        .collect();
    for i in 0..120 {
        fs::write(dir.join(format!("text/f{i:03}.txt")), line.repeat(6)).unwrap();
    }
    let mut f = fs::File::create(dir.join("random.bin")).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..12 {
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&next().to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
}

fn final_archives(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("backup_") && n.ends_with(".zip")
        })
        .map(|e| {
            let m = e.metadata().unwrap();
            (e.path(), (m.len(), m.modified().unwrap()))
        })
        .collect()
}

fn hidden_temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// A process is gone, or at most an unreaped zombie of whatever adopted it.
fn not_running(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn kill_dash_nine_at_random_points_loses_nothing() {
    if !have_tool("unzip", "archives are checked with Info-ZIP unzip -t") {
        return;
    }
    let dir = TempDir::new("crash");
    tree(&dir.join("source"));
    let backups = dir.join("backups");
    let pids = dir.join("audit-pids");
    let proc_root = dir.join("proc");
    let out = run({
        let mut c = Command::new("cp");
        c.arg("-r")
            .arg(fixture("proc/debian12-vm-2core"))
            .arg(&proc_root);
        c
    });
    assert!(out.status.success());
    // The audit child records its pid, then stays busy (exec keeps the pid).
    let config = dir.config(&format!(
        "backup_source = {}\nbackup_keep = 1000\nbackup_level = 9\nmounts = /\nupdate_manager = command\n\
         update_command = echo $$ >> {}; exec sleep 30\nupdate_timeout = 1m",
        dir.join("source").display(),
        pids.display()
    ));
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut random_ms = move |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    let mut seen: BTreeMap<PathBuf, (u64, std::time::SystemTime)> = BTreeMap::new();
    for round in 0..=KILLS {
        // A new boot each round, so every start backs up.
        fs::create_dir_all(proc_root.join("sys/kernel/random")).unwrap();
        fs::write(
            proc_root.join("sys/kernel/random/boot_id"),
            format!("00000000-0000-0000-0000-{round:012}\n"),
        )
        .unwrap();
        let mut daemon = Daemon::start(&[
            "--config",
            config.to_str().unwrap(),
            "--proc-root",
            proc_root.to_str().unwrap(),
        ]);
        if round == KILLS {
            // The last start runs to completion: it must clean up after all the kills.
            assert!(
                daemon.wait_log("backup done", Duration::from_secs(60)),
                "last backup never finished: {}",
                daemon.dump()
            );
            assert_eq!(
                hidden_temporaries(&backups),
                Vec::<String>::new(),
                "temporaries left: {}",
                daemon.dump()
            );
        } else {
            std::thread::sleep(Duration::from_millis(random_ms(20, 900)));
        }
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();
        let now = final_archives(&backups);
        for (path, before) in &seen {
            assert_eq!(
                now.get(path),
                Some(before),
                "round {round}: {} changed or vanished",
                path.display()
            );
        }
        for path in now.keys().filter(|p| !seen.contains_key(*p)) {
            let test = Command::new("unzip").arg("-tq").arg(path).output().unwrap();
            assert!(
                test.status.success(),
                "round {round}: {} is corrupt: {test:?}",
                path.display()
            );
        }
        seen = now;
        // No audit child outlives its daemon.
        std::thread::sleep(Duration::from_millis(100));
        for pid in fs::read_to_string(&pids).unwrap_or_default().lines() {
            assert!(
                not_running(pid),
                "round {round}: audit child {pid} still runs after kill -9 of its daemon"
            );
        }
    }
    eprintln!(
        "{} complete archives after {KILLS} kills and a final run, all intact; the other kills cut a run short and left nothing under a final name",
        seen.len()
    );
    assert!(!seen.is_empty(), "the final run made an archive");
}
