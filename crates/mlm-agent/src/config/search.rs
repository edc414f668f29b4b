//! `[search]`: ML-Master's search parameters as a layer, every key optional, so a file that sets
//! `num_drafts` and flags that set nothing of the search keep every other key from the layers below and
//! the defaults of `mlm_search::SearchConfig`.

use merge::Merge;
use mlm_search::{AfterLoss, ExplorationSchedule, PolicyKind, SearchConfig};
use serde::{Deserialize, Serialize};

/// `[search]`: each key as `SearchConfig` documents it, whether the run ends with an ensemble, and final
/// selection's keys (`reselect_…`, see `crate::final_selection::Reselection`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Merge)]
#[serde(deny_unknown_fields, default)]
#[merge(strategy = merge::option::overwrite_none)]
pub struct SearchLayer {
    pub policy: Option<PolicyKind>,
    /// Written into `<run>/config.toml` by earlier versions; `[run] steps` decides the step budget.
    #[serde(skip_serializing)]
    pub steps: Option<u32>,
    pub num_drafts: Option<u32>,
    pub num_bugs: Option<u32>,
    pub num_improves: Option<u32>,
    pub metric_improvement_threshold: Option<f64>,
    pub max_improve_failure: Option<u32>,
    pub after_loss: Option<AfterLoss>,
    pub back_debug_depth: Option<u32>,
    pub max_debug_depth: Option<u32>,
    pub exploration: Option<ExplorationSchedule>,
    pub debug_prob: Option<f64>,
    pub greedy_max_debug_depth: Option<u32>,
    /// Blend the valid nodes' predictions at the end of the run (`true` by default).
    pub ensemble: Option<bool>,
    /// The best valid nodes re-evaluated on fresh folds at the end (3 by default; 0 or 1 switches final
    /// selection off).
    pub reselect_candidates: Option<u32>,
    /// Fresh fold draws per candidate, from the seeds after the run's (2 by default).
    pub reselect_evaluations: Option<u32>,
    /// The share of the time limit kept for the re-evaluations (0.1 by default).
    pub reselect_share: Option<f64>,
}

impl SearchLayer {
    /// Every key decided; `steps` is the run's step budget, which the exploration schedule reads.
    pub fn resolve(&self, steps: u32) -> SearchConfig {
        let defaults = SearchConfig::default();
        SearchConfig {
            policy: self.policy.unwrap_or(defaults.policy),
            steps,
            num_drafts: self.num_drafts.unwrap_or(defaults.num_drafts),
            num_bugs: self.num_bugs.unwrap_or(defaults.num_bugs),
            num_improves: self.num_improves.unwrap_or(defaults.num_improves),
            metric_improvement_threshold: self
                .metric_improvement_threshold
                .unwrap_or(defaults.metric_improvement_threshold),
            max_improve_failure: self
                .max_improve_failure
                .unwrap_or(defaults.max_improve_failure),
            after_loss: self.after_loss.unwrap_or(defaults.after_loss),
            back_debug_depth: self.back_debug_depth.unwrap_or(defaults.back_debug_depth),
            max_debug_depth: self.max_debug_depth.unwrap_or(defaults.max_debug_depth),
            exploration: self.exploration.unwrap_or(defaults.exploration),
            debug_prob: self.debug_prob.unwrap_or(defaults.debug_prob),
            greedy_max_debug_depth: self
                .greedy_max_debug_depth
                .unwrap_or(defaults.greedy_max_debug_depth),
        }
    }
}

impl From<&SearchConfig> for SearchLayer {
    fn from(config: &SearchConfig) -> SearchLayer {
        SearchLayer {
            policy: Some(config.policy),
            steps: None,
            num_drafts: Some(config.num_drafts),
            num_bugs: Some(config.num_bugs),
            num_improves: Some(config.num_improves),
            metric_improvement_threshold: Some(config.metric_improvement_threshold),
            max_improve_failure: Some(config.max_improve_failure),
            after_loss: Some(config.after_loss),
            back_debug_depth: Some(config.back_debug_depth),
            max_debug_depth: Some(config.max_debug_depth),
            exploration: Some(config.exploration),
            debug_prob: Some(config.debug_prob),
            greedy_max_debug_depth: Some(config.greedy_max_debug_depth),
            ensemble: None,
            reselect_candidates: None,
            reselect_evaluations: None,
            reselect_share: None,
        }
    }
}
