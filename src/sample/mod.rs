//! The sampler: turns /proc and /sys into a [`Sample`], one source per
//! file of this folder, each keeping its files open and re-reading them
//! from offset 0 into fixed buffers ([`procfile`]).
//!
//! - [`cpu`]: /proc/stat (CPU shares, per core, kernel counters);
//!   `memory`: /proc/meminfo; `host`: load, uptime (or the boot-time
//!   clock), host name (or `uname`);
//!   `disks`: mounted filesystems (mount table + statvfs).
//! - `network`: /proc/net/dev; `disk_io`: /proc/diskstats (both through
//!   `counters`' one update-by-name routine); `pressure`: /proc/pressure.
//! - `sensors`: hwmon, thermal zones, cpufreq; `container`: our cgroup v2;
//!   `process`: sysmon's own footprint; `top`: the top processes by CPU
//!   and by memory.
//! - `listing`: a directory listed into a buffer to tell whether it
//!   changed (the sensors', and /metrics' scrape-time sysfs readers').
//! - `source`: what they share: one failure type, logged once when it starts
//!   and once when it clears ([`Sampler::failures`] lists the current ones).
//!
//! Arrows point down: the sources know nothing of [`Sample`]; the
//! [`Sampler`] hands each the part of the sample it owns. A new source is a
//! new file here, and one line in [`Sampler::sample_periodic_at`] (or
//! [`Sampler::read_on_demand`]).
//!
//! Two sources are read on demand: sysmon's own footprint (/proc/self/stat
//! and the descriptor count) and pressure feed no history series, no alert
//! and no other source; only an answer shows them. The daemon's loop takes
//! [`Sampler::sample_periodic`] every interval, and a /data.json or
//! /metrics answer first calls [`Sampler::read_on_demand`], which reads
//! them if they were not read since that sample: an answer shows them as
//! fresh as the sample, or fresher, and an idle daemon never reads them.
//! [`Sampler::sample`] reads everything (`sysmon sample`, tests).
//!
//! The top processes are the third: with `top_every = off` (the default)
//! the periodic sample reads them only while someone polls /data.json
//! (the watch, [`Sampler::watch_top`]), and a /data.json answer first
//! asks [`Sampler::top_for_answer`], which begins a reading unless the
//! current sample took one. The daemon takes readings in slices (a
//! budget per call; [`Sampler::go_on_top`] goes on) and holds an answer
//! that must wait for one; [`Sampler::read_top_on_demand`] reads at once.
//! /metrics shows no top rows and never reads them.
//!
//! Invariant: once warmed up (the first two samples, or the first after the
//! mount table, CPU count or set of devices changed), [`Sampler::sample`]
//! performs no heap allocation: every buffer and every `Vec` in the sample is
//! reused, strings are rewritten in place, and per-disk C paths are built
//! only when the mount table changes. A source that fails keeps its last
//! good figures, and its error is reported once, when it starts and when it
//! clears. A source absent on a machine (network, disk I/O, pressure,
//! sensors, container) is left out (an empty list or `None`), never an error;
//! a missing or refused pressure, net/dev or diskstats file is looked for
//! again only after [`procfile::RECHECK_ABSENT`], not at every sample.
//! Rates are the difference between two readings over the monotonic time
//! between them, never negative.

use std::path::Path;
use std::time::{Duration, Instant};

mod container;
mod counters;
pub mod cpu;
mod disk_io;
mod disks;
mod host;
pub mod listing;
mod memory;
pub(crate) mod mount_probe;
mod network;
mod pressure;
mod process;
pub mod procfile;
mod sensors;
pub(crate) mod slow_reads;
pub(crate) mod source;
pub mod top;

pub use container::ContainerSample;
pub use cpu::{CoreSample, CpuPercent};
pub use disk_io::DiskIoSample;
pub use disks::{DiskProblem, DiskSample, MAX_PROBES, MountSelection};
pub use memory::{MeminfoSaid, MemorySample};
pub use network::NetSample;
pub use pressure::PressureSample;
pub use process::ProcessSample;
pub use sensors::{FreqSample, TempSample, ThermalSample};
pub use top::{TopProcess, TopSample};

