//! `ml-master prepare RECIPE_DIR`: runs a recipe's prepare.py in the managed environment and checks that
//! what it wrote is a competition the grader accepts.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use mlm_exec::{run_process, ProcessRequest, Profile};
use mlm_grade::Grader;
use mlm_task::Task;

use crate::cli::PrepareArguments;
use crate::commands::env::ready_environment;
use crate::failure::{CommandResult, Failure};

pub fn run(arguments: PrepareArguments) -> CommandResult {
    let recipe_dir = &arguments.recipe_dir;
    let prepare_script = recipe_dir.join("prepare.py");
    if !prepare_script.is_file() || !recipe_dir.join("task.toml").is_file() {
        return Err(Failure::bad_input(anyhow!(
            "{}: not a task recipe: expected task.toml and prepare.py in it\nhint: the bundled recipes are in tasks/, e.g. tasks/titanic",
            recipe_dir.display()
        )));
    }
    let out = match arguments.out {
        Some(out) => out,
        None => default_out(recipe_dir)?,
    };
    let environment = ready_environment(&arguments.python, Profile::Base)?;
    let out = absolute(&out).map_err(Failure::bad_input)?;
    eprintln!("Preparing {} into {}", recipe_dir.display(), out.display());
    let request = ProcessRequest::new(environment.python(), recipe_dir).args([
        PathBuf::from("prepare.py").into_os_string(),
        "--out".into(),
        out.clone().into_os_string(),
    ]);
    let outcome =
        run_process(&request, &mut |line| eprintln!("    {}", line.text)).map_err(Failure::job)?;
    if !outcome.success() {
        return Err(Failure::job(anyhow!(
            "{}: prepare.py failed ({})\nhint: read its output above",
            prepare_script.display(),
            outcome.status
        )));
    }
    // A recipe that wrote something the grader rejects is a broken recipe: say so now, not at grading time.
    let task = Task::load(&out, None).map_err(Failure::job)?;
    Grader::for_task(&task).map_err(Failure::job)?;
    eprintln!(
        "Prepared `{}` ({}) in {}",
        task.id,
        task.name,
        out.display()
    );
    eprintln!(
        "Grade a submission with: ml-master grade --task {} --submission {}",
        out.display(),
        task.grading.sample_submission.display()
    );
    Ok(())
}

fn default_out(recipe_dir: &Path) -> Result<PathBuf, Failure> {
    let name = absolute(recipe_dir)
        .map_err(Failure::bad_input)?
        .file_name()
        .map(|name| name.to_owned())
        .ok_or_else(|| {
            Failure::bad_input(anyhow!("{}: cannot name the recipe", recipe_dir.display()))
        })?;
    Ok(mlm_exec::data_home()
        .map_err(Failure::bad_input)?
        .join("tasks")
        .join(name))
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path)
        .with_context(|| format!("{}: cannot resolve the path", path.display()))
}
