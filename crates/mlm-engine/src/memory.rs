//! Selectively scoped memory, as ML-Master gives it: a draft remembers the previous drafts, an improve
//! remembers the parent's other children, a debug remembers nothing but the buggy parent, plus (from
//! AIRA) the chain of buggy ancestors above it. Every list is capped, so a prompt does not grow with the
//! tree.

use std::collections::HashMap;
use std::time::Duration;

use mlm_coder::{MemoryEntry, NodeView};
use mlm_journal::NodeEntry;
use mlm_search::{NodeId, Search, Stage};

/// The most remembered siblings or drafts in one request.
pub const MEMORY_LIMIT: usize = 8;
/// The most buggy ancestors shown to a debug.
pub const ANCESTOR_LIMIT: usize = 3;
/// How the summary of a node whose review failed begins: prompts leave such a summary out, so that an
/// error message never becomes a model's memory.
pub(crate) const REVIEW_FAILED: &str = "The review failed";

/// The node views and memory for an expansion of `parent` at `stage`.
/// A proposal that is written but not yet finished: its siblings should not repeat it.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingProposal {
    pub parent: Option<NodeId>,
    pub plan: String,
}

/// The node views and memory for an expansion of `parent` at `stage`. Siblings still running are
/// remembered too (plan only, no result yet), so parallel workers do not draft the same thing twice.
pub fn scoped_memory(
    search: &Search,
    entries: &HashMap<NodeId, NodeEntry>,
    pending: &[PendingProposal],
    parent: Option<NodeId>,
    stage: Stage,
) -> (Option<NodeView>, Vec<MemoryEntry>, Vec<NodeView>) {
    let parent_view = parent
        .and_then(|parent| entries.get(&parent))
        .map(node_view);
    let memory_nodes: Vec<NodeId> = match stage {
        Stage::Draft => search.tree().root().children().to_vec(),
        Stage::Improve => parent
            .and_then(|parent| search.node(parent))
            .map(|node| node.children().to_vec())
            .unwrap_or_default(),
        Stage::Debug => Vec::new(),
    };
    // The most recent attempts are the most relevant when the list must be cut.
    let start = memory_nodes.len().saturating_sub(MEMORY_LIMIT);
    let mut memory: Vec<MemoryEntry> = memory_nodes[start..]
        .iter()
        .filter_map(|node| entries.get(node))
        .map(|entry| MemoryEntry {
            node: entry.id.0,
            plan: entry.plan.clone(),
            summary: reviewed_summary(entry),
            metric: entry.outcome.valid_metric().map(|metric| metric.value),
            buggy: entry.outcome.needs_debug(),
        })
        .collect();
    match stage {
        Stage::Draft | Stage::Improve => memory.extend(
            pending
                .iter()
                .filter(|proposal| proposal.parent == parent)
                .take(MEMORY_LIMIT)
                .map(|proposal| MemoryEntry {
                    node: u32::MAX,
                    plan: proposal.plan.clone(),
                    summary: "Still running; no result yet.".to_string(),
                    metric: None,
                    buggy: false,
                }),
        ),
        Stage::Debug => {}
    }
    let buggy_ancestors = match stage {
        Stage::Debug => buggy_ancestors(search, entries, parent),
        Stage::Draft | Stage::Improve => Vec::new(),
    };
    (parent_view, memory, buggy_ancestors)
}

/// The buggy nodes above `parent`, nearest first, up to the last node that worked.
fn buggy_ancestors(
    search: &Search,
    entries: &HashMap<NodeId, NodeEntry>,
    parent: Option<NodeId>,
) -> Vec<NodeView> {
    let mut ancestors = Vec::new();
    let mut current = parent
        .and_then(|parent| search.node(parent))
        .and_then(|node| node.parent());
    while let Some(node) = current {
        let Some(entry) = entries.get(&node) else {
            break;
        };
        if entry.outcome.is_valid() || ancestors.len() == ANCESTOR_LIMIT {
            break;
        }
        ancestors.push(node_view(entry));
        current = search.node(node).and_then(|node| node.parent());
    }
    ancestors
}

pub fn node_view(entry: &NodeEntry) -> NodeView {
    NodeView {
        node: entry.id.0,
        stage: entry.stage,
        plan: entry.plan.clone(),
        code: entry.code.clone(),
        output: entry.output.clone(),
        status: entry.execution_status,
        duration: Duration::from_secs_f64(entry.execute_seconds.max(0.0)),
        metric: entry.outcome.valid_metric().map(|metric| metric.value),
        buggy: entry.outcome.needs_debug(),
        summary: reviewed_summary(entry),
        validation_message: entry.validation_message.clone(),
    }
}

/// The review's summary of a node, empty when the review failed (its error text is no memory).
fn reviewed_summary(entry: &NodeEntry) -> String {
    if entry.review_summary.starts_with(REVIEW_FAILED) {
        String::new()
    } else {
        entry.review_summary.clone()
    }
}
