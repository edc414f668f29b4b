//! Showing a run's events: on a terminal, a live view (see [`crate::live`]) under one log line per node;
//! elsewhere (a pipe, a file, `NO_COLOR`, `TERM=dumb`) the same log lines alone; with `--json`, JSON lines
//! on stdout. The log goes to stderr; how the run ended (the result) to stdout.

use std::io::IsTerminal;
use std::time::Instant;

use mlm_agent::{EnsembleReport, FinalReport, TestScore};
use mlm_engine::{Event, RunLayout, RunSummary, StopReason};
use mlm_search::{Direction, Metric, Outcome};

use crate::live::LiveView;

/// Set (to anything) to turn colour and the live view off.
const NO_COLOR_ENV: &str = "NO_COLOR";
/// `dumb` turns the live view off.
const TERM_ENV: &str = "TERM";

/// How events reach the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// JSON lines on stdout.
    Json,
    /// Log lines on stderr.
    Plain,
    /// Log lines under a redrawn status block on stderr.
    Live,
}

impl Style {
    /// JSON when asked; the live view when stderr is a capable terminal; plain lines otherwise.
    pub fn detect(json: bool) -> Style {
        let capable = std::io::stderr().is_terminal()
            && std::env::var_os(NO_COLOR_ENV).is_none()
            && std::env::var(TERM_ENV).as_deref() != Ok("dumb");
        match (json, capable) {
            (true, _) => Style::Json,
            (false, true) => Style::Live,
            (false, false) => Style::Plain,
        }
    }
}

/// Where the output goes, with the live view's state.
enum Output {
    Json,
    Plain,
    Live(Box<LiveView>),
}

/// Prints events as they arrive.
pub struct Progress {
    output: Output,
    steps: u32,
    started: Instant,
    finished_nodes: u32,
    metric_name: String,
}

impl Progress {
    pub fn new(style: Style, steps: u32) -> Self {
        let output = match style {
            Style::Json => Output::Json,
            Style::Plain => Output::Plain,
            Style::Live => Output::Live(Box::new(LiveView::new(steps, "metric"))),
        };
        Progress {
            output,
            steps,
            started: Instant::now(),
            finished_nodes: 0,
            metric_name: "metric".to_string(),
        }
    }

    pub fn with_metric_name(mut self, name: &str) -> Self {
        self.metric_name = name.to_string();
        if let Output::Live(view) = &mut self.output {
            **view = LiveView::new(self.steps, name);
        }
        self
    }

    pub fn show(&mut self, event: &Event) {
        let lines = match self.output {
            Output::Json => {
                if let Ok(line) = serde_json::to_string(event) {
                    println!("{line}");
                }
                return;
            }
            Output::Plain | Output::Live(_) => self.log_lines(event),
        };
        let elapsed = self.started.elapsed();
        match &mut self.output {
            Output::Json => {}
            Output::Plain => {
                for line in lines {
                    eprintln!("{line}");
                }
            }
            Output::Live(view) => {
                view.update(event, elapsed);
                view.redraw(&lines, elapsed);
            }
        }
    }

    /// Redraws the live view (its clocks move); nothing in the other styles.
    pub fn tick(&mut self) {
        let elapsed = self.started.elapsed();
        match &mut self.output {
            Output::Live(view) => view.redraw(&[], elapsed),
            Output::Json | Output::Plain => {}
        }
    }

