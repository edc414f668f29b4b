//! ML-Master's policy: UCT selection from the virtual root with draft locks, expansion limits counted
//! with children in flight, and trajectories that continue from the node they produced until they end
//! in a backpropagation.
//!
//! Selection (ML-Master's `select`/`uct_select`): at the root, draft while the root has fewer than
//! `num_drafts` children (in flight included); otherwise take the unlocked draft with the highest UCT and
//! lock it for the worker. Below it, stop at the first node that is terminal (backpropagate 0 and start
//! again) or not fully expanded — unless it needs fixing and a fix was already found below it, or it
//! continues improving and has children, in which case descend by UCT.
//!
//! Continuation (ML-Master's `check_improvement`) for a completed node (where it goes on from follows
//! [`crate::AfterLoss`]: by default a valid improve worse than its parent sends the worker back to the
//! parent while it has room, and ends the trajectory otherwise):
//! - valid: compare with the trajectory's local best; a gain ≥ `metric_improvement_threshold` makes it
//!   the new local best, a smaller one counts a failure against the local best, and the
//!   `max_improve_failure`-th failure makes the node terminal and backpropagates. A valid child of a node
//!   that needs fixing (a successful debug) always backpropagates.
//! - buggy or invalid: debugged again by the same worker until its debug depth reaches
//!   `back_debug_depth`, then it backpropagates; from `max_debug_depth` on it is terminal.
//!
//! Progress (not in ML-Master): ML-Master re-selects terminal nodes for as long as UCT prefers them,
//! which can be forever (a terminal child with a positive mean next to siblings at -1 wins UCT until
//! ln N outgrows the gap). A request makes at most [`MAX_TERMINAL_REVISITS_PER_REQUEST`] such 0-reward
//! revisits, then descends by UCT among the subtrees that still hold an open node (one selection could
//! expand). So a request answers `Wait` only when every open subtree is locked by another worker or
//! its open slots are in flight, and `Exhausted` only when no node is open and nothing is in flight.

use std::collections::BTreeMap;

use crate::config::{AfterLoss, SearchConfig};
use crate::node::{NodeId, Outcome, Stage, WorkerId};
use crate::policy::{Choice, Context, Decision, Policy};
use crate::tree::{PathUpdate, Tree};

/// Terminal re-selections (0-reward backpropagations, ML-Master's steps that produce no node) one
/// request makes by plain UCT before it descends only into subtrees that still hold an open node.
pub const MAX_TERMINAL_REVISITS_PER_REQUEST: usize = 16;

#[derive(Debug, Clone, Default)]
pub(crate) struct Mcts {
    /// Where each worker's trajectory continues.
    positions: BTreeMap<WorkerId, NodeId>,
    /// Per node: is it open, i.e. could a selection expand it (see [`Mcts::can_expand`])?
    open: Vec<bool>,
    /// Per node: open nodes in its subtree, itself included, not counting below terminal nodes (0 for
    /// a terminal node).
    open_below: Vec<u32>,
    root_open: bool,
    /// Open nodes selection can reach: the root if open, and the drafts' `open_below`.
    open_total: u32,
}

enum Selection {
    Expand(Option<NodeId>),
    Terminal(NodeId),
    Blocked,
}

#[derive(Clone, Copy)]
enum Descent {
    /// ML-Master's: any child, by UCT.
    Uct,
    /// Only children whose subtree holds an open node, by UCT.
    OpenOnly,
}

impl Mcts {
    pub fn new() -> Mcts {
        Mcts {
            root_open: true,
            open_total: 1,
            ..Mcts::default()
        }
    }

    /// ML-Master's `is_fully_expanded_with_expected`.
    fn fully_expanded(tree: &Tree, config: &SearchConfig, parent: Option<NodeId>) -> bool {
        let expected = tree.expected_child_count(parent);
        match parent {
            None => expected >= config.num_drafts,
            Some(id) => {
                let node = tree.get(id);
                if node.outcome.needs_debug() {
                    node.has_valid_child || expected >= config.num_bugs
                } else {
                    expected >= config.num_improves
                }
            }
        }
    }

