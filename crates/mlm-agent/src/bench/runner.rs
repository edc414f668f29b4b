//! A whole bench: the suite loaded and every competition prepared and checked up front, then each
//! (competition, seed) run as a child `ml-master run` and each baseline, handed to the executor
//! (local processes or Ray jobs) `concurrency` at once from a FIFO thread pool, each result recorded as
//! it finishes; finally `bench.json` and `bench.md`.
//! Rerunning the same bench skips what is recorded and resumes runs left unfinished.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mlm_coder::ImproveChoice;
use mlm_env_vars::EnvVars;
use mlm_exec::{available_cpus, Profile};
use mlm_grade::Grader;
use mlm_search::AfterLoss;
use mlm_task::Task;

use crate::bench::aggregate::{build_report, BenchReport};
use crate::bench::executor::{ExecutorChoice, JobExecutor, LocalExecutor, WorkerProbe};
use crate::bench::jobs::{execute_baseline, execute_run, Competition, JobContext};
use crate::bench::markdown;
use crate::bench::ray::RayExecutor;
use crate::bench::results::{
    append, Ablation, BaselineKind, BenchSettings, Grade, Recorded, ResultLine, RESULTS_FILE,
    SETTINGS_FILE,
};
use crate::bench::suite::Suite;
use crate::config::{BuiltinLayer, CoderChoice, ConfigLayer, RunLayer, SearchLayer};
use crate::environment::{automl_python, ready_environment, Reporter};
use crate::error::{Error, Result};
use crate::recipe::prepared_recipe;

/// The layer every child run reads as its `--config`: the user's file, the environment and the bench's
/// flags merged once here, so the children need no flags of their own.
pub const RUN_CONFIG_FILE: &str = "run-config.toml";

/// A bench as the command line asks for it; absent values come from the suite, then the defaults.
#[derive(Debug, Clone)]
pub struct BenchRequest {
    pub suite: PathBuf,
    pub seeds: Option<u32>,
    pub time_limit_seconds: Option<u64>,
    pub steps: Option<u32>,
    pub slots: Option<usize>,
    pub workers: Option<mlm_engine::Workers>,
    /// The GPUs every run's slots share (`auto` when absent).
    pub gpus: Option<mlm_exec::GpuSelection>,
    pub coder: Option<CoderChoice>,
    pub config_file: Option<PathBuf>,
    /// AutoML baselines beside the simple one that every competition with a baseline script gets.
    pub extra_baselines: Vec<BaselineKind>,
    /// Parts of the agent switched off in every run (`--ablate`).
    pub ablations: Vec<Ablation>,
    /// Jobs in flight at once, on either executor.
    pub concurrency: usize,
    /// Where the jobs run.
    pub executor: ExecutorChoice,
    /// Default: `bench-out/<suite name>`.
    pub out: Option<PathBuf>,
    pub registry: Option<PathBuf>,
    pub python: Option<PathBuf>,
    /// The `ml-master` binary the child runs are started with.
    pub executable: PathBuf,
    /// Set (on Ctrl-C) to stop the running jobs; nothing is recorded for them.
    pub cancellation: Arc<AtomicBool>,
}

/// What a bench tells the user as it goes.
#[derive(Debug)]
pub enum BenchEvent<'a> {
    Started {
        competitions: usize,
        seeds: u32,
        time_limit_seconds: u64,
        slots: usize,
        out: &'a std::path::Path,
    },
    /// The competition's task.toml names no baseline script.
    NoBaseline { competition: &'a str },
    Skipped {
        position: usize,
        total: usize,
        job: &'a str,
    },
    /// Where a job runs, when the executor can say (a cluster's node).
    Placed {
        position: usize,
        total: usize,
        job: &'a str,
        place: &'a str,
    },
    Finished {
        position: usize,
        total: usize,
        job: &'a str,
        result: &'a str,
    },
    Failed {
        position: usize,
        total: usize,
        error: &'a Error,
    },
}

/// How a bench ended.
#[derive(Debug)]
pub enum BenchOutcome {
    Finished {
        report: Box<BenchReport>,
        markdown: String,
        json: String,
        out: PathBuf,
    },
    /// Stopped by the cancellation flag: finished jobs are recorded, rerunning continues.
    Interrupted { results: PathBuf },
}

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

