//! The tree: an arena of nodes under a virtual root, the global best, and the two tree-wide operations
//! both policies share — reserving a child slot and backpropagating along a path. Policy rules (limits,
//! selection, continuation) live in the policies.

use crate::node::{BestChange, Direction, Metric, Node, NodeId, Outcome, Root, Stage, WorkerId};

/// Everything the search knows about its nodes. Read-only to callers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    root: Root,
    nodes: Vec<Node>,
    best: Option<NodeId>,
    direction: Option<Direction>,
    in_flight: u32,
}

/// What a backpropagation writes on each node of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathUpdate {
    /// visits += 1 and total_reward += the reward, on every node of the path and the root.
    Reward(i64),
    /// Only ML-Master's path bookkeeping (unlock drafts, reset failure counts, pass flags up): its
    /// `backpropagate(add_to_tree=False)`, used when an expansion is abandoned.
    FlagsOnly,
}

impl Tree {
    pub fn root(&self) -> &Root {
        &self.root
    }

    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.index())
    }

    /// Every node, in completion order (which is id order).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Number of nodes, the virtual root excluded.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The best valid node; the earliest of equals.
    pub fn best(&self) -> Option<&Node> {
        self.best.map(|id| self.get(id))
    }

    /// The metric direction, fixed by the first valid node.
    pub fn direction(&self) -> Option<Direction> {
        self.direction
    }

    /// Expansions reserved anywhere and not yet completed or abandoned.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The draft whose subtree holds `id` (a draft is its own draft); `None` for an unknown id.
    pub fn draft_of(&self, id: NodeId) -> Option<NodeId> {
        let mut current = self.node(id)?;
        while let Some(parent) = current.parent {
            current = self.get(parent);
        }
        Some(current.id)
    }

    /// Completed children of a node, or the drafts for `None`.
    pub(crate) fn children_of(&self, parent: Option<NodeId>) -> &[NodeId] {
        match parent {
            None => &self.root.children,
            Some(id) => &self.get(id).children,
        }
    }

    /// Completed children plus children in flight, of a node or (for `None`) of the root.
    pub(crate) fn expected_child_count(&self, parent: Option<NodeId>) -> u32 {
        match parent {
            None => self.root.expected_child_count(),
            Some(id) => self.get(id).expected_child_count(),
        }
    }

    pub(crate) fn visits_of(&self, parent: Option<NodeId>) -> u32 {
        match parent {
            None => self.root.visits,
            Some(id) => self.get(id).visits,
        }
    }

    /// The stage of a child of `parent`.
    pub(crate) fn stage_for(&self, parent: Option<NodeId>) -> Stage {
        match parent {
            None => Stage::Draft,
            Some(id) if self.get(id).outcome.needs_debug() => Stage::Debug,
            Some(_) => Stage::Improve,
        }
    }

    pub(crate) fn get(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.index()]
    }

    pub(crate) fn contains(&self, id: NodeId) -> bool {
        id.index() < self.nodes.len()
    }

    /// Takes a child slot of `parent`: ML-Master's `add_expected_child_count`.
    pub(crate) fn reserve(&mut self, parent: Option<NodeId>) {
        self.in_flight += 1;
        match parent {
            None => self.root.in_flight += 1,
            Some(id) => self.get_mut(id).in_flight += 1,
        }
    }

    /// Gives a reserved slot back without a child: ML-Master's `sub_expected_child_count`.
    pub(crate) fn release(&mut self, parent: Option<NodeId>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match parent {
            None => self.root.in_flight = self.root.in_flight.saturating_sub(1),
            Some(id) => {
                let node = self.get_mut(id);
                node.in_flight = node.in_flight.saturating_sub(1);
            }
        }
    }

    /// Would a valid node with this metric be accepted (same direction as the tree's)?
    pub(crate) fn direction_conflict(&self, metric: &Metric) -> Option<Direction> {
        self.direction
            .filter(|direction| *direction != metric.direction)
    }

    /// Turns a reserved slot of `parent` into a completed child; returns its id. The child's stage,
    /// debug depth, inherited local best and effect on the global best are set here; the policy decides
    /// the rest.
    pub(crate) fn insert_completed(
        &mut self,
        parent: Option<NodeId>,
        plan: String,
        code_ref: String,
        outcome: Outcome,
    ) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let stage = self.stage_for(parent);
        let (debug_depth, local_best) = match parent {
            None => (0, None),
            Some(parent_id) => {
                let parent_node = self.get(parent_id);
                let depth = match stage {
                    Stage::Debug => parent_node.debug_depth + 1,
                    Stage::Draft | Stage::Improve => 0,
                };
                (depth, parent_node.local_best)
            }
        };
        let best_change = self.update_best(id, &outcome);
        self.release(parent);
        match parent {
            None => self.root.children.push(id),
            Some(parent_id) => {
                let parent_node = self.get_mut(parent_id);
                parent_node.children.push(id);
                parent_node.has_valid_child |= outcome.is_valid();
            }
        }
        self.nodes.push(Node {
            id,
            parent,
            children: Vec::new(),
            stage,
            plan,
            code_ref,
            outcome,
            best_change,
            debug_depth,
            visits: 0,
            total_reward: 0,
            own_backpropagations: 0,
            in_flight: 0,
            has_valid_child: false,
            terminal: false,
            lock: None,
            local_best,
            improve_failures: 0,
            continue_improve: false,
            debug_succeeded: false,
        });
        id
    }

    fn update_best(&mut self, id: NodeId, outcome: &Outcome) -> BestChange {
        let Some(metric) = outcome.valid_metric() else {
            return BestChange::Unchanged;
        };
        self.direction.get_or_insert(metric.direction);
        match self
            .best
            .and_then(|best| self.get(best).outcome.valid_metric())
        {
            None => {
                self.best = Some(id);
                BestChange::First
            }
            Some(best_metric)
                if best_metric.suspicion().is_some() && metric.suspicion().is_none() =>
            {
                self.best = Some(id);
                BestChange::First
            }
            Some(best_metric) if metric.is_preferred_to(&best_metric) => {
                self.best = Some(id);
                BestChange::Improved
            }
            Some(_) => BestChange::Unchanged,
        }
    }

    /// The reward ML-Master backpropagates from a node that ends its trajectory: -1 if it needs fixing,
    /// +1 if valid, +1 more if it beat the global best that existed when it completed.
    pub(crate) fn reward_of(&self, id: NodeId) -> i64 {
        let node = self.get(id);
        match node.outcome {
            Outcome::Buggy | Outcome::Invalid { .. } => -1,
            Outcome::Valid { .. } => match node.best_change {
                BestChange::Improved => 2,
                BestChange::First | BestChange::Unchanged => 1,
            },
        }
    }

    /// ML-Master's `backpropagate`, from `origin` up to the root. On every node of the path: pass the
    /// debug-success flag to a parent that needs fixing, copy `continue_improve` to the (non-root) parent,
    /// unlock a draft, reset the failure count, and apply `update`. Returns the worker whose draft lock it
    /// released, if any.
    pub(crate) fn backpropagate(&mut self, origin: NodeId, update: PathUpdate) -> Option<WorkerId> {
        if let PathUpdate::Reward(_) = update {
            self.get_mut(origin).own_backpropagations += 1;
        }
        let mut unlocked = None;
        let mut current = origin;
        loop {
            let node = self.get(current);
            let parent = node.parent;
            let passes_success =
                node.outcome.is_valid() || (node.outcome.needs_debug() && node.debug_succeeded);
            let continue_improve = node.continue_improve;
            if let Some(parent_id) = parent {
                let parent_node = self.get_mut(parent_id);
                if passes_success && parent_node.outcome.needs_debug() {
                    parent_node.debug_succeeded = true;
                }
                parent_node.continue_improve = continue_improve;
            }
            let node = self.get_mut(current);
            if node.stage == Stage::Draft {
                unlocked = unlocked.or(node.lock.take());
            }
            node.improve_failures = 0;
            if let PathUpdate::Reward(reward) = update {
                node.visits += 1;
                node.total_reward += reward;
            }
            match parent {
                Some(parent_id) => current = parent_id,
                None => break,
            }
        }
        if let PathUpdate::Reward(reward) = update {
            self.root.visits += 1;
            self.root.total_reward += reward;
        }
        unlocked
    }

    /// UCT of a child whose parent has `parent_visits`: Q/n + C·sqrt(ln N / n), +inf when unvisited.
    pub(crate) fn uct(&self, child: NodeId, parent_visits: u32, exploration: f64) -> f64 {
        let node = self.get(child);
        if node.visits == 0 {
            return f64::INFINITY;
        }
        let visits = f64::from(node.visits);
        let exploitation = node.total_reward as f64 / visits;
        let parent_visits = f64::from(parent_visits.max(1));
        exploitation + exploration * (parent_visits.ln() / visits).sqrt()
    }

    /// The child of `parent` with the highest UCT among those `eligible` accepts; the earliest of equals,
    /// as Python's `max` picks.
    pub(crate) fn best_child_by_uct(
        &self,
        parent: Option<NodeId>,
        exploration: f64,
        eligible: impl Fn(&Node) -> bool,
    ) -> Option<NodeId> {
        let parent_visits = self.visits_of(parent);
        let mut chosen: Option<(NodeId, f64)> = None;
        for &child in self.children_of(parent) {
            if !eligible(self.get(child)) {
                continue;
            }
            let value = self.uct(child, parent_visits, exploration);
            match chosen {
                Some((_, best)) if value <= best => {}
                Some(_) | None => chosen = Some((child, value)),
            }
        }
        chosen.map(|(child, _)| child)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(value: f64) -> Outcome {
        Outcome::Valid {
            metric: Metric::new(value, Direction::HigherIsBetter),
        }
    }

    fn add(tree: &mut Tree, parent: Option<NodeId>, outcome: Outcome) -> NodeId {
        tree.reserve(parent);
        tree.insert_completed(parent, String::new(), String::new(), outcome)
    }

    #[test]
    fn stages_and_debug_depth_follow_the_parent() {
        let mut tree = Tree::default();
        let draft = add(&mut tree, None, Outcome::Buggy);
        let first_fix = add(&mut tree, Some(draft), Outcome::Invalid { metric: None });
        let second_fix = add(&mut tree, Some(first_fix), valid(0.5));
        let improve = add(&mut tree, Some(second_fix), valid(0.6));
        let stages: Vec<_> = tree.nodes().iter().map(|node| node.stage()).collect();
        assert_eq!(
            stages,
            [Stage::Draft, Stage::Debug, Stage::Debug, Stage::Improve]
        );
        let depths: Vec<_> = tree.nodes().iter().map(|node| node.debug_depth()).collect();
        assert_eq!(depths, [0, 1, 2, 0]);
        assert_eq!(tree.draft_of(improve), Some(draft));
        assert_eq!(tree.draft_of(NodeId(9)), None);
        assert_eq!(tree.in_flight(), 0);
    }

    #[test]
    fn global_best_respects_direction_and_keeps_the_earliest_of_equals() {
        let mut tree = Tree::default();
        let lower = |value| Outcome::Valid {
            metric: Metric::new(value, Direction::LowerIsBetter),
        };
        let first = add(&mut tree, None, lower(0.5));
        let worse = add(&mut tree, None, lower(0.7));
        let equal = add(&mut tree, None, lower(0.5));
        let better = add(&mut tree, None, lower(0.4));
        let changes: Vec<_> = [first, worse, equal, better]
            .iter()
            .map(|id| tree.get(*id).best_change())
            .collect();
        assert_eq!(
            changes,
            [
                BestChange::First,
                BestChange::Unchanged,
                BestChange::Unchanged,
                BestChange::Improved
            ]
        );
        assert_eq!(tree.best().map(Node::id), Some(better));
        assert_eq!(tree.reward_of(first), 1);
        assert_eq!(tree.reward_of(better), 2);
    }

    #[test]
    fn a_suspiciously_perfect_score_is_best_only_while_no_other_valid_node_exists() {
        let mut tree = Tree::default();
        let perfect = add(&mut tree, None, valid(1.0));
        assert_eq!(tree.best().map(Node::id), Some(perfect));
        let honest = add(&mut tree, None, valid(0.84));
        let better_honest = add(&mut tree, None, valid(0.86));
        let leaky = add(&mut tree, None, valid(0.9995));
        let changes: Vec<_> = [perfect, honest, better_honest, leaky]
            .iter()
            .map(|id| tree.get(*id).best_change())
            .collect();
        assert_eq!(
            changes,
            [
                BestChange::First,
                BestChange::First,
                BestChange::Improved,
                BestChange::Unchanged
            ]
        );
        assert_eq!(tree.best().map(Node::id), Some(better_honest));
        // Errors: zero error is as suspicious as a perfect score.
        let mut tree = Tree::default();
        let error = |value| Outcome::Valid {
            metric: Metric::new(value, Direction::LowerIsBetter),
        };
        let honest = add(&mut tree, None, error(8.7));
        add(&mut tree, None, error(0.0));
        assert_eq!(tree.best().map(Node::id), Some(honest));
        assert!(Metric::new(0.0, Direction::LowerIsBetter)
            .suspicion()
            .is_some_and(|reason| reason.contains("too perfect")));
        assert_eq!(
            Metric::new(0.998, Direction::HigherIsBetter).suspicion(),
            None
        );
    }

    #[test]
    fn backpropagation_updates_the_whole_path_and_the_root() {
        let mut tree = Tree::default();
        let draft = add(&mut tree, None, valid(0.5));
        let child = add(&mut tree, Some(draft), valid(0.4));
        tree.get_mut(draft).lock = Some(WorkerId(7));
        tree.get_mut(draft).improve_failures = 2;
        assert_eq!(
            tree.backpropagate(child, PathUpdate::Reward(1)),
            Some(WorkerId(7))
        );
        assert_eq!(tree.get(child).visits(), 1);
        assert_eq!(tree.get(draft).visits(), 1);
        assert_eq!(tree.get(draft).improve_failures(), 0);
        assert_eq!(tree.root().visits(), 1);
        assert_eq!(tree.root().total_reward(), 1);
        assert_eq!(tree.get(child).own_backpropagations(), 1);
        assert_eq!(tree.get(draft).own_backpropagations(), 0);
        tree.backpropagate(child, PathUpdate::FlagsOnly);
        assert_eq!(tree.root().visits(), 1);
    }

    #[test]
    fn uct_prefers_unvisited_then_the_first_of_equals() {
        let mut tree = Tree::default();
        let first = add(&mut tree, None, valid(0.5));
        let second = add(&mut tree, None, valid(0.5));
        assert_eq!(tree.best_child_by_uct(None, 1.414, |_| true), Some(first));
        tree.backpropagate(first, PathUpdate::Reward(1));
        assert_eq!(tree.best_child_by_uct(None, 1.414, |_| true), Some(second));
        tree.backpropagate(second, PathUpdate::Reward(1));
        assert_eq!(tree.best_child_by_uct(None, 1.414, |_| true), Some(first));
        let value = tree.uct(first, 2, 1.414);
        assert!((value - (1.0 + 1.414 * 2f64.ln().sqrt())).abs() < 1e-12);
        assert_eq!(
            tree.best_child_by_uct(None, 1.414, |node| node.id() != first),
            Some(second)
        );
    }
}
