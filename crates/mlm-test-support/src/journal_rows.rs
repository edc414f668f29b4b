//! Journal rows for tests that need a run's records without running one: the run itself, and a node
//! with a given outcome whose other fields are plausible and fixed.

use chrono::Utc;
use mlm_journal::{NodeEntry, RunRecord, RunStatus};
use mlm_search::{Direction, ExecutionStatus, Metric, NodeId, Outcome, Stage};

/// A running built-in titanic run with seed 7.
pub fn run_record() -> RunRecord {
    RunRecord {
        task_id: "titanic".into(),
        task_dir: "data/titanic".into(),
        coder: "builtin".into(),
        seed: 7,
        config_toml: "steps = 10\n".into(),
        created_at: Utc::now(),
        status: RunStatus::Running,
        elapsed_seconds: 0.0,
    }
}

/// A valid outcome scoring `value`, higher being better.
pub fn valid(value: f64) -> Outcome {
    Outcome::Valid {
        metric: Metric::new(value, Direction::HigherIsBetter),
    }
}

/// Node `id` below `parent` (a draft under the root, else an improve, or a debug below a node that is
/// not valid is the caller's to set): it exited 0 unless it is buggy.
pub fn node_entry(id: u32, parent: Option<u32>, outcome: Outcome) -> NodeEntry {
    let execution_status = match outcome {
        Outcome::Valid { .. } | Outcome::Invalid { .. } => ExecutionStatus::Ok,
        Outcome::Buggy => ExecutionStatus::Error,
    };
    NodeEntry {
        id: NodeId(id),
        parent: parent.map(NodeId),
        stage: match parent {
            None => Stage::Draft,
            Some(_) => Stage::Improve,
        },
        operator: "builtin".into(),
        plan: format!("plan {id}"),
        code: format!("print({id})\n"),
        output: format!("{id}\n"),
        execution_status,
        exit_code: Some(i32::from(execution_status != ExecutionStatus::Ok)),
        outcome,
        validation_message: None,
        review_summary: format!("review of node {id}\nsecond line"),
        submission_path: None,
        worker: 0,
        slot: Some(0),
        proposed_at: Utc::now(),
        finished_at: Utc::now(),
        propose_seconds: 0.1,
        execute_seconds: 1.5,
        prompt_tokens: 10,
        cached_prompt_tokens: 4,
        completion_tokens: 20,
        cost_usd: 0.001,
        test_score: None,
        oof_path: None,
        test_predictions_path: None,
    }
}
