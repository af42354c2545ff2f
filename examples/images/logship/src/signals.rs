//! SIGTERM and SIGINT handling for a process that runs as PID 1 in a FROM-scratch image.
//!
//! The kernel gives PID 1 no default action for SIGTERM, so without this `docker stop` would
//! wait its full timeout and then SIGKILL. The signals are blocked in every thread and taken by
//! one waiting thread with `sigwait`, so the reaction runs as ordinary code (no async-signal
//! safety rules to respect). The same small file is in each example image crate on purpose:
//! each crate is self-contained.

use std::{io, mem, ptr, thread};

/// Block SIGTERM and SIGINT in this thread and every thread it spawns later, then start a
/// thread that calls `on_signal` with the first one that arrives. Call before spawning threads.
pub fn on_termination(on_signal: impl FnOnce(i32) + Send + 'static) -> io::Result<()> {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use.
    let set = unsafe {
        let mut set: libc::sigset_t = mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        set
    };
    thread::Builder::new().name("signals".into()).spawn(move || {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` and `sig` are valid for the call.
        while unsafe { libc::sigwait(&set, &mut sig) } != 0 {}
        on_signal(sig);
    })?;
    Ok(())
}