/// Whether a /data.json answer may show the top lists now
/// ([`Sampler::top_for_answer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopLists {
    /// The lists are as an answer may show them, unchanged by the call.
    Ready,
    /// A reading ended in the call: the lists are new (a render made
    /// before shows the old ones).
    ReadNow,
    /// A reading is under way that the answer must wait for.
    Reading,
}

use crate::proc::{loadavg::LoadAvg, meminfo::MemInfo, stat::CpuTicks};

/// Everything the daemon knows about the machine at one instant.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Bumped on every sample, so answers rendered from it can be cached.
    pub generation: u64,
    pub time_unix_s: u64,
    pub hostname: String,
    pub uptime_s: f64,
    pub boot_time_s: Option<u64>,
    pub cpu: CpuPercent,
    pub cpu_ticks: CpuTicks,
    pub cores: Vec<CoreSample>,
    pub load: LoadAvg,
    pub memory: MemorySample,
    /// The raw /proc/meminfo figures behind `memory` (for /metrics).
    pub meminfo: MemInfo,
    /// What the sampler's log says of /proc/meminfo (that it repeats a
    /// key, that it cannot be read): /metrics, which reads the file again,
    /// then leaves that unsaid.
    pub meminfo_said: MeminfoSaid,
    pub procs_running: Option<u64>,
    pub procs_blocked: Option<u64>,
    pub context_switches: Option<u64>,
    pub forks: Option<u64>,
    /// Interrupts serviced since boot (/proc/stat `intr`).
    pub interrupts: Option<u64>,
    pub disks: Vec<DiskSample>,
    pub process: ProcessSample,
    /// Per interface, in /proc/net/dev order; empty when the file is absent.
    pub network: Vec<NetSample>,
    /// Per block device with I/O (see [`crate::proc::diskstats::is_virtual_idle`]).
    pub disk_io: Vec<DiskIoSample>,
    pub pressure: PressureSample,
    /// hwmon `temp*_input` sensors, by chip and sensor number.
    pub temperatures: Vec<TempSample>,
    pub thermal_zones: Vec<ThermalSample>,
    /// CPUs with cpufreq, by CPU number.
    pub cpu_frequencies: Vec<FreqSample>,
    /// Our cgroup v2's limits and usage, when it sets a limit.
    pub container: Option<ContainerSample>,
    /// The top processes by CPU and by memory (`top_processes`).
    pub top: TopSample,
    /// The sources whose last reading failed: their figures above are the
    /// last good ones (kept for the dashboard and the history), which
    /// /metrics leaves out (node_exporter's failed collector).
    pub failing: FailingSources,
}

/// Which of the sources /metrics takes from the sample failed at its last
/// reading (the rest read at scrape time, or keep per-item errors).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailingSources {
    /// /proc/stat: the CPU times and the kernel's counters.
    pub cpu: bool,
    /// /proc/loadavg.
    pub load: bool,
    /// /proc/net/dev.
    pub network: bool,
    /// /proc/diskstats.
    pub disk_io: bool,
    /// A /proc/pressure file that is there but not understood (read on
    /// demand: as of the last answer's reading).
    pub pressure: bool,
}

impl Sample {
    /// A sample with nothing read yet, for a sampler to fill. Out of line:
    /// the derived `default` (about 400 bytes of code for its ~30 fields)
    /// was inlined at each of its three callers (the daemon, `sysmon
    /// sample`, `sysmon top`).
    #[inline(never)]
    pub fn empty() -> Sample {
        Sample::default()
    }

    /// The mean current frequency over the CPUs that report one, in MHz.
    pub fn cpu_frequency_mhz(&self) -> Option<f64> {
        let (sum, n) = self
            .cpu_frequencies
            .iter()
            .filter_map(|f| f.hertz)
            .fold((0.0, 0u32), |(sum, n), hz| (sum + hz as f64, n + 1));
        (n > 0).then(|| sum / f64::from(n) / 1e6)
    }
}

