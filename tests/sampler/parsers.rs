//! The /proc parsers and `cpu::percent` give the hand-worked answer on every
//! fixture under `tests/fixtures/proc/` (each has a `SOURCE` note), and a
//! truncated or garbage file is an error, never a wrong figure.
//!
//! Every expected figure below was worked out from the fixture's text by
//! hand (or once with a python3 one-liner); the arithmetic is in the
//! comment or the constant itself. None is obtained by calling sysmon.

use super::*;
use sysmon::proc::stat::{CpuTicks, Stat};
use sysmon::proc::{loadavg, meminfo, mounts, stat, uptime};
use sysmon::sample::cpu;

// ---------------------------------------------------------------- /proc/stat

/// (fixture file, aggregate `cpu` columns, core ids, btime)
type StatCase = (&'static str, [u64; 10], &'static [u32], Option<u64>);

const STAT_CASES: &[StatCase] = &[
    // Real capture, copied from the file's first line.
    (
        "basic/stat",
        [6355, 345, 4164, 84226, 349, 0, 75, 13, 0, 0],
        &[0, 1],
        Some(1_795_643_488),
    ),
    // 2.4: four columns; the other six are genuinely zero.
    (
        "linux-2.4-4col-1core/stat",
        [21035, 117, 8453, 1_470_395, 0, 0, 0, 0, 0, 0],
        &[0],
        Some(1_041_379_200),
    ),
    // 2.6.9: seven columns.
    (
        "linux-2.6.9-7col-4core/stat",
        [
            716_900, 9901, 155_290, 34_662_748, 79379, 363, 12750, 0, 0, 0,
        ],
        &[0, 1, 2, 3],
        Some(1_093_631_447),
    ),
    // 2.6.18: eight columns (steal).
    (
        "linux-2.6.18-8col-4core/stat",
        [
            2_649_380, 10936, 608_268, 81_093_824, 122_712, 1636, 41824, 7824, 0, 0,
        ],
        &[0, 1, 2, 3],
        Some(1_262_304_000),
    ),
    // 2.6.24: nine columns (guest).
    (
        "linux-2.6.24-9col-2core/stat",
        [
            900_000, 300, 350_000, 18_100_000, 50000, 800, 12000, 0, 200_000, 0,
        ],
        &[0, 1],
        Some(1_230_768_000),
    ),
    (
        "linux-2.6.32-1core-estimate/stat",
        [123_456, 789, 45678, 9_876_543, 12345, 67, 890, 12, 3456, 0],
        &[0],
        Some(1_300_000_000),
    ),
    (
        "counter-reset/stat.2",
        [40000, 0, 20010, 300_090, 1000, 0, 0, 500, 0, 0],
        &[0, 1, 2, 3],
        Some(1_700_000_000),
    ),
    (
        "hotplug/stat.2",
        [750, 0, 100, 3450, 0, 0, 0, 0, 0, 0],
        &[0, 2, 3],
        None,
    ),
    (
        "hotplug/stat.3",
        [800, 0, 110, 3690, 0, 0, 0, 0, 0, 0],
        &[0, 1, 2, 3, 4],
        None,
    ),
];

#[test]
fn stat_known_answers() {
    for &(rel, total, ids, btime) in STAT_CASES {
        let got = parse_stat(rel);
        assert_eq!(got.total, ticks(total), "{rel}");
        assert_eq!(
            got.cores.iter().map(|c| c.id).collect::<Vec<_>>(),
            ids,
            "{rel}"
        );
        assert_eq!(got.boot_time_s, btime, "{rel}");
    }
    let basic = parse_stat("basic/stat");
    assert_eq!(
        basic.cores[1].ticks,
        ticks([3325, 233, 2357, 41478, 307, 0, 63, 10, 0, 0])
    );
    assert_eq!(
        (
            basic.procs_running,
            basic.procs_blocked,
            basic.context_switches,
            basic.forks
        ),
        (Some(9), Some(0), Some(857_043), Some(12263))
    );
    // 2.6.9 per-core aggregate: the fixture's first line is the column sum
    // of its four cores (259246+187654+150000+120000 = 716900 user, ...).
    let old = parse_stat("linux-2.6.9-7col-4core/stat");
    assert_eq!(
        old.cores[0].ticks,
        ticks([259_246, 7001, 60190, 8_562_748, 34379, 193, 6750, 0, 0, 0])
    );
    // A counter above 2^63 still parses exactly.
    let wrap = parse_stat("counter-reset/stat.1");
    assert_eq!(wrap.cores[2].ticks.user, 18_446_744_073_709_551_610);
}

