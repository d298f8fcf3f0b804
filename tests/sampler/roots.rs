//! Issue #2: the /proc parsers, `cpu::percent` and the `Sampler` on every
//! fixture under `tests/fixtures/proc/` (each has a `SOURCE` note).
//!
//! Every expected figure below was worked out from the fixture's text by
//! hand (or once with a python3 one-liner); the arithmetic is in the
//! comment or the constant itself. None is obtained by calling sysmon.
//! The second half checks the fast parsers against a naive oracle (plain
//! `split_whitespace` + `str::parse`) over all fixtures and over randomly
//! generated /proc texts, and feeds random garbage to every parser.

use std::path::{Path, PathBuf};

/// These tests are about /proc: an absent sysfs leaves the /sys sources out.
const NO_SYS_PATH: &str = "/nonexistent-sysfs";

use crate::common::TempDir;
use sysmon::proc::stat::{CpuTicks, Stat};
use sysmon::proc::{loadavg, meminfo, mounts, stat, uptime};
use sysmon::sample::cpu::{self, CpuPercent};
use sysmon::sample::{MountSelection, Sample, Sampler};

const KIB: u64 = 1024;

fn fixtures() -> PathBuf {
    crate::common::fixture("proc")
}

fn read(rel: &str) -> Vec<u8> {
    let path = fixtures().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_stat(rel: &str) -> Stat {
    let mut out = Stat::default();
    stat::parse(&read(rel), &mut out).unwrap_or_else(|e| panic!("{rel}: {e}"));
    out
}

fn ticks(v: [u64; 10]) -> CpuTicks {
    let [
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    ] = v;
    CpuTicks {
        user,
        nice,
        system,
        idle,
        iowait,
        irq,
        softirq,
        steal,
        guest,
        guest_nice,
    }
}

#[track_caller]
fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        got.is_finite() && (got - want).abs() < 1e-9,
        "{what}: got {got}, want {want}"
    );
}

#[track_caller]
fn assert_percent(got: CpuPercent, busy: f64, iowait: f64, steal: f64, what: &str) {
    assert_close(got.busy, busy, &format!("{what} busy"));
    assert_close(got.iowait, iowait, &format!("{what} iowait"));
    assert_close(got.steal, steal, &format!("{what} steal"));
}

#[track_caller]
fn assert_sane(p: CpuPercent, what: &str) {
    for (name, v) in [("busy", p.busy), ("iowait", p.iowait), ("steal", p.steal)] {
        assert!(
            v.is_finite() && (0.0..=100.0).contains(&v),
            "{what} {name} = {v}"
        );
    }
}

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

fn files_in(dir: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n == prefix || n.starts_with(&format!("{prefix}.")))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

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

// ------------------------------------------------------------------ Sampler

/// A private, writable copy of a fixture proc root, so a test can swap files.
struct ProcRoot {
    dir: TempDir,
}

