//! Final selection: after the search, the best few valid nodes that are not suspiciously perfect are
//! re-evaluated on fresh folds (drawn like the run's, from the seeds after the run's), each script re-run
//! through the run's own executor in `<run>/selection/<node>/<seed>/`, and the run's node is the one
//! with the best mean over its validation score and its re-evaluations (`choice`). A node whose
//! validation score is best only because the run's folds flatter it loses to one that holds up.
//!
//! The search is given the time limit less a share (`[search] reselect_share`) so that the
//! re-evaluations fit; fewer candidates are re-evaluated when their measured run times would not fit in
//! what is left. Each re-evaluation is journaled as it finishes, and a resumed run re-runs none that
//! already scored. It owns none of the search: it reads the journal the engine hands back.

mod choice;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use mlm_coder::{ExecutionStatus, FoldDesign};
use mlm_engine::{CancelFlag, Event, Execution, ExecutionJob, Executor, ExecutorError, RunLayout};
use mlm_journal::{Journal, Reevaluated, ReevaluationRecord};
use mlm_search::{Direction, Metric, NodeId};
use serde::Serialize;
use tokio::sync::mpsc;

pub use choice::{CandidateReport, ReevaluationReport};

use crate::adapters::SandboxExecutor;
use crate::error::{Error, Result};
use crate::folds::{draw_folds, write_folds};
use choice::{candidates_that_fit, pick, reason, ESTIMATE_MARGIN};

/// `[search] reselect_candidates` when unset.
const DEFAULT_CANDIDATES: u32 = 3;
/// `[search] reselect_evaluations` when unset.
const DEFAULT_EVALUATIONS: u32 = 2;
/// `[search] reselect_share` when unset.
const DEFAULT_SHARE: f64 = 0.10;
/// How many characters from the end of a failed re-evaluation's output its reason quotes.
const FAILURE_OUTPUT_CHARACTERS: usize = 200;

/// Whether and how the run re-evaluates its best nodes at the end (`[search] reselect_…`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reselection {
    /// The best node by validation score is the run's (`reselect_candidates` 0 or 1, or
    /// `reselect_evaluations` 0).
    Off,
    On {
        /// The best valid, unsuspicious nodes re-evaluated.
        candidates: u32,
        /// Fresh fold draws per candidate: seeds seed + 1 to seed + evaluations.
        evaluations: u32,
        /// The share of the time limit kept for the re-evaluations, from 0 up to 1.
        share: f64,
    },
}

impl Reselection {
    /// From `[search]`'s keys, each defaulted; a share outside [0, 1) is refused.
    pub fn resolve(
        candidates: Option<u32>,
        evaluations: Option<u32>,
        share: Option<f64>,
    ) -> Result<Reselection> {
        let share = share.unwrap_or(DEFAULT_SHARE);
        if !(0.0..1.0).contains(&share) {
            return Err(Error::Invalid(format!(
                "[search] reselect_share = {share}: not a share of the time limit\nhint: give a number from 0 up to (not including) 1, such as 0.1"
            )));
        }
        match (
            candidates.unwrap_or(DEFAULT_CANDIDATES),
            evaluations.unwrap_or(DEFAULT_EVALUATIONS),
        ) {
            (0 | 1, _) | (_, 0) => Ok(Reselection::Off),
            (candidates, evaluations) => Ok(Reselection::On {
                candidates,
                evaluations,
                share,
            }),
        }
    }

    /// The time limit the search gets: the run's, less the share kept for the re-evaluations.
    pub fn search_time_limit(&self, time_limit: Duration) -> Duration {
        match self {
            Reselection::Off => time_limit,
            Reselection::On { share, .. } => time_limit.mul_f64(1.0 - share),
        }
    }
}

/// `report.json`'s `selection`: the candidates with their scores, the node chosen, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectionReport {
    /// Best validation score first; empty when no re-evaluation ran (`reason` says why).
    pub candidates: Vec<CandidateReport>,
    /// The node whose submission is the run's (unless the ensemble's is).
    pub selected: NodeId,
    /// One line, e.g. "node 7: best mean 0.8412 over 3 fold draws (node 4 had the best single score
    /// 0.8431, mean 0.8388)".
    pub reason: String,
}

