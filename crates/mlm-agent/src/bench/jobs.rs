//! One bench job at a time: an agent run (a child `ml-master run`, or `ml-master resume` for a run
//! directory left unfinished) or a baseline script, each handed to the bench's executor (a local child
//! process or a cluster job) so that a crash ends that job and never the bench; then the job's result,
//! graded by the bench's own grader.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use mlm_exec::{Environment, ProcessRequest};
use mlm_grade::Grader;
use mlm_journal::Journal;

use crate::bench::executor::{ExecutorJob, JobExecutor};
use crate::bench::results::{BaselineKind, BaselineResult, Grade, RunResult};
use crate::error::{Error, Result};

/// The FLAML baseline script, shipped inside the binary and written into the bench directory.
pub const FLAML_SCRIPT: &str = include_str!("../../../../python/baselines/flaml_automl.py");
/// The AutoGluon Tabular baseline script, shipped and written the same way.
pub const AUTOGLUON_SCRIPT: &str =
    include_str!("../../../../python/baselines/autogluon_tabular.py");

/// Time a child run may take beyond its own budget (its last scripts finishing, its final grading).
const RUN_GRACE: Duration = Duration::from_secs(900);
/// Time a baseline may take beyond its budget (FLAML's last trial and retraining overrun it, AutoGluon's
/// weighted ensemble and predictions come after its time limit).
const BASELINE_GRACE: Duration = Duration::from_secs(300);

/// A competition of the suite, loaded and checked.
#[derive(Debug)]
pub struct Competition {
    pub id: String,
    /// The prepared competition directory.
    pub task_dir: PathBuf,
    pub grader: Grader,
    pub baseline_script: Option<PathBuf>,
}

/// What every job needs.
#[derive(Debug)]
pub struct JobContext {
    pub out: PathBuf,
    /// This `ml-master` binary.
    pub executable: PathBuf,
    /// The configuration every new child run reads (`--config`): the bench's settings, merged once.
    pub run_config: PathBuf,
    /// `ML_MASTER_…` configuration variables set empty in the children, which reads as unset: the run
    /// configuration already holds what they said, and set they would override it.
    pub neutral_environment: Vec<(String, String)>,
    /// `--python PATH` when the bench was given one: new runs and resumed ones get it.
    pub python: Option<PathBuf>,
    pub time_limit: Duration,
    pub slots: usize,
    pub base_python: PathBuf,
    /// The automl profile's interpreter (or the user's), when `--baseline flaml` asked for FLAML.
    pub flaml_python: Option<PathBuf>,
    /// The autogluon profile's interpreter (or the user's), when `--baseline autogluon` asked for it.
    pub autogluon_python: Option<PathBuf>,
    pub cancellation: Arc<AtomicBool>,
    /// Where the jobs run: this machine or a cluster.
    pub executor: Box<dyn JobExecutor>,
}

impl JobContext {
    pub fn run_dir(&self, competition: &str, seed: u64) -> PathBuf {
        self.out
            .join("runs")
            .join(competition)
            .join(format!("seed-{seed}"))
    }

    fn baseline_dir(&self, competition: &str, kind: BaselineKind) -> PathBuf {
        self.out
            .join("baselines")
            .join(competition)
            .join(baseline_name(kind))
    }
}

/// The baseline's directory name and part of its job's name.
fn baseline_name(kind: BaselineKind) -> &'static str {
    match kind {
        BaselineKind::Simple => "simple",
        BaselineKind::Flaml => "flaml",
        BaselineKind::Autogluon => "autogluon",
    }
}

/// An AutoML baseline's script: its file in `<out>/baselines/` and its text; none for the simple model,
/// whose script is the task's own.
fn automl_script(kind: BaselineKind) -> Option<(&'static str, &'static str)> {
    match kind {
        BaselineKind::Simple => None,
        BaselineKind::Flaml => Some(("flaml_automl.py", FLAML_SCRIPT)),
        BaselineKind::Autogluon => Some(("autogluon_tabular.py", AUTOGLUON_SCRIPT)),
    }
}

