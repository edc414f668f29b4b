//! `ml-master env setup|check`: the managed Python environment.

use mlm_exec::{Profile, PythonEnvironment, PythonSource, SetupOutcome};

use crate::cli::{EnvArguments, EnvCommand, ProfileArgument};
use crate::failure::{CommandResult, Failure};
use crate::reporter::TerminalReporter;

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
        ProfileArgument::Cluster => Profile::Cluster,
        ProfileArgument::Autogluon => Profile::Autogluon,
    }
}

fn setup(arguments: &EnvArguments) -> CommandResult {
    let profile = profile(arguments);
    let environment = PythonEnvironment::resolve(arguments.python.python.clone(), profile)
        .map_err(Failure::bad_input)?;
    let outcome = environment
        .setup(&mut TerminalReporter)
        .map_err(Failure::job)?;
    let python = environment.python();
    match outcome {
        SetupOutcome::Installed => println!(
            "The {} environment is ready: {}",
            profile.name(),
            python.display()
        ),
        SetupOutcome::AlreadyCurrent => {
            println!(
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
        println!(
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
