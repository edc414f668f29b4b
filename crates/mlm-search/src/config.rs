//! The search configuration: which policy runs, its limits, and the exploration schedule of UCT. Defaults
//! are ML-Master's (and AIDE's for the greedy policy's own two knobs), except where a trajectory goes
//! after a loss ([`AfterLoss`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which search policy drives the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// ML-Master: UCT selection, expansion limits, draft locks for parallel workers, trajectories that
    /// continue while they improve.
    #[default]
    Mcts,
    /// AIDE: draft, then debug a random buggy leaf or improve the best node.
    Greedy,
}

/// Where an MCTS trajectory goes after a valid improve that scored worse than its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterLoss {
    /// Back to the parent, which the worker improves again while it has room for another child;
    /// otherwise the trajectory ends there. A run that followed a loss spent its budget walking down
    /// from it (issue 15: 8.70 → 9.43 → 9.78 → 10.31 on an error metric).
    #[default]
    Parent,
    /// ML-Master's: on from the node that lost, until `max_improve_failure` steps without gain.
    Node,
}

/// How UCT's exploration constant C changes with the number of nodes t (the virtual root included, as in
/// ML-Master's journal).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExplorationSchedule {
    /// ML-Master's default. With T1 = min(num_drafts·num_improves², round(`phase_ratios[0]`·steps))
    /// and T2 = round(`phase_ratios[1]`·steps), rounding half to even as Python does: C = initial for
    /// t < T1; max(initial − decay_per_step·(t − T1),
    /// lower_bound) for T1 ≤ t ≤ T2; lower_bound after T2.
    Piecewise {
        initial: f64,
        lower_bound: f64,
        decay_per_step: f64,
        phase_ratios: [f64; 2],
    },
    /// C = max(initial − decay_per_step·t, lower_bound).
    Linear {
        initial: f64,
        lower_bound: f64,
        decay_per_step: f64,
    },
    /// C = max(initial·gamma^t, lower_bound).
    Exponential {
        initial: f64,
        lower_bound: f64,
        gamma: f64,
    },
    /// C never changes.
    Constant { value: f64 },
}

impl Default for ExplorationSchedule {
    fn default() -> Self {
        ExplorationSchedule::Piecewise {
            initial: 1.414,
            lower_bound: 0.5,
            decay_per_step: 0.01,
            phase_ratios: [0.3, 0.7],
        }
    }
}

/// Everything the search needs to know, resolved. Field names follow ML-Master's `agent.search` config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Which policy runs.
    pub policy: PolicyKind,
    /// The step budget (ML-Master's `agent.steps`, 500); only the exploration schedule reads it, the
    /// engine enforces it.
    pub steps: u32,
    /// Drafts under the virtual root (5). The greedy policy drafts until it has this many.
    pub num_drafts: u32,
    /// Debug children of a node that needs fixing (1); it is also fully expanded once a child is valid.
    pub num_bugs: u32,
    /// Improve children of a valid node (3).
    pub num_improves: u32,
    /// The least gain, in the metric's direction, that counts as an improvement (1e-4).
    pub metric_improvement_threshold: f64,
    /// Steps without improvement after which a trajectory's node is terminal and backpropagates (3).
    pub max_improve_failure: u32,
    /// Where a trajectory goes after an improve scored worse than its parent (`parent`; ML-Master's is
    /// `node`). A debug that fixed its parent ends the trajectory either way, as in ML-Master.
    pub after_loss: AfterLoss,
    /// Debug depth from which a node that still needs fixing backpropagates instead of being debugged
    /// again by the same worker (3).
    pub back_debug_depth: u32,
    /// Debug depth at which a node that still needs fixing becomes terminal (20).
    pub max_debug_depth: u32,
    /// UCT's exploration constant over time.
    pub exploration: ExplorationSchedule,
    /// Greedy only: probability of debugging a buggy leaf instead of improving the best node (0.5).
    pub debug_prob: f64,
    /// Greedy only: the deepest debug depth a buggy leaf may have to be debugged again (AIDE's
    /// `max_debug_depth`, 3).
    pub greedy_max_debug_depth: u32,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            policy: PolicyKind::Mcts,
            steps: 500,
            num_drafts: 5,
            num_bugs: 1,
            num_improves: 3,
            metric_improvement_threshold: 1e-4,
            max_improve_failure: 3,
            after_loss: AfterLoss::Parent,
            back_debug_depth: 3,
            max_debug_depth: 20,
            exploration: ExplorationSchedule::default(),
            debug_prob: 0.5,
            greedy_max_debug_depth: 3,
        }
    }
}

