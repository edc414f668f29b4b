//! What a bench records: one line of `<out>/results.jsonl` per finished (competition, seed) run and per
//! baseline, appended as each finishes so that a bench can be resumed, and the settings the directory was
//! made with (`<out>/bench-settings.json`), so that two settings are never mixed in one report.

use std::io::Write;
use std::path::Path;

use mlm_grade::CompetitionReport;
use serde::{Deserialize, Serialize};

use crate::config::CoderChoice;
use crate::error::{Error, Result};

pub const RESULTS_FILE: &str = "results.jsonl";
pub const SETTINGS_FILE: &str = "bench-settings.json";

/// The grading fields a bench aggregates, taken from mlm-grade's [`CompetitionReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    pub metric: String,
    pub lower_is_better: bool,
    /// `None` when the submission is missing or invalid.
    pub score: Option<f64>,
    pub invalid_reason: Option<String>,
    /// The medal fields are `None` when the competition has no leaderboard.
    pub above_median: Option<bool>,
    pub any_medal: Option<bool>,
    pub gold_medal: Option<bool>,
    pub silver_medal: Option<bool>,
    pub bronze_medal: Option<bool>,
}

impl Grade {
    pub fn valid(&self) -> bool {
        self.score.is_some()
    }
}

impl From<&CompetitionReport> for Grade {
    fn from(report: &CompetitionReport) -> Self {
        Grade {
            metric: report.metric.clone(),
            lower_is_better: report.is_lower_better,
            score: report.score,
            invalid_reason: report.invalid_reason.clone(),
            above_median: report.above_median,
            any_medal: report.any_medal,
            gold_medal: report.gold_medal,
            silver_medal: report.silver_medal,
            bronze_medal: report.bronze_medal,
        }
    }
}

/// One agent run: `ml-master run` on one competition with one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub competition: String,
    pub seed: u64,
    /// How the child `ml-master run` ended, e.g. "exit code 0".
    pub exit: String,
    /// The run's selected submission (`best/submission.csv`) graded on the private answers.
    pub grade: Grade,
    /// The selected node's validation metric.
    pub validation_metric: Option<f64>,
    pub nodes: u32,
    pub buggy_nodes: u32,
    /// Wall-clock seconds from the run's creation to its first valid node.
    pub seconds_to_first_valid: Option<f64>,
    pub elapsed_seconds: f64,
    pub tokens: u64,
    /// The part of the prompt tokens read from the provider's prompt cache (0 in results written
    /// before it was recorded).
    #[serde(default)]
    pub cached_prompt_tokens: u64,
    pub cost_usd: f64,
}

/// Which baseline. The order is the report's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// The task's documented simple model (`baseline` in task.toml).
    Simple,
    /// FLAML AutoML with the runs' time budget and cores.
    Flaml,
    /// AutoGluon Tabular (medium_quality preset) with the runs' time budget and cores.
    Autogluon,
}

impl BaselineKind {
    pub fn label(self) -> &'static str {
        match self {
            BaselineKind::Simple => "baseline",
            BaselineKind::Flaml => "FLAML",
            BaselineKind::Autogluon => "AutoGluon",
        }
    }
}

/// One baseline on one competition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineResult {
    pub competition: String,
    pub baseline: BaselineKind,
    pub exit: String,
    pub grade: Grade,
    pub seconds: f64,
}

/// A line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResultLine {
    Run(RunResult),
    Baseline(BaselineResult),
}

/// Everything recorded so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    pub runs: Vec<RunResult>,
    pub baselines: Vec<BaselineResult>,
}

impl Recorded {
    pub fn has_run(&self, competition: &str, seed: u64) -> bool {
        self.runs
            .iter()
            .any(|run| run.competition == competition && run.seed == seed)
    }

    pub fn has_baseline(&self, competition: &str, kind: BaselineKind) -> bool {
        self.baselines
            .iter()
            .any(|baseline| baseline.competition == competition && baseline.baseline == kind)
    }

