//! Page-table and page-cache hygiene: giving back the pages of the binary
//! that only start-up touched, and keeping the loop's refaults to the
//! pages it touches.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

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
    super::zero_or_errno(rc)
}

/// Marks the clean file mapping `start..end` (as for
/// [`drop_clean_file_pages`]) as read at random: a fault on a page that
/// is not in the page cache reads that page alone, not the read-ahead
/// window around it. Fault-around still maps the neighbours the cache
/// already holds, so once the cache holds only what the process touched,
/// so does its RSS. Linux 6.16 and later read ahead on an executable
/// mapping all the same (in 4 KiB folios on x86-64): there the hint
/// changed nothing measured (README, *Right after an install*).
pub fn advise_random_access(start: usize, end: usize) -> io::Result<()> {
    // SAFETY: MADV_RANDOM only sets a read-ahead hint on the mapping
    // (VM_RAND_READ); no page, permission or content changes. The range is
    // one of the executable's own mappings, as above.
    let rc = unsafe {
        libc::madvise(
            start as *mut libc::c_void,
            end.saturating_sub(start),
            libc::MADV_RANDOM,
        )
    };
    super::zero_or_errno(rc)
}

/// Writes `file`'s dirty pages back and waits for them, then asks the
/// kernel to drop its clean pages from the page cache. Pages some process
/// still maps stay (the kernel skips them), so this only drops what
/// nobody uses: the next access reads it from disk. Writing back first
/// (best effort) matters right after the file was copied: dirty pages
/// cannot be dropped, and a file just written is dirty for up to 30 s.
pub fn evict_unmapped_file_pages(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: sync_file_range and posix_fadvise take a descriptor this
    // process owns (`file` is borrowed for the call) and touch no memory
    // of the process; both work on a read-only descriptor. Offset 0 and
    // length 0 mean the whole file.
    let rc = unsafe {
        libc::sync_file_range(
            fd,
            0,
            0,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER,
        )
    };
    // Best effort: where it fails (a file system without it), the dirty
    // pages stay and the eviction below drops the rest.
    let _ = rc;
    // SAFETY: as above; posix_fadvise returns the error number itself.
    let rc = unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(super::context(
            "posix_fadvise(DONTNEED)",
            io::Error::from_raw_os_error(rc),
        ));
    }
    Ok(())
}

/// Drops this process's pages of the clean mappings `ranges` (as
/// [`drop_clean_file_pages`]) and then `file`'s unmapped pages from the
/// page cache (as [`evict_unmapped_file_pages`], without the write-back),
/// running no code of the binary in between but this function's own.
///
/// Why: the kernel skips a folio that is mapped, and the code that drops
/// the pages maps its own folios again before it can evict anything (it
/// runs from them, and so do the C library's wrappers it calls). Run first
/// from the loop's code, the drop leaves the loop's large folios mapped
/// whole. This function, called after that first pass, lives in the cold
/// text (never in `src/link/hot-text.ld`: `src/link/hot_text.py` leaves
/// it out): the first pass evicted its page, so calling it maps that one
/// 4 KiB page, and nothing it runs touches the folios the first pass kept.
/// Its system calls are inline `syscall` instructions, not calls into the
/// C library, which sits in the hot text. x86-64 only (the release
/// build's target, the only one with the layout); elsewhere it does
/// nothing.
#[cold]
#[inline(never)]
pub fn drop_and_evict_from_cold_code(ranges: &[(usize, usize)], file: &File) -> io::Result<()> {
    #[cfg(target_arch = "x86_64")]
    {
        let fd = file.as_raw_fd();
        for &(start, end) in ranges {
            // SAFETY: as for `drop_clean_file_pages`: MADV_DONTNEED over one
            // of the executable's clean mappings, read from /proc/self/smaps.
            // A failure leaves the pages mapped, as before.
            let _ = unsafe {
                raw_syscall4(
                    libc::SYS_madvise,
                    start,
                    end.wrapping_sub(start),
                    libc::MADV_DONTNEED as usize,
                    0,
                )
            };
        }
        // SAFETY: fadvise64(fd, 0, 0, POSIX_FADV_DONTNEED) on a descriptor
        // `file` keeps open for the call; it touches no memory of the
        // process.
        let rc = unsafe {
            raw_syscall4(
                libc::SYS_fadvise64,
                fd as usize,
                0,
                0,
                libc::POSIX_FADV_DONTNEED as usize,
            )
        };
        if rc < 0 {
            let errno = i32::try_from(-rc).unwrap_or(libc::EINVAL);
            return Err(super::context(
                "fadvise64(DONTNEED)",
                io::Error::from_raw_os_error(errno),
            ));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ranges, file);
    Ok(())
}

/// One Linux system call with up to four arguments, as an inline
/// `syscall` instruction: the kernel's result, `-errno` on failure.
///
/// # Safety
/// The call must be one whose arguments are valid as passed (the caller's
/// SAFETY note says why).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn raw_syscall4(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the x86-64 Linux system call convention: number in rax,
    // arguments in rdi, rsi, rdx, r10; the kernel returns in rax and
    // clobbers rcx and r11 only; no stack is used.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// How far below its own frame [`drop_stack_pages_below_here`] leaves the
/// stack alone: room for the frames of the C library's `madvise` it calls
/// (a few hundred bytes).
const STACK_MARGIN: usize = 16 * 1024;

/// Drops the pages of the main thread's stack `stack_start..stack_end`
/// (the `[stack]` mapping) that lie more than [`STACK_MARGIN`] below this
/// function's own frame: start-up went deeper than the loop does (the
/// config, the `Daemon` value built and moved on the stack), and those
/// pages stayed resident. Below the frame of the running function nothing
/// is live, so the next call that goes that deep finds zeroed pages it
/// writes before it reads. Does nothing when called on another thread's
/// stack. Returns the bytes dropped.
#[inline(never)]
pub fn drop_stack_pages_below_here(stack_start: usize, stack_end: usize) -> io::Result<usize> {
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    if !(stack_start..stack_end).contains(&here) {
        return Ok(0);
    }
    let page = usize::try_from(super::page_size()).unwrap_or(4096).max(1);
    let below = here.saturating_sub(STACK_MARGIN) / page * page;
    if below <= stack_start {
        return Ok(0);
    }
    // SAFETY: the range is page-aligned, inside the main thread's stack
    // mapping and at least STACK_MARGIN below the frame of this function,
    // which this thread is running: the stack grows down, so every frame
    // that is live lies above `here`, and the only frames below it during
    // the call are madvise's own, within the margin. Other threads never
    // use this stack. The dropped pages read back as zeros, and nothing
    // reads a stack slot before writing it.
    let rc = unsafe {
        libc::madvise(
            stack_start as *mut libc::c_void,
            below - stack_start,
            libc::MADV_DONTNEED,
        )
    };
    super::zero_or_errno(rc)?;
    Ok(below - stack_start)
}