/// Where fresh folds are drawn from: the run's train.csv and the design its own folds were drawn with.
#[derive(Debug, Clone)]
pub struct FoldSource {
    pub train_csv: PathBuf,
    pub design: FoldDesign,
}

/// Final selection over a finished run.
pub struct FinalSelection<'a> {
    pub layout: &'a RunLayout,
    /// Exclusive, so that the selection can be sent between threads while it awaits its scripts.
    pub journal: &'a mut Journal,
    /// The run's executor; each fold draw gets a copy that hands the script those folds instead.
    pub executor: &'a SandboxExecutor,
    /// `None` when the run has no shared folds (no train.csv): there is nothing fresh to draw.
    pub folds: Option<FoldSource>,
    pub seed: u64,
    pub candidates: u32,
    pub evaluations: u32,
    pub node_timeout: Duration,
    /// What is left of the run's time limit.
    pub time_left: Duration,
    /// Set when the user interrupts: running re-evaluations are killed.
    pub cancel: CancelFlag,
    /// The front end's events: each re-evaluation is announced as it starts.
    pub events: &'a mpsc::UnboundedSender<Event>,
}

/// A candidate as the journal has it.
struct Candidate {
    node: NodeId,
    metric: Metric,
    code: String,
    execute_seconds: f64,
}

