//! The journal file: schema, the one writer, and typed reads.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mlm_search::{Direction, ExecutionStatus, Metric, NodeId, Outcome, Record, Stage};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::integrity::{check_database, check_main_file, check_node_directories};
use crate::lock::RunLock;
use crate::records::{
    EnsembleMember, EnsembleRecord, EventRecord, LlmCallRecord, NodeEntry, RunRecord, RunStatus,
};

/// Bumped whenever the tables change: a writer upgrades an older journal, a newer one is refused rather than
/// misread.
const SCHEMA_VERSION: i64 = 4;

/// The `ensembles` table, as a fresh journal creates it and version 3's upgrade adds it.
macro_rules! ensembles_table {
    () => {
        "CREATE TABLE ensembles (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    members_json TEXT NOT NULL,
    metric REAL NOT NULL,
    lower_is_better INTEGER NOT NULL,
    submission_path TEXT,
    validation_message TEXT,
    test_score REAL
);
"
    };
}

/// The `reevaluations` table, as a fresh journal creates it and version 4's upgrade adds it.
macro_rules! reevaluations_table {
    () => {
        "CREATE TABLE reevaluations (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES nodes(id),
    seed INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    metric REAL,
    lower_is_better INTEGER,
    failure TEXT,
    execute_seconds REAL NOT NULL,
    CHECK ((metric IS NULL) <> (failure IS NULL))
);
"
    };
}

/// Version 1 kept a node's outcome as two flags (`buggy`, `valid`) and its execution status unchecked,
/// and neither a call's reasoning nor cached prompt tokens; version 2 keeps the outcome's name and both.
/// A writer upgrades a version-1 journal in place when it opens it.
const UPGRADE_FROM_VERSION_1: &str = "
ALTER TABLE nodes ADD COLUMN outcome TEXT NOT NULL DEFAULT 'buggy';
UPDATE nodes SET outcome = CASE WHEN buggy THEN 'buggy' WHEN valid THEN 'valid' ELSE 'invalid' END;
ALTER TABLE nodes DROP COLUMN buggy;
ALTER TABLE nodes DROP COLUMN valid;
ALTER TABLE nodes ADD COLUMN cached_prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE llm_calls ADD COLUMN reasoning TEXT;
ALTER TABLE llm_calls ADD COLUMN cached_prompt_tokens INTEGER NOT NULL DEFAULT 0;
PRAGMA user_version = 2;
";

/// Version 2 did not know where a node's out-of-fold and test predictions are, nor kept ensembles;
/// version 3 does. A writer upgrades a version-2 journal (and an upgraded version-1 one) in place.
const UPGRADE_FROM_VERSION_2: &str = concat!(
    "
ALTER TABLE nodes ADD COLUMN oof_path TEXT;
ALTER TABLE nodes ADD COLUMN test_predictions_path TEXT;
",
    ensembles_table!(),
    "PRAGMA user_version = 3;
"
);

/// Version 3 did not keep final selection's re-evaluations; version 4 does. A writer upgrades a version-3
/// journal (and an upgraded older one) in place.
const UPGRADE_FROM_VERSION_3: &str = concat!(
    reevaluations_table!(),
    "PRAGMA user_version = 4;
"
);

/// What a reader selects for the columns a journal before version 3 lacks.
const VERSION_2_OOF_PATH: &str = "NULL AS oof_path";
const VERSION_2_TEST_PREDICTIONS_PATH: &str = "NULL AS test_predictions_path";

/// How a reader selects a version-1 journal's outcome (a reader never upgrades a file).
const VERSION_1_OUTCOME: &str =
    "CASE WHEN buggy THEN 'buggy' WHEN valid THEN 'valid' ELSE 'invalid' END AS outcome";

/// What a reader selects for the columns a version-1 journal lacks: no cached tokens, no reasoning.
const VERSION_1_CACHED_PROMPT_TOKENS: &str = "0 AS cached_prompt_tokens";
const VERSION_1_REASONING: &str = "NULL AS reasoning";