    /// Not terminal, not fully expanded, and not one that selection always passes through.
    fn can_expand(tree: &Tree, config: &SearchConfig, parent: Option<NodeId>) -> bool {
        if Self::fully_expanded(tree, config, parent) {
            return false;
        }
        match parent {
            None => true,
            Some(id) => {
                let node = tree.get(id);
                let fix_found_below = node.outcome.needs_debug() && node.debug_succeeded;
                !(node.terminal || fix_found_below)
            }
        }
    }

    /// Re-reads whether `target` is open and, if that changed, updates the counts up to the root.
    fn refresh(&mut self, tree: &Tree, config: &SearchConfig, target: Option<NodeId>) {
        let now = Self::can_expand(tree, config, target);
        let Some(id) = target else {
            if self.root_open != now {
                self.root_open = now;
                self.adjust_total(now);
            }
            return;
        };
        if self.open.len() < tree.len() {
            self.open.resize(tree.len(), false);
            self.open_below.resize(tree.len(), 0);
        }
        if self.open[id.index()] == now {
            return;
        }
        self.open[id.index()] = now;
        // Count it up to the root, but not past a terminal node: selection never goes below one. (In a
        // live run a terminal node has no children; a restore under a changed configuration can make
        // a node terminal after the fact.)
        let mut current = Some(id);
        while let Some(ancestor) = current {
            let node = tree.get(ancestor);
            if node.terminal {
                return;
            }
            let count = &mut self.open_below[ancestor.index()];
            *count = if now { *count + 1 } else { *count - 1 };
            current = node.parent;
        }
        self.adjust_total(now);
    }

    fn adjust_total(&mut self, opened: bool) {
        self.open_total = if opened {
            self.open_total + 1
        } else {
            self.open_total - 1
        };
    }

    fn has_open(&self, id: NodeId) -> bool {
        self.open_below
            .get(id.index())
            .is_some_and(|count| *count > 0)
    }

    fn refresh_path(&mut self, tree: &Tree, config: &SearchConfig, from: NodeId) {
        let mut current = Some(from);
        while let Some(id) = current {
            self.refresh(tree, config, Some(id));
            current = tree.get(id).parent;
        }
    }

    /// ML-Master's selection; with `Descent::OpenOnly`, children whose subtree holds no open node are
    /// skipped, which never reaches a terminal node.
    fn select(&self, context: &mut Context<'_>, worker: WorkerId, descent: Descent) -> Selection {
        let exploration = context.exploration_constant();
        let (tree, config) = (&mut *context.tree, context.config);
        if !Self::fully_expanded(tree, config, None) {
            return Selection::Expand(None);
        }
        let eligible = |id: NodeId| match descent {
            Descent::Uct => true,
            Descent::OpenOnly => self.has_open(id),
        };
        let Some(draft) = tree.best_child_by_uct(None, exploration, |node| {
            node.lock.is_none() && eligible(node.id)
        }) else {
            return Selection::Blocked;
        };
        tree.get_mut(draft).lock = Some(worker);
        let mut current = draft;
        loop {
            let node = tree.get(current);
            if node.terminal {
                return Selection::Terminal(current);
            }
            let child =
                tree.best_child_by_uct(Some(current), exploration, |node| eligible(node.id));
            if !Self::fully_expanded(tree, config, Some(current)) {
                let fix_found_below = node.outcome.needs_debug() && node.debug_succeeded;
                let improving_below = node.continue_improve && !node.children.is_empty();
                let descend = match descent {
                    Descent::Uct => fix_found_below || improving_below,
                    Descent::OpenOnly => fix_found_below || (improving_below && child.is_some()),
                };
                if !descend {
                    return Selection::Expand(Some(current));
                }
            }
            match child {
                Some(child) => current = child,
                None => {
                    // Every slot is taken by children still in flight: nothing to hand out here.
                    tree.get_mut(draft).lock = None;
                    return Selection::Blocked;
                }
            }
        }
    }

