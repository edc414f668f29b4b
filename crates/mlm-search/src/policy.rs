//! The interface between the search and a policy, and the seeded random source policies draw from.
//!
//! The search owns the tree, the tickets and the record log; a policy decides where the next expansion
//! goes and what a completed node means for its trajectory. Policies are crate-private: the set of
//! policies is [`crate::PolicyKind`].

use std::fmt;

use crate::config::SearchConfig;
use crate::node::{NodeId, WorkerId};
use crate::search::Record;
use crate::tree::{PathUpdate, Tree};

/// What a policy may touch while it decides.
pub(crate) struct Context<'a> {
    pub tree: &'a mut Tree,
    pub config: &'a SearchConfig,
    pub random: &'a mut SplitMix64,
    pub log: &'a mut Vec<Record>,
}

impl Context<'_> {
    /// ML-Master's terminal re-selection: backpropagate 0 from a terminal node, and record it so a
    /// restore replays it.
    pub fn revisit_terminal(&mut self, node: NodeId) -> Option<WorkerId> {
        self.log.push(Record::TerminalRevisit { node });
        self.tree.backpropagate(node, PathUpdate::Reward(0))
    }

    /// C for the tree as it is now (t = nodes plus the virtual root).
    pub fn exploration_constant(&self) -> f64 {
        self.config.exploration_constant(self.tree.len() + 1)
    }
}

/// Where a policy sends a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Expand this node (`None`: the virtual root, i.e. draft).
    Expand { parent: Option<NodeId> },
    /// Nothing can be handed out now.
    Wait,
    /// Nothing can ever be handed out again.
    Exhausted,
}

/// What happened to a worker's trajectory when a node completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The worker goes on from `from`: the node itself, or its parent when the node lost to it.
    Continue { from: NodeId },
    /// The node's reward was backpropagated; the worker starts again from the root.
    Backpropagated { reward: i64 },
}

/// One search policy. `worker` is `None` while a search is being restored from records.
pub(crate) trait Policy: fmt::Debug + Send {
    /// Picks where `worker` expands next. It may lock drafts and revisit terminal nodes, but must not
    /// reserve: the search does that for an `Expand` choice and then calls [`Policy::reserved`].
    fn choose(&mut self, context: &mut Context<'_>, worker: WorkerId) -> Choice;

    /// A child slot of `parent` was reserved.
    fn reserved(&mut self, context: &mut Context<'_>, parent: Option<NodeId>);

    /// `node` was added to the tree: decide whether its trajectory goes on or backpropagates.
    fn completed(
        &mut self,
        context: &mut Context<'_>,
        worker: Option<WorkerId>,
        node: NodeId,
    ) -> Decision;

    /// A reserved child slot of `parent` was given back without a node.
    fn abandoned(
        &mut self,
        context: &mut Context<'_>,
        worker: Option<WorkerId>,
        parent: Option<NodeId>,
    );

    /// Replays a recorded terminal revisit (see [`Context::revisit_terminal`]).
    fn revisited(&mut self, context: &mut Context<'_>, node: NodeId);

    /// The node `worker` will continue from, if its trajectory is still going.
    fn position(&self, worker: WorkerId) -> Option<NodeId>;

    fn boxed_clone(&self) -> Box<dyn Policy>;

    /// Checks the policy's caches against a recount of the tree.
    #[cfg(test)]
    fn audit(&self, tree: &Tree, config: &SearchConfig) -> Result<(), String>;
}

/// SplitMix64: a tiny, fixed PRNG, so a seed means the same draws in every build and every version of
/// every dependency (a run's journal replays the same way years later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..bound (bound > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_fixed_and_in_range() {
        // Reference values of SplitMix64 seeded with 0.
        let mut random = SplitMix64::new(0);
        assert_eq!(random.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(random.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut random = SplitMix64::new(42);
        for _ in 0..1000 {
            let unit = random.next_unit();
            assert!((0.0..1.0).contains(&unit));
            assert!(random.below(7) < 7);
        }
    }
}
