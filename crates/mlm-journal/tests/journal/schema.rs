//! A journal written by an earlier version (schema 1: a node's outcome as two flags, no reasoning and no
//! cached tokens; schema 2: no prediction files and no ensembles; schema 3: no re-evaluations) is read by
//! readers as it is and upgraded in place by a writer, with every node's outcome and every model call
//! kept.

use std::path::Path;

use mlm_journal::{
    EnsembleMember, EnsembleRecord, Journal, LlmCallRecord, NodeEntry, Reevaluated,
    ReevaluationRecord,
};
use mlm_search::{Direction, Metric, NodeId, Outcome};
use mlm_test_support::journal_rows::{node_entry, valid};
use rusqlite::Connection;

const VERSION_1: &str = "
CREATE TABLE run (id INTEGER PRIMARY KEY CHECK (id = 1), task_id TEXT NOT NULL, task_dir TEXT NOT NULL,
    coder TEXT NOT NULL, seed INTEGER NOT NULL, config_toml TEXT NOT NULL, created_at TEXT NOT NULL,
    status TEXT NOT NULL, elapsed_seconds REAL NOT NULL);
CREATE TABLE nodes (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES nodes(id), stage TEXT NOT NULL,
    operator TEXT NOT NULL, plan TEXT NOT NULL, code TEXT NOT NULL, output TEXT NOT NULL,
    execution_status TEXT NOT NULL, exit_code INTEGER, metric REAL, lower_is_better INTEGER,
    buggy INTEGER NOT NULL, valid INTEGER NOT NULL, validation_message TEXT, review_summary TEXT NOT NULL,
    submission_path TEXT, worker INTEGER NOT NULL, slot INTEGER, proposed_at TEXT NOT NULL,
    finished_at TEXT NOT NULL, propose_seconds REAL NOT NULL, execute_seconds REAL NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
    test_score REAL);