enum JobOutcome {
    Skipped(String),
    Finished(Box<ResultLine>, String, String),
    Interrupted,
}

/// Runs the bench to its end (or its interruption).
pub fn run_bench(
    request: BenchRequest,
    reporter: &mut dyn Reporter,
    on_event: &(dyn Fn(BenchEvent<'_>) + Sync),
) -> Result<BenchOutcome> {
    let suite = Suite::read(&request.suite)?;
    let seeds = request.seeds.or(suite.seeds).unwrap_or(1);
    if seeds == 0 {
        return Err(Error::Invalid(
            "--seeds 0: a bench needs at least one seed\nhint: pass --seeds 1 or more".to_string(),
        ));
    }
    let time_limit = request
        .time_limit_seconds
        .or(suite.time_limit_seconds)
        .unwrap_or(3600);
    let steps = request.steps.or(suite.steps);
    let slots = request.slots.unwrap_or(available_cpus().len().max(1));
    let mut ablations = request.ablations.clone();
    ablations.sort();
    ablations.dedup();
    let mut baselines = vec![BaselineKind::Simple];
    baselines.extend(&request.extra_baselines);
    baselines.sort();
    baselines.dedup();
    // The AutoML packages are checked before anything runs: a missing one must not cost an hour of runs
    // first.
    let python = request.python.as_deref();
    let (mut flaml_python, mut autogluon_python) = (None, None);
    for &kind in &baselines {
        match kind {
            BaselineKind::Simple => {}
            BaselineKind::Flaml => {
                flaml_python = Some(automl_python(python, Profile::Automl, "flaml", "FLAML")?);
            }
            BaselineKind::Autogluon => {
                autogluon_python = Some(automl_python(
                    python,
                    Profile::Autogluon,
                    "autogluon",
                    "AutoGluon Tabular",
                )?);
            }
        }
    }
    let competitions = load_competitions(&suite, &request, reporter)?;
    let base_python =
        ready_environment(request.python.as_deref(), Profile::Base, reporter)?.python();
    let config = match &request.config_file {
        Some(config) => {
            Some(std::path::absolute(config).map_err(Error::io(config, "not a usable path"))?)
        }
        None => None,
    };
    let settings = BenchSettings {
        suite: suite.path.display().to_string(),
        competitions: competitions.iter().map(|c| c.id.clone()).collect(),
        seeds,
        time_limit_seconds: time_limit,
        steps,
        slots,
        workers: request.workers,
        coder: request.coder,
        config: config.as_ref().map(|path| path.display().to_string()),
        baselines: baselines.clone(),
        ablations: ablations.clone(),
    };
    let out = match &request.out {
        Some(out) => out.clone(),
        None => PathBuf::from("bench-out").join(
            suite
                .path
                .file_stem()
                .map_or("suite".into(), |stem| stem.to_string_lossy().into_owned()),
        ),
    };
    let out = std::path::absolute(&out).map_err(Error::io(&out, "not a usable path"))?;
    std::fs::create_dir_all(&out).map_err(Error::io(&out, "cannot create the bench directory"))?;
    settings.claim(&out)?;
    let executor: Box<dyn JobExecutor> = match &request.executor {
        ExecutorChoice::Local => Box::new(LocalExecutor),
        ExecutorChoice::Ray(ray) => Box::new(RayExecutor::connect(
            ray.clone(),
            slots,
            &out,
            &out.join(SETTINGS_FILE),
            request.cancellation.clone(),
        )?),
    };
    let results_path = out.join(RESULTS_FILE);
    let recorded = Recorded::read(&results_path)?;

    let run_config = ConfigLayer::from_file(config.as_deref())?
        .merged(ConfigLayer::from_environment()?)
        .merged(ConfigLayer {
            run: RunLayer {
                coder: request.coder,
                steps,
                time_limit_seconds: Some(time_limit),
                slots: Some(slots),
                workers: request.workers,
                gpus: request.gpus.clone(),
                ..RunLayer::default()
            },
            search: SearchLayer {
                ensemble: ablations.contains(&Ablation::Ensemble).then_some(false),
                reselect_candidates: ablations.contains(&Ablation::Selection).then_some(0),
                after_loss: ablations
                    .contains(&Ablation::Moves)
                    .then_some(AfterLoss::Node),
                ..SearchLayer::default()
            },
            builtin: BuiltinLayer {
                improve_choice: ablations
                    .contains(&Ablation::Moves)
                    .then_some(ImproveChoice::InOrder),
                ..BuiltinLayer::default()
            },
            ..ConfigLayer::default()
        });
    let run_config_path = out.join(RUN_CONFIG_FILE);
    let run_config_text = toml::to_string_pretty(&run_config)
        .map_err(|error| Error::Failed(format!("cannot write the runs' configuration: {error}")))?;
    std::fs::write(&run_config_path, run_config_text)
        .map_err(Error::io(&run_config_path, "cannot write"))?;
    let context = JobContext {
        out: out.clone(),
        executable: request.executable.clone(),
        run_config: run_config_path,
        // The layer above already holds what these said; set in the children they would override it.
        neutral_environment: [
            EnvVars::ML_MASTER_CODER,
            EnvVars::ML_MASTER_STEPS,
            EnvVars::ML_MASTER_TIME_LIMIT,
            EnvVars::ML_MASTER_SLOTS,
            EnvVars::ML_MASTER_WORKERS,
            EnvVars::ML_MASTER_SEED,
            EnvVars::ML_MASTER_TEXT_MODEL,
        ]
        .iter()
        .map(|name| (name.to_string(), String::new()))
        .collect(),
        python: request.python.clone(),
        time_limit: Duration::from_secs(time_limit),
        slots,
        base_python,
        flaml_python,
        autogluon_python,
        cancellation: request.cancellation.clone(),
        executor,
    };

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
                on_event(BenchEvent::NoBaseline {
                    competition: &competition.id,
                });
                continue;
            }
            jobs.push(Job::Baseline {
                competition: index,
                kind,
            });
        }
    }
    on_event(BenchEvent::Started {
        competitions: competitions.len(),
        seeds,
        time_limit_seconds: time_limit,
        slots,
        out: &out,
    });
    let total = jobs.len();
    if jobs
        .iter()
        .any(|&job| !is_recorded(&competitions, &recorded, job))
    {
        context.executor.check_workers(&WorkerProbe {
            executable: context.executable.clone(),
            python: context.base_python.clone(),
            out: out.clone(),
        })?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(request.concurrency.max(1))
        .thread_name(|index| format!("bench-job-{index}"))
        .build()
        .map_err(|error| Error::Failed(format!("cannot start the bench's job threads: {error}")))?;
    let results_lock = Mutex::new(());
    let failures = Mutex::new(Vec::<Error>::new());
    pool.scope_fifo(|scope| {
        for (index, job) in jobs.into_iter().enumerate() {
            let (context, competitions, recorded) = (&context, &competitions, &recorded);
            let (results_lock, failures, results_path) = (&results_lock, &failures, &results_path);
            scope.spawn_fifo(move |_| {
                if context.cancellation.load(Ordering::SeqCst) {
                    return;
                }
                let position = index + 1;
                let placed = |job: &str, place: &str| {
                    on_event(BenchEvent::Placed {
                        position,
                        total,
                        job,
                        place,
                    });
                };
                let outcome =
                    run_job(context, competitions, recorded, job, &placed).and_then(|outcome| {
                        match &outcome {
                            JobOutcome::Finished(line, _, _) => {
                                let _guard = results_lock.lock().map_err(|_| {
                                    Error::Failed(
                                        "a bench job panicked while recording".to_string(),
                                    )
                                })?;
                                append(results_path, line)?;
                            }
                            JobOutcome::Skipped(_) | JobOutcome::Interrupted => {}
                        }
                        Ok(outcome)
                    });
                match outcome {
                    Ok(JobOutcome::Skipped(job)) => on_event(BenchEvent::Skipped {
                        position,
                        total,
                        job: &job,
                    }),
                    Ok(JobOutcome::Interrupted) => {}
                    Ok(JobOutcome::Finished(_, job, result)) => on_event(BenchEvent::Finished {
                        position,
                        total,
                        job: &job,
                        result: &result,
                    }),
                    Err(error) => {
                        on_event(BenchEvent::Failed {
                            position,
                            total,
                            error: &error,
                        });
                        if let Ok(mut failures) = failures.lock() {
                            failures.push(error);
                        }
                    }
                }
            });
        }
    });
    if context.cancellation.load(Ordering::SeqCst) {
        return Ok(BenchOutcome::Interrupted {
            results: results_path,
        });
    }
    if let Some(error) = failures
        .into_inner()
        .ok()
        .and_then(|mut failures| failures.pop())
    {
        return Err(Error::Failed(format!(
            "the bench in {} did not finish; rerun the same command to continue: {error}",
            out.display()
        )));
    }
    let recorded = Recorded::read(&results_path)?;
    let report = build_report(settings.clone(), &settings.competitions, &recorded);
    let text = markdown::render(&report);
    let json = serde_json::to_string_pretty(&report)?;
    for (name, content) in [("bench.json", &json), ("bench.md", &text)] {
        std::fs::write(out.join(name), content)
            .map_err(Error::io(out.join(name), "cannot write"))?;
    }
    Ok(BenchOutcome::Finished {
        report: Box::new(report),
        markdown: text,
        json,
        out,
    })
}

