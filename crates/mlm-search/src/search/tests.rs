//! The policies' caches (MCTS's open-node counts, greedy's debuggable leaves) against a recount, after
//! every operation of random interleaved runs, and after a restore.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{Expansion, Next, NodeResult, Search};
use crate::config::{PolicyKind, SearchConfig};
use crate::node::{Direction, Metric, Outcome, WorkerId};
use crate::policy::SplitMix64;

fn run(mut search: Search, seed: u64, operations: usize) -> Search {
    let mut environment = SplitMix64::new(seed.wrapping_add(1));
    let mut in_flight: BTreeMap<WorkerId, Expansion> = BTreeMap::new();
    for _ in 0..operations {
        let worker = WorkerId(environment.below(4) as u32);
        match in_flight.remove(&worker) {
            Some(expansion) if environment.below(10) == 0 => {
                search.abandon(expansion.ticket).unwrap()
            }
            Some(expansion) => {
                let outcome = match environment.below(10) {
                    0..=2 => Outcome::Buggy,
                    3 => Outcome::Invalid { metric: None },
                    _ => Outcome::Valid {
                        metric: Metric::new(environment.below(10) as f64, Direction::LowerIsBetter),
                    },
                };
                let result = NodeResult {
                    plan: String::new(),
                    code_ref: String::new(),
                    outcome,
                };
                search.complete(expansion.ticket, result).unwrap();
            }
            None => {
                if let Next::Expand(expansion) = search.next_expansion(worker).unwrap() {
                    in_flight.insert(worker, expansion);
                }
            }
        }
        if let Err(problem) = search.audit() {
            panic!("{problem}");
        }
    }
    search
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn policy_caches_match_a_recount(
        greedy in any::<bool>(),
        num_drafts in 1u32..4,
        num_bugs in 1u32..3,
        num_improves in 1u32..3,
        max_improve_failure in 1u32..3,
        back_debug_depth in 0u32..3,
        seed in any::<u64>(),
        operations in 1usize..400,
    ) {
        let config = SearchConfig {
            policy: if greedy { PolicyKind::Greedy } else { PolicyKind::Mcts },
            num_drafts,
            num_bugs,
            num_improves,
            max_improve_failure,
            back_debug_depth,
            max_debug_depth: back_debug_depth + 2,
            greedy_max_debug_depth: back_debug_depth,
            ..SearchConfig::default()
        };
        let mut live = run(Search::new(config.clone(), seed).unwrap(), seed, operations);
        let records = live.take_records();
        let restored = Search::restore(config.clone(), seed, records.clone()).unwrap();
        prop_assert_eq!(restored.audit(), Ok(()));
        // A resume under a changed configuration: nodes may become terminal after their children
        // were made. The search goes on consistently.
        let changed = SearchConfig {
            back_debug_depth: 0,
            max_debug_depth: 1,
            max_improve_failure: 1,
            ..config
        };
        let restored = Search::restore(changed, seed, records).unwrap();
        prop_assert_eq!(restored.audit(), Ok(()));
        run(restored, seed ^ 1, operations);
    }
}
