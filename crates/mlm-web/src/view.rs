//! What the page shows, read from a run directory: the run, node summaries for the tree and the plot,
//! one node's full detail with the model calls that produced it, and the report's bundle of all of it.
//! Every read opens the journal read-only.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use mlm_journal::{EventRecord, Journal, LlmCallRecord, NodeEntry};
use mlm_search::{Direction, ExecutionStatus, Metric, NodeId, Outcome, Stage};
use serde::Serialize;

use crate::error::{Error, Result};

/// How many recent events the page's activity list gets.
const RECENT_EVENTS: i64 = 60;

/// The run as the page's header, summary and report sections show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub run_dir: String,
    pub task_id: String,
    pub coder: String,
    pub seed: u64,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub elapsed_seconds: f64,
    /// `<run>/config.toml`, or the journal's copy when the file is gone.
    pub config_toml: String,
    /// `<run>/report.json` when the run has been graded.
    pub report: Option<serde_json::Value>,
    pub nodes: usize,
    pub valid_nodes: usize,
    pub buggy_nodes: usize,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub llm_calls: usize,
    /// Smaller metric values are better (taken from the nodes; unknown before the first valid node).
    pub lower_is_better: Option<bool>,
    /// The run's node: once graded, the one `report.json` names as selected (final selection may prefer
    /// one whose validation score is not the best), else the best valid node by validation metric.
    pub best_node: Option<NodeId>,
    pub best_metric: Option<f64>,
}

/// A node without its code and output: what the tree and the plot need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSummary {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    pub stage: Stage,
    pub operator: String,
    pub execution_status: ExecutionStatus,
    pub outcome: Outcome,
    pub test_score: Option<f64>,
    pub worker: u32,
    pub proposed_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub execute_seconds: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// The review's first line.
    pub summary: String,
}

/// One event of the run's stream, its payload parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// Everything the live page redraws from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub run: RunView,
    pub nodes: Vec<NodeSummary>,
    pub events: Vec<EventView>,
}

/// One node in full, with the model calls recorded for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeDetail {
    pub node: NodeEntry,
    pub calls: Vec<LlmCallRecord>,
}

/// What a report embeds: the snapshot plus every node's detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportData {
    pub snapshot: Snapshot,
    pub details: Vec<NodeDetail>,
}

/// Paths of a run directory (as DESIGN.md fixes them) that the viewer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunFiles {
    pub root: PathBuf,
}

