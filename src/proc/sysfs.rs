//! One-value files under `/sys`: hwmon and thermal-zone temperatures
//! (millidegrees Celsius, possibly negative), cpufreq frequencies (kHz),
//! the names node_exporter gives hwmon chips and their sensor files, and
//! numbers as node_exporter's Go parses them ([`parse_go_float`],
//! [`parse_go_int`]). Pure functions, no allocation except [`chip_id`] and
//! [`clean`], which run only when the set of sensors changes.

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

/// node_exporter's `cleanMetricName`: lower case, anything outside
/// `[a-z0-9:_]` becomes `_`, `_` trimmed at both ends.
pub fn clean(name: &str) -> String {
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

/// A hwmon file name split as node_exporter 1.5's
/// `^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$` splits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SensorFile<'a> {
    /// `temp` of `temp1_crit_alarm`.
    pub kind: &'a str,
    /// `1` of `temp1_crit_alarm`; 0 without digits (`beep_enable`).
    pub id: u64,
    /// `crit_alarm` of `temp1_crit_alarm`; empty for `temp1` or `vrm`.
    pub property: &'a str,
}

/// Splits `name` as node_exporter's regular expression does, with its
/// leftmost-first preferences: the longest type, then the longest number,
/// then a property if one fits (`fan_x1y` is type `fan`, property `x1y`).
/// `None` where it does not match, or the number overflows Go's `int`.
pub fn sensor_file(name: &str) -> Option<SensorFile<'_>> {
    let bytes = name.as_bytes();
    let type_run = bytes.iter().take_while(|b| !b.is_ascii_digit()).count();
    for type_len in (1..=type_run).rev() {
        let digits = bytes[type_len..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        for id_len in (0..=digits).rev() {
            let rest = &name[type_len + id_len..];
            // `(_(?P<property>.+))?$`: the group first, `.` not a newline.
            let property = match rest.strip_prefix('_') {
                Some(p) if !p.is_empty() && !p.contains('\n') => p,
                _ if rest.is_empty() => "",
                _ => continue,
            };
            let id_text = &bytes[type_len..type_len + id_len];
            let id = if id_text.is_empty() {
                0
            } else {
                parse_u64(id_text).filter(|&n| i64::try_from(n).is_ok())?
            };
            return Some(SensorFile {
                kind: &name[..type_len],
                id,
                property,
            });
        }
    }
    None
}

/// Go's `strconv.ParseFloat(s, 64)` for what sysfs holds: decimal numbers
/// with an optional sign, fraction and exponent, `inf`/`infinity`/`nan` in
/// any case; a finite number too large for an `f64` is an error (Go's
/// `ErrRange`), as is anything else. Not taken: Go's hexadecimal floats
/// and `_` digit separators (no kernel driver writes them).
pub fn parse_go_float(text: &[u8]) -> Option<f64> {
    let plain = text
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    let value = crate::float_parse::parse(text)?;
    if plain && value.is_infinite() {
        return None;
    }
    Some(value)
}

/// Go's `strconv.ParseInt(s, 0, 64)` (procfs' `ValueParser`): an optional
/// sign, then `0x`/`0X` hexadecimal, `0b`/`0B` binary, `0o`/`0O` or a
/// leading `0` octal, else decimal; `None` on anything else or overflow.
/// Not taken: Go's `_` digit separators.
pub fn parse_go_int(text: &[u8]) -> Option<i64> {
    let (negative, rest) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match rest {
        [b'0', b'x' | b'X', d @ ..] => (16, d),
        [b'0', b'b' | b'B', d @ ..] => (2, d),
        [b'0', b'o' | b'O', d @ ..] => (8, d),
        [b'0', d @ ..] if !d.is_empty() => (8, d),
        d => (10, d),
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &b in digits {
        let digit = char::from(b).to_digit(radix)?;
        magnitude = magnitude
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
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

    #[test]
    fn sensor_files_split_as_node_exporters_expression() {
        let split = |name| sensor_file(name).map(|f| (f.kind, f.id, f.property));
        assert_eq!(split("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(split("temp12_crit_alarm"), Some(("temp", 12, "crit_alarm")));
        assert_eq!(split("in0_input"), Some(("in", 0, "input")));
        assert_eq!(split("temp1"), Some(("temp", 1, "")));
        assert_eq!(split("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(split("vrm"), Some(("vrm", 0, "")));
        assert_eq!(
            split("pwm1_auto_point1_pwm"),
            Some(("pwm", 1, "auto_point1_pwm"))
        );
        assert_eq!(split("temp007_input"), Some(("temp", 7, "input")));
        // Backtracking: the longest type that lets the rest match.
        assert_eq!(split("fan_x1y"), Some(("fan", 0, "x1y")));
        assert_eq!(split("fan_input"), Some(("fan_input", 0, "")));
        for no in [
            "",
            "1temp",
            "temp1x",
            "temp1_",
            "temp99999999999999999999_input",
        ] {
            assert_eq!(split(no), None, "{no}");
        }
    }

    #[test]
    fn go_floats() {
        assert_eq!(parse_go_float(b"55000"), Some(55000.0));
        assert_eq!(parse_go_float(b"-1.5e3"), Some(-1500.0));
        assert_eq!(parse_go_float(b"+.5"), Some(0.5));
        assert_eq!(parse_go_float(b"Inf"), Some(f64::INFINITY));
        assert!(parse_go_float(b"nan").is_some_and(f64::is_nan));
        for no in [&b""[..], b" 1", b"1\n", b"abc", b"1e400", b"0x10", b"1_000"] {
            assert_eq!(parse_go_float(no), None, "{no:?}");
        }
    }

    #[test]
    fn go_ints_with_base_prefixes() {
        assert_eq!(parse_go_int(b"81"), Some(81));
        assert_eq!(parse_go_int(b"-12"), Some(-12));
        assert_eq!(parse_go_int(b"+7"), Some(7));
        assert_eq!(parse_go_int(b"0"), Some(0));
        assert_eq!(parse_go_int(b"010"), Some(8));
        assert_eq!(parse_go_int(b"0x1F"), Some(31));
        assert_eq!(parse_go_int(b"0b101"), Some(5));
        assert_eq!(parse_go_int(b"-9223372036854775808"), Some(i64::MIN));
        for no in [
            &b""[..],
            b"-",
            b"0x",
            b"09",
            b"1.5",
            b"9223372036854775808",
            b"Charging",
        ] {
            assert_eq!(parse_go_int(no), None, "{no:?}");
        }
    }
}
