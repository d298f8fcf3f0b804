//! cpufreq limits at scrape time, as node_exporter's `cpufreq` collector
//! names them: `node_cpu_scaling_frequency_{min,max}_hertz` (the governor's
//! bounds) and `node_cpu_frequency_{min,max}_hertz` (the hardware's). The
//! current frequency is the sampler's (`node_cpu_scaling_frequency_hertz`).
//!
//! The CPUs are those the sampler found with cpufreq; their files are kept
//! open and opened again only when that list changes.

use std::path::{Path, PathBuf};

use super::{Body, family};
use crate::proc::sysfs::parse_khz_as_hz;
use crate::sample::FreqSample;
use crate::sample::procfile::ProcFile;

/// (file under cpuN/cpufreq, metric, help), node_exporter's order.
const FILES: [(&str, &str, &str); 4] = [
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
];

struct Cpu {
    id: u32,
    files: [ProcFile; 4],
    hertz: [Option<u64>; 4],
}

pub struct CpuFreqLimits {
    cpu_dir: PathBuf,
    cpus: Vec<Cpu>,
}

impl CpuFreqLimits {
    pub fn new(sys_root: &Path) -> Self {
        CpuFreqLimits {
            cpu_dir: sys_root.join("devices/system/cpu"),
            cpus: Vec::new(),
        }
    }

    /// True when some limit of some CPU could be read.
    pub fn write(&mut self, frequencies: &[FreqSample], out: &mut Body) -> bool {
        let same = self.cpus.len() == frequencies.len()
            && self
                .cpus
                .iter()
                .zip(frequencies)
                .all(|(c, f)| c.id == f.cpu);
        if !same {
            self.cpus.clear();
            for f in frequencies {
                let dir = self.cpu_dir.join(format!("cpu{}/cpufreq", f.cpu));
                self.cpus.push(Cpu {
                    id: f.cpu,
                    files: FILES.map(|(file, ..)| ProcFile::with_capacity(dir.join(file), 32)),
                    hertz: [None; 4],
                });
            }
        }
        for cpu in &mut self.cpus {
            for (file, hz) in cpu.files.iter_mut().zip(&mut cpu.hertz) {
                *hz = file.read_attribute().ok().and_then(parse_khz_as_hz);
            }
        }
        let mut any = false;
        for (i, (_, name, help)) in FILES.iter().enumerate() {
            if self.cpus.iter().all(|c| c.hertz[i].is_none()) {
                continue;
            }
            any = true;
            family(out, name, "gauge", help);
            for cpu in &self.cpus {
                if let Some(hz) = cpu.hertz[i] {
                    out.push_str(name);
                    out.push_str("{cpu=\"");
                    out.u64(u64::from(cpu.id));
                    out.push_str("\"} ");
                    out.u64(hz);
                    out.push('\n');
                }
            }
        }
        any
    }
}