    /// The log lines an event adds (none for most).
    fn log_lines(&mut self, event: &Event) -> Vec<String> {
        let clock = format!("[{:>5.0}s]", self.started.elapsed().as_secs_f64());
        let mut lines = Vec::new();
        match event {
            Event::RunStarted { resumed_nodes, .. } if *resumed_nodes > 0 => {
                self.finished_nodes = *resumed_nodes;
                lines.push(format!("{clock} continuing after {resumed_nodes} nodes"));
            }
            Event::NodeFinished {
                node,
                parent,
                stage,
                execution_status,
                outcome,
                summary,
                execute_seconds,
                ..
            } => {
                self.finished_nodes += 1;
                let origin = match parent {
                    Some(parent) => format!("{stage:?} of node {parent}").to_lowercase(),
                    None => "draft".to_string(),
                };
                let verdict = match outcome {
                    Outcome::Valid { metric } => {
                        format!("{} {:.5}", self.metric_name, metric.value)
                    }
                    Outcome::Invalid { .. } => "invalid submission".to_string(),
                    Outcome::Buggy => format!("buggy ({})", execution_status.name()),
                };
                lines.push(format!(
                    "{clock} step {}/{}: node {node} ({origin}) {verdict} in {execute_seconds:.1} s — {}",
                    self.finished_nodes,
                    self.steps,
                    first_sentence(summary)
                ));
            }
            Event::BestImproved { node, metric } => {
                lines.push(format!(
                    "{clock}   new best: node {node}, {} {metric:.5}",
                    self.metric_name
                ));
            }
            Event::ProposalFailed {
                stage,
                parent,
                reason,
                ..
            } => {
                let target = parent.map_or(String::new(), |parent| format!(" of node {parent}"));
                lines.push(format!(
                    "{clock} no {} proposal{target}: {reason}",
                    stage.name()
                ));
            }
            Event::Warning { message } => lines.push(format!("{clock} warning: {message}")),
            Event::Reevaluating { node, seed } => lines.push(format!(
                "{clock} final selection: node {node} runs again on fresh folds (seed {seed})"
            )),
            Event::RunStarted { .. }
            | Event::WorkersChanged { .. }
            | Event::Proposing { .. }
            | Event::Executing { .. }
            | Event::Reviewing { .. }
            | Event::RunFinished { .. } => {}
        }
        lines
    }

    pub fn finish(&mut self, summary: &RunSummary, report: &FinalReport, layout: &RunLayout) {
        match &mut self.output {
            Output::Json => {
                if let Ok(line) =
                    serde_json::to_string(&serde_json::json!({"event": "report", "report": report}))
                {
                    println!("{line}");
                }
                return;
            }
            Output::Live(view) => view.clear(),
            Output::Plain => {}
        }
        let reason = match summary.reason {
            StopReason::StepsExhausted => "the step budget is spent",
            StopReason::TimeLimit => "the time limit is reached",
            StopReason::TokenBudget => "the token budget is spent",
            StopReason::CostBudget => "the cost budget is spent",
            StopReason::SearchExhausted => "the search has nothing left to expand",
            StopReason::Interrupted => "interrupted",
            StopReason::CoderFailed => "the coder cannot go on",
        };
        println!(
            "Stopped after {} nodes and {:.0} s: {reason}.",
            summary.nodes,
            summary.elapsed.as_secs_f64()
        );
        let tokens = summary.prompt_tokens + summary.completion_tokens;
        if tokens > 0 {
            println!(
                "Model usage: {tokens} tokens ({} prompt, {} of them cached; {} completion), ${:.4}",
                summary.prompt_tokens,
                summary.cached_prompt_tokens,
                summary.completion_tokens,
                summary.cost_usd
            );
        }
        match (&report.selected, &report.grading) {
            (Some(node), Some(grading)) => {
                let test = grading
                    .score
                    .map_or("invalid".to_string(), |score| format!("{score:.5}"));
                let validation = report.validation_metric.unwrap_or(f64::NAN);
                if let Some(selection) = &report.selection {
                    println!("Final selection: {}", selection.reason);
                }
                match &report.ensemble {
                    Some(ensemble) if ensemble.selected => println!(
                        "Selected the ensemble of {}: out-of-fold {} {validation:.5}; test score {test}",
                        members(ensemble),
                        self.metric_name
                    ),
                    Some(_) | None => println!(
                        "Selected node {node}: validation {} {validation:.5}; test score {test}",
                        self.metric_name
                    ),
                }
                if let Some(ensemble) = report
                    .ensemble
                    .as_ref()
                    .filter(|ensemble| !ensemble.selected)
                {
                    println!(
                        "  (the ensemble of {} scored {:.5} out of fold: no better, so not selected)",
                        members(ensemble),
                        ensemble.ensemble.validation_metric
                    );
                }
                if let Some(note) =
                    beaten_on_test(report.best_on_test, grading.score, grading.is_lower_better)
                {
                    println!("{note}");
                }
                println!(
                    "Best solution: {}",
                    layout.best_dir().join("solution.py").display()
                );
                println!(
                    "Submission:    {}",
                    layout.best_dir().join("submission.csv").display()
                );
            }
            (None, _) | (Some(_), None) => println!("No valid submission was found."),
        }
        println!("Report:        {}", layout.report().display());
        if matches!(summary.reason, StopReason::Interrupted) {
            println!("Resume with:   ml-master resume {}", layout.root.display());
        }
    }
}