impl SearchConfig {
    /// Checks the values a search cannot run with.
    pub fn validate(&self) -> Result<()> {
        let at_least_one = |field: &'static str, value: u32| {
            if value == 0 {
                Err(Error::InvalidConfig {
                    field,
                    problem: "is 0".to_string(),
                    hint: "it must be at least 1",
                })
            } else {
                Ok(())
            }
        };
        at_least_one("num_drafts", self.num_drafts)?;
        at_least_one("num_bugs", self.num_bugs)?;
        at_least_one("num_improves", self.num_improves)?;
        at_least_one("max_improve_failure", self.max_improve_failure)?;
        if !(self.metric_improvement_threshold.is_finite()
            && self.metric_improvement_threshold >= 0.0)
        {
            return Err(Error::InvalidConfig {
                field: "metric_improvement_threshold",
                problem: format!("is {}", self.metric_improvement_threshold),
                hint: "it must be a finite number, 0 or more",
            });
        }
        if !(0.0..=1.0).contains(&self.debug_prob) {
            return Err(Error::InvalidConfig {
                field: "debug_prob",
                problem: format!("is {}", self.debug_prob),
                hint: "it is a probability between 0 and 1",
            });
        }
        self.validate_exploration()
    }

    fn validate_exploration(&self) -> Result<()> {
        let invalid = |problem: String| {
            Error::InvalidConfig {
            field: "exploration",
            problem,
            hint: "constants and bounds are finite and 0 or more; phase ratios rise within 0..=1; gamma is within 0..=1",
        }
        };
        let (values, extra_ok): (Vec<f64>, bool) = match self.exploration {
            ExplorationSchedule::Piecewise {
                initial,
                lower_bound,
                decay_per_step,
                phase_ratios,
            } => (
                vec![initial, lower_bound, decay_per_step],
                (0.0..=1.0).contains(&phase_ratios[0])
                    && (0.0..=1.0).contains(&phase_ratios[1])
                    && phase_ratios[0] <= phase_ratios[1],
            ),
            ExplorationSchedule::Linear {
                initial,
                lower_bound,
                decay_per_step,
            } => (vec![initial, lower_bound, decay_per_step], true),
            ExplorationSchedule::Exponential {
                initial,
                lower_bound,
                gamma,
            } => (vec![initial, lower_bound], (0.0..=1.0).contains(&gamma)),
            ExplorationSchedule::Constant { value } => (vec![value], true),
        };
        if values
            .iter()
            .any(|value| !(value.is_finite() && *value >= 0.0))
            || !extra_ok
        {
            return Err(invalid(format!("is {:?}", self.exploration)));
        }
        Ok(())
    }

    /// UCT's exploration constant when the tree holds `node_count` nodes, the virtual root included.
    pub fn exploration_constant(&self, node_count: usize) -> f64 {
        let t = node_count as f64;
        match self.exploration {
            ExplorationSchedule::Piecewise {
                initial,
                lower_bound,
                decay_per_step,
                phase_ratios,
            } => {
                let steps = f64::from(self.steps);
                let warm_up = f64::from(self.num_drafts) * f64::from(self.num_improves).powi(2);
                let first_boundary = warm_up.min((steps * phase_ratios[0]).round_ties_even());
                let second_boundary = (steps * phase_ratios[1]).round_ties_even();
                if t < first_boundary {
                    initial
                } else if t <= second_boundary {
                    (initial - decay_per_step * (t - first_boundary)).max(lower_bound)
                } else {
                    lower_bound
                }
            }
            ExplorationSchedule::Linear {
                initial,
                lower_bound,
                decay_per_step,
            } => (initial - decay_per_step * t).max(lower_bound),
            ExplorationSchedule::Exponential {
                initial,
                lower_bound,
                gamma,
            } => (initial * gamma.powf(t)).max(lower_bound),
            ExplorationSchedule::Constant { value } => value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(left: f64, right: f64) -> bool {
        (left - right).abs() < 1e-12
    }

    #[test]
    fn piecewise_schedule_matches_ml_master_boundaries() {
        // steps 500: T1 = min(5·3², 150) = 45, T2 = 350.
        let config = SearchConfig::default();
        assert!(close(config.exploration_constant(0), 1.414));
        assert!(close(config.exploration_constant(44), 1.414));
        assert!(close(config.exploration_constant(45), 1.414));
        assert!(close(config.exploration_constant(46), 1.404));
        assert!(close(config.exploration_constant(100), 1.414 - 0.55));
        // Floor of 0.5 reached at t = 45 + 91.4.
        assert!(close(config.exploration_constant(200), 0.5));
        assert!(close(config.exploration_constant(350), 0.5));
        assert!(close(config.exploration_constant(351), 0.5));
    }

    #[test]
    fn piecewise_first_boundary_is_thirty_percent_of_a_small_budget() {
        // steps 100: T1 = min(45, 30) = 30, T2 = 70; after 70 the floor applies even if the decay
        // has not reached it.
        let config = SearchConfig {
            steps: 100,
            ..SearchConfig::default()
        };
        assert!(close(config.exploration_constant(29), 1.414));
        assert!(close(config.exploration_constant(40), 1.314));
        assert!(close(config.exploration_constant(70), 1.014));
        assert!(close(config.exploration_constant(71), 0.5));
    }

    #[test]
    fn linear_exponential_and_constant_schedules() {
        let linear = SearchConfig {
            exploration: ExplorationSchedule::Linear {
                initial: 1.414,
                lower_bound: 0.5,
                decay_per_step: 0.01,
            },
            ..SearchConfig::default()
        };
        assert!(close(linear.exploration_constant(10), 1.314));
        assert!(close(linear.exploration_constant(1000), 0.5));
        let exponential = SearchConfig {
            exploration: ExplorationSchedule::Exponential {
                initial: 1.414,
                lower_bound: 0.5,
                gamma: 0.99,
            },
            ..SearchConfig::default()
        };
        assert!(close(
            exponential.exploration_constant(10),
            1.414 * 0.99f64.powi(10)
        ));
        assert!(close(exponential.exploration_constant(1000), 0.5));
        let constant = SearchConfig {
            exploration: ExplorationSchedule::Constant { value: 2.0 },
            ..SearchConfig::default()
        };
        assert!(close(constant.exploration_constant(12345), 2.0));
    }

    #[test]
    fn validation_names_the_field() {
        let config = SearchConfig {
            num_improves: 0,
            ..SearchConfig::default()
        };
        let Err(Error::InvalidConfig { field, .. }) = config.validate() else {
            panic!("num_improves 0 must be rejected");
        };
        assert_eq!(field, "num_improves");
        let config = SearchConfig {
            debug_prob: 1.5,
            ..SearchConfig::default()
        };
        assert!(config.validate().is_err());
        assert!(SearchConfig::default().validate().is_ok());
    }
}
