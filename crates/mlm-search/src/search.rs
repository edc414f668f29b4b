//! The search: a tree, a policy, a seeded random source, the expansions in flight and the record log.
//! Every change the engine makes goes through [`Search::next_expansion`], [`Search::complete`] and
//! [`Search::abandon`]; every change to statistics is logged as a [`Record`] so [`Search::restore`] can
//! replay it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{PolicyKind, SearchConfig};
use crate::error::{Error, Result};
use crate::greedy::Greedy;
use crate::mcts::Mcts;
use crate::node::{BestChange, ExpansionId, Node, NodeId, Outcome, Stage, WorkerId};
use crate::policy::{Choice, Context, Decision, Policy, SplitMix64};
use crate::tree::Tree;

/// A reserved expansion: generate a `stage` child of `parent` (`None`: the virtual root, so a draft).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expansion {
    pub ticket: ExpansionId,
    pub worker: WorkerId,
    pub parent: Option<NodeId>,
    pub stage: Stage,
}

/// The answer to a request for work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Generate and run this expansion, then complete or abandon its ticket.
    Expand(Expansion),
    /// Nothing can be handed out now: the other workers own every open subtree, or the slots left are
    /// taken by expansions in flight. Ask again after another worker completes or abandons (or at once
    /// if nothing is in flight: each request moves the statistics on).
    Wait,
    /// Nothing can ever be handed out: every node is terminal or fully expanded, and nothing is in
    /// flight.
    Exhausted,
}

/// What the engine reports for a finished expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeResult {
    pub plan: String,
    /// The caller's reference to the code (a path, a hash, a journal key); the search never reads it.
    pub code_ref: String,
    pub outcome: Outcome,
}

/// What a completed node meant for its worker's trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trajectory {
    /// The worker's next request expands this node: the completed node, or under MCTS its parent when
    /// the completed node scored worse than it (see [`crate::AfterLoss`]).
    Continues { from: NodeId },
    /// The node's reward went up to the root; the worker's next request selects from the root.
    Backpropagated { reward: i64 },
}

/// The result of [`Search::complete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub node: NodeId,
    pub stage: Stage,
    pub trajectory: Trajectory,
    pub best_change: BestChange,
    /// Set by the MCTS policy: selecting this node again backpropagates 0.
    pub terminal: bool,
}

/// A completed node as the journal keeps it and [`Search::restore`] reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    pub stage: Stage,
    pub plan: String,
    pub code_ref: String,
    pub outcome: Outcome,
}

/// One change to the tree's statistics, in the order it happened. Drain them with
/// [`Search::take_records`], journal them, and pass them back to [`Search::restore`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A node completed.
    Node(NodeRecord),
    /// A terminal node was selected again and backpropagated 0.
    TerminalRevisit { node: NodeId },
    /// An expansion of `parent` was abandoned.
    Abandoned { parent: Option<NodeId> },
}

/// The search tree and its policy. See the crate documentation for the protocol.
#[derive(Debug)]
pub struct Search {
    config: SearchConfig,
    tree: Tree,
    policy: Box<dyn Policy>,
    random: SplitMix64,
    in_flight: BTreeMap<ExpansionId, Expansion>,
    busy: BTreeMap<WorkerId, ExpansionId>,
    next_ticket: u64,
    log: Vec<Record>,
}

impl Clone for Search {
    fn clone(&self) -> Self {
        Search {
            config: self.config.clone(),
            tree: self.tree.clone(),
            policy: self.policy.boxed_clone(),
            random: self.random.clone(),
            in_flight: self.in_flight.clone(),
            busy: self.busy.clone(),
            next_ticket: self.next_ticket,
            log: self.log.clone(),
        }
    }
}

impl Search {
    /// An empty tree (only the virtual root) under the configured policy.
    pub fn new(config: SearchConfig, seed: u64) -> Result<Search> {
        config.validate()?;
        let policy: Box<dyn Policy> = match config.policy {
            PolicyKind::Mcts => Box::new(Mcts::new()),
            PolicyKind::Greedy => Box::new(Greedy::default()),
        };
        Ok(Search {
            config,
            tree: Tree::default(),
            policy,
            random: SplitMix64::new(seed),
            in_flight: BTreeMap::new(),
            busy: BTreeMap::new(),
            next_ticket: 0,
            log: Vec::new(),
        })
    }

