//! Which package manager this system has, what sysmon runs for each, and
//! how each one's exit status and output are read.
//!
//! Every command here only reads: sysmon never installs, upgrades or
//! removes. Refreshing the package lists (`apt-get update`, `apk update`,
//! `xbps-install -S`, `dnf --refresh`) happens only with `update_refresh = on`.
//! An audit is a short sequence of steps; [`next`] looks at the steps run
//! so far and says what to run next or what the result is, so the whole
//! decision logic is a pure function, tested without processes.
//!
//! Invariant: an answer is only made of output that backs it. A list step
//! whose stdout was cut at [`child::OUTPUT_CAP`], or had lines and none
//! understood, or whose exit status says updates are pending while none
//! was understood (or says none while it printed some), is a failure
//! naming the command, its exit status and the first line at fault
//! (`unreadable_list`), never "0 updates". Every text of an [`Outcome`] is
//! at most [`quote::MESSAGE_BYTES`] and quotes a child only escaped
//! ([`quote`]).

// `Result<Next, Outcome>` carries a whole `Parsed` in its error: it is made
// once per step decision, so its size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use crate::owned::owned;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::child::{self, Exit, Step, StepRun};
use super::model::Parsed;
use super::{apk, apt, command, dnf, pacman, quote, xbps};
use crate::config::UpdateManager;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manager {
    Pacman,
    Apt,
    Apk,
    Xbps,
    Dnf,
    /// `update_command`, run through `/bin/sh -c`.
    Command(String),
}

impl Manager {
    pub fn name(&self) -> &'static str {
        match self {
            Manager::Pacman => "pacman",
            Manager::Apt => "apt",
            Manager::Apk => "apk",
            Manager::Xbps => "xbps",
            Manager::Dnf => "dnf",
            Manager::Command(_) => "command",
        }
    }
}

/// What `update_manager` resolves to on this system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    Disabled,
    /// `auto` found nothing it knows.
    Unsupported,
    Use(Manager),
}

/// `auto`: the first manager whose program is on `path` and whose database
/// of installed packages exists under `root`. Both are required because
/// Debian packages pacman and apk-tools too, and Fedora ships apt-rpm.
pub fn choose(setting: UpdateManager, command: Option<&str>, root: &Path, path: &OsStr) -> Choice {
    let candidates: [(Manager, &str, &[&str]); 5] = [
        (Manager::Apt, "apt-get", &["var/lib/dpkg/status"]),
        (Manager::Pacman, "pacman", &["var/lib/pacman/local"]),
        (Manager::Apk, "apk", &["lib/apk/db/installed"]),
        (Manager::Xbps, "xbps-install", &["var/db/xbps"]),
        (
            Manager::Dnf,
            "dnf",
            &["var/lib/rpm", "usr/lib/sysimage/rpm"],
        ),
    ];
    let named = |m: Manager| Choice::Use(m);
    match setting {
        UpdateManager::None => Choice::Disabled,
        UpdateManager::Pacman => named(Manager::Pacman),
        UpdateManager::Apt => named(Manager::Apt),
        UpdateManager::Apk => named(Manager::Apk),
        UpdateManager::Xbps => named(Manager::Xbps),
        UpdateManager::Dnf => named(Manager::Dnf),
        UpdateManager::Command => {
            command.map_or(Choice::Unsupported, |c| named(Manager::Command(owned(c))))
        }
        UpdateManager::Auto => {
            if let Some(c) = command {
                return named(Manager::Command(owned(c)));
            }
            candidates
                .into_iter()
                .find(|(_, program, dbs)| {
                    which(program, path).is_some() && dbs.iter().any(|db| root.join(db).exists())
                })
                .map_or(Choice::Unsupported, |(m, _, _)| Choice::Use(m))
        }
    }
}

/// The executable `program` on `path`, like `command -v`.
pub fn which(program: &str, path: &OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The result of one audit attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok {
        parsed: Parsed,
        /// Why the answer may be out of date (the sync failed), if it may.
        stale: Option<String>,
        /// The staleness came from what looks like a missing network: try again later.
        retry: bool,
    },
    Failed {
        error: String,
        /// It looks like the network is not up yet: try again later.
        retry: bool,
    },
}

pub enum Next {
    Run(Step),
    Done(Outcome),
}

/// What to do after `runs` (in order; empty at the start).
pub fn next(manager: &Manager, refresh: bool, path: &OsStr, runs: &[StepRun]) -> Next {
    let step = |program: &str, args: &[&str]| found_step(program, args, path);
    let result = match manager {
        Manager::Apt => apt_next(refresh, runs, &step),
        Manager::Pacman => pacman_next(runs, &step),
        Manager::Apk => apk_next(refresh, runs, &step),
        Manager::Xbps => xbps_next(refresh, runs, &step),
        Manager::Dnf => dnf_next(refresh, runs, &step),
        Manager::Command(line) => command_next(line, runs),
    };
    match result {
        Ok(Next::Done(outcome)) | Err(outcome) => Next::Done(bounded(outcome)),
        Ok(run) => run,
    }
}

/// `program` found on `path`, to run with `args`; or the audit's failure
/// naming why not. Out of line: the managers' steps call it in some 30
/// places, and inlined in each it took about 3 KB of the binary.
#[inline(never)]
fn found_step(program: &str, args: &[&str], path: &OsStr) -> Result<Step, Outcome> {
    let program = which(program, path).ok_or_else(|| Outcome::Failed {
        error: missing(program, path),
        retry: false,
    })?;
    Ok(Step {
        program,
        args: args.iter().map(|s| owned(s)).collect(),
    })
}

/// `outcome` with its texts (error, stale reason, why security is unknown)
/// cut to [`quote::MESSAGE_BYTES`]: each quotes a child at most
/// [`quote::LINE_BYTES`] a line, but may join two commands' failures.
fn bounded(outcome: Outcome) -> Outcome {
    let cut = |text: String| quote::cut(text, quote::MESSAGE_BYTES);
    match outcome {
        Outcome::Ok {
            mut parsed,
            stale,
            retry,
        } => {
            parsed.security_unavailable = parsed.security_unavailable.map(cut);
            Outcome::Ok {
                parsed,
                stale: stale.map(cut),
                retry,
            }
        }
        Outcome::Failed { error, retry } => Outcome::Failed {
            error: cut(error),
            retry,
        },
    }
}

type StepFn<'a> = dyn Fn(&str, &[&str]) -> Result<Step, Outcome> + 'a;

/// Why [`which`] found no `program` on `path`: the first file of that name
/// on it that cannot be run, and why (a broken install is not a missing
/// one), else that it is not installed.
fn missing(program: &str, path: &OsStr) -> String {
    let broken = std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find_map(|candidate| {
            Some(format!(
                "{} {}",
                candidate.display(),
                unrunnable(&candidate)?
            ))
        });
    match (broken, program) {
        (Some(broken), _) => broken,
        (None, "checkupdates") => owned(
            "checkupdates is not installed: install pacman-contrib (sysmon never runs `pacman -Sy` on the live database)",
        ),
        (None, _) => format!("{program} is not installed (not found on PATH)"),
    }
}

/// Why the existing `candidate` cannot be run; `None` when it does not
/// exist or is an executable file.
fn unrunnable(candidate: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let entry = std::fs::symlink_metadata(candidate).ok()?;
    match std::fs::metadata(candidate) {
        Err(e) if entry.file_type().is_symlink() && e.kind() == std::io::ErrorKind::NotFound => {
            let target = std::fs::read_link(candidate).unwrap_or_default();
            Some(format!("is a dangling symlink (to {})", target.display()))
        }
        Err(e) => Some(format!("cannot be examined: {e}")),
        Ok(m) if m.is_dir() => Some(owned("is a directory, not a program")),
        Ok(m) if !m.is_file() => Some(owned("is not a regular file")),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(format!(
            "is not executable (mode {:o})",
            m.permissions().mode() & 0o7777
        )),
        Ok(_) => None,
    }
}

