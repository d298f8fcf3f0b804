//! The credential lines of `/proc/<pid>/status` (and `/proc/<pid>/task/<tid>/status`):
//! user and group ids, supplementary groups, capability sets, no_new_privs.
//!
//! Used once, after `user = NAME` dropped privileges, to check every thread
//! of sysmon (a raw `capset` changes only the calling thread; see
//! [`crate::privileges::drop_privileges`]). On the sampler's path only
//! [`effective_uid`], for the few top processes shown.
//!
//! Invariant: a field that is present but malformed is an error, never a
//! zero; a field the running kernel does not print is `None`.

use super::{ParseError, fields, numbered_lines, parse_u64};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `Uid:` real, effective, saved set and filesystem user ids.
    pub uids: [u32; 4],
    /// `Gid:` the same four for groups.
    pub gids: [u32; 4],
    /// `CapInh:`, `CapPrm:`, `CapEff:`, `CapBnd:` as bit masks (bit N = capability N).
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub cap_bounding: u64,
    /// `CapAmb:` (since Linux 4.3).
    pub cap_ambient: Option<u64>,
    /// `NoNewPrivs:` (since Linux 4.10).
    pub no_new_privs: Option<bool>,
}

/// Parses the credential lines; `Uid`, `Gid` and the four older capability
/// lines must be present.
pub fn parse(buf: &[u8]) -> Result<Credentials, ParseError> {
    let mut out = Credentials::default();
    // Bits: Uid, Gid, CapInh, CapPrm, CapEff, CapBnd.
    let mut seen = 0u8;
    for (line_no, line) in numbered_lines(buf) {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (key, value) = (&line[..colon], &line[colon + 1..]);
        let bad = |what| ParseError::new(line_no, what);
        match key {
            b"Uid" => {
                out.uids = four_ids(value).ok_or(bad("Uid: expected four ids"))?;
                seen |= 1;
            }
            b"Gid" => {
                out.gids = four_ids(value).ok_or(bad("Gid: expected four ids"))?;
                seen |= 2;
            }
            b"CapInh" => {
                out.cap_inheritable = cap_mask(value).ok_or(bad("CapInh: not a hex mask"))?;
                seen |= 4;
            }
            b"CapPrm" => {
                out.cap_permitted = cap_mask(value).ok_or(bad("CapPrm: not a hex mask"))?;
                seen |= 8;
            }
            b"CapEff" => {
                out.cap_effective = cap_mask(value).ok_or(bad("CapEff: not a hex mask"))?;
                seen |= 16;
            }
            b"CapBnd" => {
                out.cap_bounding = cap_mask(value).ok_or(bad("CapBnd: not a hex mask"))?;
                seen |= 32;
            }
            b"CapAmb" => {
                out.cap_ambient = Some(cap_mask(value).ok_or(bad("CapAmb: not a hex mask"))?);
            }
            b"NoNewPrivs" => {
                out.no_new_privs = Some(match trim(value) {
                    b"0" => false,
                    b"1" => true,
                    _ => return Err(bad("NoNewPrivs: not 0 or 1")),
                });
            }
            _ => {}
        }
    }
    if seen != 63 {
        return Err(ParseError::new(
            0,
            "missing one of Uid, Gid, CapInh, CapPrm, CapEff, CapBnd",
        ));
    }
    Ok(out)
}

/// The `Groups:` line's ids into `out` (cleared first; the caller owns it).
/// An empty line means no supplementary groups.
pub fn groups(buf: &[u8], out: &mut Vec<u32>) -> Result<(), ParseError> {
    out.clear();
    for (line_no, line) in numbered_lines(buf) {
        if let Some(value) = line.strip_prefix(b"Groups:") {
            for field in fields(value) {
                out.push(id(field).ok_or(ParseError::new(line_no, "Groups: not an id"))?);
            }
            return Ok(());
        }
    }
    Err(ParseError::new(0, "no Groups line"))
}

/// The effective user id from the `Uid:` line (what `ps -o user` shows),
/// for the top processes; `None` when the line is missing or malformed
/// (a status file cut short).
pub fn effective_uid(buf: &[u8]) -> Option<u32> {
    numbered_lines(buf)
        .find_map(|(_, line)| line.strip_prefix(b"Uid:"))
        .and_then(four_ids)
        .map(|ids| ids[1])
}

fn trim(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

fn id(field: &[u8]) -> Option<u32> {
    u32::try_from(parse_u64(field)?).ok()
}

fn four_ids(value: &[u8]) -> Option<[u32; 4]> {
    let mut ids = [0u32; 4];
    let mut count = 0;
    for field in fields(value) {
        *ids.get_mut(count)? = id(field)?;
        count += 1;
    }
    (count == 4).then_some(ids)
}

/// Exactly 16 hex digits, as the kernel prints every capability mask.
fn cap_mask(value: &[u8]) -> Option<u64> {
    let digits = trim(value);
    if digits.len() != 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u64::from(nibble))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See tests/fixtures/proc/status-dropped/SOURCE.
    const DROPPED: &[u8] = include_bytes!("../../tests/fixtures/proc/status-dropped/status");

    #[test]
    fn effective_uid_is_the_second_id() {
        assert_eq!(effective_uid(DROPPED), Some(994));
        assert_eq!(effective_uid(b"Name:\tsu\nUid:\t1000\t0\t0\t0\n"), Some(0));
        assert_eq!(effective_uid(b"Name:\tx\nUid:\t1000\t0"), None);
        assert_eq!(effective_uid(b"Name:\tx\n"), None);
    }

    #[test]
    fn parses_a_dropped_daemon() {
        let c = parse(DROPPED).unwrap();
        assert_eq!(c.uids, [994; 4]);
        assert_eq!(c.gids, [993; 4]);
        assert_eq!(
            (c.cap_inheritable, c.cap_permitted, c.cap_effective),
            (0, 0x4, 0x4)
        );
        assert_eq!(c.cap_bounding, 0);
        assert_eq!(c.cap_ambient, Some(0));
        assert_eq!(c.no_new_privs, Some(true));
        let mut groups = vec![7];
        super::groups(DROPPED, &mut groups).unwrap();
        assert_eq!(groups, [992, 993]);
    }

    #[test]
    fn old_kernels_and_garbage() {
        // Linux 3.x: no CapAmb, no NoNewPrivs; root with no supplementary groups.
        let old = b"Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n\
            CapInh:\t0000000000000000\nCapPrm:\t0000001fffffffff\n\
            CapEff:\t0000001fffffffff\nCapBnd:\t0000001fffffffff\n";
        let c = parse(old).unwrap();
        assert_eq!((c.cap_ambient, c.no_new_privs), (None, None));
        assert_eq!(c.cap_permitted, 0x1f_ffff_ffff);
        let mut groups = Vec::new();
        super::groups(old, &mut groups).unwrap();
        assert!(groups.is_empty());
        for bad in [
            &b"Uid:\t0\t0\t0\n"[..],
            b"Uid:\t0\t0\t0\t0\t0\n",
            b"Uid:\t-1\t0\t0\t0\n",
            b"CapEff:\t1fffffffff\n",
            b"CapEff:\t000000000000000G\n",
            b"NoNewPrivs:\t2\n",
        ] {
            let mut text = old.to_vec();
            text.extend_from_slice(bad);
            assert!(parse(&text).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse(b"Name:\tx\n").is_err());
        assert!(super::groups(b"Groups:\t1 x\n", &mut groups).is_err());
        assert!(super::groups(b"Name:\tx\n", &mut groups).is_err());
    }
}
