//! `GET /metrics`: the Prometheus text exposition format 0.0.4, with
//! node_exporter's names and labels for what both measure (so dashboards
//! built for node_exporter work unchanged) and `sysmon_*` for sysmon's own.
//!
//! Rendering writes into a buffer owned by the renderer and reused across
//! scrapes. What the dashboard also shows comes from the last [`Sample`] and
//! the jobs' states; families only /metrics needs are read at scrape time by
//! the sources below (kept-open files, reused buffers), so the sampler never
//! pays for them: [`os`] (uname, os-release), [`meminfo`] (every field) and
//! [`kernel`] (vmstat, netstat/snmp, sockstat, filefd, entropy) and [`net`]
//! (softnet, conntrack, arp), [`netclass`] (/sys/class/net, from one
//! netlink dump, [`link_dump`], on the real /sys), [`cpufreq`]
//! (frequency limits), [`hwmon`] (every sensor file), [`cooling`]
//! (thermal cooling devices), [`power_supply`] (/sys/class/power_supply),
//! [`timex`] (adjtimex) and [`disk_info`] (udev or
//! sysfs labels of each disk); [`services`] the init system's services as
//! [`crate::services`] last read them. [`textfile`] serves the
//! `*.prom` files of `textfile_dir`, checked by [`exposition`].
//! The families are rendered in groups under node_exporter's collector
//! names, each timed with the monotonic clock, for
//! `node_scrape_collector_{duration_seconds,success}`; [`health`] logs a
//! group that starts failing, and recovers, once.
//! Once warm, a scrape allocates nothing (`tests/alloc_free.rs`); the body
//! is written by [`body`] without `core::fmt` on the common paths.
//! [`gzipped`] holds the body gzipped for scrapes that accept it, made at
//! the first such scrape after each render (a cached gzip scrape
//! allocates nothing either).

/// The `# HELP` and `# TYPE` lines of a family whose name, type and help
/// are literals, made into one string at compile time: the same bytes as
/// [`family`] writes piece by piece, copied in one call (a render writes
/// some seventy such families; eight copies each were ~550 instructions).
macro_rules! family_lines {
    ($name:literal, $kind:literal, $help:literal) => {
        concat!(
            "# HELP ",
            $name,
            " ",
            $help,
            "\n# TYPE ",
            $name,
            " ",
            $kind,
            "\n"
        )
    };
}

/// [`family_lines`] of a gauge and the start of its one sample (`NAME `),
/// for [`MetricsRenderer::gauge`].
macro_rules! gauge_head {
    ($name:literal, $help:literal) => {
        concat!(family_lines!($name, "gauge", $help), $name, " ")
    };
}

mod body;
mod cooling;
mod cpufreq;
mod disk_info;
pub mod exposition;
mod gzipped;
mod heads;
mod health;
mod hwmon;
mod kernel;
mod link_dump;
mod meminfo;
mod net;
mod netclass;
mod os;
mod power_supply;
mod services;
mod textfile;
mod timex;

use std::fmt::Write;
use std::path::Path;

use crate::audit::UpdatesSnapshot;
use crate::audit::model::AptDetails;
use crate::backup::{BackupSnapshot, BackupState};
use crate::sample::Sample;
pub use body::Body;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub struct MetricsRenderer {
    out: Body,
    /// `out` gzipped, for a scrape that accepts it; invalidated with every
    /// change of `out`.
    gzipped: gzipped::Gzipped,
    /// What [`crate::alerts::Alerts::write_metrics`] writes, copied into
    /// `out` (reused).
    alerts_text: String,
    /// What the body in `out` was rendered from, and when, while it may
    /// answer [`MetricsRenderer::render_cached`]; `None` once `out` holds
    /// anything else.
    cached: Option<(CacheKey, std::time::Instant)>,
    /// This render's groups of families, for `node_scrape_collector_*`
    /// (cleared per render; its capacity covers every group).
    collectors: Vec<Collector>,
    /// Why the group being rendered failed, if it can say (cleared per group).
    fault: health::Fault,
    /// Each group's state at the last scrape, for the log.
    health: health::CollectorHealth,
    ticks_per_s: u64,
    os_release: os::OsRelease,
    meminfo: meminfo::MemInfoFields,
    kernel: kernel::KernelTables,
    net: net::NetTables,
    netclass: netclass::NetClass,
    cpufreq: cpufreq::CpuFreqLimits,
    hwmon: hwmon::Hwmon,
    cooling: cooling::CoolingDevices,
    power_supply: power_supply::PowerSupplies,
    disk_info: disk_info::DiskInfo,
    /// The series starts of the last scrape's netdev families (family
    /// lines and `name{device="..."} ` per interface).
    netdev_heads: heads::Heads,
    textfile: Option<textfile::TextfileDir>,
    /// The boot log's counts, as of start (`None`: no boot log).
    boots: Option<crate::bootlog::Summary>,
    /// The history file's counters as of the last sample (`None`: no file).
    history_file: Option<crate::history_file::Stats>,
    /// `/history.json` bodies rendered since start
    /// ([`crate::history_answers::HistoryAnswers::renders`]).
    history_json_renders: u64,
}

/// What a cached body must have been rendered from to answer a scrape:
/// the sample (alerts are evaluated on each), the jobs' states (the apt
/// details change with the audit's) and the server's connection counters.
/// What is read at scrape time (the kernel tables, /sys, textfiles) is not
/// in it: that is what the cache's age bounds.
#[derive(Clone, Copy, PartialEq)]
struct CacheKey {
    generation: u64,
    backup: BackupSnapshot,
    updates: UpdatesSnapshot,
    http: crate::listener::ConnectionStats,
    /// The services' reading ([`crate::services::ServicesSnapshot`]'s generation).
    services: u64,
    history_json_renders: u64,
}

/// One group of families under node_exporter's collector name: how long
/// this render took to read and write it, and whether its source could be
/// read.
struct Collector {
    name: &'static str,
    nanos: u64,
    success: bool,
}

impl MetricsRenderer {
    /// `proc_root` and `sys_root` as the sampler's; `root_fs` is where
    /// os-release is looked for (`--root-fs`, node_exporter's `--path.rootfs`).
    pub fn new(proc_root: &Path, sys_root: &Path, root_fs: &Path) -> Self {
        MetricsRenderer {
            out: Body::with_capacity(0),
            gzipped: gzipped::Gzipped::default(),
            alerts_text: String::new(),
            cached: None,
            collectors: Vec::with_capacity(32),
            fault: health::Fault::default(),
            health: health::CollectorHealth::new(proc_root, sys_root),
            ticks_per_s: crate::sys::clock_ticks_per_second(),
            os_release: os::OsRelease::new(root_fs),
            meminfo: meminfo::MemInfoFields::new(proc_root),
            kernel: kernel::KernelTables::new(proc_root),
            net: net::NetTables::new(proc_root),
            netclass: netclass::NetClass::new(sys_root),
            cpufreq: cpufreq::CpuFreqLimits::new(sys_root),
            hwmon: hwmon::Hwmon::new(sys_root),
            cooling: cooling::CoolingDevices::new(sys_root),
            power_supply: power_supply::PowerSupplies::new(sys_root),
            disk_info: disk_info::DiskInfo::new(sys_root, root_fs),
            netdev_heads: heads::Heads::default(),
            textfile: None,
            boots: None,
            history_file: None,
            history_json_renders: 0,
        }
    }

    /// The boot log's counts from now on (`None`: the families are absent).
    pub fn set_boots(&mut self, boots: Option<crate::bootlog::Summary>) {
        self.boots = boots;
        self.cached = None;
    }

