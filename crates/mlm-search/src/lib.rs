//! The search tree, its node statistics and the search policies: ML-Master's parallel MCTS and AIDE's
//! greedy search. Pure and deterministic: no I/O, no clocks, no threads, no logging; the same
//! configuration, seed and sequence of calls give the same tree. It needs no locking of its own: the
//! engine calls it from one task, while several workers have expansions in flight.
//!
//! It refuses everything outside the tree: it never sees code, prompts or processes. A node's plan is
//! text and its code is an opaque reference the caller chooses.
//!
//! # Protocol
//!
//! ```
//! use mlm_search::{Direction, Metric, Next, NodeResult, Outcome, Search, SearchConfig, WorkerId};
//!
//! let mut search = Search::new(SearchConfig::default(), 7)?;
//! let worker = WorkerId(0);
//! // 1. Ask for work. The slot is reserved until the ticket is completed or abandoned.
//! let Next::Expand(expansion) = search.next_expansion(worker)? else { unreachable!() };
//! assert_eq!(expansion.parent, None); // the virtual root: a draft
//! // 2. The engine generates and runs the code (outside this crate), then reports what it saw.
//! let completion = search.complete(
//!     expansion.ticket,
//!     NodeResult {
//!         plan: "gradient boosting on raw features".into(),
//!         code_ref: "nodes/0/solution.py".into(),
//!         outcome: Outcome::Valid { metric: Metric::new(0.81, Direction::HigherIsBetter) },
//!     },
//! )?;
//! // 3. A valid draft starts a trajectory: the same worker improves it next.
//! assert_eq!(search.position(worker), Some(completion.node));
//! // A failed proposal gives the slot back instead: `search.abandon(ticket)`.
//! # Ok::<(), mlm_search::Error>(())
//! ```
//!
//! Each worker has at most one expansion in flight. The search remembers where each worker's trajectory
//! stands ([`Search::position`]), as ML-Master's `step(node)` loop does: a request either continues from
//! that node or selects from the root. [`Next::Wait`] means the other workers own every open subtree;
//! [`Next::Exhausted`] means nothing can be expanded ever again.
//!
//! # Model
//!
//! - Nodes have dense ids in completion order; the virtual root has none (`parent: None`). A node's
//!   stage follows from its parent: root → draft, buggy or invalid → debug, valid → improve.
//! - `expected_child_count` is completed children plus children in flight; expansion limits count it.
//! - Visits: a backpropagation starts at one node (a trajectory's last node, or a terminal node
//!   selected again) and adds one visit to it, to every ancestor and to the root. So for every node,
//!   `visits = own_backpropagations + Σ children's visits`, and for the root
//!   `visits = Σ drafts' visits`.
//! - Outcomes: [`judge`] decides a finished expansion's [`Outcome`] from what the run saw (how the script
//!   ended, its submission, its metric, the review's verdict).
//! - The global best is the best valid node whose score is not suspicious ([`Metric::suspicion`]:
//!   ≥ 0.999 where higher is better, ≤ 1e-6 for errors), or the best suspicious one while no other
//!   exists.
//! - Rewards: -1 for a buggy or invalid node, +1 for a valid one, +1 more if it beat the global best
//!   that existed when it completed ([`BestChange::Improved`]), 0 for a terminal node selected again.
//! - [`Search::take_records`] drains the log of every change to statistics; [`Search::restore`] replays
//!   it (see there for what is and is not restored).
//!
//! # Where this differs from ML-Master's code, on purpose
//!
//! - A trajectory does not walk on from a loss ([`AfterLoss::Parent`], the default): a valid improve
//!   that scored worse than its valid parent sends the worker back to the parent (another child of
//!   it) while the parent has room, and otherwise ends the trajectory with the node's reward. The
//!   failure still counts against the local best. ML-Master continues from the node it produced
//!   whatever its score ([`AfterLoss::Node`]). AIDE's greedy policy improves the best node every
//!   step, so it never walks from a loss.
//! - The global-best bonus fires: ML-Master declares `best_metric` but never assigns it.
//! - The `max_improve_failure`-th step without improvement ends the trajectory (ML-Master's check lets
//!   one more step through: its counter reaches the limit on the 3rd failure and only the 4th is
//!   terminal).
//! - An invalid node (ran, but its submission failed validation) is treated like a buggy one throughout:
//!   debug children, debug depth, -1, never a local or global best. ML-Master debugs it but otherwise
//!   treats it as clean.
//! - A metric of 0.0 is a metric (ML-Master's truthiness test ignores it).
//! - When every draft is locked, the request answers [`Next::Wait`] (ML-Master's selection loops on the
//!   root).
//! - Terminal re-selections (reward 0) happen as in ML-Master, but at most
//!   [`MAX_TERMINAL_REVISITS_PER_REQUEST`] per request; then the request descends by UCT only into
//!   subtrees that still hold a node it could expand. ML-Master can re-select a terminal node forever
//!   (a terminal child with a positive mean beside siblings at -1 keeps winning UCT), and the property
//!   tests reach that state within a few hundred steps.

mod config;
mod error;
mod greedy;
mod judgement;
mod mcts;
mod node;
mod policy;
mod search;
mod tree;

pub use config::{AfterLoss, ExplorationSchedule, PolicyKind, SearchConfig};
pub use error::{Error, Result};
pub use judgement::{judge, Evidence, ExecutionStatus, ReviewVerdict, SubmissionState};
pub use mcts::MAX_TERMINAL_REVISITS_PER_REQUEST;
pub use node::{
    BestChange, Direction, ExpansionId, Metric, Node, NodeId, Outcome, Root, Stage, WorkerId,
    SUSPICIOUS_ERROR, SUSPICIOUS_SCORE,
};
pub use search::{Completion, Expansion, Next, NodeRecord, NodeResult, Record, Search, Trajectory};
pub use tree::Tree;