#[test]
fn stat_with_96_cores_is_longer_than_8_kib_and_read_whole() {
    let buf = read("synthetic-96core/stat.1");
    assert!(buf.len() > 8 * 1024, "fixture is only {} bytes", buf.len());
    let got = parse_stat("synthetic-96core/stat.1");
    assert_eq!(got.cores.len(), 96);
    assert!(
        got.cores
            .iter()
            .enumerate()
            .all(|(i, c)| c.id as usize == i)
    );
    // Core i was written as user 100000+1000i, nice 50i, system 40000+500i,
    // idle 9000000-20000i, iowait 3000+i, irq 10i, softirq 2000+3i, steal 7i,
    // guest 20000+100i, guest_nice 5i.
    assert_eq!(
        got.cores[95].ticks,
        ticks([
            195_000, 4750, 87500, 7_100_000, 3095, 950, 2285, 665, 29500, 475
        ])
    );
    // The lines after the 1200-column intr line are still seen.
    assert_eq!(got.boot_time_s, Some(1_700_000_000));
    assert_eq!(got.procs_running, Some(97));
    assert_eq!(got.context_switches, Some(123_456_789_012));
}

#[test]
fn cpu_percent_since_boot_known_answers() {
    // busy = user+nice+system+irq+softirq+steal; total = busy+idle+iowait;
    // guest and guest_nice are already inside user and nice.
    let cases: &[(&str, f64, f64, f64)] = &[
        // busy 6355+345+4164+0+75+13 = 10952; total 10952+84226+349 = 95527.
        (
            "basic/stat",
            10952.0 / 95527.0,
            349.0 / 95527.0,
            13.0 / 95527.0,
        ),
        // busy 21035+117+8453 = 29605; total 29605+1470395 = 1500000.
        ("linux-2.4-4col-1core/stat", 29605.0 / 1_500_000.0, 0.0, 0.0),
        // busy 716900+9901+155290+363+12750 = 895204; total +34662748+79379 = 35637331.
        (
            "linux-2.6.9-7col-4core/stat",
            895_204.0 / 35_637_331.0,
            79379.0 / 35_637_331.0,
            0.0,
        ),
        // busy 2649380+10936+608268+1636+41824+7824 = 3319868; total +81093824+122712 = 84536404.
        (
            "linux-2.6.18-8col-4core/stat",
            3_319_868.0 / 84_536_404.0,
            122_712.0 / 84_536_404.0,
            7824.0 / 84_536_404.0,
        ),
        // busy 900000+300+350000+800+12000 = 1263100 (guest 200000 not added); total +18100000+50000 = 19413100.
        (
            "linux-2.6.24-9col-2core/stat",
            1_263_100.0 / 19_413_100.0,
            50000.0 / 19_413_100.0,
            0.0,
        ),
        // busy 123456+789+45678+67+890+12 = 170892; total +9876543+12345 = 10059780.
        (
            "linux-2.6.32-1core-estimate/stat",
            170_892.0 / 10_059_780.0,
            12345.0 / 10_059_780.0,
            12.0 / 10_059_780.0,
        ),
    ];
    for &(rel, busy, iowait, steal) in cases {
        let got = cpu::percent(&CpuTicks::default(), &parse_stat(rel).total).unwrap();
        assert_percent(got, busy * 100.0, iowait * 100.0, steal * 100.0, rel);
    }
}

