//! `ml-master bench`: loads the suite, prepares and checks every competition up front, then runs each
//! (competition, seed) as a child `ml-master run` and each baseline, one job after another or
//! `--concurrency` at once, recording each result as it finishes; finally writes `bench.json` and
//! `bench.md`. Rerunning the same command skips what is recorded and resumes runs left unfinished.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context};
use mlm_exec::{available_cpus, Profile, PythonEnvironment};
use mlm_grade::Grader;
use mlm_task::Task;

use crate::bench::aggregate::build_report;
use crate::bench::jobs::{execute_baseline, execute_run, Competition, JobContext};
use crate::bench::markdown;
use crate::bench::results::{
    append, BaselineKind, BenchSettings, Grade, Recorded, ResultLine, RESULTS_FILE,
};
use crate::bench::suite::Suite;
use crate::cli::{BaselineArgument, BenchArguments, PythonArguments};
use crate::commands::env::ready_environment;
use crate::commands::prepare::prepared_recipe;
use crate::failure::{CommandResult, Failure};

/// One unit of work.
#[derive(Debug, Clone, Copy)]
enum Job {
    Run {
        competition: usize,
        seed: u64,
    },
    Baseline {
        competition: usize,
        kind: BaselineKind,
    },
}

pub fn run(arguments: BenchArguments) -> CommandResult {
    let suite = Suite::read(&arguments.suite).map_err(Failure::bad_input)?;
    let seeds = arguments.seeds.or(suite.seeds).unwrap_or(1);
    if seeds == 0 {
        return Err(Failure::bad_input(anyhow!(
            "--seeds 0: a bench needs at least one seed\nhint: pass --seeds 1 or more"
        )));
    }
    let time_limit = arguments
        .time_limit
        .or(suite.time_limit_seconds)
        .unwrap_or(3600);
    let steps = arguments.steps.or(suite.steps);
    let slots = arguments.slots.unwrap_or(available_cpus().len().max(1));
    let mut baselines = vec![BaselineKind::Simple];
    match arguments.baseline {
        None => {}
        Some(BaselineArgument::Flaml) => baselines.push(BaselineKind::Flaml),
    }
    // FLAML is checked before anything runs: a missing package must not cost an hour of runs first.
    let automl_python = match arguments.baseline {
        None => None,
        Some(BaselineArgument::Flaml) => Some(flaml_python(&arguments.python)?),
    };
    let competitions = load_competitions(&suite, &arguments)?;
    let base_python = ready_environment(&arguments.python, Profile::Base)?.python();
    let config = match &arguments.config {
        Some(config) => Some(std::path::absolute(config).map_err(Failure::bad_input)?),
        None => None,
    };
    let settings = BenchSettings {
        suite: suite.path.display().to_string(),
        competitions: competitions.iter().map(|c| c.id.clone()).collect(),
        seeds,
        time_limit_seconds: time_limit,
        steps,
        slots,
        workers: arguments.workers,
        coder: arguments.coder,
        config: config.as_ref().map(|path| path.display().to_string()),
        baselines: baselines.clone(),
    };
    let out = match &arguments.out {
        Some(out) => out.clone(),
        None => PathBuf::from("bench-out").join(
            suite
                .path
                .file_stem()
                .map_or("suite".into(), |stem| stem.to_string_lossy().into_owned()),
        ),
    };
    let out = std::path::absolute(&out).map_err(Failure::bad_input)?;
    std::fs::create_dir_all(&out)
        .with_context(|| format!("{}: cannot create the bench directory", out.display()))
        .map_err(Failure::job)?;
    settings.claim(&out).map_err(Failure::bad_input)?;
    let results_path = out.join(RESULTS_FILE);
    let recorded = Recorded::read(&results_path).map_err(Failure::bad_input)?;

    let mut run_flags: Vec<OsString> = vec!["--time-limit".into(), time_limit.to_string().into()];
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            run_flags.push(name.into());
            run_flags.push(value.into());
        }
    };
    flag("--steps", steps.map(|steps| steps.to_string()));
    flag("--slots", Some(slots.to_string()));
    flag(
        "--workers",
        arguments.workers.map(|workers| workers.to_string()),
    );
    flag(
        "--coder",
        arguments.coder.map(|coder| match coder {
            crate::config::CoderChoice::Builtin => "builtin".to_string(),
            crate::config::CoderChoice::Llm => "llm".to_string(),
        }),
    );
    flag(
        "--config",
        config.as_ref().map(|path| path.display().to_string()),
    );
    let context = JobContext {
        out: out.clone(),
        executable: std::env::current_exe().map_err(Failure::job)?,
        run_flags,
        python_flags: match &arguments.python.python {
            Some(python) => vec!["--python".into(), python.clone().into_os_string()],
            None => Vec::new(),
        },
        time_limit: Duration::from_secs(time_limit),
        slots,
        base_python,
        automl_python,
        cancellation: Arc::new(AtomicBool::new(false)),
    };
    watch_interrupts(context.cancellation.clone());

    let mut jobs = Vec::new();
    for (index, competition) in competitions.iter().enumerate() {
        for seed in 0..u64::from(seeds) {
            jobs.push(Job::Run {
                competition: index,
                seed,
            });
        }
        for &kind in &baselines {
            if kind == BaselineKind::Simple && competition.baseline_script.is_none() {
                eprintln!(
                    "{}: declares no baseline in task.toml; its baseline column stays empty",
                    competition.id
                );
                continue;
            }
            jobs.push(Job::Baseline {
                competition: index,
                kind,
            });
        }
    }
    eprintln!(
        "Bench of {} competition(s) × {seeds} seed(s), {time_limit} s per run, {slots} slot(s), into {}",
        competitions.len(),
        out.display()
    );
    let total = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let file_lock = Mutex::new(());
    let failures = Mutex::new(Vec::<anyhow::Error>::new());
    std::thread::scope(|scope| {
        for _ in 0..arguments.concurrency.max(1) {
            scope.spawn(|| loop {
                if context.cancellation.load(Ordering::SeqCst) {
                    return;
                }
                let next = queue.lock().map(|mut queue| queue.pop_front());
                let Ok(Some((index, job))) = next else {
                    return;
                };
                let position = format!("[{}/{total}]", index + 1);
                let outcome = run_job(&context, &competitions, &recorded, job);
                match outcome {
                    Ok(JobOutcome::Skipped(what)) => {
                        eprintln!("{position} {what}: skipped (already in {RESULTS_FILE})");
                    }
                    Ok(JobOutcome::Interrupted) => return,
                    Ok(JobOutcome::Finished(line, what)) => {
                        let written = file_lock
                            .lock()
                            .map_err(|_| anyhow!("a bench worker panicked"))
                            .and_then(|_guard| append(&results_path, &line));
                        match written {
                            Ok(()) => eprintln!("{position} {what}"),
                            Err(error) => {
                                if let Ok(mut failures) = failures.lock() {
                                    failures.push(error);
                                }
                                return;
                            }
                        }
                    }
                    Err(error) => {
                        eprintln!("{position} failed: {error:#}");
                        if let Ok(mut failures) = failures.lock() {
                            failures.push(error);
                        }
                    }
                }
            });
        }
    });
    if context.cancellation.load(Ordering::SeqCst) {
        eprintln!(
            "Interrupted: finished jobs are in {}; rerun the same command to continue (unfinished runs are resumed)",
            results_path.display()
        );
        return Err(Failure::Reported);
    }
    if let Some(error) = failures.into_inner().ok().and_then(|mut f| f.pop()) {
        return Err(Failure::job(error.context(format!(
            "the bench in {} did not finish; rerun the same command to continue",
            out.display()
        ))));
    }
    let recorded = Recorded::read(&results_path).map_err(Failure::job)?;
    let report = build_report(settings.clone(), &settings.competitions, &recorded);
    let text = markdown::render(&report);
    let json = serde_json::to_string_pretty(&report).map_err(Failure::job)?;
    for (name, content) in [("bench.json", &json), ("bench.md", &text)] {
        std::fs::write(out.join(name), content)
            .with_context(|| format!("{}: cannot write", out.join(name).display()))
            .map_err(Failure::job)?;
    }
    eprintln!("\n{text}");
    eprintln!(
        "Wrote {} and {}",
        out.join("bench.json").display(),
        out.join("bench.md").display()
    );
    if arguments.json {
        println!("{json}");
    }
    Ok(())
}