impl FinalSelection<'_> {
    /// Re-evaluates the candidates and picks the run's node; `None` when the run has no valid,
    /// unsuspicious node to select.
    pub async fn run(mut self) -> Result<Option<SelectionReport>> {
        let mut candidates: Vec<Candidate> = Vec::new();
        for node in self.journal.nodes()? {
            if let Some(metric) = node
                .outcome
                .valid_metric()
                .filter(|metric| metric.suspicion().is_none())
            {
                candidates.push(Candidate {
                    node: node.id,
                    metric,
                    code: node.code,
                    execute_seconds: node.execute_seconds,
                });
            }
        }
        // Stable: equal scores keep the order the nodes were made in.
        candidates.sort_by(|left, right| {
            match (
                left.metric.is_better_than(&right.metric),
                right.metric.is_better_than(&left.metric),
            ) {
                (true, _) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                (false, false) => std::cmp::Ordering::Equal,
            }
        });
        candidates.truncate(self.candidates as usize);
        let Some((best, best_metric)) = candidates
            .first()
            .map(|candidate| (candidate.node, candidate.metric))
        else {
            return Ok(None);
        };
        let kept = |why: String| {
            Ok(Some(SelectionReport {
                candidates: Vec::new(),
                selected: best,
                reason: format!(
                    "kept node {best}, the best validation score {:.4}: {why}",
                    best_metric.value
                ),
            }))
        };
        if candidates.len() < 2 {
            return kept("it is the only valid candidate".to_string());
        }
        let Some(folds) = &self.folds else {
            return kept(
                "the run has no shared folds (no train.csv), so there are no fresh ones to draw"
                    .to_string(),
            );
        };
        match &folds.design {
            FoldDesign::TimeOrdered { order_column } => {
                return kept(format!(
                    "the run's folds are blocks in the order of `{order_column}`, which split train.csv from test.csv, and every seed draws the same blocks, so there are no fresh folds to re-evaluate on"
                ));
            }
            FoldDesign::Stratified { .. } | FoldDesign::Grouped { .. } | FoldDesign::Plain => {}
        }
        let seeds: Vec<u64> = (1..=u64::from(self.evaluations))
            .map(|offset| self.seed.wrapping_add(offset))
            .collect();
        let mut results: HashMap<(NodeId, u64), Reevaluated> = HashMap::new();
        for record in self.journal.reevaluations()? {
            match record.result {
                Reevaluated::Scored { .. } => {
                    results.insert((record.node, record.seed), record.result);
                }
                // Tried again: a failure may have been the time limit's.
                Reevaluated::Failed { .. } => {}
            }
        }
        let estimate = |candidate: &Candidate| {
            (candidate.execute_seconds * ESTIMATE_MARGIN).min(self.node_timeout.as_secs_f64())
        };
        let pending: Vec<Vec<f64>> = candidates
            .iter()
            .map(|candidate| {
                seeds
                    .iter()
                    .filter(|seed| !results.contains_key(&(candidate.node, **seed)))
                    .map(|_| estimate(candidate))
                    .collect()
            })
            .collect();
        let slots = self.executor.slots.len();
        let fitting = candidates_that_fit(&pending, slots, self.time_left.as_secs_f64());
        if fitting < 2 {
            let needed: f64 = pending[..2].iter().flatten().sum::<f64>() / slots.max(1) as f64;
            return kept(format!(
                "re-evaluating the best two candidates would take about {needed:.0} s and {:.0} s are left",
                self.time_left.as_secs_f64()
            ));
        }
        candidates.truncate(fitting);
        let directory = self.layout.root.join("selection");
        let mut draws: Vec<(u64, Arc<SandboxExecutor>)> = Vec::new();
        for seed in &seeds {
            let folds_file = directory.join(format!("folds-{seed}.csv"));
            let drawn = std::fs::create_dir_all(&directory)
                .map_err(Error::io(&directory, "cannot create"))
                .and_then(|()| draw_folds(&folds.train_csv, &folds.design, *seed))
                .and_then(|drawn| write_folds(&folds_file, &drawn));
            if let Err(error) = drawn {
                return kept(format!("cannot draw fresh folds: {error}"));
            }
            let executor = SandboxExecutor {
                folds_file: Some(folds_file),
                ..self.executor.clone()
            };
            draws.push((*seed, Arc::new(executor)));
        }
        let jobs: VecDeque<Job<'_>> = candidates
            .iter()
            .flat_map(|candidate| {
                draws.iter().map(move |(seed, executor)| Job {
                    candidate,
                    seed: *seed,
                    executor: executor.clone(),
                })
            })
            .filter(|job| !results.contains_key(&(job.candidate.node, job.seed)))
            .collect();
        self.reevaluate(jobs, &directory, &mut results).await?;
        let direction = best_metric.direction;
        let reports: Vec<CandidateReport> = candidates
            .iter()
            .map(|candidate| {
                let reevaluations = seeds
                    .iter()
                    .map(|seed| ReevaluationReport {
                        seed: *seed,
                        result: results.get(&(candidate.node, *seed)).cloned().unwrap_or(
                            Reevaluated::Failed {
                                reason: "not run: the time limit was reached".to_string(),
                            },
                        ),
                    })
                    .collect();
                CandidateReport::new(candidate.node, candidate.metric.value, reevaluations)
            })
            .collect();
        let picked = pick(&reports, direction);
        Ok(Some(SelectionReport {
            selected: reports[picked.unwrap_or(0)].node,
            reason: reason(&reports, picked),
            candidates: reports,
        }))
    }

    /// Runs `jobs` in order on the executor's slots, each in `<directory>/<node>/<seed>/` with a
    /// timeout that ends it within the time left, and journals each result as it comes. A job with no
    /// time left, or after an interruption, is not started.
    async fn reevaluate(
        &mut self,
        mut jobs: VecDeque<Job<'_>>,
        directory: &Path,
        results: &mut HashMap<(NodeId, u64), Reevaluated>,
    ) -> Result<()> {
        let deadline = Instant::now() + self.time_left;
        let mut free_slots: Vec<usize> = (0..self.executor.slots.len()).rev().collect();
        let mut running = tokio::task::JoinSet::new();
        loop {
            let time_left = deadline.saturating_duration_since(Instant::now());
            if time_left.is_zero() || self.cancel.load(Ordering::SeqCst) {
                jobs.clear();
            }
            while let Some(slot) = free_slots.pop() {
                let Some(job) = jobs.pop_front() else {
                    free_slots.push(slot);
                    break;
                };
                let node_dir = directory
                    .join(job.candidate.node.0.to_string())
                    .join(job.seed.to_string());
                if node_dir.exists() {
                    std::fs::remove_dir_all(&node_dir).map_err(Error::io(
                        &node_dir,
                        "cannot clear an earlier re-evaluation",
                    ))?;
                }
                let execution = ExecutionJob {
                    node_dir,
                    code: job.candidate.code.clone(),
                    slot,
                    timeout: self.node_timeout.min(time_left),
                    cancel: self.cancel.clone(),
                };
                let (node, seed, direction) =
                    (job.candidate.node, job.seed, job.candidate.metric.direction);
                let executor = job.executor;
                // A front end that stopped listening does not stop the selection.
                let _ = self.events.send(Event::Reevaluating { node, seed });
                running.spawn(async move {
                    let execution = executor.execute(execution).await;
                    (node, seed, slot, direction, execution)
                });
            }
            let Some(joined) = running.join_next().await else {
                return Ok(());
            };
            let (node, seed, slot, direction, execution) = joined.map_err(|error| {
                Error::Failed(format!("a re-evaluation stopped unexpectedly: {error}"))
            })?;
            free_slots.push(slot);
            let execute_seconds = execution
                .as_ref()
                .map_or(0.0, |execution| execution.duration.as_secs_f64());
            let result = reevaluated(execution, direction);
            self.journal.record_reevaluation(&ReevaluationRecord {
                node,
                seed,
                created_at: Utc::now(),
                result: result.clone(),
                execute_seconds,
            })?;
            results.insert((node, seed), result);
        }
    }
}

