//! The built-in coder: the agent's operators without any language model. It reads the task's schema
//! from the public files, drafts complete scripts from templates (a different model family per
//! draft), improves a script by changing exactly one of the options recorded on its first line,
//! debugs by recognising common failures in the output and patching the options, and reviews a run
//! from its status, metrics.json and the grader's validation message.
//!
//! Choices are deterministic: they follow from the memory (what was tried and how it scored) and
//! from how many siblings other workers are writing at the same moment, which take the next choices
//! down the same list. The request's seed is not needed; the run's seed seeds the scripts' models
//! (`BuiltinCoder::with_run_seed`).

mod debug;
mod draft;
mod family;
#[cfg(test)]
pub(crate) mod fixtures;
mod improve;
mod moves;
mod options;
mod render;
mod review;
mod schema;

pub(crate) use schema::{classify, parses_as_number, ColumnKind};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use mlm_search::Stage;
use serde::{Deserialize, Serialize};

use crate::operator::{
    Coder, CoderError, Proposal, ProposalRequest, Review, ReviewRequest, TaskBrief, TokenUsage,
};
use schema::{LabelSource, Problem, TaskSchema};

/// How the run's cross-validation folds keep rows apart, as this coder's schema reads the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoldDesign {
    /// Each class of this train.csv column spread evenly over the folds.
    Stratified { label_column: String },
    /// Every value of this column on one side of each split: train.csv and test.csv were split by it.
    Grouped { group_column: String },
    /// Blocks of consecutive rows in this column's order, the latest tenth as fold 0, the one before as
    /// fold 1, and so on: train.csv and test.csv were split by it (a forecast's time), so a hold-out
    /// split (folds 0 and 1) validates on the latest rows, as the test set lies after them. The same
    /// for every seed.
    TimeOrdered { order_column: String },
    /// Rows shuffled and dealt out.
    Plain,
}

impl FoldDesign {
    /// The design for `task`: time-ordered where a column's order split train from test, grouped where
    /// the schema finds a grouping column, stratified for classification by one label column, plain
    /// otherwise (also when the schema cannot be read: an
    /// LLM coder may still solve such a task).
    pub fn for_task(task: &TaskBrief) -> FoldDesign {
        let Ok(schema) = schema::detect(task) else {
            return FoldDesign::Plain;
        };
        // Before groups: a forecast's unseen months group its rows too, but the months follow time.
        if let Some(order_column) = &schema.split_order_column {
            return FoldDesign::TimeOrdered {
                order_column: order_column.clone(),
            };
        }
        if let Some(group_column) = schema.group_column() {
            return FoldDesign::Grouped {
                group_column: group_column.to_string(),
            };
        }
        let label_column = match (schema.problem(), &schema.target.source) {
            (Problem::Classification, LabelSource::Column(label_column)) => Some(label_column),
            (Problem::Classification, LabelSource::TargetColumns) => {
                match schema.target.source_columns.as_slice() {
                    [label_column] => Some(label_column),
                    _ => None,
                }
            }
            (Problem::Classification, LabelSource::OneHotColumns) | (Problem::Regression, _) => {
                None
            }
        };
        match label_column {
            Some(label_column) => FoldDesign::Stratified {
                label_column: label_column.clone(),
            },
            None => FoldDesign::Plain,
        }
    }
}

/// The offline coder. Cheap to create; it caches each task's schema after reading it once.
#[derive(Debug)]
pub struct BuiltinCoder {
    schemas: Mutex<HashMap<(String, PathBuf), Arc<TaskSchema>>>,
    improve_choice: ImproveChoice,
    /// The seed of the scripts' first model (their `SEED`); a seed ensemble counts up from it.
    first_seed: u32,
}

impl Default for BuiltinCoder {
    fn default() -> Self {
        BuiltinCoder {
            schemas: Mutex::default(),
            improve_choice: ImproveChoice::default(),
            first_seed: render::FIRST_SEED,
        }
    }
}

/// How an improve picks its one change among the untried ones (`[builtin] improve_choice`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImproveChoice {
    /// Only changes the time left and the node timeout can afford; a setting whose change made a
    /// sibling worse, or that the parent itself just changed, waits behind the others.
    #[default]
    Planned,
    /// The first untried change of the family's list, whatever it costs and however its siblings
    /// fared: the baseline that `bench --ablate moves` measures the planned choice against.
    InOrder,
}

impl BuiltinCoder {
    /// Rows of `train.csv` and `test.csv` the brief carries for this coder to judge the columns by:
    /// every bundled task fits whole; bigger files are judged by their start.
    pub const SAMPLE_ROWS: usize = 20_000;

    pub fn new() -> Self {
        BuiltinCoder::default()
    }

    /// The coder for a run with seed `run_seed`: its scripts seed their models (and row samples) with
    /// `42 + run_seed`, so that runs with different seeds measure different models even where the run's
    /// folds are the same for every seed (time-ordered ones), and a node's re-runs train the same models.
    #[must_use]
    pub fn with_run_seed(mut self, run_seed: u64) -> Self {
        // numpy and scikit-learn take seeds below 2^32; keep the sum and the seed ensemble's count below it.
        let shift = u32::try_from(run_seed % (1 << 31)).unwrap_or_default();
        self.first_seed = render::FIRST_SEED + shift;
        self
    }

    /// The coder with `choice` deciding its improves.
    #[must_use]
    pub fn with_improve_choice(mut self, choice: ImproveChoice) -> Self {
        self.improve_choice = choice;
        self
    }

    fn schema(&self, task: &TaskBrief) -> Result<Arc<TaskSchema>, CoderError> {
        let key = (task.competition_id.clone(), task.public_dir.clone());
        if let Some(schema) = self
            .schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok(Arc::clone(schema));
        }
        let schema = Arc::new(schema::detect(task)?);
        self.schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&schema));
        Ok(schema)
    }
}

/// A network trains for at most this share of the node timeout or of the run's time left, whichever is
/// less: loading the images and predicting the test set take the rest.
const TRAINING_SHARE: f64 = 0.5;
/// …and never less than this, so that a nearly spent run still trains an epoch or two.
const MINIMUM_TRAINING_SECONDS: f64 = 10.0;

fn training_seconds(budget: &crate::operator::Budget) -> u32 {
    let room = budget.node_timeout.min(budget.time_remaining).as_secs_f64();
    (room * TRAINING_SHARE)
        .max(MINIMUM_TRAINING_SECONDS)
        .round() as u32
}

#[async_trait::async_trait]
impl Coder for BuiltinCoder {
    fn name(&self) -> String {
        "builtin".to_string()
    }

    async fn propose(
        &self,
        task: &TaskBrief,
        request: &ProposalRequest,
    ) -> Result<Proposal, CoderError> {
        let schema = self.schema(task)?;
        let (plan, mut options) = match request.stage {
            Stage::Draft => draft::propose(&schema, request),
            Stage::Improve => improve::propose(&schema, request, self.improve_choice)?,
            Stage::Debug => debug::propose(&schema, request)?,
        };
        if options.family == family::Family::ConvolutionalNetwork {
            options.training_seconds = Some(training_seconds(&request.budget));
        }
        let code = render::render(&schema, &options, &plan, self.first_seed)?;
        Ok(Proposal {
            plan,
            code,
            usage: TokenUsage::default(),
            calls: Vec::new(),
        })
    }

    async fn review(
        &self,
        task: &TaskBrief,
        request: &ReviewRequest,
    ) -> Result<Review, CoderError> {
        Ok(review::review(task, request))
    }
}

#[cfg(test)]
mod tests;
