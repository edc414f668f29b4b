//! What one node of the tree is: identifiers, the stage that produced it, its outcome (metric, buggy,
//! valid), and the statistics and flags the policies keep on it. Everything here is read-only to callers;
//! the tree changes nodes only through the search.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A node of the tree. Ids are dense and assigned in completion order, starting at 0; the virtual root
/// has no id (a parent of `None` means the root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// One of the engine's workers; the search remembers each worker's trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(pub u32);

/// A reserved expansion (a ticket), handed out by [`crate::Search::next_expansion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExpansionId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

impl fmt::Display for ExpansionId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// Which operator produced a node. It follows from the parent: the root gets drafts, a node that needs
/// fixing (buggy or invalid) gets debugs, a valid node gets improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Draft,
    Debug,
    Improve,
}

impl Stage {
    /// The name the journal, prompts and front ends use: `draft`, `debug` or `improve`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Draft => "draft",
            Stage::Debug => "debug",
            Stage::Improve => "improve",
        }
    }
}

/// Whether a smaller or a larger metric value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

impl Direction {
    /// The direction of a metric described by the `lower_is_better` flag of files and reports.
    pub fn from_lower_is_better(lower_is_better: bool) -> Direction {
        if lower_is_better {
            Direction::LowerIsBetter
        } else {
            Direction::HigherIsBetter
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Direction::LowerIsBetter => "lower is better",
            Direction::HigherIsBetter => "higher is better",
        })
    }
}

/// A validation metric with its direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub value: f64,
    pub direction: Direction,
}

impl Metric {
    pub fn new(value: f64, direction: Direction) -> Metric {
        Metric { value, direction }
    }

    /// How much better `self` is than `other` in `self`'s direction: positive when better.
    pub fn improvement_over(&self, other: &Metric) -> f64 {
        match self.direction {
            Direction::HigherIsBetter => self.value - other.value,
            Direction::LowerIsBetter => other.value - self.value,
        }
    }

    /// Strictly better than `other`.
    pub fn is_better_than(&self, other: &Metric) -> bool {
        self.improvement_over(other) > 0.0
    }

    /// Why a validation score is too perfect to trust (MLE-STAR's leakage check), if it is: a score of
    /// at least [`SUSPICIOUS_SCORE`] where higher is better (every such metric mlm-grade scores tops
    /// out at 1), an error of at most [`SUSPICIOUS_ERROR`] where lower is better. Such a score usually
    /// means the target leaked into the features or the validation rows were trained on.
    pub fn suspicion(&self) -> Option<String> {
        let (suspicious, bound) = match self.direction {
            Direction::HigherIsBetter => (self.value >= SUSPICIOUS_SCORE, "≥ 0.999"),
            Direction::LowerIsBetter => (self.value <= SUSPICIOUS_ERROR, "≤ 1e-6"),
        };
        suspicious.then(|| {
            format!(
                "Suspicious: a validation score of {} ({bound}) is too perfect to trust; the target may \
                 leak into the features, or validation rows may be trained on. The node is not selected \
                 as best while another valid node exists.",
                self.value
            )
        })
    }

    /// Whether `self` should replace `other` as the best node's metric: a score that is not suspicious
    /// (see [`Metric::suspicion`]) beats one that is; otherwise the strictly better one wins.
    pub fn is_preferred_to(&self, other: &Metric) -> bool {
        match (self.suspicion().is_some(), other.suspicion().is_some()) {
            (false, true) => true,
            (true, false) => false,
            (false, false) | (true, true) => self.is_better_than(other),
        }
    }
}

/// A higher-is-better validation score from which a node is suspicious.
pub const SUSPICIOUS_SCORE: f64 = 0.999;
/// A lower-is-better validation error up to which a node is suspicious.
pub const SUSPICIOUS_ERROR: f64 = 1e-6;

/// What running a node's script showed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// It ran, wrote a submission that passed validation, and reported a metric.
    Valid { metric: Metric },
    /// It ran, but its submission failed validation; the metric it reported, if any, is kept for display
    /// only and never makes the node a best node.
    Invalid { metric: Option<Metric> },
    /// It crashed, timed out, reported no metric or wrote no submission.
    Buggy,
}

impl Outcome {
    /// The name the journal and front ends use: `valid`, `invalid` or `buggy`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Valid { .. } => "valid",
            Outcome::Invalid { .. } => "invalid",
            Outcome::Buggy => "buggy",
        }
    }

    /// The metric of a valid node (the only kind that counts for comparisons).
    pub fn valid_metric(&self) -> Option<Metric> {
        match self {
            Outcome::Valid { metric } => Some(*metric),
            Outcome::Invalid { .. } | Outcome::Buggy => None,
        }
    }

    /// Any reported metric, valid or not.
    pub fn metric(&self) -> Option<Metric> {
        match self {
            Outcome::Valid { metric } => Some(*metric),
            Outcome::Invalid { metric } => *metric,
            Outcome::Buggy => None,
        }
    }

    pub fn is_buggy(&self) -> bool {
        match self {
            Outcome::Buggy => true,
            Outcome::Valid { .. } | Outcome::Invalid { .. } => false,
        }
    }

    pub fn is_valid(&self) -> bool {
        match self {
            Outcome::Valid { .. } => true,
            Outcome::Invalid { .. } | Outcome::Buggy => false,
        }
    }

    /// Buggy or invalid: its children are debugs and its reward is -1.
    pub fn needs_debug(&self) -> bool {
        !self.is_valid()
    }
}

