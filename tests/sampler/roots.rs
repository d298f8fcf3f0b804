//! The `Sampler` over whole fixture proc roots gives the hand-worked
//! figures of each one, over real and synthetic intervals (96 cores,
//! counters going backwards, cores going and coming, disks auto and
//! listed), and keeps its previous figures when a file turns truncated,
//! garbage or missing. Expected figures are worked out by hand, as in
//! `parsers.rs`.

use std::path::Path;

use super::*;
use crate::common::TempDir;
use sysmon::sample::{DiskProblem, MountSelection, Sample, Sampler};

// ------------------------------------------------------------------ Sampler

/// A private, writable copy of a fixture proc root, so a test can swap files.
struct ProcRoot {
    dir: TempDir,
}

impl ProcRoot {
    fn copy_of(fixture: &str) -> ProcRoot {
        let dir = TempDir::new(&format!("procroot-{}", fixture.replace('/', "-")));
        crate::common::copy_dir(&fixtures().join(fixture), dir.path());
        ProcRoot { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Replaces `name` in the copy with the fixture file `from` (relative to tests/fixtures/proc).
    fn put(&self, name: &str, from: &str) {
        std::fs::write(self.dir.join(name), read(from)).unwrap();
    }
    fn write(&self, name: &str, bytes: &[u8]) {
        let path = self.dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    fn sampler(&self) -> Sampler {
        Sampler::new(
            self.path(),
            std::path::Path::new(NO_SYS_PATH),
            MountSelection::Auto,
        )
    }
}

fn sample(sampler: &mut Sampler, out: &mut Sample) {
    sampler.sample(1_800_000_000, out);
    assert_sane(out.cpu, "total");
    for c in &out.cores {
        assert_sane(c.percent, &format!("cpu{}", c.id));
    }
}

fn core_ids(s: &Sample) -> Vec<u32> {
    s.cores.iter().map(|c| c.id).collect()
}

#[test]
fn sampler_reads_every_fixture_root() {
    // (dir, hostname, cpu % since boot, memory total/available kB)
    let cases: &[(&str, &str, f64, u64, u64)] = &[
        (
            "basic",
            "vm",
            10952.0 / 95527.0 * 100.0,
            24_684_084,
            24_152_916,
        ),
        (
            "linux-2.4-4col-1core",
            "oldbox",
            29605.0 / 1_500_000.0 * 100.0,
            1_031_016,
            49596,
        ),
        (
            "linux-2.6.9-7col-4core",
            "rhel4",
            895_204.0 / 35_637_331.0 * 100.0,
            4_046_504,
            136_292,
        ),
        (
            "linux-2.6.18-8col-4core",
            "rhel5",
            3_319_868.0 / 84_536_404.0 * 100.0,
            8_174_640,
            1_234_568,
        ),
        (
            "linux-2.6.24-9col-2core",
            "hardy",
            1_263_100.0 / 19_413_100.0 * 100.0,
            2_063_360,
            512_000,
        ),
        // The estimate (worked out in MEM_CASES), reading sys/vm/min_free_kbytes.
        (
            "linux-2.6.32-1core-estimate",
            "squeeze",
            170_892.0 / 10_059_780.0 * 100.0,
            1_017_888,
            507_360,
        ),
    ];
    for &(dir, host, cpu_busy, total_kib, available_kib) in cases {
        let mut sampler = Sampler::new(
            &fixtures().join(dir),
            std::path::Path::new(NO_SYS_PATH),
            MountSelection::Auto,
        );
        let mut out = Sample::default();
        sample(&mut sampler, &mut out);
        assert_eq!(out.hostname, host, "{dir}");
        assert_close(out.cpu.busy, cpu_busy, dir);
        assert_eq!(out.memory.total_bytes, total_kib * KIB, "{dir}");
        assert_eq!(out.memory.available_bytes, available_kib * KIB, "{dir}");
        assert_eq!(
            out.memory.used_bytes,
            (total_kib - available_kib) * KIB,
            "{dir}"
        );
        // A second reading of unchanged files is a zero interval: figures stay.
        let first = out.clone();
        sample(&mut sampler, &mut out);
        assert_eq!(out.cpu, first.cpu, "{dir}");
        assert_eq!(out.cores, first.cores, "{dir}");
        assert_eq!(out.generation, first.generation + 1);
    }
}

#[test]
fn sampler_basic_fixture_in_detail() {
    let mut sampler = Sampler::new(
        &fixtures().join("basic"),
        std::path::Path::new(NO_SYS_PATH),
        MountSelection::Auto,
    );
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    assert_eq!(out.time_unix_s, 1_800_000_000);
    assert_eq!(out.boot_time_s, Some(1_795_643_488));
    assert_close(out.uptime_s, 479.76, "uptime");
    assert_eq!(out.load.load, [1.07, 0.63, 0.26]);
    assert_eq!(core_ids(&out), [0, 1]);
    // cpu0 busy 3030+111+1806+12+3 = 4962 of 4962+42748+41 = 47751;
    // cpu1 busy 3325+233+2357+63+10 = 5988 of 5988+41478+307 = 47773.
    assert_percent(
        out.cores[0].percent,
        4962.0 / 47751.0 * 100.0,
        41.0 / 47751.0 * 100.0,
        3.0 / 47751.0 * 100.0,
        "cpu0",
    );
    assert_percent(
        out.cores[1].percent,
        5988.0 / 47773.0 * 100.0,
        307.0 / 47773.0 * 100.0,
        10.0 / 47773.0 * 100.0,
        "cpu1",
    );
    // buff/cache 6912+1152508+81784 kB; no swap.
    assert_eq!(out.memory.buffers_cached_bytes, 1_241_204 * KIB);
    assert_eq!(
        (out.memory.swap_total_bytes, out.memory.swap_used_bytes),
        (0, 0)
    );
    // The capture's only real filesystem is /dev/vda on /, which exists here too.
    assert_eq!(out.disks.len(), 1, "{:?}", out.disks);
    assert_eq!(
        (
            out.disks[0].mount_point.as_str(),
            out.disks[0].device.as_str(),
            out.disks[0].fs_type.as_str()
        ),
        ("/", "/dev/vda", "ext4")
    );
}

#[test]
fn sampler_over_real_loaded_interval() {
    let root = ProcRoot::copy_of("debian12-vm-2core-load");
    root.put("stat", "debian12-vm-2core-load/stat.1");
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    root.put("stat", "debian12-vm-2core-load/stat.2");
    sample(&mut sampler, &mut out);
    // Worked out in cpu_percent_over_real_loaded_interval: 403/403 busy, steal 2/403.
    assert_percent(out.cpu, 100.0, 0.0, 200.0 / 403.0, "aggregate");
    // cpu0: user +80, system +122 = 202 of 202, no steal.
    assert_percent(out.cores[0].percent, 100.0, 0.0, 0.0, "cpu0");
    assert_percent(out.cores[1].percent, 100.0, 0.0, 200.0 / 202.0, "cpu1");
    // Memory from the capture: 24684084 - 24165984 = 518100 kB used.
    assert_eq!(out.memory.used_bytes, 518_100 * KIB);
}

#[test]
fn sampler_on_96_cores() {
    let root = ProcRoot::copy_of("synthetic-96core");
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    root.put("stat", "synthetic-96core/stat.2");
    sample(&mut sampler, &mut out);
    assert_eq!(core_ids(&out), (0..96).collect::<Vec<u32>>());
    for (i, c) in out.cores.iter().enumerate() {
        let iowait = if i % 2 == 1 { 1.0 } else { 0.0 };
        assert_percent(c.percent, i as f64, iowait, 0.0, &format!("cpu{i}"));
    }
    assert_percent(out.cpu, 47.5, 0.5, 0.0, "aggregate");
    // 792438116 - 612345678 = 180092438 kB used; swap 1048576 kB used.
    assert_eq!(out.memory.used_bytes, 180_092_438 * KIB);
    assert_eq!(out.memory.swap_used_bytes, 1_048_576 * KIB);
    assert_eq!(out.hostname, "bigiron");
}

#[test]
fn sampler_with_backwards_counters() {
    let root = ProcRoot::copy_of("counter-reset");
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    // cpu1 since boot: 2000 user + 1000 system of 12000 ticks = 25 %.
    assert_percent(out.cores[1].percent, 25.0, 0.0, 0.0, "cpu1 first");
    root.put("stat", "counter-reset/stat.2");
    sample(&mut sampler, &mut out);
    assert_percent(out.cpu, 10.0, 0.0, 0.0, "aggregate");
    assert_eq!(core_ids(&out), [0, 1, 2, 3]);
    assert_percent(out.cores[0].percent, 50.0, 0.0, 0.0, "cpu0");
    // No forward tick at all: the previous figure is kept.
    assert_percent(out.cores[1].percent, 25.0, 0.0, 0.0, "cpu1 kept");
    assert_percent(out.cores[2].percent, 0.0, 0.0, 0.0, "cpu2");
    assert_percent(out.cores[3].percent, 25.0, 0.0, 0.0, "cpu3");
    // And back again (everything "backwards" the other way).
    root.put("stat", "counter-reset/stat.1");
    sample(&mut sampler, &mut out);
}

#[test]
fn sampler_with_cores_going_and_coming() {
    let root = ProcRoot::copy_of("hotplug");
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    assert_eq!(core_ids(&out), [0, 1, 2, 3]);
    root.put("stat", "hotplug/stat.2");
    sample(&mut sampler, &mut out);
    assert_eq!(core_ids(&out), [0, 2, 3]);
    assert_percent(out.cpu, 50.0, 0.0, 0.0, "aggregate 1->2"); // 150 busy of 300
    assert_percent(out.cores[0].percent, 50.0, 0.0, 0.0, "cpu0 1->2");
    assert_percent(out.cores[1].percent, 0.0, 0.0, 0.0, "cpu2 1->2");
    assert_percent(out.cores[2].percent, 100.0, 0.0, 0.0, "cpu3 1->2");
    root.put("stat", "hotplug/stat.3");
    sample(&mut sampler, &mut out);
    assert_eq!(core_ids(&out), [0, 1, 2, 3, 4]);
    assert_percent(out.cpu, 20.0, 0.0, 0.0, "aggregate 2->3"); // 60 busy of 300
    assert_percent(out.cores[0].percent, 20.0, 0.0, 0.0, "cpu0 2->3");
    assert_percent(
        out.cores[1].percent,
        40.0,
        0.0,
        0.0,
        "cpu1 back: 30+10 of 100 since boot",
    );
    assert_percent(out.cores[2].percent, 40.0, 0.0, 0.0, "cpu2 2->3");
    assert_percent(out.cores[3].percent, 0.0, 0.0, 0.0, "cpu3 2->3");
    assert_percent(
        out.cores[4].percent,
        25.0,
        0.0,
        0.0,
        "cpu4 new: 1 of 4 since boot",
    );
    // Back to four cores, cpu4 gone, cpu1's counters now lower than in stat.3.
    root.put("stat", "hotplug/stat.1");
    sample(&mut sampler, &mut out);
    assert_eq!(core_ids(&out), [0, 1, 2, 3]);
}

/// `stat` with its `cpuN` lines in reverse order (an overlay /proc, or a
/// kernel that lists CPUs as they came online).
fn cores_reversed(fixture: &str) -> String {
    let text = String::from_utf8(read(fixture)).unwrap();
    let (total, cores) = text.split_once('\n').unwrap();
    let mut lines: Vec<&str> = cores.lines().collect();
    lines.reverse();
    format!("{total}\n{}\n", lines.join("\n"))
}

#[test]
fn sampler_with_cores_listed_out_of_order_gives_each_its_own_figures() {
    // The hotplug readings (cpu1 offline in stat.2: a gap), each listed
    // highest CPU first: each core's figures as in order, by its number,
    // and the cores listed ascending.
    let root = ProcRoot::copy_of("hotplug");
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    let busy = |out: &Sample| -> Vec<(u32, f64)> {
        let mut by_id: Vec<(u32, f64)> = out.cores.iter().map(|c| (c.id, c.percent.busy)).collect();
        by_id.sort_by_key(|c| c.0);
        by_id
    };
    root.write("stat", cores_reversed("hotplug/stat.1").as_bytes());
    sample(&mut sampler, &mut out);
    root.write("stat", cores_reversed("hotplug/stat.2").as_bytes());
    sample(&mut sampler, &mut out);
    assert_eq!(busy(&out), [(0, 50.0), (2, 0.0), (3, 100.0)], "1->2");
    assert_eq!(core_ids(&out), [0, 2, 3]);
    root.write("stat", cores_reversed("hotplug/stat.3").as_bytes());
    sample(&mut sampler, &mut out);
    // cpu1 and cpu4 first seen: their share since boot (hotplug/SOURCE).
    let want = [(0, 20.0), (1, 40.0), (2, 40.0), (3, 0.0), (4, 25.0)];
    assert_eq!(busy(&out), want, "2->3");
    assert_eq!(core_ids(&out), [0, 1, 2, 3, 4]);
}

fn disk_names_of(disks: &[sysmon::sample::DiskSample]) -> Vec<(String, String, String)> {
    disks
        .iter()
        .map(|d| (d.mount_point.clone(), d.device.clone(), d.fs_type.clone()))
        .collect()
}

fn disk_names(s: &Sample) -> Vec<(String, String, String)> {
    disk_names_of(&s.disks)
}

/// (mount point, device, filesystem type) of each disk, borrowed.
fn disk_triples(s: &Sample) -> Vec<(&str, &str, &str)> {
    s.disks
        .iter()
        .map(|d| {
            (
                d.mount_point.as_str(),
                d.device.as_str(),
                d.fs_type.as_str(),
            )
        })
        .collect()
}

/// Everything but the per-sample stamps, for "figures kept" comparisons.
fn figures(s: &Sample) -> String {
    format!(
        "{} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        s.hostname, s.uptime_s, s.boot_time_s, s.cpu, s.cpu_ticks, s.cores, s.load, s.memory
    )
}

#[test]
fn sampler_keeps_previous_figures_on_truncated_and_garbage_files() {
    let files = [
        "stat",
        "meminfo",
        "loadavg",
        "uptime",
        "self/mounts",
        "sys/kernel/hostname",
    ];
    for bad in ["truncated", "garbage"] {
        let root = ProcRoot::copy_of("basic");
        let mut sampler = root.sampler();
        let mut out = Sample::default();
        sample(&mut sampler, &mut out);
        let good = figures(&out);
        let disks = out.disks.clone();
        // One source at a time, then all of them at once.
        for name in files {
            let saved = std::fs::read(root.dir.join(name)).unwrap();
            root.write(name, &read(&format!("{bad}/{name}")));
            sample(&mut sampler, &mut out);
            assert_eq!(figures(&out), good, "{bad}/{name} changed the figures");
            root.write(name, &saved);
        }
        for name in files {
            root.write(name, &read(&format!("{bad}/{name}")));
        }
        sample(&mut sampler, &mut out);
        assert_eq!(figures(&out), good, "all of {bad} changed the figures");
        // A mount table of which no line is understood (garbage) keeps the
        // disks of the last good one. One cut short (truncated: its last
        // line `/dev/vda /`) has that line skipped and the others sampled:
        // /dev/vda, on the cut line, was the only disk (loose ends 3).
        let kept = match bad {
            "garbage" => disk_names_of(&disks),
            _ => Vec::new(),
        };
        assert_eq!(disk_names(&out), kept, "{bad}/self/mounts: the disk list");
        // Every other variant of each file too.
        for (name, prefix) in [
            ("stat", "stat"),
            ("meminfo", "meminfo"),
            ("loadavg", "loadavg"),
            ("uptime", "uptime"),
        ] {
            for rel in files_in(bad, prefix) {
                root.write(name, &read(&rel));
                sample(&mut sampler, &mut out);
            }
        }
        assert_eq!(figures(&out), good, "{bad} variants changed the figures");
    }
}

#[test]
fn sampler_survives_missing_files_and_picks_them_up_later() {
    let dir = TempDir::new("procroot-empty");
    let mut sampler = Sampler::new(
        dir.path(),
        std::path::Path::new(NO_SYS_PATH),
        MountSelection::Auto,
    );
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    assert_eq!(figures(&out), figures(&Sample::default()));
    assert!(out.disks.is_empty());
    // The files appear (a /proc mounted late): the next sample reads them.
    crate::common::copy_dir(&fixtures().join("hotplug"), dir.path());
    sample(&mut sampler, &mut out);
    assert_eq!(out.hostname, "hotplug");
    assert_eq!(out.cpu_ticks, ticks([600, 0, 100, 3300, 0, 0, 0, 0, 0, 0]));
    assert_eq!(core_ids(&out), [0, 1, 2, 3]);
}

#[test]
fn sampler_estimates_available_memory_on_old_kernels() {
    let root = ProcRoot::copy_of("linux-2.6.32-1core-estimate");
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    // See MEM_CASES: 507360 kB with min_free_kbytes = 45056.
    assert_eq!(out.memory.available_bytes, 507_360 * KIB);
    // min_free_kbytes 0: 100000 - 0 + 500000 - 0 + 40000 - 0 = 640000 kB.
    root.write("sys/vm/min_free_kbytes", b"0\n");
    sample(&mut sampler, &mut out);
    assert_eq!(out.memory.available_bytes, 640_000 * KIB);
    // A huge reserve: 100000 - 1250000 + 500000 - 250000 + 40000 - 20000 < 0 -> 0.
    root.write("sys/vm/min_free_kbytes", b"1000000\n");
    sample(&mut sampler, &mut out);
    assert_eq!(out.memory.available_bytes, 0);
    assert_eq!(out.memory.used_bytes, out.memory.total_bytes);
    // Swap used 520188 - 500188 = 20000 kB.
    assert_eq!(out.memory.swap_used_bytes, 20000 * KIB);
}

#[test]
fn sampler_disks_auto_and_listed() {
    // Real paths of this machine, so statvfs works: a bind mount of the same
    // device at a longer path yields to `/`; pseudo filesystems and squashfs
    // are left out; an nfs mount is kept under its own device name.
    let root = ProcRoot::copy_of("basic");
    root.write(
        "self/mounts",
        b"/dev/vda /tmp ext4 rw 0 0\n\
          proc /proc proc rw 0 0\n\
          tmpfs /dev/shm tmpfs rw 0 0\n\
          /dev/loop3 /usr squashfs ro 0 0\n\
          /dev/vda / ext4 rw 0 0\n\
          server:/export /var nfs4 rw 0 0\n\
          tank/etc /etc zfs rw 0 0\n",
    );
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    let got = disk_triples(&out);
    assert_eq!(
        got,
        [
            ("/", "/dev/vda", "ext4"),
            ("/var", "server:/export", "nfs4"),
            ("/etc", "tank/etc", "zfs")
        ]
    );
    // The nfs mount is asked by a thread of its own (a server that stops
    // answering must not hold the sample: src/sample/mount_probe.rs), so
    // its figures are the previous sample's call: none at the first.
    let stats_of = |out: &Sample, mount: &str| {
        out.disks
            .iter()
            .find(|d| d.mount_point == mount)
            .and_then(|d| d.stats)
    };
    assert!(stats_of(&out, "/var").is_none(), "{:?}", out.disks);
    assert_eq!(out.disks[1].mount_point, "/var");
    assert_eq!(
        out.disks[1].problem,
        Some(DiskProblem::NoAnswerYet),
        "{:?}",
        out.disks
    );
    assert!(stats_of(&out, "/").is_some() && stats_of(&out, "/etc").is_some());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stats_of(&out, "/var").is_none() {
        assert!(std::time::Instant::now() < deadline, "{:?}", out.disks);
        std::thread::sleep(std::time::Duration::from_millis(10));
        sample(&mut sampler, &mut out);
    }
    assert!(
        out.disks
            .iter()
            .all(|d| d.stats.is_some() && d.problem.is_none())
    );

    // Listed: exactly these, in this order; the last mount on a path wins;
    // an unmounted path is kept with no statistics.
    root.write(
        "self/mounts",
        b"/dev/old / ext3 rw 0 0\n/dev/vda / ext4 rw 0 0\n/dev/my\\040disk /tmp ext4 rw 0 0\n",
    );
    let listed = MountSelection::Listed(vec![
        "/tmp".into(),
        "/".into(),
        "/no/such/mount-point".into(),
    ]);
    let mut sampler = Sampler::new(root.path(), std::path::Path::new(NO_SYS_PATH), listed);
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    let got = disk_triples(&out);
    assert_eq!(
        got,
        [
            ("/tmp", "/dev/my disk", "ext4"),
            ("/", "/dev/vda", "ext4"),
            ("/no/such/mount-point", "", "")
        ]
    );
    assert!(out.disks[2].stats.is_none());
    // Why, for /data.json's `disk_errors`: statvfs's own error.
    assert_eq!(
        out.disks[2].problem,
        Some(DiskProblem::Failed(libc::ENOENT)),
        "{:?}",
        out.disks[2]
    );
    assert_eq!(
        out.disks[2].problem.unwrap().to_string(),
        "statvfs: No such file or directory (os error 2)"
    );

    // A listed directory that is no mount point, below a network mount, is
    // asked by a thread as that mount is (its statvfs asks the server): no
    // figures at the first sample, the directory's at the next.
    root.write(
        "self/mounts",
        b"/dev/vda / ext4 rw 0 0\nserver:/export /var nfs4 rw 0 0\n",
    );
    let listed = MountSelection::Listed(vec!["/var/lib".into(), "/".into()]);
    let mut sampler = Sampler::new(root.path(), std::path::Path::new(NO_SYS_PATH), listed);
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    assert_eq!(
        disk_triples(&out),
        [("/var/lib", "", ""), ("/", "/dev/vda", "ext4")]
    );
    assert!(out.disks[0].stats.is_none() && out.disks[1].stats.is_some());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while out.disks[0].stats.is_none() {
        assert!(std::time::Instant::now() < deadline, "{:?}", out.disks);
        std::thread::sleep(std::time::Duration::from_millis(10));
        sample(&mut sampler, &mut out);
    }

    // The mount table is not ours: 40 network mounts (a user's sshfs
    // shares, say) get at most MAX_PROBES threads; the rest no figures.
    let mut table = b"/dev/vda / ext4 rw 0 0\n".to_vec();
    for i in 0..40 {
        let point = root.path().join(format!("share{i}"));
        std::fs::create_dir_all(&point).unwrap();
        table.extend(format!("server:/e{i} {} nfs4 rw 0 0\n", point.display()).bytes());
    }
    root.write("self/mounts", &table);
    let mut sampler = root.sampler();
    let mut out = Sample::default();
    let with_figures = |out: &Sample| out.disks.iter().filter(|d| d.stats.is_some()).count();
    sample(&mut sampler, &mut out);
    assert_eq!(out.disks.len(), 41);
    let wanted = 1 + sysmon::sample::MAX_PROBES;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while with_figures(&out) < wanted {
        assert!(std::time::Instant::now() < deadline, "{:?}", out.disks);
        std::thread::sleep(std::time::Duration::from_millis(10));
        sample(&mut sampler, &mut out);
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    sample(&mut sampler, &mut out);
    assert_eq!(
        with_figures(&out),
        wanted,
        "/ and the first MAX_PROBES shares"
    );
    // The rest say why: never asked.
    let not_asked = out
        .disks
        .iter()
        .filter(|d| d.problem == Some(DiskProblem::NotAsked))
        .count();
    assert_eq!(not_asked, 40 - sysmon::sample::MAX_PROBES);
}

/// A 1-Wire thermometer's chip (`w1_slave_temp`, 750 ms a read on the real
/// hardware) is read by the slow-read thread from the start: no value at
/// the first sample (the loop did not read it), its value a round later,
/// and a new value at a later round; a chip read in line beside it has its
/// value at once.
#[test]
fn a_one_wire_thermometer_is_read_off_the_loop() {
    let root = ProcRoot::copy_of("basic");
    let sys = TempDir::new("slow-chip-sys");
    let chip = |n: u32, name: &str, milli: &str| {
        let dir = sys.join(&format!("class/hwmon/hwmon{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("name"), format!("{name}\n")).unwrap();
        std::fs::write(dir.join("temp1_input"), format!("{milli}\n")).unwrap();
    };
    chip(0, "coretemp", "48000");
    chip(1, "w1_slave_temp", "21500");
    let mut sampler = Sampler::new(root.path(), sys.path(), MountSelection::Auto);
    let mut out = Sample::default();
    sample(&mut sampler, &mut out);
    let celsius = |out: &Sample| -> Vec<(String, Option<f64>)> {
        out.temperatures
            .iter()
            .map(|t| (t.chip_name.clone(), t.celsius))
            .collect()
    };
    assert_eq!(
        celsius(&out),
        [
            ("coretemp".to_string(), Some(48.0)),
            ("w1_slave_temp".to_string(), None)
        ]
    );
    let until = |sampler: &mut Sampler, out: &mut Sample, want: f64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while out.temperatures[1].celsius != Some(want) {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                out.temperatures
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
            sample(sampler, out);
        }
    };
    until(&mut sampler, &mut out, 21.5);
    chip(1, "w1_slave_temp", "22750");
    until(&mut sampler, &mut out, 22.75);
    assert_eq!(out.temperatures[0].celsius, Some(48.0));
}

/// A host with 10,000 file systems mounted (a ZFS pool with a dataset per
/// container layer): with `mounts = auto` the daemon still listens within
/// the test helper's 10 s, and lists them all. Each disk looked for the
/// file system holding its path by parsing the whole mount table again,
/// 10,000 times 10,000 lines, before the port was bound: 40 s (release
/// build, two busy cores) before the fix, and as long again in the loop at
/// every change of the table (hostile-input sweep 2, 2026-12-04).
#[test]
fn ten_thousand_mounts_do_not_hold_the_start() {
    use crate::common::Daemon;
    const MOUNTS: usize = 10_000;
    let root = ProcRoot::copy_of("basic");
    let points = TempDir::new("many-mounts");
    let mut table = String::from("/dev/vda / ext4 rw 0 0\nproc /proc proc rw 0 0\n");
    for i in 0..MOUNTS {
        let point = points.join(&format!("ds{i}"));
        std::fs::create_dir(&point).unwrap();
        table.push_str(&format!("tank/ds{i} {} zfs rw 0 0\n", point.display()));
    }
    root.write("self/mounts", table.as_bytes());
    let config = points.config("backup = off\nupdate_manager = none\nmounts = auto\ninterval = 1h");
    let daemon = Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.path().to_str().unwrap(),
    ]);
    let metrics = daemon.get("/metrics").body_text();
    let listed = metrics
        .lines()
        .filter(|l| l.starts_with("node_filesystem_size_bytes{") && l.contains("fstype=\"zfs\""))
        .count();
    assert_eq!(listed, MOUNTS, "{}", daemon.dump());
}

/// The mount points of /data.json's (or `sysmon sample`'s) `disks`.
fn mounts_of(data: &miniserde::json::Value) -> Vec<String> {
    match crate::common::field(data, &["disks"]) {
        Some(miniserde::json::Value::Array(disks)) => disks
            .iter()
            .filter_map(|d| crate::common::text(d, &["mount"]))
            .collect(),
        _ => Vec::new(),
    }
}

/// One mount line with fewer than three fields (a kernel oddity, a fake
/// /proc, a read cut short) threw the whole table away: `sysmon sample`
/// refused the proc root (exit 2, "cannot sample .../self/mounts: line 2:
/// mount line has fewer than 3 fields") and the daemon kept the disks of
/// the last good table, none at its start (loose ends 3, 2026-12-04). The
/// line is skipped, named in the log once (file, number, text) however
/// many samples and changes of the table it stays through, and every
/// other mount is sampled; once it is gone the log says so.
#[test]
fn a_short_mount_line_is_skipped_and_the_other_mounts_are_sampled() {
    use crate::common::{Daemon, run, sysmon, wait_for};
    let root = ProcRoot::copy_of("basic");
    let points = TempDir::new("short-mount-line");
    let (second, third) = (points.join("second"), points.join("third"));
    std::fs::create_dir(&second).unwrap();
    std::fs::create_dir(&third).unwrap();
    let table = |lines: &[&str]| {
        let mut text = String::new();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        root.write("self/mounts", text.as_bytes());
    };
    let good = "/dev/vda / ext4 rw 0 0";
    let short = "/dev/vdz /mnt/cut";
    let second_line = format!("/dev/vdb {} ext4 rw 0 0", second.display());
    let third_line = format!("/dev/vdc {} ext4 rw 0 0", third.display());
    table(&[good, short, &second_line]);
    let file = root.path().join("self/mounts");
    let said = format!(
        "{}: line 2: mount line has fewer than 3 fields: \"{short}\"",
        file.display()
    );
    let config = points.config("backup = off\nupdate_manager = none\nmounts = auto\ninterval = 1s");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        root.path().to_str().unwrap(),
    ];

    // `sysmon sample` (two readings): printed, the line said once.
    let mut sample = vec!["sample"];
    sample.extend_from_slice(&args);
    let out = run(sysmon(&sample));
    assert_eq!(out.status.code(), Some(0));
    let json: miniserde::json::Value =
        miniserde::json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let second_point = second.to_str().unwrap().to_string();
    assert_eq!(mounts_of(&json), ["/".to_string(), second_point.clone()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches(&said).count(), 1, "{stderr}");

    // The daemon: sampled each second, the table changed beside the line.
    let daemon = Daemon::start(&args);
    let mounts_now = || Some(mounts_of(&daemon.data()));
    let listed = wait_for(WAIT, || mounts_now().filter(|m| m.len() == 2));
    assert_eq!(
        listed,
        Some(vec!["/".to_string(), second_point.clone()]),
        "{}",
        daemon.dump()
    );
    table(&[good, short, &second_line, &third_line]);
    let listed = wait_for(WAIT, || mounts_now().filter(|m| m.len() == 3));
    assert!(listed.is_some(), "{}", daemon.dump());
    assert_eq!(daemon.logged(&said), 1, "{}", daemon.dump());
    let gone = format!("{}: no malformed mount line any more", file.display());
    assert_eq!(daemon.logged(&gone), 0, "{}", daemon.dump());
    table(&[good, &second_line, &third_line]);
    assert!(daemon.wait_log(&gone, WAIT), "{}", daemon.dump());
    assert_eq!(daemon.logged(&said), 1, "{}", daemon.dump());
}

/// How long the daemon tests above wait for a sample to show a change.
const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
