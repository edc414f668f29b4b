//! `ml-master prepare RECIPE_DIR`: runs a recipe's prepare.py in the managed environment and checks that
//! what it wrote is a competition the grader accepts. `run --task <recipe>` prepares through here too.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use mlm_exec::{run_process, Environment, ProcessRequest, Profile, PythonEnvironment};
use mlm_grade::Grader;
use mlm_task::{Recipe, Task, RECIPE_FINGERPRINT_FILE};

use crate::cli::{PrepareArguments, PythonArguments};
use crate::commands::env::ready_environment;
use crate::failure::{CommandResult, Failure};

pub fn run(arguments: PrepareArguments) -> CommandResult {
    let Some(recipe) = Recipe::detect(&arguments.recipe_dir) else {
        return Err(Failure::bad_input(anyhow!(
            "{}: not a task recipe: expected task.toml and prepare.py in it\nhint: the bundled recipes are in tasks/, e.g. tasks/titanic",
            arguments.recipe_dir.display()
        )));
    };
    let out = match arguments.out {
        Some(out) => out,
        None => default_out(&recipe)?,
    };
    let environment = ready_environment(&arguments.python, Profile::Base)?;
    let task = prepare_into(&recipe, &out, &environment)?;
    eprintln!(
        "Grade a submission with: ml-master grade --task {} --submission {}",
        out.display(),
        task.grading.sample_submission.display()
    );
    Ok(())
}

/// When `task_dir` is a recipe, its prepared copy in the data directory, built now unless a copy of the
/// recipe as it is now already exists; `None` when `task_dir` is a competition directory already.
pub fn prepared_recipe(
    task_dir: &Path,
    python: &PythonArguments,
) -> Result<Option<PathBuf>, Failure> {
    let Some(recipe) = Recipe::detect(task_dir) else {
        return Ok(None);
    };
    let out = default_out(&recipe)?;
    let environment = ready_environment(python, Profile::Base)?;
    if !recipe.is_prepared_in(&out, &salt(&environment)) {
        prepare_into(&recipe, &out, &environment)?;
    }
    Ok(Some(out))
}

/// Runs the recipe into `out` and checks the result loads and grades.
fn prepare_into(
    recipe: &Recipe,
    out: &Path,
    environment: &PythonEnvironment,
) -> Result<Task, Failure> {
    let out = std::path::absolute(out)
        .with_context(|| format!("{}: cannot resolve the path", out.display()))
        .map_err(Failure::bad_input)?;
    eprintln!("Preparing {} into {}", recipe.dir.display(), out.display());
    let support_dir = mlm_exec::data_home()
        .map_err(Failure::bad_input)?
        .join("recipe-support");
    let command = recipe.command(&out, &support_dir).map_err(Failure::job)?;
    let mut request =
        ProcessRequest::new(environment.python(), &command.working_dir).args(command.arguments);
    request.environment = Environment::InheritWith(command.variables);
    let outcome =
        run_process(&request, &mut |line| eprintln!("    {}", line.text)).map_err(Failure::job)?;
    if !outcome.success() {
        return Err(Failure::job(anyhow!(
            "{}: prepare.py failed ({})\nhint: read its output above",
            recipe.dir.join("prepare.py").display(),
            outcome.status
        )));
    }
    // A recipe that wrote something the grader rejects is a broken recipe: say so now, not at grading time.
    let task = Task::load(&out, None).map_err(Failure::job)?;
    Grader::for_task(&task).map_err(Failure::job)?;
    let fingerprint = recipe
        .fingerprint(&salt(environment))
        .map_err(Failure::job)?;
    std::fs::write(out.join(RECIPE_FINGERPRINT_FILE), fingerprint)
        .with_context(|| format!("{}: cannot write", out.display()))
        .map_err(Failure::job)?;
    eprintln!(
        "Prepared `{}` ({}) in {}",
        task.id,
        task.name,
        out.display()
    );
    Ok(task)
}

/// Output may differ between interpreters (package versions), so the interpreter is part of the key.
fn salt(environment: &PythonEnvironment) -> String {
    environment.python().display().to_string()
}

fn default_out(recipe: &Recipe) -> Result<PathBuf, Failure> {
    Ok(mlm_exec::data_home()
        .map_err(Failure::bad_input)?
        .join("tasks")
        .join(recipe.name()))
}