/// The failure of `run`, with what it printed on stderr.
fn failure(run: &StepRun) -> Outcome {
    let (error, retry) = describe_failure(run);
    Outcome::Failed { error, retry }
}

/// What went wrong in `run`, and whether it looks like no network: the
/// command, its exit, and the last lines of its stderr, each quoted
/// ([`quote::line`]) and the whole at most [`quote::MESSAGE_BYTES`].
fn describe_failure(run: &StepRun) -> (String, bool) {
    let mut error = format!("`{}`: {}", run.step.display(), run.exit.describe());
    let detail = last_lines(&run.stderr, 3);
    if !detail.is_empty() {
        error.push_str(": ");
        error.push_str(&detail);
    }
    let stderr = run.stderr_text();
    let retry = !matches!(
        run.exit,
        Exit::TimedOut { .. }
            | Exit::NotStarted(_)
            | Exit::TooMuchOutput
            | Exit::HeldOpen { .. }
            | Exit::SpawnFailed(_)
            | Exit::WaitFailed(_)
    ) && (looks_like_no_network(&stderr)
        || looks_like_no_network(&String::from_utf8_lossy(&run.stdout)));
    (quote::cut(error, quote::MESSAGE_BYTES), retry)
}

/// The last `n` non-blank lines of `output`, each quoted, joined by ` / `.
fn last_lines(output: &[u8], n: usize) -> String {
    let mut lines: Vec<String> = output
        .rsplit(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l))
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .map(|l| quote::line(&l))
        .collect();
    lines.reverse();
    lines.join(" / ")
}

/// Why the list `run` printed is no answer though its exit status says it
/// is one, if it is not: it was cut ([`cut_short`]), or it printed lines
/// and none was understood, or its exit status says updates are pending
/// (`exit_says_updates`: dnf's 100, checkupdates' 0) and none was
/// understood. Output sysmon cannot read is a failure, never "0 updates";
/// a few lines not understood beside the packages are only counted (the
/// log lists them).
fn unreadable_list(run: &StepRun, parsed: &Parsed, exit_says_updates: bool) -> Result<(), Outcome> {
    if let Some(why) = cut_short(run) {
        return Err(not_an_answer(run, &why));
    }
    if !parsed.understood_nothing() {
        return Ok(());
    }
    let why = match parsed.unparsed.first() {
        // Kept escaped and at most 256 bytes: cut, not escaped again.
        Some(first) => format!(
            "but {} understood; first: \"{}\"",
            match parsed.unparsed_count() {
                1 => owned("its one line was not"),
                n => format!("none of its {n} lines was"),
            },
            quote::cut(first.clone(), quote::LINE_BYTES)
        ),
        None if exit_says_updates => format!(
            "which says updates are pending, but no update was understood; {}",
            what_it_printed(run)
        ),
        None => return Ok(()),
    };
    Err(not_an_answer(run, &why))
}

/// Why `run`'s stdout is not all there, if it is not: more than
/// [`child::OUTPUT_CAP`] was printed and the rest dropped, so the last line
/// kept may be cut in the middle (`openssl 3.0.1-1 -> 3`) and a count would
/// fall short. A failure for a list, not a partial answer: /data.json,
/// /metrics and the alerts have no way to say "at least", and no real
/// system has that many updates pending (4 MiB is 50,000 lines of 80
/// bytes), so such output means a broken manager.
fn cut_short(run: &StepRun) -> Option<String> {
    (run.stdout_dropped > 0).then(|| {
        format!(
            "but it printed more than {} MiB ({} bytes more were not kept): the list was cut",
            child::OUTPUT_CAP >> 20,
            run.stdout_dropped
        )
    })
}

/// A note for a step that only completes the list (installed versions,
/// origins), when its output was cut short or it failed.
fn incomplete(what: &str, run: &StepRun) -> Option<String> {
    match (run.code(), cut_short(run)) {
        (Some(0), None) => None,
        (Some(0), Some(why)) => Some(format!("{what} may be missing: {}", unanswered(run, &why))),
        _ => Some(format!(
            "{what} unknown: `{}` {}",
            run.step.display(),
            run.exit.describe()
        )),
    }
}

/// The first non-blank line of stdout, else of stderr, quoted; or that
/// there was none.
fn what_it_printed(run: &StepRun) -> String {
    match (first_line(&run.stdout), first_line(&run.stderr)) {
        (Some(line), _) => format!("first: {}", quote::line(&line)),
        (None, Some(line)) => format!("nothing on stdout; stderr: {}", quote::line(&line)),
        (None, None) => owned("it printed nothing"),
    }
}

