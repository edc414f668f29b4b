//! Showing a run's events: plain log lines on stderr for people, or JSON lines on stdout with `--json`.

use std::time::Instant;

use mlm_engine::{Event, RunLayout, RunSummary, StopReason};

use crate::report::FinalReport;

/// Prints events as they arrive.
pub struct Progress {
    json: bool,
    steps: u32,
    started: Instant,
    finished_nodes: u32,
    metric_name: String,
}

impl Progress {
    pub fn new(json: bool, steps: u32) -> Self {
        Progress {
            json,
            steps,
            started: Instant::now(),
            finished_nodes: 0,
            metric_name: "metric".to_string(),
        }
    }

    pub fn with_metric_name(mut self, name: &str) -> Self {
        self.metric_name = name.to_string();
        self
    }

    pub fn show(&mut self, event: &Event) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        let clock = format!("[{:>5.0}s]", self.started.elapsed().as_secs_f64());
        match event {
            Event::RunStarted { resumed_nodes, .. } if *resumed_nodes > 0 => {
                self.finished_nodes = *resumed_nodes;
                eprintln!("{clock} continuing after {resumed_nodes} nodes");
            }
            Event::NodeFinished {
                node,
                parent,
                stage,
                execution_status,
                metric,
                valid,
                summary,
                execute_seconds,
                ..
            } => {
                self.finished_nodes += 1;
                let origin = match parent {
                    Some(parent) => format!("{stage:?} of node {parent}").to_lowercase(),
                    None => "draft".to_string(),
                };
                let verdict = match (valid, metric) {
                    (true, Some(metric)) => format!("{} {metric:.5}", self.metric_name),
                    (false, _) => format!("buggy ({execution_status})"),
                    (true, None) => "valid".to_string(),
                };
                eprintln!(
                    "{clock} step {}/{}: node {node} ({origin}) {verdict} in {execute_seconds:.1} s — {}",
                    self.finished_nodes,
                    self.steps,
                    first_sentence(summary)
                );
            }
            Event::BestImproved { node, metric } => {
                eprintln!(
                    "{clock}   new best: node {node}, {} {metric:.5}",
                    self.metric_name
                );
            }
            Event::ProposalFailed {
                stage,
                parent,
                reason,
                ..
            } => {
                let target = parent.map_or(String::new(), |parent| format!(" of node {parent}"));
                eprintln!("{clock} no {} proposal{target}: {reason}", stage.name());
            }
            Event::Warning { message } => eprintln!("{clock} warning: {message}"),
            Event::RunStarted { .. }
            | Event::Proposing { .. }
            | Event::Executing { .. }
            | Event::Reviewing { .. }
            | Event::RunFinished { .. } => {}
        }
    }

    pub fn finish(&self, summary: &RunSummary, report: &FinalReport, layout: &RunLayout) {
        if self.json {
            if let Ok(line) =
                serde_json::to_string(&serde_json::json!({"event": "report", "report": report}))
            {
                println!("{line}");
            }
            return;
        }
        let reason = match summary.reason {
            StopReason::StepsExhausted => "the step budget is spent",
            StopReason::TimeLimit => "the time limit is reached",
            StopReason::TokenBudget => "the token budget is spent",
            StopReason::CostBudget => "the cost budget is spent",
            StopReason::SearchExhausted => "the search has nothing left to expand",
            StopReason::Interrupted => "interrupted",
        };
        eprintln!(
            "Stopped after {} nodes and {:.0} s: {reason}.",
            summary.nodes,
            summary.elapsed.as_secs_f64()
        );
        let tokens = summary.prompt_tokens + summary.completion_tokens;
        if tokens > 0 {
            eprintln!(
                "Model usage: {tokens} tokens ({} prompt, {} completion), ${:.4}",
                summary.prompt_tokens, summary.completion_tokens, summary.cost_usd
            );
        }
        match (&report.selected, &report.grading) {
            (Some(node), Some(grading)) => {
                eprintln!(
                    "Selected node {node}: validation {} {:.5}; test score {}",
                    self.metric_name,
                    report.validation_metric.unwrap_or(f64::NAN),
                    grading
                        .score
                        .map_or("invalid".to_string(), |score| format!("{score:.5}"))
                );
                if let Some(best) = report.best_on_test {
                    if Some(best.node) != report.selected {
                        eprintln!("  (for analysis: node {} was best on test with {:.5}; selection never looks at test)", best.node, best.score);
                    }
                }
                eprintln!(
                    "Best solution: {}",
                    layout.best_dir().join("solution.py").display()
                );
                eprintln!(
                    "Submission:    {}",
                    layout.best_dir().join("submission.csv").display()
                );
            }
            (None, _) | (Some(_), None) => eprintln!("No valid submission was found."),
        }
        eprintln!("Report:        {}", layout.report().display());
        if matches!(summary.reason, StopReason::Interrupted) {
            eprintln!("Resume with:   ml-master resume {}", layout.root.display());
        }
    }
}

fn first_sentence(text: &str) -> String {
    let sentence = text.split(". ").next().unwrap_or(text);
    sentence.trim().chars().take(160).collect()
}
