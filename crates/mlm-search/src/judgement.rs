//! Judging a finished expansion: what the run saw (how the script ended, what became of its submission,
//! the metric it reported, the review's verdict) decides its [`Outcome`], and the outcome decides the
//! reward the tree backpropagates (`Tree::reward_of`). Kept here, beside the reward rules, so the two
//! halves of "what a node is worth" read together and are tested without a run.

use crate::node::{Direction, Metric, Outcome};

/// How the script's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionFinished {
    /// It exited with status 0 within its limits.
    Cleanly,
    /// It raised, was killed, timed out or ran out of memory.
    WithFailure,
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
    pub execution: ExecutionFinished,
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
    match (evidence.execution, evidence.submission) {
        (ExecutionFinished::WithFailure, _) | (_, SubmissionState::Missing) => Outcome::Buggy,
        (ExecutionFinished::Cleanly, SubmissionState::Rejected) => Outcome::Invalid { metric },
        (ExecutionFinished::Cleanly, SubmissionState::Accepted) => {
            match (metric, evidence.review) {
                (Some(metric), ReviewVerdict::NoBug) => Outcome::Valid { metric },
                (None, _) | (Some(_), ReviewVerdict::Bug) => Outcome::Buggy,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean run with an accepted submission, a reported metric and a review without complaint.
    fn clean() -> Evidence {
        Evidence {
            execution: ExecutionFinished::Cleanly,
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
        let evidence = Evidence {
            execution: ExecutionFinished::WithFailure,
            ..clean()
        };
        assert_eq!(judge(evidence), Outcome::Buggy);
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
