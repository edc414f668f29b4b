//! `ml-master env setup|check`: the managed Python environment.

use mlm_exec::{Profile, PythonEnvironment, PythonSource, SetupOutcome, SetupProgress};

use crate::cli::{EnvArguments, EnvCommand, ProfileArgument, PythonArguments};
use crate::failure::{CommandResult, Failure};

pub fn run(command: EnvCommand) -> CommandResult {
    match command {
        EnvCommand::Setup(arguments) => setup(&arguments),
        EnvCommand::Check(arguments) => check(&arguments),
    }
}

fn profile(arguments: &EnvArguments) -> Profile {
    match arguments.profile {
        ProfileArgument::Base => Profile::Base,
        ProfileArgument::Deep => Profile::Deep,
        ProfileArgument::Automl => Profile::Automl,
    }
}

/// The interpreter for a command that needs one, set up first when it is the managed one and not ready.
pub fn ready_environment(
    python: &PythonArguments,
    profile: Profile,
) -> Result<PythonEnvironment, Failure> {
    let environment =
        PythonEnvironment::resolve(python.python.clone(), profile).map_err(Failure::bad_input)?;
    if !environment.is_ready() {
        if let PythonSource::Managed { root, .. } = &environment.source {
            eprintln!(
                "Setting up the managed Python environment ({} profile) in {}",
                profile.name(),
                root.display()
            );
        }
        environment
            .setup(&mut TerminalProgress)
            .map_err(Failure::job)?;
    }
    environment.require_python().map_err(Failure::bad_input)?;
    Ok(environment)
}

fn setup(arguments: &EnvArguments) -> CommandResult {
    let profile = profile(arguments);
    let environment = PythonEnvironment::resolve(arguments.python.python.clone(), profile)
        .map_err(Failure::bad_input)?;
    let outcome = environment
        .setup(&mut TerminalProgress)
        .map_err(Failure::job)?;
    let python = environment.python();
    match outcome {
        SetupOutcome::Installed => eprintln!(
            "The {} environment is ready: {}",
            profile.name(),
            python.display()
        ),
        SetupOutcome::AlreadyCurrent => {
            eprintln!(
                "The {} environment is already up to date: {}",
                profile.name(),
                python.display()
            )
        }
        SetupOutcome::UserInterpreter => {
            eprintln!(
                "Using your interpreter {}; nothing installed into it",
                python.display()
            );
            return check(arguments);
        }
    }
    Ok(())
}

fn check(arguments: &EnvArguments) -> CommandResult {
    let profile = profile(arguments);
    let environment = PythonEnvironment::resolve(arguments.python.python.clone(), profile)
        .map_err(Failure::bad_input)?;
    let missing = environment
        .missing_modules(profile)
        .map_err(Failure::bad_input)?;
    let python = environment.python();
    if missing.is_empty() {
        eprintln!(
            "{}: every package of the {} profile is present",
            python.display(),
            profile.name()
        );
        return Ok(());
    }
    let hint = match environment.source {
        PythonSource::Managed { .. } => {
            format!("run `ml-master env setup --profile {}`", profile.name())
        }
        PythonSource::User { .. } => format!("install them into {} with pip", python.display()),
    };
    Err(Failure::job(anyhow::anyhow!(
        "{}: missing from the {} profile: {}\nhint: {hint}",
        python.display(),
        profile.name(),
        missing.join(", ")
    )))
}

/// Set-up progress on stderr: one line per step, the tool's own output indented below it.
struct TerminalProgress;

impl SetupProgress for TerminalProgress {
    fn step(&mut self, description: &str) {
        eprintln!("==> {description}");
    }

    fn output(&mut self, line: &str) {
        eprintln!("    {line}");
    }
}
