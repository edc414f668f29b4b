//! Rebuilding a search from its records.

use mlm_search::{
    Error, Next, NodeId, NodeRecord, Outcome, Record, Search, SearchConfig, Stage, WorkerId,
};

use crate::support::{expand, result, statistics, step, valid, FIRST};

fn scripted() -> Search {
    let mut search = Search::new(SearchConfig::default(), 3).unwrap();
    step(&mut search, FIRST, None, Stage::Draft, valid(0.5));
    step(
        &mut search,
        FIRST,
        Some(NodeId(0)),
        Stage::Improve,
        valid(0.6),
    );
    step(
        &mut search,
        FIRST,
        Some(NodeId(1)),
        Stage::Improve,
        Outcome::Buggy,
    );
    let abandoned = expand(&mut search, FIRST);
    search.abandon(abandoned.ticket).unwrap();
    step(&mut search, FIRST, None, Stage::Draft, Outcome::Buggy);
    step(
        &mut search,
        FIRST,
        Some(NodeId(3)),
        Stage::Debug,
        valid(0.7),
    );
    // A second worker is mid-trajectory, and a third has an expansion in flight.
    step(&mut search, WorkerId(1), None, Stage::Draft, valid(0.4));
    expand(&mut search, WorkerId(2));
    search
}

#[test]
fn restore_rebuilds_the_same_statistics() {
    let mut live = scripted();
    let records = live.take_records();
    let restored = Search::restore(SearchConfig::default(), 3, records).unwrap();
    assert_eq!(statistics(&restored), statistics(&live));
    assert_eq!(restored.best_node().map(|node| node.id()), Some(NodeId(4)));
}

#[test]
fn restore_drops_locks_trajectories_and_expansions_in_flight() {
    let mut live = scripted();
    assert_eq!(live.position(WorkerId(1)), Some(NodeId(5)));
    assert_eq!(live.in_flight().len(), 1);
    let records = live.take_records();
    let mut restored = Search::restore(SearchConfig::default(), 3, records).unwrap();
    assert_eq!(restored.in_flight().len(), 0);
    assert_eq!(restored.tree().in_flight(), 0);
    assert!(restored.nodes().all(|node| node.lock_holder().is_none()));
    assert_eq!(restored.position(WorkerId(1)), None);
    assert!(restored.take_records().is_empty());
    // Work goes on: the root still has room for two drafts.
    let Next::Expand(expansion) = restored.next_expansion(WorkerId(1)).unwrap() else {
        panic!("a restored search hands out work");
    };
    assert_eq!(expansion.parent, None);
    restored
        .complete(expansion.ticket, result(valid(0.1)))
        .unwrap();
}

#[test]
fn records_survive_json() {
    let mut live = scripted();
    let records = live.take_records();
    let text = serde_json::to_string(&records).unwrap();
    let read: Vec<Record> = serde_json::from_str(&text).unwrap();
    assert_eq!(read, records);
}

#[test]
fn restore_refuses_records_out_of_order() {
    let record = |id, parent: Option<u32>| {
        Record::Node(NodeRecord {
            id: NodeId(id),
            parent: parent.map(NodeId),
            stage: if parent.is_some() {
                Stage::Improve
            } else {
                Stage::Draft
            },
            plan: String::new(),
            code_ref: String::new(),
            outcome: valid(0.5),
        })
    };
    let config = SearchConfig::default;
    assert!(matches!(
        Search::restore(config(), 0, [record(1, None)]),
        Err(Error::Restore { index: 0, .. })
    ));
    assert_eq!(
        Search::restore(config(), 0, [record(0, None), record(1, Some(4))]).err(),
        Some(Error::RestoreUnknownNode {
            index: 1,
            node: NodeId(4)
        })
    );
    assert!(matches!(
        Search::restore(
            config(),
            0,
            [record(0, None), Record::TerminalRevisit { node: NodeId(0) }]
        ),
        Err(Error::Restore { index: 1, .. })
    ));
    let wrong_stage = Record::Node(NodeRecord {
        stage: Stage::Debug,
        ..match record(1, Some(0)) {
            Record::Node(node) => node,
            other => panic!("{other:?}"),
        }
    });
    assert!(matches!(
        Search::restore(config(), 0, [record(0, None), wrong_stage]),
        Err(Error::Restore { index: 1, .. })
    ));
}
