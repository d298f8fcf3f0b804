//! `node_timex_*`: the kernel clock discipline from `adjtimex(2)` (read
//! only), converted as node_exporter's `timex` collector does: offsets and
//! jitter in µs or, with `STA_NANO`, ns; frequencies in ppm with a 16-bit
//! fraction; `sync_status` 0 when the clock state is `TIME_ERROR`.

use super::{Body, family};
use crate::sys::Timex;

const TIME_ERROR: i32 = 5;
const STA_NANO: i32 = 0x2000;
/// adjtimex(2) NOTES: ppm scaled by 2^16.
const PPM16FRAC: f64 = 1_000_000.0 * 65_536.0;

/// (name, type, help, value) in node_exporter's order.
pub fn figures(t: &Timex) -> [(&'static str, &'static str, &'static str, f64); 17] {
    let divisor = if t.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    [
        (
            "node_timex_sync_status",
            "gauge",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            f64::from(u8::from(t.state != TIME_ERROR)),
        ),
        (
            "node_timex_offset_seconds",
            "gauge",
            "Time offset in between local system and reference clock.",
            t.offset as f64 / divisor,
        ),
        (
            "node_timex_frequency_adjustment_ratio",
            "gauge",
            "Local clock frequency adjustment.",
            1.0 + t.freq as f64 / PPM16FRAC,
        ),
        (
            "node_timex_maxerror_seconds",
            "gauge",
            "Maximum error in seconds.",
            t.maxerror_us as f64 / 1e6,
        ),
        (
            "node_timex_estimated_error_seconds",
            "gauge",
            "Estimated error in seconds.",
            t.esterror_us as f64 / 1e6,
        ),
        (
            "node_timex_status",
            "gauge",
            "Value of the status array bits.",
            f64::from(t.status),
        ),
        (
            "node_timex_loop_time_constant",
            "gauge",
            "Phase-locked loop time constant.",
            t.constant as f64,
        ),
        (
            "node_timex_tick_seconds",
            "gauge",
            "Seconds between clock ticks.",
            t.tick_us as f64 / 1e6,
        ),
        (
            "node_timex_pps_frequency_hertz",
            "gauge",
            "Pulse per second frequency.",
            t.ppsfreq as f64 / PPM16FRAC,
        ),
        (
            "node_timex_pps_jitter_seconds",
            "gauge",
            "Pulse per second jitter.",
            t.jitter as f64 / divisor,
        ),
        (
            "node_timex_pps_shift_seconds",
            "gauge",
            "Pulse per second interval duration.",
            f64::from(t.shift),
        ),
        (
            "node_timex_pps_stability_hertz",
            "gauge",
            "Pulse per second stability, average of recent frequency changes.",
            t.stabil as f64 / PPM16FRAC,
        ),
        (
            "node_timex_pps_jitter_total",
            "counter",
            "Pulse per second count of jitter limit exceeded events.",
            t.jitcnt as f64,
        ),
        (
            "node_timex_pps_calibration_total",
            "counter",
            "Pulse per second count of calibration intervals.",
            t.calcnt as f64,
        ),
        (
            "node_timex_pps_error_total",
            "counter",
            "Pulse per second count of calibration errors.",
            t.errcnt as f64,
        ),
        (
            "node_timex_pps_stability_exceeded_total",
            "counter",
            "Pulse per second count of stability limit exceeded events.",
            t.stbcnt as f64,
        ),
        (
            "node_timex_tai_offset_seconds",
            "gauge",
            "International Atomic Time (TAI) offset.",
            f64::from(t.tai),
        ),
    ]
}

pub fn write(out: &mut Body) -> bool {
    let Ok(t) = crate::sys::adjtimex() else {
        return false;
    };
    for (name, kind, help, value) in figures(&t) {
        family(out, name, kind, help);
        out.push_str(name);
        out.push(' ');
        out.f64(value);
        out.push('\n');
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: &Timex, name: &str) -> f64 {
        figures(t).iter().find(|f| f.0 == name).unwrap().3
    }

    #[test]
    fn converts_like_node_exporter() {
        // chrony-disciplined clock in nanosecond mode: offset -1500 ns,
        // freq +12.5 ppm, maxerror 16 ms, tick 10000 µs, state TIME_OK.
        let t = Timex {
            state: 0,
            offset: -1500,
            freq: (12.5 * 65536.0) as i64,
            maxerror_us: 16_000,
            status: STA_NANO | 0x1,
            tick_us: 10_000,
            tai: 37,
            ..Timex::default()
        };
        assert_eq!(value(&t, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&t, "node_timex_offset_seconds"), -1.5e-6);
        assert_eq!(
            value(&t, "node_timex_frequency_adjustment_ratio"),
            1.0000125
        );
        assert_eq!(value(&t, "node_timex_maxerror_seconds"), 0.016);
        assert_eq!(value(&t, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&t, "node_timex_status"), f64::from(0x2001));
        assert_eq!(value(&t, "node_timex_tai_offset_seconds"), 37.0);
        // Microsecond mode and an unsynchronised clock.
        let t = Timex {
            state: TIME_ERROR,
            offset: -1500,
            ..Timex::default()
        };
        assert_eq!(value(&t, "node_timex_offset_seconds"), -0.0015);
        assert_eq!(value(&t, "node_timex_sync_status"), 0.0);
    }

    #[test]
    fn the_live_clock_reads_without_privilege() {
        let t = crate::sys::adjtimex().unwrap();
        // USER_HZ 100 or 250 or 1000: a tick of 1 to 10 ms.
        assert!((1_000..=10_000).contains(&t.tick_us), "{t:?}");
    }
}
