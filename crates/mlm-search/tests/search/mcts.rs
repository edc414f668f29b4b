//! ML-Master's policy, rule by rule, on small scripted runs.

use mlm_search::{
    AfterLoss, Direction, ExplorationSchedule, Metric, Next, NodeId, Outcome, Record, SearchConfig,
    Stage, Trajectory, WorkerId,
};

use crate::support::{continues, expand, node, result, reward, search, step, valid, FIRST};

const N: fn(u32) -> NodeId = NodeId;

#[test]
fn reproduces_ml_master_tree_shape_for_a_scripted_run() {
    // ML-Master walks on from a node that lost to its parent.
    let mut search = search(SearchConfig {
        after_loss: AfterLoss::Node,
        ..SearchConfig::default()
    });
    let buggy = Outcome::Buggy;
    // Draft 0, then an improve chain: one improvement, then three steps without one.
    assert!(continues(&step(
        &mut search,
        FIRST,
        None,
        Stage::Draft,
        valid(0.5)
    )));
    assert_eq!(node(&search, N(0)).lock_holder(), Some(FIRST));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(0)),
        Stage::Improve,
        valid(0.6)
    )));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(1)),
        Stage::Improve,
        valid(0.6)
    )));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(2)),
        Stage::Improve,
        valid(0.55)
    )));
    let last = step(&mut search, FIRST, Some(N(3)), Stage::Improve, valid(0.6));
    assert!(last.terminal);
    assert_eq!(reward(&last), Some(1));
    assert_eq!(node(&search, N(0)).lock_holder(), None);
    // Draft 1 is buggy and debugged once, successfully: it beats the best (0.6), so +2.
    assert!(continues(&step(
        &mut search,
        FIRST,
        None,
        Stage::Draft,
        buggy
    )));
    let fixed = step(&mut search, FIRST, Some(N(5)), Stage::Debug, valid(0.7));
    assert_eq!(reward(&fixed), Some(2));
    // Draft 2 stays buggy: debugged in place until debug depth 3, then backpropagates -1.
    assert!(continues(&step(
        &mut search,
        FIRST,
        None,
        Stage::Draft,
        buggy
    )));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(7)),
        Stage::Debug,
        buggy
    )));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(8)),
        Stage::Debug,
        buggy
    )));
    let given_up = step(&mut search, FIRST, Some(N(9)), Stage::Debug, buggy);
    assert_eq!((reward(&given_up), given_up.terminal), (Some(-1), false));
    // Draft 3 is invalid, fixed into a valid node that is not a new best: +1.
    let invalid = Outcome::Invalid { metric: None };
    assert!(continues(&step(
        &mut search,
        FIRST,
        None,
        Stage::Draft,
        invalid
    )));
    let fixed = step(&mut search, FIRST, Some(N(11)), Stage::Debug, valid(0.65));
    assert_eq!(reward(&fixed), Some(1));
    // Draft 4: a failed step, then an improvement over the local best (draft 4), then a bug.
    assert!(continues(&step(
        &mut search,
        FIRST,
        None,
        Stage::Draft,
        valid(0.4)
    )));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(13)),
        Stage::Improve,
        valid(0.3)
    )));
    assert_eq!(
        search.position(FIRST),
        Some(N(14)),
        "continues from the node it produced"
    );
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(14)),
        Stage::Improve,
        valid(0.45)
    )));
    assert_eq!(node(&search, N(15)).local_best(), Some(N(15)));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(15)),
        Stage::Improve,
        buggy
    )));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(16)),
        Stage::Debug,
        buggy
    )));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(17)),
        Stage::Debug,
        buggy
    )));
    assert_eq!(
        reward(&step(&mut search, FIRST, Some(N(18)), Stage::Debug, buggy)),
        Some(-1)
    );
    // The root is full. Draft 1 (reward 2) has the best UCT; it is buggy but its valid child makes it
    // fully expanded, so selection descends to that child and improves it.
    let expansion = expand(&mut search, FIRST);
    assert_eq!(
        (expansion.parent, expansion.stage),
        (Some(N(6)), Stage::Improve)
    );
    assert_eq!(node(&search, N(5)).lock_holder(), Some(FIRST));

    let parents: Vec<Option<u32>> = search
        .nodes()
        .map(|node| node.parent().map(|parent| parent.0))
        .collect();
    let expected_parents = [
        None,
        Some(0),
        Some(1),
        Some(2),
        Some(3),
        None,
        Some(5),
        None,
        Some(7),
        Some(8),
        Some(9),
        None,
        Some(11),
        None,
        Some(13),
        Some(14),
        Some(15),
        Some(16),
        Some(17),
        Some(18),
    ];
    assert_eq!(parents, expected_parents);
    let depths: Vec<u32> = search.nodes().map(|node| node.debug_depth()).collect();
    assert_eq!(
        depths,
        [0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3, 0, 1, 0, 0, 0, 0, 1, 2, 3]
    );
    let terminal: Vec<u32> = search
        .nodes()
        .filter(|node| node.is_terminal())
        .map(|node| node.id().0)
        .collect();
    assert_eq!(terminal, [4]);
    let root = search.tree().root();
    assert_eq!((root.visits(), root.total_reward()), (5, 2));
    let drafts: Vec<(u32, i64)> = root
        .children()
        .iter()
        .map(|id| {
            (
                node(&search, *id).visits(),
                node(&search, *id).total_reward(),
            )
        })
        .collect();
    assert_eq!(drafts, [(1, 1), (1, 2), (1, -1), (1, 1), (1, -1)]);
    assert_eq!(search.best_node().map(|node| node.id()), Some(N(6)));
}

