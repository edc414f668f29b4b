//! AIDE's greedy policy: draft until there are `num_drafts` drafts (in flight included); then, with
//! probability `debug_prob`, debug a random buggy leaf whose debug depth is at most
//! `greedy_max_debug_depth`; otherwise improve the best valid node, or draft again if there is none.
//!
//! AIDE keeps no statistics; here every completed node backpropagates its reward at once (each step is
//! its own trajectory), so visits and rewards mean the same in both policies. Nothing is locked, nothing
//! is terminal, and a worker never continues a trajectory.

use std::collections::BTreeSet;

use crate::node::{Node, NodeId, WorkerId};
use crate::policy::{Choice, Context, Decision, Policy};
use crate::tree::PathUpdate;

#[derive(Debug, Clone, Default)]
pub(crate) struct Greedy {
    /// Leaves that need fixing and are shallow enough to debug, in id (journal) order.
    debuggable: BTreeSet<NodeId>,
}

impl Greedy {
    fn refresh(&mut self, context: &Context<'_>, id: NodeId) {
        let node: &Node = context.tree.get(id);
        let debuggable = node.outcome.needs_debug()
            && node.children.is_empty()
            && node.in_flight == 0
            && node.debug_depth <= context.config.greedy_max_debug_depth;
        if debuggable {
            self.debuggable.insert(id);
        } else {
            self.debuggable.remove(&id);
        }
    }
}

impl Policy for Greedy {
    fn choose(&mut self, context: &mut Context<'_>, _worker: WorkerId) -> Choice {
        if context.tree.root().expected_child_count() < context.config.num_drafts {
            return Choice::Expand { parent: None };
        }
        if context.random.next_unit() < context.config.debug_prob && !self.debuggable.is_empty() {
            let index = context.random.below(self.debuggable.len());
            if let Some(leaf) = self.debuggable.iter().nth(index) {
                return Choice::Expand {
                    parent: Some(*leaf),
                };
            }
        }
        Choice::Expand {
            parent: context.tree.best().map(Node::id),
        }
    }

    fn reserved(&mut self, context: &mut Context<'_>, parent: Option<NodeId>) {
        if let Some(parent) = parent {
            self.refresh(context, parent);
        }
    }

    fn completed(
        &mut self,
        context: &mut Context<'_>,
        _worker: Option<WorkerId>,
        node: NodeId,
    ) -> Decision {
        self.refresh(context, node);
        let reward = context.tree.reward_of(node);
        context.tree.backpropagate(node, PathUpdate::Reward(reward));
        Decision::Backpropagated { reward }
    }

    fn abandoned(
        &mut self,
        context: &mut Context<'_>,
        _worker: Option<WorkerId>,
        parent: Option<NodeId>,
    ) {
        if let Some(parent) = parent {
            self.refresh(context, parent);
        }
    }

    fn revisited(&mut self, context: &mut Context<'_>, node: NodeId) {
        // Greedy never makes a node terminal, so a restore never asks; replay it all the same.
        context.revisit_terminal(node);
    }

    fn position(&self, _worker: WorkerId) -> Option<NodeId> {
        None
    }

    fn boxed_clone(&self) -> Box<dyn Policy> {
        Box::new(self.clone())
    }

    #[cfg(test)]
    fn audit(
        &self,
        tree: &crate::tree::Tree,
        config: &crate::config::SearchConfig,
    ) -> Result<(), String> {
        let recount: BTreeSet<NodeId> = tree
            .nodes()
            .iter()
            .filter(|node| {
                node.outcome.needs_debug()
                    && node.children.is_empty()
                    && node.in_flight == 0
                    && node.debug_depth <= config.greedy_max_debug_depth
            })
            .map(Node::id)
            .collect();
        if recount == self.debuggable {
            Ok(())
        } else {
            Err(format!(
                "debuggable {:?}, recount {recount:?}",
                self.debuggable
            ))
        }
    }
}