impl ProcRoot {
    fn copy_of(fixture: &str) -> ProcRoot {
        let dir = TempDir::new(&format!("procroot-{}", fixture.replace('/', "-")));
        copy_tree(&fixtures().join(fixture), dir.path());
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

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if std::fs::metadata(entry.path()).unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
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

fn disk_names_of(disks: &[sysmon::sample::DiskSample]) -> Vec<(String, String, String)> {
    disks
        .iter()
        .map(|d| (d.mount_point.clone(), d.device.clone(), d.fs_type.clone()))
        .collect()
}

fn disk_names(s: &Sample) -> Vec<(String, String, String)> {
    disk_names_of(&s.disks)
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
        // A mount table with a malformed line keeps the disks of the last good one.
        assert_eq!(
            disk_names(&out),
            disk_names_of(&disks),
            "{bad}/self/mounts changed the disk list"
        );
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
    copy_tree(&fixtures().join("hotplug"), dir.path());
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
    let got: Vec<(&str, &str, &str)> = out
        .disks
        .iter()
        .map(|d| {
            (
                d.mount_point.as_str(),
                d.device.as_str(),
                d.fs_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/", "/dev/vda", "ext4"),
            ("/var", "server:/export", "nfs4"),
            ("/etc", "tank/etc", "zfs")
        ]
    );
    assert!(out.disks.iter().all(|d| d.stats.is_some()));

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
    let got: Vec<(&str, &str, &str)> = out
        .disks
        .iter()
        .map(|d| {
            (
                d.mount_point.as_str(),
                d.device.as_str(),
                d.fs_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/tmp", "/dev/my disk", "ext4"),
            ("/", "/dev/vda", "ext4"),
            ("/no/such/mount-point", "", "")
        ]
    );
    assert!(out.disks[2].stats.is_none());
}

// ------------------------------------------------------------ naive oracle

/// (aggregate columns, (id, columns) per core, btime)
type NaiveStat = ([u64; 10], Vec<(u32, [u64; 10])>, Option<u64>);

/// The obviously-correct reading of /proc/stat.
fn naive_stat(text: &str) -> Option<NaiveStat> {
    let mut total = None;
    let mut cores = Vec::new();
    let mut btime = None;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let Some((&label, rest)) = cols.split_first() else {
            continue;
        };
        if let Some(number) = label.strip_prefix("cpu") {
            if rest.len() < 4 {
                return None;
            }
            let mut v = [0u64; 10];
            for (slot, col) in v.iter_mut().zip(rest) {
                *slot = col.parse().ok()?;
            }
            if number.is_empty() {
                total = Some(v);
            } else {
                cores.push((number.parse().ok()?, v));
            }
        } else if label == "btime" {
            btime = Some(rest.first()?.parse().ok()?);
        }
    }
    Some((total?, cores, btime))
}

/// The obviously-correct reading of /proc/meminfo, in bytes.
fn naive_meminfo(text: &str) -> Option<[Option<u64>; 10]> {
    const KEYS: [&str; 10] = [
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Buffers",
        "Cached",
        "SReclaimable",
        "Active(file)",
        "Inactive(file)",
        "SwapTotal",
        "SwapFree",
    ];
    let mut out = [None; 10];
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Some(i) = KEYS.iter().position(|k| *k == key) else {
            continue;
        };
        let cols: Vec<&str> = value.split_whitespace().collect();
        let n: u64 = cols.first()?.parse().ok()?;
        out[i] = Some(match cols.get(1) {
            Some(&"kB") => n.checked_mul(1024)?,
            _ => return None,
        });
    }
    out[0]?;
    out[1]?;
    Some(out)
}

fn fast_meminfo(info: &meminfo::MemInfo) -> [Option<u64>; 10] {
    [
        Some(info.total_bytes),
        Some(info.free_bytes),
        info.available_bytes,
        Some(info.buffers_bytes),
        Some(info.cached_bytes),
        info.slab_reclaimable_bytes,
        info.active_file_bytes,
        info.inactive_file_bytes,
        Some(info.swap_total_bytes),
        Some(info.swap_free_bytes),
    ]
}

/// Fields the naive reading leaves `None` but the fast parser defaults to 0.
fn fill_defaults(mut v: [Option<u64>; 10]) -> [Option<u64>; 10] {
    for i in [3, 4, 8, 9] {
        v[i] = Some(v[i].unwrap_or(0));
    }
    v
}

#[track_caller]
fn check_stat_against_oracle(text: &str, what: &str) {
    let mut fast = Stat::default();
    let fast_result = stat::parse(text.as_bytes(), &mut fast);
    match naive_stat(text) {
        Some((total, cores, btime)) => {
            fast_result.unwrap_or_else(|e| {
                panic!("{what}: fast parser failed ({e}) on valid text:\n{text}")
            });
            assert_eq!(fast.total, ticks(total), "{what}");
            let fast_cores: Vec<(u32, CpuTicks)> =
                fast.cores.iter().map(|c| (c.id, c.ticks)).collect();
            let naive_cores: Vec<(u32, CpuTicks)> =
                cores.into_iter().map(|(id, v)| (id, ticks(v))).collect();
            assert_eq!(fast_cores, naive_cores, "{what}");
            assert_eq!(fast.boot_time_s, btime, "{what}");
        }
        None => assert!(
            fast_result.is_err(),
            "{what}: naive reading refuses, fast parser accepts:\n{text}"
        ),
    }
}

#[track_caller]
fn check_meminfo_against_oracle(text: &str, what: &str) {
    let fast = meminfo::parse(text.as_bytes());
    match naive_meminfo(text) {
        Some(naive) => {
            let fast = fast.unwrap_or_else(|e| {
                panic!("{what}: fast parser failed ({e}) on valid text:\n{text}")
            });
            assert_eq!(fast_meminfo(&fast), fill_defaults(naive), "{what}");
        }
        None => assert!(
            fast.is_err(),
            "{what}: naive reading refuses, fast parser accepts {fast:?}:\n{text}"
        ),
    }
}

fn all_fixture_files(name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let entry = entry.unwrap();
        // Fixture roots are directories; notes such as SOURCE-* sit beside them.
        if !entry.path().is_dir() {
            continue;
        }
        let dir = entry.file_name().to_string_lossy().into_owned();
        for rel in files_in(&dir, name) {
            let bytes = read(&rel);
            // The oracle works on text; garbage bytes are covered below.
            if let Ok(text) = String::from_utf8(bytes) {
                out.push((rel, text));
            }
        }
    }
    assert!(out.len() >= 10, "only {} {name} fixtures found", out.len());
    out
}

#[test]
fn oracle_agrees_on_every_fixture() {
    for (rel, text) in all_fixture_files("stat") {
        check_stat_against_oracle(&text, &rel);
    }
    for (rel, text) in all_fixture_files("meminfo") {
        check_meminfo_against_oracle(&text, &rel);
    }
    for (rel, text) in all_fixture_files("loadavg") {
        let naive: Option<[f64; 3]> = (|| {
            let cols: Vec<&str> = text.split_whitespace().collect();
            let (r, t) = cols.get(3)?.split_once('/')?;
            r.parse::<u64>().ok()?;
            t.parse::<u64>().ok()?;
            let mut load = [0.0; 3];
            for (slot, col) in load.iter_mut().zip(&cols) {
                let digits = col.bytes().all(|b| b.is_ascii_digit() || b == b'.');
                *slot = col
                    .parse::<f64>()
                    .ok()
                    .filter(|v| digits && v.is_finite() && *v >= 0.0)?;
            }
            Some(load)
        })();
        match (naive, loadavg::parse(text.as_bytes())) {
            (Some(want), Ok(got)) => {
                for (g, w) in got.load.iter().zip(want) {
                    assert_close(*g, w, &rel);
                }
            }
            (None, Err(_)) => {}
            (naive, fast) => panic!("{rel}: naive {naive:?}, fast {fast:?}"),
        }
    }
}

/// xorshift64*: deterministic, dependency-free randomness for the tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A counter value: mostly modest, sometimes huge, sometimes zero.
    fn counter(&mut self) -> u64 {
        match self.below(4) {
            0 => 0,
            1 => self.next(),
            _ => self.below(10_000_000_000),
        }
    }
    fn spaces(&mut self) -> &'static str {
        [" ", " ", "  ", "\t", "   "][self.below(5) as usize]
    }
}

