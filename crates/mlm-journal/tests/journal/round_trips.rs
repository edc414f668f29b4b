//! Round trips through real journal files.

use chrono::Utc;
use mlm_journal::{Journal, LlmCallRecord, RunStatus};
use mlm_search::{Direction, Metric, NodeId, NodeRecord, Outcome, Record, Stage};
use mlm_test_support::journal_rows::{node_entry, run_record, valid};

fn record(id: u32, parent: Option<u32>) -> Record {
    Record::Node(NodeRecord {
        id: NodeId(id),
        parent: parent.map(NodeId),
        stage: if parent.is_some() {
            Stage::Improve
        } else {
            Stage::Draft
        },
        plan: format!("plan {id}"),
        code_ref: format!("nodes/{id}"),
        outcome: Outcome::Valid {
            metric: Metric::new(0.8, Direction::HigherIsBetter),
        },
    })
}

#[test]
fn nodes_and_records_round_trip_through_a_reopened_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    {
        let mut journal = Journal::create(&path, &run_record()).unwrap();
        journal
            .record_node(&node_entry(0, None, valid(0.8)), &[record(0, None)])
            .unwrap();
        journal
            .record_node(&node_entry(1, Some(0), valid(0.8)), &[record(1, Some(0))])
            .unwrap();
        journal
            .record_search_records(&[Record::Abandoned {
                parent: Some(NodeId(1)),
            }])
            .unwrap();
        journal.set_elapsed_seconds(12.5).unwrap();
        journal.set_status(RunStatus::Interrupted).unwrap();
        journal.set_test_score(NodeId(1), Some(0.79)).unwrap();
    }
    let journal = Journal::open(&path).unwrap();
    let nodes = journal.nodes().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[1].parent, Some(NodeId(0)));
    assert_eq!(nodes[1].test_score, Some(0.79));
    assert_eq!(nodes[0].plan, "plan 0");
    assert_eq!(journal.search_records().unwrap().len(), 3);
    let stored = journal.run().unwrap();
    assert_eq!(
        (stored.status, stored.elapsed_seconds, stored.seed),
        (RunStatus::Interrupted, 12.5, 7)
    );
}

#[test]
fn a_duplicate_node_is_rejected_and_its_records_are_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut journal = Journal::create(&path, &run_record()).unwrap();
    journal
        .record_node(&node_entry(0, None, valid(0.8)), &[record(0, None)])
        .unwrap();
    assert!(journal
        .record_node(&node_entry(0, None, valid(0.8)), &[record(0, None)])
        .is_err());
    assert_eq!(journal.search_records().unwrap().len(), 1);
}

#[test]
fn events_and_llm_calls_are_kept_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::create(&dir.path().join("journal.sqlite"), &run_record()).unwrap();
    let first = journal
        .record_event("node_started", "{\"node\":0}")
        .unwrap();
    journal
        .record_event("node_finished", "{\"node\":0}")
        .unwrap();
    let after_first = journal.events_after(first).unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].kind, "node_finished");
    journal
        .record_llm_call(&LlmCallRecord {
            node: Some(NodeId(0)),
            purpose: "draft".into(),
            model: "fake".into(),
            request_json: "{}".into(),
            response_json: "{}".into(),
            reasoning: Some("The target is skewed, so a log transform first.".into()),
            prompt_tokens: 5,
            cached_prompt_tokens: 3,
            completion_tokens: 6,
            latency_seconds: 0.2,
            cost_usd: 0.0,
            created_at: Utc::now(),
        })
        .unwrap();
    let call = &journal.llm_calls().unwrap()[0];
    assert_eq!(call.completion_tokens, 6);
    assert_eq!(call.cached_prompt_tokens, 3);
    assert_eq!(
        call.reasoning.as_deref(),
        Some("The target is skewed, so a log transform first.")
    );
}

#[test]
fn a_read_only_journal_reads_a_live_run_and_refuses_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut writer = Journal::create(&path, &run_record()).unwrap();
    let reader = Journal::open_read_only(&path).unwrap();
    assert_eq!(reader.last_event_sequence().unwrap(), 0);
    writer
        .record_node(&node_entry(0, None, valid(0.8)), &[record(0, None)])
        .unwrap();
    writer.record_event("node_finished", "{}").unwrap();
    assert_eq!(reader.nodes().unwrap().len(), 1);
    assert_eq!(reader.last_event_sequence().unwrap(), 1);
    assert!(reader.record_event("warning", "{}").is_err());
    assert!(reader.set_status(RunStatus::Failed).is_err());
    assert_eq!(writer.run().unwrap().status, RunStatus::Running);
}

#[test]
fn opening_a_missing_journal_says_how_to_start_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let error = Journal::open(&dir.path().join("journal.sqlite"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no run is recorded here") && error.contains("ml-master run"),
        "{error}"
    );
}
