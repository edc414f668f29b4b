//! The terminal's live view: a few lines at the bottom of stderr, redrawn on every event and every
//! second, saying how far the run is (steps, time used and left), how many workers are active (with
//! `workers = "auto"` the engine grows and shrinks that number), the best validation score and its node,
//! what each active worker is doing (thinking, running a script, reviewing, idle) and for how long, how many nodes
//! are valid or buggy, and the tokens and cost so far. Log lines (one per node) scroll above it.
//!
//! The state is built from the engine's events only; drawing is a pure function of the state and the
//! time, so it is snapshot-tested.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use mlm_engine::Event;
use mlm_search::{NodeId, Stage};

/// Block lines are cut to this width unless `COLUMNS` says otherwise, so that none wraps and the
/// redraw's cursor arithmetic stays right.
const DEFAULT_WIDTH: usize = 100;

/// What one worker is doing, and since when (time since the run started).
#[derive(Debug, Clone, Copy, PartialEq)]
enum WorkerState {
    Thinking {
        stage: Stage,
        parent: Option<NodeId>,
        since: Duration,
    },
    Running {
        stage: Stage,
        parent: Option<NodeId>,
        slot: usize,
        since: Duration,
    },
    Reviewing {
        since: Duration,
    },
    Idle,
}

/// The live view's state.
#[derive(Debug, Clone)]
pub struct LiveView {
    task_id: String,
    metric_name: String,
    steps: u32,
    time_limit_seconds: f64,
    done: u32,
    valid: u32,
    buggy: u32,
    best: Option<(NodeId, f64)>,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
    workers: BTreeMap<u32, WorkerState>,
    /// Workers working on trajectories; the others are parked and not listed.
    active_workers: usize,
    /// Lines of the block now on screen, erased before the next draw.
    drawn: usize,
    width: usize,
}

