//! `GET /metrics`: the Prometheus text exposition format 0.0.4, with
//! node_exporter's names and labels for what both measure (so dashboards
//! built for node_exporter work unchanged) and `sysmon_*` for sysmon's own.
//!
//! Rendering writes into a buffer owned by the renderer and reused across
//! scrapes; it reads only the last [`Sample`] and the jobs' states, never /proc.

use std::fmt::Write;

use crate::report::{BackupJson, UpdatesJson};
use crate::sample::Sample;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub struct MetricsRenderer {
    out: String,
    ticks_per_s: f64,
}

impl Default for MetricsRenderer {
    fn default() -> Self {
        MetricsRenderer {
            out: String::with_capacity(16 * 1024),
            ticks_per_s: crate::sys::clock_ticks_per_second() as f64,
        }
    }
}

/// Writes a label value escaped as the format requires (`\\`, `\"`, `\n`).
fn escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

impl MetricsRenderer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn value(&mut self, name: &str, value: f64) {
        let _ = writeln!(self.out, "{name} {value}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, "gauge", help);
        self.value(name, value);
    }

    /// The exposition for `sample` and the jobs' states.
    pub fn render(
        &mut self,
        sample: &Sample,
        backup: &BackupJson,
        updates: &UpdatesJson,
        alerts: &crate::alerts::Alerts,
    ) -> &str {
        self.out.clear();
        self.node(sample);
        self.process(sample);
        self.sysmon(backup, updates);
        alerts.write_metrics(&mut self.out);
        &self.out
    }

    fn node(&mut self, s: &Sample) {
        self.family(
            "node_cpu_seconds_total",
            "counter",
            "Seconds the CPUs spent in each mode.",
        );
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
                let _ = writeln!(
                    self.out,
                    "node_cpu_seconds_total{{cpu=\"{}\",mode=\"{mode}\"}} {}",
                    core.id,
                    ticks as f64 / hz
                );
            }
        }
        self.family(
            "node_cpu_guest_seconds_total",
            "counter",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
        );
        for core in &s.cores {
            for (mode, ticks) in [("nice", core.ticks.guest_nice), ("user", core.ticks.guest)] {
                let _ = writeln!(
                    self.out,
                    "node_cpu_guest_seconds_total{{cpu=\"{}\",mode=\"{mode}\"}} {}",
                    core.id,
                    ticks as f64 / hz
                );
            }
        }
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
        for (field, value) in memory {
            if let Some(v) = value {
                let name_help = format_args!("Memory information field {field}_bytes.");
                let _ = writeln!(
                    self.out,
                    "# HELP node_memory_{field}_bytes {name_help}\n# TYPE node_memory_{field}_bytes gauge\nnode_memory_{field}_bytes {v}"
                );
            }
        }
        for (name, help, pick) in [
            ("node_filesystem_size_bytes", "Filesystem size in bytes.", 0),
            (
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
                1,
            ),
            (
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                2,
            ),
        ] {
            self.family(name, "gauge", help);
            for d in &s.disks {
                let value = match pick {
                    0 => d.total_bytes(),
                    1 => d.free_bytes(),
                    _ => d.available_bytes(),
                };
                let Some(value) = value else { continue };
                let _ = write!(self.out, "{name}{{device=\"");
                escaped(&mut self.out, &d.device);
                self.out.push_str("\",fstype=\"");
                escaped(&mut self.out, &d.fs_type);
                self.out.push_str("\",mountpoint=\"");
                escaped(&mut self.out, &d.mount_point);
                let _ = writeln!(self.out, "\"}} {value}");
            }
        }
        self.gauge("node_load1", "1m load average.", s.load.load[0]);
        self.gauge("node_load5", "5m load average.", s.load.load[1]);
        self.gauge("node_load15", "15m load average.", s.load.load[2]);
        if let Some(boot) = s.boot_time_s {
            self.gauge(
                "node_boot_time_seconds",
                "Node boot time, in unixtime.",
                boot as f64,
            );
        }
        self.gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            s.time_unix_s as f64,
        );
        if let Some(v) = s.procs_running {
            self.gauge(
                "node_procs_running",
                "Number of processes in runnable state.",
                v as f64,
            );
        }
        if let Some(v) = s.procs_blocked {
            self.gauge(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                v as f64,
            );
        }
        if let Some(v) = s.context_switches {
            self.family(
                "node_context_switches_total",
                "counter",
                "Total number of context switches.",
            );
            self.value("node_context_switches_total", v as f64);
        }
        if let Some(v) = s.forks {
            self.family("node_forks_total", "counter", "Total number of forks.");
            self.value("node_forks_total", v as f64);
        }
    }

    fn process(&mut self, s: &Sample) {
        let p = &s.process;
        self.family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        self.value("process_cpu_seconds_total", p.cpu_seconds);
        self.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            p.resident_bytes as f64,
        );
        self.gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            p.open_fds as f64,
        );
        self.gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            p.start_time_s,
        );
    }

    fn sysmon(&mut self, backup: &BackupJson, updates: &UpdatesJson) {
        self.family(
            "sysmon_build_info",
            "gauge",
            "A metric with a constant '1' value labeled by the sysmon version.",
        );
        let _ = writeln!(
            self.out,
            "sysmon_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        if let Some(last) = &backup.last {
            if last.error.is_none() {
                self.gauge(
                    "sysmon_backup_last_success_timestamp_seconds",
                    "Unix time the last successful backup finished.",
                    last.time as f64,
                );
                self.gauge(
                    "sysmon_backup_last_size_bytes",
                    "Size of the last successful backup archive.",
                    last.bytes as f64,
                );
                self.gauge(
                    "sysmon_backup_last_duration_seconds",
                    "Duration of the last successful backup.",
                    last.duration_s,
                );
                self.gauge(
                    "sysmon_backup_last_files_skipped",
                    "Files the last successful backup had to skip.",
                    last.skipped as f64,
                );
            }
        }
        self.gauge(
            "sysmon_backup_running",
            "1 while a backup is running.",
            f64::from(u8::from(backup.state == "running")),
        );
        if let (Some(count), Some(security)) = (updates.count, updates.security_count) {
            self.gauge(
                "sysmon_updates_pending",
                "Package updates pending at the last audit.",
                count as f64,
            );
            self.gauge(
                "sysmon_updates_security_pending",
                "Security updates pending at the last audit.",
                security as f64,
            );
        }
        if let (Some(checked), None) = (updates.checked_at, &updates.error) {
            self.gauge(
                "sysmon_updates_last_success_timestamp_seconds",
                "Unix time of the last successful update audit.",
                checked as f64,
            );
        }
        if let Some(reboot) = updates.reboot_required {
            self.gauge(
                "sysmon_reboot_required",
                "1 when the system asks for a reboot.",
                f64::from(u8::from(reboot)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        let mut out = String::new();
        escaped(&mut out, "a\"b\\c\nd");
        assert_eq!(out, "a\\\"b\\\\c\\nd");
    }
}
