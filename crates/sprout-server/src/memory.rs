//! Giving freed memory back to the operating system.
//!
//! glibc's allocator keeps what a large request freed (a refused 30 001-container definition, an
//! upload) in its arenas for reuse, so a server that handled one once stayed at that size: 75 MB
//! resident after the definition, against 18 MB before. Every `TRIM_EVERY` the server asks it to
//! return the free pages (`malloc_trim`), which takes well under a millisecond on a heap this
//! size. Other allocators (musl's) return memory themselves; there this does nothing.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often free memory is returned.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Return the allocator's free memory to the operating system, now.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::os::raw::c_int;
        }
        // SAFETY: malloc_trim only releases free pages of glibc's own arenas; it takes the
        // allocator's locks like any allocation and touches no memory in use.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Return free memory every `TRIM_EVERY` until cancelled.
pub async fn run(cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(TRIM_EVERY) => return_free_memory(),
        }
    }
}
