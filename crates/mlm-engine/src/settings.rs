//! The resolved settings of one run, every field documented; the command line builds it from the config
//! file, the environment and flags.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use mlm_search::{PolicyKind, SearchConfig};
use serde::{Deserialize, Serialize};

/// Under `workers = "auto"`, the most trajectories per slot: a model 7 times slower than its scripts
/// already keeps every slot busy with this many.
pub const MAX_AUTO_WORKERS_PER_SLOT: usize = 8;

/// How many trajectories a run works on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WorkersValue", into = "WorkersValue")]
pub enum Workers {
    /// About `slots × (1 + L/E)`, from the measured proposal latency L and execution time E of the
    /// finished nodes; `slots × 2` until a node has finished.
    Auto,
    /// Exactly this many.
    Fixed(usize),
}

/// [`Workers`] as a configuration file writes it: `"auto"` or a number.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WorkersValue {
    Count(usize),
    Word(String),
}

impl TryFrom<WorkersValue> for Workers {
    type Error = String;

    fn try_from(value: WorkersValue) -> Result<Workers, String> {
        match value {
            WorkersValue::Count(count) => Ok(Workers::Fixed(count)),
            WorkersValue::Word(word) => word.parse(),
        }
    }
}

impl From<Workers> for WorkersValue {
    fn from(workers: Workers) -> WorkersValue {
        match workers {
            Workers::Auto => WorkersValue::Word("auto".to_string()),
            Workers::Fixed(count) => WorkersValue::Count(count),
        }
    }
}

impl FromStr for Workers {
    type Err = String;

    fn from_str(text: &str) -> Result<Workers, String> {
        match text.trim() {
            "auto" => Ok(Workers::Auto),
            number => number.parse().map(Workers::Fixed).map_err(|_| {
                format!("workers = {text:?}: not a number\nhint: write \"auto\" or a whole number of at least slots")
            }),
        }
    }
}

impl fmt::Display for Workers {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workers::Auto => formatter.write_str("auto"),
            Workers::Fixed(count) => write!(formatter, "{count}"),
        }
    }
}

/// Everything that decides how a run proceeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// The most nodes the run completes (ML-Master's `agent.steps`).
    pub steps: u32,
    /// Wall-clock budget for the whole run, across resumes.
    pub time_limit: Duration,
    /// Wall-clock limit of one script.
    pub node_timeout: Duration,
    /// Scripts that run at once.
    pub slots: usize,
    /// Trajectories worked on at once: more than `slots`, so slots do not wait for the coder.
    pub workers: Workers,
    /// Stop once this many prompt plus completion tokens are spent.
    pub token_budget: Option<u64>,
    /// Stop once this much money is spent, in US dollars.
    pub cost_budget: Option<f64>,
    pub search: SearchConfig,
    pub seed: u64,
    /// Stop the run once this many proposals in a row, across all workers, failed the same way (no
    /// code, cut at the output limit, the model unavailable, …).
    pub max_consecutive_failures: u32,
}

impl RunSettings {
    /// Checks what a run cannot start with.
    pub fn validate(&self) -> Result<(), String> {
        if self.slots == 0 {
            return Err("slots must be at least 1".to_string());
        }
        match self.workers {
            Workers::Fixed(workers) if workers < self.slots => {
                return Err(format!(
                    "workers ({workers}) must be at least slots ({})",
                    self.slots
                ));
            }
            Workers::Fixed(_) | Workers::Auto => {}
        }
        if self.max_consecutive_failures == 0 {
            return Err("max_consecutive_failures must be at least 1".to_string());
        }
        if self.steps == 0 {
            return Err("steps must be at least 1".to_string());
        }
        if self.time_limit.is_zero() || self.node_timeout.is_zero() {
            return Err("the time limit and the node timeout must be positive".to_string());
        }
        self.search.validate().map_err(|error| error.to_string())
    }

    /// The worker tasks a run starts: the fixed count, or the most `auto` may keep active.
    pub fn max_workers(&self) -> usize {
        match self.workers {
            Workers::Fixed(workers) => workers,
            Workers::Auto => self.slots * MAX_AUTO_WORKERS_PER_SLOT,
        }
    }

