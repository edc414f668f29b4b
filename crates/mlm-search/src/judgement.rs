//! Judging a finished expansion: what the run saw (how the script ended, what became of its submission,
//! the metric it reported, the review's verdict) decides its [`Outcome`], and the outcome decides the
//! reward the tree backpropagates (`Tree::reward_of`). Kept here, beside the reward rules, so the two
//! halves of "what a node is worth" read together and are tested without a run.

use serde::{Deserialize, Serialize};

use crate::node::{Direction, Metric, Outcome};

/// How a node's script run ended: the one status the executor reports, the judge reads, the journal
/// stores and the coder, dashboard and events show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// It exited with status 0 within its limits.
    Ok,
    /// It exited with another status (an exception, `sys.exit(1)`).
    Error,
    /// It ran past its wall-clock limit.
    Timeout,
    /// It ran out of memory.
    Oom,
    /// A signal ended it.
    Killed,
    /// Its node directory grew past the disk bound.
    DiskLimit,
}

impl ExecutionStatus {
    /// Every status, in the order reports list them.
    pub const ALL: [ExecutionStatus; 6] = [
        ExecutionStatus::Ok,
        ExecutionStatus::Error,
        ExecutionStatus::Timeout,
        ExecutionStatus::Oom,
        ExecutionStatus::Killed,
        ExecutionStatus::DiskLimit,
    ];

    /// The name the journal, events, prompts and front ends use: `ok`, `error`, `timeout`, `oom`,
    /// `killed` or `disk_limit`.
    pub fn name(self) -> &'static str {
        match self {
            ExecutionStatus::Ok => "ok",
            ExecutionStatus::Error => "error",
            ExecutionStatus::Timeout => "timeout",
            ExecutionStatus::Oom => "oom",
            ExecutionStatus::Killed => "killed",
            ExecutionStatus::DiskLimit => "disk_limit",
        }
    }

    /// The status a [`name`](Self::name) spells.
    pub fn from_name(name: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL
            .into_iter()
            .find(|status| status.name() == name)
    }

    /// Whether the process ended cleanly (exit status 0 within its limits).
    pub fn is_clean(self) -> bool {
        match self {
            ExecutionStatus::Ok => true,
            ExecutionStatus::Error
            | ExecutionStatus::Timeout
            | ExecutionStatus::Oom
            | ExecutionStatus::Killed
            | ExecutionStatus::DiskLimit => false,
        }
    }
}

/// What became of the submission file the script was asked to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionState {
    Missing,
    /// Written, but the submission check rejected it.
    Rejected,
    /// Written, and the submission check accepted it.
    Accepted,
}

/// Whether the review read the run's output as a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewVerdict {
    /// The review found no bug, or could not tell (a review that failed accuses nothing).
    NoBug,
    Bug,
}

/// Everything a node's outcome is decided from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub execution: ExecutionStatus,
    pub submission: SubmissionState,
    /// The value the script wrote to `metrics.json`.
    pub reported_metric: Option<f64>,
    /// The value the review read from the output.
    pub review_metric: Option<f64>,
    pub review: ReviewVerdict,
    pub direction: Direction,
}

