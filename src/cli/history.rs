//! `sysmon history --range 7d [--json]`: print the long history from
//! `state_dir/history.db` while the daemon runs (or not). It only reads:
//! each point is checked by its CRC and bucket, so a page the daemon is
//! writing at that moment is a gap, never a wrong figure. Exit 0 when the
//! file was read, 1 when it cannot be, 2 for a bad range, points or config.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use crate::float_text::Fixed;
use crate::history_file::{self, Range};
use crate::log;

#[derive(FromArgs)]
#[argh(subcommand, name = "history")]
/// print the long history kept in state_dir/history.db
pub struct HistoryArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// how far back: 1h, 1d, 7d, 30d or 1y (default 1d)
    #[argh(option, default = "String::from(\"1d\")")]
    pub range: String,
    /// most points to print, 1 to 100000 (default: one per tier step, at
    /// most 1500)
    #[argh(option)]
    pub points: Option<usize>,
    /// print the /history.json?range= answer instead of a table
    #[argh(switch)]
    pub json: bool,
}

pub fn history(args: HistoryArgs) -> Result<ExitCode, ExitCode> {
    let config = super::load_config(args.config.as_deref(), None, None)?;
    let Some((_, range_s)) = crate::http::RANGES.iter().find(|(n, _)| *n == args.range) else {
        log::error(format_args!(
            "--range {}: use 1h, 1d, 7d, 30d or 1y",
            args.range
        ));
        return Err(ExitCode::from(2));
    };
    // What `/history.json?points=` takes: 0 printed one point for the
    // whole range.
    let max_points = crate::history::MAX_POINTS;
    if let Some(points) = args.points.filter(|p| !(1..=max_points).contains(p)) {
        log::error(format_args!("--points {points}: use 1 to {max_points}"));
        return Err(ExitCode::from(2));
    }
    let path = config.state_dir.join("history.db");
    let (file, tiers, names) = match history_file::open_read_only(&path) {
        Ok(opened) => opened,
        Err(e) => {
            log::error(format_args!("history: {e}"));
            return Ok(ExitCode::from(1));
        }
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let read = if args.json {
        // What the daemon serves, as far as it is written (the daemon's
        // unwritten batch and step in progress are in its memory only).
        let mut out = String::new();
        history_file::render_range(
            &file,
            &tiers,
            &names,
            u64::from(*range_s),
            args.points,
            now_ms,
            history_file::Held::default(),
            &mut out,
        )
        .map(|()| {
            out.push('\n');
            out
        })
    } else {
        history_file::read_range(
            &file,
            &tiers,
            &names,
            u64::from(*range_s),
            args.points,
            now_ms,
        )
        .map(|range| table(&range))
    };
    match read {
        Ok(out) => super::emit(&out)?,
        Err(e) => {
            log::error(format_args!("history: {}: read: {e}", path.display()));
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per series over the whole range, then one line per point with
/// a value: its start (UTC) and each series' mean, min and max.
fn table(range: &Range<'_>) -> String {
    let mut out = String::new();
    let n = range.points.len() as u64;
    let start = range.end_s - n * range.interval_s;
    outln!(
        out,
        "range {} s from {} to {} UTC: {n} points of {} s (tier of {} s)",
        range.range_s,
        utc(start),
        utc(range.end_s),
        range.interval_s,
        range.tier_s
    );
    let shown: Vec<usize> = (0..range.names.len())
        .filter(|s| range.has_values(*s))
        .collect();
    if shown.is_empty() {
        outln!(out, "no points in this range");
        return out;
    }
    outln!(
        out,
        "{:<24} {:>12} {:>12} {:>12} {:>7}",
        "series",
        "min",
        "mean",
        "max",
        "points"
    );
    for &s in &shown {
        let mut all = history_file::Fold {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            sum: 0.0,
            count: 0,
        };
        let mut with_value = 0;
        for p in &range.points {
            let f = p[s];
            if f.count > 0 {
                all.min = all.min.min(f.min);
                all.max = all.max.max(f.max);
                all.sum += f.sum;
                all.count += f.count;
                with_value += 1;
            }
        }
        // The f32 bounds as f64: the same exact value, so the same digits.
        outln!(
            out,
            "{:<24} {:>12} {:>12} {:>12} {:>7}",
            range.names[s],
            Fixed(f64::from(all.min), 1),
            Fixed(all.mean(), 1),
            Fixed(f64::from(all.max), 1),
            with_value
        );
    }
    outln!(out);
    for (i, p) in range.points.iter().enumerate() {
        if shown.iter().all(|&s| p[s].count == 0) {
            continue;
        }
        let mut line = utc(start + i as u64 * range.interval_s);
        for &s in &shown {
            let f = p[s];
            if f.count > 0 {
                line.push_str(&format!(
                    "  {}={} ({}..{})",
                    range.names[s],
                    Fixed(f.mean(), 1),
                    Fixed(f64::from(f.min), 1),
                    Fixed(f64::from(f.max), 1)
                ));
            }
        }
        outln!(out, "{line}");
    }
    out
}

/// `YYYY-MM-DDTHH:MMZ` for a unix time (Howard Hinnant's civil_from_days).
fn utc(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01T00:00Z");
        assert_eq!(super::utc(1_796_169_600 + 3_660), "2026-12-02T01:01Z");
        assert_eq!(super::utc(951_782_400), "2000-02-29T00:00Z");
    }
}