    /// ML-Master's `check_improvement`, minus the backpropagation itself: sets the node's flags and
    /// answers whether it ends its trajectory.
    fn ends_trajectory(tree: &mut Tree, config: &SearchConfig, id: NodeId) -> bool {
        let node = tree.get(id);
        match node.outcome {
            Outcome::Valid { metric } => {
                let fixed_parent = node
                    .parent
                    .is_some_and(|parent| tree.get(parent).outcome.needs_debug());
                let local_best = node.local_best.and_then(|best| {
                    tree.get(best)
                        .outcome
                        .valid_metric()
                        .map(|best_metric| (best, best_metric))
                });
                let mut ends = fixed_parent;
                match local_best {
                    Some((best, best_metric))
                        if metric.improvement_over(&best_metric)
                            < config.metric_improvement_threshold =>
                    {
                        let best_node = tree.get_mut(best);
                        best_node.improve_failures += 1;
                        let failures = best_node.improve_failures;
                        let node = tree.get_mut(id);
                        if failures >= config.max_improve_failure {
                            node.terminal = true;
                            node.continue_improve = false;
                            ends = true;
                        } else {
                            node.continue_improve = true;
                        }
                    }
                    Some(_) | None => {
                        let node = tree.get_mut(id);
                        node.local_best = Some(id);
                        node.continue_improve = true;
                    }
                }
                ends
            }
            Outcome::Buggy | Outcome::Invalid { .. } => {
                let depth = node.debug_depth;
                if depth >= config.back_debug_depth {
                    if depth >= config.max_debug_depth {
                        tree.get_mut(id).terminal = true;
                    }
                    true
                } else {
                    false
                }
            }
        }
    }
}

impl Mcts {
    /// Where a trajectory that goes on after `id` continues from: the node itself, or, when it is a
    /// valid improve that scored worse than its valid parent and the configuration says so, the parent
    /// while the parent can take another child. `None` ends the trajectory. "Worse" is as the best
    /// node is chosen ([`crate::Metric::is_preferred_to`]): a child that is not suspiciously perfect
    /// never loses to a parent that is.
    fn continuation(tree: &Tree, config: &SearchConfig, id: NodeId) -> Option<NodeId> {
        let node = tree.get(id);
        let (Outcome::Valid { metric }, Some(parent)) = (node.outcome, node.parent) else {
            return Some(id);
        };
        let lost_to_parent = tree
            .get(parent)
            .outcome
            .valid_metric()
            .is_some_and(|parent_metric| parent_metric.is_preferred_to(&metric));
        match (config.after_loss, lost_to_parent) {
            (AfterLoss::Node, _) | (AfterLoss::Parent, false) => Some(id),
            (AfterLoss::Parent, true) => {
                Self::can_expand(tree, config, Some(parent)).then_some(parent)
            }
        }
    }
}

impl Policy for Mcts {
    fn choose(&mut self, context: &mut Context<'_>, worker: WorkerId) -> Choice {
        if let Some(node) = self.positions.remove(&worker) {
            return Choice::Expand { parent: Some(node) };
        }
        if self.open_total == 0 {
            return if context.tree.in_flight() == 0 {
                Choice::Exhausted
            } else {
                Choice::Wait
            };
        }
        for _ in 0..MAX_TERMINAL_REVISITS_PER_REQUEST {
            match self.select(context, worker, Descent::Uct) {
                Selection::Expand(parent) => return Choice::Expand { parent },
                Selection::Terminal(node) => {
                    context.revisit_terminal(node);
                    self.refresh_path(context.tree, context.config, node);
                }
                Selection::Blocked => return Choice::Wait,
            }
        }
        match self.select(context, worker, Descent::OpenOnly) {
            Selection::Expand(parent) => Choice::Expand { parent },
            Selection::Terminal(node) => {
                // Unreachable (a terminal node is never open), but stay faithful: revisit it.
                context.revisit_terminal(node);
                self.refresh_path(context.tree, context.config, node);
                Choice::Wait
            }
            Selection::Blocked => Choice::Wait,
        }
    }

