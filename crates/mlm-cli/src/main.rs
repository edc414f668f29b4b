//! The `ml-master` binary: parses the command line, runs one command, and maps the outcome to the exit
//! codes of DESIGN.md (0 success, 1 the job failed, 2 bad input or configuration). Business logic lives in
//! the library crates; this crate only wires them to the terminal.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the binary is where output reaches the terminal: results (human or JSON) on stdout, progress on stderr"
)]

mod cli;
mod commands;
mod failure;
mod live;
mod progress;
mod reporter;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        // The launcher confines itself before anything else runs, and prints nothing of its own.
        Command::SandboxExec(arguments) => {
            let code = mlm_exec::sandbox::launcher_main(arguments.arguments);
            return ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX));
        }
        command => command,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(mlm_env_vars::EnvVars::ML_MASTER_LOG)
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = match command {
        Command::Env(arguments) => commands::env::run(arguments),
        Command::Prepare(arguments) => commands::prepare::run(arguments),
        Command::Grade(arguments) => commands::grade::run(arguments),
        Command::ServeValidator(arguments) => commands::serve_validator::run(arguments),
        Command::Exec(arguments) => commands::exec::run(arguments),
        Command::Run(arguments) => commands::run::run(arguments),
        Command::Resume(arguments) => commands::run::resume(arguments),
        Command::Dashboard(arguments) => commands::dashboard::run(arguments),
        Command::Report(arguments) => commands::dashboard::report(arguments),
        Command::Bench(arguments) => commands::bench::run(arguments),
        Command::SandboxExec(_) => Err(Failure::bad_input(anyhow::anyhow!(
            "sandbox-exec is internal"
        ))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