/// The child command for one run: `run` into a fresh run directory, or `resume` of one left unfinished.
pub fn run_request(context: &JobContext, competition: &Competition, seed: u64) -> ProcessRequest {
    let run_dir = context.run_dir(&competition.id, seed);
    let mut args: Vec<OsString> = if run_dir.join("journal.sqlite").is_file() {
        vec!["resume".into(), run_dir.clone().into_os_string()]
    } else {
        vec![
            "run".into(),
            "--task".into(),
            competition.task_dir.clone().into_os_string(),
            "--run-dir".into(),
            run_dir.clone().into_os_string(),
            "--seed".into(),
            seed.to_string().into(),
            "--config".into(),
            context.run_config.clone().into_os_string(),
        ]
    };
    if let Some(python) = &context.python {
        args.extend(["--python".into(), python.clone().into_os_string()]);
    }
    args.push("--json".into());
    let mut request = ProcessRequest::new(&context.executable, &context.out)
        .args(args)
        .spawn_hint("the ml-master binary could not start itself; rebuild it");
    request.environment = Environment::InheritWith(context.neutral_environment.clone());
    request.timeout = Some(context.time_limit + RUN_GRACE);
    request.kill_grace = Duration::from_secs(30);
    request.cancellation = Some(context.cancellation.clone());
    request
}

/// Runs one agent run to its end, telling `placed` where it runs; `None` when the bench was
/// interrupted meanwhile.
pub fn execute_run(
    context: &JobContext,
    competition: &Competition,
    seed: u64,
    placed: &dyn Fn(&str),
) -> Result<Option<RunResult>> {
    let run_dir = context.run_dir(&competition.id, seed);
    let parent = run_dir.parent().unwrap_or(&context.out).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(Error::io(&parent, "cannot create"))?;
    let log = parent.join(format!("seed-{seed}.log"));
    let command = || {
        if run_dir.exists() && !run_dir.join("journal.sqlite").is_file() {
            // The child died before its journal existed: nothing to continue.
            std::fs::remove_dir_all(&run_dir).map_err(Error::io(&run_dir, "cannot remove"))?;
        }
        Ok(run_request(context, competition, seed))
    };
    let job = ExecutorJob {
        key: format!("{}-seed-{seed}", competition.id),
        command: &command,
        log: &log,
    };
    let Some(exit) = context.executor.execute(&job, placed)? else {
        return Ok(None);
    };
    let report = competition
        .grader
        .grade_file(&run_dir.join("best").join("submission.csv"));
    let statistics = RunStatistics::read(&run_dir);
    Ok(Some(RunResult {
        competition: competition.id.clone(),
        seed,
        exit: exit.status,
        grade: Grade::from(&report),
        validation_metric: statistics.validation_metric,
        nodes: statistics.nodes,
        buggy_nodes: statistics.buggy_nodes,
        seconds_to_first_valid: statistics.seconds_to_first_valid,
        elapsed_seconds: statistics.elapsed_seconds,
        tokens: statistics.tokens,
        cached_prompt_tokens: statistics.cached_prompt_tokens,
        cost_usd: statistics.cost_usd,
    }))
}

/// The baseline's command: `python SCRIPT DIR` for the simple model, the AutoML script (FLAML's or
/// AutoGluon's, one command-line contract) otherwise.
pub fn baseline_request(
    context: &JobContext,
    competition: &Competition,
    kind: BaselineKind,
    scratch: &Path,
) -> Result<ProcessRequest> {
    let threads = context.slots.max(1).to_string();
    let automl_python = |python: &Option<PathBuf>| {
        python.clone().ok_or_else(|| {
            Error::Failed(format!(
                "{}'s interpreter was not resolved\nhint: pass --baseline {}",
                kind.label(),
                baseline_name(kind)
            ))
        })
    };
    let python = match kind {
        BaselineKind::Simple => context.base_python.clone(),
        BaselineKind::Flaml => automl_python(&context.flaml_python)?,
        BaselineKind::Autogluon => automl_python(&context.autogluon_python)?,
    };
    let (args, budget): (Vec<OsString>, Duration) = match automl_script(kind) {
        None => {
            let script = competition.baseline_script.as_ref().ok_or_else(|| {
                Error::Failed(format!(
                    "{}: declares no baseline",
                    competition.task_dir.display()
                ))
            })?;
            (
                vec![script.clone().into_os_string(), scratch.into()],
                Duration::ZERO,
            )
        }
        Some((file, _)) => {
            let script = context.out.join("baselines").join(file);
            let args: Vec<OsString> = vec![
                script.into_os_string(),
                "--public".into(),
                competition.task_dir.join("prepared").join("public").into(),
                "--id-column".into(),
                competition.grader.id_column().into(),
                "--metric".into(),
                competition.grader.metric.name().into(),
                "--time-budget".into(),
                context.time_limit.as_secs().to_string().into(),
                "--n-jobs".into(),
                threads.clone().into(),
                "--out".into(),
                scratch.join("baseline_submission.csv").into(),
                "--seed".into(),
                "0".into(),
            ];
            (args, context.time_limit)
        }
    };
    let mut environment = vec![
        (
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_string()),
        ),
        ("HOME".to_string(), scratch.display().to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
        ("MPLBACKEND".to_string(), "Agg".to_string()),
        ("OMP_WAIT_POLICY".to_string(), "PASSIVE".to_string()),
    ];
    for name in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"] {
        environment.push((name.to_string(), threads.clone()));
    }
    let mut request = ProcessRequest::new(python, scratch)
        .args(args)
        .spawn_hint("set up the Python environment with `ml-master env setup`");
    request.environment = Environment::Only(environment);
    request.timeout = Some(budget + BASELINE_GRACE);
    request.cancellation = Some(context.cancellation.clone());
    Ok(request)
}

