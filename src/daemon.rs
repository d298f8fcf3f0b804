//! The daemon: one thread owns all state and runs the poll loop.
//!
//! Each job has the same shape: `poll(now)` does what is due within a
//! budget, and `next_deadline()` says when it wants to run again. The loop
//! waits on the HTTP server until the earliest deadline, answers requests
//! from the last sample, and repeats. Nothing wakes it in between but a
//! request, or a signal (SIGTERM, SIGINT, SIGHUP, and SIGCHLD when a child
//! exits) through `sys::wake_on_signals`: idle, it wakes once per due
//! deadline, and periodic work (the services' reading, the boot log, the
//! watchdog ping) is due from 90 % of its period ([`crate::period`]), so a
//! period that is a multiple of `interval` shares the sample's wake-up.
//! The wait is tiny_http's `epoll_wait` over every listener and
//! connection, run in this thread (the patched server starts no thread):
//! a request is read, answered and written here, so it waits for one
//! thread to be scheduled, not two. The signal thread is the only other,
//! but for the boot log's start record, written by a thread that lives
//! the millisecond or two its `fsync`s take, so that the first answer
//! does not wait for the disk ([`open_boot_log`]), and one thread per
//! network or FUSE mount, whose `statvfs` may never return
//! (`sample::mount_probe`).
//!
//! Work that can take long runs in slices, with requests answered between
//! them: the backup ([`BACKUP_SLICE`]), the history file's opening
//! ([`HISTORY_OPENING_SLICE`]) and a reading of the top processes
//! ([`TOP_SLICE`]; a /data.json request that needs that reading waits in
//! `waiting_for_top` and is answered in the turn it ends). `/history.json`
//! bodies are kept per query until the next sample
//! ([`crate::history_answers`]); the renders a turn makes stop once they
//! took [`HISTORY_ANSWER_SLICE`], and the requests that would need more
//! wait in `waiting_for_history` for the next turns.
//!
//! Each sample is also recorded in the [`History`] (and the history file,
//! [`crate::history_file`], which writes its pages in batches, every 4
//! minutes at the defaults) and evaluated
//! by the [`Alerts`]; `alert_command` children are polled every turn, and
//! [`Orphans`] is told which job children run, to kill what they leave
//! behind. The boot log ([`crate::bootlog`]) records this boot as alive
//! every `boot_log_every` and as stopped when the loop ends on SIGTERM or
//! SIGINT; what it found at start raises `unexpected_reboot`.
//!
//! Invariant: with no requests arriving and no alert changing state, an
//! iteration performs no heap allocation once the sampler is warm (checked
//! by `tests/alloc_free.rs`).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::access::AccessPolicy;
use crate::alerts::{Alerts, JobFacts};
use crate::audit::AuditService;
use crate::backup::BackupService;
use crate::bootlog::BootLog;
use crate::config::Config;
use crate::history::History;
use crate::history_answers::{HistoryAnswers, Sources};
use crate::history_file::Store;
use crate::ignored_signals::IgnoredSignalLog;
use crate::listener::HttpListener;
use crate::metrics::MetricsRenderer;
use crate::notify::Notifier;
use crate::num::Grouped;
use crate::orphans::Orphans;
use crate::report::{BackupJson, BootsJson, DataJsonCache, UpdatesJson};
use crate::sample::{MountSelection, Sample, Sampler, TopLists};
use crate::services::Services;
use crate::textfile_writer::TextfileWriter;
use crate::{http, log, sys};

/// Longest sleep when signals cannot wake the loop (the signal thread could
/// not be started): SIGTERM is then honoured within this, plus the current
/// backup slice.
pub const FALLBACK_WAIT: Duration = Duration::from_millis(200);
/// After a /data.json request, the top processes are read at every sample
/// for this many intervals (`top_every` applies again when nobody reads;
/// with `off`, the kept `stat` files are closed then).
pub const TOP_WATCHED_FOR: u32 = 3;
/// CPU time the backup may take per loop iteration before HTTP gets a turn.
pub const BACKUP_SLICE: Duration = Duration::from_millis(5);
/// Time a reading of the top processes may take per loop iteration (a
/// process is 10–20 µs on the test VM, its `stat` opened and read: 5,000
/// take 70–100 slices; issue 16's "flat under load").
pub const TOP_SLICE: Duration = Duration::from_millis(1);
/// Time the history file's opening (zeros for a new file, the check of
/// every slot of an existing one) may take per loop iteration.
pub const HISTORY_OPENING_SLICE: Duration = Duration::from_millis(1);
/// A history file that could not be opened or made (a full or absent
/// disk at boot, no descriptors left, another sysmon holding it) is tried
/// again this long after, at a sample: a passing failure must not leave
/// the whole uptime without long history.
pub const HISTORY_FILE_RETRY: Duration = Duration::from_secs(600);
/// A boot log that could not be opened (no place for it: a disk not yet
/// mounted at boot, a file that can be neither read nor set aside) is
/// tried again this long after, at a sample, as the history file is.
pub const BOOT_LOG_RETRY: Duration = Duration::from_secs(600);
/// A state_dir lock that could not be made (a `state_dir` not there yet
/// and not creatable: a mount not up at boot) is tried again this long
/// after, at a sample, as the boot log is: the daemon must not run
/// unguarded for its whole uptime ([`crate::statelock`]).
pub const STATE_LOCK_RETRY: Duration = Duration::from_secs(600);
/// The scheduler slice the loop's thread asks for (Linux ≥ 6.12, EEVDF):
/// the shortest the kernel takes. The loop's turns are short (an answer
/// is 0.01–0.3 ms); a longer one (a backup slice, 5 ms) is preempted more
/// often, which costs it little.
pub const LOOP_SLICE: Duration = Duration::from_micros(100);
/// Requests answered per loop iteration at most before due work gets a
/// turn (a request is ~0.01–0.3 ms: a few ms of answers at worst).
pub const ANSWER_BATCH: usize = 64;
/// Time `/history.json` answers may take per loop iteration: once this is
/// spent, a request whose body is not kept (a render: a full year's
/// `?range=1y` about 5 ms in a release build on an idle machine, 26–35 ms
/// on the loaded 2-core test VM) waits for the next iteration, and other
/// requests are answered meanwhile. The cache
/// makes a flood of one query cheap; this keeps a flood of distinct ones
/// (`points` takes 1 to 100,000, and each fold is its own body) from
/// holding every other client behind it.
pub const HISTORY_ANSWER_SLICE: Duration = Duration::from_millis(5);

