//! Task recipes on their way to a competition directory: `prepare.py` run in the managed environment,
//! and the result checked to load and grade. `run --task <recipe>` and the bench prepare through here.

use std::path::{Path, PathBuf};

use mlm_exec::{run_process, Environment, ProcessRequest, Profile, PythonEnvironment};
use mlm_grade::Grader;
use mlm_task::{Recipe, Task, RECIPE_FINGERPRINT_FILE};

use crate::environment::{ready_environment, Reporter};
use crate::error::{Error, Result};

/// When `task_dir` is a recipe, its prepared copy in the data directory, built now unless a copy of the
/// recipe as it is now already exists; `None` when `task_dir` is a competition directory already.
pub fn prepared_recipe(
    task_dir: &Path,
    python: Option<&Path>,
    reporter: &mut dyn Reporter,
) -> Result<Option<PathBuf>> {
    let Some(recipe) = Recipe::detect(task_dir) else {
        return Ok(None);
    };
    let out = default_out(&recipe)?;
    let environment = ready_environment(python, Profile::Base, reporter)?;
    prepare_recipe(&recipe, &out, &environment, Rebuild::WhenChanged, reporter)?;
    Ok(Some(out))
}

/// Whether a recipe already prepared in the output directory is built again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuild {
    /// Only when the recipe's files or the interpreter changed since the copy there was prepared.
    WhenChanged,
    /// Always (`prepare --force`).
    Always,
}

/// What [`prepare_recipe`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preparation {
    /// The recipe ran and its competition was checked.
    Built,
    /// A copy prepared from the recipe as it is now was there already; nothing ran.
    AlreadyPrepared,
}

/// Prepares `recipe` into `out` unless a copy of the recipe as it is now is there (see [`Rebuild`]);
/// returns the competition, loaded.
pub fn prepare_recipe(
    recipe: &Recipe,
    out: &Path,
    environment: &PythonEnvironment,
    rebuild: Rebuild,
    reporter: &mut dyn Reporter,
) -> Result<(Task, Preparation)> {
    let current = match rebuild {
        Rebuild::WhenChanged => recipe.is_prepared_in(out, &salt(environment)),
        Rebuild::Always => false,
    };
    if current {
        return Ok((Task::load(out, None)?, Preparation::AlreadyPrepared));
    }
    let task = prepare_into(recipe, out, environment, reporter)?;
    Ok((task, Preparation::Built))
}

/// Runs the recipe into `out` and checks the result loads and grades.
fn prepare_into(
    recipe: &Recipe,
    out: &Path,
    environment: &PythonEnvironment,
    reporter: &mut dyn Reporter,
) -> Result<Task> {
    let out = std::path::absolute(out).map_err(Error::io(out, "cannot resolve the path"))?;
    reporter.recipe_preparing(&recipe.dir, &out);
    let support_dir = mlm_exec::data_home()
        .map_err(Error::Python)?
        .join("recipe-support");
    let command = recipe
        .command(&out, &support_dir)
        .map_err(|error| Error::Failed(error.to_string()))?;
    let mut request =
        ProcessRequest::new(environment.python(), &command.working_dir).args(command.arguments);
    request.environment = Environment::InheritWith(command.variables);
    let outcome = run_process(&request, &mut |line| reporter.output(&line.text))?;
    if !outcome.success() {
        return Err(Error::Failed(format!(
            "{}: prepare.py failed ({})\nhint: read its output above",
            recipe.dir.join("prepare.py").display(),
            outcome.status
        )));
    }
    // A recipe that wrote something the grader rejects is a broken recipe: say so now, not at grading time.
    let broken = |error: &dyn std::fmt::Display| {
        Error::Failed(format!(
            "{}: the recipe wrote a competition that does not load: {error}",
            recipe.dir.display()
        ))
    };
    let task = Task::load(&out, None).map_err(|error| broken(&error))?;
    Grader::for_task(&task).map_err(|error| broken(&error))?;
    let fingerprint = recipe
        .fingerprint(&salt(environment))
        .map_err(|error| Error::Failed(error.to_string()))?;
    std::fs::write(out.join(RECIPE_FINGERPRINT_FILE), fingerprint)
        .map_err(Error::io(&out, "cannot write"))?;
    reporter.recipe_prepared(&task, &out);
    Ok(task)
}

/// Output may differ between interpreters (package versions), so the interpreter is part of the key.
fn salt(environment: &PythonEnvironment) -> String {
    environment.python().display().to_string()
}

/// Where a recipe is prepared unless `--out` says otherwise: the data directory's `tasks/<name>`.
pub fn default_out(recipe: &Recipe) -> Result<PathBuf> {
    Ok(mlm_exec::data_home()
        .map_err(Error::Python)?
        .join("tasks")
        .join(recipe.name()))
}
