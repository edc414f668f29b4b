//! `bench.md`: the bench report as markdown tables, for people and for the README's Results section.

use std::fmt::Write;

use crate::bench::aggregate::{BenchReport, CompetitionRow, MeanSem};
use crate::bench::results::BaselineKind;

/// The whole report as markdown.
pub fn render(report: &BenchReport) -> String {
    let mut text = String::new();
    let settings = &report.settings;
    let aggregate = &report.aggregate;
    let _ = writeln!(
        text,
        "{} competition(s) × {} seed(s), {} s and {} per run, {} slot(s)\n",
        aggregate.competitions,
        aggregate.seeds,
        settings.time_limit_seconds,
        settings
            .steps
            .map_or("the configured steps".to_string(), |steps| format!(
                "{steps} steps"
            )),
        settings.slots,
    );
    let _ = writeln!(text, "| measure (mean ± SEM over seeds) | agent |");
    let _ = writeln!(text, "|---|---|");
    for (name, figure) in [
        ("valid submission", aggregate.valid_submission),
        ("above median", aggregate.above_median),
        ("any medal", aggregate.any_medal),
        ("gold", aggregate.gold_medal),
        ("silver", aggregate.silver_medal),
        ("bronze", aggregate.bronze_medal),
    ] {
        let _ = writeln!(text, "| {name} | {} |", percent(figure));
    }
    if aggregate.competitions_with_leaderboard < aggregate.competitions {
        let _ = writeln!(
            text,
            "\nMedals and the median count the {} of {} competitions that have a leaderboard; \"—\" means none has.",
            aggregate.competitions_with_leaderboard, aggregate.competitions
        );
    }
    // The AutoML baselines that ran, in the settings' order: two columns each and a clause of the tally.
    let automl: Vec<BaselineKind> = settings
        .baselines
        .iter()
        .copied()
        .filter(|kind| *kind != BaselineKind::Simple)
        .collect();
    let _ = write!(
        text,
        "\n| competition | metric | test score | valid runs | baseline | vs baseline |"
    );
    for kind in &automl {
        let _ = write!(text, " {0} | vs {0} |", kind.label());
    }
    let _ = writeln!(
        text,
        " validation | steps | buggy | first valid (s) | tokens | cached tokens | cost (USD) |"
    );
    let columns = 13 + 2 * automl.len();
    let _ = writeln!(text, "|{}", "---|".repeat(columns));
    for row in &report.competitions {
        let direction = if row.lower_is_better { " ↓" } else { "" };
        let _ = write!(
            text,
            "| {} | {}{direction} | {} | {}/{} | {} | {} |",
            row.competition,
            row.metric,
            score(row.test_score),
            row.valid_runs,
            row.runs,
            plain(row.baseline_score, 4),
            times(row.ratio_to_baseline),
        );
        for &kind in &automl {
            let (score, ratio) = against(row, kind);
            let _ = write!(text, " {} | {} |", plain(score, 4), times(ratio));
        }
        let _ = writeln!(
            text,
            " {} | {} | {} | {} | {} | {} | {} |",
            score(row.validation_score),
            number(row.steps, 1),
            row.buggy_rate
                .map_or("—".to_string(), |rate| format!("{:.0}%", rate * 100.0)),
            number(row.seconds_to_first_valid, 0),
            number(row.tokens, 0),
            number(row.cached_prompt_tokens, 0),
            number(row.cost_usd, 2),
        );
    }
    let _ = write!(
        text,
        "\nThe agent matches or beats the simple baseline on {} of {} competitions",
        report.versus_baseline.matched_or_beaten, report.versus_baseline.compared
    );
    let clauses: Vec<String> = automl
        .iter()
        .map(|&kind| {
            let tally = match kind {
                BaselineKind::Simple => report.versus_baseline,
                BaselineKind::Flaml => report.versus_flaml,
                BaselineKind::Autogluon => report.versus_autogluon,
            };
            format!(
                "{} on {} of {}",
                kind.label(),
                tally.matched_or_beaten,
                tally.compared
            )
        })
        .collect();
    match clauses.split_last() {
        None => {}
        Some((last, [])) => {
            let _ = write!(text, ", and {last}");
        }
        Some((last, rest)) => {
            let _ = write!(text, ", {} and {last}", rest.join(", "));
        }
    }
    let _ = writeln!(text, ".");
    let _ = writeln!(
        text,
        "\nScores are on the private test answers (↓: lower is better). \"vs\" columns divide the mean test score by the baseline's (the baseline's by ours when lower is better): above 1 is better than the baseline."
    );
    text
}