pub struct Daemon {
    config: Config,
    http: HttpListener,
    sampler: Sampler,
    sample: Sample,
    next_sample_at: Instant,
    backup: BackupService,
    audit: AuditService,
    /// /data.json as last rendered, reused until a new sample arrives or a
    /// job is moving.
    data_json: DataJsonCache,
    /// Where answers are printed before they are sent (reused).
    response_scratch: Vec<u8>,
    /// `run --user` set the user: a reload keeps it whatever the file says.
    user_from_command_line: bool,
    /// `run --listen` set the addresses: a reload keeps them (and does not
    /// warn that the file's `listen` waits for a restart).
    listen_from_command_line: bool,
    metrics: MetricsRenderer,
    access: AccessPolicy,
    /// sd_notify (systemd `Type=notify`): READY, STATUS, WATCHDOG, STOPPING.
    /// A no-op without `$NOTIFY_SOCKET`.
    notify: Notifier,
    /// (backup running, audit running) when `textfile_path` was last
    /// written; `None` until the first write (and after a reload). The file
    /// is rewritten when either changes (a job started or ended), not on
    /// every turn: it is a file on disk.
    textfile_written_for: Option<(bool, bool)>,
    textfile_writer: TextfileWriter,
    history: History,
    /// /history.json bodies by query, until what they show changes: every
    /// change to `history` or `history_file` is followed by
    /// `history_answers.invalidate()`.
    history_answers: HistoryAnswers,
    /// /history.json requests (admitted) whose render waits for a turn
    /// with [`HISTORY_ANSWER_SLICE`] left, in the order they came; at most
    /// one per connection, so bounded by `max_connections`.
    waiting_for_history: Vec<(tiny_http::Request, http::Route)>,
    /// Time /history.json answers took in this turn.
    history_answer_time: Duration,
    /// `state_dir/history.db`; `None` when `history_tiers = off` or it
    /// could not be opened (logged: sysmon runs on without it), and until
    /// it is opened (`history_file_pending`).
    history_file: Option<Store>,
    /// The history file is opened at the first sample after start, or at
    /// the first `/history.json` request if that comes sooner, not in
    /// [`Daemon::bind`], and what takes long in opening it (8 MB of zeros
    /// and a sync for a new file, a read and a CRC per slot of an existing
    /// one: 5–12 ms warm, ~50 ms cold) runs in slices of
    /// [`HISTORY_OPENING_SLICE`] with requests answered between them. The
    /// start-up sample reaches the in-memory history only.
    history_file_pending: bool,
    /// When the history file that failed to open is tried again
    /// ([`HISTORY_FILE_RETRY`] after the failure); `None` when none failed.
    history_file_retry_at: Option<Instant>,
    alerts: Alerts,
    /// The longest the loop may sleep past its deadlines: `None` once
    /// signals wake it ([`Daemon::run`]), else [`FALLBACK_WAIT`].
    max_wait: Option<Duration>,
    /// What audit and alert children left behind (see [`Orphans`]).
    orphans: Orphans,
    /// The ignored signals' log lines, one a minute per signal at most.
    ignored_signals: IgnoredSignalLog,
    /// The pids of the job children running now (reused each turn).
    job_pids: Vec<u32>,
    /// `state_dir/boots.log`: this boot recorded "alive" every
    /// `boot_log_every` and "stopped" at a clean stop. `None` without a
    /// boot id or a state directory (logged).
    boot_log: Option<BootLog>,
    /// `state_dir/sysmon.lock`, held for the daemon's life so that no
    /// second daemon shares its state ([`crate::statelock`]); `None` when
    /// running unguarded (a file system without `flock`, a lock file
    /// that could not be made; logged).
    _state_lock: Option<crate::statelock::StateLock>,
    /// When the lock that could not be made, or was found held by
    /// another sysmon, is tried again ([`STATE_LOCK_RETRY`] after the
    /// last try, at a sample; also, while it is pending, at once before
    /// the history file is opened or the boot log's due retry); `None`
    /// when held, or not worth trying again.
    state_lock_retry_at: Option<Instant>,
    /// The retry found the lock held by another sysmon, which took
    /// `state_dir` while this one ran unguarded: this one writes no
    /// history file or boot log there (logged) until it takes the lock
    /// (the other stopped) or a reload moves it to another `state_dir`.
    state_dir_held_elsewhere: bool,
    /// When the boot log that could not be opened is tried again
    /// ([`BOOT_LOG_RETRY`] after the failure, at a sample); `None` when
    /// none failed.
    boot_log_retry_at: Option<Instant>,
    /// The last failure to open the boot log, as logged: a retry failing
    /// the same way is not logged again.
    boot_log_error: Option<String>,
    /// The init system's services, read every `services_every`.
    services: Services,
    /// The last turn's wait was idle: it had time to wait (a deadline
    /// ahead, not one due or a sliced job's next slice) and ended at it or
    /// by a signal, not with a request. [`Daemon::run`] drops start-up's
    /// pages only after such a wait: on a busy box a /data.json answer's
    /// top reading takes more than one slice, and the zero-length waits
    /// between its slices, which end without a request, once counted as
    /// idle and dropped the pages among the first answers.
    last_wait_idle: bool,
    /// /data.json requests (admitted) waiting for the top processes'
    /// reading under way ([`Sampler::top_for_answer`]): answered in the
    /// turn it ends, while other requests are answered between its
    /// slices. At most one per connection (the server reads no further
    /// request from a connection until its answer is given), so bounded
    /// by `max_connections`.
    waiting_for_top: Vec<tiny_http::Request>,
}

/// `max_connections`, or fewer when the open files limit (raised to its
/// hard limit at start) leaves less room beside sysmon's own files: said
/// once, at the bind.
fn connections_room(max_connections: usize) -> usize {
    let Ok((limit, _)) = crate::sys::soft_limits() else {
        return max_connections;
    };
    let room = crate::listener::connections_within(limit, max_connections);
    if room < max_connections {
        log::warn(format_args!(
            "the open files limit ({limit}) leaves room for {room} connections beside \
             sysmon's own {} files: max_connections {max_connections} lowered to {room} \
             (raise LimitNOFILE or ulimit -n to allow more)",
            crate::listener::OWN_DESCRIPTORS
        ));
    }
    room
}

/// The sampler `config` asks for: its roots, mounts and interfaces.
pub fn new_sampler(config: &Config) -> Sampler {
    let mut sampler = Sampler::new(&config.proc_root, &config.sys_root, mount_selection(config));
    sampler.set_network_exclude(&config.network_exclude);
    sampler.set_top_processes(
        config.top_processes,
        config.top_every,
        &config.root_fs.join("etc/passwd"),
    );
    sampler
}

pub fn mount_selection(config: &Config) -> MountSelection {
    if config.mounts.is_empty() {
        MountSelection::Auto
    } else {
        MountSelection::Listed(config.mounts.clone())
    }
}

fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Daemon {
    /// Binds the listening socket and takes the first sample. Nothing runs
    /// until [`Daemon::run`] or [`Daemon::poll_once`].
    pub fn bind(config: Config) -> Result<Daemon, String> {
        let slots = connections_room(config.max_connections);
        let per_address = (
            crate::listener::per_address_bound(slots, config.max_connections_per_address),
            config.per_address_loopback_exempt,
        );
        // A second daemon on a fixed port stops here, before the lock
        // (binding may need root, the lock comes after the drop): the
        // error names the lock's holder if it can be read without it.
        let http = HttpListener::bind(
            &config.listen,
            config.client_timeout,
            slots,
            per_address,
            &|| crate::statelock::holder_note(&config.state_dir),
        )?;
        let access =
            crate::access::AccessPolicy::from_config(&config).map_err(|e| e.to_string())?;
        // `user`: bound and the password file read; nothing written yet.
        drop_privileges(&config)?;
        // Before any state is read or written (by the user it runs as).
        let now = Instant::now();
        let (state_lock, state_lock_retry_at) =
            lock_and_retry(crate::statelock::take(&config.state_dir)?, now);
        let mut sampler = new_sampler(&config);
        let mut sample = Sample::empty();
        let unix_ms = unix_now_ms();
        // The on-demand sources wait for the first answer that shows them;
        // a reading of the top processes (`top_every` a duration) goes on
        // in the loop's turns.
        sampler.sample_periodic(unix_ms / 1000, Some(TOP_SLICE), &mut sample);
        let backup = BackupService::new(&config);
        let audit = AuditService::new(&config);
        let mut history = History::new(now, config.interval, config.history);
        history.record(now, unix_ms, &sample);
        let history_file_pending = !config.history_tiers.is_empty();
        let mut boot_log_error = None;
        let (boot_log, boot_log_retry_at) =
            match open_boot_log(&config, &sample, now, unix_ms / 1000) {
                Ok(opened) => (Some(opened), None),
                Err(missing) => (None, boot_log_failed(missing, &mut boot_log_error, now)),
            };
        let services = Services::new(&config.services, &config.proc_root, now);
        let mut alerts = Alerts::new(&config.alerts, unix_ms / 1000);
        alerts.set_unclean_boot(boot_log.as_ref().and_then(|(_, unclean)| *unclean));
        let boot_log = boot_log.map(|(log, _)| log);
        alerts.evaluate(
            now,
            &sample,
            &JobFacts::of(&backup.snapshot(), &audit.snapshot())
                .with_services(&services.snapshot()),
        );
        let mut metrics =
            MetricsRenderer::new(&config.proc_root, &config.sys_root, &config.root_fs)
                .with_textfile_dir(config.textfile_dir.as_deref());
        metrics.set_boots(boot_log.as_ref().map(BootLog::summary));
        let mut data_json = DataJsonCache::default();
        data_json.set_boots(boot_log.as_ref().map(BootsJson::new));
        Ok(Daemon {
            backup,
            audit,
            history,
            history_answers: HistoryAnswers::default(),
            waiting_for_history: Vec::new(),
            history_answer_time: Duration::ZERO,
            history_file: None,
            history_file_pending,
            history_file_retry_at: None,
            alerts,
            next_sample_at: now + config.interval,
            config,
            http,
            sampler,
            sample,
            data_json,
            response_scratch: Vec::new(),
            user_from_command_line: false,
            listen_from_command_line: false,
            metrics,
            access,
            notify: Notifier::from_env(),
            textfile_written_for: None,
            textfile_writer: TextfileWriter::default(),
            max_wait: Some(FALLBACK_WAIT),
            orphans: Orphans::new(),
            ignored_signals: IgnoredSignalLog::default(),
            boot_log,
            _state_lock: state_lock,
            state_lock_retry_at,
            state_dir_held_elsewhere: false,
            boot_log_retry_at,
            boot_log_error,
            job_pids: Vec::with_capacity(2 + crate::alerts::MAX_INSTANCES),
            services,
            last_wait_idle: false,
            waiting_for_top: Vec::new(),
        })
    }

    /// The first TCP address listened on (with the real port for `:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.http.local_addr()
    }

    /// The user came from `run --user`: SIGHUP keeps it rather than taking
    /// the file's `user` (or its absence) as a change.
    pub fn keep_user_from_command_line(&mut self) {
        self.user_from_command_line = true;
    }

    /// `run --listen` was given: reloads keep those addresses.
    pub fn keep_listen_from_command_line(&mut self) {
        self.listen_from_command_line = true;
    }

    /// Every address listened on, in the configured order.
    pub fn listening(&self) -> &[crate::config::Listen] {
        self.http.bound()
    }

    /// The last sample, as the loop took it: its own footprint and
    /// pressure are those of the last answer that showed them
    /// (`Sampler::read_on_demand`).
    pub fn sample(&self) -> &Sample {
        &self.sample
    }

    /// The /metrics body a scrape would get now, rendered as `answer` does
    /// (the scrape-time reads included), for tests that count allocations.
    pub fn render_metrics(&mut self) -> &str {
        let connections = self.http.stats();
        self.sampler.read_on_demand(&mut self.sample);
        self.metrics
            .set_history_json_renders(self.history_answers.renders());
        self.metrics
            .render(
                &self.sample,
                &self.backup.snapshot(),
                &self.audit.snapshot(),
                self.audit.apt_details(),
                &self.alerts,
                connections,
                &self.services,
            )
            .as_str()
    }

    /// The jobs' current /data.json objects (allocates; for tests and tools).
    pub fn job_states(&self) -> (BackupJson, UpdatesJson) {
        (BackupJson::new(&self.backup), UpdatesJson::new(&self.audit))
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// What the history file has written (`None` without one).
    pub fn history_file_stats(&self) -> Option<crate::history_file::Stats> {
        self.history_file.as_ref().map(Store::stats)
    }

    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// The boot log (`None` without one).
    pub fn boot_log(&self) -> Option<&BootLog> {
        self.boot_log.as_ref()
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Runs until SIGTERM or SIGINT.
    pub fn run(&mut self) {
        let waker = self.http.waker();
        match sys::wake_on_signals(move || waker.wake()) {
            Ok(()) => self.max_wait = None,
            Err(e) => log::warn(format_args!(
                "cannot start the signal thread ({e}); checking for signals every {} ms",
                FALLBACK_WAIT.as_millis()
            )),
        }
        // After the signal thread started (it keeps the default slice: it
        // is not on a request's path), before any job's thread or child.
        ask_for_a_short_slice();
        // bind() has listened already: the port answers from here on.
        self.notify.ready();
        // Start-up's pages are dropped once the loop is idle: after the
        // first wait that ended at a deadline (or a signal) rather than
        // with a request, and had time to wait (`last_wait_idle`). Dropped
        // at the end of the first turn, the drop and the disk reads that
        // mapped the loop's code and the answer's data back (a dozen major
        // faults), 3–4 ms in all, came before the answer to the request
        // after the first one: a browser's /data.json after its / (issue
        // 16; README, *The second answer*).
        // Under a stream of requests no wait may end idle: then at the
        // first sample's deadline, when the start is long over.
        let first_sample_at = self.next_sample_at;
        let mut start_up_pages_kept = true;
        while self.poll_once() {
            if start_up_pages_kept
                && (self.last_wait_idle || Instant::now() >= first_sample_at)
                && !sys::stop_requested()
            {
                start_up_pages_kept = false;
                self.end_start_up();
            }
        }
        self.notify.stopping();
        // Requests that waited for the top processes' reading: told to ask
        // again (a dropped request would get a bare 500).
        for request in std::mem::take(&mut self.waiting_for_top) {
            http::stopping(request, &mut self.response_scratch);
        }
        for (request, _) in std::mem::take(&mut self.waiting_for_history) {
            http::stopping(request, &mut self.response_scratch);
        }
        self.backup.abandon();
        self.audit.abandon();
        self.services.abandon();
        self.alerts.abandon();
        // The partial buckets: a restart within a step loses nothing.
        if let Some(store) = &mut self.history_file {
            store.flush();
        }
        // Nothing an audit or alert command started outlives sysmon.
        self.orphans.kill_all(Duration::from_secs(2));
        // Last: the boot's record says sysmon was stopped cleanly.
        if let Some(boot_log) = &mut self.boot_log {
            boot_log.stop(unix_now());
        }
        self.log_unlogged_signals();
        log::info(format_args!("stopped"));
    }

    /// Logs the signals sysmon ignores, at most a line a minute each.
    fn log_ignored_signals(&mut self) {
        let log_lines = &mut self.ignored_signals;
        // The clock is read only when a signal came: this runs every turn.
        sys::take_ignored_signals(&mut |signal, count| {
            let now = Instant::now();
            let Some(unlogged) = log_lines.arrived(signal.number(), count, now) else {
                return;
            };
            let help = "SIGHUP reloads the config, SIGTERM stops sysmon";
            if unlogged == 0 {
                log::warn(format_args!("{signal} ignored ({help})"));
            } else {
                log::warn(format_args!(
                    "{signal} ignored (x{} since the last line; {help})",
                    Grouped(unlogged)
                ));
            }
        });
    }

    /// At a clean stop: the ignored signals whose count no line has said
    /// yet (a storm's last burst within its minute), a line each.
    #[cold]
    fn log_unlogged_signals(&mut self) {
        // What came since the last turn first.
        self.log_ignored_signals();
        self.ignored_signals.take_unlogged(&mut |number, unlogged| {
            log::warn(format_args!(
                "{} ignored (x{} since the last line; counted at the stop)",
                sys::SignalName(number as libc::c_int),
                Grouped(unlogged)
            ));
        });
    }

    /// One turn of the loop: due work, then wait for a request or the next
    /// deadline. Returns false once a stop was requested.
    pub fn poll_once(&mut self) -> bool {
        if sys::stop_requested() {
            return false;
        }
        self.log_ignored_signals();
        if sys::take_reload_request() {
            self.notify.reloading();
            self.reload();
            self.notify.ready();
        }
        let now = Instant::now();
        let sampled = now >= self.next_sample_at;
        let unix_ms = unix_now_ms();
        if sampled {
            self.sampler
                .sample_periodic(unix_ms / 1000, Some(TOP_SLICE), &mut self.sample);
            self.next_sample_at += self.config.interval;
            if self.next_sample_at <= now {
                // We fell behind (suspend, a stalled disk): do not catch up in a burst.
                self.next_sample_at = now + self.config.interval;
            }
        } else if self.sampler.top_under_way() {
            self.go_on_top();
        }
        self.backup.poll(now, BACKUP_SLICE);
        self.audit.poll(now);
        // Due, or before the boot log's due retry: found held, the lock
        // keeps it out of the holder's state_dir (the history file's
        // opening asks in `open_pending_history_file`).
        if sampled
            && self
                .state_lock_retry_at
                .is_some_and(|at| now >= at || self.boot_log_retry_at.is_some_and(|due| now >= due))
        {
            self.retry_state_lock(now);
        }
        if sampled {
            self.history.record(now, unix_ms, &self.sample);
            if self.history_file_retry_at.is_some_and(|at| now >= at) {
                self.history_file_retry_at = None;
                self.history_file_pending = true;
            }
            self.open_pending_history_file(now, unix_ms);
            if let Some(store) = &mut self.history_file {
                store.record(now, unix_ms, &self.sample);
            }
            self.history_answers.invalidate();
            self.metrics
                .set_history_file(self.history_file.as_ref().map(Store::stats));
            let jobs = JobFacts::of(&self.backup.snapshot(), &self.audit.snapshot())
                .with_services(&self.services.snapshot());
            self.alerts.evaluate(now, &self.sample, &jobs);
        }
        self.poll_history_file();
        self.alerts.poll_commands(now);
        if sampled && self.boot_log_retry_at.is_some_and(|at| now >= at) {
            self.retry_boot_log(now, unix_ms / 1000);
        }
        if let Some(boot_log) = &mut self.boot_log {
            boot_log.poll(now, unix_ms / 1000);
        }
        self.job_pids.clear();
        self.job_pids.extend(self.audit.child_pid());
        self.job_pids.extend(self.services.child_pid());
        self.alerts.command_pids(&mut self.job_pids);
        self.orphans.poll(now, &self.job_pids);
        if sampled {
            self.http.log_trouble(now);
        }
        self.notify_status(now);
        self.update_textfile();
        // After STATUS= (sent in the first turn after READY=1): starting
        // `systemctl` takes a few milliseconds.
        if self.services.poll(now, unix_ms / 1000) {
            // Shown at once (the cache keeps a render per sample), and the
            // alert's message names the failed ones.
            self.data_json.clear();
            self.alerts
                .note_failed_services(&self.services.failed_names());
        }

        if !self.waiting_for_top.is_empty() && !self.sampler.top_under_way() {
            // The reading ended (in this turn's slice, or the sample's), or
            // was dropped (a reload that changed the top settings):
            // answered now, or held again for a reading begun afresh.
            self.answer_waiting_for_top();
        }
        // A new turn: its own time for /history.json renders, the
        // requests that waited for one first.
        self.history_answer_time = Duration::ZERO;
        if !self.waiting_for_history.is_empty() {
            self.answer_waiting_for_history();
        }
        let mut deadline = self.next_sample_at;
        if self.sampler.top_under_way() || !self.waiting_for_history.is_empty() {
            deadline = now; // the next slice, once ready requests are answered
        }
        if let Some(max_wait) = self.max_wait {
            deadline = deadline.min(now + max_wait);
        }
        let jobs = [
            self.backup.next_deadline(),
            self.audit.next_deadline(),
            self.notify.next_deadline(),
            self.alerts.next_deadline(),
            self.orphans.next_deadline(),
            self.boot_log.as_ref().and_then(BootLog::next_deadline),
            self.services.next_deadline(),
            self.history_file.as_ref().and_then(Store::next_deadline),
        ];
        for job_deadline in jobs.into_iter().flatten() {
            deadline = deadline.min(job_deadline);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let request = self.http.recv_timeout(wait);
        self.last_wait_idle = request.is_none() && !wait.is_zero();
        if let Some(request) = request {
            self.answer(request);
            // Answer what else is ready before the next slice of work, but
            // no more than a batch: clients that pipeline without end must
            // not keep the loop from its deadlines.
            for _ in 1..ANSWER_BATCH {
                let Some(request) = self.http.try_recv() else {
                    break;
                };
                self.answer(request);
            }
        }
        true
    }

    /// Start-up's last pieces, once the loop is idle ([`Daemon::run`]):
    /// the boot log's start record, written meanwhile by its thread
    /// ([`open_boot_log`]), collected, then start-up's pages dropped
    /// ([`release_start_up_pages`]), the collection first since its code
    /// is start-up's.
    fn end_start_up(&mut self) {
        if let Some(boot_log) = &mut self.boot_log {
            if let Some(Err(e)) = boot_log.wait_start_written() {
                log_boot_log_write_error(&e, self.config.boot_log_every);
            }
        }
        release_start_up_pages();
    }

    /// Rewrites the textfile-collector file when a job started or ended,
    /// on the writer's thread ([`TextfileWriter`]).
    fn update_textfile(&mut self) {
        let Some(path) = &self.config.textfile_path else {
            return;
        };
        let jobs = (self.backup.is_running(), self.audit.is_running());
        if self.textfile_written_for == Some(jobs) {
            return;
        }
        self.textfile_written_for = Some(jobs);
        let text = self.metrics.render_own(
            &self.backup.snapshot(),
            &self.audit.snapshot(),
            self.audit.apt_details(),
        );
        // Off the loop: the write is fsynced, and a disk may hang.
        self.textfile_writer.write(path, text.as_bytes());
    }

    /// sd_notify: the watchdog ping when due, and STATUS= for `systemctl
    /// status`.
    fn notify_status(&mut self, now: Instant) {
        self.notify.poll(now);
        self.notify
            .status_jobs(&self.backup.snapshot(), &self.audit.snapshot());
    }

    /// A slice of the history file's opening, while it runs; logs what it
    /// found when it ends, or drops the file if it failed (logged).
    fn poll_history_file(&mut self) {
        let Some(store) = &mut self.history_file else {
            return;
        };
        let was_opening = store.is_opening();
        // From now, not the turn's start: the slice is this much of work.
        store.poll_opening(Instant::now(), HISTORY_OPENING_SLICE);
        match store.take_opened() {
            None => {}
            Some(Ok(opened)) => log_opened(store.path(), &opened),
            Some(Err(e)) => {
                log::error(format_args!(
                    "history: {e}; running without the history file{RETRY_NOTE}"
                ));
                self.history_file = None;
                self.history_file_retry_at = Some(Instant::now() + history_file_retry());
            }
        }
        if was_opening {
            // What a range shows changes as the opening goes on, and ends.
            self.history_answers.invalidate();
        }
    }

    /// Opens the history file if [`Daemon::bind`] left it for later.
    fn open_pending_history_file(&mut self, now: Instant, unix_ms: u64) {
        if self.history_file_pending && self.state_lock_retry_at.is_some() {
            // Unguarded: the lock first, or the file could be opened in
            // the state_dir of a sysmon started meanwhile (the opening
            // is given up if it holds the lock: `leave_state_dir`).
            self.retry_state_lock(now);
        }
        if std::mem::take(&mut self.history_file_pending) {
            self.history_file = open_history_file(&self.config, now, unix_ms);
            self.history_answers.invalidate();
            self.note_history_file_failure(now);
        }
    }

    /// The boot log that could not be opened, tried again. Still the
    /// start's look at the boot before: an unclean end found now raises
    /// `unexpected_reboot` as it would have at start.
    #[cold]
    #[inline(never)]
    fn retry_boot_log(&mut self, now: Instant, unix_now: u64) {
        self.boot_log_retry_at = None;
        match open_boot_log(&self.config, &self.sample, now, unix_now) {
            Ok((log, unclean)) => {
                self.alerts.set_unclean_boot(unclean);
                self.boot_log = Some(log);
                self.boot_log_error = None;
                self.metrics
                    .set_boots(self.boot_log.as_ref().map(BootLog::summary));
                self.data_json
                    .set_boots(self.boot_log.as_ref().map(BootsJson::new));
            }
            Err(missing) => {
                self.boot_log_retry_at = boot_log_failed(missing, &mut self.boot_log_error, now);
            }
        }
    }

    /// The state_dir lock that could not be made, tried again. Found held
    /// by another sysmon (started on this `state_dir` while this one ran
    /// unguarded): said loudly, once, and this one leaves the `state_dir`
    /// to it ([`Daemon::leave_state_dir`]) but runs on: refusing to start
    /// is for the one that comes second, and it came first. Tried again
    /// while held: once the holder lets go, this one takes the lock and
    /// opens its history file and boot log there again at once.
    #[cold]
    #[inline(never)]
    fn retry_state_lock(&mut self, now: Instant) {
        self.state_lock_retry_at = Some(now + state_lock_retry());
        match crate::statelock::take_again(&self.config.state_dir) {
            Ok(Some(lock)) => {
                self._state_lock = Some(lock);
                self.state_lock_retry_at = None;
                log::info(format_args!(
                    "state_dir: {}: {} taken; the one-daemon-per-state_dir check is on",
                    self.config.state_dir.display(),
                    crate::statelock::FILE_NAME
                ));
                if std::mem::take(&mut self.state_dir_held_elsewhere) {
                    // Both are tried later in this turn.
                    if !self.config.history_tiers.is_empty() {
                        self.history_file_retry_at = Some(now);
                    }
                    self.boot_log_retry_at = Some(now);
                }
            }
            Ok(None) => {}
            Err(refusal) if !self.state_dir_held_elsewhere => {
                log::error(format_args!(
                    "{refusal}: it took the lock while this one ran without it; \
                     this one runs on, writing no history file or boot log in \
                     state_dir until the lock is let go (tried again every 10 minutes)"
                ));
                self.leave_state_dir();
            }
            Err(_) => {}
        }
    }

    /// Another sysmon holds this `state_dir`: the boot log is closed as it
    /// is (no "stopped" written under the other's boot), the history file
    /// flushed (its own lock kept the other off it) and closed, and
    /// neither is tried again until the lock is taken.
    fn leave_state_dir(&mut self) {
        self.state_dir_held_elsewhere = true;
        self.boot_log = None;
        self.boot_log_retry_at = None;
        if let Some(store) = &mut self.history_file {
            store.flush();
        }
        self.history_file = None;
        self.history_file_pending = false;
        self.history_file_retry_at = None;
        self.history_answers.invalidate();
        self.metrics.set_boots(None);
        self.data_json.set_boots(None);
    }

    /// After an opening: when it failed, the time to try again.
    fn note_history_file_failure(&mut self, now: Instant) {
        if self.history_file.is_none() && !self.config.history_tiers.is_empty() {
            self.history_file_retry_at = Some(now + history_file_retry());
        }
    }

    /// A slice of the top processes' reading under way (the /data.json
    /// requests that waited for it are answered later in the turn, once
    /// none is under way: [`Daemon::poll_once`]).
    fn go_on_top(&mut self) {
        if self.sampler.go_on_top(Some(TOP_SLICE), &mut self.sample) {
            // A render of this sample shows the lists before this reading.
            self.data_json.clear();
        }
    }

    fn answer_waiting_for_top(&mut self) {
        for request in std::mem::take(&mut self.waiting_for_top) {
            self.answer_admitted(request, http::Route::DataJson);
        }
    }

    /// Answers the /history.json requests that waited, in order, as far as
    /// this turn's [`HISTORY_ANSWER_SLICE`] goes; the rest wait again.
    fn answer_waiting_for_history(&mut self) {
        for (request, route) in std::mem::take(&mut self.waiting_for_history) {
            self.answer_admitted(request, route);
        }
    }

    /// Whether a /history.json answer on `route` must wait for the next
    /// turn: its body is not kept, and this turn's time for renders is
    /// spent. (`wall_ms` as its answer would render it.)
    fn history_must_wait(&self, route: http::Route, wall_ms: u64) -> bool {
        let http::Route::History { points, range_s } = route else {
            return false;
        };
        if self.history_answer_time < HISTORY_ANSWER_SLICE {
            return false;
        }
        let sources = Sources {
            history: &self.history,
            file: self.history_file.as_ref(),
            wall_ms,
        };
        !self
            .history_answers
            .holds(sources, points.map(|p| p as usize), range_s)
    }

    fn answer(&mut self, request: tiny_http::Request) {
        let (request, route) = match http::admit(request, &self.access, &mut self.response_scratch)
        {
            Ok(admitted) => admitted,
            Err(status) => {
                // refused, and told why
                self.http.count_refused(status);
                return;
            }
        };
        if let Some(status) = route.refusal_status() {
            self.http.count_refused(status);
        }
        self.answer_admitted(request, route);
    }

    /// Answers `request`, which the access policy let through, on `route`;
    /// a /data.json request waits in `waiting_for_top` while the top
    /// processes it would show are being read.
    fn answer_admitted(&mut self, request: tiny_http::Request, route: http::Route) {
        if route == http::Route::DataJson {
            // With `top_every = off` the first answer after the watch
            // ended begins a reading, and waits for it if one slice does
            // not finish it.
            match self
                .sampler
                .top_for_answer(Instant::now(), TOP_SLICE, &mut self.sample)
            {
                TopLists::Ready => {}
                TopLists::ReadNow => self.data_json.clear(),
                TopLists::Reading => {
                    self.waiting_for_top.push(request);
                    return;
                }
            }
        }
        if self.history_file_pending && matches!(route, http::Route::History { .. }) {
            self.open_pending_history_file(Instant::now(), unix_now_ms());
        }
        // One wall clock for the wait's decision and the render.
        let wall_ms = unix_now_ms();
        if self.history_must_wait(route, wall_ms) {
            self.waiting_for_history.push((request, route));
            return;
        }
        let interval_s = self.config.interval.as_secs_f64();
        let metrics_cache = self.config.metrics_cache;
        let (backup, audit, alerts) = (&self.backup, &self.audit, &self.alerts);
        // The sources only answers show are read at the first answer after
        // each sample that needs them (`Sampler::read_on_demand`).
        let (sampler, sample) = (&mut self.sampler, &mut self.sample);
        let services = &self.services;
        let (cache, metrics) = (&mut self.data_json, &mut self.metrics);
        let connections = self.http.stats();
        let history_answers = &mut self.history_answers;
        let history_sources = Sources {
            history: &self.history,
            file: self.history_file.as_ref(),
            wall_ms,
        };
        let history_answer_time = &mut self.history_answer_time;
        let scratch = &mut self.response_scratch;
        // Someone reads /data.json (the dashboard, a script): the top
        // processes follow every sample for a while (see `top_every`).
        let data_asked = std::cell::Cell::new(false);
        http::answer(request, route, scratch, |route, accepts_gzip| match route {
            http::Route::Metrics => {
                sampler.read_on_demand(sample);
                metrics.set_history_json_renders(history_answers.renders());
                metrics.render_cached(
                    Instant::now(),
                    metrics_cache,
                    sample,
                    &backup.snapshot(),
                    &audit.snapshot(),
                    audit.apt_details(),
                    alerts,
                    connections,
                    services,
                );
                metrics.encoded(accepts_gzip)
            }
            http::Route::History { points, range_s } => {
                let start = Instant::now();
                let body =
                    history_answers.body(history_sources, points.map(|p| p as usize), range_s);
                *history_answer_time += start.elapsed();
                (body.as_bytes(), false)
            }
            _ => {
                data_asked.set(true);
                sampler.read_on_demand(sample);
                let body = cache.body(sample, interval_s, backup, audit, services, |json| {
                    json.alerts = alerts.firing().into_iter().map(Into::into).collect();
                    json.source_errors = sampler.source_errors().map(String::from).collect();
                });
                (body, false)
            }
        });
        if data_asked.get() {
            self.sampler
                .watch_top(Instant::now() + TOP_WATCHED_FOR * self.config.interval);
        }
        // A chunked answer (a client's `TE: chunked`) is printed whole
        // into the scratch: give back what such an answer grew rather than
        // hold it while idle. (/history.json's bodies: `history_answers`.)
        if self.response_scratch.capacity() > RESPONSE_KEEP_BYTES {
            self.response_scratch = Vec::new();
        }
    }

    /// SIGHUP: re-read the config; a bad one is refused and the old stays,
    /// and so is one without keys (a file caught mid-save, see
    /// [`Config::refuse_empty_for_reload`]).
    fn reload(&mut self) {
        let Some(file) = self.config.file.clone() else {
            log::info(format_args!(
                "SIGHUP: no config file to reload (running on built-in defaults)"
            ));
            return;
        };
        // With `run --listen` the file's `listen` lines are not used, so
        // not checked either; with `run --user`, its `user`.
        let from_command_line = crate::config::FromCommandLine {
            listen: self.listen_from_command_line,
            user: self.user_from_command_line,
        };
        let loaded = Config::load(Some(&file), from_command_line).and_then(|c| {
            c.refuse_empty_for_reload()?;
            c.validate().map(|()| c)
        });
        let mut new = match loaded {
            Ok(new) => new,
            Err(e) => {
                log::error(format_args!(
                    "SIGHUP: {e}; keeping the running configuration"
                ));
                return;
            }
        };
        // What the command line set wins over the file, as at start-up.
        new.proc_root = self.config.proc_root.clone();
        new.sys_root = self.config.sys_root.clone();
        new.root_fs = self.config.root_fs.clone();
        if self.user_from_command_line {
            new.user = self.config.user.clone();
        }
        if self.listen_from_command_line {
            new.listen = self.config.listen.clone();
        }
        // Which keys wait for a restart is said once, in config::KEYS.
        let deferred = crate::config::keys::keep_restart_keys(&mut new, &self.config);
        // `allow`, `auth_user` and `auth_password_file` are live: the policy
        // is rebuilt (and the password file read and checked again) before
        // anything else of the new file is applied, so a refused password
        // file keeps the whole running configuration.
        let access = match AccessPolicy::from_config(&new) {
            Ok(access) => access,
            Err(e) => {
                log::error(format_args!(
                    "SIGHUP: {e}; keeping the running configuration"
                ));
                return;
            }
        };
        // A new state_dir sysmon cannot use is refused before anything is
        // applied: moving there would drop the working history file and
        // boot log for nothing.
        if new.state_dir != self.config.state_dir {
            if let Err(e) = usable_state_dir(&new.state_dir) {
                log::error(format_args!(
                    "SIGHUP: state_dir: {e}; keeping the running configuration"
                ));
                return;
            }
            // Another daemon's state_dir is refused as at start.
            match crate::statelock::take(&new.state_dir) {
                Ok(taken) => {
                    (self._state_lock, self.state_lock_retry_at) =
                        lock_and_retry(taken, Instant::now());
                    self.state_dir_held_elsewhere = false;
                }
                Err(e) => {
                    log::error(format_args!(
                        "SIGHUP: {e}; keeping the running configuration"
                    ));
                    return;
                }
            }
        }
        let mut later: Vec<&str> = Vec::new();
        for d in &deferred {
            if d.key == "user" {
                let name = crate::config::keys::Deferred::first_value;
                log::warn(format_args!(
                    "SIGHUP: user changed to {} but stays {} until restart",
                    name(&d.wanted).unwrap_or("(none)"),
                    name(&d.running).unwrap_or("(none)")
                ));
            } else {
                later.push(d.key);
            }
        }
        if let Some((last, first)) = later.split_last() {
            let keys = match first {
                [] => format!("{last} takes"),
                _ => format!("{} and {last} take", first.join(", ")),
            };
            log::warn(format_args!("SIGHUP: {keys} effect at the next restart"));
        }
        if (&new.mounts, &new.network_exclude)
            != (&self.config.mounts, &self.config.network_exclude)
        {
            let mut sampler = new_sampler(&new);
            sampler.adopt_mount_probes(&mut self.sampler);
            self.sampler = sampler;
            self.sampler
                .sample_periodic(unix_now(), Some(TOP_SLICE), &mut self.sample);
        } else if (new.top_processes, new.top_every)
            != (self.config.top_processes, self.config.top_every)
        {
            self.sampler.set_top_processes(
                new.top_processes,
                new.top_every,
                &new.root_fs.join("etc/passwd"),
            );
        }
        if new.interval != self.config.interval {
            self.next_sample_at = Instant::now() + new.interval;
        }
        if (new.interval, new.history) != (self.config.interval, self.config.history) {
            // The ring's geometry changed: start a new one (the old points
            // were taken at the old interval).
            self.history = History::new(Instant::now(), new.interval, new.history);
            log::info(format_args!(
                "SIGHUP: interval or history changed; history starts again"
            ));
        }
        let history_moves = (&new.history_tiers, &new.state_dir)
            != (&self.config.history_tiers, &self.config.state_dir);
        // Unguarded in the same state_dir (a new one's lock was taken
        // above): the lock first, as before any opening.
        if history_moves
            && new.state_dir == self.config.state_dir
            && self.state_lock_retry_at.is_some()
            && !new.history_tiers.is_empty()
        {
            self.retry_state_lock(Instant::now());
        }
        if history_moves && !self.state_dir_held_elsewhere {
            if let Some(store) = &mut self.history_file {
                store.flush();
            }
            // Closed (its lock released) before the new one is opened: the
            // same path when only history_tiers changed.
            self.history_file = None;
            self.history_file = open_history_file(&new, Instant::now(), unix_now_ms());
            self.history_file_pending = false;
            self.history_file_retry_at = None;
            // Judged by the new tiers (`off` is no failure).
            if self.history_file.is_none() && !new.history_tiers.is_empty() {
                self.history_file_retry_at = Some(Instant::now() + history_file_retry());
            }
        }
        self.access = access;
        if new.state_dir != self.config.state_dir {
            // The log moves with state_dir; an unclean end is only looked
            // for at start, so what the new place holds raises no alert.
            if let Some(old) = &mut self.boot_log {
                old.stop(unix_now());
            }
            self.boot_log_error = None;
            (self.boot_log, self.boot_log_retry_at) =
                match open_boot_log(&new, &self.sample, Instant::now(), unix_now()) {
                    Ok((log, _)) => (Some(log), None),
                    Err(missing) => (
                        None,
                        boot_log_failed(missing, &mut self.boot_log_error, Instant::now()),
                    ),
                };
            self.metrics
                .set_boots(self.boot_log.as_ref().map(BootLog::summary));
            self.data_json
                .set_boots(self.boot_log.as_ref().map(BootsJson::new));
        } else if let Some(boot_log) = &mut self.boot_log {
            boot_log.set_every(Instant::now(), new.boot_log_every);
        }
        self.alerts.reconfigure(&new.alerts);
        self.backup.reconfigure(&new);
        self.audit.reconfigure(&new);
        self.services.reconfigure(&new.services, Instant::now());
        if new.textfile_path != self.config.textfile_path {
            // node_exporter would export the old file's last values for good.
            self.textfile_writer.retire();
        }
        self.config = new;
        self.data_json.clear();
        self.history_answers.invalidate();
        self.textfile_written_for = None;
        log::info(format_args!(
            "SIGHUP: configuration reloaded from {}",
            file.display()
        ));
        for warning in self.config.settings_without_effect() {
            log::warn(format_args!("SIGHUP: {warning}"));
        }
    }
}

/// Whether sysmon can keep its state in `dir`: made if missing (as at
/// start), a directory, and a file can be made in it (a probe, removed).
fn usable_state_dir(dir: &std::path::Path) -> std::io::Result<()> {
    crate::fsutil::ensure_dir(dir, 0o700)?;
    let probe = dir.join(format!(".sysmon-probe-{}", std::process::id()));
    let _ = std::fs::remove_file(&probe);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("{}: cannot make a file in it: {e}", dir.display()),
            )
        })?;
    std::fs::remove_file(&probe)
}