fn interval(a: &str, b: &str) -> (Stat, Stat) {
    (parse_stat(a), parse_stat(b))
}

#[test]
fn cpu_percent_over_real_loaded_interval() {
    // stat.1 -> stat.2 (two `yes` for 2 s): aggregate user +228, system +173,
    // steal +2, idle +0: 403 of 403 ticks busy, steal 2/403.
    let (a, b) = interval(
        "debian12-vm-2core-load/stat.1",
        "debian12-vm-2core-load/stat.2",
    );
    assert_percent(
        cpu::percent(&a.total, &b.total).unwrap(),
        100.0,
        0.0,
        200.0 / 403.0,
        "aggregate",
    );
    // cpu1: user +148, system +52, steal +2 = 202 of 202.
    assert_percent(
        cpu::percent(&a.cores[1].ticks, &b.cores[1].ticks).unwrap(),
        100.0,
        0.0,
        200.0 / 202.0,
        "cpu1",
    );
    // stat.half: aggregate user +240, system +160, idle +1 -> 400/401;
    // cpu0 user +189, system +10, idle +2 -> 199/201.
    let (a, b) = interval(
        "debian12-vm-2core-load/stat.half.1",
        "debian12-vm-2core-load/stat.half.2",
    );
    assert_percent(
        cpu::percent(&a.total, &b.total).unwrap(),
        40000.0 / 401.0,
        0.0,
        0.0,
        "half aggregate",
    );
    assert_percent(
        cpu::percent(&a.cores[0].ticks, &b.cores[0].ticks).unwrap(),
        19900.0 / 201.0,
        0.0,
        0.0,
        "half cpu0",
    );
}

#[test]
fn cpu_percent_on_96_cores_does_not_count_guest_twice() {
    let (a, b) = interval("synthetic-96core/stat.1", "synthetic-96core/stat.2");
    for i in 0..96 {
        // Core i: i busy ticks of 100 (guest grew with user and adds nothing);
        // odd cores had 1 iowait tick.
        let iowait = if i % 2 == 1 { 1.0 } else { 0.0 };
        let got = cpu::percent(&a.cores[i].ticks, &b.cores[i].ticks).unwrap();
        assert_percent(got, i as f64, iowait, 0.0, &format!("cpu{i}"));
    }
    // Sum over cores: busy 0+1+...+95 = 4560 of 9600 ticks; 48 odd cores -> 48 iowait.
    assert_percent(
        cpu::percent(&a.total, &b.total).unwrap(),
        47.5,
        0.5,
        0.0,
        "aggregate",
    );
}

#[test]
fn cpu_percent_with_backwards_counters_stays_in_range() {
    let (a, b) = interval("counter-reset/stat.1", "counter-reset/stat.2");
    // Aggregate: user 50000 -> 40000 counts 0; system +10, idle +90 -> 10 %.
    assert_percent(
        cpu::percent(&a.total, &b.total).unwrap(),
        10.0,
        0.0,
        0.0,
        "aggregate",
    );
    // cpu0: iowait 100 -> 90 counts 0; user +50, idle +50 -> 50 %.
    assert_percent(
        cpu::percent(&a.cores[0].ticks, &b.cores[0].ticks).unwrap(),
        50.0,
        0.0,
        0.0,
        "cpu0",
    );
    // cpu1: everything went down: no tick at all, so no figure.
    assert_eq!(cpu::percent(&a.cores[1].ticks, &b.cores[1].ticks), None);
    // cpu2: user wrapped (…610 -> 5) counts 0; idle +100 -> 0 %.
    assert_percent(
        cpu::percent(&a.cores[2].ticks, &b.cores[2].ticks).unwrap(),
        0.0,
        0.0,
        0.0,
        "cpu2",
    );
    // cpu3: +25 user of 100.
    assert_percent(
        cpu::percent(&a.cores[3].ticks, &b.cores[3].ticks).unwrap(),
        25.0,
        0.0,
        0.0,
        "cpu3",
    );
    // Reversed order (every counter of every line moved the "wrong" way).
    for (x, y) in [(&b.total, &a.total)].into_iter().chain(
        b.cores
            .iter()
            .zip(&a.cores)
            .map(|(x, y)| (&x.ticks, &y.ticks)),
    ) {
        if let Some(p) = cpu::percent(x, y) {
            assert_sane(p, "reversed");
        }
    }
    // Zero interval: no figure rather than 0/0.
    assert_eq!(cpu::percent(&a.total, &a.total), None);
}

