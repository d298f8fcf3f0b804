//! cgroup v2 files: `/proc/self/cgroup` (which cgroup we are in) and the
//! interface files of that cgroup under the unified hierarchy (`cpu.max`,
//! `cpu.stat`, `memory.max`, `memory.current`; Documentation/admin-guide/
//! cgroup-v2.rst). Pure parsers, no allocation.

use super::{ParseError, fields, numbered_lines, parse_u64};

/// The path of the v2 line (`0::/docker/abc`) of `/proc/self/cgroup`, or
/// `None` when the process is in no v2 hierarchy (pure cgroup v1).
pub fn unified_path(buf: &[u8]) -> Result<Option<&[u8]>, ParseError> {
    for (n, line) in numbered_lines(buf) {
        let mut parts = line.splitn(3, |b| *b == b':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseError::new(n, "expected ID:CONTROLLERS:PATH"));
        };
        if parse_u64(id).is_none() || !path.starts_with(b"/") {
            return Err(ParseError::new(n, "expected ID:CONTROLLERS:/PATH"));
        }
        if id == b"0" && controllers.is_empty() {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// `cpu.max`: `$MAX $PERIOD`, where `$MAX` may be `max` (no limit).
/// Returns the limit in CPUs (quota / period), `None` when unlimited.
pub fn cpu_max_cores(buf: &[u8]) -> Result<Option<f64>, ParseError> {
    let bad = ParseError::new(1, "expected `max PERIOD` or `QUOTA PERIOD`");
    let mut cols = fields(buf.trim_ascii());
    let quota = cols.next().ok_or(bad)?;
    let period = cols
        .next()
        .and_then(parse_u64)
        .filter(|p| *p > 0)
        .ok_or(bad)?;
    if cols.next().is_some() {
        return Err(bad);
    }
    if quota == b"max" {
        return Ok(None);
    }
    let quota = parse_u64(quota).ok_or(bad)?;
    Ok(Some(quota as f64 / period as f64))
}

/// `usage_usec` from `cpu.stat`: CPU time used by the cgroup, in µs.
pub fn cpu_usage_usec(buf: &[u8]) -> Result<u64, ParseError> {
    for (n, line) in numbered_lines(buf) {
        let mut cols = fields(line);
        if cols.next() == Some(b"usage_usec") {
            return cols
                .next()
                .and_then(parse_u64)
                .filter(|_| cols.next().is_none())
                .ok_or(ParseError::new(n, "usage_usec is not a number"));
        }
    }
    Err(ParseError::new(1, "no usage_usec line"))
}

/// `memory.max` (`max` or bytes): `None` when unlimited.
pub fn memory_max_bytes(buf: &[u8]) -> Result<Option<u64>, ParseError> {
    match buf.trim_ascii() {
        b"max" => Ok(None),
        value => parse_u64(value)
            .map(Some)
            .ok_or(ParseError::new(1, "expected `max` or a byte count")),
    }
}

/// `memory.current`: bytes in use by the cgroup.
pub fn memory_current_bytes(buf: &[u8]) -> Result<u64, ParseError> {
    parse_u64(buf.trim_ascii()).ok_or(ParseError::new(1, "expected a byte count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "tests/fixtures/sys/handmade/fs/cgroup/docker/4f1c2a";

    fn read(rel: &str) -> Vec<u8> {
        std::fs::read(format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn self_cgroup_v1_host_and_v2_container() {
        // This VM: cgroup v1 controllers plus the v2 line `0::/`.
        let host = read("tests/fixtures/proc/debian12-vm-2core/self/cgroup");
        assert_eq!(unified_path(&host).unwrap(), Some(&b"/"[..]));
        let container = read("tests/fixtures/proc/container-v2/self/cgroup");
        assert_eq!(
            unified_path(&container).unwrap(),
            Some(&b"/docker/4f1c2a"[..])
        );
        assert_eq!(unified_path(b"4:memory:/x\n").unwrap(), None);
        for bad in [&b"garbage\n"[..], b"0::relative\n", b"x::/\n"] {
            assert!(unified_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn container_fixture_files() {
        // cpu.max `150000 100000` → 1.5 CPUs.
        assert_eq!(
            cpu_max_cores(&read(&format!("{DIR}/cpu.max"))).unwrap(),
            Some(1.5)
        );
        assert_eq!(cpu_max_cores(b"max 100000\n").unwrap(), None);
        assert_eq!(
            cpu_usage_usec(&read(&format!("{DIR}/cpu.stat"))).unwrap(),
            84_529_133
        );
        // memory.max 536870912 = 512 MiB.
        assert_eq!(
            memory_max_bytes(&read(&format!("{DIR}/memory.max"))).unwrap(),
            Some(536_870_912)
        );
        assert_eq!(memory_max_bytes(b"max\n").unwrap(), None);
        assert_eq!(
            memory_current_bytes(&read(&format!("{DIR}/memory.current"))).unwrap(),
            140_316_672
        );
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [&b""[..], b"max", b"max 0", b"-1 100000", b"1 2 3", b"x 100"] {
            assert!(cpu_max_cores(bad).is_err(), "{bad:?}");
        }
        assert!(cpu_usage_usec(b"user_usec 5\n").is_err());
        assert!(cpu_usage_usec(b"usage_usec x\n").is_err());
        assert!(memory_max_bytes(b"unlimited").is_err());
        assert!(memory_current_bytes(b"").is_err());
    }
}
