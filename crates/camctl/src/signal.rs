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

/// SIGUSR1, the emulators' stand-in for the camera's own shutter button (`kill -USR1 PID`).
pub struct ShutterSignal {
    #[cfg(unix)]
    usr1: tokio::signal::unix::Signal,
}

impl ShutterSignal {
    /// Installs the handler now (so a press right after `listening` is printed is not lost, nor
    /// kills the process, SIGUSR1's default).
    pub fn install() -> Result<ShutterSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let usr1 = signal(SignalKind::user_defined1())
                .map_err(|e| Error::io("installing the SIGUSR1 handler", e))?;
            Ok(ShutterSignal { usr1 })
        }
        #[cfg(not(unix))]
        Ok(ShutterSignal {})
    }

    /// Runs `press` for every SIGUSR1, one press at a time, forever.
    pub async fn on_press<F: Future<Output = ()>>(mut self, mut press: impl FnMut() -> F) {
        #[cfg(unix)]
        while self.usr1.recv().await.is_some() {
            tracing::info!("SIGUSR1: shutter pressed");
            press().await;
        }
        #[cfg(not(unix))]
        {
            let _ = &mut press;
        }
        std::future::pending::<()>().await
    }
}

/// Completes once `stop` becomes true, or once its sender is gone (an aborted stopper means stop too).
/// Owns a clone of the receiver, so it can be pinned and polled across loop turns.
pub fn stopped(stop: &tokio::sync::watch::Receiver<bool>) -> impl Future<Output = ()> + use<> {
    let mut stop = stop.clone();
    async move {
        let _ = stop.wait_for(|s| *s).await;
    }
}
