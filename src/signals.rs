//! SIGTERM and SIGINT: an orderly stop instead of being killed.
//!
//! Airbyte's platform, `docker stop` and Ctrl-C ask a sync to stop with SIGTERM or SIGINT. The handlers are
//! installed at start (as PID 1 in a container, a signal without a handler is not delivered at all), and on the
//! first signal `main` drops the running command, says so in a LOG, lets the writer flush the whole messages
//! already sent (the last STATE of each stream among them, from which the next attempt resumes) and exits with
//! 128 + the signal's number, as a shell reports a process ended by it.

use std::process::ExitCode;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Terminate,
    Interrupt,
}

impl StopSignal {
    fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Interrupt => "SIGINT",
        }
    }

    /// 128 + the signal's number: 143 for SIGTERM, 130 for SIGINT.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            StopSignal::Terminate => 143,
            StopSignal::Interrupt => 130,
        })
    }

    pub fn message(self) -> String {
        format!(
            "The sync was interrupted by {}: no more requests are sent. The messages above are complete; the last \
             STATE of each stream is where the next attempt resumes",
            self.name()
        )
    }
}

/// The installed handlers.
pub struct Stop {
    terminate: Signal,
    interrupt: Signal,
}

impl Stop {
    pub fn install() -> std::io::Result<Stop> {
        Ok(Stop {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the first SIGTERM or SIGINT.
    pub async fn received(mut self) -> StopSignal {
        tokio::select! {
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.interrupt.recv() => StopSignal::Interrupt,
        }
    }
}