    /// Rebuilds a search by replaying `records` in order. Restored: every node with its content, stage,
    /// debug depth, outcome, global-best effect, visits, total reward, terminal flag, local best,
    /// failure count and ML-Master's flags — exactly as the live search had them, because the same code
    /// applies the same changes in the same order. Not restored: expansions in flight (their slots are
    /// free again), workers' trajectories (every worker starts from the root, and a trajectory that was
    /// still going ends without a backpropagation), draft locks (all released), and the random stream
    /// (re-seeded from `seed` and the number of records, so a resumed run is deterministic but does not
    /// repeat the draws of the interrupted one). The restored search's record log starts empty.
    pub fn restore(
        config: SearchConfig,
        seed: u64,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Search> {
        let mut search = Search::new(config, seed)?;
        let mut count: u64 = 0;
        for (index, record) in records.into_iter().enumerate() {
            search.replay(index, record)?;
            count += 1;
        }
        search.log.clear();
        search.random = SplitMix64::new(seed ^ count.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        Ok(search)
    }

    fn replay(&mut self, index: usize, record: Record) -> Result<()> {
        let known = |tree: &Tree, node: Option<NodeId>| match node {
            Some(node) if !tree.contains(node) => Err(Error::RestoreUnknownNode { index, node }),
            Some(_) | None => Ok(()),
        };
        match record {
            Record::Node(node) => {
                known(&self.tree, node.parent)?;
                let problem = if node.id != NodeId(self.tree.len() as u32) {
                    Some(format!(
                        "node {} arrives where node {} was expected",
                        node.id,
                        self.tree.len()
                    ))
                } else if node.stage != self.tree.stage_for(node.parent) {
                    Some(format!(
                        "node {} is a {:?} but its parent calls for a {:?}",
                        node.id,
                        node.stage,
                        self.tree.stage_for(node.parent)
                    ))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(Error::Restore { index, problem });
                }
                let ticket = ExpansionId(u64::MAX);
                self.check_outcome(ticket, &node.outcome)
                    .map_err(|error| Error::Restore {
                        index,
                        problem: error.to_string(),
                    })?;
                self.tree.reserve(node.parent);
                self.with_policy(|policy, context| policy.reserved(context, node.parent));
                self.add(None, node.parent, node.plan, node.code_ref, node.outcome);
            }
            Record::TerminalRevisit { node } => {
                known(&self.tree, Some(node))?;
                if !self.tree.get(node).terminal {
                    return Err(Error::Restore {
                        index,
                        problem: format!(
                            "node {node} is revisited as terminal but is not terminal"
                        ),
                    });
                }
                self.with_policy(|policy, context| policy.revisited(context, node));
            }
            Record::Abandoned { parent } => {
                known(&self.tree, parent)?;
                self.tree.reserve(parent);
                self.with_policy(|policy, context| policy.reserved(context, parent));
                self.tree.release(parent);
                self.with_policy(|policy, context| policy.abandoned(context, None, parent));
                self.log.push(Record::Abandoned { parent });
            }
        }
        Ok(())
    }

    fn with_policy<T>(&mut self, action: impl FnOnce(&mut dyn Policy, &mut Context<'_>) -> T) -> T {
        let mut context = Context {
            tree: &mut self.tree,
            config: &self.config,
            random: &mut self.random,
            log: &mut self.log,
        };
        action(self.policy.as_mut(), &mut context)
    }

    /// Asks where `worker` should expand next, and reserves that slot (the parent's expected child
    /// count goes up; under MCTS a draft chosen at the root is locked for this worker). A worker has at
    /// most one expansion in flight.
    pub fn next_expansion(&mut self, worker: WorkerId) -> Result<Next> {
        if let Some(ticket) = self.busy.get(&worker) {
            return Err(Error::WorkerBusy {
                worker,
                ticket: *ticket,
            });
        }
        let choice = self.with_policy(|policy, context| policy.choose(context, worker));
        match choice {
            Choice::Expand { parent } => {
                self.tree.reserve(parent);
                self.with_policy(|policy, context| policy.reserved(context, parent));
                let expansion = Expansion {
                    ticket: ExpansionId(self.next_ticket),
                    worker,
                    parent,
                    stage: self.tree.stage_for(parent),
                };
                self.next_ticket += 1;
                self.in_flight.insert(expansion.ticket, expansion);
                self.busy.insert(worker, expansion.ticket);
                Ok(Next::Expand(expansion))
            }
            Choice::Wait => Ok(Next::Wait),
            Choice::Exhausted => Ok(Next::Exhausted),
        }
    }

    fn check_outcome(&self, ticket: ExpansionId, outcome: &Outcome) -> Result<()> {
        let Some(metric) = outcome.metric() else {
            return Ok(());
        };
        if !metric.value.is_finite() {
            return Err(Error::NonFiniteMetric {
                ticket,
                value: metric.value,
            });
        }
        match (outcome, self.tree.direction_conflict(&metric)) {
            (Outcome::Valid { .. }, Some(expected)) => Err(Error::DirectionMismatch {
                ticket,
                expected,
                found: metric.direction,
            }),
            (Outcome::Valid { .. }, None) | (Outcome::Invalid { .. } | Outcome::Buggy, _) => Ok(()),
        }
    }

    /// Adds the node of a finished expansion, computes its reward and decides whether its trajectory
    /// continues or backpropagates. On error the ticket stays in flight.
    pub fn complete(&mut self, ticket: ExpansionId, result: NodeResult) -> Result<Completion> {
        let Some(expansion) = self.in_flight.get(&ticket).copied() else {
            return Err(Error::UnknownExpansion { ticket });
        };
        self.check_outcome(ticket, &result.outcome)?;
        self.in_flight.remove(&ticket);
        self.busy.remove(&expansion.worker);
        Ok(self.add(
            Some(expansion.worker),
            expansion.parent,
            result.plan,
            result.code_ref,
            result.outcome,
        ))
    }

    fn add(
        &mut self,
        worker: Option<WorkerId>,
        parent: Option<NodeId>,
        plan: String,
        code_ref: String,
        outcome: Outcome,
    ) -> Completion {
        let node = self
            .tree
            .insert_completed(parent, plan.clone(), code_ref.clone(), outcome);
        let decision = self.with_policy(|policy, context| policy.completed(context, worker, node));
        let added = self.tree.get(node);
        self.log.push(Record::Node(NodeRecord {
            id: node,
            parent,
            stage: added.stage,
            plan,
            code_ref,
            outcome,
        }));
        Completion {
            node,
            stage: added.stage,
            trajectory: match decision {
                Decision::Continue { from } => Trajectory::Continues { from },
                Decision::Backpropagated { reward } => Trajectory::Backpropagated { reward },
            },
            best_change: added.best_change,
            terminal: added.terminal,
        }
    }

    /// Gives a reserved slot back without adding a node (the proposal failed, the run was interrupted).
    /// Under MCTS this ends the worker's trajectory like ML-Master's rollback: the path from the parent
    /// gets its bookkeeping (draft unlocked, failure counts reset) without a reward.
    pub fn abandon(&mut self, ticket: ExpansionId) -> Result<()> {
        let Some(expansion) = self.in_flight.remove(&ticket) else {
            return Err(Error::UnknownExpansion { ticket });
        };
        self.busy.remove(&expansion.worker);
        self.tree.release(expansion.parent);
        self.with_policy(|policy, context| {
            policy.abandoned(context, Some(expansion.worker), expansion.parent);
        });
        self.log.push(Record::Abandoned {
            parent: expansion.parent,
        });
        Ok(())
    }

    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.tree.node(id)
    }

    /// Every node in completion (id) order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &Node> {
        self.tree.nodes().iter()
    }

    /// The best valid node so far.
    pub fn best_node(&self) -> Option<&Node> {
        self.tree.best()
    }

    /// UCT's exploration constant as the tree is now.
    pub fn exploration_constant(&self) -> f64 {
        self.config.exploration_constant(self.tree.len() + 1)
    }

    /// The expansions reserved and not yet completed or abandoned, by ticket.
    pub fn in_flight(&self) -> impl ExactSizeIterator<Item = &Expansion> {
        self.in_flight.values()
    }

    /// The node `worker`'s next request will expand (its trajectory goes on), if any.
    pub fn position(&self, worker: WorkerId) -> Option<NodeId> {
        self.policy.position(worker)
    }

    /// Checks the policy's caches against a recount of the tree.
    #[cfg(test)]
    pub(crate) fn audit(&self) -> Result<(), String> {
        self.policy.audit(&self.tree, &self.config)
    }

    /// The records logged since the last call, oldest first.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.log)
    }
}

#[cfg(test)]
mod tests;