    /// Reads `results.jsonl`; a missing file is an empty record. A torn last line (the bench was killed
    /// while writing it) is ignored: that pair runs again.
    pub fn read(path: &Path) -> Result<Recorded> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => {
                return Err(Error::Invalid(format!(
                    "{}: cannot read: {error}",
                    path.display()
                )))
            }
        };
        let mut recorded = Recorded::default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        for (index, line) in lines.iter().enumerate() {
            match serde_json::from_str::<ResultLine>(line) {
                Ok(ResultLine::Run(run)) => recorded.runs.push(run),
                Ok(ResultLine::Baseline(baseline)) => recorded.baselines.push(baseline),
                Err(_) if index + 1 == lines.len() && !text.ends_with('\n') => {}
                Err(error) => {
                    return Err(Error::Invalid(format!(
                        "{}:{}: not a bench result: {error}\nhint: this file is written by `ml-master bench`; remove the line to run that pair again",
                        path.display(),
                        index + 1
                    )))
                }
            }
        }
        Ok(recorded)
    }
}

/// Appends one line to `results.jsonl`, flushed before returning.
pub fn append(path: &Path, line: &ResultLine) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(Error::io(&path, "cannot open for appending"))?;
    let text = serde_json::to_string(line)?;
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(Error::io(&path, "cannot write"))
}

/// The settings that decide a bench's numbers; a bench directory holds results of one settings only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSettings {
    pub suite: String,
    pub competitions: Vec<String>,
    pub seeds: u32,
    pub time_limit_seconds: u64,
    pub steps: Option<u32>,
    pub slots: usize,
    pub workers: Option<mlm_engine::Workers>,
    pub coder: Option<CoderChoice>,
    pub config: Option<String>,
    pub baselines: Vec<BaselineKind>,
    /// Parts of the agent switched off for every run; none (the default) is left out of the file, so
    /// a bench directory made before ablations existed still matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ablations: Vec<Ablation>,
}

/// A part of the agent a bench can switch off in every run, to measure what it contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ablation {
    /// No ensemble at the end of a run (`[search] ensemble = false`).
    Ensemble,
    /// No final selection: the best node by validation score is the run's (`[search]
    /// reselect_candidates = 0`), and the search gets the whole time limit.
    Selection,
    /// No planned moves: a trajectory goes on from an improve that lost (`[search] after_loss =
    /// "node"`, ML-Master's rule), and the built-in coder's improves take the first untried change of
    /// the family's list whatever it costs and however its siblings fared (`[builtin] improve_choice =
    /// "in_order"`).
    Moves,
}

impl BenchSettings {
    /// Writes the settings into a new bench directory, or checks them against the ones it holds.
    pub fn claim(&self, out: &Path) -> Result<()> {
        let path = out.join(SETTINGS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let recorded: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
                    Error::Invalid(format!("{}: not bench settings: {error}", path.display()))
                })?;
                let current = serde_json::to_value(self)?;
                let differing: Vec<String> = match (&current, &recorded) {
                    (serde_json::Value::Object(now), serde_json::Value::Object(then)) => now
                        .iter()
                        .filter(|(key, value)| then.get(*key) != Some(value))
                        .map(|(key, value)| {
                            let before = then.get(key).cloned().unwrap_or_default();
                            format!("{key}: {value} now, {before} there")
                        })
                        .collect(),
                    _ => vec!["the whole file".to_string()],
                };
                if differing.is_empty() {
                    return Ok(());
                }
                Err(Error::Invalid(format!(
                    "{}: this bench directory holds results of other settings ({})\nhint: rerun with the settings it was made with, or pass another --out",
                    path.display(),
                    differing.join("; ")
                )))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::write(&path, serde_json::to_string_pretty(self)?)
                    .map_err(Error::io(&path, "cannot write"))
            }
            Err(error) => Err(Error::Invalid(format!(
                "{}: cannot read: {error}",
                path.display()
            ))),
        }
    }
}