/// Every source, each with its files kept open.
pub struct Sampler {
    cpu: cpu::CpuStat,
    memory: memory::Memory,
    load: host::OneLine<LoadAvg>,
    uptime: host::Uptime,
    hostname: host::HostName,
    disks: disks::Disks,
    process: process::SelfProcess,
    network: network::Network,
    disk_io: disk_io::DiskIo,
    pressure: pressure::PressureFiles,
    sensors: sensors::Sensors,
    container: container::Container,
    top: top::TopProcesses,
    /// The generation of the sample the on-demand sources were last read
    /// into (`None`: never).
    on_demand_read_for: Option<u64>,
    /// The generation of the sample the top processes were last read
    /// into, by the sample itself or on demand (`None`: never, or the
    /// top settings changed since).
    top_read_for: Option<u64>,
    /// When the last periodic sample was taken, and the uptime it read:
    /// an on-demand top reading dates itself from them.
    sampled_at: Option<(Instant, f64)>,
}

impl Sampler {
    /// `sys_root` is where sysfs is read (`--sys-root`), for sensors, block
    /// devices and cgroups.
    pub fn new(proc_root: &Path, sys_root: &Path, selection: MountSelection) -> Self {
        Sampler {
            cpu: cpu::CpuStat::new(proc_root),
            memory: memory::Memory::new(proc_root),
            load: host::load(proc_root),
            uptime: host::Uptime::new(proc_root),
            hostname: host::HostName::new(proc_root),
            disks: disks::Disks::new(proc_root, selection),
            process: process::SelfProcess::new(),
            network: network::Network::new(proc_root),
            disk_io: disk_io::DiskIo::new(proc_root, sys_root),
            pressure: pressure::PressureFiles::new(proc_root),
            sensors: sensors::Sensors::new(sys_root),
            container: container::Container::new(proc_root, sys_root),
            top: top::TopProcesses::new(proc_root, Path::new("/etc/passwd")),
            on_demand_read_for: None,
            top_read_for: None,
            sampled_at: None,
        }
    }

    /// Lists the top `rows` processes by CPU and by memory from now on
    /// (`top_processes`; 0: none, and nothing read), read at most once per
    /// `every` (`top_every`; zero: every sample; `None`: only while watched
    /// or asked, [`Sampler::read_top_on_demand`]), naming users from
    /// `passwd`.
    pub fn set_top_processes(&mut self, rows: usize, every: Option<Duration>, passwd: &Path) {
        if self.top.passwd() != passwd {
            self.top = top::TopProcesses::new(self.top.proc_root(), passwd);
        }
        self.top.set_rows(rows);
        self.top.set_every(every);
        // The lists in the sample may be another setting's: read afresh
        // when next asked.
        self.top_read_for = None;
    }

    /// Reads the top processes into `out` unless `out`'s sample (or an
    /// earlier call for it) did, to the end (a reading under way is
    /// finished). With `top_every = off` an answer's reading is the only
    /// one an idle daemon takes; the daemon takes it in slices
    /// ([`Sampler::top_for_answer`]), this reads at once (tests, `sysmon`
    /// commands). `now`: the monotonic time (tests drive a fake clock).
    /// Whether it read.
    pub fn read_top_on_demand(&mut self, now: Instant, out: &mut Sample) -> bool {
        if self.top_read_for == Some(out.generation) {
            return false;
        }
        self.top_read_for = Some(out.generation);
        let uptime_s = self.uptime_at(now, out);
        self.top
            .read_now(now, uptime_s, out.cores.len(), None, &mut out.top);
        true
    }

    /// The uptime at `now`, from the last periodic sample's: it dates the
    /// processes that start after a reading begun now.
    fn uptime_at(&self, now: Instant, out: &Sample) -> f64 {
        match self.sampled_at {
            Some((at, uptime_s)) => uptime_s + now.saturating_duration_since(at).as_secs_f64(),
            None => out.uptime_s,
        }
    }

