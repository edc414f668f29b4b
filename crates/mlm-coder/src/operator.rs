//! The operator interface between the engine and a coder, and the views of tasks and nodes it passes.
//! Every type here is plain data: a coder sees nothing of the tree, the journal or the sandbox.

use std::path::PathBuf;
use std::time::Duration;

use mlm_grade::Metric;
pub use mlm_search::ExecutionStatus;
use mlm_search::{Direction, Stage};
use mlm_task::CsvTable;
use serde::{Deserialize, Serialize};

/// What a coder knows about the competition, built once per run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskBrief {
    pub competition_id: String,
    /// The Kaggle-style overview.
    pub description: String,
    /// The data preview of the public files (file tree, columns, examples).
    pub data_preview: String,
    /// The competition's metric, with its direction.
    pub metric: Metric,
    /// The public files, read-only: what scripts see as `./input/`.
    pub public_dir: PathBuf,
    /// The header and first rows of `train.csv` and `test.csv`, read once per run; `None` when the file
    /// is absent or not readable as CSV (the data preview says which).
    pub train_sample: Option<CsvTable>,
    pub test_sample: Option<CsvTable>,
    pub id_column: String,
    /// The sample submission's columns besides the id, in order.
    pub target_columns: Vec<String>,
    /// The sample submission's file name inside `./input/`.
    pub sample_submission_file: String,
    /// One line describing the cores, memory and GPUs a script gets; `no GPU` where it gets none.
    pub hardware: String,
    /// The Python modules a script can import: the base profile's, and `torch`, `torchvision` and
    /// `transformers` where the run's interpreter imports them.
    pub installed_packages: Vec<String>,
    /// `[builtin] text_model`: an absolute path to a local Hugging Face model directory scripts may read
    /// (with `AutoModel.from_pretrained(path, local_files_only=True)`).
    pub text_model: Option<PathBuf>,
}

impl TaskBrief {
    /// Whether smaller or larger metric values are better.
    pub fn direction(&self) -> Direction {
        Direction::from_lower_is_better(self.metric.lower_is_better())
    }
}

/// A node as a coder sees it: its plan, code and what happened when it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub node: u32,
    pub stage: Stage,
    pub plan: String,
    pub code: String,
    /// Execution output, head and tail kept.
    pub output: String,
    pub status: ExecutionStatus,
    pub duration: Duration,
    /// The validation metric, when the node is valid.
    pub metric: Option<f64>,
    pub buggy: bool,
    /// The review's summary of the run.
    pub summary: String,
    /// Why the submission was rejected by the grader's validation, when it was.
    pub validation_message: Option<String>,
}

/// One remembered attempt, as ML-Master's memory shows it: design, results and metric, or "has bugs".
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEntry {
    pub node: u32,
    pub plan: String,
    pub summary: String,
    pub metric: Option<f64>,
    pub buggy: bool,
}

/// What remains of the run's budgets when the request is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub time_remaining: Duration,
    pub steps_remaining: u32,
    /// The wall-clock limit of one script run.
    pub node_timeout: Duration,
}

/// A request for a new script.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalRequest {
    pub stage: Stage,
    /// The node being improved or debugged; `None` for a draft.
    pub parent: Option<NodeView>,
    /// Scoped memory: previous drafts for a draft, the parent's other children for an improve, none for a
    /// debug. Bounded in size whatever the tree's size.
    pub memory: Vec<MemoryEntry>,
    /// For a debug: the chain of buggy ancestors above the parent, nearest first (AIRA's ancestral memory).
    pub buggy_ancestors: Vec<NodeView>,
    pub budget: Budget,
    /// Proposals for the same parent that other workers are writing right now, whose plans are not in
    /// `memory` yet. A coder that picks the first untried idea skips this many, so parallel workers do not
    /// all start with the same one.
    pub siblings_being_written: u32,
    /// Differs for every request of a run; a deterministic coder derives its choices from it.
    pub seed: u64,
}

