//! Greedy ensemble selection with replacement (Caruana et al., 2004): start from the best single
//! candidate, then add, round after round, the candidate (a repeat allowed) whose addition gives the
//! best blended score; the blend is the mean of the chosen predictions, so a candidate chosen twice
//! weighs twice. Rounds go on through ties, since a plateau can lead to a better blend, and stop
//! when every addition would make the blend worse or after the last round; the shortest prefix with
//! the best score is kept.

use mlm_search::{Direction, Metric};

/// Column-major predictions of one candidate: `columns[c][r]`, rows aligned across candidates.
pub type Predictions = Vec<Vec<f64>>;

/// What the selection chose.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// How many times each candidate was chosen, in the candidates' order.
    pub counts: Vec<u32>,
    /// The blend's score.
    pub score: f64,
}

impl Selection {
    /// Each chosen candidate's index and its weight (its share of the choices), in the candidates'
    /// order.
    pub fn weights(&self) -> Vec<(usize, f64)> {
        let total: u32 = self.counts.iter().sum();
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, count)| (index, f64::from(*count) / f64::from(total.max(1))))
            .collect()
    }
}

/// Chooses a blend of `candidates` in at most `rounds` additions after the first. `score` rates a
/// blend (`None`: it cannot be scored, as a candidate that cannot be scored alone). `None` when no
/// candidate can be scored.
pub fn select(
    candidates: &[Predictions],
    rounds: u32,
    direction: Direction,
    score: impl Fn(&Predictions) -> Option<f64>,
) -> Option<Selection> {
    let better = |left: f64, right: f64| {
        Metric::new(left, direction).is_better_than(&Metric::new(right, direction))
    };
    let mut counts = vec![0u32; candidates.len()];
    let (first, first_score) = best_addition(candidates, None, 0, &score, better)?;
    counts[first] = 1;
    let mut sum = candidates[first].clone();
    let mut current = first_score;
    let mut best = Selection {
        counts: counts.clone(),
        score: first_score,
    };
    for _ in 0..rounds {
        let chosen: u32 = counts.iter().sum();
        let Some((index, blended)) = best_addition(candidates, Some(&sum), chosen, &score, better)
        else {
            break;
        };
        if better(current, blended) {
            break;
        }
        counts[index] += 1;
        add_into(&mut sum, &candidates[index]);
        current = blended;
        if better(blended, best.score) {
            best = Selection {
                counts: counts.clone(),
                score: blended,
            };
        }
    }
    Some(best)
}

/// The candidate whose addition to `sum` (of `chosen` predictions; none yet when `None`) scores best,
/// with that score; the first of equals wins.
fn best_addition(
    candidates: &[Predictions],
    sum: Option<&Predictions>,
    chosen: u32,
    score: &impl Fn(&Predictions) -> Option<f64>,
    better: impl Fn(f64, f64) -> bool,
) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (index, candidate) in candidates.iter().enumerate() {
        let blend = match sum {
            Some(sum) => mean_with(sum, chosen, candidate),
            None => candidate.clone(),
        };
        let Some(value) = score(&blend).filter(|value| value.is_finite()) else {
            continue;
        };
        if best.is_none_or(|(_, best_value)| better(value, best_value)) {
            best = Some((index, value));
        }
    }
    best
}

/// The mean of `chosen` predictions summed in `sum` and one more.
fn mean_with(sum: &Predictions, chosen: u32, extra: &Predictions) -> Predictions {
    let count = f64::from(chosen + 1);
    sum.iter()
        .zip(extra)
        .map(|(column, extra_column)| {
            column
                .iter()
                .zip(extra_column)
                .map(|(total, value)| (total + value) / count)
                .collect()
        })
        .collect()
}

fn add_into(sum: &mut Predictions, extra: &Predictions) {
    for (column, extra_column) in sum.iter_mut().zip(extra) {
        for (total, value) in column.iter_mut().zip(extra_column) {
            *total += value;
        }
    }
}

