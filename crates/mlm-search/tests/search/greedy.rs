//! AIDE's greedy policy on small scripted runs.

use mlm_search::{NodeId, Outcome, PolicyKind, SearchConfig, Stage, WorkerId};

use crate::support::{expand, reward, search, step, valid, FIRST};

fn greedy(debug_prob: f64, num_drafts: u32) -> SearchConfig {
    SearchConfig {
        policy: PolicyKind::Greedy,
        debug_prob,
        num_drafts,
        ..SearchConfig::default()
    }
}

#[test]
fn drafts_until_num_drafts_counting_drafts_in_flight() {
    let mut search = search(greedy(0.5, 2));
    let first = expand(&mut search, WorkerId(0));
    let second = expand(&mut search, WorkerId(1));
    assert_eq!((first.stage, second.stage), (Stage::Draft, Stage::Draft));
    search
        .complete(first.ticket, crate::support::result(valid(0.5)))
        .unwrap();
    // Two drafts exist or are in flight: the third worker improves the best node.
    let third = expand(&mut search, WorkerId(2));
    assert_eq!(
        (third.parent, third.stage),
        (Some(NodeId(0)), Stage::Improve)
    );
}

#[test]
fn improves_the_best_node_when_not_debugging() {
    let mut search = search(greedy(0.0, 2));
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    step(
        &mut search,
        FIRST,
        Some(NodeId(0)),
        Stage::Improve,
        valid(0.7),
    );
    step(
        &mut search,
        FIRST,
        Some(NodeId(2)),
        Stage::Improve,
        valid(0.6),
    );
    // The best is still node 2, and it may be improved again and again (no limit in AIDE).
    step(
        &mut search,
        FIRST,
        Some(NodeId(2)),
        Stage::Improve,
        valid(0.6),
    );
    assert_eq!(search.best_node().map(|node| node.id()), Some(NodeId(2)));
}

#[test]
fn debugs_a_random_buggy_leaf() {
    let mut search = search(greedy(1.0, 2));
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    let expansion = expand(&mut search, FIRST);
    assert_eq!(expansion.stage, Stage::Debug);
    assert!(expansion.parent == Some(NodeId(0)) || expansion.parent == Some(NodeId(1)));
    // The chosen leaf is no longer a leaf (its child is in flight): the next worker gets the other.
    let other = expand(&mut search, WorkerId(1));
    assert_eq!(other.stage, Stage::Debug);
    assert_ne!(other.parent, expansion.parent);
}

#[test]
fn drafts_again_when_nothing_works_and_no_leaf_is_shallow_enough() {
    let config = SearchConfig {
        greedy_max_debug_depth: 0,
        ..greedy(1.0, 1)
    };
    let mut search = search(config);
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    step(
        &mut search,
        FIRST,
        Some(NodeId(0)),
        Stage::Debug,
        Outcome::Buggy,
    );
    // The only leaf has debug depth 1 > 0, and no node is valid: draft again.
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    // Now something works: improve it (debug_prob 1, but no leaf qualifies).
    step(
        &mut search,
        FIRST,
        Some(NodeId(2)),
        Stage::Improve,
        valid(0.6),
    );
}

#[test]
fn every_completion_backpropagates_its_reward() {
    let mut search = search(greedy(0.5, 2));
    assert_eq!(
        reward(&step(
            &mut search,
            FIRST,
            None,
            Stage::Draft,
            Outcome::Buggy
        )),
        Some(-1)
    );
    assert_eq!(
        reward(&step(&mut search, FIRST, None, Stage::Draft, valid(0.5))),
        Some(1)
    );
    let root = search.tree().root();
    assert_eq!((root.visits(), root.total_reward()), (2, 0));
    assert!(search
        .nodes()
        .all(|node| !node.is_terminal() && node.lock_holder().is_none()));
}

#[test]
fn the_same_seed_makes_the_same_choices() {
    let run = |seed| {
        let mut search = mlm_search::Search::new(greedy(0.5, 3), seed).unwrap();
        let mut parents = Vec::new();
        for index in 0..40u32 {
            let expansion = expand(&mut search, FIRST);
            parents.push(expansion.parent);
            let outcome = if index % 3 == 0 {
                valid(f64::from(index % 7))
            } else {
                Outcome::Buggy
            };
            search
                .complete(expansion.ticket, crate::support::result(outcome))
                .unwrap();
        }
        parents
    };
    assert_eq!(run(11), run(11));
}