/// A baseline's test score on `row`'s competition and the agent's ratio to it.
fn against(row: &CompetitionRow, kind: BaselineKind) -> (Option<f64>, Option<f64>) {
    match kind {
        BaselineKind::Simple => (row.baseline_score, row.ratio_to_baseline),
        BaselineKind::Flaml => (row.flaml_score, row.ratio_to_flaml),
        BaselineKind::Autogluon => (row.autogluon_score, row.ratio_to_autogluon),
    }
}

fn percent(figure: Option<MeanSem>) -> String {
    match figure {
        None => "—".to_string(),
        Some(MeanSem {
            mean,
            sem: Some(sem),
            ..
        }) => format!("{mean:.1}% ± {sem:.1}"),
        Some(MeanSem {
            mean, sem: None, ..
        }) => format!("{mean:.1}%"),
    }
}

fn score(figure: Option<MeanSem>) -> String {
    number(figure, 4)
}

fn number(figure: Option<MeanSem>, decimals: usize) -> String {
    match figure {
        None => "—".to_string(),
        Some(MeanSem {
            mean,
            sem: Some(sem),
            ..
        }) => format!("{mean:.decimals$} ± {sem:.decimals$}"),
        Some(MeanSem {
            mean, sem: None, ..
        }) => format!("{mean:.decimals$}"),
    }
}

fn plain(value: Option<f64>, decimals: usize) -> String {
    value.map_or("—".to_string(), |value| format!("{value:.decimals$}"))
}