fn first_line(output: &[u8]) -> Option<String> {
    output
        .split(|b| *b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .map(|l| String::from_utf8_lossy(l).into_owned())
}

/// `` `command`: exit status N, why ``: a run that exited as one with an
/// answer does but whose output is none.
fn unanswered(run: &StepRun, why: &str) -> String {
    format!("`{}`: {}, {why}", run.step.display(), run.exit.describe())
}

/// The failure of such a run; retried when its stderr looks like no network.
fn not_an_answer(run: &StepRun, why: &str) -> Outcome {
    Outcome::Failed {
        error: unanswered(run, why),
        retry: looks_like_no_network(&run.stderr_text()),
    }
}

/// Messages of apt, pacman/curl, apk, xbps and dnf when the network (or DNS)
/// is not up yet, as at boot. With `LC_ALL=C` they are untranslated.
pub fn looks_like_no_network(text: &str) -> bool {
    const NEEDLES: [&str; 14] = [
        "could not resolve",
        "temporary failure",
        "failed to download",
        "network is unreachable",
        "cannot download repomd",
        "could not connect",
        "connection timed out",
        "no route to host",
        "dns lookup error",
        "network error",
        "transient resolver failure",
        "failed to fetch",
        "cannot fetch updates",
        "temporary error",
    ];
    let lower = text.to_ascii_lowercase();
    NEEDLES.iter().any(|n| lower.contains(n))
}

fn ok(parsed: Parsed) -> Next {
    Next::Done(Outcome::Ok {
        parsed,
        stale: None,
        retry: false,
    })
}

/// With refresh on, a failed refresh still lets the list run against the
/// lists already on disk; the answer is then flagged stale.
/// apt-get update may exit 0 after failing to fetch some lists ("W: Failed
/// to fetch ..."), so a network-looking message counts too; the reason then
/// quotes those lines, not the exit status 0, which is no failure.
fn refresh_problem(refresh_run: Option<&StepRun>) -> Option<(String, bool)> {
    let run = refresh_run?;
    let stderr = run.stderr_text();
    let network = looks_like_no_network(&stderr);
    let (error, retry) = match run.code() {
        Some(0) => {
            let said: Vec<String> = stderr
                .lines()
                .filter(|l| looks_like_no_network(l))
                .take(3)
                .map(quote::line)
                .collect();
            let error = format!("`{}` said {}", run.step.display(), said.join(" / "));
            (error, false)
        }
        _ => describe_failure(run),
    };
    // A refresh is given half of update_timeout (audit::REFRESH_SHARE):
    // say so, or "timed out after 2m30s" reads as a wrong timeout.
    let share = if matches!(run.exit, Exit::TimedOut { .. }) {
        " (a refresh is given half of update_timeout, the list the rest)"
    } else {
        ""
    };
    (run.code() != Some(0) || network).then(|| {
        (
            format!("refreshing the package lists failed: {error}{share}"),
            retry || network,
        )
    })
}

fn finish_with_refresh(parsed: Parsed, refresh_run: Option<&StepRun>) -> Next {
    finish_stale_if(parsed, refresh_run, None)
}

/// As [`finish_with_refresh`], and `stale` for `left_out` (why the manager
/// answered without a repository it could not read, and whether to retry
/// soon) when the refresh itself went well: a list that leaves a
/// repository out is no all-clear.
fn finish_stale_if(
    parsed: Parsed,
    refresh_run: Option<&StepRun>,
    left_out: Option<(String, bool)>,
) -> Next {
    match refresh_problem(refresh_run).or(left_out) {
        Some((why, retry)) => Next::Done(Outcome::Ok {
            parsed,
            stale: Some(why),
            retry,
        }),
        None => ok(parsed),
    }
}

/// apt: `apt-get -s dist-upgrade`, not `upgrade`: dist-upgrade is what
/// `apt list --upgradable` and unattended-upgrades consider pending, while
/// `upgrade` silently keeps back every update that needs a new package
/// (kernel ABI bumps, most often security updates). `Debug::NoLocking`
/// lets it run beside a running apt, and as a non-root user.
///
/// Updates apt keeps back have no `Inst` line. When there are any, a
/// second simulation with phasing off (`Always-Include-Phased-Updates`)
/// tells the ones phasing alone defers (they install there: counted as
/// phased, not pending, as apt does) and where they come from; apt 2.6
/// prints them among the kept back, apt 2.7.11 and later under a phasing
/// heading of their own. If some are still kept back, a third that also
/// ignores holds says where their updates come from.
fn apt_next(refresh: bool, runs: &[StepRun], step: &StepFn) -> Result<Next, Outcome> {
    const LIST: [&str; 4] = ["-s", "-o", "Debug::NoLocking=1", "dist-upgrade"];
    const PHASING_OFF: [&str; 6] = [
        "-s",
        "-o",
        "Debug::NoLocking=1",
        "-o",
        "APT::Get::Always-Include-Phased-Updates=1",
        "dist-upgrade",
    ];
    const PHASING_AND_HOLDS_OFF: [&str; 7] = [
        "-s",
        "-o",
        "Debug::NoLocking=1",
        "-o",
        "APT::Get::Always-Include-Phased-Updates=1",
        "--ignore-hold",
        "dist-upgrade",
    ];
    let first = usize::from(refresh);
    match runs.len() {
        0 if refresh => return Ok(Next::Run(step("apt-get", &["-q", "update"])?)),
        n if n == first => return Ok(Next::Run(step("apt-get", &LIST)?)),
        _ => {}
    }
    let list = &runs[first];
    if list.code() != Some(0) {
        return Err(failure(list));
    }
    let mut parsed = apt_list(list)?;
    let details = parsed.apt.as_mut().expect("apt::parse fills it");
    // The later simulations only sort and add origins: one that fails (a
    // broken dependency apt can resolve only with the holds) leaves the
    // lists as apt printed them and their origins unknown, not the audit failed.
    let mut later = runs[first + 1..].iter();
    // Cut output there leaves some origins unknown: said in a note.
    let mut cut_notes = Vec::new();
    let mut cut_note = |run: &StepRun| {
        if let Some(why) = cut_short(run) {
            cut_notes.push(format!(
                "origins of kept-back updates may be missing: {}",
                unanswered(run, &why)
            ));
        }
    };
    if !details.kept_back.is_empty() || !details.phased.is_empty() {
        let Some(unphased) = later.next() else {
            return Ok(Next::Run(step("apt-get", &PHASING_OFF)?));
        };
        cut_note(unphased);
        let unphased = apt::InstOrigins::of(&unphased.stdout);
        let (phased, kept): (Vec<String>, Vec<String>) = std::mem::take(&mut details.kept_back)
            .into_iter()
            .partition(|name| unphased.get(name).is_some());
        details.kept_back = kept;
        details.phased.extend(phased);
        details.phased_origins = origins_of(&unphased, &details.phased);
    }
    if !details.kept_back.is_empty() {
        let Some(all) = later.next() else {
            return Ok(Next::Run(step("apt-get", &PHASING_AND_HOLDS_OFF)?));
        };
        cut_note(all);
        let all = apt::InstOrigins::of(&all.stdout);
        details.kept_back_origins = origins_of(&all, &details.kept_back);
    }
    cut_notes
        .into_iter()
        .for_each(|note| parsed.push_note(note));
    apt::push_detail_notes(&mut parsed);
    Ok(finish_with_refresh(parsed, refresh.then(|| &runs[0])))
}

/// The simulation `list`, which exited 0, read; a failure when apt said
/// `E:` on stderr (it may exit 0 after "E: The package lists or status
/// file could not be parsed or opened"), when nothing it printed was
/// understood, or when its summary line is missing: apt-get prints
/// `N upgraded, N newly installed, ...` whenever the simulation ran to its
/// end, even with nothing to do.
fn apt_list(list: &StepRun) -> Result<Parsed, Outcome> {
    let errors = String::from_utf8_lossy(&list.stderr);
    if let Some(error) = errors.lines().find(|l| l.starts_with("E:")) {
        let why = format!("but apt reported an error: {}", quote::line(error));
        return Err(not_an_answer(list, &why));
    }
    let parsed = apt::parse(&list.stdout);
    unreadable_list(list, &parsed, false)?;
    if !parsed.apt.as_ref().is_some_and(|d| d.summary_seen) {
        let why = format!(
            "but printed no summary line (`N upgraded, N newly installed, ...`): \
             the simulation did not run to its end; {}",
            what_it_printed(list)
        );
        return Err(not_an_answer(list, &why));
    }
    Ok(parsed)
}

/// The `(origins, arch)` of each of `names` in a simulation (empty where
/// it has no `Inst` line for it).
fn origins_of(simulation: &apt::InstOrigins, names: &[String]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|name| simulation.get(name).cloned().unwrap_or_default())
        .collect()
}

/// pacman: `checkupdates` syncs a private copy of the databases (never the
/// live one). Exit 0: updates (so printing none it understood is a
/// failure); 2: none (so printing anything on stdout is one); 1: failure, except that
/// pacman-contrib before 1.3.0 also exited 1 for "none", with no output at
/// all. A failed sync (no network) is answered from the last synced copy
/// with `--nosync`, flagged stale.
///
/// pacman has no security flag: with updates pending, `arch-audit
/// --upgradable` (Arch's security tracker; [`pacman::ARCH_AUDIT_ARGS`])
/// marks those that fix a CVE. Without arch-audit, or when it fails, the
/// list stands and security is unknown, not zero.
fn pacman_next(runs: &[StepRun], step: &StepFn) -> Result<Next, Outcome> {
    let (audit, runs) = match runs.split_last() {
        Some((last, rest)) if last.step.program.ends_with("arch-audit") => (Some(last), rest),
        _ => (None, runs),
    };
    let next = checkupdates_next(runs, step)?;
    let Next::Done(Outcome::Ok {
        mut parsed,
        stale,
        retry,
    }) = next
    else {
        return Ok(next);
    };
    if !parsed.packages.is_empty() {
        match audit {
            None => match step("arch-audit", &pacman::ARCH_AUDIT_ARGS) {
                Ok(run) => return Ok(Next::Run(run)),
                Err(_) => {
                    parsed.security_unavailable = Some(owned(
                        "arch-audit is not installed: which updates fix security issues is unknown (install arch-audit)",
                    ))
                }
            },
            Some(audit) if audit.code() == Some(0) => {
                if let Some(why) = cut_short(audit) {
                    // Some flags would be missing: unknown, not fewer.
                    parsed.security_unavailable =
                        Some(format!("arch-audit failed: {}", unanswered(audit, &why)));
                } else if pacman::mark_security(&mut parsed, &audit.stdout) == 0 {
                    // Lines, none understood: which fix security issues is
                    // unknown, not "none".
                    if let Some(line) = first_line(&audit.stdout) {
                        let why = format!(
                            "but none of its lines was understood; first: {}",
                            quote::line(&line)
                        );
                        parsed.security_unavailable =
                            Some(format!("arch-audit failed: {}", unanswered(audit, &why)));
                    }
                }
            }
            Some(audit) => {
                parsed.security_unavailable =
                    Some(format!("arch-audit failed: {}", describe_failure(audit).0));
            }
        }
    }
    Ok(Next::Done(Outcome::Ok {
        parsed,
        stale,
        retry,
    }))
}