enum JobOutcome {
    Skipped(String),
    Finished(ResultLine, String),
    Interrupted,
}

fn run_job(
    context: &JobContext,
    competitions: &[Competition],
    recorded: &Recorded,
    job: Job,
) -> anyhow::Result<JobOutcome> {
    match job {
        Job::Run { competition, seed } => {
            let competition = &competitions[competition];
            let what = format!("{} seed {seed}", competition.id);
            if recorded.has_run(&competition.id, seed) {
                return Ok(JobOutcome::Skipped(what));
            }
            Ok(match execute_run(context, competition, seed)? {
                None => JobOutcome::Interrupted,
                Some(result) => {
                    let line = format!(
                        "{what}: {} in {:.0} s",
                        describe(&result.grade, &result.exit),
                        result.elapsed_seconds
                    );
                    JobOutcome::Finished(ResultLine::Run(result), line)
                }
            })
        }
        Job::Baseline { competition, kind } => {
            let competition = &competitions[competition];
            let what = format!("{} {}", competition.id, kind.label());
            if recorded.has_baseline(&competition.id, kind) {
                return Ok(JobOutcome::Skipped(what));
            }
            Ok(match execute_baseline(context, competition, kind)? {
                None => JobOutcome::Interrupted,
                Some(result) => {
                    let line = format!(
                        "{what}: {} in {:.0} s",
                        describe(&result.grade, &result.exit),
                        result.seconds
                    );
                    JobOutcome::Finished(ResultLine::Baseline(result), line)
                }
            })
        }
    }
}