/// The weighted mean of `predictions` (each with its weight; the weights sum to one).
pub fn blend(predictions: &[(&Predictions, f64)]) -> Predictions {
    let Some((first, _)) = predictions.first() else {
        return Vec::new();
    };
    let mut blended: Predictions = first.iter().map(|column| vec![0.0; column.len()]).collect();
    for (candidate, weight) in predictions {
        for (column, candidate_column) in blended.iter_mut().zip(candidate.iter()) {
            for (total, value) in column.iter_mut().zip(candidate_column) {
                *total += weight * value;
            }
        }
    }
    blended
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUTH: [f64; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];

    fn shifted(by: f64) -> Predictions {
        vec![TRUTH.iter().map(|value| value + by).collect()]
    }

    /// Root mean squared error against `TRUTH`.
    fn rmse(blend: &Predictions) -> Option<f64> {
        let squares: f64 = blend[0]
            .iter()
            .zip(TRUTH)
            .map(|(predicted, truth)| (predicted - truth).powi(2))
            .sum();
        Some((squares / TRUTH.len() as f64).sqrt())
    }

    #[test]
    fn two_members_that_err_in_opposite_directions_blend_better_than_either() {
        let candidates = [shifted(1.0), shifted(-1.0)];
        let selection = select(&candidates, 10, Direction::LowerIsBetter, rmse).unwrap();
        assert_eq!(selection.counts, vec![1, 1]);
        assert!(selection.score < 1e-12, "{}", selection.score);
        assert_eq!(selection.weights(), vec![(0, 0.5), (1, 0.5)]);
    }

    #[test]
    fn repeats_give_the_closer_member_more_weight() {
        // The exact blend is two thirds of the first and one third of the second.
        let candidates = [shifted(1.0), shifted(-2.0)];
        let selection = select(&candidates, 10, Direction::LowerIsBetter, rmse).unwrap();
        assert_eq!(selection.counts, vec![2, 1]);
        let weights = selection.weights();
        assert!((weights[0].1 - 2.0 / 3.0).abs() < 1e-12, "{weights:?}");
        assert!(selection.score < 1e-12);
    }

    #[test]
    fn a_member_that_never_helps_is_never_chosen() {
        let candidates = [shifted(10.0), shifted(1.0), shifted(-1.0), shifted(-7.0)];
        let selection = select(&candidates, 20, Direction::LowerIsBetter, rmse).unwrap();
        assert_eq!(selection.counts[0], 0);
        assert_eq!(selection.counts[1..3], [1, 1]);
    }

    #[test]
    fn the_best_single_member_stands_alone_when_no_blend_beats_it() {
        let candidates = [shifted(3.0), shifted(0.5), shifted(2.0)];
        let selection = select(&candidates, 10, Direction::LowerIsBetter, rmse).unwrap();
        assert_eq!(selection.counts, vec![0, 1, 0]);
        assert_eq!(selection.score, 0.5);
    }

    #[test]
    fn a_higher_is_better_score_is_maximised_and_unscorable_candidates_are_skipped() {
        let candidates = [shifted(1.0), shifted(-1.0), vec![vec![f64::NAN; 6]]];
        let negated = |blend: &Predictions| rmse(blend).map(|error| -error);
        let selection = select(&candidates, 10, Direction::HigherIsBetter, negated).unwrap();
        assert_eq!(selection.counts, vec![1, 1, 0]);
        assert!(select(&candidates[2..], 10, Direction::HigherIsBetter, negated).is_none());
    }

    #[test]
    fn the_blend_is_the_weighted_mean() {
        let first = shifted(1.0);
        let second = shifted(-2.0);
        let blended = blend(&[(&first, 2.0 / 3.0), (&second, 1.0 / 3.0)]);
        for (value, truth) in blended[0].iter().zip(TRUTH) {
            assert!((value - truth).abs() < 1e-12);
        }
    }
}