/// An ensemble's members as `node 3 × 0.50, node 7 × 0.50`.
fn members(ensemble: &EnsembleReport) -> String {
    ensemble
        .ensemble
        .members
        .iter()
        .map(|member| format!("node {} × {:.2}", member.node, member.weight))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The analysis note shown when another node scored strictly better on test than the selected one (an
/// invalid selected submission counts as beaten); a tie is no news.
fn beaten_on_test(
    best_on_test: Option<TestScore>,
    selected_score: Option<f64>,
    lower_is_better: bool,
) -> Option<String> {
    let best = best_on_test?;
    let direction = Direction::from_lower_is_better(lower_is_better);
    let beaten = selected_score.is_none_or(|selected| {
        Metric::new(best.score, direction).is_better_than(&Metric::new(selected, direction))
    });
    beaten.then(|| {
        format!(
            "  (for analysis: node {} was best on test with {:.5}; selection never looks at test)",
            best.node, best.score
        )
    })
}

/// Longest summary a log line carries.
const SUMMARY_CHARACTERS: usize = 160;

/// The summary's first sentence; a longer one is cut at a word boundary and ends in an ellipsis, so a
/// number is never cut short into another number.
fn first_sentence(text: &str) -> String {
    let sentence = text.split(". ").next().unwrap_or(text).trim();
    if sentence.chars().count() <= SUMMARY_CHARACTERS {
        return sentence.to_string();
    }
    let mut kept = String::new();
    for word in sentence.split_whitespace() {
        if kept.chars().count() + 1 + word.chars().count() > SUMMARY_CHARACTERS - 1 {
            break;
        }
        if !kept.is_empty() {
            kept.push(' ');
        }
        kept.push_str(word);
    }
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use mlm_search::NodeId;

    use super::*;

    #[test]
    fn a_long_summary_is_cut_between_words_never_inside_a_number() {
        // A plain cut at 160 characters left "… accuracy of 0", a different number.
        let summary = format!(
            "{}reached a validation accuracy of 0.81143 on five folds",
            "The LightGBM script trained on every fold ".repeat(3)
        );
        let cut = first_sentence(&summary);
        assert!(cut.chars().count() <= SUMMARY_CHARACTERS, "{cut}");
        let kept = cut
            .strip_suffix('…')
            .unwrap_or_else(|| panic!("no ellipsis: {cut}"));
        assert!(
            kept.split_whitespace()
                .all(|word| summary.split_whitespace().any(|whole| whole == word)),
            "a word was cut: {cut}"
        );
        assert_eq!(first_sentence("Short. Second"), "Short");
    }

    #[test]
    fn the_test_note_is_shown_only_when_another_node_beats_the_selected_one() {
        let best = Some(TestScore {
            node: NodeId(14),
            score: 0.8327,
        });
        assert_eq!(beaten_on_test(best, Some(0.8327), false), None, "a tie");
        assert!(beaten_on_test(best, Some(0.8), false)
            .is_some_and(|note| note.contains("node 14 was best on test with 0.83270")));
        assert_eq!(beaten_on_test(best, Some(0.9), true), Some(
            "  (for analysis: node 14 was best on test with 0.83270; selection never looks at test)"
                .to_string()
        ));
        assert!(
            beaten_on_test(best, None, false).is_some(),
            "invalid selected"
        );
        assert_eq!(beaten_on_test(None, Some(0.8), false), None);
    }
}