impl RunFiles {
    pub fn new(root: &Path) -> Self {
        RunFiles {
            root: root.to_path_buf(),
        }
    }

    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.sqlite")
    }

    fn report(&self) -> PathBuf {
        self.root.join("report.json")
    }

    fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn open(&self) -> Result<Journal> {
        Ok(Journal::open_read_only(&self.journal())?)
    }

    /// Changes whenever anything the page shows may have changed; cheap to compute.
    pub fn fingerprint(&self) -> Result<String> {
        let journal = self.open()?;
        let run = journal.run()?;
        let report_time = std::fs::metadata(self.report())
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|duration| duration.as_millis());
        Ok(format!(
            "{} {} {} {} {:?}",
            journal.node_count()?,
            journal.last_event_sequence()?,
            run.status.as_str(),
            run.elapsed_seconds,
            report_time
        ))
    }

    pub fn snapshot(&self) -> Result<Snapshot> {
        let journal = self.open()?;
        let nodes = journal.nodes()?;
        let calls = journal.llm_calls()?;
        let last = journal.last_event_sequence()?;
        let events = journal
            .events_after((last - RECENT_EVENTS).max(0))?
            .into_iter()
            .map(event_view)
            .collect();
        Ok(Snapshot {
            run: self.run_view(&journal, &nodes, &calls)?,
            nodes: nodes.iter().map(summary).collect(),
            events,
        })
    }

    pub fn detail(&self, id: NodeId) -> Result<Option<NodeDetail>> {
        let journal = self.open()?;
        let Some(node) = journal.nodes()?.into_iter().find(|node| node.id == id) else {
            return Ok(None);
        };
        let calls = journal
            .llm_calls()?
            .into_iter()
            .filter(|call| call.node == Some(id))
            .collect();
        Ok(Some(NodeDetail { node, calls }))
    }

    pub fn report_data(&self) -> Result<ReportData> {
        let snapshot = self.snapshot()?;
        let journal = self.open()?;
        let calls = journal.llm_calls()?;
        let details = journal
            .nodes()?
            .into_iter()
            .map(|node| NodeDetail {
                calls: calls
                    .iter()
                    .filter(|call| call.node == Some(node.id))
                    .cloned()
                    .collect(),
                node,
            })
            .collect();
        Ok(ReportData { snapshot, details })
    }

    fn run_view(
        &self,
        journal: &Journal,
        nodes: &[NodeEntry],
        calls: &[LlmCallRecord],
    ) -> Result<RunView> {
        let run = journal.run()?;
        let config_toml = match std::fs::read_to_string(self.config()) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => run.config_toml.clone(),
            Err(source) => {
                return Err(Error::Read {
                    path: self.config(),
                    source,
                })
            }
        };
        let report = match std::fs::read_to_string(self.report()) {
            // A report being written is skipped until the next poll rather than shown half-parsed.
            Ok(text) => serde_json::from_str(&text).ok(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(Error::Read {
                    path: self.report(),
                    source,
                })
            }
        };
        let lower_is_better = nodes.iter().find_map(|node| {
            node.outcome
                .metric()
                .map(|metric| metric.direction == Direction::LowerIsBetter)
        });
        // The recorded calls are the exact account (they include calls no node kept); without any, the
        // nodes' own counts.
        let totals = if calls.is_empty() {
            nodes.iter().fold((0, 0, 0.0), |(p, c, d), node| {
                (
                    p + node.prompt_tokens,
                    c + node.completion_tokens,
                    d + node.cost_usd,
                )
            })
        } else {
            calls.iter().fold((0, 0, 0.0), |(p, c, d), call| {
                (
                    p + call.prompt_tokens,
                    c + call.completion_tokens,
                    d + call.cost_usd,
                )
            })
        };
        let selected = report
            .as_ref()
            .and_then(|report: &serde_json::Value| report["selected"].as_u64())
            .and_then(|id| nodes.iter().find(|node| u64::from(node.id.0) == id))
            .and_then(|node| {
                node.outcome
                    .valid_metric()
                    .map(|metric| (node.id, metric.value))
            });
        let best = selected.or_else(|| best_node(nodes));
        Ok(RunView {
            run_dir: self.root.display().to_string(),
            task_id: run.task_id,
            coder: run.coder,
            seed: run.seed,
            status: run.status.as_str().to_string(),
            created_at: run.created_at,
            elapsed_seconds: run.elapsed_seconds,
            config_toml,
            report,
            nodes: nodes.len(),
            valid_nodes: nodes.iter().filter(|node| node.outcome.is_valid()).count(),
            buggy_nodes: nodes.iter().filter(|node| node.outcome.is_buggy()).count(),
            prompt_tokens: totals.0,
            completion_tokens: totals.1,
            cost_usd: totals.2,
            llm_calls: calls.len(),
            lower_is_better,
            best_node: best.map(|(id, _)| id),
            best_metric: best.map(|(_, metric)| metric),
        })
    }
}

/// The best valid node with a metric, suspiciously perfect scores last; the earliest wins a tie, as in
/// the engine.
fn best_node(nodes: &[NodeEntry]) -> Option<(NodeId, f64)> {
    let mut best: Option<(NodeId, Metric)> = None;
    for node in nodes {
        let Some(metric) = node
            .outcome
            .valid_metric()
            .filter(|metric| metric.value.is_finite())
        else {
            continue;
        };
        if best.is_none_or(|(_, current)| metric.is_preferred_to(&current)) {
            best = Some((node.id, metric));
        }
    }
    best.map(|(node, metric)| (node, metric.value))
}

fn summary(node: &NodeEntry) -> NodeSummary {
    NodeSummary {
        id: node.id,
        parent: node.parent,
        stage: node.stage,
        operator: node.operator.clone(),
        execution_status: node.execution_status,
        outcome: node.outcome,
        test_score: node.test_score,
        worker: node.worker,
        proposed_at: node.proposed_at,
        finished_at: node.finished_at,
        execute_seconds: node.execute_seconds,
        prompt_tokens: node.prompt_tokens,
        completion_tokens: node.completion_tokens,
        cost_usd: node.cost_usd,
        summary: node
            .review_summary
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}

fn event_view(record: EventRecord) -> EventView {
    EventView {
        sequence: record.sequence,
        at: record.at,
        kind: record.kind,
        payload: serde_json::from_str(&record.payload_json)
            .unwrap_or(serde_json::Value::String(record.payload_json)),
    }
}
