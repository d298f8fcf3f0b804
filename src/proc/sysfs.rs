//! One-value files under `/sys`: hwmon and thermal-zone temperatures
//! (millidegrees Celsius, possibly negative), cpufreq frequencies (kHz), and
//! the names node_exporter gives hwmon chips. Pure functions, no allocation
//! except [`chip_id`], which runs only when the set of sensors changes.

use super::parse_u64;

/// A temperature file (`temp1_input`, `thermal_zone0/temp`): signed integer
/// millidegrees and a newline. `None` on anything else.
pub fn parse_millidegrees(buf: &[u8]) -> Option<f64> {
    let text = buf.trim_ascii();
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let value = i64::try_from(parse_u64(digits)?).ok()?;
    let value = if negative { -value } else { value };
    Some(value as f64 / 1000.0)
}

/// `scaling_cur_freq`: kHz → Hz.
pub fn parse_khz_as_hz(buf: &[u8]) -> Option<u64> {
    parse_u64(buf.trim_ascii())?.checked_mul(1000)
}

/// A name file (`hwmon*/name`, `temp1_label`, `thermal_zone*/type`): the
/// trimmed text, if it is non-empty UTF-8.
pub fn parse_name(buf: &[u8]) -> Option<&str> {
    std::str::from_utf8(buf.trim_ascii())
        .ok()
        .filter(|s| !s.is_empty())
}

/// `temp7_input` → `temp7`; `None` for every other file of a hwmon directory.
pub fn temp_input_sensor(file_name: &[u8]) -> Option<&[u8]> {
    let stem = file_name.strip_suffix(b"_input")?;
    let digits = stem.strip_prefix(b"temp")?;
    parse_u64(digits).map(|_| stem)
}

/// `thermal_zone3` → 3; `cpu12` → 12 with prefix `cpu`.
pub fn numbered(file_name: &[u8], prefix: &[u8]) -> Option<u32> {
    let digits = file_name.strip_prefix(prefix)?;
    u32::try_from(parse_u64(digits)?).ok()
}

/// node_exporter's `chip` label for a hwmon directory: from the resolved
/// target of its `device` link, `<parent dir>_<device>` cleaned (lower case,
/// anything outside `[a-z0-9:_]` becomes `_`, `_` trimmed at both ends), e.g.
/// `/sys/devices/platform/coretemp.0` → `platform_coretemp_0`. Without a
/// device link it is the cleaned `name`, else the directory (`hwmon0`).
pub fn chip_id(device_target: Option<&str>, name: Option<&str>, dir_name: &str) -> String {
    if let Some(target) = device_target {
        let mut parts = target.trim_end_matches('/').rsplit('/');
        let device = clean(parts.next().unwrap_or(""));
        let kind = clean(parts.next().unwrap_or(""));
        match (kind.is_empty(), device.is_empty()) {
            (false, false) => return format!("{kind}_{device}"),
            (true, false) => return device,
            _ => {}
        }
    }
    if let Some(name) = name.map(clean).filter(|n| !n.is_empty()) {
        return name;
    }
    clean(dir_name)
}

fn clean(name: &str) -> String {
    let replaced: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    replaced.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures() {
        assert_eq!(parse_millidegrees(b"45000\n"), Some(45.0));
        assert_eq!(parse_millidegrees(b"26850\n"), Some(26.85));
        assert_eq!(parse_millidegrees(b"-5500\n"), Some(-5.5));
        for bad in [&b""[..], b"\n", b"-", b"4x", b"--1", b"+1", b"1.5"] {
            assert_eq!(parse_millidegrees(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn frequencies() {
        assert_eq!(parse_khz_as_hz(b"2400000\n"), Some(2_400_000_000));
        assert_eq!(parse_khz_as_hz(b"<unknown>\n"), None);
        assert_eq!(parse_khz_as_hz(b"18446744073709551615"), None);
    }

    #[test]
    fn file_names() {
        assert_eq!(temp_input_sensor(b"temp1_input"), Some(&b"temp1"[..]));
        assert_eq!(temp_input_sensor(b"temp12_input"), Some(&b"temp12"[..]));
        for other in [&b"temp1_label"[..], b"temp_input", b"in0_input", b"name"] {
            assert_eq!(temp_input_sensor(other), None);
        }
        assert_eq!(numbered(b"thermal_zone3", b"thermal_zone"), Some(3));
        assert_eq!(numbered(b"cpufreq", b"cpu"), None);
        assert_eq!(numbered(b"cpu12", b"cpu"), Some(12));
    }

    #[test]
    fn chip_ids_match_node_exporter() {
        // Labels seen in node_exporter's collector/fixtures/e2e-output.txt.
        assert_eq!(
            chip_id(
                Some("/sys/devices/platform/coretemp.0"),
                Some("coretemp"),
                "hwmon1"
            ),
            "platform_coretemp_0"
        );
        assert_eq!(
            chip_id(
                Some("/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"),
                Some("nvme"),
                "hwmon2"
            ),
            "nvme_nvme0"
        );
        assert_eq!(chip_id(None, Some("acpitz"), "hwmon0"), "acpitz");
        assert_eq!(chip_id(None, None, "hwmon0"), "hwmon0");
    }
}