// ------------------------------------------------------------- /proc/meminfo

/// (fixture dir, min_free_kbytes or None when the file is absent, MemTotal kB,
/// expected available kB, buffers+cached+SReclaimable kB, SwapTotal kB, swap used kB)
type MemCase = (&'static str, Option<u64>, u64, u64, u64, u64, u64);

const MEM_CASES: &[MemCase] = &[
    // MemAvailable present: taken as is. bc 6912+1152508+81784 = 1241204.
    (
        "basic",
        Some(67584),
        24_684_084,
        24_152_916,
        1_241_204,
        0,
        0,
    ),
    // 2.4: no MemAvailable, no Active(file): MemFree 49596. bc 99872+688472 = 788344;
    // swap used 2096472-2089480 = 6992.
    (
        "linux-2.4-4col-1core",
        None,
        1_031_016,
        49596,
        788_344,
        2_096_472,
        6992,
    ),
    // 2.6.9: MemFree 136292 (min_free_kbytes present but unused: no Active(file)).
    // bc 161736+3285500 = 3447236; swap used 2031608-2031480 = 128.
    (
        "linux-2.6.9-7col-4core",
        Some(3831),
        4_046_504,
        136_292,
        3_447_236,
        2_031_608,
        128,
    ),
    // 2.6.18: MemFree 1234568. bc 345678+4567890 = 4913568; swap used 100000.
    (
        "linux-2.6.18-8col-4core",
        Some(11485),
        8_174_640,
        1_234_568,
        4_913_568,
        4_194_296,
        100_000,
    ),
    // 2.6.24: SReclaimable but no Active(file): MemFree 512000. bc 100000+800000+60000.
    (
        "linux-2.6.24-9col-2core",
        Some(3794),
        2_063_360,
        512_000,
        960_000,
        1_048_568,
        0,
    ),
    // 2.6.32, procps 3.3 estimate: wmark_low = 45056*5/4 = 56320;
    // page cache 250000+250000 = 500000, min(500000/2, 56320) = 56320;
    // slab 40000, min(40000/2, 56320) = 20000;
    // 100000 - 56320 + 500000 - 56320 + 40000 - 20000 = 507360.
    // bc 20000+300000+40000 = 360000; swap used 520188-500188 = 20000.
    (
        "linux-2.6.32-1core-estimate",
        Some(45056),
        1_017_888,
        507_360,
        360_000,
        520_188,
        20000,
    ),
    // 96 cores: MemAvailable 612345678; bc 1234567+190123456+9876543 = 201234566;
    // swap used 67108860-66060284 = 1048576.
    (
        "synthetic-96core",
        Some(1_048_576),
        792_438_116,
        612_345_678,
        201_234_566,
        67_108_860,
        1_048_576,
    ),
];

#[test]
fn meminfo_known_answers() {
    for &(dir, min_free_kib, total, available, buffers_cached, swap_total, swap_used) in MEM_CASES {
        let info = meminfo::parse(&read(&format!("{dir}/meminfo")))
            .unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(info.total_bytes, total * KIB, "{dir} total");
        assert_eq!(
            info.available_bytes(min_free_kib.unwrap_or(0) * KIB),
            available * KIB,
            "{dir} available"
        );
        assert_eq!(
            info.buffers_cached_bytes(),
            buffers_cached * KIB,
            "{dir} buffers/cache"
        );
        assert_eq!(info.swap_total_bytes, swap_total * KIB, "{dir} swap total");
        assert_eq!(
            info.swap_total_bytes - info.swap_free_bytes,
            swap_used * KIB,
            "{dir} swap used"
        );
    }
    // Which optional fields each era has.
    let old = meminfo::parse(&read("linux-2.6.9-7col-4core/meminfo")).unwrap();
    assert_eq!(
        (
            old.available_bytes,
            old.slab_reclaimable_bytes,
            old.active_file_bytes
        ),
        (None, None, None)
    );
    let mid = meminfo::parse(&read("linux-2.6.24-9col-2core/meminfo")).unwrap();
    assert_eq!(
        (mid.slab_reclaimable_bytes, mid.active_file_bytes),
        (Some(60000 * KIB), None)
    );
    // Without min_free_kbytes there is no reserve: 100000 + 500000 + 40000.
    let est = meminfo::parse(&read("linux-2.6.32-1core-estimate/meminfo")).unwrap();
    assert_eq!(est.available_bytes(0), 640_000 * KIB);
}

#[test]
fn meminfo_estimate_rounds_like_procps() {
    // procps 3.3 sysinfo.c, all in kB: wmark_low = 2839*5/4 = 3548 (not 3548.75);
    // page cache 222223+111111 = 333334, min(166667, 3548) = 3548;
    // slab 55555, min(27777, 3548) = 3548;
    // 123457 - 3548 + 333334 - 3548 + 55555 - 3548 = 501702 kB.
    let info = meminfo::parse(&read("linux-3.2-1core-estimate-odd/meminfo")).unwrap();
    assert_eq!(info.available_bytes(2839 * KIB), 501_702 * KIB);
}

// ------------------------------------------------------ loadavg, uptime, mounts

#[test]
fn loadavg_and_uptime_known_answers() {
    let cases: &[(&str, [f64; 3], u64, u64, f64)] = &[
        ("basic", [1.07, 0.63, 0.26], 9, 152, 479.76),
        ("debian12-vm-2core-load", [3.98, 1.68, 0.72], 3, 103, 707.91),
        ("linux-2.4-4col-1core", [0.08, 0.03, 0.01], 1, 52, 14729.47),
        (
            "linux-2.6.18-8col-4core",
            [2.15, 1.98, 1.75],
            3,
            412,
            8_123_456.78,
        ),
        (
            "synthetic-96core",
            [95.5, 90.25, 80.125],
            97,
            4321,
            8_640_000.99,
        ),
    ];
    for &(dir, load, running, total, up) in cases {
        let got = loadavg::parse(&read(&format!("{dir}/loadavg"))).unwrap();
        assert_eq!((got.running, got.total), (running, total), "{dir}");
        for (g, w) in got.load.iter().zip(load) {
            assert_close(*g, w, dir);
        }
        assert_close(
            uptime::parse(&read(&format!("{dir}/uptime"))).unwrap(),
            up,
            dir,
        );
    }
}

#[test]
fn mounts_zoo_known_answers() {
    let buf = read("mounts-zoo/self/mounts");
    // (device, mount point, type, counted as a disk)
    type Mount = (Vec<u8>, Vec<u8>, Vec<u8>, bool);
    let got: Vec<Mount> = mounts::entries(&buf)
        .map(|e| e.unwrap())
        .map(|e| {
            (
                mounts::unescape(e.device),
                mounts::unescape(e.mount_point),
                e.fs_type.to_vec(),
                mounts::is_real_filesystem(&e),
            )
        })
        .collect();
    let want: &[(&str, &str, &str, bool)] = &[
        ("/dev/sda1", "/", "ext4", true),
        ("proc", "/proc", "proc", false),
        ("sysfs", "/sys", "sysfs", false),
        ("devtmpfs", "/dev", "devtmpfs", false),
        ("tmpfs", "/run", "tmpfs", false),
        ("cgroup2", "/sys/fs/cgroup", "cgroup2", false),
        ("cgroup", "/sys/fs/cgroup/cpu", "cgroup", false),
        ("/dev/loop0", "/snap/core22/1380", "squashfs", false),
        ("/dev/sr0", "/media/cdrom", "iso9660", false),
        ("/dev/sda2", "/mnt/my disk", "ext4", true),
        ("/dev/sda2", "/srv/bind of my disk", "ext4", true),
        ("/dev/sda3", "/home", "ext4", true),
        ("/dev/sda3", "/home", "ext4", true),
        ("/dev/mapper/vg0-data", "/data\ttab\\back\nnl", "xfs", true),
        ("server:/export", "/mnt/nfs", "nfs4", true),
        ("tank/home", "/tank/home", "zfs", true),
        ("//files/share", "/mnt/smb", "cifs", true),
        ("me@host:/", "/mnt/ssh", "fuse.sshfs", true),
        (
            "overlay",
            "/var/lib/docker/overlay2/abc/merged",
            "overlay",
            false,
        ),
        ("/dev/sdb1", "/boot/efi", "vfat", true),
    ];
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let g_str = (
            String::from_utf8_lossy(&g.0),
            String::from_utf8_lossy(&g.1),
            String::from_utf8_lossy(&g.2),
            g.3,
        );
        assert_eq!(
            (
                g_str.0.as_ref(),
                g_str.1.as_ref(),
                g_str.2.as_ref(),
                g_str.3
            ),
            *w
        );
    }
    // The real capture: only /dev/vda on / is a disk.
    let buf = read("basic/self/mounts");
    let real: Vec<_> = mounts::entries(&buf)
        .map(|e| e.unwrap())
        .filter(mounts::is_real_filesystem)
        .collect();
    assert_eq!(real.len(), 1);
    assert_eq!(
        (real[0].device, real[0].mount_point, real[0].fs_type),
        (&b"/dev/vda"[..], &b"/"[..], &b"ext4"[..])
    );
}

