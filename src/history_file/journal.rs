//! The journal: the last [`STEPS`] steps of samples, each folded into one
//! accumulator (per series min, max, sum, count) at the finest grain that
//! every tier's step is a whole number of (the gcd of the steps: the
//! finest tier's step at the defaults, one minute), placed by the
//! monotonic clock. It is what lets a wall-clock step move samples that
//! were placed at a time the step showed to be wrong (see the module doc of
//! [`crate::history_file`], "Time and clock steps").
//!
//! Invariants the store keeps with it:
//! - Steps are in time order, oldest first; every sample of a step is
//!   placed, in every tier, in the bucket holding the step's `mid_ms`.
//! - A step's `movable` bit `k`: tier `k` holds its samples where a
//!   re-timing can still take them out (its step in progress or a staged,
//!   unwritten page). Once the bucket is written, or the step leaves the
//!   journal, the bit is cleared: those samples stay where they are.
//! - A step's `held_back` bit `k`: tier `k` does not hold its samples (their
//!   bucket was older than the tier's newest); the journal is then their
//!   only copy.
//!
//! The ring is made once at open ([`STEPS`] × 464 bytes, 29 KiB) and never
//! grows; pushing onto a full ring hands back the oldest step. A step's
//! sums are `f32` (a step holds a grain's samples, a few dozen: 7
//! significant digits, as the file's means have), which keeps it at 464
//! bytes rather than the 600 of a tier's accumulator.

use super::{Acc, FILE_SERIES};

/// Steps the journal keeps: 64 minutes at the default tiers.
pub const STEPS: usize = 64;

#[derive(Clone, Copy)]
pub(super) struct Step {
    /// The axis time (ms) of the step's middle: its samples' time in every
    /// tier. Moved with the clock by a re-timing.
    pub mid_ms: u64,
    /// Samples recorded in the step.
    pub samples: u32,
    /// Tiers that hold the samples where a re-timing can take them out.
    pub movable: u8,
    /// Tiers that could not take the samples (bucket older than their
    /// newest): held here until a step forward places them, or lost.
    pub held_back: u8,
    /// Per series: min, max, sum and count of the step's values.
    min: [f32; FILE_SERIES],
    max: [f32; FILE_SERIES],
    sum: [f32; FILE_SERIES],
    count: [u16; FILE_SERIES],
}

impl Step {
    /// An empty step holding the grain of axis second `t_s`.
    pub fn at(t_s: u64, grain_s: u64) -> Step {
        Step {
            mid_ms: (t_s / grain_s * grain_s) * 1000 + grain_s * 500,
            samples: 0,
            movable: 0,
            held_back: 0,
            min: [0.0; FILE_SERIES],
            max: [0.0; FILE_SERIES],
            sum: [0.0; FILE_SERIES],
            count: [0; FILE_SERIES],
        }
    }

    /// Adds series `i`'s value `v`.
    pub fn add(&mut self, i: usize, v: f32) {
        if self.count[i] == 0 {
            self.min[i] = v;
            self.max[i] = v;
        } else {
            self.min[i] = self.min[i].min(v);
            self.max[i] = self.max[i].max(v);
        }
        // A step of more than 65,535 samples (a grain of hours at a short
        // interval) keeps the sum and count of its first 65,535, so the
        // mean it folds into a tier stays a mean (of those).
        if self.count[i] < u16::MAX {
            self.sum[i] += v;
            self.count[i] += 1;
        }
    }

    /// Folds the step's samples into a tier's accumulator.
    pub fn fold_into(&self, acc: &mut Acc) {
        for i in 0..FILE_SERIES {
            let n = self.count[i];
            if n == 0 {
                continue;
            }
            if acc.count[i] == 0 {
                acc.min[i] = self.min[i];
                acc.max[i] = self.max[i];
            } else {
                acc.min[i] = acc.min[i].min(self.min[i]);
                acc.max[i] = acc.max[i].max(self.max[i]);
            }
            acc.sum[i] += f64::from(self.sum[i]);
            acc.count[i] = acc.count[i].saturating_add(u32::from(n));
        }
    }

    /// The bucket of a tier of step `step_s` the samples are placed in.
    pub fn bucket(&self, step_s: u32) -> u64 {
        self.mid_ms / 1000 / u64::from(step_s)
    }
}

/// A ring of at most [`STEPS`] steps, oldest first.
pub(super) struct Journal {
    steps: Box<[Step]>,
    /// Index in `steps` of the oldest step.
    first: usize,
    len: usize,
    /// Seconds each step covers (the gcd of the tiers' steps).
    pub grain_s: u64,
}

impl Journal {
    pub fn new(step_s: impl Iterator<Item = u32>) -> Journal {
        let grain_s = step_s.map(u64::from).fold(0, gcd).max(1);
        Journal {
            steps: vec![Step::at(0, grain_s); STEPS].into_boxed_slice(),
            first: 0,
            len: 0,
            grain_s,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The `i`-th oldest step.
    pub fn get(&self, i: usize) -> &Step {
        assert!(i < self.len);
        &self.steps[(self.first + i) % STEPS]
    }

    pub fn get_mut(&mut self, i: usize) -> &mut Step {
        assert!(i < self.len);
        &mut self.steps[(self.first + i) % STEPS]
    }

    pub fn last(&self) -> Option<&Step> {
        self.len.checked_sub(1).map(|i| self.get(i))
    }

    /// Appends `step`; when full, first takes out the oldest and returns it.
    pub fn push(&mut self, step: Step) -> Option<Step> {
        let evicted = (self.len == STEPS).then(|| self.pop_front().expect("full"));
        self.steps[(self.first + self.len) % STEPS] = step;
        self.len += 1;
        evicted
    }

    pub fn pop_front(&mut self) -> Option<Step> {
        if self.len == 0 {
            return None;
        }
        let step = self.steps[self.first];
        self.first = (self.first + 1) % STEPS;
        self.len -= 1;
        Some(step)
    }

    /// Drops the oldest steps that no tier needs any more (neither movable
    /// nor held back anywhere).
    pub fn trim_settled(&mut self) {
        while self.len > 0 && self.get(0).movable == 0 && self.get(0).held_back == 0 {
            self.pop_front();
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grain_is_the_gcd_of_the_steps_and_the_ring_keeps_the_newest() {
        assert_eq!(Journal::new([60, 600, 3600].into_iter()).grain_s, 60);
        assert_eq!(Journal::new([60, 90].into_iter()).grain_s, 30);
        let mut j = Journal::new([10].into_iter());
        for t in 0..(STEPS as u64 + 5) {
            let mut step = Step::at(t * 10, 10);
            step.samples = t as u32;
            let evicted = j.push(step);
            assert_eq!(
                evicted.map(|s| s.samples),
                t.checked_sub(STEPS as u64).map(|t| t as u32)
            );
        }
        assert_eq!(j.len(), STEPS);
        assert_eq!(j.get(0).samples, 5);
        assert_eq!(
            j.last().unwrap().mid_ms,
            (STEPS as u64 + 4) * 10_000 + 5_000
        );
        assert_eq!(Step::at(125, 60).bucket(60), 2);
        assert_eq!(Step::at(125, 60).mid_ms, 150_000);
    }
}