/// Runs one baseline on one competition in a scratch directory whose `prepared` links to the
/// competition's data, and grades the `baseline_submission.csv` it writes there.
pub fn execute_baseline(
    context: &JobContext,
    competition: &Competition,
    kind: BaselineKind,
    placed: &dyn Fn(&str),
) -> Result<Option<BaselineResult>> {
    let scratch = context.baseline_dir(&competition.id, kind);
    let log = scratch.join("output.log");
    let command = || {
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(Error::io(&scratch, "cannot remove"))?;
        }
        std::fs::create_dir_all(&scratch).map_err(Error::io(&scratch, "cannot create"))?;
        std::os::unix::fs::symlink(
            competition.task_dir.join("prepared"),
            scratch.join("prepared"),
        )
        .map_err(Error::io(&scratch, "cannot link the data"))?;
        if let Some((file, text)) = automl_script(kind) {
            let script = context.out.join("baselines").join(file);
            std::fs::write(&script, text).map_err(Error::io(&script, "cannot write"))?;
        }
        baseline_request(context, competition, kind, &scratch)
    };
    let job = ExecutorJob {
        key: format!("{}-baseline-{}", competition.id, baseline_name(kind)),
        command: &command,
        log: &log,
    };
    let Some(exit) = context.executor.execute(&job, placed)? else {
        return Ok(None);
    };
    let report = competition
        .grader
        .grade_file(&scratch.join("baseline_submission.csv"));
    Ok(Some(BaselineResult {
        competition: competition.id.clone(),
        baseline: kind,
        exit: exit.status,
        grade: Grade::from(&report),
        seconds: exit.seconds,
    }))
}

/// What a run's journal and report say about it.
#[derive(Debug, Default)]
struct RunStatistics {
    nodes: u32,
    buggy_nodes: u32,
    seconds_to_first_valid: Option<f64>,
    elapsed_seconds: f64,
    tokens: u64,
    cached_prompt_tokens: u64,
    cost_usd: f64,
    validation_metric: Option<f64>,
}

impl RunStatistics {
    /// Zeros for a run that left no journal.
    fn read(run_dir: &Path) -> RunStatistics {
        let validation_metric = std::fs::read_to_string(run_dir.join("report.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|report| report["validation_metric"].as_f64());
        // Statistics only read the journal: no run lock, nothing written.
        let Ok(journal) = Journal::open_read_only(&run_dir.join("journal.sqlite")) else {
            return RunStatistics {
                validation_metric,
                ..RunStatistics::default()
            };
        };
        let (Ok(run), Ok(nodes)) = (journal.run(), journal.nodes()) else {
            return RunStatistics {
                validation_metric,
                ..RunStatistics::default()
            };
        };
        let seconds_to_first_valid = nodes
            .iter()
            .filter(|node| node.outcome.is_valid())
            .map(|node| (node.finished_at - run.created_at).num_milliseconds() as f64 / 1000.0)
            .reduce(f64::min);
        RunStatistics {
            nodes: nodes.len() as u32,
            buggy_nodes: nodes.iter().filter(|node| node.outcome.is_buggy()).count() as u32,
            seconds_to_first_valid,
            elapsed_seconds: run.elapsed_seconds,
            tokens: nodes
                .iter()
                .map(|node| node.prompt_tokens + node.completion_tokens)
                .sum(),
            cached_prompt_tokens: nodes.iter().map(|node| node.cached_prompt_tokens).sum(),
            cost_usd: nodes.iter().map(|node| node.cost_usd).sum(),
            validation_metric,
        }
    }
}