    /// Whether a /data.json answer may show `out.top` now
    /// ([`TopLists::Ready`]) or must wait for a reading under way
    /// ([`TopLists::Reading`]; the daemon holds the request, answers
    /// others, and takes the reading further with [`Sampler::go_on_top`]).
    ///
    /// Ready: the lists were read for this sample; or the period or the
    /// watch is reading them and the lists held were read for the sample
    /// before (one sample old, as an answer just before this sample would
    /// have shown them: the watch's case). Otherwise a reading
    /// is begun (unless one is under way) and taken as far as `budget`
    /// allows: [`TopLists::ReadNow`] if it ended.
    pub fn top_for_answer(&mut self, now: Instant, budget: Duration, out: &mut Sample) -> TopLists {
        if self.top_read_for == Some(out.generation) {
            return TopLists::Ready;
        }
        match self.top.under_way() {
            // The watch: the lists held are the previous sample's.
            Some(true) if self.top_read_for == Some(out.generation.wrapping_sub(1)) => {
                TopLists::Ready
            }
            Some(_) => TopLists::Reading,
            None => {
                let uptime_s = self.uptime_at(now, out);
                match self
                    .top
                    .read_now(now, uptime_s, out.cores.len(), Some(budget), &mut out.top)
                {
                    top::Progress::UnderWay => TopLists::Reading,
                    top::Progress::Read | top::Progress::NotDue => {
                        self.top_read_for = Some(out.generation);
                        TopLists::ReadNow
                    }
                }
            }
        }
    }

    /// Whether a reading of the top processes is under way (begun by a
    /// sample or an answer in slices, not yet ended).
    pub fn top_under_way(&self) -> bool {
        self.top.under_way().is_some()
    }

    /// Takes the reading under way as far as `budget` allows (`None`: to
    /// the end). Whether it ended now: then `out.top` holds the new lists.
    pub fn go_on_top(&mut self, budget: Option<Duration>, out: &mut Sample) -> bool {
        if self.top.go_on(budget, &mut out.top) != top::Progress::Read {
            return false;
        }
        self.top_read_for = Some(out.generation);
        true
    }

    /// How many `stat` files the top processes keep open for their next
    /// reading (none while idle with `top_every = off`).
    pub fn kept_stat_files(&self) -> usize {
        self.top.kept_stat_files()
    }

    /// Until `until`, the top processes are read at every sample whatever
    /// `top_every` says: someone is reading them (the daemon calls this for
    /// each /data.json request).
    pub fn watch_top(&mut self, until: Instant) {
        self.top.watch(until);
    }

    /// Leaves the network interfaces matching any of `globs` out of every
    /// sample from now on (`network_exclude`).
    pub fn set_network_exclude(&mut self, globs: &[crate::nameglob::NameGlob]) {
        self.network.set_exclude(globs);
    }

    /// Refreshes `out` from /proc, every source. CPU percentages cover the
    /// time since the previous call (since boot on the first). Never fails
    /// as a whole: each source that cannot be read keeps its previous
    /// figures in `out`.
    pub fn sample(&mut self, time_unix_s: u64, out: &mut Sample) {
        self.sample_at(Instant::now(), time_unix_s, out);
    }

    /// [`Sampler::sample`] with the monotonic time that rates are computed
    /// against given by the caller (tests drive a fake clock).
    pub fn sample_at(&mut self, now: Instant, time_unix_s: u64, out: &mut Sample) {
        self.sample_periodic_at(now, time_unix_s, None, out);
        self.read_on_demand(out);
    }

    /// What the daemon's loop reads every interval: [`Sampler::sample`]
    /// but the on-demand sources (module docs), which keep the figures of
    /// their last reading until [`Sampler::read_on_demand`]. A reading of
    /// the top processes, when due, goes as far as `top_budget` allows
    /// (`None`: to the end) and is left under way for
    /// [`Sampler::go_on_top`].
    pub fn sample_periodic(
        &mut self,
        time_unix_s: u64,
        top_budget: Option<Duration>,
        out: &mut Sample,
    ) {
        self.sample_periodic_at(Instant::now(), time_unix_s, top_budget, out);
    }

    /// Reads the on-demand sources (sysmon's own footprint, pressure) into
    /// `out` unless they were read since `out`'s sample was taken: call it
    /// before anything shows them. Whether it read.
    pub fn read_on_demand(&mut self, out: &mut Sample) -> bool {
        if self.on_demand_read_for == Some(out.generation) {
            return false;
        }
        self.on_demand_read_for = Some(out.generation);
        self.process.sample(out.boot_time_s, &mut out.process);
        out.pressure = self.pressure.sample();
        out.failing.pressure = self.pressure.failure().is_some();
        true
    }