    fn reserved(&mut self, context: &mut Context<'_>, parent: Option<NodeId>) {
        self.refresh(context.tree, context.config, parent);
    }

    fn completed(
        &mut self,
        context: &mut Context<'_>,
        worker: Option<WorkerId>,
        node: NodeId,
    ) -> Decision {
        let (tree, config) = (&mut *context.tree, context.config);
        if let (Stage::Draft, Some(worker)) = (tree.get(node).stage, worker) {
            tree.get_mut(node).lock = Some(worker);
        }
        let continuation = match Self::ends_trajectory(tree, config, node) {
            true => None,
            false => Self::continuation(tree, config, node),
        };
        let decision = match continuation {
            Some(from) => {
                if let Some(worker) = worker {
                    self.positions.insert(worker, from);
                }
                Decision::Continue { from }
            }
            None => {
                let reward = tree.reward_of(node);
                tree.backpropagate(node, PathUpdate::Reward(reward));
                Decision::Backpropagated { reward }
            }
        };
        self.refresh_path(tree, config, node);
        self.refresh(tree, config, tree.get(node).parent);
        decision
    }

    fn abandoned(
        &mut self,
        context: &mut Context<'_>,
        worker: Option<WorkerId>,
        parent: Option<NodeId>,
    ) {
        if let Some(worker) = worker {
            self.positions.remove(&worker);
        }
        if let Some(parent) = parent {
            context.tree.backpropagate(parent, PathUpdate::FlagsOnly);
            self.refresh_path(context.tree, context.config, parent);
        }
        self.refresh(context.tree, context.config, parent);
    }

    fn revisited(&mut self, context: &mut Context<'_>, node: NodeId) {
        context.revisit_terminal(node);
        self.refresh_path(context.tree, context.config, node);
    }

    fn position(&self, worker: WorkerId) -> Option<NodeId> {
        self.positions.get(&worker).copied()
    }

    fn boxed_clone(&self) -> Box<dyn Policy> {
        Box::new(self.clone())
    }

    #[cfg(test)]
    fn audit(&self, tree: &Tree, config: &SearchConfig) -> Result<(), String> {
        let open: Vec<bool> = (0..tree.len() as u32)
            .map(|id| Self::can_expand(tree, config, Some(NodeId(id))))
            .collect();
        let mut below = vec![0u32; tree.len()];
        for (index, is_open) in open.iter().enumerate().rev() {
            let node = tree.get(NodeId(index as u32));
            if !node.terminal {
                below[index] += u32::from(*is_open)
                    + node
                        .children
                        .iter()
                        .map(|child| below[child.index()])
                        .sum::<u32>();
            }
        }
        let root_open = Self::can_expand(tree, config, None);
        let total = u32::from(root_open)
            + tree
                .root()
                .children()
                .iter()
                .map(|draft| below[draft.index()])
                .sum::<u32>();
        let cached_open = &self.open[..self.open.len().min(tree.len())];
        if cached_open != open.as_slice() || self.open.len() != tree.len() && !tree.is_empty() {
            return Err(format!("open flags {:?}, recount {open:?}", self.open));
        }
        if !tree.is_empty() && self.open_below != below {
            return Err(format!(
                "open counts {:?}, recount {below:?}",
                self.open_below
            ));
        }
        if (self.root_open, self.open_total) != (root_open, total) {
            return Err(format!(
                "root open {} total {}, recount {root_open} {total}",
                self.root_open, self.open_total
            ));
        }
        Ok(())
    }
}