/// How a completed node changed the global best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BestChange {
    /// Not a valid node, or not better than the best so far.
    Unchanged,
    /// The first valid node of the search, or the first whose score is not suspicious after only
    /// suspicious ones ([`Metric::suspicion`]): it becomes the best, but earns no bonus (there was no
    /// trustworthy best to beat).
    First,
    /// Strictly better than the previous best: it becomes the best and earns the +1 bonus.
    Improved,
}

/// One node of the tree. Read it through [`crate::Search::node`] or [`crate::Tree`].
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub(crate) id: NodeId,
    pub(crate) parent: Option<NodeId>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) stage: Stage,
    pub(crate) plan: String,
    pub(crate) code_ref: String,
    pub(crate) outcome: Outcome,
    pub(crate) best_change: BestChange,
    pub(crate) debug_depth: u32,
    pub(crate) visits: u32,
    pub(crate) total_reward: i64,
    pub(crate) own_backpropagations: u32,
    pub(crate) in_flight: u32,
    pub(crate) has_valid_child: bool,
    pub(crate) terminal: bool,
    pub(crate) lock: Option<WorkerId>,
    pub(crate) local_best: Option<NodeId>,
    pub(crate) improve_failures: u32,
    pub(crate) continue_improve: bool,
    pub(crate) debug_succeeded: bool,
}

impl Node {
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// `None` for a draft (its parent is the virtual root).
    pub fn parent(&self) -> Option<NodeId> {
        self.parent
    }

    /// Completed children, in completion order.
    pub fn children(&self) -> &[NodeId] {
        &self.children
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn plan(&self) -> &str {
        &self.plan
    }

    /// The caller's reference to the node's code (a path, a hash, a journal key).
    pub fn code_ref(&self) -> &str {
        &self.code_ref
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The reported metric, valid or not (see [`Outcome::metric`]).
    pub fn metric(&self) -> Option<Metric> {
        self.outcome.metric()
    }

    pub fn is_buggy(&self) -> bool {
        self.outcome.is_buggy()
    }

    pub fn is_valid(&self) -> bool {
        self.outcome.is_valid()
    }

    /// How this node changed the global best when it completed.
    pub fn best_change(&self) -> BestChange {
        self.best_change
    }

    /// 0 for drafts and improves; a debug node's parent's depth plus one.
    pub fn debug_depth(&self) -> u32 {
        self.debug_depth
    }

    /// Backpropagations that passed through this node.
    pub fn visits(&self) -> u32 {
        self.visits
    }

    /// Sum of the rewards of those backpropagations.
    pub fn total_reward(&self) -> i64 {
        self.total_reward
    }

    /// Backpropagations that started at this node (its own trajectory end, or a 0-reward revisit while
    /// terminal). `visits` = this + the children's `visits`.
    pub fn own_backpropagations(&self) -> u32 {
        self.own_backpropagations
    }

    /// Children reserved and not yet completed or abandoned.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// ML-Master's `expected_child_count`: completed children plus those in flight. Expansion limits are
    /// checked against it.
    pub fn expected_child_count(&self) -> u32 {
        self.children.len() as u32 + self.in_flight
    }

    /// Never expanded again; selecting it backpropagates 0.
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// For drafts: the worker whose trajectory owns this draft's subtree.
    pub fn lock_holder(&self) -> Option<WorkerId> {
        self.lock
    }

    /// The best valid node of this node's trajectory (ML-Master's `local_best_node`), if any.
    pub fn local_best(&self) -> Option<NodeId> {
        self.local_best
    }

    /// Steps without improvement counted against this node as its trajectory's local best.
    pub fn improve_failures(&self) -> u32 {
        self.improve_failures
    }

    /// ML-Master's `continue_improve`: selection descends into this node's children instead of adding one.
    pub fn continues_improving(&self) -> bool {
        self.continue_improve
    }

    /// ML-Master's `is_debug_success`: a fix was found below this node that needs fixing.
    pub fn debug_succeeded(&self) -> bool {
        self.debug_succeeded
    }
}

/// The virtual root: the parent of every draft. It has statistics but no content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Root {
    pub(crate) children: Vec<NodeId>,
    pub(crate) in_flight: u32,
    pub(crate) visits: u32,
    pub(crate) total_reward: i64,
}

impl Root {
    /// The drafts, in completion order.
    pub fn children(&self) -> &[NodeId] {
        &self.children
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    pub fn expected_child_count(&self) -> u32 {
        self.children.len() as u32 + self.in_flight
    }

    pub fn visits(&self) -> u32 {
        self.visits
    }

    pub fn total_reward(&self) -> i64 {
        self.total_reward
    }
}
