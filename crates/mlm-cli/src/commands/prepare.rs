//! `ml-master prepare RECIPE_DIR`: runs a recipe's prepare.py in the managed environment and checks that
//! what it wrote is a competition the grader accepts; a competition already prepared from the recipe as
//! it is now is left alone unless `--force`.

use anyhow::anyhow;
use mlm_agent::{default_out, prepare_recipe, ready_environment, Preparation, Rebuild};
use mlm_exec::Profile;
use mlm_task::Recipe;

use crate::cli::PrepareArguments;
use crate::failure::{CommandResult, Failure};
use crate::reporter::TerminalReporter;

pub fn run(arguments: PrepareArguments) -> CommandResult {
    let Some(recipe) = Recipe::detect(&arguments.recipe_dir) else {
        return Err(Failure::bad_input(anyhow!(
            "{}: not a task recipe: expected task.toml and prepare.py in it\nhint: the bundled recipes are in tasks/, e.g. tasks/titanic",
            arguments.recipe_dir.display()
        )));
    };
    let out = match arguments.out {
        Some(out) => out,
        None => default_out(&recipe).map_err(Failure::from)?,
    };
    let reporter = &mut TerminalReporter;
    let environment =
        ready_environment(arguments.python.python.as_deref(), Profile::Base, reporter)
            .map_err(Failure::from)?;
    let rebuild = if arguments.force {
        Rebuild::Always
    } else {
        Rebuild::WhenChanged
    };
    let (task, preparation) =
        prepare_recipe(&recipe, &out, &environment, rebuild, reporter).map_err(Failure::from)?;
    match preparation {
        Preparation::Built => {}
        Preparation::AlreadyPrepared => eprintln!(
            "`{}` is already prepared in {} from the recipe as it is now; --force prepares it again",
            task.id,
            out.display()
        ),
    }
    eprintln!(
        "Grade a submission with: ml-master grade --task {} --submission {}",
        out.display(),
        task.grading.sample_submission.display()
    );
    Ok(())
}