    /// [`Sampler::sample_periodic`] with the monotonic time given.
    pub fn sample_periodic_at(
        &mut self,
        now: Instant,
        time_unix_s: u64,
        top_budget: Option<Duration>,
        out: &mut Sample,
    ) {
        out.generation = out.generation.wrapping_add(1);
        out.time_unix_s = time_unix_s;
        if let Some(stat) = self
            .cpu
            .sample(&mut out.cpu, &mut out.cpu_ticks, &mut out.cores)
        {
            out.boot_time_s = stat.boot_time_s;
            out.procs_running = stat.procs_running;
            out.procs_blocked = stat.procs_blocked;
            out.context_switches = stat.context_switches;
            out.forks = stat.forks;
            out.interrupts = stat.interrupts;
        }
        self.memory.sample(&mut out.memory, &mut out.meminfo);
        out.meminfo_said = self.memory.said();
        self.load.sample(&mut out.load);
        self.uptime.sample(&mut out.uptime_s);
        self.hostname.sample(&mut out.hostname);
        self.disks.sample(now, &mut out.disks);
        self.network.sample(now, &mut out.network);
        self.disk_io.sample(now, &mut out.disk_io);
        self.sensors.sample(
            now,
            sensors::SensorLists {
                temperatures: &mut out.temperatures,
                thermal_zones: &mut out.thermal_zones,
                cpu_frequencies: &mut out.cpu_frequencies,
            },
        );
        // After the CPU figures: the core count scales an unlimited
        // container's CPU share.
        let host_cores = out.cores.len();
        self.container.sample(now, host_cores, &mut out.container);
        // After uptime (which dates new processes) and the core count
        // (the ceiling of a CPU share).
        self.sampled_at = Some((now, out.uptime_s));
        let top = self
            .top
            .sample(now, out.uptime_s, host_cores, top_budget, &mut out.top);
        if top == top::Progress::Read {
            self.top_read_for = Some(out.generation);
        }
        out.failing = FailingSources {
            cpu: self.cpu.failure().is_some(),
            load: self.load.failure().is_some(),
            network: self.network.failure().is_some(),
            disk_io: self.disk_io.failure().is_some(),
            pressure: self.pressure.failure().is_some(),
        };
    }

    /// Takes over `old`'s threads for network and FUSE mounts (see
    /// `mount_probe`): call on the sampler that replaces `old` at a reload.
    pub fn adopt_mount_probes(&mut self, old: &mut Sampler) {
        self.disks.adopt_probes(&mut old.disks);
    }

    /// Whether a network or FUSE mount's `statvfs`, asked by the last
    /// sample, is still under way (see `mount_probe`): `sysmon sample`
    /// waits for it, the daemon never does.
    pub fn mount_probes_in_call(&self) -> bool {
        self.disks.probes_in_call()
    }

    /// Whether a slow sensor's first read (see `slow_reads`) has not
    /// returned yet: `sysmon sample` waits for it, the daemon never does.
    pub fn slow_sensor_reads_pending(&self) -> bool {
        self.sensors.slow_reads_pending()
    }

    /// `PROC_ROOT: why` while the top processes cannot be listed.
    pub fn top_failure(&self) -> Option<&str> {
        self.top.failure()
    }

    /// `FILE: why` for each /proc source the last sample could not read
    /// (CPU, memory, load, uptime, mounts, host name: those `sysmon sample`
    /// cannot do without).
    pub fn failures(&self) -> impl Iterator<Item = &str> {
        [
            self.cpu.failure(),
            self.memory.failure(),
            self.load.failure(),
            self.uptime.failure(),
            self.disks.failure(),
            self.hostname.failure(),
        ]
        .into_iter()
        .flatten()
    }