fn random_stat(rng: &mut Rng) -> String {
    let columns = 4 + rng.below(8) as usize; // 4..=11: a future kernel may add one
    let cores = 1 + rng.below(130) as usize;
    let line = |rng: &mut Rng, label: String| {
        let mut s = label;
        for _ in 0..columns {
            s.push_str(rng.spaces());
            s.push_str(&rng.counter().to_string());
        }
        s.push('\n');
        s
    };
    let mut text = line(rng, "cpu".into());
    let mut id = 0u64;
    for _ in 0..cores {
        id += 1 + rng.below(3) * rng.below(2); // gaps where a core is offline
        text.push_str(&line(rng, format!("cpu{}", id - 1)));
    }
    let extras = [
        "intr 1 2 3 4 5",
        "ctxt 12345",
        "processes 99",
        "procs_running 3",
        "procs_blocked 0",
        "softirq 1 2 3",
        "page 1 2",
        "disk_io: (3,0):(1,2,3,4,5)",
    ];
    for _ in 0..rng.below(6) {
        text.push_str(extras[rng.below(extras.len() as u64) as usize]);
        text.push('\n');
    }
    if rng.below(2) == 0 {
        text.push_str(&format!("btime {}\n", rng.counter()));
    }
    if rng.below(5) == 0 {
        text.pop(); // no final newline
    }
    text
}

