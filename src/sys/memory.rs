//! Page-table hygiene: giving back the pages of the binary that only
//! start-up touched.

use std::io;

/// Drops this process's page-table entries for `start..end`, a mapping of
/// a file that is not writable and holds no copied-on-write page (see
/// `crate::proc::smaps`). The pages stay in the page cache; the next
/// access maps them again (a minor fault), so only what the process goes
/// on touching counts in its RSS.
pub fn drop_clean_file_pages(start: usize, end: usize) -> io::Result<()> {
    // SAFETY: madvise(MADV_DONTNEED) changes no memory the process can
    // observe on such a mapping: with no write permission and no anonymous
    // page, every resident page is the file's own, and the next read maps
    // the same bytes from the page cache again. The caller passes a range
    // read from /proc/self/smaps of the executable's own mappings, which
    // are never unmapped while it runs, so no other mapping can have taken
    // the range meanwhile.
    let rc = unsafe {
        libc::madvise(
            start as *mut libc::c_void,
            end.saturating_sub(start),
            libc::MADV_DONTNEED,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
