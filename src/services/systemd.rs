//! systemd: every loaded unit, from one `systemctl show` child per poll
//! (see [`STEP_ARGS`]), parsed here. node_exporter's systemd collector asks
//! PID 1 over D-Bus (`ListUnits`, then `Type` per unit); sysmon links no
//! D-Bus client and asks `systemctl`, which prints the same properties of
//! the same units: those loaded in memory, in every active state.
//!
//! `systemctl show` prints one block of `Key=value` lines per unit, blocks
//! separated by an empty line, properties in systemd's own order (not the
//! order asked): `Type=` (services and mounts only) may come before `Id=`.
//!
//! Invariant: [`parse_show`] is pure and calls `unit` once per block that
//! has an `Id=` and an `ActiveState=` it knows; it never allocates.

use super::State;

/// `systemctl ARGS`: the properties sysmon reads, for the units in every
/// active state (without `--state`, `show '*'` lists only active and failed
/// ones; `--all` would mean all properties, not all units). The six states
/// are those systemd has had since long before 252.
pub const STEP_ARGS: [&str; 6] = [
    "show",
    "--no-pager",
    "-p",
    "Id,LoadState,ActiveState,SubState,Type,StateChangeTimestampMonotonic",
    "--state=active,reloading,inactive,failed,activating,deactivating",
    "*",
];

/// One unit as `systemctl show` describes it; borrows the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit<'a> {
    pub id: &'a [u8],
    /// `loaded`, `not-found`, `masked`, ...
    pub load_state: &'a [u8],
    pub state: State,
    /// `Type=` of a service or mount (`simple`, `notify`, `ext4`, ...);
    /// empty for other units, as in node_exporter's `type` label.
    pub kind: &'a [u8],
    /// CLOCK_MONOTONIC microseconds of the last active-state change; `None`
    /// when systemd says 0 (never changed since it was loaded).
    pub changed_monotonic_us: Option<u64>,
}

impl Unit<'_> {
    /// A `.service` unit whose file exists: what the Services card lists.
    pub fn is_service(&self) -> bool {
        self.id.ends_with(b".service") && self.load_state != b"not-found"
    }

    /// node_exporter's default `--collector.systemd.unit-exclude`:
    /// `.+\.(automount|device|mount|scope|slice)`.
    pub fn node_exporter_excludes(&self) -> bool {
        [
            &b".automount"[..],
            b".device",
            b".mount",
            b".scope",
            b".slice",
        ]
        .iter()
        .any(|suffix| self.id.len() > suffix.len() && self.id.ends_with(suffix))
    }
}

/// systemd's `ActiveState=` words; `reloading` counts as active (as
/// node_exporter's five states leave it: its series are all 0 then).
pub fn parse_state(word: &[u8]) -> Option<State> {
    Some(match word {
        b"active" | b"reloading" => State::Active,
        b"activating" => State::Activating,
        b"deactivating" => State::Deactivating,
        b"inactive" => State::Inactive,
        b"failed" => State::Failed,
        _ => return None,
    })
}

/// Calls `unit` for every unit block of `systemctl show` output; the count
/// of blocks skipped (no `Id=`, or an `ActiveState=` not known).
pub fn parse_show<'a>(text: &'a [u8], mut unit: impl FnMut(Unit<'a>)) -> usize {
    let mut skipped = 0;
    for block in Blocks(text) {
        let (mut id, mut load, mut state, mut kind, mut changed) =
            (None, &b""[..], None, &b""[..], None);
        for line in block.split(|b| *b == b'\n') {
            let Some(eq) = line.iter().position(|b| *b == b'=') else {
                continue;
            };
            let (key, value) = (&line[..eq], &line[eq + 1..]);
            match key {
                b"Id" => id = Some(value),
                b"LoadState" => load = value,
                b"ActiveState" => state = parse_state(value),
                b"Type" => kind = value,
                b"StateChangeTimestampMonotonic" => {
                    changed = crate::proc::parse_u64(value).filter(|us| *us > 0)
                }
                _ => {}
            }
        }
        match (id, state) {
            (Some(id), Some(state)) if !id.is_empty() => unit(Unit {
                id,
                load_state: load,
                state,
                kind,
                changed_monotonic_us: changed,
            }),
            _ => skipped += 1,
        }
    }
    skipped
}

/// The non-empty runs of lines between empty lines.
struct Blocks<'a>(&'a [u8]);

impl<'a> Iterator for Blocks<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let rest = self.0;
            if rest.is_empty() {
                return None;
            }
            let end = rest
                .windows(2)
                .position(|w| w == b"\n\n")
                .map_or(rest.len(), |p| p + 1);
            let block = &rest[..end];
            self.0 = rest.get(end + 1..).unwrap_or(&[]);
            let block = block.trim_ascii();
            if !block.is_empty() {
                return Some(block);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/services/systemd/show-failed.txt");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Captured in the systemd-nspawn container (tests/fixtures/services/SOURCE):
    /// 139 units, as `systemctl list-units --all` counted them then.
    #[test]
    fn every_unit_of_a_real_capture() {
        let text = fixture();
        let mut units = Vec::new();
        let skipped = parse_show(&text, |u| units.push(u));
        assert_eq!((units.len(), skipped), (139, 0));
        let count = |s: State| units.iter().filter(|u| u.state == s).count();
        // list-units said: 60 active, 1 failed, 78 inactive.
        assert_eq!(
            (
                count(State::Active),
                count(State::Failed),
                count(State::Inactive)
            ),
            (60, 1, 78)
        );
        let broken = units.iter().find(|u| u.id == b"broken.service").unwrap();
        assert_eq!(
            *broken,
            Unit {
                id: b"broken.service",
                load_state: b"loaded",
                state: State::Failed,
                kind: b"oneshot",
                changed_monotonic_us: Some(10_026_632_792),
            }
        );
        assert!(broken.is_service() && !broken.node_exporter_excludes());
        let healthy = units.iter().find(|u| u.id == b"healthy.service").unwrap();
        assert_eq!(
            (healthy.state, healthy.kind),
            (State::Active, &b"simple"[..])
        );
        // Type= belongs to services and mounts only.
        let home = units.iter().find(|u| u.id == b"home.mount").unwrap();
        assert_eq!(home.load_state, b"not-found");
        assert!(home.node_exporter_excludes());
        let target = units.iter().find(|u| u.id == b"multi-user.target").unwrap();
        assert_eq!(target.kind, b"");
        assert!(!target.is_service() && !target.node_exporter_excludes());
    }

    #[test]
    fn blocks_without_an_id_or_with_an_unknown_state_are_skipped() {
        let text = b"Id=a.service\nActiveState=active\n\n\nActiveState=failed\n\nId=b.service\nActiveState=bogus\n\nType=simple\nId=c.service\nActiveState=failed\nStateChangeTimestampMonotonic=0";
        let mut ids = Vec::new();
        let skipped = parse_show(text, |u| {
            ids.push((u.id, u.state, u.kind, u.changed_monotonic_us))
        });
        assert_eq!(skipped, 2);
        assert_eq!(
            ids,
            [
                (&b"a.service"[..], State::Active, &b""[..], None),
                (&b"c.service"[..], State::Failed, &b"simple"[..], None)
            ]
        );
        assert_eq!(parse_show(b"", |_| panic!()), 0);
        assert_eq!(parse_show(b"\n\n\n", |_| panic!()), 0);
    }
}