impl LiveView {
    pub fn new(steps: u32, metric_name: &str) -> Self {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|columns| columns.parse::<usize>().ok())
            .filter(|columns| *columns >= 40)
            .unwrap_or(DEFAULT_WIDTH);
        LiveView {
            task_id: String::new(),
            metric_name: metric_name.to_string(),
            steps,
            time_limit_seconds: 0.0,
            done: 0,
            valid: 0,
            buggy: 0,
            best: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            workers: BTreeMap::new(),
            active_workers: 0,
            drawn: 0,
            width,
        }
    }

    /// Takes in an event that happened `at` after the run started.
    pub fn update(&mut self, event: &Event, at: Duration) {
        match event {
            Event::RunStarted {
                task_id,
                workers,
                steps,
                time_limit_seconds,
                resumed_nodes,
                ..
            } => {
                self.task_id = task_id.clone();
                self.steps = *steps;
                self.time_limit_seconds = *time_limit_seconds;
                self.done = *resumed_nodes;
                self.list_active_workers(*workers);
            }
            Event::WorkersChanged { active } => self.list_active_workers(*active),
            Event::Proposing {
                worker,
                stage,
                parent,
            } => {
                self.workers.insert(
                    *worker,
                    WorkerState::Thinking {
                        stage: *stage,
                        parent: *parent,
                        since: at,
                    },
                );
            }
            Event::Executing {
                worker,
                slot,
                stage,
                parent,
            } => {
                self.workers.insert(
                    *worker,
                    WorkerState::Running {
                        stage: *stage,
                        parent: *parent,
                        slot: *slot,
                        since: at,
                    },
                );
            }
            Event::Reviewing { worker } => {
                self.workers
                    .insert(*worker, WorkerState::Reviewing { since: at });
            }
            Event::ProposalFailed { worker, .. } => {
                self.workers.insert(*worker, WorkerState::Idle);
            }
            Event::NodeFinished {
                worker,
                outcome,
                prompt_tokens,
                completion_tokens,
                cost_usd,
                ..
            } => {
                self.workers.insert(*worker, WorkerState::Idle);
                self.done += 1;
                self.valid += u32::from(outcome.is_valid());
                self.buggy += u32::from(outcome.is_buggy());
                self.prompt_tokens += prompt_tokens;
                self.completion_tokens += completion_tokens;
                self.cost_usd += cost_usd;
            }
            Event::BestImproved { node, metric } => self.best = Some((*node, *metric)),
            Event::Warning { .. } | Event::Reevaluating { .. } | Event::RunFinished { .. } => {}
        }
    }

    /// Lists workers `0..active`; a parked worker is idle with a number past them (a worker over the
    /// number that is still finishing its trajectory stays listed while it works).
    fn list_active_workers(&mut self, active: usize) {
        self.active_workers = active;
        let active = u32::try_from(active).unwrap_or(u32::MAX);
        self.workers
            .retain(|worker, state| *worker < active || *state != WorkerState::Idle);
        for worker in 0..active {
            self.workers.entry(worker).or_insert(WorkerState::Idle);
        }
    }

    /// The block's lines at `now` (time since the run started).
    pub fn render(&self, now: Duration) -> Vec<String> {
        let elapsed = now.as_secs_f64();
        let left = (self.time_limit_seconds - elapsed).max(0.0);
        let mut lines = vec![format!(
            "── {} · step {}/{} · {} workers · {} elapsed, {} left",
            if self.task_id.is_empty() {
                "ml-master"
            } else {
                &self.task_id
            },
            self.done,
            self.steps,
            self.active_workers,
            clock(elapsed),
            clock(left)
        )];
        let best = match self.best {
            Some((node, metric)) => format!("best {} {metric:.5} (node {node})", self.metric_name),
            None => "no valid node yet".to_string(),
        };
        lines.push(format!(
            "   {best} · {} valid, {} buggy · {} tokens · ${:.4}",
            self.valid,
            self.buggy,
            self.prompt_tokens + self.completion_tokens,
            self.cost_usd
        ));
        for (worker, state) in &self.workers {
            let doing = match state {
                WorkerState::Thinking {
                    stage,
                    parent,
                    since,
                } => format!(
                    "thinking about {} for {}",
                    expansion(*stage, *parent),
                    clock(elapsed - since.as_secs_f64())
                ),
                WorkerState::Running {
                    stage,
                    parent,
                    slot,
                    since,
                } => format!(
                    "running {} in slot {slot} for {}",
                    expansion(*stage, *parent),
                    clock(elapsed - since.as_secs_f64())
                ),
                WorkerState::Reviewing { since } => {
                    format!("reviewing for {}", clock(elapsed - since.as_secs_f64()))
                }
                WorkerState::Idle => "idle".to_string(),
            };
            lines.push(format!("   worker {worker}: {doing}"));
        }
        lines
            .into_iter()
            .map(|line| line.chars().take(self.width.saturating_sub(1)).collect())
            .collect()
    }

    /// Erases the block, prints `log` lines where it was, and draws the block again below them.
    pub fn redraw(&mut self, log: &[String], now: Duration) {
        if self.task_id.is_empty() && log.is_empty() {
            return; // nothing to say before the run has started
        }
        let mut text = String::new();
        if self.drawn > 0 {
            text.push_str(&format!("\x1b[{}A\r\x1b[J", self.drawn));
        }
        for line in log {
            text.push_str(line);
            text.push('\n');
        }
        let block = self.render(now);
        for line in &block {
            text.push_str(line);
            text.push('\n');
        }
        self.drawn = block.len();
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        let _ = stderr.flush();
    }

    /// Erases the block for good, before the final summary.
    pub fn clear(&mut self) {
        if self.drawn > 0 {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\x1b[{}A\r\x1b[J", self.drawn);
            let _ = stderr.flush();
            self.drawn = 0;
        }
    }
}

fn expansion(stage: Stage, parent: Option<NodeId>) -> String {
    match (stage, parent) {
        (Stage::Draft, _) | (_, None) => "a draft".to_string(),
        (Stage::Improve, Some(parent)) => format!("an improve of node {parent}"),
        (Stage::Debug, Some(parent)) => format!("a debug of node {parent}"),
    }
}

/// `37 s`, `4m 05s`, `2h 10m`.
fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlm_search::{Direction, ExecutionStatus, Metric, Outcome};

    fn finished(node: u32, worker: u32, valid: bool) -> Event {
        Event::NodeFinished {
            node: NodeId(node),
            parent: None,
            stage: Stage::Draft,
            worker,
            execution_status: if valid {
                ExecutionStatus::Ok
            } else {
                ExecutionStatus::Error
            },
            outcome: if valid {
                Outcome::Valid {
                    metric: Metric::new(0.8, Direction::HigherIsBetter),
                }
            } else {
                Outcome::Buggy
            },
            summary: String::new(),
            execute_seconds: 1.0,
            prompt_tokens: 1200,
            completion_tokens: 300,
            cost_usd: 0.0125,
        }
    }

    #[test]
    fn the_block_says_steps_time_best_workers_counts_and_cost() {
        let mut view = LiveView::new(20, "accuracy");
        view.width = DEFAULT_WIDTH;
        let events = [
            (
                0,
                Event::RunStarted {
                    task_id: "titanic".into(),
                    coder: "llm".into(),
                    slots: 2,
                    workers: 4,
                    steps: 20,
                    time_limit_seconds: 3600.0,
                    resumed_nodes: 0,
                },
            ),
            (1, finished(0, 0, true)),
            (
                1,
                Event::BestImproved {
                    node: NodeId(0),
                    metric: 0.81619,
                },
            ),
            (2, finished(1, 1, false)),
            (
                40,
                Event::Proposing {
                    worker: 0,
                    stage: Stage::Improve,
                    parent: Some(NodeId(0)),
                },
            ),
            (
                50,
                Event::Executing {
                    worker: 1,
                    slot: 1,
                    stage: Stage::Debug,
                    parent: Some(NodeId(1)),
                },
            ),
            (86, Event::Reviewing { worker: 2 }),
        ];
        for (at, event) in &events {
            view.update(event, Duration::from_secs(*at));
        }
        insta::assert_snapshot!(view.render(Duration::from_secs(87)).join("\n"), @r"
        ── titanic · step 2/20 · 4 workers · 1m 27s elapsed, 58m 33s left
           best accuracy 0.81619 (node 0) · 1 valid, 1 buggy · 3000 tokens · $0.0250
           worker 0: thinking about an improve of node 0 for 47 s
           worker 1: running a debug of node 1 in slot 1 for 37 s
           worker 2: reviewing for 1 s
           worker 3: idle
        ");
        // Fewer workers are wanted: the idle one past the number is parked and goes from the list; a
        // busy one stays while it finishes its trajectory.
        view.update(
            &Event::WorkersChanged { active: 2 },
            Duration::from_secs(88),
        );
        insta::assert_snapshot!(view.render(Duration::from_secs(88)).join("\n"), @r"
        ── titanic · step 2/20 · 2 workers · 1m 28s elapsed, 58m 32s left
           best accuracy 0.81619 (node 0) · 1 valid, 1 buggy · 3000 tokens · $0.0250
           worker 0: thinking about an improve of node 0 for 48 s
           worker 1: running a debug of node 1 in slot 1 for 38 s
           worker 2: reviewing for 2 s
        ");
    }

    #[test]
    fn lines_never_wrap() {
        let mut view = LiveView::new(5, "a_metric_with_a_very_long_name_indeed");
        view.width = 40;
        view.update(
            &Event::BestImproved {
                node: NodeId(3),
                metric: 1.0,
            },
            Duration::ZERO,
        );
        assert!(view
            .render(Duration::ZERO)
            .iter()
            .all(|line| line.chars().count() < 40));
    }
}
