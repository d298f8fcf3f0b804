//! Value parsers and printers shared by the keys: durations, thresholds,
//! counts, switches, paths and listen addresses. Pure: each takes the text
//! after `=` and returns the value or the message that follows
//! `FILE:LINE: key: ` in the error.

use crate::owned::owned;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::Threshold;
use crate::log;

/// A key's value with `base` (the config file's directory) in front when
/// it is relative. A word other keys take ([`KEYWORDS`]: `backup_dir =
/// off` made a directory named `off` beside the config) is refused with
/// `instead`, which says what the user probably meant (`backup_dir takes
/// a path; to turn the backup off write `backup = off``), and how to name
/// such a directory after all (`./off`).
pub(super) fn parse_path(value: &str, base: &Path, instead: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err(owned("expected a path"));
    }
    refuse_nul(value)?;
    if KEYWORDS.iter().any(|w| w.eq_ignore_ascii_case(value)) {
        let value = log::shown(value);
        return Err(format!(
            "`{value}` is a word of this file, not a path: {instead} \
             (for a file or directory named `{value}`, write `./{value}`)"
        ));
    }
    Ok(base.join(value))
}

/// A shell command key's value (`update_command`, `alert_command`). A
/// lone [`NOT_COMMANDS`] word is refused with `instead`: `alert_command =
/// off` ran `/bin/sh -c off` at every alert ("off: not found"). `true`,
/// `false` and `yes` are programs, and taken.
pub(super) fn parse_command(value: &str, instead: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(owned("expected a shell command"));
    }
    refuse_nul(value)?;
    if NOT_COMMANDS.iter().any(|w| w.eq_ignore_ascii_case(value)) {
        return Err(format!(
            "`{}` is a word of this file, not a command: {instead}",
            log::shown(value)
        ));
    }
    Ok(owned(value))
}

/// The words keys take besides their values: switches (`on`, `off`, and
/// `yes`/`no`, `true`/`false`), `auto` (`mounts`, `services`,
/// `update_manager`, `services_runit_dir`) and `none` (`update_manager`).
/// A path key refuses them in any case (`Off` too).
pub(super) const KEYWORDS: [&str; 8] = ["off", "on", "none", "auto", "yes", "no", "true", "false"];

/// The [`KEYWORDS`] no one means as a shell command: `true`, `false` and
/// `yes` are programs (`update_command = true` lists no updates).
pub(super) const NOT_COMMANDS: [&str; 4] = ["off", "on", "none", "auto"];

/// An error for a value with a NUL byte, which no path, socket address or
/// command line can hold (the kernel's strings end there): refused when
/// the file is read, so `check-config` says so, not `run` later.
pub(super) fn refuse_nul(value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("`{}` contains a NUL byte", log::shown(value)));
    }
    Ok(())
}

/// `path` by its text alone, the file system not asked (no symlink is
/// followed): empty and `.` components dropped, each `..` taking away the
/// component before it, `..` at the root staying there as the kernel's
/// does. `//`, `/./` and `/tmp/..` are all `/`; `/etc/` is `/etc`.
pub(super) fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

pub(super) fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Where the dashboard listens: a TCP address or a unix socket path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    /// An absolute path; the socket is created mode 0660.
    Unix(PathBuf),
}

