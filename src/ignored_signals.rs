//! The log of signals sysmon ignores (SIGUSR1, SIGALRM, ...; see
//! `sys::signals`): at most one line a minute per signal, however many
//! arrive. A line says how many of that signal came since the last line
//! without one of their own (`SIGUSR1 ignored (x1,234 since the last
//! line; ...)`); a storm that stops is counted on the next line, whenever
//! that is, or at a clean stop ([`IgnoredSignalLog::take_unlogged`]): no
//! count is lost to a stop, and no timer wakes the loop to write one.
//! Time is a parameter; nothing here allocates.

use std::time::{Duration, Instant};

/// The least time between two lines for one signal.
pub const LINE_EVERY: Duration = Duration::from_secs(60);

/// Signal numbers are 1..=64 on Linux.
const SIGNALS: usize = 65;

pub struct IgnoredSignalLog {
    /// When each signal (by number) was last logged.
    last_line_at: [Option<Instant>; SIGNALS],
    /// Per signal, how many arrived since its last line without a line.
    unlogged: [u64; SIGNALS],
}

impl Default for IgnoredSignalLog {
    fn default() -> Self {
        IgnoredSignalLog {
            last_line_at: [None; SIGNALS],
            unlogged: [0; SIGNALS],
        }
    }
}

impl IgnoredSignalLog {
    /// `count` of signal `number` arrived (seen at `now`): `Some(unlogged)`
    /// when a line is due, with how many before these had no line; `None`
    /// when they are only counted.
    pub fn arrived(&mut self, number: usize, count: u32, now: Instant) -> Option<u64> {
        let (Some(last), Some(unlogged)) = (
            self.last_line_at.get_mut(number),
            self.unlogged.get_mut(number),
        ) else {
            return None;
        };
        let due = last.is_none_or(|at| now.saturating_duration_since(at) >= LINE_EVERY);
        if !due {
            *unlogged += u64::from(count);
            return None;
        }
        // The line stands for one of this batch; the rest had none.
        let before = *unlogged + u64::from(count) - 1;
        *last = Some(now);
        *unlogged = 0;
        Some(before)
    }

    /// Calls `each(number, unlogged)` for every signal with arrivals no
    /// line has counted yet, and forgets them: the last lines, at a clean
    /// stop.
    pub fn take_unlogged(&mut self, each: &mut dyn FnMut(usize, u64)) {
        for (number, unlogged) in self.unlogged.iter_mut().enumerate() {
            if *unlogged > 0 {
                each(number, std::mem::take(unlogged));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_minute_per_signal_with_the_count_between() {
        let mut log = IgnoredSignalLog::default();
        let t0 = Instant::now();
        assert_eq!(log.arrived(10, 1, t0), Some(0));
        // A storm within the minute: counted, not logged.
        for i in 1..=9_999 {
            assert_eq!(log.arrived(10, 1, t0 + Duration::from_millis(i)), None);
        }
        // Another signal has its own minute.
        assert_eq!(log.arrived(12, 3, t0 + Duration::from_secs(1)), Some(2));
        assert_eq!(log.arrived(10, 2, t0 + LINE_EVERY), Some(10_000));
        assert_eq!(log.arrived(10, 1, t0 + LINE_EVERY * 2), Some(0));
        assert_eq!(log.arrived(99, 1, t0), None, "no such signal");
    }

    #[test]
    fn the_counts_without_a_line_are_taken_once() {
        let mut log = IgnoredSignalLog::default();
        let t0 = Instant::now();
        assert_eq!(log.arrived(10, 1, t0), Some(0));
        assert_eq!(log.arrived(10, 5, t0), None);
        assert_eq!(log.arrived(12, 1, t0), Some(0));
        assert_eq!(log.arrived(40, 1, t0), Some(0));
        assert_eq!(log.arrived(40, 2, t0), None);
        let mut taken = Vec::new();
        log.take_unlogged(&mut |number, unlogged| taken.push((number, unlogged)));
        assert_eq!(taken, [(10, 5), (40, 2)], "12 has no count left");
        log.take_unlogged(&mut |number, _| panic!("{number} taken twice"));
    }
}
