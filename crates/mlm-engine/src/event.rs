//! The engine's queue pair: operations in, events out. Every front end (terminal, `--json`, dashboard)
//! consumes the same events, and the journal keeps them for replay.

use mlm_search::{ExecutionStatus, NodeId, Outcome, Stage};
use serde::{Deserialize, Serialize};

/// Asks the running engine to do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Stop now: in-flight nodes are killed and discarded, the run is marked interrupted (resumable).
    Interrupt,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    StepsExhausted,
    TimeLimit,
    TokenBudget,
    CostBudget,
    /// Every node is terminal or fully expanded.
    SearchExhausted,
    Interrupted,
    /// The coder's requests were refused for good (an unsupported parameter, an unknown model, a
    /// refused key), or failed the same way too many times in a row: going on would only repeat it.
    CoderFailed,
}

/// Something that happened in the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        task_id: String,
        coder: String,
        slots: usize,
        /// Workers active at the start (with `workers = "auto"`, more or fewer later).
        workers: usize,
        steps: u32,
        time_limit_seconds: f64,
        /// Nodes already in the journal (a resumed run).
        resumed_nodes: u32,
    },
    /// The number of workers working on trajectories changed (`workers = "auto"`); the others wait
    /// between two trajectories.
    WorkersChanged {
        active: usize,
    },
    /// A worker asked the coder for a script.
    Proposing {
        worker: u32,
        stage: Stage,
        parent: Option<NodeId>,
    },
    /// The coder produced nothing usable; the slot was given back.
    ProposalFailed {
        worker: u32,
        stage: Stage,
        parent: Option<NodeId>,
        reason: String,
    },
    /// A script started in an execution slot.
    Executing {
        worker: u32,
        slot: usize,
        stage: Stage,
        parent: Option<NodeId>,
    },
    /// The script finished; its run is being reviewed.
    Reviewing {
        worker: u32,
    },
    /// A node completed and was journaled.
    NodeFinished {
        node: NodeId,
        parent: Option<NodeId>,
        stage: Stage,
        worker: u32,
        execution_status: ExecutionStatus,
        outcome: Outcome,
        summary: String,
        execute_seconds: f64,
        prompt_tokens: u64,
        completion_tokens: u64,
        cost_usd: f64,
    },
    /// A node became the best valid node of the run.
    BestImproved {
        node: NodeId,
        metric: f64,
    },
    Warning {
        message: String,
    },
    /// Final selection, after the search: a candidate's script runs again on a fresh draw of folds.
    Reevaluating {
        node: NodeId,
        seed: u64,
    },
    RunFinished {
        reason: StopReason,
        /// For [`StopReason::CoderFailed`]: what failed, with the server's words and a `hint:`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
        nodes: u32,
        best_node: Option<NodeId>,
        best_metric: Option<f64>,
        elapsed_seconds: f64,
    },
}

impl Event {
    /// The event's name, as the journal's `kind` column stores it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::WorkersChanged { .. } => "workers_changed",
            Event::Proposing { .. } => "proposing",
            Event::ProposalFailed { .. } => "proposal_failed",
            Event::Executing { .. } => "executing",
            Event::Reviewing { .. } => "reviewing",
            Event::NodeFinished { .. } => "node_finished",
            Event::BestImproved { .. } => "best_improved",
            Event::Warning { .. } => "warning",
            Event::Reevaluating { .. } => "reevaluating",
            Event::RunFinished { .. } => "run_finished",
        }
    }
}