/// The response scratch kept between answers: enough for any head, and a
/// chunked answer of /metrics, so those allocate nothing once warm.
const RESPONSE_KEEP_BYTES: usize = 256 * 1024;

/// Opens `state_dir/history.db` (see [`crate::history_file`]) and logs what
/// it found; `None` when `history_tiers = off` or the file cannot be had
/// (logged: never a reason to refuse to start).
pub fn open_history_file(config: &Config, now: Instant, unix_ms: u64) -> Option<Store> {
    if config.history_tiers.is_empty() {
        return None;
    }
    let path = config.state_dir.join("history.db");
    if let Err(e) = crate::fsutil::ensure_dir(&config.state_dir, 0o700) {
        log::error(format_args!(
            "history: {e}; running without the history file{RETRY_NOTE}"
        ));
        return None;
    }
    match Store::begin(&path, &config.history_tiers, now, unix_ms) {
        #[cfg_attr(not(debug_assertions), allow(unused_mut))]
        Ok(mut store) => {
            // A test's knob (tests/history/startup.rs), in debug builds only.
            #[cfg(debug_assertions)]
            if let Some(ms) = std::env::var("SYSMON_TEST_HISTORY_OPENING_PAUSE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                store.set_opening_pause(Duration::from_millis(ms));
            }
            Some(store)
        }
        Err(e) => {
            log::error(format_args!(
                "history: {e}; running without the history file{RETRY_NOTE}"
            ));
            None
        }
    }
}