const SCHEMA: &str = concat!(
    "
CREATE TABLE run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    task_id TEXT NOT NULL,
    task_dir TEXT NOT NULL,
    coder TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config_toml TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    elapsed_seconds REAL NOT NULL
);
CREATE TABLE nodes (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES nodes(id),
    stage TEXT NOT NULL,
    operator TEXT NOT NULL,
    plan TEXT NOT NULL,
    code TEXT NOT NULL,
    output TEXT NOT NULL,
    execution_status TEXT NOT NULL
        CHECK (execution_status IN ('ok', 'error', 'timeout', 'oom', 'killed', 'disk_limit')),
    exit_code INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('valid', 'invalid', 'buggy')),
    -- The outcome's metric (a valid node's, or what an invalid one reported) and its direction.
    metric REAL,
    lower_is_better INTEGER,
    validation_message TEXT,
    review_summary TEXT NOT NULL,
    submission_path TEXT,
    worker INTEGER NOT NULL,
    slot INTEGER,
    proposed_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    propose_seconds REAL NOT NULL,
    execute_seconds REAL NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    test_score REAL,
    -- The part of prompt_tokens read from the provider's prompt cache.
    cached_prompt_tokens INTEGER NOT NULL DEFAULT 0,
    -- Relative to the run directory: the script's out-of-fold and test predictions, when it wrote them.
    oof_path TEXT,
    test_predictions_path TEXT
);
-- Blends of nodes' predictions (greedy ensemble selection): members as [{\"node\": 3, \"weight\": 0.5}].
",
    ensembles_table!(),
    "-- Final selection: a candidate node's script re-run on folds drawn from another seed, with the score
-- it reported (metric, lower_is_better) or why it has none (failure).
",
    reevaluations_table!(),
    "CREATE TABLE search_records (
    sequence INTEGER PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE llm_calls (
    id INTEGER PRIMARY KEY,
    node_id INTEGER,
    purpose TEXT NOT NULL,
    model TEXT NOT NULL,
    request_json TEXT NOT NULL,
    response_json TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_seconds REAL NOT NULL,
    cost_usd REAL NOT NULL,
    created_at TEXT NOT NULL,
    -- The model's reasoning, when the reply carried any.
    reasoning TEXT,
    cached_prompt_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE events (
    sequence INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload_json TEXT NOT NULL
);
"
);

const NODE_COLUMNS: &str = "id, parent_id, stage, operator, plan, code, output, execution_status, exit_code, outcome, \
     metric, lower_is_better, validation_message, review_summary, submission_path, worker, slot, proposed_at, \
     finished_at, propose_seconds, execute_seconds, prompt_tokens, completion_tokens, cost_usd, test_score, \
     cached_prompt_tokens, oof_path, test_predictions_path";

const LLM_CALL_COLUMNS: &str =
    "node_id, purpose, model, request_json, response_json, prompt_tokens, \
     completion_tokens, latency_seconds, cost_usd, created_at, reasoning, cached_prompt_tokens";

/// An open journal. Only one process writes a run's journal at a time: a journal opened for writing holds
/// the run directory's lock until it is dropped.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    pub(crate) connection: Connection,
    /// The file's schema: [`SCHEMA_VERSION`], or an older one for a journal opened read-only.
    pub(crate) schema_version: i64,
    /// Held for as long as the journal lives, by writers only; dropping it releases the run.
    _run_lock: Option<RunLock>,
}

