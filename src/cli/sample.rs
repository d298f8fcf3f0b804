//! `sysmon sample`: print one sample as JSON (the /data.json schema) and
//! exit 0; exit 2 when the proc root is not a readable procfs, so nothing
//! missing is printed as a measured zero.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;

use crate::bootlog::BootLog;
use crate::sample::mount_probe::STUCK_AFTER;
use crate::{daemon, log};

#[derive(FromArgs)]
#[argh(subcommand, name = "sample")]
/// print one sample as JSON (the /data.json schema) and exit
pub struct SampleArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// where procfs is mounted (default /proc)
    #[argh(option)]
    pub proc_root: Option<PathBuf>,
    /// where sysfs is mounted (default /sys)
    #[argh(option)]
    pub sys_root: Option<PathBuf>,
}

pub fn sample(args: SampleArgs) -> Result<ExitCode, ExitCode> {
    let sys_root_given = args.sys_root.is_some();
    let config = super::load_config(args.config.as_deref(), args.proc_root, args.sys_root)?;
    super::check_proc_root(&config)?;
    if sys_root_given {
        super::check_root("--sys-root", &config.sys_root)?;
    }
    let mut sampler = daemon::new_sampler(&config);
    // Both readings read the top processes too, whatever `top_every` says,
    // so their CPU shares cover the 250 ms between them.
    sampler.set_top_processes(
        config.top_processes,
        Some(Duration::ZERO),
        &config.root_fs.join("etc/passwd"),
    );
    let mut sample = crate::sample::Sample::empty();
    // Two readings a moment apart, so CPU figures describe now, not the
    // average since boot (which is what a reading with no change shows).
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    sampler.sample(now(), &mut sample);
    // A sample with a source missing would print zeros as if measured.
    let mut failed = false;
    for why in sampler.failures() {
        log::error(format_args!("cannot sample {why}"));
        failed = true;
    }
    if failed {
        log::error(format_args!(
            "--proc-root {}: not a readable procfs; nothing printed",
            config.proc_root.display()
        ));
        return Err(ExitCode::from(2));
    }
    // The services, read once as the daemon does (`systemctl` waited for:
    // this is a one-shot command, blocking is fine), during the pause.
    let started = std::time::Instant::now();
    let mut services = crate::services::Services::new(&config.services, &config.proc_root, started);
    services.poll(started, now());
    while services.child_pid().is_some() {
        std::thread::sleep(Duration::from_millis(10));
        services.poll(std::time::Instant::now(), now());
    }
    let pause = Duration::from_millis(250).saturating_sub(started.elapsed());
    std::thread::sleep(pause);
    // A network or FUSE mount's figures come from its probe thread, asked
    // by the first reading, and a slow sensor's value (a 1-Wire
    // thermometer's) from the slow-read thread: a slow server (a NAS
    // waking its disks) or sensor gets the daemon's patience, up to the
    // time after which it counts as stuck (then left out, and the log says
    // why).
    while (sampler.mount_probes_in_call() || sampler.slow_sensor_reads_pending())
        && started.elapsed() < STUCK_AFTER
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    sampler.sample(now(), &mut sample);
    // The daemon's boot log as it stands, with this boot as the daemon
    // would record it; read only (a one-shot command changes no state).
    let boots = crate::bootlog::read_boot_id(&config.proc_root)
        .ok()
        .and_then(|id| BootLog::peek(&config.state_dir, id, sample.boot_time_s, now()));
    let backup = crate::backup::BackupService::new(&config);
    let audit = crate::audit::AuditService::new(&config);
    let interval_s = config.interval.as_secs_f64();
    let mut json = crate::report::DataJson::new(
        &sample,
        interval_s,
        crate::report::BackupJson::new(&backup),
        crate::report::UpdatesJson::new(&audit),
    );
    json.services = crate::report::ServicesJson::new(&services);
    json.boots = boots.as_ref().map(crate::report::BootsJson::new);
    json.source_errors = sampler.source_errors().map(String::from).collect();
    let mut out = json.to_json();
    out.push('\n');
    super::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