/// Tokens and money spent on one request.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    /// The part of `prompt_tokens` the provider read from its prompt cache (billed cheaper, served
    /// faster).
    #[serde(default)]
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

impl TokenUsage {
    /// The usage of several calls together.
    pub fn total<'a>(usages: impl IntoIterator<Item = &'a TokenUsage>) -> TokenUsage {
        usages
            .into_iter()
            .fold(TokenUsage::default(), |sum, usage| TokenUsage {
                prompt_tokens: sum.prompt_tokens + usage.prompt_tokens,
                cached_prompt_tokens: sum.cached_prompt_tokens + usage.cached_prompt_tokens,
                completion_tokens: sum.completion_tokens + usage.completion_tokens,
                cost_usd: sum.cost_usd + usage.cost_usd,
            })
    }
}

/// What a call to a language model was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallPurpose {
    Draft,
    Improve,
    Debug,
    Review,
}

impl CallPurpose {
    pub fn name(self) -> &'static str {
        match self {
            CallPurpose::Draft => "draft",
            CallPurpose::Improve => "improve",
            CallPurpose::Debug => "debug",
            CallPurpose::Review => "review",
        }
    }
}

/// One request to a language model and its reply, as the journal keeps them: the exact bodies sent and
/// received (never a key or a header).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCall {
    pub purpose: CallPurpose,
    pub model: String,
    pub request: serde_json::Value,
    pub response: serde_json::Value,
    /// The model's reasoning, when the reply carried any: a `<think>` block (steerable mode or a
    /// server without a reasoning parser), a `reasoning_content`/`reasoning` field, Anthropic thinking
    /// blocks.
    pub reasoning: Option<String>,
    pub usage: TokenUsage,
    pub latency: Duration,
}

/// A proposed solution.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// A few sentences: what the script does and why.
    pub plan: String,
    /// A complete Python script.
    pub code: String,
    /// The total of `calls`.
    pub usage: TokenUsage,
    /// The model calls that produced it, asked-again replies included; none for the built-in coder.
    pub calls: Vec<ModelCall>,
}

/// A finished run to review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRequest {
    pub node: NodeView,
    /// What the script wrote to `metrics.json`, when it did: (validation_metric, lower_is_better).
    pub reported_metric: Option<(f64, bool)>,
    pub submission_exists: bool,
}

/// A verdict on a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub is_bug: bool,
    /// Two or three sentences on what happened; it becomes the node's memory.
    pub summary: String,
    /// The validation metric the reviewer read; `metrics.json` wins over it when present.
    pub metric: Option<f64>,
    pub lower_is_better: Option<bool>,
    /// The total of `calls`.
    pub usage: TokenUsage,
    pub calls: Vec<ModelCall>,
    /// What the run's user should hear once, raised by this review (the feedback server refused tool
    /// calls, so reviews are asked as JSON from now on); the engine says it as a warning.
    pub notice: Option<String>,
}

/// Why a coder produced nothing usable. A failed proposal gives its slot back; whether the run goes on
/// is the engine's decision, taken from the [`FailureCause`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoderError {
    /// This request failed. The calls made on the way still cost tokens and are journaled.
    #[error("{cause}")]
    Failed {
        cause: FailureCause,
        calls: Vec<ModelCall>,
    },
    /// The token or cost budget is spent: no request can succeed any more.
    #[error("the coder's budget is spent: {0}")]
    BudgetExhausted(String),
}

impl CoderError {
    /// A failure of the coder's own that made no model call.
    pub fn failed(reason: impl Into<String>) -> CoderError {
        CoderError::Failed {
            cause: FailureCause::Coder {
                reason: reason.into(),
            },
            calls: Vec::new(),
        }
    }
}

