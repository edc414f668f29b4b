//! The bench report: MLE-bench's aggregate figures (valid submission, above median, any medal, gold,
//! silver, bronze), each a percentage of the suite's competitions per seed, then mean ± SEM over seeds;
//! and one row per competition with its scores, search statistics and ratios against the baselines.
//!
//! SEM is the sample standard deviation (n − 1) over √n; with one seed it is undefined and left out
//! (`null` in JSON, no "±" in markdown). Medal and median percentages count only the competitions that
//! have a leaderboard; with none, they are absent ("—").

use serde::Serialize;

use crate::bench::results::{BaselineKind, BenchSettings, Grade, Recorded, RunResult};

/// A mean over seeds (or runs) with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanSem {
    pub mean: f64,
    /// `None` with fewer than two values.
    pub sem: Option<f64>,
    pub n: usize,
}

/// Mean and standard error of `values`; `None` when there are none.
pub fn mean_sem(values: &[f64]) -> Option<MeanSem> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sem = (n >= 2).then(|| {
        let variance = values
            .iter()
            .map(|value| (value - mean).powi(2))
            .sum::<f64>()
            / (n - 1) as f64;
        variance.sqrt() / (n as f64).sqrt()
    });
    Some(MeanSem { mean, sem, n })
}

/// MLE-bench's aggregate figures, in percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    pub competitions: usize,
    pub seeds: usize,
    /// Competitions with a leaderboard, which the medal and median figures count.
    pub competitions_with_leaderboard: usize,
    pub valid_submission: Option<MeanSem>,
    pub above_median: Option<MeanSem>,
    pub any_medal: Option<MeanSem>,
    pub gold_medal: Option<MeanSem>,
    pub silver_medal: Option<MeanSem>,
    pub bronze_medal: Option<MeanSem>,
}

/// One competition's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompetitionRow {
    pub competition: String,
    pub metric: String,
    pub lower_is_better: bool,
    pub runs: usize,
    pub valid_runs: usize,
    /// Over the runs with a valid submission.
    pub test_score: Option<MeanSem>,
    pub validation_score: Option<MeanSem>,
    pub steps: Option<MeanSem>,
    /// Buggy nodes over all nodes of all runs.
    pub buggy_rate: Option<f64>,
    pub seconds_to_first_valid: Option<MeanSem>,
    pub tokens: Option<MeanSem>,
    /// Prompt tokens read from the provider's prompt cache, per run.
    pub cached_prompt_tokens: Option<MeanSem>,
    pub cost_usd: Option<MeanSem>,
    pub baseline_score: Option<f64>,
    pub flaml_score: Option<f64>,
    pub autogluon_score: Option<f64>,
    /// The mean test score against the baseline's: above 1 is better, whatever the metric's direction.
    pub ratio_to_baseline: Option<f64>,
    pub ratio_to_flaml: Option<f64>,
    pub ratio_to_autogluon: Option<f64>,
}

/// How many competitions the agent's mean test score matches or beats a baseline on (ratio ≥ 1), out of
/// those where both have a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub matched_or_beaten: usize,
    pub compared: usize,
}

/// `bench.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub settings: BenchSettings,
    pub aggregate: Aggregate,
    pub versus_baseline: Tally,
    pub versus_flaml: Tally,
    pub versus_autogluon: Tally,
    pub competitions: Vec<CompetitionRow>,
    pub runs: Vec<RunResult>,
    pub baselines: Vec<crate::bench::results::BaselineResult>,
}

/// `score` against `baseline`, oriented so that above 1 means better than the baseline.
pub fn ratio(score: f64, baseline: f64, lower_is_better: bool) -> Option<f64> {
    let value = if lower_is_better {
        baseline / score
    } else {
        score / baseline
    };
    value.is_finite().then_some(value)
}

/// Builds the report of `competitions` (ids, in suite order) from what was recorded.
pub fn build_report(
    settings: BenchSettings,
    competitions: &[String],
    recorded: &Recorded,
) -> BenchReport {
    let seeds: Vec<u64> = (0..u64::from(settings.seeds)).collect();
    let aggregate = aggregate(competitions, &seeds, &recorded.runs);
    let rows: Vec<CompetitionRow> = competitions
        .iter()
        .map(|competition| competition_row(competition, recorded))
        .collect();
    let tally = |ratio: fn(&CompetitionRow) -> Option<f64>| {
        let ratios: Vec<f64> = rows.iter().filter_map(ratio).collect();
        Tally {
            matched_or_beaten: ratios.iter().filter(|ratio| **ratio >= 1.0).count(),
            compared: ratios.len(),
        }
    };
    BenchReport {
        settings,
        aggregate,
        versus_baseline: tally(|row| row.ratio_to_baseline),
        versus_flaml: tally(|row| row.ratio_to_flaml),
        versus_autogluon: tally(|row| row.ratio_to_autogluon),
        competitions: rows,
        runs: recorded.runs.clone(),
        baselines: recorded.baselines.clone(),
    }
}

