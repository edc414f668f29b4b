//! The pure half of final selection: how many candidates' re-evaluations fit in the time left, which
//! candidate the scores pick, and the line that says why. No I/O: tested without a run.

use mlm_journal::Reevaluated;
use mlm_search::{Direction, Metric, NodeId};
use serde::Serialize;

/// A re-evaluation is estimated at its node's measured run time times this: a script on other folds
/// takes about as long, and an estimate had better leave time over than run past the limit.
pub const ESTIMATE_MARGIN: f64 = 1.25;

/// One candidate in `report.json`'s `selection`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateReport {
    pub node: NodeId,
    /// Its validation score on the run's folds, as the search saw it.
    pub validation_metric: f64,
    /// Its script re-run on folds drawn from the seeds after the run's, in seed order.
    pub reevaluations: Vec<ReevaluationReport>,
    /// The mean of the validation score and the re-evaluations' scores; none when a re-evaluation
    /// failed.
    pub mean: Option<f64>,
}

/// One re-evaluation of a candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReevaluationReport {
    /// The seed its folds were drawn from.
    pub seed: u64,
    #[serde(flatten)]
    pub result: Reevaluated,
}

impl CandidateReport {
    /// The candidate with its mean computed from `validation_metric` and `reevaluations`.
    pub fn new(
        node: NodeId,
        validation_metric: f64,
        reevaluations: Vec<ReevaluationReport>,
    ) -> CandidateReport {
        let scores: Option<Vec<f64>> = reevaluations
            .iter()
            .map(|reevaluation| match &reevaluation.result {
                Reevaluated::Scored { metric } => Some(metric.value),
                Reevaluated::Failed { .. } => None,
            })
            .collect();
        let mean = scores.map(|scores| {
            (validation_metric + scores.iter().sum::<f64>()) / (1 + scores.len()) as f64
        });
        CandidateReport {
            node,
            validation_metric,
            reevaluations,
            mean,
        }
    }

    /// Why the candidate has no mean: its first failed re-evaluation's reason.
    fn failure(&self) -> Option<&str> {
        self.reevaluations
            .iter()
            .find_map(|reevaluation| match &reevaluation.result {
                Reevaluated::Scored { .. } => None,
                Reevaluated::Failed { reason } => Some(reason.as_str()),
            })
    }
}

/// How many candidates, from the best, have their pending re-evaluations done within `seconds_left`
/// on `slots` slots: each candidate's estimated seconds per pending re-evaluation, taken in order, each
/// by the slot that is free first.
pub fn candidates_that_fit(pending: &[Vec<f64>], slots: usize, seconds_left: f64) -> usize {
    (0..=pending.len())
        .rev()
        .find(|count| {
            let mut free_at = vec![0.0_f64; slots.max(1)];
            for seconds in pending[..*count].iter().flatten() {
                let mut first = 0;
                for (slot, at) in free_at.iter().enumerate() {
                    if *at < free_at[first] {
                        first = slot;
                    }
                }
                free_at[first] += seconds;
            }
            free_at.into_iter().fold(0.0, f64::max) <= seconds_left
        })
        .unwrap_or(0)
}

/// The index of the candidate with the best mean; a candidate with a failed re-evaluation has none and
/// loses to every one that has, and a tie goes to the earlier candidate (the better validation score).
/// `None` when no candidate has a mean.
pub fn pick(candidates: &[CandidateReport], direction: Direction) -> Option<usize> {
    let mut best: Option<(usize, Metric)> = None;
    for (index, candidate) in candidates.iter().enumerate() {
        let Some(mean) = candidate.mean else {
            continue;
        };
        let mean = Metric::new(mean, direction);
        if best.is_none_or(|(_, best)| mean.is_better_than(&best)) {
            best = Some((index, mean));
        }
    }
    best.map(|(index, _)| index)
}