    /// `FILE: why` for every source that failed at its last reading: those
    /// of [`Sampler::failures`], the network and disk I/O counters, the
    /// top processes' listing and a pressure file that is there but not
    /// understood (/data.json's `source_errors`).
    pub fn source_errors(&self) -> impl Iterator<Item = &str> {
        self.failures().chain(
            [
                self.network.failure(),
                self.disk_io.failure(),
                self.top.failure(),
                self.pressure.failure(),
            ]
            .into_iter()
            .flatten(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nameglob::NameGlob;
    use std::path::PathBuf;
    use std::time::Duration;

    /// A sampler of `roots`' proc and sys only (CPU, memory, ... fail there).
    fn sampler(proc_root: &Path, sys_root: &Path) -> Sampler {
        Sampler::new(proc_root, sys_root, MountSelection::Auto)
    }

    const NET_HEADER: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    struct Roots(PathBuf);
    impl Roots {
        fn new(name: &str) -> Roots {
            let dir =
                std::env::temp_dir().join(format!("sysmon-sources-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("proc/net")).unwrap();
            std::fs::create_dir_all(dir.join("sys/block/sda")).unwrap();
            Roots(dir)
        }
        fn write(&self, rel: &str, text: &str) {
            let path = self.0.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        fn net(&self, eth0_rx: u64, eth0_tx: u64) {
            self.write(
                "proc/net/dev",
                &format!("{NET_HEADER}  eth0: {eth0_rx} 10 1 0 0 0 0 0 {eth0_tx} 20 2 0 0 0 0 0\n"),
            );
        }
        fn disks(&self, sda_sectors_read: u64, sda_io_ms: u64) {
            self.write(
                "proc/diskstats",
                &format!(
                    "   8 0 sda 100 0 {sda_sectors_read} 0 50 0 800 0 0 {sda_io_ms} 0\n   8 1 sda1 100 0 {sda_sectors_read} 0 50 0 800 0 0 {sda_io_ms} 0\n   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n"
                ),
            );
        }
    }
    impl Drop for Roots {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn excluded_interfaces_are_left_out_and_rates_stay_with_their_device() {
        let roots = Roots::new("exclude");
        let mut sources = sampler(&roots.0.join("proc"), &roots.0.join("sys"));
        let globs: Vec<NameGlob> = ["lo", "veth*"]
            .iter()
            .map(|g| NameGlob::parse(g).unwrap())
            .collect();
        sources.set_network_exclude(&globs);
        let dev = |eth0_rx: u64, veth_rx: u64| {
            format!(
                "{NET_HEADER}    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n  eth0: {eth0_rx} 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n  veth9a: {veth_rx} 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n  wg0: 0 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n"
            )
        };
        let mut out = Sample::default();
        let t0 = Instant::now();
        roots.write("proc/net/dev", &dev(1_000, 7));
        sources.sample_at(t0, 0, &mut out);
        roots.write("proc/net/dev", &dev(3_000, 7_000_000));
        sources.sample_at(t0 + Duration::from_secs(1), 0, &mut out);
        let seen: Vec<(&str, f64)> = out
            .network
            .iter()
            .map(|n| (n.device.as_str(), n.rx_bytes_per_s))
            .collect();
        assert_eq!(seen, [("eth0", 2000.0), ("wg0", 0.0)]);
    }

    #[test]
    fn rates_over_a_fake_clock_and_counter_resets() {
        let roots = Roots::new("rates");
        let mut sources = sampler(&roots.0.join("proc"), &roots.0.join("sys"));
        let mut out = Sample::default();
        let t0 = Instant::now();
        roots.net(1_000, 500);
        roots.disks(2_000, 100);
        sources.sample_at(t0, 0, &mut out);
        assert_eq!(out.network.len(), 1);
        assert_eq!(out.network[0].rx_bytes_per_s, 0.0, "no interval yet");
        // loop0 never did I/O: left out. sda1 has no /sys/block/sda1.
        let names: Vec<(&str, bool)> = out
            .disk_io
            .iter()
            .map(|d| (d.device.as_str(), d.whole_disk))
            .collect();
        assert_eq!(names, [("sda", true), ("sda1", false)]);

        // 2 s later: eth0 rx +3000 B → 1500 B/s, tx +1000 B → 500 B/s;
        // sda +4000 sectors = 2048000 B → 1024000 B/s, io_ticks +500 ms of
        // 2000 ms → 25 % busy.
        roots.net(4_000, 1_500);
        roots.disks(6_000, 600);
        sources.sample_at(t0 + Duration::from_secs(2), 0, &mut out);
        let eth0 = &out.network[0];
        assert_eq!((eth0.rx_bytes_per_s, eth0.tx_bytes_per_s), (1500.0, 500.0));
        assert_eq!(eth0.counters.rx_errors, 1);
        assert_eq!(eth0.counters.tx_errors, 2);
        let sda = &out.disk_io[0];
        assert_eq!(sda.read_bytes_per_s, 1_024_000.0);
        assert_eq!(sda.write_bytes_per_s, 0.0);
        assert_eq!(sda.busy_percent, 25.0);

        // Counters went backwards (interface re-created, a reset): 0, not
        // negative and not a huge wrapped number.
        roots.net(10, 10);
        roots.disks(0, 0);
        sources.sample_at(t0 + Duration::from_secs(4), 0, &mut out);
        assert_eq!(out.network[0].rx_bytes_per_s, 0.0);
        assert_eq!(out.disk_io[0].read_bytes_per_s, 0.0);
        assert_eq!(out.disk_io[0].busy_percent, 0.0);

        // A new interface appears: the list is rebuilt, eth0 keeps its rate.
        roots.write(
            "proc/net/dev",
            &format!("{NET_HEADER}  eth0: 1010 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  wg0: 7 1 0 0 0 0 0 0 9 1 0 0 0 0 0 0\n"),
        );
        sources.sample_at(t0 + Duration::from_secs(5), 0, &mut out);
        assert_eq!(out.network.len(), 2);
        assert_eq!(out.network[0].rx_bytes_per_s, 1000.0);
        assert_eq!(out.network[1].device, "wg0");
        assert_eq!(out.network[1].rx_bytes_per_s, 0.0);

        // Absent sources (empty roots): empty lists, `None`s, no panic.
        let empty = Roots::new("empty");
        let mut sources = sampler(&empty.0.join("nothing"), &empty.0.join("nothing"));
        sources.sample_at(t0, 0, &mut out);
        sources.sample_at(t0 + Duration::from_secs(6), 0, &mut out);
        assert!(out.disk_io.is_empty());
        assert!(out.network.is_empty());
        assert_eq!(out.pressure, PressureSample::default());
        assert!(out.temperatures.is_empty() && out.container.is_none());
    }

    #[test]
    fn container_cpu_share_of_its_limit() {
        let roots = Roots::new("container");
        roots.write("proc/self/cgroup", "0::/box\n");
        roots.write("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
        roots.write("sys/fs/cgroup/box/cpu.max", "50000 100000\n");
        roots.write("sys/fs/cgroup/box/memory.max", "max\n");
        roots.write("sys/fs/cgroup/box/memory.current", "4096\n");
        roots.write("sys/fs/cgroup/box/cpu.stat", "usage_usec 1000000\n");
        let mut sources = sampler(&roots.0.join("proc"), &roots.0.join("sys"));
        let mut out = Sample::default();
        let t0 = Instant::now();
        sources.sample_at(t0, 0, &mut out);
        // +0.25 CPU-seconds in 1 s with a 0.5-CPU limit: 50 % of the limit.
        roots.write("sys/fs/cgroup/box/cpu.stat", "usage_usec 1250000\n");
        sources.sample_at(t0 + Duration::from_secs(1), 0, &mut out);
        let c = out.container.unwrap();
        assert_eq!(c.cpu_limit_cores, Some(0.5));
        assert_eq!(c.cpu_usage_percent, 50.0);
        assert_eq!(c.cpu_usage_seconds, 1.25);
        assert_eq!(
            (c.memory_limit_bytes, c.memory_used_bytes),
            (None, Some(4096))
        );
        // No limit at all: not reported.
        roots.write("sys/fs/cgroup/box/cpu.max", "max 100000\n");
        sources.sample_at(t0 + Duration::from_secs(2), 0, &mut out);
        assert_eq!(out.container, None);
    }
}
