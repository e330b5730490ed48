//! The user's "stop": Ctrl-C (SIGINT) or SIGTERM, for every command that runs until stopped.

use std::future::Future;

use camctl_core::{Error, Result};

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal arriving in between is not lost (nor kills the process
/// before it could clean up).
pub fn stop_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install =
            |kind, name| signal(kind).map_err(|e| Error::io(format!("installing the {name} handler"), e));
        let mut interrupt = install(SignalKind::interrupt(), "SIGINT")?;
        let mut terminate = install(SignalKind::terminate(), "SIGTERM")?;
        Ok(async move {
            let which = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            tracing::info!("{which}: stopping");
        })
    }
    #[cfg(not(unix))]
    {
        let _ = Error::Unsupported(String::new());
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
