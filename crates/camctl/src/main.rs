//! `camctl`: control and emulate Wi-Fi cameras.
// Doc comments here are clap help text, where `[...]` marks optional parts, not intra-doc links.
#![allow(rustdoc::broken_intra_doc_links)]

mod any;
mod bench;
mod catalog;
mod cli;
mod commands;
mod demo;
mod discover;
mod emulate;
mod hooks;
mod live;
mod pull;
mod serve;
mod signal;
mod snapshot;
mod template;
mod watch;
mod wifi;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
    if cli.command.only_prints() {
        // Like other Unix tools, a listing whose reader went away (`camctl ls --json | head`) ends
        // quietly instead of failing on the closed pipe. Commands that write files or streams keep
        // handling the closed pipe themselves.
        // SAFETY: setting a signal disposition before any thread is started.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("camctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote camera-supplied text (names, answers): never raw to the terminal.
            eprintln!("camctl: {}", camctl_core::text::Safe(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// `-v` raises the level; `RUST_LOG` overrides it. Logs go to stderr so stdout stays parseable.
fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,camctl=info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_colour())
        .init();
}

/// Colour only for a person at a terminal, and never when `NO_COLOR` is set (no-color.org).
fn use_colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
