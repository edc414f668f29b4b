//! What every worker of one run holds, restored from the journal when the run starts: the run's parts
//! (settings, task, coder, executor, submission check, layout), its state behind one lock, its slot
//! pool, the stop signal with what a stop sets off (killing running scripts, waking waiting workers),
//! and which workers park between trajectories (`workers = "auto"`). The lock is taken for short
//! sections that never await.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mlm_coder::{Coder, ModelCall, TaskBrief, TokenUsage};
use mlm_journal::{Journal, NodeEntry, RunStatus};
use mlm_search::{ExpansionId, NodeId, Search, WorkerId};
use tokio::sync::{mpsc, watch, Notify};

use crate::error::{Error, Result};
use crate::event::{Event, StopReason};
use crate::layout::RunLayout;
use crate::settings::RunSettings;
use crate::slots::SlotPool;
use crate::state::{Counters, FailureStreak, RunState};
use crate::traits::{CancelFlag, Executor, SubmissionCheck};

/// How long a worker with nothing to do waits before asking again, when nothing wakes it sooner.
const WAIT_PERIOD: Duration = Duration::from_millis(500);

/// Whether a worker works on, as [`RunContext::staff`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staffing {
    Working,
    /// Fewer trajectories are wanted: wait for a change and ask again.
    Parked,
}

/// Everything a run is made of.
pub struct EngineParts {
    pub settings: RunSettings,
    pub task: TaskBrief,
    pub coder: Arc<dyn Coder>,
    pub executor: Arc<dyn Executor>,
    pub check: Arc<dyn SubmissionCheck>,
    /// The run's journal: new, or holding an earlier session's nodes to resume from.
    pub journal: Journal,
    pub layout: RunLayout,
}

/// One run, as its workers share it.
pub(crate) struct RunContext {
    pub settings: RunSettings,
    pub task: TaskBrief,
    pub coder: Arc<dyn Coder>,
    pub executor: Arc<dyn Executor>,
    pub check: Arc<dyn SubmissionCheck>,
    pub layout: RunLayout,
    pub slots: SlotPool,
    state: Mutex<RunState>,
    stop: watch::Sender<Option<StopReason>>,
    /// Why the coder stopped the run, when [`StopReason::CoderFailed`] did.
    coder_failure: Mutex<Option<String>>,
    /// Handed to every script; set when the run is interrupted or out of time, so scripts running then
    /// or started later are killed and their nodes discarded.
    scripts_cancelled: CancelFlag,
    /// Woken whenever a node completes, an expansion is given back, or the run stops.
    changed: Notify,
    events: mpsc::UnboundedSender<Event>,
    started: Instant,
    /// Wall-clock time spent by earlier sessions of this run.
    elapsed_before: Duration,
}

impl RunContext {
    /// The run as its journal left it: the search replayed from its records, the completed nodes, the
    /// budgets spent by earlier sessions; what those sessions left uncounted is discarded and the run is
    /// marked running. Returns the context and the number of nodes an earlier session completed.
    pub fn restore(
        parts: EngineParts,
        events: mpsc::UnboundedSender<Event>,
    ) -> Result<(RunContext, u32)> {
        let EngineParts {
            settings,
            task,
            coder,
            executor,
            check,
            journal,
            layout,
        } = parts;
        let search = Search::restore(
            settings.search.clone(),
            settings.seed,
            journal.search_records()?,
        )?;
        let entries: HashMap<NodeId, NodeEntry> = journal
            .nodes()?
            .into_iter()
            .map(|entry| (entry.id, entry))
            .collect();
        let previous = journal.run()?;
        discard_uncounted_work(&layout, entries.len() as u32)?;
        journal.set_status(RunStatus::Running)?;
        let counters = Counters::from_journal(entries.values(), &journal.llm_calls()?);
        let resumed_nodes = counters.steps_done;
        let active = settings.active_workers(counters.measured().as_ref());
        let parked = (active..settings.max_workers())
            .map(|worker| WorkerId(worker as u32))
            .collect();
        let state = RunState {
            search,
            journal,
            entries,
            counters,
            proposals: HashMap::new(),
            failure_streak: FailureStreak::default(),
            parked,
        };
        let context = RunContext {
            slots: SlotPool::new(settings.slots),
            settings,
            task,
            coder,
            executor,
            check,
            layout,
            state: Mutex::new(state),
            stop: watch::channel(None).0,
            coder_failure: Mutex::new(None),
            scripts_cancelled: Arc::new(AtomicBool::new(false)),
            changed: Notify::new(),
            events,
            started: Instant::now(),
            elapsed_before: Duration::from_secs_f64(previous.elapsed_seconds.max(0.0)),
        };
        Ok((context, resumed_nodes))
    }