#[test]
fn an_improve_chain_stops_after_max_improve_failure_steps_without_improvement() {
    let mut search = search(SearchConfig {
        after_loss: AfterLoss::Node,
        ..SearchConfig::default()
    });
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    // Gains below the threshold (1e-4) are failures, counted against the local best (the draft).
    let first = step(
        &mut search,
        FIRST,
        Some(N(0)),
        Stage::Improve,
        valid(0.50005),
    );
    assert!(continues(&first));
    assert_eq!(node(&search, N(0)).improve_failures(), 1);
    assert_eq!(node(&search, N(1)).local_best(), Some(N(0)));
    assert!(continues(&step(
        &mut search,
        FIRST,
        Some(N(1)),
        Stage::Improve,
        valid(0.2)
    )));
    assert_eq!(node(&search, N(0)).improve_failures(), 2);
    let third = step(&mut search, FIRST, Some(N(2)), Stage::Improve, valid(0.5));
    assert!(third.terminal);
    assert_eq!(third.trajectory, Trajectory::Backpropagated { reward: 1 });
    // Backpropagation resets the counts and unlocks the draft; the worker starts from the root.
    assert_eq!(node(&search, N(0)).improve_failures(), 0);
    assert_eq!(search.position(FIRST), None);
    assert_eq!(expand(&mut search, FIRST).parent, None);
}

fn lower(value: f64) -> Outcome {
    Outcome::Valid {
        metric: Metric::new(value, Direction::LowerIsBetter),
    }
}

#[test]
fn an_improve_worse_than_its_parent_sends_the_trajectory_back_to_the_parent() {
    // The run of issue 15 on an error metric: 8.70, then an improve that scored 9.43.
    let mut search = search(SearchConfig::default());
    step(&mut search, FIRST, None, Stage::Draft, lower(8.70));
    let lost = step(&mut search, FIRST, Some(N(0)), Stage::Improve, lower(9.43));
    assert_eq!(lost.trajectory, Trajectory::Continues { from: N(0) });
    assert_eq!(search.position(FIRST), Some(N(0)));
    // The loss still counts against the local best.
    assert_eq!(node(&search, N(0)).improve_failures(), 1);
    // The next improve is another child of the draft, and a gain continues from itself.
    let gained = step(&mut search, FIRST, Some(N(0)), Stage::Improve, lower(8.10));
    assert_eq!(gained.trajectory, Trajectory::Continues { from: N(2) });
    assert_eq!(node(&search, N(1)).children(), &[] as &[NodeId]);
}

#[test]
fn a_loss_under_a_parent_without_room_ends_the_trajectory() {
    let config = SearchConfig {
        num_improves: 2,
        ..SearchConfig::default()
    };
    let mut search = search(config);
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    let first = step(&mut search, FIRST, Some(N(0)), Stage::Improve, valid(0.4));
    assert_eq!(first.trajectory, Trajectory::Continues { from: N(0) });
    // The draft's second and last improve loses too: nothing is left to try from the draft.
    let second = step(&mut search, FIRST, Some(N(0)), Stage::Improve, valid(0.45));
    assert_eq!(second.trajectory, Trajectory::Backpropagated { reward: 1 });
    assert!(!second.terminal);
    assert_eq!(search.position(FIRST), None);
    assert_eq!(node(&search, N(0)).lock_holder(), None);
}