CREATE TABLE search_records (sequence INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE llm_calls (id INTEGER PRIMARY KEY, node_id INTEGER, purpose TEXT NOT NULL, model TEXT NOT NULL,
    request_json TEXT NOT NULL, response_json TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, latency_seconds REAL NOT NULL, cost_usd REAL NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE events (sequence INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
    payload_json TEXT NOT NULL);
INSERT INTO run VALUES (1, 'titanic', 'tasks/titanic', 'builtin', 0, '', '2026-11-01T00:00:00+00:00',
    'finished', 30.0);
INSERT INTO nodes VALUES
    (0, NULL, 'draft', 'builtin', 'p0', 'c0', 'o0', 'ok', 0, 0.25, 1, 0, 1, NULL, 'r0', NULL, 0, 0,
     '2026-11-01T00:00:01+00:00', '2026-11-01T00:00:02+00:00', 0.1, 1.0, 0, 0, 0.0, 0.3),
    (1, 0, 'improve', 'builtin', 'p1', 'c1', 'o1', 'ok', 0, 0.5, 1, 0, 0, 'missing column', 'r1', NULL,
     0, 0, '2026-11-01T00:00:03+00:00', '2026-11-01T00:00:04+00:00', 0.1, 1.0, 0, 0, 0.0, NULL),
    (2, 1, 'debug', 'builtin', 'p2', 'c2', 'o2', 'error', 1, NULL, 1, 1, 0, NULL, 'r2', NULL, 0, 0,
     '2026-11-01T00:00:05+00:00', '2026-11-01T00:00:06+00:00', 0.1, 1.0, 0, 0, 0.0, NULL);
INSERT INTO llm_calls VALUES (1, 0, 'draft', 'gpt', '{}', '{}', 100, 20, 1.5, 0.01,
    '2026-11-01T00:00:01+00:00');
PRAGMA user_version = 1;
";

fn version_1_journal(run_dir: &Path) -> std::path::PathBuf {
    let path = run_dir.join("journal.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch(VERSION_1)
        .unwrap();
    for node in 0..3 {
        std::fs::create_dir_all(run_dir.join("nodes").join(node.to_string())).unwrap();
    }
    path
}

fn outcomes(journal: &Journal) -> Vec<Outcome> {
    journal
        .nodes()
        .unwrap()
        .into_iter()
        .map(|node| node.outcome)
        .collect()
}

fn version_1_outcomes() -> Vec<Outcome> {
    vec![
        Outcome::Valid {
            metric: Metric::new(0.25, Direction::LowerIsBetter),
        },
        Outcome::Invalid {
            metric: Some(Metric::new(0.5, Direction::LowerIsBetter)),
        },
        Outcome::Buggy,
    ]
}

/// What a version-1 journal's call reads as: no reasoning, nothing cached.
fn assert_version_1_call(journal: &Journal) {
    let calls = journal.llm_calls().unwrap();
    assert_eq!(calls.len(), 1);
    let LlmCallRecord {
        prompt_tokens,
        cached_prompt_tokens,
        reasoning,
        ..
    } = &calls[0];
    assert_eq!(
        (*prompt_tokens, *cached_prompt_tokens, reasoning.as_deref()),
        (100, 0, None)
    );
}

fn schema_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[test]
fn a_reader_reads_a_version_1_journal_without_changing_it() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = version_1_journal(run_dir.path());
    let reader = Journal::open_read_only(&path).unwrap();
    assert_eq!(outcomes(&reader), version_1_outcomes());
    assert_eq!(reader.nodes().unwrap()[0].cached_prompt_tokens, 0);
    assert_version_1_call(&reader);
    drop(reader);
    assert_eq!(schema_version(&path), 1);
}

#[test]
fn a_writer_upgrades_a_version_1_journal_keeping_every_outcome() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = version_1_journal(run_dir.path());
    {
        let mut writer = Journal::open(&path).unwrap();
        assert_eq!(outcomes(&writer), version_1_outcomes());
        std::fs::create_dir_all(run_dir.path().join("nodes/3")).unwrap();
        writer
            .record_node(&node_entry(3, Some(0), valid(0.2)), &[])
            .unwrap();
    }
    assert_eq!(schema_version(&path), 4);
    let reopened = Journal::open(&path).unwrap();
    let mut expected = version_1_outcomes();
    expected.push(valid(0.2));
    assert_eq!(outcomes(&reopened), expected);
    assert_eq!(reopened.nodes().unwrap()[0].test_score, Some(0.3));
    assert_eq!(reopened.nodes().unwrap()[3].cached_prompt_tokens, 4);
    assert_version_1_call(&reopened);
}

#[test]
fn an_upgraded_version_1_journal_stores_reasoning_and_cached_tokens() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = version_1_journal(run_dir.path());
    let writer = Journal::open(&path).unwrap();
    let mut call = writer.llm_calls().unwrap().remove(0);
    call.reasoning = Some("Try gradient boosting next.".into());
    call.cached_prompt_tokens = 64;
    writer.record_llm_call(&call).unwrap();
    let stored = writer.llm_calls().unwrap().remove(1);
    assert_eq!(
        stored.reasoning.as_deref(),
        Some("Try gradient boosting next.")
    );
    assert_eq!(stored.cached_prompt_tokens, 64);
}

/// What version 2 added to version 1, as version 2's writer applied it.
const VERSION_1_TO_2: &str = "
ALTER TABLE nodes ADD COLUMN outcome TEXT NOT NULL DEFAULT 'buggy';
UPDATE nodes SET outcome = CASE WHEN buggy THEN 'buggy' WHEN valid THEN 'valid' ELSE 'invalid' END;
ALTER TABLE nodes DROP COLUMN buggy;
ALTER TABLE nodes DROP COLUMN valid;
ALTER TABLE nodes ADD COLUMN cached_prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE llm_calls ADD COLUMN reasoning TEXT;
ALTER TABLE llm_calls ADD COLUMN cached_prompt_tokens INTEGER NOT NULL DEFAULT 0;
PRAGMA user_version = 2;
";

fn version_2_journal(run_dir: &Path) -> std::path::PathBuf {
    let path = version_1_journal(run_dir);
    Connection::open(&path)
        .unwrap()
        .execute_batch(VERSION_1_TO_2)
        .unwrap();
    path
}

#[test]
fn a_reader_reads_a_version_2_journal_without_predictions_or_ensembles() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = version_2_journal(run_dir.path());
    let reader = Journal::open_read_only(&path).unwrap();
    assert_eq!(outcomes(&reader), version_1_outcomes());
    assert!(reader
        .nodes()
        .unwrap()
        .iter()
        .all(|node| node.oof_path.is_none()));
    assert!(reader.ensembles().unwrap().is_empty());
    drop(reader);
    assert_eq!(schema_version(&path), 2);
}

