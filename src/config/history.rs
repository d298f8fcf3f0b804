//! The value types of the history keys (`history`, `history_tiers`), owned
//! by the configuration so that config never imports the modules that use
//! them: `crate::history` and `crate::history_file` read these, not the
//! other way round.

use std::fmt::Write as _;
use std::time::Duration;

use crate::log;

/// Most points one series may hold (config validation keeps
/// `history / interval` under this).
pub const MAX_POINTS: usize = 100_000;

/// How many points `window` holds at `interval` (rounded up).
pub fn points_for(interval: Duration, window: Duration) -> usize {
    let n = window.as_nanos().div_ceil(interval.as_nanos().max(1));
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Most tiers a file holds.
pub const MAX_TIERS: usize = 8;

/// One tier: a point every `step_s` seconds, `slots` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierSpec {
    pub step_s: u32,
    pub slots: u32,
}

impl TierSpec {
    pub fn span_s(&self) -> u64 {
        u64::from(self.step_s) * u64::from(self.slots)
    }
}

/// The tiers `history_tiers` gives by default: 1m:2d 10m:30d 1h:365d.
pub const DEFAULT_TIERS: &str = "1m:2d 10m:30d 1h:365d";

/// Tiers as `history_tiers` spells them: `1m:2d 10m:30d`.
pub fn format_tiers(tiers: &[TierSpec]) -> String {
    let mut s = String::new();
    for (i, t) in tiers.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(
            s,
            "{}:{}",
            format_secs(u64::from(t.step_s)),
            format_secs(t.span_s())
        );
    }
    s
}

fn format_secs(s: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s % size == 0 {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

/// The longest step a tier may have, in seconds (a day).
pub const MAX_STEP_S: u32 = 86_400;
/// The most slots (points) a tier may have.
pub const MAX_SLOTS: u32 = 1_000_000;

/// The most points (slots) of all tiers together: a file of at most about
/// 512 MB (512 bytes a point). Each tier may have [`MAX_SLOTS`], and eight
/// of them were a 4 GB file, which sysmon writes whole with zeros when it
/// makes it, reads whole at every start (the opening checks every slot:
/// 2,000 pages at the default tiers, 125,000 here) and, at each change of
/// tiers, sets aside without deleting it.
pub const MAX_POINTS_IN_ALL: u64 = 1_000_000;

/// Parses `STEP:SPAN ...` (`1m:2d 10m:30d 1h:365d`), or `off` (no tiers).
/// Steps from 1 s to 1 d, whole seconds, each dividing its span, no step
/// twice (two tiers of one step hold the same points, one of them for
/// less long); at most [`MAX_TIERS`] tiers, 1,000,000 slots each and
/// [`MAX_POINTS_IN_ALL`] in all.
pub fn parse_tiers(value: &str) -> Result<Vec<TierSpec>, String> {
    if value.trim() == "off" {
        return Ok(Vec::new());
    }
    let mut tiers = Vec::new();
    for part in value.split_whitespace() {
        let bad = || format!("`{}` is not STEP:SPAN such as 1m:2d", log::shown(part));
        let (step, span) = part.split_once(':').ok_or_else(bad)?;
        let step = super::parse::parse_duration(step)?;
        let span = super::parse::parse_duration(span)?;
        if step.subsec_nanos() != 0 || step.as_secs() == 0 || step.as_secs() > u64::from(MAX_STEP_S)
        {
            return Err(format!(
                "`{}`: the step must be whole seconds from 1s to 1d",
                log::shown(part)
            ));
        }
        let (step_s, span_s) = (step.as_secs(), span.as_secs());
        if span.subsec_nanos() != 0 || span_s < step_s || span_s % step_s != 0 {
            return Err(format!(
                "`{}`: the span must be a multiple of the step",
                log::shown(part)
            ));
        }
        let slots = span_s / step_s;
        if slots > u64::from(MAX_SLOTS) {
            return Err(format!(
                "`{}` is {slots} points (at most {MAX_SLOTS})",
                log::shown(part)
            ));
        }
        if let Some(i) = tiers
            .iter()
            .position(|t: &TierSpec| u64::from(t.step_s) == step_s)
        {
            return Err(format!(
                "`{}`: tier {} (`{}`) has the step {} already: one tier per step",
                log::shown(part),
                i + 1,
                format_tiers(&tiers[i..=i]),
                format_secs(step_s)
            ));
        }
        tiers.push(TierSpec {
            step_s: step_s as u32,
            slots: slots as u32,
        });
    }
    if tiers.is_empty() || tiers.len() > MAX_TIERS {
        return Err(format!("1 to {MAX_TIERS} tiers, or off"));
    }
    let points: u64 = tiers.iter().map(|t| u64::from(t.slots)).sum();
    if points > MAX_POINTS_IN_ALL {
        return Err(format!(
            "`{}` is {points} points in all (at most {MAX_POINTS_IN_ALL}, a file of \
             about 512 MB: it is written whole when made and read whole at every start)",
            log::shown(value)
        ));
    }
    Ok(tiers)
}