fn times(value: Option<f64>) -> String {
    value.map_or("—".to_string(), |value| format!("×{value:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::aggregate::build_report;
    use crate::bench::results::{
        BaselineKind, BaselineResult, BenchSettings, Grade, Recorded, RunResult,
    };

    fn grade(metric: &str, score: Option<f64>, medal: Option<bool>) -> Grade {
        Grade {
            metric: metric.to_string(),
            lower_is_better: metric == "log_loss",
            score,
            invalid_reason: score.is_none().then(|| "no submission".to_string()),
            above_median: medal,
            any_medal: medal,
            gold_medal: medal.map(|_| false),
            silver_medal: medal.map(|_| false),
            bronze_medal: medal,
        }
    }

    fn run(competition: &str, seed: u64, grade: Grade) -> RunResult {
        RunResult {
            competition: competition.to_string(),
            seed,
            exit: "exit code 0".to_string(),
            validation_metric: grade.score.map(|score| score + 0.01),
            grade,
            nodes: 10,
            buggy_nodes: 2,
            seconds_to_first_valid: Some(30.0 + seed as f64 * 10.0),
            elapsed_seconds: 120.0,
            tokens: 0,
            cached_prompt_tokens: 1024,
            cost_usd: 0.0,
        }
    }

    fn baseline(competition: &str, kind: BaselineKind, grade: Grade) -> BaselineResult {
        BaselineResult {
            competition: competition.to_string(),
            baseline: kind,
            exit: "exit code 0".to_string(),
            grade,
            seconds: 1.0,
        }
    }

    /// Two competitions × two seeds: `titanic` has a leaderboard and medals in seed 0 only; `leaf` has
    /// none and fails in seed 1. FLAML fails on `leaf`; AutoGluon beats the agent on both.
    fn fixture() -> BenchReport {
        let recorded = Recorded {
            runs: vec![
                run("titanic", 0, grade("accuracy", Some(0.8), Some(true))),
                run("titanic", 1, grade("accuracy", Some(0.7), Some(false))),
                run("leaf", 0, grade("log_loss", Some(0.5), None)),
                run("leaf", 1, grade("log_loss", None, None)),
            ],
            baselines: vec![
                baseline(
                    "titanic",
                    BaselineKind::Simple,
                    grade("accuracy", Some(0.6), Some(false)),
                ),
                baseline(
                    "titanic",
                    BaselineKind::Flaml,
                    grade("accuracy", Some(0.75), Some(true)),
                ),
                baseline(
                    "leaf",
                    BaselineKind::Simple,
                    grade("log_loss", Some(3.0), None),
                ),
                baseline("leaf", BaselineKind::Flaml, grade("log_loss", None, None)),
                baseline(
                    "titanic",
                    BaselineKind::Autogluon,
                    grade("accuracy", Some(0.78), Some(true)),
                ),
                baseline(
                    "leaf",
                    BaselineKind::Autogluon,
                    grade("log_loss", Some(0.4), None),
                ),
            ],
        };
        let settings = BenchSettings {
            suite: "suite.toml".to_string(),
            competitions: vec!["titanic".to_string(), "leaf".to_string()],
            seeds: 2,
            time_limit_seconds: 120,
            steps: None,
            slots: 2,
            workers: None,
            coder: None,
            config: None,
            baselines: vec![
                BaselineKind::Simple,
                BaselineKind::Flaml,
                BaselineKind::Autogluon,
            ],
            ablations: Vec::new(),
        };
        build_report(
            settings,
            &["titanic".to_string(), "leaf".to_string()],
            &recorded,
        )
    }

    #[test]
    fn the_aggregate_takes_percentages_per_seed_then_mean_and_sem() {
        let report = fixture();
        let aggregate = &report.aggregate;
        // Seed 0: 2/2 valid; seed 1: 1/2 valid.
        let valid = aggregate.valid_submission.unwrap();
        assert_eq!(valid.mean, 75.0);
        assert!((valid.sem.unwrap() - 25.0).abs() < 1e-12, "{valid:?}");
        // Only titanic has a leaderboard: a medal in seed 0 (100%), none in seed 1 (0%).
        assert_eq!(aggregate.competitions_with_leaderboard, 1);
        let medal = aggregate.any_medal.unwrap();
        assert_eq!((medal.mean, medal.sem), (50.0, Some(50.0)));
        assert_eq!(aggregate.gold_medal.unwrap().mean, 0.0);
        let titanic = &report.competitions[0];
        assert!((titanic.test_score.unwrap().mean - 0.75).abs() < 1e-12);
        assert!((titanic.ratio_to_baseline.unwrap() - 1.25).abs() < 1e-12);
        let leaf = &report.competitions[1];
        assert_eq!((leaf.valid_runs, leaf.runs), (1, 2));
        assert_eq!(
            leaf.ratio_to_baseline,
            Some(6.0),
            "3.0 / 0.5, lower is better"
        );
        assert_eq!(leaf.ratio_to_flaml, None, "FLAML failed on leaf");
        assert_eq!(leaf.buggy_rate, Some(0.2));
        assert_eq!(
            (
                report.versus_baseline.matched_or_beaten,
                report.versus_baseline.compared
            ),
            (2, 2)
        );
        assert_eq!(
            (
                report.versus_flaml.matched_or_beaten,
                report.versus_flaml.compared
            ),
            (1, 1)
        );
        assert_eq!(leaf.ratio_to_autogluon, Some(0.8), "0.4 / 0.5");
        assert_eq!(
            (
                report.versus_autogluon.matched_or_beaten,
                report.versus_autogluon.compared
            ),
            (0, 2),
            "AutoGluon beats the agent on both"
        );
    }

    #[test]
    fn the_markdown_report() {
        insta::assert_snapshot!(render(&fixture()));
    }
}
