//! When periodic work is due: from 90 % of its period on.
//!
//! The loop sleeps until the earliest deadline, then runs whatever is due.
//! A periodic job (the services' reading, the boot log's "alive" record,
//! the watchdog ping, the top processes' reading) keeps its deadline at
//! the end of its period, where the loop wakes for it at the latest, but
//! is due from 90 % of the period on: a turn awake anyway in that window
//! (a sample, a request) takes it. So a period that is a multiple of the
//! sampling interval costs no wake-up of its own, though its deadline
//! falls a few microseconds after a sample's (it was set from a turn's
//! `now`, which is a little late), and sampling jitter does not skip one.
//!
//! Invariant: periodic work runs no later than its deadline (the loop
//! wakes for it) and no sooner than 90 % of its period after it last ran.

use std::time::{Duration, Instant};

/// True when work whose deadline is `deadline` and whose period is `every`
/// may run at `now`: at most a tenth of `every` early.
pub fn is_due(now: Instant, deadline: Instant, every: Duration) -> bool {
    now + every / 10 >= deadline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_from_ninety_percent_of_the_period() {
        let start = Instant::now();
        let every = Duration::from_secs(30);
        let deadline = start + every;
        assert!(!is_due(start, deadline, every));
        assert!(!is_due(
            start + Duration::from_millis(26_999),
            deadline,
            every
        ));
        assert!(is_due(start + Duration::from_secs(27), deadline, every));
        assert!(is_due(deadline, deadline, every));
        assert!(is_due(deadline + every, deadline, every), "late is due");
    }
}