    /// The history file's counters from now on (`None`: the families are
    /// absent). Set after each sample, whose generation keys the cache.
    pub fn set_history_file(&mut self, stats: Option<crate::history_file::Stats>) {
        self.history_file = stats;
    }

    /// The `/history.json` bodies rendered so far, for the next scrape
    /// (a cached body rendered with another count is not served).
    pub fn set_history_json_renders(&mut self, renders: u64) {
        self.history_json_renders = renders;
    }

    /// `textfile_dir`: a directory of `*.prom` files read at each scrape.
    pub fn with_textfile_dir(mut self, dir: Option<&Path>) -> Self {
        self.textfile = dir.map(|d| textfile::TextfileDir::new(d.to_path_buf()));
        self
    }
}

/// `# HELP` and `# TYPE` lines of a family.
fn family(out: &mut Body, name: &str, kind: &str, help: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    out.push_str(help);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// `ticks / hz` seconds, as `Display` prints the quotient; exactly and
/// without the float formatter when `hz` is a power of ten (USER_HZ is 100).
fn seconds_of_ticks(out: &mut Body, ticks: u64, hz: u64) {
    match (0..=9u32).find(|&p| 10u64.pow(p) == hz) {
        Some(places) => out.decimal(ticks, places),
        None => out.f64(ticks as f64 / hz as f64),
    }
}

/// [`escaped`] for bytes that should be UTF-8; others become U+FFFD.
fn escaped_bytes(out: &mut Body, value: &[u8]) {
    for chunk in value.utf8_chunks() {
        escaped(out, chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// [`escaped`] for bytes as Go's `strings.ToValidUTF8` makes them valid,
/// which node_exporter applies to hwmon labels and power supply texts: each
/// run of invalid bytes becomes one U+FFFD.
fn escaped_go_utf8(out: &mut Body, value: &[u8]) {
    let mut in_invalid_run = false;
    for chunk in value.utf8_chunks() {
        if !chunk.valid().is_empty() {
            in_invalid_run = false;
            escaped(out, chunk.valid());
        }
        if !chunk.invalid().is_empty() && !in_invalid_run {
            out.push(char::REPLACEMENT_CHARACTER);
            in_invalid_run = true;
        }
    }
}

/// Writes a label value escaped as the format requires (`\\`, `\"`, `\n`):
/// runs without any of the three are copied whole.
fn escaped(out: &mut Body, value: &str) {
    let mut rest = value;
    while let Some(at) = rest.bytes().position(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            _ => "\\n",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

impl MetricsRenderer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        family(&mut self.out, name, kind, help);
    }

    fn value(&mut self, name: &str, value: f64) {
        self.out.push_str(name);
        self.out.push(' ');
        self.out.f64(value);
        self.out.push('\n');
    }

    /// A gauge's HELP and TYPE lines and its one sample: `head` is
    /// [`gauge_head`]'s text for its name and help.
    fn gauge(&mut self, head: &str, value: f64) {
        self.out.push_str(head);
        self.out.f64(value);
        self.out.push('\n');
    }

    /// [`MetricsRenderer::render`], or the body rendered last if it is
    /// younger than `max_age` and rendered from the same sample, job states
    /// and connection counters: a flood of scrapes costs a copy each, not a
    /// render (`metrics_cache`). A zero `max_age` renders every time.
    #[allow(clippy::too_many_arguments)]
    pub fn render_cached(
        &mut self,
        now: std::time::Instant,
        max_age: std::time::Duration,
        sample: &Sample,
        backup: &BackupSnapshot,
        updates: &UpdatesSnapshot,
        apt: Option<&AptDetails>,
        alerts: &crate::alerts::Alerts,
        http: crate::listener::ConnectionStats,
        services: &crate::services::Services,
    ) -> &Body {
        let key = CacheKey {
            generation: sample.generation,
            backup: *backup,
            updates: *updates,
            http,
            services: services.snapshot().generation,
            history_json_renders: self.history_json_renders,
        };
        let fresh = self
            .cached
            .is_some_and(|(k, at)| k == key && now.saturating_duration_since(at) < max_age);
        if !fresh {
            self.render(sample, backup, updates, apt, alerts, http, services);
            self.cached = Some((key, now));
        }
        &self.out
    }

    /// The body last rendered as a scrape is sent: gzipped if `gzip` (the
    /// request accepts it) and deflate did not fail, which the second
    /// value says. The member is made at the first such call after each
    /// render and kept until the next.
    pub fn encoded(&mut self, gzip: bool) -> (&[u8], bool) {
        if gzip && self.gzipped.make(self.out.as_bytes()) {
            (self.gzipped.member(), true)
        } else {
            (self.out.as_bytes(), false)
        }
    }

    /// Empties `out` for a new body; what was kept of the old goes.
    fn start_body(&mut self) {
        self.out.clear();
        self.cached = None;
        self.gzipped.invalidate();
    }

    /// The exposition for `sample` and the jobs' states, rendered now.
    // Each argument is one owner's state the scrape shows (the daemon holds
    // them apart); a struct of them would only rename the list.
    #[allow(clippy::too_many_arguments)]
    pub fn render(
        &mut self,
        sample: &Sample,
        backup: &BackupSnapshot,
        updates: &UpdatesSnapshot,
        apt: Option<&AptDetails>,
        alerts: &crate::alerts::Alerts,
        http: crate::listener::ConnectionStats,
        services: &crate::services::Services,
    ) -> &Body {
        self.start_body();
        self.collectors.clear();
        self.timed("uname", |r| os::write_uname(&mut r.out));
        self.timed("os", |r| r.os_release.write(&mut r.out));
        // A source that failed at the sample shows nothing (its figures are
        // the last good ones), as node_exporter's failed collector.
        let failing = sample.failing;
        self.timed("cpu", |r| !failing.cpu && r.cpu(sample));
        self.timed("meminfo", |r| r.memory(sample));
        self.timed("filesystem", |r| r.filesystem(sample));
        self.timed("loadavg", |r| !failing.load && r.loadavg(sample));
        self.timed("stat", |r| !failing.cpu && r.stat(sample));
        self.timed("time", |r| r.time(sample));
        self.timed("vmstat", |r| r.kernel.vmstat(&mut r.out, &mut r.fault));
        self.timed("netstat", |r| r.kernel.netstat(&mut r.out, &mut r.fault));
        self.timed("sockstat", |r| r.kernel.sockstat(&mut r.out, &mut r.fault));
        self.timed("filefd", |r| r.kernel.filefd(&mut r.out, &mut r.fault));
        self.timed("entropy", |r| r.kernel.entropy(&mut r.out));
        self.timed("softnet", |r| r.net.softnet(&mut r.out, &mut r.fault));
        self.timed("conntrack", |r| r.net.conntrack(&mut r.out));
        self.timed("arp", |r| r.net.arp(&mut r.out, &mut r.fault));
        self.timed("udp_queues", |r| {
            let in_use = r.kernel.udp_sockets_in_use();
            r.net.udp_queues(&mut r.out, in_use)
        });
        self.timed("timex", |r| timex::write(&mut r.out));
        self.timed("netdev", |r| !failing.network && r.network(sample));
        self.timed("netclass", |r| {
            r.netclass.write(&sample.network, &mut r.out)
        });
        self.timed("diskstats", |r| !failing.disk_io && r.disk_io(sample));
        self.timed("pressure", |r| !failing.pressure && r.pressure(sample));
        self.timed("hwmon", |r| r.hwmon.write(&mut r.out));
        self.timed("thermal_zone", |r| {
            let zones = r.thermal_zone(sample);
            r.cooling.write(&mut r.out) || zones
        });
        self.timed("powersupplyclass", |r| r.power_supply.write(&mut r.out));
        self.timed("cpufreq", |r| r.cpufreq(sample));
        self.process(sample);
        self.container(sample);
        self.sysmon(backup, updates);
        self.apt(apt, updates.reboot_required);
        self.http(http);
        self.history_json();
        self.boots();
        self.history_file();
        self.alerts_text.clear();
        alerts.write_metrics(&mut self.alerts_text);
        self.out.push_str(&self.alerts_text);
        services::write(&mut self.out, services);
        // Last but one: it checks its families against all of sysmon's own.
        if self.textfile.is_some() {
            self.timed("textfile", |r| {
                r.textfile
                    .as_mut()
                    .is_some_and(|t| t.write(&mut r.out, &mut r.fault))
            });
        }
        self.scrape_collectors();
        &self.out
    }

    /// The boot log: how the previous boot ended, and counts over the log.
    fn boots(&mut self) {
        let Some(boots) = self.boots else {
            return;
        };
        self.gauge(
            gauge_head!(
                "sysmon_boots_recorded",
                "Boots in sysmon's boot log, this one included (the last 100)."
            ),
            boots.recorded as f64,
        );
        self.gauge(gauge_head!("sysmon_boots_unclean", "Boots in sysmon's boot log that ended without sysmon being stopped cleanly (power loss, panic, reset)."),
            boots.unclean as f64,
        );
        if let Some(clean) = boots.previous_clean {
            self.gauge(gauge_head!("sysmon_last_boot_clean", "1 if sysmon was stopped cleanly before the previous boot ended, 0 if not (an unexpected reboot)."),
                f64::from(u8::from(clean)),
            );
        }
    }

    /// The history file's counters since start (`history_tiers`): what was
    /// written, what failed, and what clock steps did to samples.
    fn history_file(&mut self) {
        let Some(stats) = self.history_file else {
            return;
        };
        for (name, help, value) in [
            (
                "sysmon_history_file_pages_written_total",
                "4 KiB pages written to the history file since sysmon started.",
                stats.pages_written,
            ),
            (
                "sysmon_history_file_syncs_total",
                "Batches of pages written to the history file and synced (fdatasync) since sysmon started.",
                stats.syncs,
            ),
            (
                "sysmon_history_file_write_errors_total",
                "Failed writes to the history file since sysmon started (what was not written is kept in memory and tried again).",
                stats.write_errors,
            ),
            (
                "sysmon_history_file_clock_steps_total",
                "Steps of the wall clock away from the history file's time axis (more than 2 s) since sysmon started.",
                stats.clock_steps,
            ),
            (
                "sysmon_history_file_samples_held_back_total",
                "Samples a tier could not take because the wall clock was behind its newest point, counted once per tier.",
                stats.held_back,
            ),
            (
                "sysmon_history_file_samples_held_back_placed_total",
                "Held-back samples a clock step forward placed in their tier, counted once per tier.",
                stats.held_back_placed,
            ),
            (
                "sysmon_history_file_samples_held_back_lost_total",
                "Held-back samples dropped (the clock-step journal full, the clock passing without a step, a stop), counted once per tier.",
                stats.held_back_lost,
            ),
            (
                "sysmon_history_file_samples_retimed_total",
                "Samples in memory a clock step moved to their re-timed points, counted once per tier.",
                stats.retimed,
            ),
        ] {
            self.family(name, "counter", help);
            self.out.push_str(name);
            self.out.push(' ');
            self.out.u64(value);
            self.out.push('\n');
        }
    }

    /// Runs one group of families and notes its time and outcome for
    /// `node_scrape_collector_*` (and the log, on a change).
    ///
    /// `timed` has one copy per group (29): what follows the group is
    /// out of line, [`MetricsRenderer::group_end`] (inlined in each, the
    /// note and the push took about 4 KB of the binary: README, *Where the
    /// bytes go*).
    fn timed(&mut self, collector: &'static str, group: impl FnOnce(&mut Self) -> bool) {
        let start = std::time::Instant::now();
        self.fault.clear();
        let success = group(self);
        self.group_end(collector, start, success);
    }

    #[inline(never)]
    fn group_end(&mut self, collector: &'static str, start: std::time::Instant, success: bool) {
        self.health
            .note(self.collectors.len(), collector, success, &self.fault);
        self.collectors.push(Collector {
            name: collector,
            nanos: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            success,
        });
    }

    /// node_exporter's `node_scrape_collector_duration_seconds` and
    /// `node_scrape_collector_success`, one series per group of families
    /// under its collector's name, measured during this render.
    fn scrape_collectors(&mut self) {
        self.out.push_str(family_lines!(
            "node_scrape_collector_duration_seconds",
            "gauge",
            "node_exporter: Duration of a collector scrape."
        ));
        for c in &self.collectors {
            self.out
                .push_str("node_scrape_collector_duration_seconds{collector=\"");
            self.out.push_str(c.name);
            self.out.push_str("\"} ");
            self.out.decimal(c.nanos, 9);
            self.out.push('\n');
        }
        self.out.push_str(family_lines!(
            "node_scrape_collector_success",
            "gauge",
            "node_exporter: Whether a collector succeeded."
        ));
        for c in &self.collectors {
            self.out
                .push_str("node_scrape_collector_success{collector=\"");
            self.out.push_str(c.name);
            self.out
                .push_str(if c.success { "\"} 1\n" } else { "\"} 0\n" });
        }
    }

    fn http(&mut self, http: crate::listener::ConnectionStats) {
        self.gauge(
            gauge_head!("sysmon_http_connections", "HTTP connections open now."),
            http.open as f64,
        );
        self.out.push_str(family_lines!(
            "sysmon_http_connections_rejected_total",
            "counter",
            "HTTP connections answered 503 and closed because max_connections were open, or the client's address held max_connections_per_address."
        ));
        self.value(
            "sysmon_http_connections_rejected_total",
            http.rejected as f64,
        );
        self.out.push_str(family_lines!(
            "sysmon_http_requests_refused_total",
            "counter",
            "HTTP requests refused, by status: a malformed head, a missing, repeated or invalid Host (400), a body declared (413), a request line or head too long (414, 431), Expect (417), another HTTP version (505), before routing; a foreign Host or client address (403), credentials (401), an unknown path (404) or method (405), a bad query (400), after it."
        ));
        for (code, count) in crate::listener::REFUSED_STATUSES.iter().zip(http.refused) {
            self.out
                .push_str("sysmon_http_requests_refused_total{code=\"");
            self.out.u64(u64::from(*code));
            self.out.push_str("\"} ");
            self.out.u64(count);
            self.out.push('\n');
        }
        self.out.push_str(family_lines!(
            "sysmon_http_accept_errors_total",
            "counter",
            "Connections not taken in: failed accept() calls, and accepted connections the server could not watch (out of descriptors, memory or epoll watches); the server survived them."
        ));
        self.value("sysmon_http_accept_errors_total", http.accept_errors as f64);
        self.gauge(
            gauge_head!(
                "sysmon_http_answer_bytes_held",
                "Bytes of answers held for clients that have not read them yet (at most 16 MiB, or one answer alone)."
            ),
            http.answer_bytes_held as f64,
        );
        self.out.push_str(family_lines!(
            "sysmon_http_answers_cut_total",
            "counter",
            "Answers cut short and their connections closed: clients that had not read theirs held 16 MiB of answers."
        ));
        self.value("sysmon_http_answers_cut_total", http.answers_cut as f64);
    }

    /// How often `/history.json` bodies were rendered rather than reused
    /// ([`crate::history_answers`]).
    fn history_json(&mut self) {
        self.out.push_str(family_lines!(
            "sysmon_history_json_renders_total",
            "counter",
            "/history.json bodies rendered; other answers reused a body kept for the same query until the next sample."
        ));
        self.out.push_str("sysmon_history_json_renders_total ");
        self.out.u64(self.history_json_renders);
        self.out.push('\n');
    }

    /// Only sysmon's own series (backup, updates, reboot needed, build
    /// info): the `.prom` file for node_exporter's textfile collector.
    pub fn render_own(
        &mut self,
        backup: &BackupSnapshot,
        updates: &UpdatesSnapshot,
        apt: Option<&AptDetails>,
    ) -> &Body {
        self.start_body();
        self.sysmon(backup, updates);
        self.apt(apt, updates.reboot_required);
        &self.out
    }

    /// node_exporter's `cpu`: per-CPU seconds from the last sample.
    fn cpu(&mut self, s: &Sample) -> bool {
        self.out.push_str(family_lines!(
            "node_cpu_seconds_total",
            "counter",
            "Seconds the CPUs spent in each mode."
        ));
        let hz = self.ticks_per_s;
        for core in &s.cores {
            let t = &core.ticks;
            for (mode, ticks) in [
                ("idle", t.idle),
                ("iowait", t.iowait),
                ("irq", t.irq),
                ("nice", t.nice),
                ("softirq", t.softirq),
                ("steal", t.steal),
                ("system", t.system),
                ("user", t.user),
            ] {
                self.out.push_str("node_cpu_seconds_total{cpu=\"");
                self.out.u64(u64::from(core.id));
                self.out.push_str("\",mode=\"");
                self.out.push_str(mode);
                self.out.push_str("\"} ");
                seconds_of_ticks(&mut self.out, ticks, hz);
                self.out.push('\n');
            }
        }
        self.out.push_str(family_lines!(
            "node_cpu_guest_seconds_total",
            "counter",
            "Seconds the CPUs spent in guests (VMs) for each mode."
        ));
        for core in &s.cores {
            for (mode, ticks) in [("nice", core.ticks.guest_nice), ("user", core.ticks.guest)] {
                self.out.push_str("node_cpu_guest_seconds_total{cpu=\"");
                self.out.u64(u64::from(core.id));
                self.out.push_str("\",mode=\"");
                self.out.push_str(mode);
                self.out.push_str("\"} ");
                seconds_of_ticks(&mut self.out, ticks, hz);
                self.out.push('\n');
            }
        }
        !s.cores.is_empty()
    }

    /// `meminfo`: every field, read now; the sample's ten (the last good
    /// ones, as /data.json shows) if /proc/meminfo cannot be read, or the
    /// sampler's last reading failed (the collector then counts as failed).
    fn memory(&mut self, s: &Sample) -> bool {
        let m = &s.meminfo;
        let memory = [
            ("MemTotal", Some(m.total_bytes)),
            ("MemFree", Some(m.free_bytes)),
            ("MemAvailable", m.available_bytes),
            ("Buffers", Some(m.buffers_bytes)),
            ("Cached", Some(m.cached_bytes)),
            ("SReclaimable", m.slab_reclaimable_bytes),
            ("Active_file", m.active_file_bytes),
            ("Inactive_file", m.inactive_file_bytes),
            ("SwapTotal", Some(m.swap_total_bytes)),
            ("SwapFree", Some(m.swap_free_bytes)),
        ];
        let read_now = self
            .meminfo
            .write(&mut self.out, &mut self.fault, s.meminfo_said);
        for (field, value) in memory {
            if read_now {
                break;
            }
            if let Some(v) = value {
                let name_help = format_args!("Memory information field {field}_bytes.");
                let _ = writeln!(
                    self.out,
                    "# HELP node_memory_{field}_bytes {name_help}\n# TYPE node_memory_{field}_bytes gauge\nnode_memory_{field}_bytes {v}"
                );
            }
        }
        read_now
    }

    /// `filesystem`, for the mounts the sampler watches; a mount whose
    /// `statvfs` fails is its `device_error`, not the collector's failure.
    fn filesystem(&mut self, s: &Sample) -> bool {
        // node_exporter's device_error: 1 while statfs fails for the mount.
        self.out.push_str(family_lines!(
            "node_filesystem_device_error",
            "gauge",
            "Whether an error occurred while getting statistics for the given device."
        ));
        for d in &s.disks {
            self.filesystem_series(
                "node_filesystem_device_error",
                d,
                u64::from(d.stats.is_none()),
            );
        }
        for (name, head, pick) in [
            (
                "node_filesystem_files",
                family_lines!(
                    "node_filesystem_files",
                    "gauge",
                    "Filesystem total file nodes."
                ),
                3,
            ),
            (
                "node_filesystem_files_free",
                family_lines!(
                    "node_filesystem_files_free",
                    "gauge",
                    "Filesystem total free file nodes."
                ),
                4,
            ),
            (
                "node_filesystem_readonly",
                family_lines!(
                    "node_filesystem_readonly",
                    "gauge",
                    "Filesystem read-only status."
                ),
                5,
            ),
        ] {
            self.out.push_str(head);
            for d in &s.disks {
                let Some(st) = d.stats else { continue };
                let value = match pick {
                    3 => st.files,
                    4 => st.files_free,
                    _ => u64::from(st.read_only),
                };
                self.filesystem_series(name, d, value);
            }
        }
        for (name, head, pick) in [
            (
                "node_filesystem_size_bytes",
                family_lines!(
                    "node_filesystem_size_bytes",
                    "gauge",
                    "Filesystem size in bytes."
                ),
                0,
            ),
            (
                "node_filesystem_free_bytes",
                family_lines!(
                    "node_filesystem_free_bytes",
                    "gauge",
                    "Filesystem free space in bytes."
                ),
                1,
            ),
            (
                "node_filesystem_avail_bytes",
                family_lines!(
                    "node_filesystem_avail_bytes",
                    "gauge",
                    "Filesystem space available to non-root users in bytes."
                ),
                2,
            ),
        ] {
            self.out.push_str(head);
            for d in &s.disks {
                let value = match pick {
                    0 => d.total_bytes(),
                    1 => d.free_bytes(),
                    _ => d.available_bytes(),
                };
                let Some(value) = value else { continue };
                self.filesystem_series(name, d, value);
            }
        }
        true
    }

    /// `loadavg` (and the thread count of the same /proc/loadavg line).
    fn loadavg(&mut self, s: &Sample) -> bool {
        self.gauge(
            gauge_head!("node_load1", "1m load average."),
            s.load.load[0],
        );
        self.gauge(
            gauge_head!("node_load5", "5m load average."),
            s.load.load[1],
        );
        self.gauge(
            gauge_head!("node_load15", "15m load average."),
            s.load.load[2],
        );
        if s.load.total > 0 {
            self.gauge(
                gauge_head!("node_processes_threads", "Allocated threads in system"),
                s.load.total as f64,
            );
        }
        true
    }

    /// `time`: the sample's wall clock.
    fn time(&mut self, s: &Sample) -> bool {
        self.gauge(
            gauge_head!(
                "node_time_seconds",
                "System time in seconds since epoch (1970)."
            ),
            s.time_unix_s as f64,
        );
        true
    }

    /// `stat`: boot time, processes and counters of /proc/stat.
    fn stat(&mut self, s: &Sample) -> bool {
        if let Some(boot) = s.boot_time_s {
            self.gauge(
                gauge_head!("node_boot_time_seconds", "Node boot time, in unixtime."),
                boot as f64,
            );
        }
        if let Some(v) = s.procs_running {
            self.gauge(
                gauge_head!(
                    "node_procs_running",
                    "Number of processes in runnable state."
                ),
                v as f64,
            );
        }
        if let Some(v) = s.procs_blocked {
            self.gauge(
                gauge_head!(
                    "node_procs_blocked",
                    "Number of processes blocked waiting for I/O to complete."
                ),
                v as f64,
            );
        }
        if let Some(v) = s.context_switches {
            self.out.push_str(family_lines!(
                "node_context_switches_total",
                "counter",
                "Total number of context switches."
            ));
            self.value("node_context_switches_total", v as f64);
        }
        if let Some(v) = s.interrupts {
            self.out.push_str(family_lines!(
                "node_intr_total",
                "counter",
                "Total number of interrupts serviced."
            ));
            self.value("node_intr_total", v as f64);
        }
        if let Some(v) = s.forks {
            self.out.push_str(family_lines!(
                "node_forks_total",
                "counter",
                "Total number of forks."
            ));
            self.value("node_forks_total", v as f64);
        }
        s.boot_time_s.is_some()
    }

    /// `name{device,fstype,mountpoint} value` for one filesystem.
    fn filesystem_series(&mut self, name: &str, d: &crate::sample::DiskSample, value: u64) {
        self.out.push_str(name);
        self.out.push_str("{device=\"");
        escaped(&mut self.out, &d.device);
        self.out.push_str("\",fstype=\"");
        escaped(&mut self.out, &d.fs_type);
        self.out.push_str("\",mountpoint=\"");
        escaped(&mut self.out, &d.mount_point);
        self.out.push_str("\"} ");
        self.out.u64(value);
        self.out.push('\n');
    }

    /// `name{label="value"} number`, the value escaped.
    /// The series of the community `apt_info.py` textfile script, under
    /// its names, labels and help texts, so its alert rules and dashboards
    /// keep working: pending and held upgrades by origin and architecture,
    /// autoremovable packages, the package cache's age, and
    /// `node_reboot_required` (also set, on any system, by a newer kernel).
    fn apt(&mut self, apt: Option<&AptDetails>, reboot: Option<bool>) {
        if let Some(apt) = apt {
            for (name, help, counts) in [
                (
                    "apt_upgrades_pending",
                    "Apt packages pending updates by origin.",
                    &apt.upgradable_by_origin,
                ),
                (
                    "apt_upgrades_held",
                    "Apt packages pending updates but held back.",
                    &apt.held_by_origin,
                ),
            ] {
                self.family(name, "gauge", help);
                if counts.is_empty() {
                    let _ = writeln!(self.out, "{name}{{origin=\"\",arch=\"\"}} 0");
                }
                for ((origin, arch), n) in counts {
                    let _ = write!(self.out, "{name}{{origin=\"");
                    escaped(&mut self.out, origin);
                    self.out.push_str("\",arch=\"");
                    escaped(&mut self.out, arch);
                    let _ = writeln!(self.out, "\"}} {n}");
                }
            }
            self.gauge(
                gauge_head!(
                    "apt_autoremove_pending",
                    "Apt packages pending autoremoval."
                ),
                apt.autoremovable_count as f64,
            );
            if let Some(t) = apt.cache_timestamp_s {
                self.gauge(
                    gauge_head!(
                        "apt_package_cache_timestamp_seconds",
                        "Apt update last run time."
                    ),
                    t as f64,
                );
            }
        }
        if let Some(reboot) = reboot {
            self.gauge(
                gauge_head!(
                    "node_reboot_required",
                    "Node reboot is required for software updates."
                ),
                f64::from(u8::from(reboot)),
            );
        }
    }

    /// `name{label="value"} n / 10^places`, the value escaped.
    fn labelled(&mut self, name: &str, label: &str, value: &str, (n, places): (u64, u32)) {
        self.out.push_str(name);
        self.out.push('{');
        self.out.push_str(label);
        self.out.push_str("=\"");
        escaped(&mut self.out, value);
        self.out.push_str("\"} ");
        self.out.decimal(n, places);
        self.out.push('\n');
    }

    fn network(&mut self, s: &Sample) -> bool {
        if s.network.is_empty() {
            return false;
        }
        type Pick = fn(&crate::proc::netdev::NetCounters) -> u64;
        // All 16 columns of /proc/net/dev, as node_exporter's netdev.
        let families: [(&str, Pick); 16] = [
            ("receive_bytes", |c| c.rx_bytes),
            ("receive_packets", |c| c.rx_packets),
            ("receive_errs", |c| c.rx_errors),
            ("receive_drop", |c| c.rx_dropped),
            ("receive_fifo", |c| c.rx_fifo),
            ("receive_frame", |c| c.rx_frame),
            ("receive_compressed", |c| c.rx_compressed),
            ("receive_multicast", |c| c.rx_multicast),
            ("transmit_bytes", |c| c.tx_bytes),
            ("transmit_packets", |c| c.tx_packets),
            ("transmit_errs", |c| c.tx_errors),
            ("transmit_drop", |c| c.tx_dropped),
            ("transmit_fifo", |c| c.tx_fifo),
            ("transmit_colls", |c| c.tx_colls),
            ("transmit_carrier", |c| c.tx_carrier),
            ("transmit_compressed", |c| c.tx_compressed),
        ];
        let heads = &mut self.netdev_heads;
        heads.start();
        for (suffix, pick) in families {
            let out = &mut self.out;
            // Keys: the suffix for the family lines; suffix, device and
            // `{` for a device's series (never the same as the former).
            heads.write(out, [suffix.as_bytes(), b"", b""], |out| {
                out.push_str("# HELP node_network_");
                out.push_str(suffix);
                out.push_str("_total Network device statistic ");
                out.push_str(suffix);
                out.push_str(".\n# TYPE node_network_");
                out.push_str(suffix);
                out.push_str("_total counter\n");
                true
            });
            for n in &s.network {
                // False for a series written already: two devices whose
                // names are the same once made valid UTF-8.
                let made =
                    heads.write(out, [suffix.as_bytes(), n.device.as_bytes(), b"{"], |out| {
                        out.push_str("node_network_");
                        out.push_str(suffix);
                        out.push_str("_total{device=\"");
                        escaped(out, &n.device);
                        out.push_str("\"} ");
                        true
                    });
                if made {
                    out.u64(pick(&n.counters));
                    out.push('\n');
                }
            }
        }
        self.netclass.write_nohandler(&s.network, &mut self.out);
        true
    }

    /// Whole disks only, like node_exporter's default device exclusion
    /// (partitions would count every byte twice in a sum over devices).
    fn disk_io(&mut self, s: &Sample) -> bool {
        if !s.disk_io.iter().any(|d| d.whole_disk) {
            return false;
        }
        type Pick = fn(&crate::proc::diskstats::DiskCounters) -> Option<(u64, u32)>;
        // Every field of /proc/diskstats, with node_exporter's names, help
        // and types; discards (4.18+) and flushes (5.5+) where the kernel
        // has them.
        let families: [(&str, &str, Pick); 17] = [
            (
                "node_disk_reads_completed_total",
                family_lines!(
                    "node_disk_reads_completed_total",
                    "counter",
                    "The total number of reads completed successfully."
                ),
                |c| Some((c.reads_completed, 0)),
            ),
            (
                "node_disk_reads_merged_total",
                family_lines!(
                    "node_disk_reads_merged_total",
                    "counter",
                    "The total number of reads merged."
                ),
                |c| Some((c.reads_merged, 0)),
            ),
            (
                "node_disk_read_bytes_total",
                family_lines!(
                    "node_disk_read_bytes_total",
                    "counter",
                    "The total number of bytes read successfully."
                ),
                |c| Some((c.read_bytes(), 0)),
            ),
            (
                "node_disk_read_time_seconds_total",
                family_lines!(
                    "node_disk_read_time_seconds_total",
                    "counter",
                    "The total number of seconds spent by all reads."
                ),
                |c| Some((c.read_time_ms, 3)),
            ),
            (
                "node_disk_writes_completed_total",
                family_lines!(
                    "node_disk_writes_completed_total",
                    "counter",
                    "The total number of writes completed successfully."
                ),
                |c| Some((c.writes_completed, 0)),
            ),
            (
                "node_disk_writes_merged_total",
                family_lines!(
                    "node_disk_writes_merged_total",
                    "counter",
                    "The number of writes merged."
                ),
                |c| Some((c.writes_merged, 0)),
            ),
            (
                "node_disk_written_bytes_total",
                family_lines!(
                    "node_disk_written_bytes_total",
                    "counter",
                    "The total number of bytes written successfully."
                ),
                |c| Some((c.written_bytes(), 0)),
            ),
            (
                "node_disk_write_time_seconds_total",
                family_lines!(
                    "node_disk_write_time_seconds_total",
                    "counter",
                    "This is the total number of seconds spent by all writes."
                ),
                |c| Some((c.write_time_ms, 3)),
            ),
            (
                "node_disk_io_now",
                family_lines!(
                    "node_disk_io_now",
                    "gauge",
                    "The number of I/Os currently in progress."
                ),
                |c| Some((c.io_in_progress, 0)),
            ),
            (
                "node_disk_io_time_seconds_total",
                family_lines!(
                    "node_disk_io_time_seconds_total",
                    "counter",
                    "Total seconds spent doing I/Os."
                ),
                |c| Some((c.io_time_ms, 3)),
            ),
            (
                "node_disk_io_time_weighted_seconds_total",
                family_lines!(
                    "node_disk_io_time_weighted_seconds_total",
                    "counter",
                    "The weighted # of seconds spent doing I/Os."
                ),
                |c| Some((c.io_time_weighted_ms, 3)),
            ),
            (
                "node_disk_discards_completed_total",
                family_lines!(
                    "node_disk_discards_completed_total",
                    "counter",
                    "The total number of discards completed successfully."
                ),
                |c| c.discards.map(|d| (d[0], 0)),
            ),
            (
                "node_disk_discards_merged_total",
                family_lines!(
                    "node_disk_discards_merged_total",
                    "counter",
                    "The total number of discards merged."
                ),
                |c| c.discards.map(|d| (d[1], 0)),
            ),
            (
                "node_disk_discarded_sectors_total",
                family_lines!(
                    "node_disk_discarded_sectors_total",
                    "counter",
                    "The total number of sectors discarded successfully."
                ),
                |c| c.discards.map(|d| (d[2], 0)),
            ),
            (
                "node_disk_discard_time_seconds_total",
                family_lines!(
                    "node_disk_discard_time_seconds_total",
                    "counter",
                    "This is the total number of seconds spent by all discards."
                ),
                |c| c.discards.map(|d| (d[3], 3)),
            ),
            (
                "node_disk_flush_requests_total",
                family_lines!(
                    "node_disk_flush_requests_total",
                    "counter",
                    "The total number of flush requests completed successfully"
                ),
                |c| c.flushes.map(|f| (f[0], 0)),
            ),
            (
                "node_disk_flush_requests_time_seconds_total",
                family_lines!(
                    "node_disk_flush_requests_time_seconds_total",
                    "counter",
                    "This is the total number of seconds spent by all flush requests."
                ),
                |c| c.flushes.map(|f| (f[1], 3)),
            ),
        ];
        for (name, head, pick) in families {
            let whole = || s.disk_io.iter().filter(|d| d.whole_disk);
            if !whole().any(|d| pick(&d.counters).is_some()) {
                continue;
            }
            self.out.push_str(head);
            for d in whole() {
                if let Some(v) = pick(&d.counters) {
                    self.labelled(name, "device", &d.device, v);
                }
            }
        }
        self.disk_info.write(&s.disk_io, &mut self.out);
        true
    }

    fn pressure(&mut self, s: &Sample) -> bool {
        let p = &s.pressure;
        let seconds = |line: Option<crate::proc::pressure::PressureLine>| line.map(|l| l.total_us);
        for (name, head, value) in [
            (
                "node_pressure_cpu_waiting_seconds_total",
                family_lines!(
                    "node_pressure_cpu_waiting_seconds_total",
                    "counter",
                    "Total time in seconds that processes have waited for CPU time"
                ),
                seconds(p.cpu.map(|c| c.some)),
            ),
            (
                "node_pressure_cpu_stalled_seconds_total",
                family_lines!(
                    "node_pressure_cpu_stalled_seconds_total",
                    "counter",
                    "Total time in seconds no process could make progress"
                ),
                seconds(p.cpu.and_then(|c| c.full)),
            ),
            (
                "node_pressure_memory_waiting_seconds_total",
                family_lines!(
                    "node_pressure_memory_waiting_seconds_total",
                    "counter",
                    "Total time in seconds that processes have waited for memory"
                ),
                seconds(p.memory.map(|m| m.some)),
            ),
            (
                "node_pressure_memory_stalled_seconds_total",
                family_lines!(
                    "node_pressure_memory_stalled_seconds_total",
                    "counter",
                    "Total time in seconds no process could make progress due to memory congestion"
                ),
                seconds(p.memory.and_then(|m| m.full)),
            ),
            (
                "node_pressure_io_waiting_seconds_total",
                family_lines!(
                    "node_pressure_io_waiting_seconds_total",
                    "counter",
                    "Total time in seconds that processes have waited due to IO congestion"
                ),
                seconds(p.io.map(|i| i.some)),
            ),
            (
                "node_pressure_io_stalled_seconds_total",
                family_lines!(
                    "node_pressure_io_stalled_seconds_total",
                    "counter",
                    "Total time in seconds no process could make progress due to IO congestion"
                ),
                seconds(p.io.and_then(|i| i.full)),
            ),
        ] {
            if let Some(us) = value {
                self.out.push_str(head);
                self.out.push_str(name);
                self.out.push(' ');
                self.out.decimal(us, 6);
                self.out.push('\n');
            }
        }
        p.cpu.is_some() || p.memory.is_some() || p.io.is_some()
    }

    /// `thermal_zone`'s zone temperatures, from the sample (the cooling
    /// devices are read now, by [`cooling`]).
    fn thermal_zone(&mut self, s: &Sample) -> bool {
        if s.thermal_zones.iter().any(|z| z.celsius.is_some()) {
            self.out.push_str(family_lines!(
                "node_thermal_zone_temp",
                "gauge",
                "Zone temperature in Celsius"
            ));
            for z in &s.thermal_zones {
                let Some(celsius) = z.celsius else { continue };
                self.out.push_str("node_thermal_zone_temp{type=\"");
                escaped(&mut self.out, &z.kind);
                let _ = writeln!(
                    self.out,
                    "\",zone=\"{}\"}} {}",
                    z.zone,
                    crate::float_text::Shortest(celsius)
                );
            }
        }
        !s.thermal_zones.is_empty()
    }

    /// `cpufreq`: the sampler's current frequencies, and the limits read now.
    fn cpufreq(&mut self, s: &Sample) -> bool {
        if s.cpu_frequencies.iter().any(|f| f.hertz.is_some()) {
            self.out.push_str(family_lines!(
                "node_cpu_scaling_frequency_hertz",
                "gauge",
                "Current scaled CPU thread frequency in hertz."
            ));
            for f in &s.cpu_frequencies {
                let Some(hz) = f.hertz else { continue };
                let _ = writeln!(
                    self.out,
                    "node_cpu_scaling_frequency_hertz{{cpu=\"{}\"}} {hz}",
                    f.cpu
                );
            }
        }
        self.cpufreq.write(&s.cpu_frequencies, &mut self.out)
    }

    fn container(&mut self, s: &Sample) {
        let Some(c) = &s.container else { return };
        if let Some(cores) = c.cpu_limit_cores {
            self.gauge(
                gauge_head!(
                    "sysmon_container_cpu_limit_cores",
                    "CPU limit of sysmon's cgroup v2 (cpu.max quota / period)."
                ),
                cores,
            );
        }
        self.out.push_str(family_lines!(
            "sysmon_container_cpu_usage_seconds_total",
            "counter",
            "CPU time used by sysmon's cgroup v2 (cpu.stat usage_usec)."
        ));
        self.value(
            "sysmon_container_cpu_usage_seconds_total",
            c.cpu_usage_seconds,
        );
        if let Some(bytes) = c.memory_limit_bytes {
            self.gauge(
                gauge_head!(
                    "sysmon_container_memory_limit_bytes",
                    "Memory limit of sysmon's cgroup v2 (memory.max)."
                ),
                bytes as f64,
            );
        }
        if let Some(bytes) = c.memory_used_bytes {
            self.gauge(
                gauge_head!(
                    "sysmon_container_memory_usage_bytes",
                    "Memory used by sysmon's cgroup v2 (memory.current)."
                ),
                bytes as f64,
            );
        }
    }

    fn process(&mut self, s: &Sample) {
        let p = &s.process;
        self.out.push_str(family_lines!(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds."
        ));
        self.value("process_cpu_seconds_total", p.cpu_seconds);
        self.gauge(
            gauge_head!(
                "process_resident_memory_bytes",
                "Resident memory size in bytes."
            ),
            p.resident_bytes as f64,
        );
        self.gauge(
            gauge_head!("process_open_fds", "Number of open file descriptors."),
            p.open_fds as f64,
        );
        self.gauge(
            gauge_head!(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds."
            ),
            p.start_time_s,
        );
        self.gauge(
            gauge_head!(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes."
            ),
            p.virtual_bytes as f64,
        );
        // Read now: one getrlimit each (unlimited address space is
        // 2^64 - 1, as the Go client reports it).
        if let Ok((max_fds, max_address_space)) = crate::sys::soft_limits() {
            self.gauge(
                gauge_head!(
                    "process_max_fds",
                    "Maximum number of open file descriptors."
                ),
                max_fds as f64,
            );
            self.gauge(
                gauge_head!(
                    "process_virtual_memory_max_bytes",
                    "Maximum amount of virtual memory available in bytes."
                ),
                max_address_space as f64,
            );
        }
    }

    fn sysmon(&mut self, backup: &BackupSnapshot, updates: &UpdatesSnapshot) {
        self.out.push_str(family_lines!(
            "sysmon_build_info",
            "gauge",
            "A metric with a constant '1' value labeled by the sysmon version."
        ));
        let _ = writeln!(
            self.out,
            "sysmon_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        // The newest success, whatever the last run's outcome: the age
        // alert (`time() - this`) is for runs that keep failing, and would
        // fall silent with the series.
        if let Some(last_success_at) = backup.last_success_at {
            self.gauge(
                gauge_head!(
                    "sysmon_backup_last_success_timestamp_seconds",
                    "Unix time the last successful backup started."
                ),
                last_success_at as f64,
            );
        }
        // The same: a failed run keeps the last success's figures, which
        // the names and HELP promise (and panels on them keep data).
        if let Some(last) = &backup.last_success {
            self.gauge(
                gauge_head!(
                    "sysmon_backup_last_size_bytes",
                    "Size of the last successful backup archive."
                ),
                last.bytes as f64,
            );
            // Absent when the record's could not be a run's.
            if let Some(duration_s) = last.duration_s {
                self.gauge(
                    gauge_head!(
                        "sysmon_backup_last_duration_seconds",
                        "Duration of the last successful backup."
                    ),
                    duration_s,
                );
            }
            self.gauge(
                gauge_head!(
                    "sysmon_backup_last_files_skipped",
                    "Files the last successful backup had to skip."
                ),
                last.skipped as f64,
            );
            self.gauge(gauge_head!("sysmon_backup_last_files_unreadable", "Files the last successful backup could not read for lack of permission (the archive is incomplete)."),
                last.skipped_permission.unwrap_or(0) as f64,
            );
        }
        // The last run's outcome beside the last success: the success's
        // age alone cannot tell a run that failed today from one that
        // succeeded (one run a boot at `backup_every = off`). Absent until
        // a run is recorded: a 0 would read as a failure.
        if let Some(last) = &backup.last {
            self.gauge(gauge_head!("sysmon_backup_last_run_success", "1 if the last backup run wrote its archive (some files skipped included), 0 if it failed."),
                f64::from(u8::from(last.ok)),
            );
            self.gauge(
                gauge_head!(
                    "sysmon_backup_last_run_timestamp_seconds",
                    "Unix time the last backup run started, failed or not."
                ),
                last.time as f64,
            );
        }
        self.gauge(
            gauge_head!("sysmon_backup_running", "1 while a backup is running."),
            f64::from(u8::from(backup.state == BackupState::Running)),
        );
        if let Some(count) = updates.count {
            self.gauge(
                gauge_head!(
                    "sysmon_updates_pending",
                    "Package updates pending at the last audit."
                ),
                count as f64,
            );
        }
        // Absent, not 0, when the manager could not say (no arch-audit).
        if let Some(security) = updates.security_count {
            self.gauge(
                gauge_head!(
                    "sysmon_updates_security_pending",
                    "Security updates pending at the last audit."
                ),
                security as f64,
            );
        }
        if updates.checked_at.is_some() {
            self.gauge(gauge_head!("sysmon_updates_stale", "1 when the last audit's answer may be out of date (package lists missing or old, refresh failed); pending counts are then absent or a lower bound."),
                f64::from(u8::from(updates.stale)),
            );
        }
        if let (Some(checked), false) = (updates.checked_at, updates.has_error) {
            self.gauge(
                gauge_head!(
                    "sysmon_updates_last_success_timestamp_seconds",
                    "Unix time of the last successful update audit."
                ),
                checked as f64,
            );
        }
        if let Some(reboot) = updates.reboot_required {
            self.gauge(
                gauge_head!(
                    "sysmon_reboot_required",
                    "1 when the system asks for a reboot."
                ),
                f64::from(u8::from(reboot)),
            );
        }
        if let Some(processes) = updates.restart_processes {
            self.gauge(gauge_head!("sysmon_restart_needed_processes", "Processes still mapping a deleted program or library (need a restart), at the last audit."),
                processes as f64,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        let mut out = Body::with_capacity(0);
        for value in ["a\"b\\c\nd", "plain", "\n", "é\"é"] {
            escaped(&mut out, value);
            out.push('|');
        }
        assert_eq!(out.as_str(), "a\\\"b\\\\c\\nd|plain|\\n|é\\\"é|");
    }
    /// The age alert (`SysmonBackupTooOld`: `time() -` this series `> 36h`)
    /// must keep firing while backups fail: the series shows the newest
    /// success whatever the last run's outcome. Before, it was written only
    /// when the last run had succeeded, so the first failure removed it and
    /// silenced the alert in exactly the case it is for.
    #[test]
    fn the_last_success_is_exported_after_a_failed_run() {
        use crate::audit::UpdatesState;
        use crate::backup::record::LastFigures;
        let nowhere = Path::new("/nonexistent");
        let mut r = MetricsRenderer::new(nowhere, nowhere, nowhere);
        let updates = UpdatesSnapshot::without_answer(UpdatesState::Pending);
        let run = |time, ok| LastFigures {
            time,
            bytes: 4096,
            files: 3,
            skipped: 0,
            skipped_permission: Some(0),
            duration_s: Some(1.5),
            ok,
        };
        let snapshot = |state, last: Option<LastFigures>, last_success_at| BackupSnapshot {
            state,
            progress: None,
            last,
            last_success_at,
            last_success: last.filter(|l| l.ok),
            next_at: None,
        };
        let line = "sysmon_backup_last_success_timestamp_seconds";
        let failed = snapshot(BackupState::Failed, Some(run(2000, false)), Some(1000));
        let body = r.render_own(&failed, &updates, None).as_str();
        assert!(body.contains(&format!("\n{line} 1000\n")), "{body}");
        // Its figures unknown (a record of an older version): the other
        // gauges are absent, never the failed run's figures.
        assert!(!body.contains("sysmon_backup_last_size_bytes"), "{body}");

        let ok = snapshot(BackupState::Ok, Some(run(3000, true)), Some(3000));
        let body = r.render_own(&ok, &updates, None).as_str();
        assert!(body.contains(&format!("\n{line} 3000\n")), "{body}");
        assert!(
            body.contains("\nsysmon_backup_last_size_bytes 4096\n"),
            "{body}"
        );

        // None has ever succeeded: no series (sysmon's alert_backup_age
        // covers that case; a 0 would read as "1970").
        let never = snapshot(BackupState::Failed, Some(run(2000, false)), None);
        let body = r.render_own(&never, &updates, None).as_str();
        assert!(!body.contains(line), "{body}");
    }

    /// The size, duration and skipped counts are, as their HELP says, the
    /// last successful backup's: a failed run keeps them (with its own
    /// figures nowhere). Before, they were written only when the last run
    /// had succeeded, so a failure left size panels and alerts on them
    /// with no data exactly when something was wrong.
    #[test]
    fn the_last_success_figures_are_exported_after_a_failed_run() {
        use crate::audit::UpdatesState;
        use crate::backup::record::LastFigures;
        let nowhere = Path::new("/nonexistent");
        let mut r = MetricsRenderer::new(nowhere, nowhere, nowhere);
        let updates = UpdatesSnapshot::without_answer(UpdatesState::Pending);
        let failed_run = LastFigures {
            time: 2000,
            bytes: 999,
            files: 9,
            skipped: 99,
            skipped_permission: Some(98),
            duration_s: Some(9.25),
            ok: false,
        };
        let success = LastFigures {
            time: 1000,
            bytes: 4096,
            files: 3,
            skipped: 2,
            skipped_permission: Some(1),
            duration_s: Some(1.5),
            ok: true,
        };
        let failed = BackupSnapshot {
            state: BackupState::Failed,
            progress: None,
            last: Some(failed_run),
            last_success_at: Some(1000),
            last_success: Some(success),
            next_at: None,
        };
        let body = r.render_own(&failed, &updates, None).as_str();
        for line in [
            "sysmon_backup_last_success_timestamp_seconds 1000",
            "sysmon_backup_last_size_bytes 4096",
            "sysmon_backup_last_duration_seconds 1.5",
            "sysmon_backup_last_files_skipped 2",
            "sysmon_backup_last_files_unreadable 1",
        ] {
            assert!(body.lines().any(|l| l == line), "no {line:?}:\n{body}");
        }
        for figure in [" 999\n", " 9.25\n", " 99\n", " 98\n"] {
            assert!(!body.contains(figure), "the failed run's{figure}:\n{body}");
        }
    }

    /// The last run's outcome, beside the last success: at `backup_every =
    /// off` (one run a boot) the age of the last success cannot tell a run
    /// that failed this morning from one that succeeded. Written from the
    /// same snapshot as the success gauges, so they agree: a failed run
    /// after a success is `0` at the failed run's start, with the success's
    /// figures kept; a run that skipped unreadable files (`partial`, exit 3
    /// of `sysmon backup`) wrote its archive and is a success; no run
    /// recorded, no series (a 0 would read as a failure).
    #[test]
    fn the_last_runs_outcome_is_exported_beside_the_last_success() {
        use crate::audit::UpdatesState;
        use crate::backup::record::LastFigures;
        let nowhere = Path::new("/nonexistent");
        let mut r = MetricsRenderer::new(nowhere, nowhere, nowhere);
        let updates = UpdatesSnapshot::without_answer(UpdatesState::Pending);
        let run = |time, ok, skipped_permission| LastFigures {
            time,
            bytes: if ok { 4096 } else { 0 },
            files: 3,
            skipped: skipped_permission,
            skipped_permission: Some(skipped_permission),
            duration_s: Some(1.5),
            ok,
        };
        let snapshot = |state, last: LastFigures, success: LastFigures| BackupSnapshot {
            state,
            progress: None,
            last: Some(last),
            last_success_at: Some(success.time),
            last_success: Some(success),
            next_at: None,
        };
        let has = |body: &str, line: &str| body.lines().any(|l| l == line);
        let success = run(1000, true, 0);

        let failed = snapshot(BackupState::Failed, run(2000, false, 0), success);
        let body = r.render_own(&failed, &updates, None).as_str();
        for line in [
            "sysmon_backup_last_run_success 0",
            "sysmon_backup_last_run_timestamp_seconds 2000",
            "sysmon_backup_last_success_timestamp_seconds 1000",
            "sysmon_backup_last_size_bytes 4096",
        ] {
            assert!(has(body, line), "no {line:?}:\n{body}");
        }
        assert!(
            body.contains("\n# TYPE sysmon_backup_last_run_success gauge\n"),
            "{body}"
        );

        let partial = run(3000, true, 1);
        let body = r
            .render_own(
                &snapshot(BackupState::Partial, partial, partial),
                &updates,
                None,
            )
            .as_str();
        for line in [
            "sysmon_backup_last_run_success 1",
            "sysmon_backup_last_run_timestamp_seconds 3000",
            "sysmon_backup_last_success_timestamp_seconds 3000",
        ] {
            assert!(has(body, line), "no {line:?}:\n{body}");
        }

        let none = BackupSnapshot {
            state: BackupState::Pending,
            progress: None,
            last: None,
            last_success_at: None,
            last_success: None,
            next_at: None,
        };
        let body = r.render_own(&none, &updates, None).as_str();
        assert!(!body.contains("sysmon_backup_last_run"), "{body}");
    }

    #[test]
    fn compile_time_family_lines_are_what_family_writes() {
        let mut out = Body::with_capacity(0);
        family(&mut out, "node_load1", "gauge", "1m load average.");
        out.push_str("node_load1 ");
        assert_eq!(out.as_str(), gauge_head!("node_load1", "1m load average."));
        out.clear();
        family(
            &mut out,
            "node_forks_total",
            "counter",
            "Total number of forks.",
        );
        assert_eq!(
            out.as_str(),
            family_lines!("node_forks_total", "counter", "Total number of forks.")
        );
    }
}