/// "accuracy 0.83000 (valid, bronze)", or why there is no score.
fn describe(grade: &Grade, exit: &str) -> String {
    let Some(score) = grade.score else {
        return format!(
            "no valid submission ({exit}; {})",
            grade.invalid_reason.as_deref().unwrap_or("no reason given")
        );
    };
    let medal = match (grade.gold_medal, grade.silver_medal, grade.bronze_medal) {
        (Some(true), _, _) => ", gold",
        (_, Some(true), _) => ", silver",
        (_, _, Some(true)) => ", bronze",
        (Some(_), _, _) | (_, Some(_), _) | (_, _, Some(_)) => ", no medal",
        (None, None, None) => "",
    };
    format!("{} {score:.5} (valid{medal})", grade.metric)
}

/// Prepares recipes (as `run --task` does) and loads every competition with its grader, so that a bad
/// entry fails before any run starts.
fn load_competitions(
    suite: &Suite,
    arguments: &BenchArguments,
) -> Result<Vec<Competition>, Failure> {
    let mut competitions: Vec<Competition> = Vec::new();
    for dir in &suite.competitions {
        let task_dir = prepared_recipe(dir, &arguments.python)?.unwrap_or_else(|| dir.clone());
        let task = Task::load(&task_dir, arguments.task_arguments.registry.as_deref())
            .map_err(Failure::bad_input)?;
        let grader = Grader::for_task(&task).map_err(Failure::bad_input)?;
        if competitions.iter().any(|other| other.id == task.id) {
            return Err(Failure::bad_input(anyhow!(
                "{}: competition `{}` is listed twice\nhint: list each competition once; --seeds repeats them",
                suite.path.display(),
                task.id
            )));
        }
        competitions.push(Competition {
            id: task.id.clone(),
            task_dir: std::path::absolute(&task_dir).map_err(Failure::bad_input)?,
            grader,
            baseline_script: task.baseline.clone(),
        });
    }
    Ok(competitions)
}

/// The interpreter that has FLAML: the automl profile's, or the user's own.
fn flaml_python(python: &PythonArguments) -> Result<PathBuf, Failure> {
    const HINT: &str = "hint: run `ml-master env setup --profile automl`, which installs FLAML beside the base packages";
    let environment = PythonEnvironment::resolve(python.python.clone(), Profile::Automl)
        .map_err(Failure::bad_input)?;
    let interpreter = environment.python();
    if !interpreter.is_file() {
        return Err(Failure::bad_input(anyhow!(
            "{}: --baseline flaml needs FLAML, and this interpreter does not exist\n{HINT}",
            interpreter.display()
        )));
    }
    let missing = environment
        .missing_modules(Profile::Automl)
        .map_err(Failure::bad_input)?;
    if !missing.is_empty() {
        return Err(Failure::bad_input(anyhow!(
            "{}: --baseline flaml needs FLAML, and this interpreter lacks {}\n{HINT}",
            interpreter.display(),
            missing.join(", ")
        )));
    }
    Ok(interpreter)
}

/// Ctrl-C stops the running jobs (their process groups are killed) and records nothing for them.
fn watch_interrupts(flag: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("bench-interrupts".to_string())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("Interrupting the bench: stopping the running jobs");
                    flag.store(true, Ordering::SeqCst);
                }
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_names_the_medal_only_with_a_leaderboard() {
        let mut grade = Grade {
            metric: "accuracy".to_string(),
            lower_is_better: false,
            score: Some(0.83),
            invalid_reason: None,
            above_median: None,
            any_medal: None,
            gold_medal: None,
            silver_medal: None,
            bronze_medal: None,
        };
        assert_eq!(describe(&grade, "exit code 0"), "accuracy 0.83000 (valid)");
        grade.gold_medal = Some(false);
        grade.silver_medal = Some(false);
        grade.bronze_medal = Some(true);
        assert_eq!(
            describe(&grade, "exit code 0"),
            "accuracy 0.83000 (valid, bronze)"
        );
    }
}
