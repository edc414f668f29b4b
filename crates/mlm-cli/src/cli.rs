//! The command line, as DESIGN.md fixes it. Every flag that has an environment variable names it here.

#![expect(
    rustdoc::invalid_html_tags,
    reason = "these doc comments are clap's help text, read in a terminal: `<task>` is a placeholder, not HTML"
)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mlm_env_vars::EnvVars;

#[derive(Debug, Parser)]
#[command(
    name = "ml-master",
    version,
    about = "An AI-for-AI agent that solves machine-learning competitions end to end"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up or check the managed Python environment
    #[command(subcommand)]
    Env(EnvCommand),
    /// Build a competition directory from a task recipe (tasks/<name>)
    Prepare(PrepareArguments),
    /// Grade a submission as MLE-bench does, or a JSONL batch of submissions
    Grade(GradeArguments),
    /// Serve MLE-bench's POST /validate and GET /health for one or more competitions
    ServeValidator(ServeValidatorArguments),
    /// Search for the best solution of a competition (the agent)
    Run(RunArguments),
    /// Continue a run from its journal (interrupted, killed or finished), with more steps or time if asked
    Resume(ResumeArguments),
    /// Run one script exactly as a node of the search would: in the sandbox, with the node's layout
    Exec(ExecArguments),
    /// Serve a live web page of a run (running or finished): the tree, each node's code and calls, the score
    Dashboard(DashboardArguments),
    /// Write a self-contained HTML report of a run: tree, score plot, best code, grading, configuration, cost
    Report(ReportArguments),
    /// Run a suite of competitions over several seeds, with baselines, into one MLE-bench-style report
    Bench(BenchArguments),
    /// The sandbox launcher (internal: started by ml-master itself for every script)
    #[command(hide = true)]
    SandboxExec(SandboxExecArguments),
}

#[derive(Debug, Args)]
pub struct ExecArguments {
    /// The competition directory whose public files the script reads under ./input
    #[arg(long, value_name = "DIR")]
    pub task: PathBuf,
    /// The Python script to run (copied to <node dir>/solution.py)
    pub script: PathBuf,
    #[command(flatten)]
    pub task_arguments: TaskArguments,
    /// Wall-clock limit in seconds; the script's whole process group is killed after it
    #[arg(long, value_name = "SECS", default_value_t = 3600, allow_negative_numbers = true, value_parser = at_least_one::<u64>)]
    pub timeout: u64,
    /// Memory limit in MiB [default: three quarters of physical memory]; not applied with --gpus
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<u64>,
    /// GPU ids the script may see (CUDA_VISIBLE_DEVICES), e.g. 0 or 0,1; none by default
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub gpus: Vec<u32>,
    /// The node directory to create [default: <data dir>/exec/<task>-<time>]
    #[arg(long, value_name = "DIR")]
    pub node_dir: Option<PathBuf>,
    /// Let the script open network connections (denied by default)
    #[arg(long)]
    pub allow_network: bool,
    #[command(flatten)]
    pub python: PythonArguments,
    /// Print the result as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArguments {
    /// The competition directory, or a recipe in tasks/ (prepared on first use)
    #[arg(long, value_name = "DIR")]
    pub task: PathBuf,
    #[command(flatten)]
    pub task_arguments: TaskArguments,
    #[command(flatten)]
    pub options: RunOptions,
    /// Where the journal, nodes and best solution go [default: runs/<task>-<time>]
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// The search's random seed [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub python: PythonArguments,
    /// Print events as JSON lines on stdout, then the final report
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dashboard: LiveDashboardArguments,
}

/// The flags that shape a run, for `run` and for every run of a `bench` alike. A bench's defaults
/// come from its suite first.
#[derive(Debug, Clone, Args)]
pub struct RunOptions {
    /// Who writes the scripts: builtin (no model needed) or llm [default: builtin]
    #[arg(long, value_name = "CODER")]
    pub coder: Option<mlm_agent::config::CoderChoice>,
    /// The configuration file [default: ./ml-master.toml when it exists]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Wall-clock budget of a run, in seconds (a bench's FLAML gets the same) [default: 3600]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = at_least_one::<u64>)]
    pub time_limit: Option<u64>,
    /// The most nodes a run completes [default: 20]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<u32>)]
    pub steps: Option<u32>,
    /// Scripts a run runs at once (a bench's FLAML threads) [default: one per core]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<usize>)]
    pub slots: Option<usize>,
    /// Trajectories a run works on at once: a number, or `auto` to follow the model's latency and the
    /// scripts' run time [default: auto]
    #[arg(long, value_name = "N|auto", allow_negative_numbers = true)]
    pub workers: Option<mlm_engine::Workers>,
    /// GPUs the slots share: auto (every GPU nvidia-smi lists), none, or indices such as 0,1 [default:
    /// auto]
    #[arg(long, value_name = "auto|none|IDS")]
    pub gpus: Option<mlm_exec::GpuSelection>,
}

