//! The Python environments a command needs: the managed one set up on first use, or the user's own
//! interpreter checked; and the reporter through which long preparations tell the user what they do.

use std::path::{Path, PathBuf};

use mlm_exec::{Profile, PythonEnvironment, PythonSource, SetupProgress};
use mlm_task::Task;

use crate::error::{Error, Result};

/// How preparation steps reach the user. Set-up steps and tool output arrive through
/// [`SetupProgress`]; the binary decides how to draw them.
pub trait Reporter: SetupProgress {
    /// The managed environment of `profile` is about to be created or updated in `root`.
    fn environment_setup(&mut self, profile: Profile, root: &Path);
    /// A recipe is about to run into `out`.
    fn recipe_preparing(&mut self, recipe: &Path, out: &Path);
    /// A recipe wrote a competition that loads and grades.
    fn recipe_prepared(&mut self, task: &Task, out: &Path);
}

/// The interpreter for a command that needs one, set up first when it is the managed one and not ready.
pub fn ready_environment(
    python: Option<&Path>,
    profile: Profile,
    reporter: &mut dyn Reporter,
) -> Result<PythonEnvironment> {
    let environment = PythonEnvironment::resolve(python.map(Path::to_path_buf), profile)
        .map_err(Error::Python)?;
    if !environment.is_ready() {
        if let PythonSource::Managed { root, .. } = &environment.source {
            reporter.environment_setup(profile, root);
        }
        environment.setup(reporter)?;
    }
    environment.require_python().map_err(Error::Python)?;
    Ok(environment)
}

/// The interpreter a run's scripts use: the user's own when named; else the deep profile's when it is
/// set up (it holds the base packages too, and torch and torchvision); else the base profile's, set up
/// on first use.
pub fn run_environment(
    python: Option<&Path>,
    reporter: &mut dyn Reporter,
) -> Result<PythonEnvironment> {
    let deep = PythonEnvironment::resolve(python.map(Path::to_path_buf), Profile::Deep)
        .map_err(Error::Python)?;
    match &deep.source {
        PythonSource::Managed { .. } if deep.is_ready() => Ok(deep),
        PythonSource::Managed { .. } | PythonSource::User { .. } => {
            ready_environment(python, Profile::Base, reporter)
        }
    }
}

/// The interpreter of an AutoML baseline (`--baseline <baseline>`, whose `package` the profile
/// `profile` installs): that profile's, or the user's own; either must hold the profile's packages.
pub fn automl_python(
    python: Option<&Path>,
    profile: Profile,
    baseline: &str,
    package: &str,
) -> Result<PathBuf> {
    let hint = format!(
        "hint: run `ml-master env setup --profile {}`, which installs {package}",
        profile.name()
    );
    let environment = PythonEnvironment::resolve(python.map(Path::to_path_buf), profile)
        .map_err(Error::Python)?;
    let interpreter = environment.python();
    if !interpreter.is_file() {
        return Err(Error::Invalid(format!(
            "{}: --baseline {baseline} needs {package}, and this interpreter does not exist\n{hint}",
            interpreter.display()
        )));
    }
    let missing = environment
        .missing_modules(profile)
        .map_err(Error::Python)?;
    if !missing.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: --baseline {baseline} needs {package}, and this interpreter lacks {}\n{hint}",
            interpreter.display(),
            missing.join(", ")
        )));
    }
    Ok(interpreter)
}