#[test]
fn a_tie_with_the_parent_is_not_a_loss() {
    let mut search = search(SearchConfig::default());
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    let same = step(&mut search, FIRST, Some(N(0)), Stage::Improve, valid(0.5));
    assert_eq!(same.trajectory, Trajectory::Continues { from: N(1) });
}

#[test]
fn a_debug_fix_that_scores_below_the_best_still_ends_its_trajectory() {
    let mut search = search(SearchConfig::default());
    step(&mut search, FIRST, None, Stage::Draft, valid(0.9));
    step(
        &mut search,
        FIRST,
        Some(N(0)),
        Stage::Improve,
        Outcome::Buggy,
    );
    // The worker went on debugging the buggy improve (not back to the draft): it needs fixing.
    assert_eq!(search.position(FIRST), Some(N(1)));
    let fixed = step(&mut search, FIRST, Some(N(1)), Stage::Debug, valid(0.2));
    assert_eq!(fixed.trajectory, Trajectory::Backpropagated { reward: 1 });
}

#[test]
fn an_improvement_of_exactly_the_threshold_counts() {
    let config = SearchConfig {
        metric_improvement_threshold: 0.25,
        ..SearchConfig::default()
    };
    let mut search = search(config);
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    step(&mut search, FIRST, Some(N(0)), Stage::Improve, valid(0.75));
    assert_eq!(node(&search, N(1)).local_best(), Some(N(1)));
    assert_eq!(node(&search, N(0)).improve_failures(), 0);
}

#[test]
fn a_metric_of_zero_is_a_metric() {
    // ML-Master's truthiness test would treat 0.0 as missing and backpropagate; here it is compared.
    let lower = |value| Outcome::Valid {
        metric: Metric::new(value, Direction::LowerIsBetter),
    };
    let mut search = search(SearchConfig::default());
    step(&mut search, FIRST, None, Stage::Draft, lower(0.0));
    let same = step(&mut search, FIRST, Some(N(0)), Stage::Improve, lower(0.0));
    assert!(continues(&same));
    assert_eq!(node(&search, N(0)).improve_failures(), 1);
}

#[test]
fn a_buggy_chain_backpropagates_from_back_debug_depth_and_ends_terminal_at_max_debug_depth() {
    let config = SearchConfig {
        num_drafts: 1,
        max_debug_depth: 5,
        ..SearchConfig::default()
    };
    let mut search = search(config);
    assert!(continues(&step(
        &mut search,
        FIRST,
        None,
        Stage::Draft,
        Outcome::Buggy
    )));
    for parent in 0..2 {
        let completion = step(
            &mut search,
            FIRST,
            Some(N(parent)),
            Stage::Debug,
            Outcome::Buggy,
        );
        assert!(continues(&completion));
    }
    let third = step(&mut search, FIRST, Some(N(2)), Stage::Debug, Outcome::Buggy);
    assert_eq!((reward(&third), third.terminal), (Some(-1), false));
    // Selection finds the chain's end again (every buggy node above it has its one debug child).
    let fourth = step(&mut search, FIRST, Some(N(3)), Stage::Debug, Outcome::Buggy);
    assert_eq!((reward(&fourth), fourth.terminal), (Some(-1), false));
    let fifth = step(&mut search, FIRST, Some(N(4)), Stage::Debug, Outcome::Buggy);
    assert_eq!((reward(&fifth), fifth.terminal), (Some(-1), true));
    assert_eq!(node(&search, N(5)).debug_depth(), 5);
    // Everything is terminal or fully expanded and nothing is in flight.
    assert_eq!(search.next_expansion(FIRST).unwrap(), Next::Exhausted);
}

#[test]
fn a_buggy_node_is_fully_expanded_once_a_child_is_valid_or_it_has_num_bugs_children() {
    let config = SearchConfig {
        num_drafts: 1,
        num_bugs: 3,
        back_debug_depth: 0,
        ..SearchConfig::default()
    };
    let mut search = search(config);
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
    let first = step(&mut search, FIRST, Some(N(0)), Stage::Debug, Outcome::Buggy);
    assert_eq!(reward(&first), Some(-1));
    let fixed = step(&mut search, FIRST, Some(N(0)), Stage::Debug, valid(0.5));
    assert_eq!(reward(&fixed), Some(1));
    assert!(node(&search, N(0)).debug_succeeded());
    // Two children of three allowed, but one is valid: selection descends to it instead.
    let expansion = expand(&mut search, FIRST);
    assert_eq!(
        (expansion.parent, expansion.stage),
        (Some(N(2)), Stage::Improve)
    );
    assert_eq!(node(&search, N(0)).expected_child_count(), 2);
}