/// What the log says after `running without the history file` (the
/// daemon tries again, [`HISTORY_FILE_RETRY`]).
const RETRY_NOTE: &str = " for now (tried again every 10 minutes)";

/// [`HISTORY_FILE_RETRY`]; in debug builds a test may shorten it
/// (`SYSMON_TEST_HISTORY_RETRY_MS`, `tests/history/second_writer.rs`).
fn history_file_retry() -> Duration {
    retry_after(HISTORY_FILE_RETRY, "SYSMON_TEST_HISTORY_RETRY_MS")
}

/// `default`, or in debug builds the milliseconds a test gives in the
/// environment variable `knob` (release builds read no environment here).
fn retry_after(default: Duration, knob: &str) -> Duration {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(knob).ok().and_then(|v| v.parse().ok()) {
        return Duration::from_millis(ms);
    }
    #[cfg(not(debug_assertions))]
    let _ = knob;
    default
}

/// Logs what the history file's opening found at `path`.
fn log_opened(path: &std::path::Path, opened: &crate::history_file::Opened) {
    if let Some((aside, why)) = &opened.set_aside {
        log::warn(format_args!(
            "history: {} set aside as {} ({why}); starting a new one",
            path.display(),
            aside.display()
        ));
    }
    if let Some(len) = opened.truncated_from {
        log::warn(format_args!(
            "history: {} was cut short at {len} bytes; the points past that are lost, \
             the rest is served",
            path.display()
        ));
    }
    let corrupt: u32 = opened.corrupt_slots.iter().sum();
    if corrupt > 0 {
        log::warn(format_args!(
            "history: {}: {corrupt} corrupt points skipped (torn or changed; never served)",
            path.display()
        ));
    }
    let valid: u32 = opened.valid_slots.iter().sum();
    log::info(format_args!(
        "history: {} ({}{valid} points kept)",
        path.display(),
        if opened.created { "new, " } else { "" }
    ));
}

