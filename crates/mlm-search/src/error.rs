//! Errors the search reports to its caller. None of them is transient: each names a caller mistake (a
//! bad configuration, a ticket that is not outstanding, a result the tree cannot accept, a journal that
//! does not replay). After an error from [`crate::Search::complete`] the ticket stays outstanding, so the
//! caller can complete it again with a corrected result or abandon it.

use crate::node::{Direction, ExpansionId, NodeId, WorkerId};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("search configuration: `{field}` {problem}\nhint: {hint}")]
    InvalidConfig {
        field: &'static str,
        problem: String,
        hint: &'static str,
    },
    #[error("worker {worker} already has expansion {ticket} in flight\nhint: complete or abandon it before asking for more work")]
    WorkerBusy {
        worker: WorkerId,
        ticket: ExpansionId,
    },
    #[error("expansion {ticket} is not in flight\nhint: each ticket is completed or abandoned exactly once")]
    UnknownExpansion { ticket: ExpansionId },
    #[error("expansion {ticket}: the metric value {value} is not a finite number\nhint: report a run without a usable metric as buggy")]
    NonFiniteMetric { ticket: ExpansionId, value: f64 },
    #[error("expansion {ticket}: the metric says {found} but the tree's metric says {expected}\nhint: every node of one search must use the same metric direction")]
    DirectionMismatch {
        ticket: ExpansionId,
        expected: Direction,
        found: Direction,
    },
    #[error("cannot restore the search: record {index}: {problem}\nhint: pass the records in the order the search emitted them")]
    Restore { index: usize, problem: String },
    #[error(
        "cannot restore the search: record {index} refers to node {node}, which does not exist yet"
    )]
    RestoreUnknownNode { index: usize, node: NodeId },
}