/// Why `picked` (from [`pick`]) is the run's node, in one line; `candidates` come best validation score
/// first, so the first had the best single score. Scores are shown to four decimals.
pub fn reason(candidates: &[CandidateReport], picked: Option<usize>) -> String {
    let (Some(first), Some(index)) = (candidates.first(), picked) else {
        return match candidates.first() {
            Some(first) => format!(
                "node {}: every candidate had a failed re-evaluation, so the best validation score {:.4} decides",
                first.node, first.validation_metric
            ),
            None => "no candidates".to_string(),
        };
    };
    let chosen = &candidates[index];
    let draws = 1 + chosen.reevaluations.len();
    let mean = chosen.mean.unwrap_or(chosen.validation_metric);
    if index == 0 {
        return format!(
            "node {}: best mean {mean:.4} over {draws} fold draws and the best single score {:.4}",
            chosen.node, chosen.validation_metric
        );
    }
    let runner_up = match (first.mean, first.failure()) {
        (Some(first_mean), _) => format!("mean {first_mean:.4}"),
        (None, Some(failure)) => format!("but a re-evaluation failed: {failure}"),
        (None, None) => "no mean".to_string(),
    };
    format!(
        "node {}: best mean {mean:.4} over {draws} fold draws (node {} had the best single score {:.4}, {runner_up})",
        chosen.node, first.node, first.validation_metric
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(seed: u64, value: f64, direction: Direction) -> ReevaluationReport {
        ReevaluationReport {
            seed,
            result: Reevaluated::Scored {
                metric: Metric::new(value, direction),
            },
        }
    }

    fn candidate(node: u32, validation: f64, reevaluations: &[f64]) -> CandidateReport {
        CandidateReport::new(
            NodeId(node),
            validation,
            reevaluations
                .iter()
                .enumerate()
                .map(|(index, value)| scored(index as u64 + 1, *value, Direction::HigherIsBetter))
                .collect(),
        )
    }

    #[test]
    fn the_best_mean_beats_the_best_single_score() {
        let candidates = [
            candidate(4, 0.8431, &[0.8360, 0.8373]),
            candidate(7, 0.8420, &[0.8400, 0.8416]),
            candidate(2, 0.8300, &[0.8450, 0.8290]),
        ];
        let picked = pick(&candidates, Direction::HigherIsBetter);
        assert_eq!(picked, Some(1));
        assert_eq!(
            reason(&candidates, picked),
            "node 7: best mean 0.8412 over 3 fold draws (node 4 had the best single score 0.8431, mean 0.8388)"
        );
    }

    #[test]
    fn a_lower_mean_wins_where_lower_is_better() {
        let errors = |node, validation, reevaluations: [f64; 2]| {
            CandidateReport::new(
                NodeId(node),
                validation,
                reevaluations
                    .iter()
                    .map(|value| scored(1, *value, Direction::LowerIsBetter))
                    .collect(),
            )
        };
        let candidates = [errors(1, 8.7, [9.9, 9.6]), errors(3, 8.8, [8.9, 9.0])];
        let picked = pick(&candidates, Direction::LowerIsBetter);
        assert_eq!(picked, Some(1));
        assert!(reason(&candidates, picked).starts_with("node 3: best mean 8.9000"));
    }

    #[test]
    fn a_failed_reevaluation_loses_and_its_reason_is_kept() {
        let mut best = candidate(4, 0.90, &[0.89]);
        best.reevaluations.push(ReevaluationReport {
            seed: 2,
            result: Reevaluated::Failed {
                reason: "the script ended with `timeout`".to_string(),
            },
        });
        let best = CandidateReport::new(best.node, best.validation_metric, best.reevaluations);
        assert_eq!(best.mean, None);
        let candidates = [best, candidate(7, 0.80, &[0.79, 0.78])];
        let picked = pick(&candidates, Direction::HigherIsBetter);
        assert_eq!(picked, Some(1), "a worse mean wins over a failure");
        assert_eq!(
            reason(&candidates, picked),
            "node 7: best mean 0.7900 over 3 fold draws (node 4 had the best single score 0.9000, but a re-evaluation failed: the script ended with `timeout`)"
        );
        let all_failed = [candidates[0].clone()];
        assert_eq!(pick(&all_failed, Direction::HigherIsBetter), None);
        assert!(reason(&all_failed, None).starts_with("node 4: every candidate had a failed"));
    }

    #[test]
    fn a_tie_goes_to_the_better_validation_score() {
        let candidates = [
            // Exact in binary: both means are 1.75 / 3.
            candidate(5, 0.75, &[0.5, 0.5]),
            candidate(6, 0.5, &[0.625, 0.625]),
        ];
        let picked = pick(&candidates, Direction::HigherIsBetter);
        assert_eq!(picked, Some(0));
        assert_eq!(
            reason(&candidates, picked),
            "node 5: best mean 0.5833 over 3 fold draws and the best single score 0.7500"
        );
    }

    #[test]
    fn fewer_candidates_are_reevaluated_when_all_would_not_fit() {
        // Two re-evaluations each, of 10 s, 20 s and 100 s, on two slots.
        let pending = [vec![10.0, 10.0], vec![20.0, 20.0], vec![100.0, 100.0]];
        assert_eq!(candidates_that_fit(&pending, 2, 1000.0), 3);
        assert_eq!(candidates_that_fit(&pending, 2, 30.0), 2);
        assert_eq!(candidates_that_fit(&pending, 1, 30.0), 1);
        assert_eq!(candidates_that_fit(&pending, 1, 5.0), 0);
        // What an earlier session already scored costs nothing.
        assert_eq!(
            candidates_that_fit(&[vec![], vec![], vec![100.0]], 1, 50.0),
            2
        );
    }
}
