//! Local time from the C library (the zone file is read by `localtime_r`):
//! the stamp in archive and log names and the zip entries' DOS dates; the
//! kernel clock discipline (`adjtimex`) for /metrics; and the monotonic and
//! boot-time clocks in the units other sources print them in.

/// Local time as `YYYYmmdd_HHMMSS`, the stamp in archive and log names.
/// Falls back to UTC when the local zone cannot be determined.
pub fn local_timestamp(unix_s: i64) -> String {
    match local_time_fields(unix_s) {
        Some((year, month, day, hour, minute, second)) => {
            format!("{year:04}{month:02}{day:02}_{hour:02}{minute:02}{second:02}")
        }
        None => format!("{unix_s}"),
    }
}

/// Local broken-down time `(year, month 1-12, day, hour, minute, second)`
/// for `unix_s` (UTC when the zone is unknown): the zip format's DOS
/// date and time fields are local time.
// libc deprecates `time_t` on musl because it was 32-bit on 32-bit targets
// before musl 1.2; on x86_64 (our only release target) it is 64-bit.
#[allow(deprecated)]
pub fn local_time_fields(unix_s: i64) -> Option<(i32, u32, u32, u32, u32, u32)> {
    // SAFETY: localtime_r/gmtime_r write only into `tm`, which we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t: libc::time_t = unix_s as libc::time_t;
        if libc::localtime_r(&t, &mut tm).is_null() && libc::gmtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    let field = |v: libc::c_int| u32::try_from(v).ok();
    Some((
        tm.tm_year.checked_add(1900)?,
        field(tm.tm_mon)? + 1,
        field(tm.tm_mday)?,
        field(tm.tm_hour)?,
        field(tm.tm_min)?,
        field(tm.tm_sec)?,
    ))
}

/// What `adjtimex(2)` reports about the kernel clock discipline, read
/// without changing anything (`modes = 0`): the raw `struct timex` fields
/// node_exporter's `timex` collector exports, and the clock state returned
/// (`TIME_OK` .. `TIME_ERROR` = 5, unsynchronised).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timex {
    pub state: i32,
    /// µs, or ns when `status` has `STA_NANO` (0x2000).
    pub offset: i64,
    /// ppm with a 16-bit fraction.
    pub freq: i64,
    pub maxerror_us: i64,
    pub esterror_us: i64,
    pub status: i32,
    pub constant: i64,
    pub tick_us: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i32,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i32,
}

/// `adjtimex(2)` with `modes = 0`: reads, never adjusts (no privilege needed).
pub fn adjtimex() -> std::io::Result<Timex> {
    // SAFETY: timex is plain C data, all-zero is valid and means modes = 0
    // (read only); adjtimex writes only into the struct we own.
    let mut t: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is a valid, writable timex.
    let state = unsafe { libc::adjtimex(&mut t) };
    if state < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Timex {
        state,
        offset: t.offset as i64,
        freq: t.freq as i64,
        maxerror_us: t.maxerror as i64,
        esterror_us: t.esterror as i64,
        status: t.status,
        constant: t.constant as i64,
        tick_us: t.tick as i64,
        ppsfreq: t.ppsfreq as i64,
        jitter: t.jitter as i64,
        shift: t.shift,
        stabil: t.stabil as i64,
        jitcnt: t.jitcnt as i64,
        calcnt: t.calcnt as i64,
        errcnt: t.errcnt as i64,
        stbcnt: t.stbcnt as i64,
        tai: t.tai,
    })
}

/// `CLOCK_MONOTONIC` now, in microseconds: the clock systemd's
/// `*TimestampMonotonic` properties are read on.
pub fn monotonic_now_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration;
    // CLOCK_MONOTONIC exists on every Linux, so the call cannot fail.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1000
}

/// `CLOCK_BOOTTIME` now in hundredths of a second, truncated: what
/// /proc/uptime's first figure prints (`uptime_proc_show`: the boot-time
/// clock of the reader's time namespace, `tv_nsec / (NSEC_PER_SEC /
/// 100)`). musl answers it from the vDSO: no system call.
pub fn boottime_centis() -> std::io::Result<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let centis = u64::try_from(ts.tv_nsec).unwrap_or(0) / 10_000_000;
    Ok(secs * 100 + centis)
}
