//! The rows the journal stores, as plain data.

use chrono::{DateTime, Utc};
use mlm_search::{ExecutionStatus, Metric, NodeId, Outcome, Stage};
use serde::{Deserialize, Serialize};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Stopped by the user; resumable.
    Interrupted,
    /// A budget ran out or the search was exhausted.
    Finished,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Interrupted,
            RunStatus::Finished,
            RunStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// The run itself: one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub task_id: String,
    /// The competition directory, as given.
    pub task_dir: String,
    pub coder: String,
    pub seed: u64,
    /// The resolved configuration, secrets removed, as TOML.
    pub config_toml: String,
    pub created_at: DateTime<Utc>,
    pub status: RunStatus,
    /// Wall-clock seconds spent over every session of the run (a resumed run continues the count).
    pub elapsed_seconds: f64,
}

/// A completed node with everything the run learned about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    pub stage: Stage,
    /// The coder that wrote it.
    pub operator: String,
    pub plan: String,
    pub code: String,
    pub output: String,
    pub execution_status: ExecutionStatus,
    pub exit_code: Option<i32>,
    /// Valid (with its metric), invalid (with the metric it reported, if any) or buggy.
    pub outcome: Outcome,
    pub validation_message: Option<String>,
    pub review_summary: String,
    /// Relative to the run directory.
    pub submission_path: Option<String>,
    pub worker: u32,
    pub slot: Option<u32>,
    pub proposed_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub propose_seconds: f64,
    pub execute_seconds: f64,
    pub prompt_tokens: u64,
    /// The part of `prompt_tokens` read from the provider's prompt cache.
    #[serde(default)]
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// The real test score, graded after the run for analysis only; never used for selection.
    pub test_score: Option<f64>,
    /// Relative to the run directory: the out-of-fold predictions the script wrote (`oof.csv`).
    #[serde(default)]
    pub oof_path: Option<String>,
    /// Relative to the run directory: the test predictions the script wrote (`test_pred.csv`).
    #[serde(default)]
    pub test_predictions_path: Option<String>,
}

/// A node's share of an ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnsembleMember {
    pub node: NodeId,
    /// The share of the blend; an ensemble's weights sum to one.
    pub weight: f64,
}

/// A blend of nodes' predictions, chosen by greedy ensemble selection on their out-of-fold predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleRecord {
    /// Numbered from 1 in the order they were recorded (ignored when recording).
    pub id: u32,
    pub created_at: DateTime<Utc>,
    pub members: Vec<EnsembleMember>,
    /// The blend's out-of-fold score.
    pub metric: Metric,
    /// Relative to the run directory.
    pub submission_path: Option<String>,
    /// Why the submission check refused its submission, when it did.
    pub validation_message: Option<String>,
    /// The real test score, graded after the run for analysis.
    pub test_score: Option<f64>,
}

/// One re-run of a candidate node's script on folds drawn from another seed, as final selection runs it
/// at the end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReevaluationRecord {
    pub node: NodeId,
    /// The seed the fresh folds were drawn from.
    pub seed: u64,
    pub created_at: DateTime<Utc>,
    pub result: Reevaluated,
    pub execute_seconds: f64,
}

/// What a re-evaluation showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reevaluated {
    /// The script ran cleanly and reported this validation score on the fresh folds.
    Scored { metric: Metric },
    /// It gave no score; why, for the user (`timeout`, `no metrics.json`, …).
    Failed { reason: String },
}

/// One request to a model, with secrets removed before it gets here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCallRecord {
    /// The node it produced or reviewed, once known.
    pub node: Option<NodeId>,
    /// draft, improve, debug, review or probe.
    pub purpose: String,
    pub model: String,
    pub request_json: String,
    pub response_json: String,
    /// The model's reasoning, when the reply carried any (a `<think>` block, a `reasoning_content` or
    /// `reasoning` field, Anthropic thinking blocks).
    pub reasoning: Option<String>,
    pub prompt_tokens: u64,
    /// The part of `prompt_tokens` read from the provider's prompt cache.
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_seconds: f64,
    pub cost_usd: f64,
    pub created_at: DateTime<Utc>,
}

/// One event of the run's stream, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub payload_json: String,
}
