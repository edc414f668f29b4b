//! The command line, as DESIGN.md fixes it. Every flag that has an environment variable names it here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    #[arg(long, env = "ML_MASTER_PYTHON", value_name = "PATH")]
    pub python: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvArguments {
    /// Which packages: base (numpy, pandas, scikit-learn, boosting) or deep (base plus torch)
    #[arg(long, value_enum, default_value_t = ProfileArgument::Base)]
    pub profile: ProfileArgument,
    #[command(flatten)]
    pub python: PythonArguments,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArgument {
    Base,
    Deep,
}

#[derive(Debug, Args)]
pub struct PrepareArguments {
    /// The recipe directory, holding task.toml and prepare.py
    pub recipe_dir: PathBuf,
    /// Where to write the competition [default: <data dir>/tasks/<recipe name>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub python: PythonArguments,
}

#[derive(Debug, Args)]
pub struct TaskArguments {
    /// MLE-bench's registry folder (mlebench/competitions), for MLE-bench data directories
    #[arg(long, env = mlm_task::MLE_BENCH_REGISTRY_ENV, value_name = "DIR")]
    pub registry: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GradeArguments {
    /// The competition directory
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
