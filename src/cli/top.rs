//! `sysmon top [--interval 1s] [--count N] [--json]`: the top processes by
//! CPU and by memory, from two readings `--interval` apart (the CPU shares
//! cover exactly that time), as a table or as /data.json's `top` object.
//! Exit 0 when printed, 1 when the proc root cannot be listed, 2 for bad
//! usage or config.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::float_text::Fixed;
use crate::log;
use crate::sample::{MountSelection, Sample, Sampler, TopProcess};

#[derive(FromArgs)]
#[argh(subcommand, name = "top")]
/// print the processes using the most CPU and memory now, and exit
pub struct TopArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// where procfs is mounted (default /proc)
    #[argh(option)]
    pub proc_root: Option<PathBuf>,
    /// time between the two readings, 100ms to 1h (default 1s)
    #[argh(option, default = "String::from(\"1s\")")]
    pub interval: String,
    /// rows per list, 1 to 100 (default: top_processes from the config, 5 if that is 0)
    #[argh(option)]
    pub count: Option<usize>,
    /// print /data.json's `top` object instead of a table
    #[argh(switch)]
    pub json: bool,
}

pub fn top(args: TopArgs) -> Result<ExitCode, ExitCode> {
    let config = super::load_config(args.config.as_deref(), args.proc_root, None)?;
    super::check_proc_root(&config)?;
    let interval = match crate::config::parse_duration(&args.interval) {
        Ok(d) if (Duration::from_millis(100)..=Duration::from_secs(3600)).contains(&d) => d,
        Ok(_) => {
            log::error(format_args!(
                "--interval {}: use 100ms to 1h",
                args.interval
            ));
            return Err(ExitCode::from(2));
        }
        Err(e) => {
            log::error(format_args!("--interval: {e}"));
            return Err(ExitCode::from(2));
        }
    };
    let count = match args.count {
        Some(n) if (1..=crate::sample::top::MAX_ROWS).contains(&n) => n,
        Some(n) => {
            log::error(format_args!(
                "--count {n}: use 1 to {}",
                crate::sample::top::MAX_ROWS
            ));
            return Err(ExitCode::from(2));
        }
        None if config.top_processes > 0 => config.top_processes,
        None => 5,
    };
    // The whole sampler: the CPU count (the ceiling of a share) and the
    // uptime (which dates new processes) come from /proc/stat and
    // /proc/uptime. No /sys: nothing of it is shown.
    let no_sys = config.proc_root.join("nonexistent-sysfs");
    let mut sampler = Sampler::new(&config.proc_root, &no_sys, MountSelection::Auto);
    sampler.set_top_processes(
        count,
        Some(Duration::ZERO),
        &config.root_fs.join("etc/passwd"),
    );
    let mut sample = Sample::empty();
    let start = Instant::now();
    sampler.sample_at(start, 0, &mut sample);
    if let Some(why) = sampler.top_failure() {
        log::error(format_args!("cannot list processes: {why}"));
        return Ok(ExitCode::from(1));
    }
    std::thread::sleep(interval);
    let end = Instant::now();
    sampler.sample_at(end, 0, &mut sample);
    if let Some(why) = sampler.top_failure() {
        log::error(format_args!("cannot list processes: {why}"));
        return Ok(ExitCode::from(1));
    }
    if args.json {
        let json = crate::report::TopJson::new(&sample.top);
        let mut out = miniserde::json::to_string(&json);
        out.push('\n');
        super::emit(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let seconds = end.duration_since(start).as_secs_f64();
    let cores = sample.cores.len().max(1);
    let mut out = String::new();
    outln!(
        out,
        "By CPU over {} s ({cores} CPU{}, {} % at most):",
        Fixed(seconds, 1),
        if cores == 1 { "" } else { "s" },
        cores * 100
    );
    table_into(&mut out, &sample.top.by_cpu);
    outln!(out);
    outln!(out, "By resident memory:");
    table_into(&mut out, &sample.top.by_memory);
    super::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Appends the table of `rows` to `out` (written by [`super::emit`]).
fn table_into(out: &mut String, rows: &[TopProcess]) {
    outln!(
        out,
        "{:>7}  {:<12} {:>6} {:>9}  COMMAND",
        "PID",
        "USER",
        "CPU%",
        "RSS"
    );
    if rows.is_empty() {
        outln!(out, "{:>7}  (none)", "-");
    }
    for p in rows {
        outln!(
            out,
            "{:>7}  {:<12} {:>6} {:>9}  {}",
            p.pid,
            p.user.as_str(),
            Fixed(p.cpu_percent, 1),
            human_bytes(p.rss_bytes),
            p.command.as_str()
        );
    }
}

/// `123.4M`-style, in binary units, as top and ps print sizes.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{}{}", Fixed(value, 1), UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes_in_binary_units() {
        assert_eq!(super::human_bytes(0), "0.0K");
        assert_eq!(super::human_bytes(200 << 20), "200.0M");
        assert_eq!(super::human_bytes(3 << 30), "3.0G");
    }
}