fn aggregate(competitions: &[String], seeds: &[u64], runs: &[RunResult]) -> Aggregate {
    let grades_of_seed = |seed: u64| -> Vec<Option<&Grade>> {
        competitions
            .iter()
            .map(|competition| {
                runs.iter()
                    .find(|run| &run.competition == competition && run.seed == seed)
                    .map(|run| &run.grade)
            })
            .collect()
    };
    // Per seed: the share of all competitions with a valid submission (a missing run counts as none).
    let valid: Vec<f64> = seeds
        .iter()
        .map(|&seed| {
            let grades = grades_of_seed(seed);
            percent(
                grades
                    .iter()
                    .filter(|grade| grade.is_some_and(Grade::valid))
                    .count(),
                competitions.len(),
            )
        })
        .collect();
    let medal_figure = |field: fn(&Grade) -> Option<bool>| -> Option<MeanSem> {
        let per_seed: Vec<f64> = seeds
            .iter()
            .filter_map(|&seed| {
                let flags: Vec<bool> = grades_of_seed(seed)
                    .into_iter()
                    .flatten()
                    .filter_map(field)
                    .collect();
                (!flags.is_empty())
                    .then(|| percent(flags.iter().filter(|flag| **flag).count(), flags.len()))
            })
            .collect();
        mean_sem(&per_seed)
    };
    let with_leaderboard = competitions
        .iter()
        .filter(|competition| {
            runs.iter()
                .any(|run| &run.competition == *competition && run.grade.any_medal.is_some())
        })
        .count();
    Aggregate {
        competitions: competitions.len(),
        seeds: seeds.len(),
        competitions_with_leaderboard: with_leaderboard,
        valid_submission: mean_sem(&valid),
        above_median: medal_figure(|grade| grade.above_median),
        any_medal: medal_figure(|grade| grade.any_medal),
        gold_medal: medal_figure(|grade| grade.gold_medal),
        silver_medal: medal_figure(|grade| grade.silver_medal),
        bronze_medal: medal_figure(|grade| grade.bronze_medal),
    }
}

fn percent(count: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * count as f64 / total as f64
    }
}

fn competition_row(competition: &str, recorded: &Recorded) -> CompetitionRow {
    let runs: Vec<&RunResult> = recorded
        .runs
        .iter()
        .filter(|run| run.competition == competition)
        .collect();
    let baseline_score = |kind: BaselineKind| {
        recorded
            .baselines
            .iter()
            .find(|baseline| baseline.competition == competition && baseline.baseline == kind)
            .and_then(|baseline| baseline.grade.score)
    };
    let grade_of_any = runs.first().map(|run| &run.grade).or_else(|| {
        recorded
            .baselines
            .iter()
            .find(|baseline| baseline.competition == competition)
            .map(|baseline| &baseline.grade)
    });
    let metric = grade_of_any.map_or(String::new(), |grade| grade.metric.clone());
    let lower_is_better = grade_of_any.is_some_and(|grade| grade.lower_is_better);
    let scores: Vec<f64> = runs.iter().filter_map(|run| run.grade.score).collect();
    let test_score = mean_sem(&scores);
    let collect = |value: fn(&RunResult) -> Option<f64>| -> Option<MeanSem> {
        mean_sem(
            &runs
                .iter()
                .filter_map(|run| value(run))
                .collect::<Vec<f64>>(),
        )
    };
    let nodes: u32 = runs.iter().map(|run| run.nodes).sum();
    let buggy: u32 = runs.iter().map(|run| run.buggy_nodes).sum();
    let baseline = baseline_score(BaselineKind::Simple);
    let flaml = baseline_score(BaselineKind::Flaml);
    let autogluon = baseline_score(BaselineKind::Autogluon);
    let ratio_to = |reference: Option<f64>| {
        test_score
            .zip(reference)
            .and_then(|(score, reference)| ratio(score.mean, reference, lower_is_better))
    };
    CompetitionRow {
        competition: competition.to_string(),
        metric,
        lower_is_better,
        runs: runs.len(),
        valid_runs: scores.len(),
        test_score,
        validation_score: collect(|run| run.validation_metric),
        steps: collect(|run| Some(f64::from(run.nodes))),
        buggy_rate: (nodes > 0).then(|| f64::from(buggy) / f64::from(nodes)),
        seconds_to_first_valid: collect(|run| run.seconds_to_first_valid),
        tokens: collect(|run| Some(run.tokens as f64)),
        cached_prompt_tokens: collect(|run| Some(run.cached_prompt_tokens as f64)),
        cost_usd: collect(|run| Some(run.cost_usd)),
        baseline_score: baseline,
        flaml_score: flaml,
        autogluon_score: autogluon,
        ratio_to_baseline: ratio_to(baseline),
        ratio_to_flaml: ratio_to(flaml),
        ratio_to_autogluon: ratio_to(autogluon),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_standard_error_with_fixed_numbers() {
        let figure = mean_sem(&[50.0, 100.0, 75.0]).unwrap();
        assert_eq!(figure.mean, 75.0);
        // Sample standard deviation 25, over √3.
        assert!((figure.sem.unwrap() - 25.0 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(figure.n, 3);
        assert_eq!(mean_sem(&[42.0]).unwrap().sem, None, "one seed: no SEM");
        assert_eq!(mean_sem(&[]), None);
    }

    #[test]
    fn ratios_read_above_one_as_better_in_both_directions() {
        assert_eq!(ratio(0.9, 0.6, false), Some(1.5));
        assert_eq!(ratio(0.5, 2.0, true), Some(4.0));
        assert_eq!(ratio(0.5, 0.0, false), None);
    }
}