/// Opens `state_dir/boots.log` (see [`crate::bootlog`]) for the boot in
/// `config.proc_root`, records this one, and logs what it found; with it,
/// the previous boot if it ended without a clean stop. `Err` when there
/// is no boot id (logged) or no place for the log (for the caller to log,
/// [`boot_log_failed`], and try again: never a reason to refuse to start).
///
/// The record is written by a thread of its own: the port answers while
/// the disk syncs it (1.2 ms of a 3.4 ms start here; issue 16). It is as
/// durable as before, written once at start, a millisecond or two later;
/// every later write of the log waits for it. [`Daemon::run`] waits for
/// the thread (and logs a failure) once the loop is first idle (the first
/// wait that ends without a request), before it drops start-up's pages.
pub fn open_boot_log(
    config: &Config,
    sample: &Sample,
    now: Instant,
    unix_now: u64,
) -> Result<(BootLog, Option<crate::bootlog::Unclean>), NoBootLog> {
    let id = match crate::bootlog::read_boot_id(&config.proc_root) {
        Ok(id) => id,
        // Every kernel sysmon runs on has one; a fixture root may not.
        Err(e) => {
            log::info(format_args!(
                "boot log: cannot know this boot ({e}); running without the boot log"
            ));
            return Err(NoBootLog::NoBootId);
        }
    };
    let opened = BootLog::open_unwritten(
        &config.state_dir,
        id,
        sample.boot_time_s,
        now,
        unix_now,
        config.boot_log_every,
    );
    let (mut boot_log, mut opened) = match opened {
        Ok(o) => o,
        Err(e) => return Err(NoBootLog::Failed(crate::owned::text_of(&e))),
    };
    opened.write_error = boot_log.write_start_in_background(boot_log_write_pause());
    let path = boot_log.path().display();
    if let Some((aside, why)) = &opened.set_aside {
        log::warn(format_args!(
            "boot log: {path} set aside as {} ({why}); starting a new one",
            aside.display()
        ));
    }
    if let Some(e) = &opened.write_error {
        log_boot_log_write_error(e, config.boot_log_every);
    }
    match &opened.unclean {
        Some(u) => log::warn(format_args!(
            "boot log: the previous boot {} ended without a clean stop of sysmon \
             (last seen alive at {} unix time)",
            u.boot.id, u.boot.last_seen
        )),
        None if opened.same_boot => log::info(format_args!(
            "boot log: {path}: boot {id} again (sysmon restarted, not a reboot)"
        )),
        None => log::info(format_args!(
            "boot log: {path}: boot {id} recorded ({} boots kept)",
            boot_log.boots().len()
        )),
    }
    Ok((boot_log, opened.unclean))
}