fn checkupdates_next(runs: &[StepRun], step: &StepFn) -> Result<Next, Outcome> {
    let silent = |run: &StepRun| {
        run.stdout.iter().all(u8::is_ascii_whitespace)
            && run.stderr.iter().all(u8::is_ascii_whitespace)
    };
    match runs {
        [] => Ok(Next::Run(step("checkupdates", &[])?)),
        [run] => match run.code() {
            Some(0 | 2) => Ok(ok(checkupdates_list(run)?)),
            Some(1) if silent(run) => Ok(ok(Parsed::default())),
            Some(1) => Ok(Next::Run(step("checkupdates", &["--nosync"])?)),
            _ => Err(failure(run)),
        },
        [sync, nosync, ..] => {
            let (error, retry) = describe_failure(sync);
            match nosync.code() {
                Some(0 | 2) => Ok(Next::Done(Outcome::Ok {
                    parsed: checkupdates_list(nosync)?,
                    stale: Some(format!(
                        "could not sync, listed from the last synced databases: {error}"
                    )),
                    retry: true,
                })),
                _ => Err(Outcome::Failed {
                    error: format!(
                        "{error}; `checkupdates --nosync` also failed: {}",
                        nosync.exit.describe()
                    ),
                    retry,
                }),
            }
        }
    }
}

/// checkupdates' list from `run`, which exited 0 (updates pending) or 2
/// (none): a failure when the one prints no update it understood or the
/// other prints anything on stdout.
fn checkupdates_list(run: &StepRun) -> Result<Parsed, Outcome> {
    if run.code() == Some(2) {
        return match first_line(&run.stdout) {
            None => Ok(Parsed::default()),
            Some(line) => Err(not_an_answer(
                run,
                &format!(
                    "which says no updates are pending, but it printed {}",
                    quote::line(&line)
                ),
            )),
        };
    }
    let parsed = pacman::parse(&run.stdout);
    unreadable_list(run, &parsed, true)?;
    Ok(parsed)
}

/// apk: `apk version -l '<'`, not `apk upgrade --simulate`: it opens the
/// database read-only (no lock, works beside a running apk and as non-root),
/// and prints its header, then one line per installed package with a newer
/// version; without the header ([`apk::has_header`]) it is no answer.
fn apk_next(refresh: bool, runs: &[StepRun], step: &StepFn) -> Result<Next, Outcome> {
    let list = || step("apk", &["version", "-l", "<"]);
    match runs {
        [] if refresh => Ok(Next::Run(step("apk", &["update"])?)),
        [] => Ok(Next::Run(list()?)),
        [_] if refresh => Ok(Next::Run(list()?)),
        [.., run] if run.code() == Some(0) => {
            let parsed = apk::parse(&run.stdout);
            unreadable_list(run, &parsed, false)?;
            if !apk::has_header(&run.stdout) {
                let why = format!(
                    "but printed no `Installed: Available:` header, which apk prints \
                     before its list: this is not apk's list (a `quiet` in \
                     /etc/apk/config leaves the header out); {}",
                    what_it_printed(run)
                );
                return Err(not_an_answer(run, &why));
            }
            let left_out = apk_index_missing(run).map(|why| (why, false));
            Ok(finish_stale_if(parsed, refresh.then(|| &runs[0]), left_out))
        }
        [.., run] => Err(failure(run)),
    }
}

/// Why apk's answer leaves repositories out, if it does. apk reads the
/// repository indexes `apk update` cached and takes a repository whose
/// index is missing as empty, exiting 0: an image built with `apk add
/// --no-cache`, or a diskless system after a reboot, would say "no update
/// pending" of every package. apk-tools 2.12 and later warn `WARNING:
/// opening from cache URL: No such file or directory`, earlier ones
/// `WARNING: Ignoring APKINDEX.ID.tar.gz: No such file or directory`.
fn apk_index_missing(run: &StepRun) -> Option<String> {
    let stderr = run.stderr_text();
    let line = stderr.lines().find(|l| {
        l.starts_with("WARNING: opening from cache ") || l.starts_with("WARNING: Ignoring ")
    })?;
    Some(format!(
        "apk has no index of a repository (`apk update`, or update_refresh = on, fetches it): {}",
        quote::line(line)
    ))
}

/// xbps: `xbps-install -Mun` syncs the repository index in memory only and
/// dry-runs the update; then `xbps-query -l` for the installed versions.
/// An empty package database ([`xbps::NO_PACKAGES`]) is a failure.
fn xbps_next(refresh: bool, runs: &[StepRun], step: &StepFn) -> Result<Next, Outcome> {
    let offset = usize::from(refresh);
    let (refresh_run, rest) = runs.split_at(offset.min(runs.len()));
    match rest {
        [] if refresh && refresh_run.is_empty() => Ok(Next::Run(step("xbps-install", &["-S"])?)),
        [] => Ok(Next::Run(step("xbps-install", &["-Mun"])?)),
        [list] if list.code() == Some(0) => {
            if xbps::says_no_packages(&list.stdout) {
                return Err(not_an_answer(list, xbps::NO_PACKAGES_WHY));
            }
            unreadable_list(list, &xbps::parse(&list.stdout), false)?;
            Ok(Next::Run(step("xbps-query", &["-l"])?))
        }
        [list] => Err(failure(list)),
        [list, query, ..] => {
            let mut parsed = xbps::parse(&list.stdout);
            if query.code() == Some(0) {
                xbps::parse_installed(&query.stdout).fill_current(&mut parsed);
            }
            if let Some(note) = incomplete("installed versions", query) {
                parsed.push_note(note);
            }
            let left_out = xbps_repository_unread(list)
                .map(|why| (why, looks_like_no_network(&list.stderr_text())));
            Ok(finish_stale_if(parsed, refresh_run.first(), left_out))
        }
    }
}

/// Why xbps's answer leaves a repository out, if it does. With `-M` each
/// repository's index is fetched in memory; one that cannot be fetched is
/// reported by libxbps (`ERROR: [reposync] failed to fetch file `URL':
/// CAUSE`, lib/repo_sync.c) and skipped, and xbps-install goes on with the
/// others and may exit 0: "0 updates pending" would be a false all-clear.
fn xbps_repository_unread(list: &StepRun) -> Option<String> {
    let stderr = list.stderr_text();
    let line = stderr
        .lines()
        .find(|l| l.contains("[reposync] failed to fetch file"))?;
    Some(format!(
        "xbps could not fetch a repository's index and left it out: {}",
        quote::line(line)
    ))
}