/// What went wrong with one request to a coder, in the terms the engine acts on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FailureCause {
    /// The server refused the request itself (an unsupported parameter, an unknown model, bad
    /// credentials): the same request can never succeed. `detail` is the client's message, with the
    /// server's words and a `hint:`.
    #[error("{detail}")]
    Refused { status: u16, detail: String },
    /// The model's client cannot be used as configured (a missing API key, an unsupported mode); no
    /// server was asked.
    #[error("{detail}")]
    Misconfigured { detail: String },
    /// The prompt does not fit the model's context window, even shrunk.
    #[error("{detail}")]
    ContextTooLong { detail: String },
    /// Every reply was cut at the output limit, the last after being asked for a shorter script.
    #[error("the reply was cut at the output limit {replies} times\nhint: raise max_tokens, or ask for shorter scripts in the prompts")]
    OutputLimit { replies: u32 },
    /// No reply held runnable code.
    #[error("no runnable code after {replies} replies: {problem}")]
    NoCode { replies: u32, problem: CodeProblem },
    /// No reply held a readable review.
    #[error("no readable review after {replies} replies: {problem}")]
    UnreadableReview { replies: u32, problem: String },
    /// The model could not be reached or kept failing (the client's retries are spent), or answered
    /// with something that is not a reply.
    #[error("the model failed: {detail}")]
    ModelUnavailable { detail: String },
    /// The coder could not write the request for a reason of its own (the built-in coder's task schema,
    /// a prompt template that does not render).
    #[error("{reason}")]
    Coder { reason: String },
}

impl FailureCause {
    /// Whether every later request would fail the same way, so the run should stop at once.
    pub fn is_permanent(&self) -> bool {
        match self {
            FailureCause::Refused { .. } | FailureCause::Misconfigured { .. } => true,
            FailureCause::ContextTooLong { .. }
            | FailureCause::OutputLimit { .. }
            | FailureCause::NoCode { .. }
            | FailureCause::UnreadableReview { .. }
            | FailureCause::ModelUnavailable { .. }
            | FailureCause::Coder { .. } => false,
        }
    }

    /// A short name of the kind of failure, for counts and stop messages: `refused`, `misconfigured`,
    /// `context too long`, `cut at the output limit`, `no code`, `unreadable review`, `model
    /// unavailable` or `coder`.
    pub fn kind(&self) -> &'static str {
        match self {
            FailureCause::Refused { .. } => "refused",
            FailureCause::Misconfigured { .. } => "misconfigured",
            FailureCause::ContextTooLong { .. } => "context too long",
            FailureCause::OutputLimit { .. } => "cut at the output limit",
            FailureCause::NoCode { .. } => "no code",
            FailureCause::UnreadableReview { .. } => "unreadable review",
            FailureCause::ModelUnavailable { .. } => "model unavailable",
            FailureCause::Coder { .. } => "coder",
        }
    }
}

/// Why a reply's code cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodeProblem {
    #[error("the reply had no ```python code block")]
    NoCodeBlock,
    #[error("the code does not compile: {0}")]
    DoesNotCompile(SyntaxError),
}

/// A script the interpreter refused to compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{compiler_output}")]
pub struct SyntaxError {
    /// The compiler's message: the last lines of its output.
    pub compiler_output: String,
}

/// Checks that a script compiles before it is run. Implemented at the edge (the command line runs the
/// interpreter), since this crate spawns nothing.
#[async_trait::async_trait]
pub trait SyntaxCheck: Send + Sync {
    async fn check(&self, code: &str) -> Result<(), SyntaxError>;
}

/// Writes and reviews solution code.
#[async_trait::async_trait]
pub trait Coder: Send + Sync {
    /// A short name for logs and the journal, e.g. `builtin` or `llm:deepseek-r1`.
    fn name(&self) -> String;

    async fn propose(
        &self,
        task: &TaskBrief,
        request: &ProposalRequest,
    ) -> Result<Proposal, CoderError>;

    async fn review(&self, task: &TaskBrief, request: &ReviewRequest)
        -> Result<Review, CoderError>;
}