/// The outcome of a finished expansion.
///
/// - Valid: it ran cleanly, wrote a submission the check accepts, has a metric, and the review found no
///   bug.
/// - Invalid: it ran cleanly and wrote a submission the check rejects (its metric is kept for display).
/// - Buggy: anything else.
///
/// The metric is `metrics.json`'s when the script wrote one (deterministic, so it wins over the review's
/// reading of the output), else the review's; a value that is not finite is no metric at all, and a
/// non-finite `metrics.json` value is not replaced by the review's.
pub fn judge(evidence: Evidence) -> Outcome {
    let metric = evidence
        .reported_metric
        .or(evidence.review_metric)
        .filter(|value| value.is_finite())
        .map(|value| Metric::new(value, evidence.direction));
    if !evidence.execution.is_clean() {
        return Outcome::Buggy;
    }
    match evidence.submission {
        SubmissionState::Missing => Outcome::Buggy,
        SubmissionState::Rejected => Outcome::Invalid { metric },
        SubmissionState::Accepted => match (metric, evidence.review) {
            (Some(metric), ReviewVerdict::NoBug) => Outcome::Valid { metric },
            (None, _) | (Some(_), ReviewVerdict::Bug) => Outcome::Buggy,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean run with an accepted submission, a reported metric and a review without complaint.
    fn clean() -> Evidence {
        Evidence {
            execution: ExecutionStatus::Ok,
            submission: SubmissionState::Accepted,
            reported_metric: Some(0.8),
            review_metric: None,
            review: ReviewVerdict::NoBug,
            direction: Direction::HigherIsBetter,
        }
    }

    fn metric(value: f64) -> Metric {
        Metric::new(value, Direction::HigherIsBetter)
    }

    #[test]
    fn a_clean_run_with_an_accepted_submission_and_a_metric_is_valid() {
        assert_eq!(
            judge(clean()),
            Outcome::Valid {
                metric: metric(0.8)
            }
        );
    }

    #[test]
    fn a_failed_run_is_buggy_whatever_it_wrote() {
        for status in ExecutionStatus::ALL {
            let evidence = Evidence {
                execution: status,
                ..clean()
            };
            let expected = match status {
                ExecutionStatus::Ok => judge(clean()),
                ExecutionStatus::Error
                | ExecutionStatus::Timeout
                | ExecutionStatus::Oom
                | ExecutionStatus::Killed
                | ExecutionStatus::DiskLimit => Outcome::Buggy,
            };
            assert_eq!(judge(evidence), expected, "{}", status.name());
        }
    }

    #[test]
    fn each_status_is_spelled_by_its_name() {
        for status in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::from_name(status.name()), Some(status));
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::Value::from(status.name()))
            );
        }
    }

    #[test]
    fn a_clean_run_without_a_submission_is_buggy() {
        let evidence = Evidence {
            submission: SubmissionState::Missing,
            ..clean()
        };
        assert_eq!(judge(evidence), Outcome::Buggy);
    }

    #[test]
    fn a_rejected_submission_is_invalid_and_keeps_its_metric_for_display() {
        let evidence = Evidence {
            submission: SubmissionState::Rejected,
            ..clean()
        };
        assert_eq!(
            judge(evidence),
            Outcome::Invalid {
                metric: Some(metric(0.8))
            }
        );
    }

    #[test]
    fn a_rejected_submission_is_invalid_even_when_the_review_calls_it_a_bug() {
        let evidence = Evidence {
            submission: SubmissionState::Rejected,
            reported_metric: None,
            review: ReviewVerdict::Bug,
            ..clean()
        };
        assert_eq!(judge(evidence), Outcome::Invalid { metric: None });
    }

    #[test]
    fn a_review_that_finds_a_bug_makes_an_accepted_run_buggy() {
        let evidence = Evidence {
            review: ReviewVerdict::Bug,
            ..clean()
        };
        assert_eq!(judge(evidence), Outcome::Buggy);
    }

    #[test]
    fn an_accepted_run_without_any_metric_is_buggy() {
        let evidence = Evidence {
            reported_metric: None,
            ..clean()
        };
        assert_eq!(judge(evidence), Outcome::Buggy);
    }

    #[test]
    fn the_reported_metric_wins_over_the_reviews_reading() {
        let evidence = Evidence {
            review_metric: Some(0.3),
            ..clean()
        };
        assert_eq!(
            judge(evidence),
            Outcome::Valid {
                metric: metric(0.8)
            }
        );
    }

    #[test]
    fn the_reviews_metric_counts_when_the_script_reported_none() {
        let evidence = Evidence {
            reported_metric: None,
            review_metric: Some(0.3),
            ..clean()
        };
        assert_eq!(
            judge(evidence),
            Outcome::Valid {
                metric: metric(0.3)
            }
        );
    }

    #[test]
    fn a_non_finite_reported_metric_is_no_metric_and_is_not_replaced_by_the_reviews() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let evidence = Evidence {
                reported_metric: Some(value),
                review_metric: Some(0.3),
                ..clean()
            };
            assert_eq!(judge(evidence), Outcome::Buggy, "{value}");
            let rejected = Evidence {
                submission: SubmissionState::Rejected,
                ..evidence
            };
            assert_eq!(
                judge(rejected),
                Outcome::Invalid { metric: None },
                "{value}"
            );
        }
    }

    #[test]
    fn a_non_finite_review_metric_is_no_metric() {
        let evidence = Evidence {
            reported_metric: None,
            review_metric: Some(f64::NAN),
            ..clean()
        };
        assert_eq!(judge(evidence), Outcome::Buggy);
    }

    #[test]
    fn the_metric_carries_the_tasks_direction() {
        let evidence = Evidence {
            direction: Direction::LowerIsBetter,
            ..clean()
        };
        assert_eq!(
            judge(evidence),
            Outcome::Valid {
                metric: Metric::new(0.8, Direction::LowerIsBetter)
            }
        );
    }
}
