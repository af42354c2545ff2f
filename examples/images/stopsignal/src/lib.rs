//! SIGTERM and SIGINT handling for the example images' processes, which run as PID 1 in
//! FROM-scratch images.
//!
//! The kernel gives PID 1 no default action for SIGTERM, so without a handler `docker stop`
//! waits its whole timeout and then SIGKILLs. signal-hook turns the signal into an ordinary
//! message on a thread, so the reaction is ordinary code with no async-signal-safety rules.

use std::io;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Start a thread that calls `on_signal` with the first SIGTERM or SIGINT that arrives.
pub fn on_termination(on_signal: impl FnOnce(i32) + Send + 'static) -> io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(sig) = signals.forever().next() {
            on_signal(sig);
        }
    })?;
    Ok(())
}
