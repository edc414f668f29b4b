//! Reviews without a model: a run is buggy when it did not end well, wrote no submission or no
//! metric, or the grader rejected its submission. The summary, which later memory shows, names the
//! family, its key settings, the change it made, and the metric or what went wrong.

use super::debug::last_error_line;
use super::family::Family;
use super::improve::change_of;
use super::options::ScriptOptions;
use crate::operator::{ExecutionStatus, Review, ReviewRequest, TaskBrief, TokenUsage};

pub(crate) fn review(task: &TaskBrief, request: &ReviewRequest) -> Review {
    let node = &request.node;
    let mut problems: Vec<String> = Vec::new();
    match node.status {
        ExecutionStatus::Ok => {}
        ExecutionStatus::Error => problems.push("the script exited with an error".to_string()),
        ExecutionStatus::Timeout => problems.push("the script ran past its time limit".to_string()),
        ExecutionStatus::Oom => problems.push("the script ran out of memory".to_string()),
        ExecutionStatus::Killed => problems.push("the script was killed by a signal".to_string()),
        ExecutionStatus::DiskLimit => problems
            .push("the script wrote more to its directory than the disk bound allows".to_string()),
    }
    if !request.submission_exists {
        problems.push("it wrote no submission".to_string());
    }
    if request.reported_metric.is_none() {
        problems.push("it wrote no usable metrics.json".to_string());
    }
    if let Some(message) = &node.validation_message {
        problems.push(format!("the grader rejected the submission: {message}"));
    }
    let subject = match ScriptOptions::from_code(&node.code) {
        Some(options) => format!(
            "{} ({})",
            options.family.plan_name(),
            options.key_settings()
        ),
        None => Family::named_in(&node.plan).map_or_else(
            || "The script".to_string(),
            |family| family.plan_name().to_string(),
        ),
    };
    let change = change_of(&node.plan)
        .map(|change| match change.from {
            Some(from) => format!(" It changed {} from {from} to {}.", change.key, change.to),
            None => format!(" It changed {} to {}.", change.key, change.to),
        })
        .unwrap_or_default();
    let is_bug = !problems.is_empty();
    let summary = match (is_bug, request.reported_metric) {
        (false, Some((value, lower_is_better))) => format!(
            "{subject} reached a validation {} of {value:.5} ({} is better) in {:.0} s.{change}",
            task.metric.name(),
            if lower_is_better { "lower" } else { "higher" },
            node.duration.as_secs_f64()
        ),
        (true, _) | (false, None) => {
            let evidence = match node.status {
                ExecutionStatus::Ok => String::new(),
                ExecutionStatus::Error
                | ExecutionStatus::Timeout
                | ExecutionStatus::Oom
                | ExecutionStatus::Killed
                | ExecutionStatus::DiskLimit => {
                    format!(" Last error: `{}`.", last_error_line(&node.output))
                }
            };
            format!(
                "{subject} is buggy: {}.{evidence}{change}",
                problems.join("; ")
            )
        }
    };
    Review {
        is_bug,
        summary,
        metric: request.reported_metric.map(|(value, _)| value),
        lower_is_better: Some(
            request
                .reported_metric
                .map_or(task.metric.lower_is_better(), |(_, lower_is_better)| {
                    lower_is_better
                }),
        ),
        usage: TokenUsage::default(),
        calls: Vec::new(),
        notice: None,
    }
}