/// True when the job's result is already in `results.jsonl`.
fn is_recorded(competitions: &[Competition], recorded: &Recorded, job: Job) -> bool {
    match job {
        Job::Run { competition, seed } => recorded.has_run(&competitions[competition].id, seed),
        Job::Baseline { competition, kind } => {
            recorded.has_baseline(&competitions[competition].id, kind)
        }
    }
}

fn run_job(
    context: &JobContext,
    competitions: &[Competition],
    recorded: &Recorded,
    job: Job,
    placed: &dyn Fn(&str, &str),
) -> Result<JobOutcome> {
    let recorded_already = is_recorded(competitions, recorded, job);
    match job {
        Job::Run { competition, seed } => {
            let competition = &competitions[competition];
            let what = format!("{} seed {seed}", competition.id);
            if recorded_already {
                return Ok(JobOutcome::Skipped(what));
            }
            let placed = |place: &str| placed(&what, place);
            Ok(match execute_run(context, competition, seed, &placed)? {
                None => JobOutcome::Interrupted,
                Some(result) => {
                    let line = format!(
                        "{} in {:.0} s",
                        describe(&result.grade, &result.exit),
                        result.elapsed_seconds
                    );
                    JobOutcome::Finished(Box::new(ResultLine::Run(result)), what, line)
                }
            })
        }
        Job::Baseline { competition, kind } => {
            let competition = &competitions[competition];
            let what = format!("{} {}", competition.id, kind.label());
            if recorded_already {
                return Ok(JobOutcome::Skipped(what));
            }
            let placed = |place: &str| placed(&what, place);
            Ok(
                match execute_baseline(context, competition, kind, &placed)? {
                    None => JobOutcome::Interrupted,
                    Some(result) => {
                        let line = format!(
                            "{} in {:.0} s",
                            describe(&result.grade, &result.exit),
                            result.seconds
                        );
                        JobOutcome::Finished(Box::new(ResultLine::Baseline(result)), what, line)
                    }
                },
            )
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
    request: &BenchRequest,
    reporter: &mut dyn Reporter,
) -> Result<Vec<Competition>> {
    let mut competitions: Vec<Competition> = Vec::new();
    for dir in &suite.competitions {
        let task_dir = prepared_recipe(dir, request.python.as_deref(), reporter)?
            .unwrap_or_else(|| dir.clone());
        let task = Task::load(&task_dir, request.registry.as_deref())?;
        let grader = Grader::for_task(&task)?;
        if competitions.iter().any(|other| other.id == task.id) {
            return Err(Error::Invalid(format!(
                "{}: competition `{}` is listed twice\nhint: list each competition once; --seeds repeats them",
                suite.path.display(),
                task.id
            )));
        }
        competitions.push(Competition {
            id: task.id.clone(),
            task_dir: std::path::absolute(&task_dir)
                .map_err(Error::io(&task_dir, "not a usable path"))?,
            grader,
            baseline_script: task.baseline.clone(),
        });
    }
    Ok(competitions)
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