#[test]
fn a_valid_node_gets_at_most_num_improves_children() {
    let config = SearchConfig {
        num_drafts: 1,
        max_improve_failure: 1,
        ..SearchConfig::default()
    };
    let mut search = search(config);
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    for _ in 0..3 {
        let completion = step(&mut search, FIRST, Some(N(0)), Stage::Improve, valid(0.5));
        assert!(completion.terminal);
    }
    assert_eq!(node(&search, N(0)).children().len(), 3);
    assert_eq!(search.next_expansion(FIRST).unwrap(), Next::Exhausted);
}

#[test]
fn children_in_flight_count_towards_the_limits() {
    let config = SearchConfig {
        num_drafts: 2,
        ..SearchConfig::default()
    };
    let mut search = search(config);
    assert_eq!(expand(&mut search, WorkerId(0)).parent, None);
    assert_eq!(expand(&mut search, WorkerId(1)).parent, None);
    assert_eq!(search.tree().root().expected_child_count(), 2);
    // The root is full and no draft has completed: nothing to hand out, but not exhausted.
    assert_eq!(search.next_expansion(WorkerId(2)).unwrap(), Next::Wait);
}

#[test]
fn a_locked_draft_is_not_handed_to_another_worker() {
    let config = SearchConfig {
        num_drafts: 2,
        max_improve_failure: 1,
        ..SearchConfig::default()
    };
    let mut search = search(config);
    let (first, second, third) = (WorkerId(0), WorkerId(1), WorkerId(2));
    let draft_a = expand(&mut search, first);
    let draft_b = expand(&mut search, second);
    search.complete(draft_a.ticket, result(valid(0.5))).unwrap();
    assert_eq!(node(&search, N(0)).lock_holder(), Some(first));
    assert_eq!(search.next_expansion(third).unwrap(), Next::Wait);
    search.complete(draft_b.ticket, result(valid(0.6))).unwrap();
    assert_eq!(node(&search, N(1)).lock_holder(), Some(second));
    assert_eq!(search.next_expansion(third).unwrap(), Next::Wait);
    // The first worker ends its trajectory: its draft is unlocked and the third worker may take it.
    let ended = step(&mut search, first, Some(N(0)), Stage::Improve, valid(0.5));
    assert!(ended.terminal);
    assert_eq!(node(&search, N(0)).lock_holder(), None);
    let taken = expand(&mut search, third);
    assert_eq!(taken.parent, Some(N(0)));
    assert_eq!(node(&search, N(0)).lock_holder(), Some(third));
    assert_eq!(node(&search, N(1)).lock_holder(), Some(second));
    assert_eq!(search.next_expansion(first).unwrap(), Next::Wait);
}

#[test]
fn a_terminal_node_selected_again_backpropagates_zero() {
    let config = SearchConfig {
        num_drafts: 2,
        num_improves: 1,
        max_improve_failure: 1,
        back_debug_depth: 1,
        exploration: ExplorationSchedule::Constant { value: 1.414 },
        ..SearchConfig::default()
    };
    let mut search = search(config);
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    let terminal = step(&mut search, FIRST, Some(N(0)), Stage::Improve, valid(0.5));
    assert_eq!((reward(&terminal), terminal.terminal), (Some(1), true));
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    assert_eq!(
        reward(&step(
            &mut search,
            FIRST,
            Some(N(2)),
            Stage::Debug,
            Outcome::Buggy
        )),
        Some(-1)
    );
    search.take_records();
    // Draft 0 (Q = 1) wins UCT but is full with a terminal child: each pass revisits it with reward 0
    // until draft 1's exploration term wins, after 5 revisits (C = 1.414, N = 7:
    // 1/6 + C·sqrt(ln 7 / 6) = 0.97193 < -1 + C·sqrt(ln 7) = 0.97247).
    let expansion = expand(&mut search, FIRST);
    assert_eq!(
        (expansion.parent, expansion.stage),
        (Some(N(3)), Stage::Debug)
    );
    let revisits = search
        .take_records()
        .iter()
        .filter(|record| **record == Record::TerminalRevisit { node: N(1) })
        .count();
    assert_eq!(revisits, 5);
    assert_eq!(
        (
            node(&search, N(1)).visits(),
            node(&search, N(1)).total_reward()
        ),
        (6, 1)
    );
    assert_eq!(node(&search, N(1)).own_backpropagations(), 6);
    let root = search.tree().root();
    assert_eq!((root.visits(), root.total_reward()), (7, 0));
}
