//! Shared helpers: outcomes, one-call steps, and the statistics a restore must reproduce.

use mlm_search::{
    Completion, Direction, Expansion, Metric, Next, Node, NodeId, NodeResult, Outcome, Search,
    SearchConfig, Stage, Trajectory, WorkerId,
};

pub const FIRST: WorkerId = WorkerId(0);

pub fn valid(value: f64) -> Outcome {
    Outcome::Valid {
        metric: Metric::new(value, Direction::HigherIsBetter),
    }
}

pub fn result(outcome: Outcome) -> NodeResult {
    NodeResult {
        plan: "plan".to_string(),
        code_ref: "solution.py".to_string(),
        outcome,
    }
}

pub fn search(config: SearchConfig) -> Search {
    Search::new(config, 1).unwrap()
}

/// The expansion `worker` gets, which must be one.
pub fn expand(search: &mut Search, worker: WorkerId) -> Expansion {
    match search.next_expansion(worker).unwrap() {
        Next::Expand(expansion) => expansion,
        other => panic!("worker {worker} expected an expansion, got {other:?}"),
    }
}

/// Asks for work for `worker`, checks where it goes, and completes it with `outcome`.
pub fn step(
    search: &mut Search,
    worker: WorkerId,
    parent: Option<NodeId>,
    stage: Stage,
    outcome: Outcome,
) -> Completion {
    let expansion = expand(search, worker);
    assert_eq!(
        (expansion.parent, expansion.stage),
        (parent, stage),
        "where worker {worker} expands"
    );
    search.complete(expansion.ticket, result(outcome)).unwrap()
}

pub fn continues(completion: &Completion) -> bool {
    matches!(completion.trajectory, Trajectory::Continues { .. })
}

pub fn reward(completion: &Completion) -> Option<i64> {
    match completion.trajectory {
        Trajectory::Backpropagated { reward } => Some(reward),
        Trajectory::Continues { .. } => None,
    }
}

pub fn node(search: &Search, id: NodeId) -> &Node {
    search.node(id).unwrap()
}

/// Everything a restore must reproduce about a node (locks and slots in flight are not restored).
#[derive(Debug, PartialEq)]
pub struct Statistics {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    pub stage: Stage,
    pub outcome: Outcome,
    pub best_change: mlm_search::BestChange,
    pub debug_depth: u32,
    pub visits: u32,
    pub total_reward: i64,
    pub own_backpropagations: u32,
    pub terminal: bool,
    pub local_best: Option<NodeId>,
    pub improve_failures: u32,
    pub continues_improving: bool,
    pub debug_succeeded: bool,
}

pub fn statistics(search: &Search) -> (u32, i64, Vec<Statistics>) {
    let nodes = search
        .nodes()
        .map(|node| Statistics {
            id: node.id(),
            parent: node.parent(),
            children: node.children().to_vec(),
            stage: node.stage(),
            outcome: node.outcome(),
            best_change: node.best_change(),
            debug_depth: node.debug_depth(),
            visits: node.visits(),
            total_reward: node.total_reward(),
            own_backpropagations: node.own_backpropagations(),
            terminal: node.is_terminal(),
            local_best: node.local_best(),
            improve_failures: node.improve_failures(),
            continues_improving: node.continues_improving(),
            debug_succeeded: node.debug_succeeded(),
        })
        .collect();
    let root = search.tree().root();
    (root.visits(), root.total_reward(), nodes)
}