impl Journal {
    /// Creates a new journal holding `run`. Fails if the file already records a run, or at once with
    /// [`Error::Locked`] if another process holds the run directory.
    pub fn create(path: &Path, run: &RunRecord) -> Result<Journal> {
        let mut journal = Journal::connect(path, Access::ReadWrite, Some(RunLock::acquire(path)?))?;
        let database = |source| Error::Database {
            path: path.to_path_buf(),
            source,
        };
        let existing: i64 = journal
            .connection
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'run'",
                [],
                |row| row.get(0),
            )
            .map_err(&database)?;
        if existing == 0 {
            journal
                .connection
                .execute_batch(SCHEMA)
                .map_err(&database)?;
            journal
                .connection
                .pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(&database)?;
            journal.schema_version = SCHEMA_VERSION;
        }
        journal
            .connection
            .execute(
                "INSERT INTO run (id, task_id, task_dir, coder, seed, config_toml, created_at, status, elapsed_seconds)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    run.task_id,
                    run.task_dir,
                    run.coder,
                    run.seed as i64,
                    run.config_toml,
                    run.created_at.to_rfc3339(),
                    run.status.as_str(),
                    run.elapsed_seconds
                ],
            )
            .map_err(&database)?;
        Ok(journal)
    }

    /// Opens an existing journal for a resume or a report, holding the run directory's lock
    /// ([`Error::Locked`] at once if another process holds it). A damaged journal, or one that lost nodes
    /// whose directories exist, is refused rather than read as a shorter run.
    pub fn open(path: &Path) -> Result<Journal> {
        Journal::open_with(path, Access::ReadWrite)
    }

    /// Opens an existing journal that this connection can never change (the dashboard, reports). WAL lets it
    /// read while the run's own process writes.
    pub fn open_read_only(path: &Path) -> Result<Journal> {
        Journal::open_with(path, Access::ReadOnly)
    }

    fn open_with(path: &Path, access: Access) -> Result<Journal> {
        if !path.is_file() {
            return Err(Error::NoRun {
                path: path.to_path_buf(),
                path_parent: path
                    .parent()
                    .map(|parent| parent.display().to_string())
                    .unwrap_or_default(),
            });
        }
        // Before the first byte is read: what a writer checks must not change under it.
        let run_lock = match access {
            Access::ReadWrite => Some(RunLock::acquire(path)?),
            Access::ReadOnly => None,
        };
        check_main_file(path)?;
        // Checked through a reader: a writer's connection checkpoints the write-ahead log into the main file
        // when it closes, which would change a journal that is refused.
        let journal = Journal::connect(path, Access::ReadOnly, None)?;
        let version: i64 = journal
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(journal.database_error())?;
        if version == 0 {
            return Err(Error::Damaged {
                path: path.to_path_buf(),
                problem: "it holds no journal tables (schema version 0): the write-ahead log journal.sqlite-wal that held them was lost or cut short".to_string(),
            });
        }
        if !(1..=SCHEMA_VERSION).contains(&version) {
            return Err(Error::SchemaVersion {
                path: path.to_path_buf(),
                found: version,
                expected: SCHEMA_VERSION,
            });
        }
        journal.run()?;
        match access {
            Access::ReadWrite => {
                check_database(&journal.connection, path)?;
                check_node_directories(path, journal.node_count()?)?;
                drop(journal);
                let mut journal = Journal::connect(path, Access::ReadWrite, run_lock)?;
                let upgrade = match journal.schema_version {
                    1 => Some(format!(
                        "BEGIN; {UPGRADE_FROM_VERSION_1} {UPGRADE_FROM_VERSION_2} {UPGRADE_FROM_VERSION_3} COMMIT;"
                    )),
                    2 => Some(format!(
                        "BEGIN; {UPGRADE_FROM_VERSION_2} {UPGRADE_FROM_VERSION_3} COMMIT;"
                    )),
                    3 => Some(format!("BEGIN; {UPGRADE_FROM_VERSION_3} COMMIT;")),
                    _ => None,
                };
                if let Some(upgrade) = upgrade {
                    journal
                        .connection
                        .execute_batch(&upgrade)
                        .map_err(journal.database_error())?;
                    journal.schema_version = SCHEMA_VERSION;
                }
                Ok(journal)
            }
            Access::ReadOnly => Ok(journal),
        }
    }

    /// A connection of `access`; a writer's holds `run_lock`.
    fn connect(path: &Path, access: Access, run_lock: Option<RunLock>) -> Result<Journal> {
        let database = |source| Error::Database {
            path: path.to_path_buf(),
            source,
        };
        let connection = match access {
            Access::ReadWrite => {
                let connection = Connection::open(path).map_err(database)?;
                // WAL keeps readers (the dashboard) off the writer's back; NORMAL sync loses at most the
                // last transactions on power loss, never consistency, and a killed process loses nothing
                // committed.
                connection
                    .pragma_update(None, "journal_mode", "WAL")
                    .map_err(database)?;
                connection
                    .pragma_update(None, "synchronous", "NORMAL")
                    .map_err(database)?;
                connection
                    .pragma_update(None, "foreign_keys", "ON")
                    .map_err(database)?;
                connection
            }
            Access::ReadOnly => {
                let connection = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(database)?;
                connection
                    .pragma_update(None, "query_only", "ON")
                    .map_err(database)?;
                connection
            }
        };
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(database)?;
        let schema_version = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(database)?;
        Ok(Journal {
            path: path.to_path_buf(),
            connection,
            schema_version,
            _run_lock: run_lock,
        })
    }

    /// The sequence number of the last event (0 when there is none): a cheap way to notice news.
    pub fn last_event_sequence(&self) -> Result<i64> {
        self.connection
            .query_row("SELECT coalesce(max(sequence), 0) FROM events", [], |row| {
                row.get(0)
            })
            .map_err(self.database_error())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn database_error(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Database {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn corrupt(&self, problem: String) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            problem,
        }
    }

    pub fn run(&self) -> Result<RunRecord> {
        let row = self
            .connection
            .query_row(
                "SELECT task_id, task_dir, coder, seed, config_toml, created_at, status, elapsed_seconds FROM run",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, String>(6)?,
                        row.get::<_, f64>(7)?,
                    ))
                },
            )
            .optional()
            .map_err(self.database_error())?;
        let Some((
            task_id,
            task_dir,
            coder,
            seed,
            config_toml,
            created_at,
            status,
            elapsed_seconds,
        )) = row
        else {
            return Err(Error::NoRun {
                path: self.path.clone(),
                path_parent: self
                    .path
                    .parent()
                    .map(|parent| parent.display().to_string())
                    .unwrap_or_default(),
            });
        };
        Ok(RunRecord {
            task_id,
            task_dir,
            coder,
            seed: seed as u64,
            config_toml,
            created_at: self.timestamp(&created_at)?,
            status: RunStatus::parse(&status)
                .ok_or_else(|| self.corrupt(format!("unknown run status `{status}`")))?,
            elapsed_seconds,
        })
    }

    pub fn set_status(&self, status: RunStatus) -> Result<()> {
        self.connection
            .execute("UPDATE run SET status = ?1", params![status.as_str()])
            .map_err(self.database_error())?;
        Ok(())
    }

    /// Replaces the run's recorded configuration: a resume that extends the budget records the new one,
    /// which later resumes read.
    pub fn set_config_toml(&self, config_toml: &str) -> Result<()> {
        self.connection
            .execute("UPDATE run SET config_toml = ?1", params![config_toml])
            .map_err(self.database_error())?;
        Ok(())
    }

    /// Records the run's total wall-clock seconds so far (all sessions).
    pub fn set_elapsed_seconds(&self, seconds: f64) -> Result<()> {
        self.connection
            .execute("UPDATE run SET elapsed_seconds = ?1", params![seconds])
            .map_err(self.database_error())?;
        Ok(())
    }

    /// Stores a completed node together with the search records its completion produced, atomically.
    pub fn record_node(&mut self, node: &NodeEntry, records: &[Record]) -> Result<()> {
        let path = self.path.clone();
        let database = |source| Error::Database {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(database)?;
        transaction
            .execute(
                &format!(
                    "INSERT INTO nodes ({NODE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, \
                     ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"
                ),
                params![
                    node.id.0,
                    node.parent.map(|parent| parent.0),
                    Stage::name(node.stage),
                    node.operator,
                    node.plan,
                    node.code,
                    node.output,
                    node.execution_status.name(),
                    node.exit_code,
                    node.outcome.name(),
                    node.outcome.metric().map(|metric| metric.value),
                    node.outcome
                        .metric()
                        .map(|metric| metric.direction == Direction::LowerIsBetter),
                    node.validation_message,
                    node.review_summary,
                    node.submission_path,
                    node.worker,
                    node.slot,
                    node.proposed_at.to_rfc3339(),
                    node.finished_at.to_rfc3339(),
                    node.propose_seconds,
                    node.execute_seconds,
                    node.prompt_tokens as i64,
                    node.completion_tokens as i64,
                    node.cost_usd,
                    node.test_score,
                    node.cached_prompt_tokens as i64,
                    node.oof_path,
                    node.test_predictions_path,
                ],
            )
            .map_err(database)?;
        insert_records(&transaction, records).map_err(database)?;
        transaction.commit().map_err(database)
    }

    /// Stores search records that no node carries (a terminal revisit, an abandoned expansion).
    pub fn record_search_records(&mut self, records: &[Record]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let database = |source| Error::Database {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(database)?;
        insert_records(&transaction, records).map_err(database)?;
        transaction.commit().map_err(database)
    }

    /// Every search record in order: what [`mlm_search::Search::restore`] replays.
    pub fn search_records(&self) -> Result<Vec<Record>> {
        let mut statement = self
            .connection
            .prepare("SELECT record FROM search_records ORDER BY sequence")
            .map_err(self.database_error())?;
        let texts = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(self.database_error())?
            .collect::<Result<Vec<String>, _>>()
            .map_err(self.database_error())?;
        texts
            .iter()
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|error| self.corrupt(format!("search record: {error}")))
            })
            .collect()
    }

    pub fn nodes(&self) -> Result<Vec<NodeEntry>> {
        let mut statement = self
            .connection
            .prepare(&format!(
                "SELECT {} FROM nodes ORDER BY id",
                match self.schema_version {
                    1 => NODE_COLUMNS
                        .replacen("outcome", VERSION_1_OUTCOME, 1)
                        .replacen("cached_prompt_tokens", VERSION_1_CACHED_PROMPT_TOKENS, 1)
                        .replacen("oof_path", VERSION_2_OOF_PATH, 1)
                        .replacen("test_predictions_path", VERSION_2_TEST_PREDICTIONS_PATH, 1),
                    2 => NODE_COLUMNS
                        .replacen("oof_path", VERSION_2_OOF_PATH, 1)
                        .replacen("test_predictions_path", VERSION_2_TEST_PREDICTIONS_PATH, 1),
                    _ => NODE_COLUMNS.to_string(),
                }
            ))
            .map_err(self.database_error())?;
        let rows = statement
            .query_map([], raw_node)
            .map_err(self.database_error())?
            .collect::<Result<Vec<RawNode>, _>>()
            .map_err(self.database_error())?;
        rows.into_iter().map(|raw| self.node_entry(raw)).collect()
    }

    pub fn node_count(&self) -> Result<u32> {
        self.connection
            .query_row("SELECT count(*) FROM nodes", [], |row| row.get(0))
            .map_err(self.database_error())
    }

    /// Records the test score of a node, graded after the run for analysis.
    pub fn set_test_score(&self, node: NodeId, score: Option<f64>) -> Result<()> {
        self.connection
            .execute(
                "UPDATE nodes SET test_score = ?1 WHERE id = ?2",
                params![score, node.0],
            )
            .map_err(self.database_error())?;
        Ok(())
    }

    /// Stores an ensemble and returns its id.
    pub fn record_ensemble(&self, ensemble: &EnsembleRecord) -> Result<u32> {
        let members = serde_json::to_string(&ensemble.members)
            .map_err(|error| self.corrupt(format!("ensemble members: {error}")))?;
        self.connection
            .execute(
                "INSERT INTO ensembles (created_at, members_json, metric, lower_is_better, submission_path, \
                 validation_message, test_score) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    ensemble.created_at.to_rfc3339(),
                    members,
                    ensemble.metric.value,
                    ensemble.metric.direction == Direction::LowerIsBetter,
                    ensemble.submission_path,
                    ensemble.validation_message,
                    ensemble.test_score,
                ],
            )
            .map_err(self.database_error())?;
        Ok(self.connection.last_insert_rowid() as u32)
    }

    /// Records the test score of an ensemble, graded after the run for analysis.
    pub fn set_ensemble_test_score(&self, ensemble: u32, score: Option<f64>) -> Result<()> {
        self.connection
            .execute(
                "UPDATE ensembles SET test_score = ?1 WHERE id = ?2",
                params![score, ensemble],
            )
            .map_err(self.database_error())?;
        Ok(())
    }

    /// Every ensemble in the order it was recorded (none in a journal before version 3).
    pub fn ensembles(&self) -> Result<Vec<EnsembleRecord>> {
        if self.schema_version < 3 {
            return Ok(Vec::new());
        }
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, created_at, members_json, metric, lower_is_better, submission_path, \
                 validation_message, test_score FROM ensembles ORDER BY id",
            )
            .map_err(self.database_error())?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, f64>(3)?,
                    row.get::<_, bool>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, Option<String>>(6)?,
                    row.get::<_, Option<f64>>(7)?,
                ))
            })
            .map_err(self.database_error())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.database_error())?;
        rows.into_iter()
            .map(
                |(
                    id,
                    created_at,
                    members,
                    metric,
                    lower_is_better,
                    submission_path,
                    validation_message,
                    test_score,
                )| {
                    let members: Vec<EnsembleMember> = serde_json::from_str(&members)
                        .map_err(|error| self.corrupt(format!("ensemble {id}: {error}")))?;
                    Ok(EnsembleRecord {
                        id,
                        created_at: self.timestamp(&created_at)?,
                        members,
                        metric: Metric::new(
                            metric,
                            Direction::from_lower_is_better(lower_is_better),
                        ),
                        submission_path,
                        validation_message,
                        test_score,
                    })
                },
            )
            .collect()
    }

    pub fn record_llm_call(&self, call: &LlmCallRecord) -> Result<()> {
        self.connection
            .execute(
                &format!(
                    "INSERT INTO llm_calls ({LLM_CALL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
                     ?11, ?12)"
                ),
                params![
                    call.node.map(|node| node.0),
                    call.purpose,
                    call.model,
                    call.request_json,
                    call.response_json,
                    call.prompt_tokens as i64,
                    call.completion_tokens as i64,
                    call.latency_seconds,
                    call.cost_usd,
                    call.created_at.to_rfc3339(),
                    call.reasoning,
                    call.cached_prompt_tokens as i64,
                ],
            )
            .map_err(self.database_error())?;
        Ok(())
    }

    pub fn llm_calls(&self) -> Result<Vec<LlmCallRecord>> {
        let mut statement = self
            .connection
            .prepare(&format!(
                "SELECT {} FROM llm_calls ORDER BY id",
                match self.schema_version {
                    1 => LLM_CALL_COLUMNS
                        .replacen("reasoning", VERSION_1_REASONING, 1)
                        .replacen("cached_prompt_tokens", VERSION_1_CACHED_PROMPT_TOKENS, 1),
                    _ => LLM_CALL_COLUMNS.to_string(),
                }
            ))
            .map_err(self.database_error())?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, Option<u32>>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, f64>(7)?,
                    row.get::<_, f64>(8)?,
                    row.get::<_, String>(9)?,
                    row.get::<_, Option<String>>(10)?,
                    row.get::<_, i64>(11)?,
                ))
            })
            .map_err(self.database_error())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.database_error())?;
        rows.into_iter()
            .map(
                |(
                    node,
                    purpose,
                    model,
                    request_json,
                    response_json,
                    prompt,
                    completion,
                    latency,
                    cost,
                    created,
                    reasoning,
                    cached,
                )| {
                    Ok(LlmCallRecord {
                        node: node.map(NodeId),
                        purpose,
                        model,
                        request_json,
                        response_json,
                        prompt_tokens: prompt as u64,
                        cached_prompt_tokens: cached as u64,
                        completion_tokens: completion as u64,
                        latency_seconds: latency,
                        cost_usd: cost,
                        created_at: self.timestamp(&created)?,
                        reasoning,
                    })
                },
            )
            .collect()
    }

    /// Appends an event; returns its sequence number.
    pub fn record_event(&self, kind: &str, payload_json: &str) -> Result<i64> {
        self.connection
            .execute(
                "INSERT INTO events (at, kind, payload_json) VALUES (?1, ?2, ?3)",
                params![Utc::now().to_rfc3339(), kind, payload_json],
            )
            .map_err(self.database_error())?;
        Ok(self.connection.last_insert_rowid())
    }

    /// Events after `sequence` (0 for all), in order.
    pub fn events_after(&self, sequence: i64) -> Result<Vec<EventRecord>> {
        let mut statement = self
            .connection
            .prepare("SELECT sequence, at, kind, payload_json FROM events WHERE sequence > ?1 ORDER BY sequence")
            .map_err(self.database_error())?;
        let rows = statement
            .query_map(params![sequence], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(self.database_error())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.database_error())?;
        rows.into_iter()
            .map(|(sequence, at, kind, payload_json)| {
                Ok(EventRecord {
                    sequence,
                    at: self.timestamp(&at)?,
                    kind,
                    payload_json,
                })
            })
            .collect()
    }

    pub(crate) fn timestamp(&self, text: &str) -> Result<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|error| self.corrupt(format!("timestamp `{text}`: {error}")))
    }

    /// A node's outcome from its stored name, metric and direction.
    fn outcome(&self, raw: &RawNode) -> Result<Outcome> {
        let metric = match (raw.metric, raw.lower_is_better) {
            (Some(value), Some(lower_is_better)) => Some(Metric::new(
                value,
                Direction::from_lower_is_better(lower_is_better),
            )),
            (None, _) => None,
            (Some(_), None) => {
                return Err(self.corrupt(format!(
                    "node {}: a metric without its direction (lower_is_better is empty)",
                    raw.id
                )))
            }
        };
        match (raw.outcome.as_str(), metric) {
            ("valid", Some(metric)) => Ok(Outcome::Valid { metric }),
            ("invalid", metric) => Ok(Outcome::Invalid { metric }),
            ("buggy", _) => Ok(Outcome::Buggy),
            (other, _) => Err(self.corrupt(format!(
                "node {}: outcome `{other}` with metric {:?}",
                raw.id, raw.metric
            ))),
        }
    }

    fn node_entry(&self, raw: RawNode) -> Result<NodeEntry> {
        let outcome = self.outcome(&raw)?;
        Ok(NodeEntry {
            id: NodeId(raw.id),
            parent: raw.parent.map(NodeId),
            stage: parse_stage(&raw.stage)
                .ok_or_else(|| self.corrupt(format!("unknown stage `{}`", raw.stage)))?,
            operator: raw.operator,
            plan: raw.plan,
            code: raw.code,
            output: raw.output,
            execution_status: ExecutionStatus::from_name(&raw.execution_status).ok_or_else(
                || {
                    self.corrupt(format!(
                        "node {}: unknown execution status `{}`",
                        raw.id, raw.execution_status
                    ))
                },
            )?,
            exit_code: raw.exit_code,
            outcome,
            validation_message: raw.validation_message,
            review_summary: raw.review_summary,
            submission_path: raw.submission_path,
            worker: raw.worker,
            slot: raw.slot,
            proposed_at: self.timestamp(&raw.proposed_at)?,
            finished_at: self.timestamp(&raw.finished_at)?,
            propose_seconds: raw.propose_seconds,
            execute_seconds: raw.execute_seconds,
            prompt_tokens: raw.prompt_tokens as u64,
            cached_prompt_tokens: raw.cached_prompt_tokens as u64,
            completion_tokens: raw.completion_tokens as u64,
            cost_usd: raw.cost_usd,
            test_score: raw.test_score,
            oof_path: raw.oof_path,
            test_predictions_path: raw.test_predictions_path,
        })
    }
}

