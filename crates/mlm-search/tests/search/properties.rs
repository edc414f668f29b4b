//! Property tests: a seeded random environment decides each expansion's outcome, and several workers
//! interleave requests, completions and abandons in random order. After every operation the tree's
//! invariants are checked.

use std::collections::BTreeMap;

use mlm_search::{
    Direction, Expansion, Metric, Next, NodeId, NodeResult, Outcome, PolicyKind, Search,
    SearchConfig, WorkerId,
};
use proptest::prelude::*;

use crate::support::statistics;

/// The environment's own random source (SplitMix64), independent of the search's.
struct Environment {
    state: u64,
}

impl Environment {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// Buggy 30%, invalid 10%, valid 60% with a metric on a coarse grid (so that ties and steps
    /// without improvement happen).
    fn outcome(&mut self) -> Outcome {
        match self.below(10) {
            0..=2 => Outcome::Buggy,
            3 => Outcome::Invalid { metric: None },
            _ => Outcome::Valid {
                metric: Metric::new(self.below(20) as f64 / 20.0, Direction::HigherIsBetter),
            },
        }
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    config: SearchConfig,
    seed: u64,
    environment_seed: u64,
    workers: u64,
    operations: usize,
}

fn mcts_config() -> impl Strategy<Value = SearchConfig> {
    (
        1u32..6,
        1u32..4,
        1u32..4,
        1u32..4,
        0u32..4,
        0u32..4,
        20u32..200,
    )
        .prop_map(
            |(num_drafts, num_bugs, num_improves, max_improve_failure, back, extra, steps)| {
                SearchConfig {
                    num_drafts,
                    num_bugs,
                    num_improves,
                    max_improve_failure,
                    back_debug_depth: back,
                    max_debug_depth: back + extra,
                    steps,
                    ..SearchConfig::default()
                }
            },
        )
}

fn greedy_config() -> impl Strategy<Value = SearchConfig> {
    (1u32..6, 0u32..4, 0.0f64..=1.0).prop_map(|(num_drafts, depth, debug_prob)| SearchConfig {
        policy: PolicyKind::Greedy,
        num_drafts,
        greedy_max_debug_depth: depth,
        debug_prob,
        ..SearchConfig::default()
    })
}

fn scenario(config: impl Strategy<Value = SearchConfig>) -> impl Strategy<Value = Scenario> {
    (config, any::<u64>(), any::<u64>(), 1u64..6, 1usize..300).prop_map(
        |(config, seed, environment_seed, workers, operations)| Scenario {
            config,
            seed,
            environment_seed,
            workers,
            operations,
        },
    )
}

/// Runs the scenario, checking invariants after every operation.
fn simulate(scenario: &Scenario) -> Search {
    let mut search = Search::new(scenario.config.clone(), scenario.seed).unwrap();
    let mut environment = Environment {
        state: scenario.environment_seed,
    };
    let mut in_flight: BTreeMap<WorkerId, Expansion> = BTreeMap::new();
    for _ in 0..scenario.operations {
        let worker = WorkerId(environment.below(scenario.workers) as u32);
        match in_flight.remove(&worker) {
            Some(expansion) if environment.below(10) == 0 => {
                search.abandon(expansion.ticket).unwrap();
            }
            Some(expansion) => {
                let outcome = environment.outcome();
                let result = NodeResult {
                    plan: format!("plan {}", expansion.ticket),
                    code_ref: format!("code {}", expansion.ticket),
                    outcome,
                };
                search.complete(expansion.ticket, result).unwrap();
            }
            None => match search.next_expansion(worker).unwrap() {
                Next::Expand(expansion) => {
                    check_reservation(&search, &expansion);
                    in_flight.insert(worker, expansion);
                }
                refusal @ (Next::Wait | Next::Exhausted) => {
                    if scenario.config.policy == PolicyKind::Mcts {
                        check_refusal(&search, &refusal);
                    }
                }
            },
        }
        check_visits(&search);
        match scenario.config.policy {
            PolicyKind::Mcts => {
                check_mcts_limits(&search);
                check_locks(&search);
            }
            PolicyKind::Greedy => check_greedy_limits(&search),
        }
    }
    search
}

/// `visits = own backpropagations + Σ children's visits`; the root has no own backpropagations.
fn check_visits(search: &Search) {
    for node in search.nodes() {
        let children: u32 = node
            .children()
            .iter()
            .map(|child| search.node(*child).unwrap().visits())
            .sum();
        assert_eq!(
            node.visits(),
            node.own_backpropagations() + children,
            "visits of node {}",
            node.id()
        );
    }
    let root = search.tree().root();
    let drafts = |value: fn(&mlm_search::Node) -> i64| -> i64 {
        root.children()
            .iter()
            .map(|id| value(search.node(*id).unwrap()))
            .sum()
    };
    assert_eq!(
        i64::from(root.visits()),
        drafts(|node| i64::from(node.visits()))
    );
    assert_eq!(root.total_reward(), drafts(|node| node.total_reward()));
}

/// A slot is only reserved on a node that was not fully expanded.
fn check_reservation(search: &Search, expansion: &Expansion) {
    if search.config().policy != PolicyKind::Mcts {
        return;
    }
    if let Some(parent) = expansion.parent {
        let node = search.node(parent).unwrap();
        if !node.is_valid() {
            let valid_children = node
                .children()
                .iter()
                .filter(|child| search.node(**child).unwrap().is_valid())
                .count();
            assert_eq!(valid_children, 0, "node {parent} already has a fix");
        }
        assert!(!node.is_terminal(), "node {parent} is terminal");
    }
}

fn check_mcts_limits(search: &Search) {
    let config = search.config();
    assert!(search.tree().root().expected_child_count() <= config.num_drafts);
    for node in search.nodes() {
        if node.is_valid() {
            assert!(node.expected_child_count() <= config.num_improves);
        } else {
            assert!(node.expected_child_count() <= config.num_bugs);
            // Once a child is valid, the node is fully expanded: that child is the last one.
            let children = node.children();
            if let Some(first_valid) = children
                .iter()
                .position(|child| search.node(*child).unwrap().is_valid())
            {
                assert_eq!(first_valid, children.len() - 1, "children after a fix");
                assert_eq!(node.in_flight(), 0, "a child reserved after a fix");
            }
        }
    }
}

fn check_greedy_limits(search: &Search) {
    for node in search.nodes().filter(|node| !node.is_valid()) {
        assert!(
            node.expected_child_count() <= 1,
            "node {} debugged twice",
            node.id()
        );
    }
}

/// Could a selection expand this node? (The policy's rule, restated from public fields.)
fn is_open(search: &Search, id: NodeId) -> bool {
    let config = search.config();
    let node = search.node(id).unwrap();
    let has_valid_child = node
        .children()
        .iter()
        .any(|child| search.node(*child).unwrap().is_valid());
    let full = if node.is_valid() {
        node.expected_child_count() >= config.num_improves
    } else {
        has_valid_child || node.expected_child_count() >= config.num_bugs
    };
    let fix_found_below = !node.is_valid() && node.debug_succeeded();
    !(node.is_terminal() || full || fix_found_below)
}

fn subtree_is_open(search: &Search, id: NodeId) -> bool {
    is_open(search, id)
        || search
            .node(id)
            .unwrap()
            .children()
            .iter()
            .any(|child| subtree_is_open(search, *child))
}

/// A request is refused only when every open subtree belongs to another worker (`Wait`), or when no
/// node is open and nothing is in flight (`Exhausted`).
fn check_refusal(search: &Search, refusal: &Next) {
    let root = search.tree().root();
    assert!(root.expected_child_count() >= search.config().num_drafts);
    let open_drafts: Vec<NodeId> = root
        .children()
        .iter()
        .copied()
        .filter(|draft| subtree_is_open(search, *draft))
        .collect();
    match refusal {
        Next::Wait => {
            for draft in open_drafts {
                assert!(
                    search.node(draft).unwrap().lock_holder().is_some(),
                    "draft {draft} is open and free, yet the request waits"
                );
            }
        }
        Next::Exhausted => {
            assert_eq!(open_drafts, [], "exhausted with open nodes");
            assert_eq!(search.in_flight().len(), 0, "exhausted with work in flight");
        }
        Next::Expand(_) => {}
    }
}

/// Every expansion in flight and every continuing trajectory lies in a draft locked by its worker, and
/// every lock belongs to a worker with work in that draft.
fn check_locks(search: &Search) {
    let tree = search.tree();
    let mut owners: BTreeMap<NodeId, WorkerId> = BTreeMap::new();
    for expansion in search.in_flight() {
        if let Some(parent) = expansion.parent {
            let draft = tree.draft_of(parent).unwrap();
            assert_eq!(
                search.node(draft).unwrap().lock_holder(),
                Some(expansion.worker),
                "expansion {} of worker {} under draft {draft}",
                expansion.ticket,
                expansion.worker
            );
            owners.insert(draft, expansion.worker);
        }
    }
    for worker in (0..8).map(WorkerId) {
        if let Some(position) = search.position(worker) {
            let draft = tree.draft_of(position).unwrap();
            assert_eq!(search.node(draft).unwrap().lock_holder(), Some(worker));
            assert!(owners
                .insert(draft, worker)
                .is_none_or(|other| other == worker));
        }
    }
    for draft in tree.root().children() {
        let holder = search.node(*draft).unwrap().lock_holder();
        assert_eq!(holder, owners.get(draft).copied(), "lock of draft {draft}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mcts_invariants_hold_with_interleaved_workers(scenario in scenario(mcts_config())) {
        simulate(&scenario);
    }

    #[test]
    fn greedy_invariants_hold_with_interleaved_workers(scenario in scenario(greedy_config())) {
        simulate(&scenario);
    }

    #[test]
    fn identical_seeds_give_identical_trees(
        scenario in scenario(prop_oneof![mcts_config(), greedy_config()]),
    ) {
        let mut first = simulate(&scenario);
        let mut second = simulate(&scenario);
        prop_assert_eq!(first.tree(), second.tree());
        prop_assert_eq!(first.take_records(), second.take_records());
    }

    #[test]
    fn restore_reproduces_the_statistics(
        scenario in scenario(prop_oneof![mcts_config(), greedy_config()]),
    ) {
        let mut live = simulate(&scenario);
        let records = live.take_records();
        let restored = Search::restore(scenario.config.clone(), scenario.seed, records).unwrap();
        prop_assert_eq!(statistics(&restored), statistics(&live));
    }
}