    /// The run's state, for one section that does not await.
    pub fn state(&self) -> Result<MutexGuard<'_, RunState>> {
        self.state.lock().map_err(|_| Error::StatePoisoned)
    }

    /// The state for recording how the run ended, even after a worker panicked while changing it: the
    /// journal's own transactions keep what it holds consistent.
    pub fn final_state(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The journal, once the run is over, whatever state a panicking worker left behind.
    pub fn into_journal(self) -> Journal {
        self.state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .journal
    }

    /// Workers working on trajectories now (not parked).
    pub fn active_workers(&self) -> Result<usize> {
        Ok(self.settings.max_workers() - self.state()?.parked.len())
    }

    /// Whether `worker`, holding no expansion, works on or parks. Between two trajectories it parks
    /// while the settings want fewer active workers than its number, and comes back once they want
    /// more. Within a trajectory it always works on: parked there, it would keep its draft locked and
    /// leave other workers waiting on that subtree for good.
    pub fn staff(&self, worker: WorkerId) -> Result<Staffing> {
        let (staffing, active) = {
            let mut state = self.state()?;
            if state.search.position(worker).is_some() {
                return Ok(Staffing::Working);
            }
            let wanted = self
                .settings
                .active_workers(state.counters.measured().as_ref());
            let (staffing, changed) = if (worker.0 as usize) < wanted {
                (Staffing::Working, state.parked.remove(&worker))
            } else {
                (Staffing::Parked, state.parked.insert(worker))
            };
            let active = self.settings.max_workers() - state.parked.len();
            (staffing, changed.then_some(active))
        };
        if let Some(active) = active {
            self.emit(Event::WorkersChanged { active });
        }
        Ok(staffing)
    }

    /// Journals `event` and sends it to the front end.
    pub fn emit(&self, event: Event) {
        if let Ok(state) = self.state.lock() {
            if let Ok(payload) = serde_json::to_string(&event) {
                if let Err(error) = state.journal.record_event(event.kind(), &payload) {
                    tracing::warn!("cannot journal an event: {error}");
                }
            }
        }
        // A front end that went away must not stop the run.
        let _ = self.events.send(event);
    }

    pub fn elapsed(&self) -> Duration {
        self.elapsed_before + self.started.elapsed()
    }

    pub fn time_remaining(&self) -> Duration {
        self.settings.time_limit.saturating_sub(self.elapsed())
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        *self.stop.borrow()
    }

    /// A receiver that sees the run's stop.
    pub fn stop_receiver(&self) -> watch::Receiver<Option<StopReason>> {
        self.stop.subscribe()
    }

    /// The flag every script of this run is run with.
    pub fn scripts_cancelled(&self) -> CancelFlag {
        self.scripts_cancelled.clone()
    }

    /// Stops the run for `reason` (the first reason wins). Interruptions and the time limit also kill
    /// the scripts running now: their nodes are discarded, never counted.
    pub fn request_stop(&self, reason: StopReason) {
        let first = self.stop.send_if_modified(|current| match current {
            Some(_) => false,
            None => {
                *current = Some(reason);
                true
            }
        });
        if !first {
            return;
        }
        match reason {
            StopReason::Interrupted | StopReason::TimeLimit => {
                self.scripts_cancelled.store(true, Ordering::SeqCst);
            }
            StopReason::StepsExhausted
            | StopReason::TokenBudget
            | StopReason::CostBudget
            | StopReason::SearchExhausted
            | StopReason::CoderFailed => {}
        }
        self.changed.notify_waiters();
    }

    /// Stops the run because the coder cannot go on; `message` says why, for the user.
    pub fn stop_for_coder_failure(&self, message: String) {
        if self.stop_reason().is_none() {
            if let Ok(mut failure) = self.coder_failure.lock() {
                failure.get_or_insert(message);
            }
        }
        self.request_stop(StopReason::CoderFailed);
    }

    /// What stopped the run, when the coder did.
    pub fn coder_failure(&self) -> Option<String> {
        self.coder_failure
            .lock()
            .map_or(None, |failure| failure.clone())
    }

    /// Wakes the workers waiting for a change.
    pub fn notify_change(&self) {
        self.changed.notify_waiters();
    }

    /// Waits until a node completes, an expansion is given back, the run stops, or a while has passed.
    pub async fn wait_for_change(&self, stop: &mut watch::Receiver<Option<StopReason>>) {
        tokio::select! {
            () = self.changed.notified() => {}
            _ = stop.changed() => {}
            () = tokio::time::sleep(WAIT_PERIOD) => {}
        }
    }

    /// Records tokens spent; stops the run when a token or cost budget is spent.
    pub fn spend(&self, usage: TokenUsage) -> Result<()> {
        let (tokens, cost) = {
            let mut state = self.state()?;
            state.counters.add_usage(usage);
            (
                state.counters.prompt_tokens + state.counters.completion_tokens,
                state.counters.cost_usd,
            )
        };
        if self
            .settings
            .token_budget
            .is_some_and(|budget| tokens >= budget)
        {
            self.request_stop(StopReason::TokenBudget);
        } else if self
            .settings
            .cost_budget
            .is_some_and(|budget| cost >= budget)
        {
            self.request_stop(StopReason::CostBudget);
        }
        Ok(())
    }

    /// Gives an expansion back without a node: the model calls behind it are journaled without one, its
    /// step returns to the budget, and whatever its script left in `work/` is removed.
    pub fn abandon(&self, ticket: ExpansionId, calls: &[ModelCall]) -> Result<()> {
        {
            let mut state = self.state()?;
            state.record_calls(None, calls);
            state.proposals.remove(&ticket);
            state.search.abandon(ticket)?;
            state.journal_search_records()?;
            state.counters.steps_in_flight = state.counters.steps_in_flight.saturating_sub(1);
        }
        let attempt = self.layout.attempt_dir(ticket);
        if attempt.exists() {
            let _ = std::fs::remove_dir_all(&attempt);
        }
        self.notify_change();
        Ok(())
    }
}

/// Removes what an interrupted session left that the journal never counted: scripts that were running
/// (`work/`) and node directories renamed just before a crash, past the last journaled node.
fn discard_uncounted_work(layout: &RunLayout, journaled_nodes: u32) -> Result<()> {
    let io = |path: std::path::PathBuf| move |source| Error::Io { path, source };
    let work = layout.work_dir();
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io(work.clone()))?;
    }
    let nodes = layout.root.join("nodes");
    if let Ok(entries) = std::fs::read_dir(&nodes) {
        for entry in entries.flatten() {
            let uncounted = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
                .is_some_and(|id| id >= journaled_nodes);
            if uncounted {
                std::fs::remove_dir_all(entry.path()).map_err(io(entry.path()))?;
            }
        }
    }
    Ok(())
}

/// Resolves when the run is asked to stop.
pub(crate) async fn stopped(stop: &mut watch::Receiver<Option<StopReason>>) {
    let _ = stop.wait_for(Option::is_some).await;
}
