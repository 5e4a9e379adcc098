//! Returning freed heap memory to the operating system.
//!
//! glibc's allocator keeps memory freed by one thread in that thread's arena
//! for later reuse, and gives back only the top of each heap. A node's
//! threads free whole blocks of transactions, receipts and state diffs that
//! other threads allocated, so the process's resident memory drifts far
//! above what it holds live: the soak bench measured 107 MiB in use and
//! 319 MiB resident at 1,000,000 transfers. `malloc_trim` hands the free
//! pages inside every arena back (`madvise`), which is what keeps a
//! long-running node's memory near its live data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds between two trims: each walks every arena (about a millisecond
/// for a node's heap), so it is done rarely, not per block.
const TRIM_EVERY_SECS: u64 = 10;

static LAST_TRIM: AtomicU64 = AtomicU64::new(0);

/// Gives freed heap memory back to the system, at most once every
/// [`TRIM_EVERY_SECS`] per process (called after each committed block).
pub(crate) fn release_freed() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_TRIM.load(Ordering::Relaxed);
    if now < last + TRIM_EVERY_SECS
        || LAST_TRIM
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    trim();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free pages the allocator owns.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl, macOS, Windows) return memory by themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