fn random_meminfo(rng: &mut Rng) -> String {
    let keys = [
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Buffers",
        "Cached",
        "SwapCached",
        "Active",
        "Inactive",
        "Active(file)",
        "Inactive(file)",
        "SwapTotal",
        "SwapFree",
        "Slab",
        "SReclaimable",
        "SUnreclaim",
        "HugePages_Total",
        "Hugepagesize",
        "DirectMap2M",
    ];
    let mut order: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| matches!(*k, "MemTotal" | "MemFree") || rng.below(3) != 0)
        .collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut text = String::new();
    if rng.below(4) == 0 {
        text.push_str("        total:    used:    free:  shared: buffers:  cached:\nMem:  1055760384 1004974080 50786304 0 1 2\n");
    }
    for key in order {
        let value = rng.below(u64::MAX / 1024);
        let value = if rng.below(2) == 0 {
            value % 100_000_000
        } else {
            value
        };
        let unit = if key.starts_with("HugePages_") {
            ""
        } else {
            " kB"
        };
        text.push_str(&format!(
            "{key}:{}{value}{unit}\n",
            " ".repeat(1 + rng.below(12) as usize)
        ));
    }
    text
}

#[test]
fn oracle_agrees_on_random_valid_texts() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let text = random_stat(&mut rng);
        assert!(
            naive_stat(&text).is_some(),
            "generator made an invalid /proc/stat:\n{text}"
        );
        check_stat_against_oracle(&text, &format!("random stat #{round}"));
        let text = random_meminfo(&mut rng);
        assert!(
            naive_meminfo(&text).is_some(),
            "generator made an invalid /proc/meminfo:\n{text}"
        );
        check_meminfo_against_oracle(&text, &format!("random meminfo #{round}"));
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    // Bytes drawn mostly from what /proc text is made of, so the parsers get
    // deep before they fail.
    let alphabet: &[&[u8]] = &[
        b"0",
        b"7",
        b"9",
        b"1844674407370955161",
        b" ",
        b"\t",
        b"\n",
        b"cpu",
        b"cpu1",
        b":",
        b"kB",
        b".",
        b"/",
        b"\\",
        b"\\040",
        b"MemTotal",
        b"MemFree",
        b"\xff",
        b"\0",
        b"-",
    ];
    let mut stat_out = Stat::default();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for dir in [
        "basic",
        "synthetic-96core",
        "linux-2.4-4col-1core",
        "mounts-zoo",
    ] {
        for f in ["stat", "meminfo", "loadavg", "uptime", "self/mounts"] {
            if let Ok(bytes) = std::fs::read(fixtures().join(dir).join(f)) {
                seeds.push(bytes);
            }
        }
    }
    for _ in 0..20_000 {
        let buf: Vec<u8> = match rng.below(3) {
            // Random tokens.
            0 => (0..rng.below(200))
                .flat_map(|_| alphabet[rng.below(alphabet.len() as u64) as usize].to_vec())
                .collect(),
            // Raw random bytes.
            1 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            // A real file, cut somewhere and with a few bytes flipped.
            _ => {
                let seed = &seeds[rng.below(seeds.len() as u64) as usize];
                let mut b = seed[..rng.below(seed.len() as u64 + 1) as usize].to_vec();
                for _ in 0..rng.below(4) {
                    if !b.is_empty() {
                        let i = rng.below(b.len() as u64) as usize;
                        b[i] = rng.next() as u8;
                    }
                }
                b
            }
        };
        let _ = stat::parse(&buf, &mut stat_out);
        let _ =
            meminfo::parse(&buf).map(|m| (m.available_bytes(rng.next()), m.buffers_cached_bytes()));
        let _ = loadavg::parse(&buf);
        if let Ok(u) = uptime::parse(&buf) {
            assert!(u.is_finite() && u >= 0.0);
        }
        for entry in mounts::entries(&buf).flatten() {
            let _ = mounts::is_real_filesystem(&entry);
            let _ = mounts::unescape(entry.mount_point);
        }
        let _ = mounts::unescape(&buf);
        if let Ok(l) = loadavg::parse(&buf) {
            assert!(l.load.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
        // Arbitrary tick pairs: always in range.
        let a = ticks(std::array::from_fn(|_| rng.counter()));
        let b = ticks(std::array::from_fn(|_| rng.counter()));
        if let Some(p) = cpu::percent(&a, &b) {
            assert_sane(p, "random ticks");
        }
    }
}
