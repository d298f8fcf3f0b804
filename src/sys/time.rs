//! Local time from the C library (the zone file is read by `localtime_r`):
//! the stamp in archive and log names and the zip entries' DOS dates.

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