/// Why [`open_boot_log`] gave no log.
pub enum NoBootLog {
    /// The boot has no id (a fixture root): logged, not tried again.
    NoBootId,
    /// No place for the log: the error, not logged yet ([`boot_log_failed`]).
    Failed(String),
}

/// Logs a failure to open the boot log, unless it is the one logged last
/// (`last_error`: a disk absent for days is said once), and gives the time
/// to try again (`None` for a boot without an id).
fn boot_log_failed(
    missing: NoBootLog,
    last_error: &mut Option<String>,
    now: Instant,
) -> Option<Instant> {
    let NoBootLog::Failed(e) = missing else {
        return None;
    };
    if last_error.as_deref() != Some(e.as_str()) {
        log::error(format_args!(
            "boot log: {e}; running without the boot log{RETRY_NOTE}"
        ));
        *last_error = Some(e);
    }
    Some(now + boot_log_retry())
}

/// The lock [`crate::statelock::take`] gave, and when to try again for
/// one it could not make.
fn lock_and_retry(
    taken: crate::statelock::Taken,
    now: Instant,
) -> (Option<crate::statelock::StateLock>, Option<Instant>) {
    match taken {
        crate::statelock::Taken::Held(lock) => (Some(lock), None),
        crate::statelock::Taken::Unguarded { retry } => {
            (None, retry.then(|| now + state_lock_retry()))
        }
    }
}

