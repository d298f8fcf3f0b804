//! Numbers as sysmon shows them: one place for the rounding that the JSON
//! (`crate::report`) and the alert messages (`crate::alerts`) share, so a
//! figure reads the same on the dashboard and in a notification.

/// Rounds to one decimal for display; maps anything non-finite to 0.
pub fn round1(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10.0).round() / 10.0
    } else {
        0.0
    }
}