/// dnf: `dnf -q check-update` exits 100 with updates (none understood is
/// a failure), 0 without, 1 on error; then `rpm -qa` for the installed versions it does not print, and
/// the security advisories ([`dnf::SECURITY_ARGS`]) for the security flag.
/// A repository it left out unread makes the answer stale ([`dnf_answer`]).
///
/// The advisory list is optional: when it fails (a dnf that does not know
/// the command, metadata it cannot fetch) the list stands without flags and
/// says why. It runs like check-update but without `--refresh`: the
/// metadata check-update has just loaded (or refreshed) is fresh in dnf's
/// cache, so nothing is downloaded twice. Not `-C` either: run as a user,
/// dnf 4 reads that user's cache, but with `-C` root's (dnf(8),
/// `--cacheonly`), which check-update did not read and may be older or
/// missing.
fn dnf_next(refresh: bool, runs: &[StepRun], step: &StepFn) -> Result<Next, Outcome> {
    match runs {
        [] if refresh => Ok(Next::Run(step("dnf", &dnf::CHECK_UPDATE_REFRESH_ARGS)?)),
        [] => Ok(Next::Run(step("dnf", &dnf::CHECK_UPDATE_ARGS)?)),
        [list] => match list.code() {
            Some(100) => {
                unreadable_list(list, &dnf::parse(&list.stdout), true)?;
                Ok(Next::Run(step(
                    "rpm",
                    &["-qa", "--qf", dnf::RPM_QUERYFORMAT],
                )?))
            }
            Some(0) => {
                let parsed = dnf::parse(&list.stdout);
                unreadable_list(list, &parsed, false)?;
                Ok(dnf_answer(parsed, list))
            }
            _ => Err(failure(list)),
        },
        [_, _] => Ok(Next::Run(step("dnf", &dnf::SECURITY_ARGS)?)),
        [list, query, advisories, ..] => {
            let mut parsed = dnf::parse(&list.stdout);
            if query.code() == Some(0) {
                dnf::parse_installed(&query.stdout).fill_current(&mut parsed);
            }
            if let Some(note) = incomplete("installed versions", query) {
                parsed.push_note(note);
            }
            if let (Some(0), Some(why)) = (advisories.code(), cut_short(advisories)) {
                parsed.security_unavailable = Some(unanswered(advisories, &why));
            } else if advisories.code() == Some(0) {
                let list = dnf::parse_security(&advisories.stdout);
                // Lines, none understood: security unknown, not "none".
                let garbled = match (list.advisories.is_empty(), list.unparsed.first()) {
                    (true, Some(first)) => Some(format!(
                        "but none of its lines was understood; first: {}",
                        quote::line(first)
                    )),
                    _ => None,
                };
                dnf::mark_security(&mut parsed, list);
                parsed.security_unavailable = garbled.map(|why| unanswered(advisories, &why));
            } else {
                parsed.security_unavailable = Some(describe_failure(advisories).0);
            }
            Ok(dnf_answer(parsed, list))
        }
    }
}

/// check-update's list, `stale` when dnf left a repository out because it
/// could not read it ([`dnf::skipped_repositories`]): its updates, or
/// that there are none, are unknown, and "0 updates pending" would be a
/// false all-clear. Not a failure: the other repositories answered.
fn dnf_answer(parsed: Parsed, list: &StepRun) -> Next {
    let stderr = list.stderr_text();
    let skipped = dnf::skipped_repositories(&stderr);
    let left_out = (!skipped.is_empty()).then(|| {
        let quoted: Vec<String> = skipped.iter().map(|l| quote::line(l)).collect();
        let why = format!(
            "dnf could not read a repository and left it out: {}",
            quoted.join(" / ")
        );
        (why, looks_like_no_network(&stderr))
    });
    // check-update refreshes in the same run (`--refresh`): no refresh step.
    finish_stale_if(parsed, None, left_out)
}

fn command_next(line: &str, runs: &[StepRun]) -> Result<Next, Outcome> {
    match runs {
        [] => Ok(Next::Run(Step {
            program: PathBuf::from(owned("/bin/sh")),
            args: vec![owned("-c"), owned(line)],
        })),
        [run, ..] if matches!(run.code(), Some(0 | 100)) => {
            let parsed = command::parse(&run.stdout);
            unreadable_list(run, &parsed, false)?;
            Ok(ok(parsed))
        }
        [run, ..] => Err(failure(run)),
    }
}

