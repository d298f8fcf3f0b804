//! `/proc/<pid>/stat` of any process: its name, state, flags, CPU time,
//! start time and resident pages, for the top processes
//! ([`crate::sample::top`]).
//!
//! The name (field 2) is in parentheses and may itself hold spaces and
//! parentheses (`(sd-pam)`, `a) b`): it runs from the first `(` to the
//! last `)`, and the other fields are counted from that `)`.
//!
//! Invariant: a truncated or garbled line (a process that exited while it
//! was read, a fixture cut short) is an error, never a zero: every field
//! read must be present and a number.

use super::{ParseError, fields, parse_u64};

/// `PF_KTHREAD` in the `flags` field (include/linux/sched.h, since 2.6.27):
/// a kernel thread, which has no command line.
pub const PF_KTHREAD: u64 = 0x0020_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidStat<'a> {
    pub pid: u32,
    /// Field 2 without its parentheses; the kernel cuts it to 15 bytes.
    pub comm: &'a [u8],
    /// Field 3: `R`, `S`, `D`, `Z`, ...
    pub state: u8,
    /// Field 9: `PF_*` bits.
    pub flags: u64,
    /// Fields 14 and 15, in clock ticks; for a process, the sum over its
    /// threads, living and exited.
    pub user_ticks: u64,
    pub system_ticks: u64,
    /// Field 22: clock ticks after boot at which the process started.
    /// With the pid, it names one process: a pid reused later has another.
    pub start_ticks: u64,
    /// Field 24: resident pages, the figure statm's second column shows too.
    pub rss_pages: u64,
}

impl PidStat<'_> {
    pub fn cpu_ticks(&self) -> u64 {
        self.user_ticks.saturating_add(self.system_ticks)
    }

    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

pub fn parse(buf: &[u8]) -> Result<PidStat<'_>, ParseError> {
    let err = |what| ParseError::new(1, what);
    let open = buf
        .iter()
        .position(|b| *b == b'(')
        .ok_or(err("no `(` before the command name"))?;
    let close = buf
        .iter()
        .rposition(|b| *b == b')')
        .filter(|c| *c > open)
        .ok_or(err("no `)` after the command name"))?;
    let pid = fields(&buf[..open])
        .next()
        .and_then(parse_u64)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or(err("the pid is not a number"))?;
    // Fields 3 to 24, one pass over the bytes, up to the line's end: only
    // the state and five numbers are kept (the others may be signed, as
    // priority, nice and tpgid are). A field split then parsed cost about
    // 4,000 instructions a process, a reading of the top processes' most.
    let after = &buf[close + 1..];
    let mut at = 0;
    let mut state = 0u8;
    let mut kept = [0u64; 5]; // fields 9, 14, 15, 22, 24
    for field in 3..=24 {
        while let Some(b' ' | b'\t') = after.get(at) {
            at += 1;
        }
        let start = at;
        while let Some(&b) = after.get(at) {
            if matches!(b, b' ' | b'\t' | b'\n') {
                break;
            }
            at += 1;
        }
        if at == start {
            return Err(err("fewer than 24 fields (truncated)"));
        }
        let slot = match field {
            3 => {
                state = after[start];
                continue;
            }
            9 => 0,
            14 => 1,
            15 => 2,
            22 => 3,
            24 => 4,
            _ => continue,
        };
        kept[slot] = parse_u64(&after[start..at]).ok_or(err("field is not a number"))?;
    }
    // A line cut inside field 24 would be a wrong, small RSS: something
    // must follow it (its newline, or field 25), not just the end.
    while let Some(b' ' | b'\t') = after.get(at) {
        at += 1;
    }
    if at == after.len() {
        return Err(err("fewer than 24 fields (truncated)"));
    }
    let [flags, user_ticks, system_ticks, start_ticks, rss_pages] = kept;
    Ok(PidStat {
        pid,
        comm: &buf[open + 1..close],
        state,
        flags,
        user_ticks,
        system_ticks,
        start_ticks,
        rss_pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = b"4242 (a) b) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 9 0 0 20 0 3 0 123456 8888888 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn a_name_with_spaces_and_parentheses() {
        let s = parse(LINE).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, b"a) b");
        assert_eq!(s.state, b'S');
        assert_eq!((s.user_ticks, s.system_ticks, s.cpu_ticks()), (17, 9, 26));
        assert_eq!((s.start_ticks, s.rss_pages), (123456, 250));
        assert!(!s.is_kernel_thread());
        let pam = b"900 ((sd-pam)) S 899 899 899 0 -1 4194624 50 0 0 0 0 0 0 0 20 0 1 0 4000 103000000 1200 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0\n";
        assert_eq!(parse(pam).unwrap().comm, b"(sd-pam)");
    }

    #[test]
    fn a_kernel_thread() {
        let k = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 2 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let s = parse(k).unwrap();
        assert!(s.is_kernel_thread());
        assert_eq!(s.rss_pages, 0);
    }

    #[test]
    fn truncated_or_garbled_lines_are_errors() {
        // Cut anywhere before the end of field 24 (the RSS), it is refused.
        let rss_end =
            LINE.len() - b" 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n".len();
        for cut in 0..rss_end {
            assert!(parse(&LINE[..cut]).is_err(), "cut at {cut}");
        }
        // Once a field follows it, the RSS is whole; blanks alone do not
        // say so.
        assert!(parse(&LINE[..rss_end + 1]).is_err());
        assert!(parse(&LINE[..rss_end + 2]).is_ok());
        assert!(parse(b"1 (a) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0 3\n").is_ok());
        // A newline ends the line: what follows is not its fields.
        assert!(parse(b"1 (a) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1\n0 5 0 3 4\n").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"x (a) S 1 2 3\n").is_err());
        let garbled = b"1 (a) S 1 1 1 0 -1 x 0 0 0 0 1 1 0 0 20 0 1 0 5 0 3\n";
        assert!(parse(garbled).is_err());
    }
}
