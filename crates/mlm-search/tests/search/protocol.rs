//! Rewards and the request/complete/abandon protocol under the MCTS policy.

use mlm_search::{
    BestChange, Direction, Error, ExpansionId, Metric, NodeId, Outcome, Record, SearchConfig, Stage,
};

use crate::support::{expand, node, result, reward, search, step, valid, FIRST};

const N: fn(u32) -> NodeId = NodeId;

#[test]
fn the_global_best_bonus_fires() {
    let mut search = search(SearchConfig::default());
    // The first valid node becomes the best but has no best to beat: +1.
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    let first = step(&mut search, FIRST, Some(N(0)), Stage::Debug, valid(0.5));
    assert_eq!(
        (reward(&first), first.best_change),
        (Some(1), BestChange::First)
    );
    // Beating it: +2.
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    let better = step(&mut search, FIRST, Some(N(2)), Stage::Debug, valid(0.9));
    assert_eq!(
        (reward(&better), better.best_change),
        (Some(2), BestChange::Improved)
    );
    // Not beating it: +1.
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    let worse = step(&mut search, FIRST, Some(N(4)), Stage::Debug, valid(0.8));
    assert_eq!(
        (reward(&worse), worse.best_change),
        (Some(1), BestChange::Unchanged)
    );
    assert_eq!(search.tree().root().total_reward(), 4);
    assert_eq!(node(&search, N(2)).total_reward(), 2);
}

#[test]
fn the_global_best_bonus_respects_lower_is_better() {
    let lower = |value| Outcome::Valid {
        metric: Metric::new(value, Direction::LowerIsBetter),
    };
    let mut search = search(SearchConfig::default());
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    step(&mut search, FIRST, Some(N(0)), Stage::Debug, lower(0.5));
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    let better = step(&mut search, FIRST, Some(N(2)), Stage::Debug, lower(0.3));
    assert_eq!(reward(&better), Some(2));
}

#[test]
fn an_invalid_node_is_debugged_scores_minus_one_and_is_never_the_best() {
    let config = SearchConfig {
        back_debug_depth: 0,
        ..SearchConfig::default()
    };
    let mut search = search(config);
    let invalid = Outcome::Invalid {
        metric: Some(Metric::new(0.99, Direction::HigherIsBetter)),
    };
    let completion = step(&mut search, FIRST, None, Stage::Draft, invalid);
    assert_eq!(reward(&completion), Some(-1));
    assert_eq!(search.best_node(), None);
    assert_eq!(
        node(&search, N(0)).metric().map(|metric| metric.value),
        Some(0.99)
    );
    // The next drafts fill the root; then the invalid draft gets a debug child.
    for _ in 0..4 {
        step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    }
    let expansion = expand(&mut search, FIRST);
    assert_eq!(expansion.stage, Stage::Debug);
}

#[test]
fn abandoning_releases_the_slot_and_ends_the_trajectory() {
    let mut search = search(SearchConfig::default());
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    let improve = expand(&mut search, FIRST);
    assert_eq!(node(&search, N(0)).in_flight(), 1);
    search.abandon(improve.ticket).unwrap();
    assert_eq!(node(&search, N(0)).in_flight(), 0);
    assert_eq!(node(&search, N(0)).lock_holder(), None);
    assert_eq!(node(&search, N(0)).visits(), 0, "an abandon adds no visit");
    assert_eq!(search.tree().in_flight(), 0);
    assert_eq!(expand(&mut search, FIRST).parent, None);
    assert!(search
        .take_records()
        .contains(&Record::Abandoned { parent: Some(N(0)) }));
}

#[test]
fn tickets_and_workers_are_checked() {
    let mut search = search(SearchConfig::default());
    let expansion = expand(&mut search, FIRST);
    assert!(matches!(
        search.next_expansion(FIRST),
        Err(Error::WorkerBusy { worker: FIRST, .. })
    ));
    let unknown = ExpansionId(99);
    assert_eq!(
        search.complete(unknown, result(Outcome::Buggy)),
        Err(Error::UnknownExpansion { ticket: unknown })
    );
    assert_eq!(
        search.abandon(unknown),
        Err(Error::UnknownExpansion { ticket: unknown })
    );
    assert!(matches!(
        search.complete(expansion.ticket, result(valid(f64::NAN))),
        Err(Error::NonFiniteMetric { .. })
    ));
    search
        .complete(expansion.ticket, result(valid(0.5)))
        .unwrap();
    assert_eq!(
        search.complete(expansion.ticket, result(valid(0.5))),
        Err(Error::UnknownExpansion {
            ticket: expansion.ticket
        })
    );
}

#[test]
fn a_metric_direction_mismatch_is_refused_and_the_ticket_stays_in_flight() {
    let mut search = search(SearchConfig::default());
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    let expansion = expand(&mut search, FIRST);
    let lower = Outcome::Valid {
        metric: Metric::new(0.1, Direction::LowerIsBetter),
    };
    assert_eq!(
        search.complete(expansion.ticket, result(lower)),
        Err(Error::DirectionMismatch {
            ticket: expansion.ticket,
            expected: Direction::HigherIsBetter,
            found: Direction::LowerIsBetter,
        })
    );
    assert_eq!(search.in_flight().len(), 1);
    search
        .complete(expansion.ticket, result(valid(0.7)))
        .unwrap();
}