/// Whether a connection may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

fn insert_records(
    transaction: &rusqlite::Transaction<'_>,
    records: &[Record],
) -> rusqlite::Result<()> {
    let mut statement = transaction.prepare("INSERT INTO search_records (record) VALUES (?1)")?;
    for record in records {
        let text = serde_json::to_string(record)
            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
        statement.execute(params![text])?;
    }
    Ok(())
}

fn parse_stage(text: &str) -> Option<Stage> {
    [Stage::Draft, Stage::Debug, Stage::Improve]
        .into_iter()
        .find(|stage| stage.name() == text)
}

/// A node row before its text fields are parsed.
struct RawNode {
    id: u32,
    parent: Option<u32>,
    stage: String,
    operator: String,
    plan: String,
    code: String,
    output: String,
    execution_status: String,
    exit_code: Option<i32>,
    outcome: String,
    metric: Option<f64>,
    lower_is_better: Option<bool>,
    validation_message: Option<String>,
    review_summary: String,
    submission_path: Option<String>,
    worker: u32,
    slot: Option<u32>,
    proposed_at: String,
    finished_at: String,
    propose_seconds: f64,
    execute_seconds: f64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_usd: f64,
    test_score: Option<f64>,
    cached_prompt_tokens: i64,
    oof_path: Option<String>,
    test_predictions_path: Option<String>,
}

fn raw_node(row: &Row<'_>) -> rusqlite::Result<RawNode> {
    Ok(RawNode {
        id: row.get(0)?,
        parent: row.get(1)?,
        stage: row.get(2)?,
        operator: row.get(3)?,
        plan: row.get(4)?,
        code: row.get(5)?,
        output: row.get(6)?,
        execution_status: row.get(7)?,
        exit_code: row.get(8)?,
        outcome: row.get(9)?,
        metric: row.get(10)?,
        lower_is_better: row.get(11)?,
        validation_message: row.get(12)?,
        review_summary: row.get(13)?,
        submission_path: row.get(14)?,
        worker: row.get(15)?,
        slot: row.get(16)?,
        proposed_at: row.get(17)?,
        finished_at: row.get(18)?,
        propose_seconds: row.get(19)?,
        execute_seconds: row.get(20)?,
        prompt_tokens: row.get(21)?,
        completion_tokens: row.get(22)?,
        cost_usd: row.get(23)?,
        test_score: row.get(24)?,
        cached_prompt_tokens: row.get(25)?,
        oof_path: row.get(26)?,
        test_predictions_path: row.get(27)?,
    })
}
