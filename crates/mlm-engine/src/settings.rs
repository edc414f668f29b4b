//! The resolved settings of one run, every field documented; the command line builds it from the config
//! file, the environment and flags.

use std::time::Duration;

use mlm_search::SearchConfig;
use serde::{Deserialize, Serialize};

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
    pub workers: usize,
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
        if self.workers < self.slots {
            return Err(format!(
                "workers ({}) must be at least slots ({})",
                self.workers, self.slots
            ));
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
}