/// One re-evaluation to run: a candidate's script on one fold draw, through that draw's executor.
struct Job<'a> {
    candidate: &'a Candidate,
    seed: u64,
    executor: Arc<SandboxExecutor>,
}

/// A re-run's score: the validation metric a clean run wrote to `metrics.json`, in the candidate's
/// direction; anything else is a failure that says why.
fn reevaluated(execution: Result<Execution, ExecutorError>, direction: Direction) -> Reevaluated {
    let execution = match execution {
        Ok(execution) => execution,
        Err(error) => {
            return Reevaluated::Failed {
                reason: format!("the executor failed: {error}"),
            }
        }
    };
    let failed = |reason: String| Reevaluated::Failed { reason };
    match (execution.status, execution.reported_metric) {
        (None, _) => failed("interrupted".to_string()),
        (Some(ExecutionStatus::Ok), Some((value, _))) if value.is_finite() => Reevaluated::Scored {
            metric: Metric::new(value, direction),
        },
        (Some(ExecutionStatus::Ok), Some((value, _))) => {
            failed(format!("metrics.json holds {value}, not a finite score"))
        }
        (Some(ExecutionStatus::Ok), None) => failed(format!(
            "no validation score: {}",
            execution
                .metrics_problem
                .unwrap_or_else(|| "the script wrote no metrics.json".to_string())
        )),
        (
            Some(
                status @ (ExecutionStatus::Error
                | ExecutionStatus::Timeout
                | ExecutionStatus::Oom
                | ExecutionStatus::Killed
                | ExecutionStatus::DiskLimit),
            ),
            _,
        ) => {
            let output = execution.output.trim_end();
            let start = output
                .char_indices()
                .rev()
                .nth(FAILURE_OUTPUT_CHARACTERS)
                .map_or(0, |(index, _)| index);
            failed(format!(
                "the script ended with `{}`: {}",
                status.name(),
                &output[start..]
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_or_one_candidate_or_no_draws_switch_final_selection_off() {
        for (candidates, evaluations) in [(Some(0), None), (Some(1), None), (None, Some(0))] {
            let reselection = Reselection::resolve(candidates, evaluations, None).unwrap();
            assert_eq!(
                reselection,
                Reselection::Off,
                "{candidates:?} {evaluations:?}"
            );
            assert_eq!(
                reselection.search_time_limit(Duration::from_secs(1000)),
                Duration::from_secs(1000),
                "the search keeps the whole time limit"
            );
        }
    }

    #[test]
    fn by_default_three_candidates_get_two_draws_in_the_last_tenth_of_the_time_limit() {
        let reselection = Reselection::resolve(None, None, None).unwrap();
        assert_eq!(
            reselection,
            Reselection::On {
                candidates: 3,
                evaluations: 2,
                share: 0.1
            }
        );
        assert_eq!(
            reselection.search_time_limit(Duration::from_secs(1000)),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn a_share_outside_zero_to_one_is_refused_with_a_hint() {
        for share in [1.0, -0.1, f64::NAN] {
            let error = Reselection::resolve(None, None, Some(share))
                .unwrap_err()
                .to_string();
            assert!(error.contains("reselect_share"), "{error}");
            assert!(error.contains("hint:"), "{error}");
        }
    }
}