/// [`STATE_LOCK_RETRY`]; in debug builds a test may shorten it
/// (`SYSMON_TEST_STATE_LOCK_RETRY_MS`, `tests/lifecycle/state_dir_lock.rs`).
fn state_lock_retry() -> Duration {
    retry_after(STATE_LOCK_RETRY, "SYSMON_TEST_STATE_LOCK_RETRY_MS")
}

/// [`BOOT_LOG_RETRY`]; in debug builds a test may shorten it
/// (`SYSMON_TEST_BOOT_LOG_RETRY_MS`, `tests/lifecycle/boot_log.rs`).
fn boot_log_retry() -> Duration {
    retry_after(BOOT_LOG_RETRY, "SYSMON_TEST_BOOT_LOG_RETRY_MS")
}

fn log_boot_log_write_error(e: &std::io::Error, every: Duration) {
    log::error(format_args!(
        "boot log: {e}; kept in memory, tried again every {}",
        crate::config::format_duration(every)
    ));
}

/// How long the boot log's thread waits before writing the start's record:
/// none, but a test's knob in debug builds
/// (`SYSMON_TEST_BOOT_LOG_PAUSE_MS`, `tests/lifecycle/boot_log.rs`), so a
/// test can ask and stop the daemon while the record is not written yet.
fn boot_log_write_pause() -> Duration {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("SYSMON_TEST_BOOT_LOG_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Duration::from_millis(ms);
    }
    Duration::ZERO
}

/// Start-up (arguments, config, bind, the privilege drop, the first
/// sample) runs code the loop never runs again, and the kernel maps a
/// file's pages in windows of up to 64 KiB around each fault. The release
/// build places the loop's code first and start-up's after it
/// (`src/link/hot-text.ld`), so dropping the binary's clean pages once, when
/// start-up is over and the loop first idle ([`Daemon::run`]), leaves
/// resident only the few windows the loop goes on touching (issue 16;
/// README, Performance, *Where the idle RSS goes*).
/// Without that layout it saves next to nothing: the loop maps the
/// scattered windows again within one sample.
///
/// What a refault maps depends on the page cache: fault-around maps every
/// cached page of the window, and on Linux 6.18 every whole folio it
/// touches. A binary just copied (`make install`, `cp`) sits there in
/// 64 KiB folios, one written by `strip` in folios of up to 512 KiB, so
/// the loop's refaults mapped far more than its own pages. So the pages
/// nobody maps any more also leave the page cache, and the mappings are
/// marked as read at random: they come back in 4 KiB folios, and each page
/// of read-only data the loop touches is read alone, so fault-around finds
/// little else cached beside it (the code's faults still read ahead: Linux
/// 6.16 and later ignore the hint on executable mappings). The price is the
/// disk reads of what the loop needs again (a dozen or so major faults, once:
/// the turn after the drop pays the loop's, the first answer after it the
/// answer's).
/// Start-up's deepest pages of the main thread's stack, which the loop never
/// reaches, go as well.
fn release_start_up_pages() {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(exe), Ok(smaps)) = (
        std::fs::read_link("/proc/self/exe"),
        std::fs::read("/proc/self/smaps"),
    ) else {
        return; // no procfs: nothing to measure or drop
    };
    let mut clean = Vec::new();
    let parsed = crate::proc::smaps::clean_mappings_of(&smaps, exe.as_os_str().as_bytes(), |m| {
        clean.push(m)
    });
    if let Err(e) = parsed {
        log::warn(format_args!("/proc/self/smaps: {e}; start-up pages kept"));
        return;
    }
    // Start-up's deepest stack pages too: the loop runs on this (the main)
    // thread at this depth and goes less deep than start-up did.
    if let Some(stack) = crate::proc::smaps::named_mapping(&smaps, b"[stack]") {
        let _ = sys::drop_stack_pages_below_here(stack.start, stack.end);
    }
    // /proc/self/exe opens the file this process runs, even once an
    // upgrade has replaced the path.
    let exe_file = std::fs::File::open("/proc/self/exe");
    let ranges: Vec<(usize, usize)> = clean.iter().map(|m| (m.start, m.end)).collect();
    // Failing leaves the pages resident, which is only what happened before.
    for m in &clean {
        let _ = sys::advise_random_access(m.start, m.end);
        let _ = sys::drop_clean_file_pages(m.start, m.end);
    }
    let evicted = exe_file.and_then(|file| {
        sys::evict_unmapped_file_pages(&file)?;
        // The folios the lines above ran from, mapped again meanwhile.
        sys::drop_and_evict_from_cold_code(&ranges, &file)
    });
    if let Err(e) = evicted {
        log::info(format_args!(
            "{}: {e}; its page cache kept (the loop maps whole cached folios back)",
            exe.display()
        ));
    }
}

/// Asks the kernel for [`LOOP_SLICE`] for the loop's thread (see
/// [`sys::request_thread_slice`]): on a box whose cores are busy, an
/// arriving request then gets the loop onto a CPU sooner (issue 16's
/// busy-box tail). Nothing is lost without it: a kernel before 6.12
/// ignores it silently, and a refusal (a seccomp filter such as
/// `SystemCallFilter=~@resources` without the exception the shipped
/// systemd unit makes for `sched_setattr`) is logged once.
fn ask_for_a_short_slice() {
    match sys::request_thread_slice(LOOP_SLICE) {
        Ok(_) => {}
        Err(e) => log::info(format_args!(
            "scheduler slice: sched_setattr: {e}; the loop keeps the default slice"
        )),
    }
}

/// `user = NAME`: becomes that user, keeping only CAP_DAC_READ_SEARCH for
/// the backup (see [`crate::privileges::drop_privileges`]). An error means the process is
/// possibly half-dropped and must exit.
fn drop_privileges(config: &Config) -> Result<(), String> {
    let Some(account) = config.account()? else {
        return Ok(());
    };
    let fail = |e: String| format!("cannot drop privileges to user `{}`: {e}", account.name);
    if sys::effective_uid() == 0 {
        // Unix sockets were made by root: hand them to the user and its
        // group (mode 0660), as if it had made them, so it can also remove
        // them at exit.
        for listen in &config.listen {
            if let crate::config::Listen::Unix(path) = listen {
                std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid))
                    .map_err(|e| fail(format!("chown {}: {e}", path.display())))?;
            }
        }
    }
    match crate::privileges::drop_privileges(&account)
        .map_err(|e| fail(crate::owned::text_of(&e)))?
    {
        crate::privileges::Dropped::AlreadyThatUser => log::info(format_args!(
            "user = {}: already running as that user",
            account.name
        )),
        crate::privileges::Dropped::Switched { groups } => log::info(format_args!(
            "running as user {} (uid {}, gid {}, groups {groups:?}) with only CAP_DAC_READ_SEARCH",
            account.name, account.uid, account.gid
        )),
    }
    Ok(())
}