/// `--dashboard` for commands that run the engine.
#[derive(Debug, Clone, Args)]
pub struct LiveDashboardArguments {
    /// Serve the live dashboard while the run runs (on 127.0.0.1; the URL is printed)
    #[arg(long)]
    pub dashboard: bool,
    /// The dashboard's port; 0 picks a free one
    #[arg(long, value_name = "N", default_value_t = 8765, requires = "dashboard")]
    pub dashboard_port: u16,
}

#[derive(Debug, Args)]
pub struct DashboardArguments {
    /// The run directory (holding journal.sqlite)
    pub run_dir: PathBuf,
    /// The port to listen on; 0 picks a free one
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// The address to bind; the default is reachable from this machine only
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
}

#[derive(Debug, Args)]
pub struct ReportArguments {
    /// The run directory (holding journal.sqlite)
    pub run_dir: PathBuf,
    /// Where to write the HTML file [default: <run>/report.html]
    #[arg(long, value_name = "FILE.html")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArguments {
    /// The suite file (TOML): the competitions, and optional seeds, time_limit_seconds and steps
    #[arg(long, value_name = "FILE")]
    pub suite: PathBuf,
    /// Runs per competition, with seeds 0..N [default: the suite's, else 1]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<u32>)]
    pub seeds: Option<u32>,
    #[command(flatten)]
    pub options: RunOptions,
    /// Where runs, baselines, results.jsonl, bench.json and bench.md go [default: bench-out/<suite name>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also run these AutoML baselines with the same time budget and cores (comma-separated or
    /// repeated: `--baseline flaml,autogluon`)
    #[arg(long, value_enum, value_delimiter = ',', value_name = "NAME")]
    pub baseline: Vec<BaselineArgument>,
    /// Switch these parts of the agent off in every run, to measure what they contribute
    /// (comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', value_name = "PART")]
    pub ablate: Vec<AblationArgument>,
    /// Jobs (runs or baselines) in flight at once, on either executor
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true, value_parser = at_least_one::<usize>)]
    pub concurrency: usize,
    /// Where the jobs run: local (child processes here) or ray (jobs on a Ray cluster, whose nodes
    /// share --out; see the README's "Running on a cluster")
    #[arg(long, value_enum, default_value_t = ExecutorArgument::Local)]
    pub executor: ExecutorArgument,
    /// The Ray head's dashboard, which serves the Job Submission API
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8265")]
    pub ray_address: String,
    /// GPUs each Ray job reserves (entrypoint_num_gpus)
    #[arg(long, value_name = "N")]
    pub gpus_per_run: Option<f64>,
    /// Custom resources each Ray job reserves, as JSON (entrypoint_resources), e.g. '{"A100": 1}'
    #[arg(long, value_name = "JSON", value_parser = parse_ray_resources)]
    pub ray_resources: Option<std::collections::BTreeMap<String, f64>>,
    #[command(flatten)]
    pub task_arguments: TaskArguments,
    #[command(flatten)]
    pub python: PythonArguments,
    /// Print the report (bench.json) on stdout
    #[arg(long)]
    pub json: bool,
}

/// Where `bench` runs its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorArgument {
    /// Child processes of this machine
    Local,
    /// Jobs on a Ray cluster, through its Job Submission API
    Ray,
}

fn parse_ray_resources(text: &str) -> Result<std::collections::BTreeMap<String, f64>, String> {
    serde_json::from_str(text).map_err(|error| {
        format!("{error}\nhint: give a JSON object of resource names and amounts, such as '{{\"A100\": 1}}'")
    })
}

/// A part of the agent `bench --ablate` switches off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AblationArgument {
    /// The ensemble of the valid nodes' predictions at the end of each run
    Ensemble,
    /// Final selection: re-evaluating the best nodes on fresh folds at the end of each run
    Selection,
    /// Planned moves: trajectories leave an improve that lost, and the built-in coder's improves skip
    /// what the budget cannot afford or what hurt a sibling
    Moves,
}

/// An AutoML baseline `bench` can run beside each task's simple baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineArgument {
    /// FLAML AutoML (`ml-master env setup --profile automl` installs it)
    Flaml,
    /// AutoGluon Tabular, medium_quality preset (`ml-master env setup --profile autogluon` installs it)
    Autogluon,
}