/// The default search path when the environment has none (init systems
/// differ); the sbin directories matter because some managers live there.
pub fn default_path() -> OsString {
    std::env::var_os("PATH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            OsString::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(program: &str, code: i32, stdout: &str, stderr: &str) -> StepRun {
        StepRun {
            step: Step {
                program: PathBuf::from(program),
                args: vec![],
            },
            exit: Exit::Code(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            stdout_dropped: 0,
            stderr_dropped: 0,
            duration: Duration::ZERO,
        }
    }

    fn done(n: Next) -> Outcome {
        match n {
            Next::Done(o) => o,
            Next::Run(s) => panic!("wanted a result, got a step {s:?}"),
        }
    }

    #[test]
    fn pacman_exit_codes() {
        let path = OsStr::new("/nonexistent");
        let none = Outcome::Ok {
            parsed: Parsed::default(),
            stale: None,
            retry: false,
        };
        assert_eq!(
            done(next(
                &Manager::Pacman,
                false,
                path,
                &[run("checkupdates", 2, "", "")]
            )),
            none
        );
        // pacman-contrib < 1.3.0: exit 1, silent, means none.
        assert_eq!(
            done(next(
                &Manager::Pacman,
                false,
                path,
                &[run("checkupdates", 1, "\n", "")]
            )),
            none
        );
        // A missing checkupdates points to pacman-contrib.
        let Outcome::Failed {
            error,
            retry: false,
        } = done(next(&Manager::Pacman, false, path, &[]))
        else {
            panic!()
        };
        assert!(error.contains("pacman-contrib"), "{error}");
        let sync_failed = run("checkupdates", 1, "", "==> ERROR: Cannot fetch updates\n");
        let stale = done(next(
            &Manager::Pacman,
            false,
            path,
            &[
                sync_failed.clone(),
                run("checkupdates", 0, "a 1-1 -> 1-2\n", ""),
            ],
        ));
        let Outcome::Ok {
            parsed,
            stale: Some(why),
            retry: true,
        } = stale
        else {
            panic!("{stale:?}")
        };
        assert_eq!(parsed.packages.len(), 1);
        assert!(why.contains("Cannot fetch updates"), "{why}");
        let both = done(next(
            &Manager::Pacman,
            false,
            path,
            &[sync_failed, run("checkupdates", 1, "", "boom")],
        ));
        assert!(
            matches!(both, Outcome::Failed { retry: true, .. }),
            "{both:?}"
        );
    }

    #[test]
    fn dnf_and_command_exit_codes() {
        let path = OsStr::new("/nonexistent");
        let failed = done(next(
            &Manager::Dnf,
            false,
            path,
            &[run(
                "dnf",
                1,
                "",
                "Error: Failed to download metadata for repo 'fedora': Cannot download repomd.xml",
            )],
        ));
        assert!(
            matches!(failed, Outcome::Failed { retry: true, .. }),
            "{failed:?}"
        );
        let none = done(next(&Manager::Dnf, false, path, &[run("dnf", 0, "", "")]));
        assert!(matches!(none, Outcome::Ok { ref parsed, .. } if parsed.packages.is_empty()));
        let cmd = Manager::Command("x".into());
        assert!(matches!(
            done(next(&cmd, false, path, &[run("sh", 100, "a 1 -> 2\n", "")])),
            Outcome::Ok { .. }
        ));
        assert!(matches!(
            done(next(&cmd, false, path, &[run("sh", 3, "", "nope")])),
            Outcome::Failed { retry: false, .. }
        ));
    }

    /// check-update, rpm, then the advisory list: flags from the list; a
    /// failed list (even one that looks like no network) leaves the audit
    /// ok, not retried, and says why the flags are missing.
    #[test]
    fn dnf_security_step_is_optional() {
        let path = OsStr::new("/nonexistent");
        let fixture = |case: &str, file: &str| {
            std::fs::read_to_string(format!(
                "{}/tests/fixtures/audit/dnf/{case}/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let list = run("dnf", 100, &fixture("updates", "stdout"), "");
        let query = run("rpm", 0, &fixture("installed", "stdout"), "");
        let advisories = run("dnf", 0, &fixture("security", "stdout"), "");
        let Outcome::Ok {
            parsed,
            stale: None,
            retry: false,
        } = done(next(
            &Manager::Dnf,
            false,
            path,
            &[list.clone(), query.clone(), advisories],
        ))
        else {
            panic!()
        };
        assert_eq!((parsed.packages.len(), parsed.security_count()), (5, 3));
        assert_eq!(parsed.security_unavailable, None);
        assert_eq!(parsed.security_summary(), "3 security");

        for (code, stderr) in [
            (2, fixture("security-unsupported", "stderr")),
            (1, fixture("offline", "stderr")),
        ] {
            let failed = run("dnf", code, "", &stderr);
            let outcome = done(next(
                &Manager::Dnf,
                false,
                path,
                &[list.clone(), query.clone(), failed],
            ));
            let Outcome::Ok {
                parsed,
                stale: None,
                retry: false,
            } = outcome
            else {
                panic!("{outcome:?}")
            };
            assert_eq!((parsed.packages.len(), parsed.security_count()), (5, 0));
            let why = parsed.security_unavailable.as_deref().unwrap();
            assert!(
                why.contains(&format!("exit status {code}: "))
                    && why.contains(stderr.lines().last().unwrap().trim()),
                "{why}"
            );
            assert_eq!(parsed.security_summary(), "security unknown");
        }
    }

    /// The hostile-input sweep's cases: output the parsers do not
    /// understand, or an exit status it contradicts, was "0 updates, ok".
    /// Each is a failure naming the command, its exit status and the first
    /// line at fault; lines not understood beside packages stay a warning.
    #[test]
    fn output_not_understood_is_a_failure_never_zero_updates() {
        let path = OsStr::new("/nonexistent");
        let fixture = |case: &str| {
            let bytes = std::fs::read(format!(
                "{}/tests/fixtures/audit/{case}/stdout",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let sync_failed = run("checkupdates", 1, "", "==> ERROR: Cannot fetch updates\n");
        let apt_none = fixture("apt/none");
        let failures: Vec<(Manager, Vec<StepRun>, &str)> = vec![
            (
                Manager::Pacman,
                vec![run("checkupdates", 0, "", "")],
                "exit status 0, which says updates are pending, but no update was understood; it printed nothing",
            ),
            (
                Manager::Pacman,
                vec![run(
                    "checkupdates",
                    0,
                    "\n",
                    "==> ERROR: Cannot fetch updates\n",
                )],
                "no update was understood; nothing on stdout; stderr: \"==> ERROR: Cannot fetch updates\"",
            ),
            (
                Manager::Pacman,
                vec![run("checkupdates", 0, "error: boom\n<html>\n", "")],
                "exit status 0, but none of its 2 lines was understood; first: \"error: boom\"",
            ),
            (
                Manager::Pacman,
                vec![run("checkupdates", 2, "linux 1-1 -> 1-2\n", "")],
                "exit status 2, which says no updates are pending, but it printed \"linux 1-1 -> 1-2\"",
            ),
            (
                Manager::Pacman,
                vec![sync_failed, run("checkupdates", 0, "garbage\n", "")],
                "`checkupdates`: exit status 0, but its one line was not understood; first: \"garbage\"",
            ),
            (
                Manager::Dnf,
                vec![run("dnf", 100, "", "")],
                "exit status 100, which says updates are pending, but no update was understood; it printed nothing",
            ),
            (
                Manager::Dnf,
                vec![run(
                    "dnf",
                    100,
                    "kernel.x86_64   6.9.7 200.fc40   updates\n",
                    "",
                )],
                "exit status 100, but its one line was not understood; first: \"kernel.x86_64   6.9.7 200.fc40   updates\"",
            ),
            (
                Manager::Dnf,
                vec![run("dnf", 0, "Error: cache\n", "")],
                "exit status 0, but its one line was not understood",
            ),
            (
                Manager::Apt,
                vec![run("apt-get", 0, "Segfault\n<html>\n", "")],
                "exit status 0, but none of its 2 lines was understood; first: \"Segfault\"",
            ),
            (
                Manager::Apt,
                vec![run(
                    "apt-get",
                    0,
                    &apt_none,
                    "W: Some index files failed to download.\nE: The package lists or status file could not be parsed or opened.\n",
                )],
                "exit status 0, but apt reported an error: \"E: The package lists or status file could not be parsed or opened.\"",
            ),
            (
                Manager::Apt,
                vec![run("apt-get", 0, "", "")],
                "exit status 0, but printed no summary line (`N upgraded, N newly installed, ...`): the simulation did not run to its end; it printed nothing",
            ),
            (
                Manager::Apk,
                vec![run("apk", 0, "ERROR: Unable to lock database\n", "")],
                "exit status 0, but its one line was not understood; first: \"ERROR: Unable to lock database\"",
            ),
            (
                Manager::Xbps,
                vec![run("xbps-install", 0, "ERROR: [reposync] failed\n", "")],
                "exit status 0, but its one line was not understood",
            ),
            (
                Manager::Command("x".into()),
                vec![run("sh", 0, "3 packages can be upgraded\n", "")],
                "exit status 0, but its one line was not understood",
            ),
        ];
        for (manager, runs, wanted) in failures {
            let outcome = done(next(&manager, false, path, &runs));
            let Outcome::Failed { error, .. } = &outcome else {
                panic!("{manager:?} {runs:?}: {outcome:?}")
            };
            assert!(
                error.contains(wanted),
                "{manager:?}: {error}\nwanted {wanted}"
            );
        }

        // Answers that stand: nothing printed where that means none, and
        // lines not understood beside packages (counted, not fatal).
        let answers: Vec<(Manager, Vec<StepRun>, u64)> = vec![
            (Manager::Pacman, vec![run("checkupdates", 2, "\n", "")], 0),
            (
                Manager::Pacman,
                vec![run("checkupdates", 0, &fixture("pacman/garbage"), "")],
                1,
            ),
            (Manager::Dnf, vec![run("dnf", 0, "", "")], 0),
            (
                Manager::Apt,
                vec![run("apt-get", 0, &apt_none, "W: x\n")],
                0,
            ),
            (
                Manager::Apk,
                vec![run("apk", 0, &fixture("apk/none"), "")],
                0,
            ),
            (
                Manager::Command("x".into()),
                vec![run("sh", 0, "# none\n", "")],
                0,
            ),
        ];
        for (manager, runs, count) in answers {
            let outcome = done(next(&manager, false, path, &runs));
            let Outcome::Ok { parsed, .. } = &outcome else {
                panic!("{manager:?} {runs:?}: {outcome:?}")
            };
            assert_eq!(parsed.count(), count, "{manager:?}");
        }
    }

    /// arch-audit and dnf's advisory list exiting 0 with lines none of
    /// which is understood: security unknown, not 0.
    #[test]
    fn a_security_list_not_understood_makes_security_unknown() {
        let path = OsStr::new("/nonexistent");
        let pending = run("checkupdates", 0, "openssl 3.0.1-1 -> 3.0.15-1\n", "");
        let garbage = run("arch-audit", 0, "error: could not fetch all.json\n", "");
        let Outcome::Ok { parsed, .. } = done(next(
            &Manager::Pacman,
            false,
            path,
            &[pending.clone(), garbage],
        )) else {
            panic!()
        };
        let why = parsed.security_unavailable.as_deref().unwrap_or_default();
        assert!(
            why.contains("exit status 0, but none of its lines was understood; first: \"error: could not fetch all.json\""),
            "{why}"
        );
        let none = run("arch-audit", 0, "", "");
        let Outcome::Ok { parsed, .. } =
            done(next(&Manager::Pacman, false, path, &[pending, none]))
        else {
            panic!()
        };
        assert_eq!(
            (
                parsed.security_unavailable.as_deref(),
                parsed.security_count()
            ),
            (None, 0)
        );

        let list = run("dnf", 100, "kernel.x86_64 6.9.7-200.fc40 updates\n", "");
        let query = run("rpm", 0, "", "");
        let advisories = run("dnf", 0, "<html>502</html>\n", "");
        let Outcome::Ok { parsed, .. } =
            done(next(&Manager::Dnf, false, path, &[list, query, advisories]))
        else {
            panic!()
        };
        let why = parsed.security_unavailable.as_deref().unwrap_or_default();
        assert!(why.contains("first: \"<html>502</html>\""), "{why}");
    }

    /// The sweep: 300,000 valid lines were counted 104,857 "ok" (the 4 MiB
    /// kept), the last one cut in the middle and taken as valid. A list
    /// cut at the cap fails; a step that only completes it leaves a note
    /// or makes security unknown.
    #[test]
    fn output_cut_at_the_cap_is_no_answer() {
        let path = OsStr::new("/nonexistent");
        let cut = |mut run: StepRun| {
            run.stdout_dropped = 1000;
            run
        };
        for (manager, list) in [
            (
                Manager::Pacman,
                run(
                    "checkupdates",
                    0,
                    "linux 1-1 -> 1-2\nopenssl 3.0.1-1 -> 3",
                    "",
                ),
            ),
            (
                Manager::Dnf,
                run("dnf", 100, "kernel.x86_64 6.9.7-200.fc40 updates\n", ""),
            ),
            (Manager::Command("x".into()), run("sh", 0, "a 1 -> 2\n", "")),
            (
                Manager::Apk,
                run("apk", 0, "busybox-1.36.1-r15 < 1.36.1-r16\n", ""),
            ),
        ] {
            let outcome = done(next(&manager, false, path, &[cut(list)]));
            let Outcome::Failed { error, .. } = &outcome else {
                panic!("{manager:?}: {outcome:?}")
            };
            assert!(
                error.contains(
                    "exit status 0, but it printed more than 4 MiB (1000 bytes more were not kept): the list was cut"
                ) || error.contains("exit status 100, but it printed more than 4 MiB"),
                "{error}"
            );
        }

        let pending = run("checkupdates", 0, "openssl 3.0.1-1 -> 3.0.15-1\n", "");
        let audit = cut(run("arch-audit", 0, "openssl|CVE-2024-1\n", ""));
        let Outcome::Ok { parsed, .. } =
            done(next(&Manager::Pacman, false, path, &[pending, audit]))
        else {
            panic!()
        };
        let why = parsed.security_unavailable.as_deref().unwrap_or_default();
        assert!(why.contains("the list was cut"), "{why}");

        let list = run("dnf", 100, "kernel.x86_64 6.9.7-200.fc40 updates\n", "");
        let query = cut(run("rpm", 0, "kernel.x86_64 0:6.9.6-200.fc40\n", ""));
        let advisories = cut(run("dnf", 0, "", ""));
        let Outcome::Ok { parsed, .. } =
            done(next(&Manager::Dnf, false, path, &[list, query, advisories]))
        else {
            panic!()
        };
        assert_eq!(parsed.packages[0].current, "6.9.6-200.fc40");
        assert!(
            parsed.notes.iter().any(|n| n.starts_with("installed versions may be missing: `rpm`: exit status 0, but it printed more than 4 MiB")),
            "{:?}",
            parsed.notes
        );
        let why = parsed.security_unavailable.as_deref().unwrap_or_default();
        assert!(why.contains("the list was cut"), "{why}");
    }

    /// A `checkupdates` that cannot be run was reported "not installed:
    /// install pacman-contrib". Each is named with its cause; a later
    /// working one on PATH is still used.
    #[test]
    fn a_broken_program_is_named_not_reported_missing() {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("sysmon-managers-broken-{}", std::process::id()));
        let (first, second) = (dir.join("a"), dir.join("b"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let program = first.join("checkupdates");
        let error = |path: &Path| match done(next(&Manager::Pacman, false, path.as_os_str(), &[])) {
            Outcome::Failed { error, .. } => error,
            other => panic!("{other:?}"),
        };
        assert!(error(&first).starts_with("checkupdates is not installed: install pacman-contrib"));

        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            error(&first),
            format!("{} is not executable (mode 644)", program.display())
        );

        std::fs::remove_file(&program).unwrap();
        std::fs::create_dir(&program).unwrap();
        assert_eq!(
            error(&first),
            format!("{} is a directory, not a program", program.display())
        );

        std::fs::remove_dir(&program).unwrap();
        std::os::unix::fs::symlink("/nonexistent/checkupdates", &program).unwrap();
        assert_eq!(
            error(&first),
            format!(
                "{} is a dangling symlink (to /nonexistent/checkupdates)",
                program.display()
            )
        );

        // A working one further on PATH is used.
        let working = second.join("checkupdates");
        std::fs::write(&working, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&working, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&first, &second]).unwrap();
        match next(&Manager::Pacman, false, &path, &[]) {
            Next::Run(step) => assert_eq!(step.program, working),
            Next::Done(outcome) => panic!("{outcome:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// 8 MB of stderr without a newline made a 4 MB error, and what the
    /// child wrote went out raw: now each line is quoted escaped, at most
    /// [`quote::LINE_BYTES`], the whole at most [`quote::MESSAGE_BYTES`].
    #[test]
    fn a_failure_quotes_stderr_escaped_and_bounded() {
        let mut stderr = b"first\n\x1b]0;owned\x07\r\n\n".to_vec();
        stderr.extend(std::iter::repeat_n(b'E', 8_000_000));
        let failed = StepRun {
            stderr,
            ..run("checkupdates", 3, "", "")
        };
        let path = OsStr::new("/nonexistent");
        let Outcome::Failed { error, .. } = done(next(&Manager::Pacman, false, path, &[failed]))
        else {
            panic!()
        };
        assert!(error.len() <= quote::MESSAGE_BYTES, "{} bytes", error.len());
        assert!(
            error.starts_with(
                "`checkupdates`: exit status 3: \"first\" / \"\\x1b]0;owned\\x07\" / \"EEE"
            ),
            "{error}"
        );
        assert!(error.ends_with("EE…\""), "{error}");
        assert!(!error.contains(char::is_control), "{error:?}");
    }

    #[test]
    fn network_messages() {
        assert!(looks_like_no_network(
            "E: Failed to fetch http://deb.debian.org/...  Temporary failure resolving 'deb.debian.org'"
        ));
        assert!(looks_like_no_network(
            "error: failed retrieving file 'core.db' from mirror : Could not resolve host: mirror"
        ));
        assert!(!looks_like_no_network(
            "E: Unable to correct problems, you have held broken packages."
        ));
    }

    /// `apt-get update` that could not fetch a list still exits 0 (the
    /// real capture tests/fixtures/audit/apt/update-offline): the stale
    /// reason said "`apt-get -q update`: exit status 0: ...", as if the
    /// status were the failure. It quotes the lines that made it stale.
    #[test]
    fn a_refresh_that_exited_0_is_stale_for_what_it_said_not_its_status() {
        let path = OsStr::new("/nonexistent");
        let fixture = |case: &str, file: &str| {
            std::fs::read_to_string(format!(
                "{}/tests/fixtures/audit/apt/{case}/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let mut refresh = run("apt-get", 0, "", &fixture("update-offline", "stderr"));
        refresh.step.args = vec!["-q".into(), "update".into()];
        let runs = [refresh, run("apt-get", 0, &fixture("none", "stdout"), "")];
        let outcome = done(next(&Manager::Apt, true, path, &runs));
        let (_, why) = stale_answer(&outcome);
        assert_eq!(
            why,
            "refreshing the package lists failed: `apt-get -q update` said \"W: Failed to fetch \
             http://deb.nonexistent.invalid/debian/dists/bookworm/InRelease  Could not resolve \
             'deb.nonexistent.invalid'\" / \"W: Some index files failed to download. They have \
             been ignored, or old ones used instead.\""
        );
        assert!(matches!(outcome, Outcome::Ok { retry: true, .. }));
    }

    /// apk prints its `Installed: Available:` header on stdout before the
    /// list whenever it runs at its default verbosity (apk-tools
    /// app_version.c, 2.7 to 3.0: `if (apk_verbosity > 0)` / `apk_msg`), so
    /// an exit 0 without it (nothing at all, or lines without it) is not
    /// apk's list: it said "0 updates pending", fresh (update-audit loose
    /// ends, 2026-12-04). Now a failure naming the missing header.
    #[test]
    fn apk_output_without_its_header_is_no_answer() {
        let path = OsStr::new("/nonexistent");
        for (stdout, first) in [
            ("", "it printed nothing"),
            ("\n", "it printed nothing"),
            (
                "busybox-1.36.1-r15                      < 1.36.1-r16 \n",
                "first: \"busybox-1.36.1-r15                      < 1.36.1-r16\"",
            ),
        ] {
            let outcome = done(next(
                &Manager::Apk,
                false,
                path,
                &[run("apk", 0, stdout, "")],
            ));
            let Outcome::Failed {
                error,
                retry: false,
            } = &outcome
            else {
                panic!("{stdout:?}: {outcome:?}")
            };
            assert_eq!(
                error,
                &format!(
                    "`apk`: exit status 0, but printed no `Installed: Available:` header, \
                     which apk prints before its list: this is not apk's list \
                     (a `quiet` in /etc/apk/config leaves the header out); {first}"
                )
            );
        }
    }

    /// The list and the reason of a stale answer; panics on any other.
    fn stale_answer(outcome: &Outcome) -> (&Parsed, &str) {
        match outcome {
            Outcome::Ok {
                parsed,
                stale: Some(why),
                ..
            } => (parsed, why),
            _ => panic!("not stale: {outcome:?}"),
        }
    }

    /// A real dnf 4.14 with `skip_if_unavailable=True` leaves out a
    /// repository it cannot read and exits 0 (or 100 with the others'
    /// updates): the audit said "0 updates pending", fresh (update-audit
    /// review, 2026-12-04). Now stale, quoting dnf's lines naming the
    /// repository. Fixtures: tests/fixtures/audit/dnf/skipped-repository*
    /// (see SOURCE).
    #[test]
    fn dnf_leaving_out_a_repository_is_stale_not_all_clear() {
        let path = OsStr::new("/nonexistent");
        let fixture = |case: &str, file: &str| {
            std::fs::read_to_string(format!(
                "{}/tests/fixtures/audit/dnf/{case}/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let list = |case: &str| {
            let code = fixture(case, "exit").trim().parse().unwrap();
            run(
                "dnf",
                code,
                &fixture(case, "stdout"),
                &fixture(case, "stderr"),
            )
        };
        let cases = [
            (vec![list("skipped-repository")], "broken", 0),
            (
                vec![
                    list("skipped-repository-updates"),
                    run("rpm", 0, "", ""),
                    run("dnf", 0, "", ""),
                ],
                "broken",
                4,
            ),
            (
                vec![
                    list("skipped-repository-corrupt"),
                    run("rpm", 0, "", ""),
                    run("dnf", 0, "", ""),
                ],
                "bad",
                4,
            ),
        ];
        for (runs, repo, count) in cases {
            let outcome = done(next(&Manager::Dnf, false, path, &runs));
            let (parsed, why) = stale_answer(&outcome);
            assert_eq!(parsed.count(), count, "{repo}");
            let wanted = format!(
                "dnf could not read a repository and left it out: \"Ignoring repositories: {repo}\" / \"Error: Failed to download metadata for repo '{repo}': "
            );
            assert!(why.starts_with(&wanted), "{why}");
        }
        // Another line on stderr leaves the answer as it is.
        let runs = [run(
            "dnf",
            0,
            "",
            "Failed to set locale, defaulting to C.UTF-8\n",
        )];
        let outcome = done(next(&Manager::Dnf, false, path, &runs));
        assert!(
            matches!(outcome, Outcome::Ok { stale: None, .. }),
            "{outcome:?}"
        );
    }

    /// xbps-install -Mun skips a repository whose index it cannot fetch
    /// (libxbps reports it and goes on, lib/repo_sync.c; the line as in
    /// Void's handbook, "Errors while updating or installing packages")
    /// and may exit 0: that was "0 updates pending", fresh (update-audit
    /// review, 2026-12-04). Now stale, the line quoted.
    #[test]
    fn xbps_leaving_out_a_repository_is_stale_not_all_clear() {
        let path = OsStr::new("/nonexistent");
        let error = "ERROR: [reposync] failed to fetch file `https://repo-default.voidlinux.org/current/nonfree/x86_64-repodata': Not Found\n";
        let runs = [
            run("xbps-install", 0, "", error),
            run("xbps-query", 0, "", ""),
        ];
        let outcome = done(next(&Manager::Xbps, false, path, &runs));
        let (parsed, why) = stale_answer(&outcome);
        assert_eq!(parsed.packages.len(), 0);
        assert!(why.contains(error.trim_end()), "{why}");
        let runs = [run("xbps-install", 0, "", ""), run("xbps-query", 0, "", "")];
        let outcome = done(next(&Manager::Xbps, false, path, &runs));
        assert!(
            matches!(outcome, Outcome::Ok { stale: None, .. }),
            "{outcome:?}"
        );
    }

    /// apk without the cached index of a repository takes it as empty and
    /// exits 0: an Alpine image built with `apk add --no-cache` printed the
    /// header alone, and the audit said "0 updates pending". It is stale,
    /// with the warning quoted, in both wordings (hostile-input sweep 2,
    /// 2026-12-04). Messages as apk prints them (apk-tools 2.14 in Alpine
    /// 3.19 to 3.22 containers; ish-app/ish issue 194 for the older one).
    #[test]
    fn apk_without_a_repository_index_is_stale_not_all_clear() {
        let path = OsStr::new("/nonexistent");
        let none = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/audit/apk/none/stdout"
        ))
        .unwrap();
        for warning in [
            "WARNING: opening from cache https://dl-cdn.alpinelinux.org/alpine/v3.22/main: No such file or directory\n",
            "WARNING: Ignoring APKINDEX.adfa7ceb.tar.gz: No such file or directory\n",
        ] {
            let runs = [run("apk", 0, &none, warning)];
            let outcome = done(next(&Manager::Apk, false, path, &runs));
            let (parsed, why) = stale_answer(&outcome);
            assert_eq!(parsed.packages.len(), 0);
            assert!(why.contains(warning.trim_end()), "{why}");
        }
        // Warnings of another kind leave the answer as it is.
        let runs = [run("apk", 0, &none, "WARNING: something else\n")];
        let outcome = done(next(&Manager::Apk, false, path, &runs));
        assert!(
            matches!(outcome, Outcome::Ok { stale: None, .. }),
            "{outcome:?}"
        );
    }
}