    /// The trajectories to keep active, from what the finished nodes measured (`None` before the
    /// first): for a fixed count that count; for `auto` `slots × (1 + L/E)` rounded up, at least
    /// `slots` and at most [`RunSettings::max_workers`], no more than the token and cost budgets can
    /// still pay proposals for, and under MCTS no more than `num_drafts` (a draft's subtree holds one
    /// trajectory at a time, so further workers could only wait).
    pub(crate) fn active_workers(&self, measured: Option<&Measured>) -> usize {
        let Workers::Auto = self.workers else {
            return self.max_workers();
        };
        let Some(measured) = measured else {
            return (self.slots * 2).min(self.drafts_cap());
        };
        let wanted = if measured.execute_seconds > 0.0 {
            let ratio = measured.propose_seconds / measured.execute_seconds;
            (self.slots as f64 * (1.0 + ratio))
                .ceil()
                .min(self.max_workers() as f64) as usize
        } else {
            self.max_workers()
        };
        let mut active = wanted
            .clamp(self.slots, self.max_workers())
            .min(self.drafts_cap());
        if let Some(budget) = self.token_budget {
            let room = budget.saturating_sub(measured.tokens_spent) as f64;
            active = active.min(affordable(room, measured.tokens_per_node));
        }
        if let Some(budget) = self.cost_budget {
            let room = (budget - measured.cost_spent).max(0.0);
            active = active.min(affordable(room, measured.cost_per_node));
        }
        active.max(1)
    }

    fn drafts_cap(&self) -> usize {
        match self.search.policy {
            PolicyKind::Mcts => self.search.num_drafts as usize,
            PolicyKind::Greedy => usize::MAX,
        }
    }
}

/// Proposals `room` pays for at `per_node` each, rounded up: the last one may pass the budget, as a
/// fixed count of workers would.
fn affordable(room: f64, per_node: f64) -> usize {
    if per_node > 0.0 {
        (room / per_node).ceil().min(usize::MAX as f64) as usize
    } else {
        usize::MAX
    }
}

/// Means over the run's finished nodes, and what it has spent, as `auto` workers read them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Measured {
    /// Mean seconds the coder took to write a node's script (L).
    pub propose_seconds: f64,
    /// Mean seconds a node's script ran (E).
    pub execute_seconds: f64,
    pub tokens_per_node: f64,
    pub cost_per_node: f64,
    pub tokens_spent: u64,
    pub cost_spent: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto_on_two_slots(policy: PolicyKind) -> RunSettings {
        RunSettings {
            steps: 100,
            time_limit: Duration::from_secs(3600),
            node_timeout: Duration::from_secs(600),
            slots: 2,
            workers: Workers::Auto,
            token_budget: None,
            cost_budget: None,
            search: SearchConfig {
                policy,
                ..SearchConfig::default()
            },
            seed: 0,
            max_consecutive_failures: 5,
        }
    }

    fn measured(propose_seconds: f64, execute_seconds: f64) -> Measured {
        Measured {
            propose_seconds,
            execute_seconds,
            tokens_per_node: 1000.0,
            cost_per_node: 0.01,
            tokens_spent: 10_000,
            cost_spent: 0.1,
        }
    }

    #[test]
    fn auto_keeps_slots_times_one_plus_latency_over_run_time_within_its_bounds() {
        let greedy = auto_on_two_slots(PolicyKind::Greedy);
        assert_eq!(
            greedy.active_workers(None),
            4,
            "slots × 2 before a measurement"
        );
        assert_eq!(greedy.active_workers(Some(&measured(5.0, 10.0))), 3);
        assert_eq!(greedy.active_workers(Some(&measured(0.1, 10.0))), 3);
        assert_eq!(greedy.active_workers(Some(&measured(10.0, 2.0))), 12);
        assert_eq!(
            greedy.active_workers(Some(&measured(100.0, 1.0))),
            16,
            "slots × 8"
        );
        assert_eq!(greedy.active_workers(Some(&measured(1.0, 0.0))), 16);
        let mcts = auto_on_two_slots(PolicyKind::Mcts);
        assert_eq!(
            mcts.active_workers(Some(&measured(10.0, 1.0))),
            5,
            "num_drafts: each draft's subtree takes one trajectory"
        );
    }

    #[test]
    fn auto_starts_no_more_trajectories_than_the_budgets_pay_for() {
        let mut settings = auto_on_two_slots(PolicyKind::Greedy);
        settings.token_budget = Some(12_500);
        assert_eq!(settings.active_workers(Some(&measured(10.0, 1.0))), 3);
        settings.token_budget = Some(10_000);
        assert_eq!(settings.active_workers(Some(&measured(10.0, 1.0))), 1);
        settings.token_budget = None;
        settings.cost_budget = Some(0.12);
        assert_eq!(settings.active_workers(Some(&measured(10.0, 1.0))), 2);
    }

    #[test]
    fn a_fixed_count_is_kept_and_workers_read_as_auto_or_a_number() {
        let mut settings = auto_on_two_slots(PolicyKind::Mcts);
        settings.workers = Workers::Fixed(7);
        assert_eq!(settings.active_workers(Some(&measured(100.0, 1.0))), 7);
        assert_eq!("auto".parse(), Ok(Workers::Auto));
        assert_eq!("3".parse(), Ok(Workers::Fixed(3)));
        assert!("many".parse::<Workers>().unwrap_err().contains("hint:"));
        settings.workers = Workers::Fixed(1);
        assert!(settings.validate().unwrap_err().contains("workers (1)"));
    }
}