#[test]
fn unescape_edge_cases() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"a\\040b", b"a b"),
        (b"\\011\\012\\134\\040", b"\t\n\\ "),
        (b"trailing\\04", b"trailing\\04"),
        (b"\\", b"\\"),
        (b"\\0", b"\\0"),
        (b"\\08x", b"\\08x"),
        (b"\\400", b"\\400"), // 256 does not fit a byte: kept literally
        (b"\\377", b"\xff"),
        (b"", b""),
    ];
    for &(raw, want) in cases {
        assert_eq!(
            mounts::unescape(raw),
            want,
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

// ---------------------------------------------------- truncated and garbage

#[test]
fn truncated_and_garbage_files_are_errors() {
    for dir in ["truncated", "garbage"] {
        let stats = files_in(dir, "stat");
        let mems = files_in(dir, "meminfo");
        let loads = files_in(dir, "loadavg");
        let ups = files_in(dir, "uptime");
        assert!(!stats.is_empty() && !mems.is_empty() && !loads.is_empty() && !ups.is_empty());
        for rel in stats {
            let mut out = Stat::default();
            assert!(
                stat::parse(&read(&rel), &mut out).is_err(),
                "{rel} parsed: {out:?}"
            );
        }
        for rel in mems {
            let got = meminfo::parse(&read(&rel));
            assert!(got.is_err(), "{rel} parsed: {got:?}");
        }
        for rel in loads {
            let got = loadavg::parse(&read(&rel));
            assert!(got.is_err(), "{rel} parsed: {got:?}");
        }
        for rel in ups {
            let got = uptime::parse(&read(&rel));
            assert!(got.is_err(), "{rel} parsed: {got:?}");
        }
        let buf = read(&format!("{dir}/self/mounts"));
        assert!(
            mounts::entries(&buf).any(|e| e.is_err()),
            "{dir}/self/mounts has no bad line"
        );
    }
    // The error names the line: the cut cpu1 line is line 3.
    let mut out = Stat::default();
    assert_eq!(
        stat::parse(&read("truncated/stat"), &mut out)
            .unwrap_err()
            .line,
        3
    );
}