#[test]
fn a_writer_upgrades_a_version_2_journal_to_keep_predictions_and_ensembles() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = version_2_journal(run_dir.path());
    {
        let mut writer = Journal::open(&path).unwrap();
        std::fs::create_dir_all(run_dir.path().join("nodes/3")).unwrap();
        let node = NodeEntry {
            oof_path: Some("nodes/3/oof.csv".into()),
            test_predictions_path: Some("nodes/3/test_pred.csv".into()),
            ..node_entry(3, Some(0), valid(0.2))
        };
        writer.record_node(&node, &[]).unwrap();
        let ensemble = EnsembleRecord {
            id: 0,
            created_at: chrono::Utc::now(),
            members: vec![
                EnsembleMember {
                    node: NodeId(0),
                    weight: 0.75,
                },
                EnsembleMember {
                    node: NodeId(3),
                    weight: 0.25,
                },
            ],
            metric: Metric::new(0.19, Direction::LowerIsBetter),
            submission_path: Some("ensemble/submission.csv".into()),
            validation_message: None,
            test_score: None,
        };
        let id = writer.record_ensemble(&ensemble).unwrap();
        writer.set_ensemble_test_score(id, Some(0.21)).unwrap();
    }
    assert_eq!(schema_version(&path), 4);
    let reopened = Journal::open(&path).unwrap();
    let nodes = reopened.nodes().unwrap();
    assert_eq!(nodes[0].oof_path, None);
    assert_eq!(nodes[3].oof_path.as_deref(), Some("nodes/3/oof.csv"));
    assert_eq!(
        nodes[3].test_predictions_path.as_deref(),
        Some("nodes/3/test_pred.csv")
    );
    let ensembles = reopened.ensembles().unwrap();
    assert_eq!(ensembles.len(), 1);
    assert_eq!(ensembles[0].id, 1);
    assert_eq!(ensembles[0].members[0].weight, 0.75);
    assert_eq!(ensembles[0].members[1].node, NodeId(3));
    assert_eq!(ensembles[0].test_score, Some(0.21));
    assert_eq!(
        ensembles[0].metric,
        Metric::new(0.19, Direction::LowerIsBetter)
    );
}

/// What version 3 added to version 2, as version 3's writer applied it.
const VERSION_2_TO_3: &str = "
ALTER TABLE nodes ADD COLUMN oof_path TEXT;
ALTER TABLE nodes ADD COLUMN test_predictions_path TEXT;
CREATE TABLE ensembles (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, members_json TEXT NOT NULL,
    metric REAL NOT NULL, lower_is_better INTEGER NOT NULL, submission_path TEXT, validation_message TEXT,
    test_score REAL);
PRAGMA user_version = 3;
";

fn version_3_journal(run_dir: &Path) -> std::path::PathBuf {
    let path = version_2_journal(run_dir);
    Connection::open(&path)
        .unwrap()
        .execute_batch(VERSION_2_TO_3)
        .unwrap();
    path
}

#[test]
fn a_reader_reads_a_version_3_journal_without_reevaluations() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = version_3_journal(run_dir.path());
    let reader = Journal::open_read_only(&path).unwrap();
    assert_eq!(outcomes(&reader), version_1_outcomes());
    assert!(reader.reevaluations().unwrap().is_empty());
    drop(reader);
    assert_eq!(schema_version(&path), 3);
}

#[test]
fn a_writer_upgrades_a_version_3_journal_to_keep_reevaluations() {
    let run_dir = tempfile::tempdir().unwrap();
    let path = version_3_journal(run_dir.path());
    let scored = ReevaluationRecord {
        node: NodeId(0),
        seed: 1,
        created_at: chrono::Utc::now(),
        result: Reevaluated::Scored {
            metric: Metric::new(0.27, Direction::LowerIsBetter),
        },
        execute_seconds: 1.25,
    };
    let failed = ReevaluationRecord {
        seed: 2,
        result: Reevaluated::Failed {
            reason: "timeout".into(),
        },
        ..scored.clone()
    };
    {
        let writer = Journal::open(&path).unwrap();
        writer.record_reevaluation(&scored).unwrap();
        writer.record_reevaluation(&failed).unwrap();
    }
    assert_eq!(schema_version(&path), 4);
    let reopened = Journal::open_read_only(&path).unwrap();
    let stored = reopened.reevaluations().unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        (stored[0].node, stored[0].seed, &stored[0].result),
        (scored.node, 1, &scored.result)
    );
    assert_eq!(stored[0].execute_seconds, 1.25);
    assert_eq!(stored[1].result, failed.result);
    assert_eq!(outcomes(&reopened), version_1_outcomes());
}
