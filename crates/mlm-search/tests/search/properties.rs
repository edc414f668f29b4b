//! Property tests: a seeded random environment decides each expansion's outcome, and several workers
//! interleave requests, completions and abandons in random order. After every operation the tree's
//! invariants are checked.

use std::collections::BTreeMap;

use mlm_search::{
    Direction, Expansion, Metric, Next, NodeResult, Outcome, PolicyKind, Search, SearchConfig,
    WorkerId,
};
use proptest::prelude::*;

use mlm_test_support::tree_invariants::{check_refusal, check_reservation, check_tree_invariants};

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
        check_tree_invariants(&search);
    }
    search
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