impl Listen {
    /// Reachable from this machine only: a loopback address or a unix socket.
    pub fn is_local(&self) -> bool {
        match self {
            Listen::Tcp(addr) => addr.ip().is_loopback(),
            Listen::Unix(_) => true,
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp(addr) => write!(f, "{addr}"),
            Listen::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Why binding `later` fails with EADDRINUSE once `earlier` is bound and
/// listening, or `None` when Linux lets both be bound: the same address
/// and port (however written: `[::ffff:127.0.0.1]:P` is `127.0.0.1:P`),
/// or a wildcard
/// (`0.0.0.0`, `[::]`) beside any address of its family on its port.
/// `std`'s `TcpListener::bind` sets `SO_REUSEADDR`, which does not let a
/// second socket share a port someone listens on.
///
/// `ipv6_takes_ipv4`: sysmon does not set `IPV6_V6ONLY`, so a `[::]`
/// socket takes IPv4 too unless `net.ipv6.bindv6only` is 1 (Linux's
/// default is 0): then `[::]:P` beside `0.0.0.0:P` or `127.0.0.1:P`
/// fails, and with 1 both bind. Port 0 never overlaps (each bind gets
/// a port of its own). Socket paths are not compared here: one listed
/// twice, `//` and `/./` aside, is refused as it is read.
pub(super) fn listen_overlap(
    earlier: &Listen,
    later: &Listen,
    ipv6_takes_ipv4: bool,
) -> Option<String> {
    let (a, b) = match (earlier, later) {
        (Listen::Tcp(a), Listen::Tcp(b)) if a.port() == b.port() && a.port() != 0 => (a, b),
        _ => return None,
    };
    let port = a.port();
    // Which addresses (IPv4 or IPv6, the unspecified one for "every")
    // each socket takes.
    let takes = |addr: &SocketAddr| -> Vec<IpAddr> {
        match addr.ip() {
            IpAddr::V4(v4) => vec![IpAddr::V4(v4)],
            IpAddr::V6(v6) if v6.is_unspecified() => {
                let mut all = vec![IpAddr::V6(v6)];
                if ipv6_takes_ipv4 {
                    all.push(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                }
                all
            }
            IpAddr::V6(v6) => vec![v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)],
        }
    };
    let family = |ip: &IpAddr| if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    for x in takes(a) {
        for y in takes(b) {
            if x.is_ipv4() != y.is_ipv4() {
                continue;
            }
            let (wildcard, what) = if x.is_unspecified() {
                (a, x)
            } else if y.is_unspecified() {
                (b, y)
            } else if x == y {
                return Some(format!("both take {x} port {port}"));
            } else {
                continue;
            };
            let dual = if wildcard.ip() == Ipv6Addr::UNSPECIFIED && what.is_ipv4() {
                " (a `[::]` socket takes IPv4 too: sysmon does not set IPV6_V6ONLY \
                 and net.ipv6.bindv6only is 0 here)"
            } else {
                ""
            };
            return Some(format!(
                "{wildcard} takes port {port} on every {} address{dual}",
                family(&what)
            ));
        }
    }
    None
}

pub fn parse_listen(value: &str) -> Result<Listen, String> {
    refuse_nul(value)?;
    if value.starts_with('/') {
        if value.len() > 107 {
            // sun_path holds 108 bytes with the terminating NUL
            return Err(format!(
                "`{}` is longer than a unix socket path may be (107 bytes)",
                log::shown(value)
            ));
        }
        return Ok(Listen::Unix(PathBuf::from(owned(value))));
    }
    value.parse().map(Listen::Tcp).map_err(|_| {
        format!(
            "`{}` is not an address such as 127.0.0.1:8080 or [::1]:8080, nor an absolute unix socket path", log::shown(value)
        )
    })
}

pub(super) fn parse_switch(value: &str) -> Result<bool, String> {
    match value {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("`{}` is not on or off", log::shown(value))),
    }
}

/// A whole number from `min` to `max`, digits only: `u32::from_str` also
/// takes a leading `+` (`backup_keep = +5`), which no other number here
/// does.
pub(super) fn parse_count(value: &str, min: u32, max: u32) -> Result<u32, String> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u32>().ok().filter(|_| digits) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{}` is not a whole number from {min} to {max}",
            log::shown(value)
        )),
    }
}

pub(super) fn parse_optional_period(value: &str) -> Result<Option<Duration>, String> {
    if value == "off" {
        return Ok(None);
    }
    let d = parse_duration_or(value, ", or off")?;
    if d < Duration::from_secs(60) {
        return Err(format!(
            "`{}` is too short (at least 1m, or off)",
            log::shown(value)
        ));
    }
    Ok(Some(d))
}

/// `90%`, `95.5% for 5m`, or `off`. The percentage is 0 to 100 with at most
/// one decimal; `for` takes a duration (`0s` fires at the first sample).
pub fn parse_threshold(value: &str) -> Result<Option<Threshold>, String> {
    if value == "off" {
        return Ok(None);
    }
    let bad = || {
        format!(
            "`{}` is not a threshold such as 90%, 95% for 5m, or off",
            log::shown(value)
        )
    };
    let (percent, hold) = match value.split_once(" for ") {
        Some((p, d)) => (p.trim_end(), parse_duration(d.trim_start())?),
        None => (value, Duration::ZERO),
    };
    let number = percent.strip_suffix('%').ok_or_else(bad)?;
    let (whole, tenths) = match number.split_once('.') {
        Some((w, t)) if t.len() == 1 => (w, t),
        Some(_) => return Err(bad()),
        None => (number, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(tenths) {
        return Err(bad());
    }
    let percent = f64::from(whole.parse::<u16>().map_err(|_| bad())?)
        + f64::from(tenths.parse::<u16>().map_err(|_| bad())?) / 10.0;
    if percent > 100.0 {
        return Err(format!(
            "`{}`: a percentage is at most 100%",
            log::shown(value)
        ));
    }
    if hold > Duration::from_secs(86_400) {
        return Err(format!("`{}`: `for` is at most 24h", log::shown(value)));
    }
    Ok(Some(Threshold { percent, hold }))
}

pub fn format_threshold(t: Threshold) -> String {
    format!(
        "{}% for {}",
        crate::float_text::Shortest(t.percent),
        format_duration(t.hold)
    )
}

/// `500ms`, `5s`, `1m`, `2h`, `1d`: a whole number and a unit, nothing else,
/// at most [`MAX_DURATION_DAYS`].
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    parse_duration_or(value, "")
}

/// As [`parse_duration`], for a key that also takes a word: `also` (`",
/// or off"`) ends the error for a value that is no duration, so it names
/// every value the key takes.
pub(super) fn parse_duration_or(value: &str, also: &str) -> Result<Duration, String> {
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let bad = || {
        format!(
            "`{}` is not a duration such as 500ms, 5s, 1m, 2h or 1d{also}",
            log::shown(value)
        )
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let too_long = || {
        format!(
            "`{}` is too long (at most {MAX_DURATION_DAYS}d)",
            log::shown(value)
        )
    };
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(bad()),
    };
    match millis {
        Some(ms) if ms <= MAX_DURATION_DAYS * 86_400_000 => Ok(Duration::from_millis(ms)),
        _ => Err(too_long()),
    }
}

/// The longest duration any key takes: far beyond any sensible setting, and
/// short enough that `Instant::now() + d` can never overflow (which would
/// panic the poll loop).
pub const MAX_DURATION_DAYS: u64 = 36_500;

pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}