#[derive(Debug, Args)]
pub struct ResumeArguments {
    /// The run directory to continue, finished or not
    pub run_dir: PathBuf,
    /// Give the run N more nodes: its step budget becomes the nodes done so far plus N
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = at_least_one::<u32>)]
    pub steps: Option<u32>,
    /// Give the run SECS more seconds: its time limit becomes the time spent so far plus SECS
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = at_least_one::<u64>)]
    pub time_limit: Option<u64>,
    /// GPUs the slots share from now on: auto, none, or indices such as 0,1 [default: as recorded]
    #[arg(long, value_name = "auto|none|IDS")]
    pub gpus: Option<mlm_exec::GpuSelection>,
    #[command(flatten)]
    pub task_arguments: TaskArguments,
    #[command(flatten)]
    pub python: PythonArguments,
    /// Print events as JSON lines on stdout, then the final report
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dashboard: LiveDashboardArguments,
}

#[derive(Debug, Args)]
pub struct SandboxExecArguments {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub arguments: Vec<std::ffi::OsString>,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create or update the managed environment (idempotent)
    Setup(EnvArguments),
    /// Report what the environment is missing
    Check(EnvArguments),
}

#[derive(Debug, Clone, Args)]
pub struct PythonArguments {
    /// Use this interpreter (a conda environment, say) instead of the managed environment
    #[arg(long, env = EnvVars::ML_MASTER_PYTHON, value_name = "PATH")]
    pub python: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvArguments {
    /// Which packages: base (numpy, pandas, scikit-learn, boosting), deep (base plus torch), automl
    /// (base plus FLAML, for `bench --baseline flaml`), cluster (base plus Ray, for `bench --executor
    /// ray`) or autogluon (AutoGluon Tabular with its own pins, for `bench --baseline autogluon`)
    #[arg(long, value_enum, default_value_t = ProfileArgument::Base)]
    pub profile: ProfileArgument,
    #[command(flatten)]
    pub python: PythonArguments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArgument {
    Base,
    Deep,
    Automl,
    Cluster,
    Autogluon,
}

#[derive(Debug, Args)]
pub struct PrepareArguments {
    /// The recipe directory, holding task.toml and prepare.py
    pub recipe_dir: PathBuf,
    /// Where to write the competition [default: <data dir>/tasks/<recipe name>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Build it again even when a copy prepared from the recipe as it is now exists
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub python: PythonArguments,
}

#[derive(Debug, Args)]
pub struct TaskArguments {
    /// MLE-bench's registry folder (mlebench/competitions), for MLE-bench data directories
    #[arg(long, env = EnvVars::ML_MASTER_MLEBENCH_REGISTRY, value_name = "DIR")]
    pub registry: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GradeArguments {
    /// The competition directory, or a recipe in tasks/ (prepared on first use)
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    pub task: Option<PathBuf>,
    /// The submission CSV to grade
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    pub submission: Option<PathBuf>,
    /// MLE-bench's batch input: JSONL lines of {"competition_id", "submission_path"}
    #[arg(long, value_name = "FILE.jsonl", requires = "output_dir")]
    pub batch: Option<PathBuf>,
    /// Where the batch's aggregate report is written
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// For --batch: the directory holding one competition directory per competition id
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub task_arguments: TaskArguments,
    #[command(flatten)]
    pub python: PythonArguments,
    /// Print the report as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeValidatorArguments {
    /// One or more competition directories to serve
    #[arg(long, value_name = "DIR", required = true, num_args = 1..)]
    pub task: Vec<PathBuf>,
    #[command(flatten)]
    pub task_arguments: TaskArguments,
    /// The port to listen on (MLE-bench's is 5001); 0 picks a free one
    #[arg(long, default_value_t = 5001)]
    pub port: u16,
    /// The address to bind; the default is reachable from this machine only
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// The largest upload accepted, in MiB
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub max_upload_mib: usize,
}

/// Counts and durations on the command line: a whole number, 1 or more. Negative numbers reach this
/// parser instead of reading as an unknown flag, so `--time-limit -5` and `--time-limit=-5` get the same
/// message, which clap prefixes with the value and the flag.
fn at_least_one<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let accepted = "expected a whole number, 1 or more";
    match text.trim().parse::<i128>() {
        Ok(value) if value >= 1 => u64::try_from(value)
            .ok()
            .and_then(|value| T::try_from(value).ok())
            .ok_or_else(|| format!("too large; {accepted}")),
        Ok(_) | Err(_) => Err(accepted.to_string()),
    }
}
