//! The operator interface between the engine and a coder, and the views of tasks and nodes it passes.
//! Every type here is plain data: a coder sees nothing of the tree, the journal or the sandbox.

use std::path::PathBuf;
use std::time::Duration;

use mlm_search::Stage;
use serde::{Deserialize, Serialize};

/// What a coder knows about the competition, built once per run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskBrief {
    pub competition_id: String,
    /// The Kaggle-style overview.
    pub description: String,
    /// The data preview of the public files (file tree, columns, examples).
    pub data_preview: String,
    /// The metric's canonical name (`mlm_grade::Metric::name`).
    pub metric: String,
    pub lower_is_better: bool,
    /// The public files, read-only: what scripts see as `./input/`.
    pub public_dir: PathBuf,
    pub id_column: String,
    /// The sample submission's columns besides the id, in order.
    pub target_columns: Vec<String>,
    /// The sample submission's file name inside `./input/`.
    pub sample_submission_file: String,
    /// One line describing the cores, memory and GPUs a script gets.
    pub hardware: String,
}

/// How a finished script run ended, as a coder needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    Ok,
    Error,
    Timeout,
    Oom,
    Killed,
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
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// A proposed solution.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// A few sentences: what the script does and why.
    pub plan: String,
    /// A complete Python script.
    pub code: String,
    pub usage: TokenUsage,
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
    pub usage: TokenUsage,
}

/// Why a coder produced nothing usable. A failed proposal gives its slot back; it never ends the run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoderError {
    /// This request failed (no code after retries, a model error); others may succeed.
    #[error("the coder failed: {0}")]
    Failed(String),
    /// The token or cost budget is spent: no request can succeed any more.
    #[error("the coder's budget is spent: {0}")]
    BudgetExhausted(String),
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
