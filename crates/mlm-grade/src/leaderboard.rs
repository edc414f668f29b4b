//! Medals from a Kaggle leaderboard, exactly as MLE-bench computes them: thresholds at 1-based, truncated
//! positions by team-count band, the direction read from the first row against the last, medal
//! comparisons inclusive, and above-median strict against the pandas median.

use std::path::{Path, PathBuf};

use mlm_task::CsvTable;
use serde::Serialize;

use crate::error::{Error, Result};

/// Kaggle's private leaderboard: one score per team, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    pub path: PathBuf,
    /// Scores in leaderboard order; an empty cell is NaN, as pandas reads it.
    pub scores: Vec<f64>,
}

/// The scores a submission must reach for each medal, and the median it must beat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MedalThresholds {
    pub gold: f64,
    pub silver: f64,
    pub bronze: f64,
    pub median: f64,
}

/// Where a score lands against a leaderboard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranking {
    pub thresholds: MedalThresholds,
    pub gold_medal: bool,
    pub silver_medal: bool,
    pub bronze_medal: bool,
    pub above_median: bool,
}

impl Ranking {
    pub fn any_medal(&self) -> bool {
        self.gold_medal || self.silver_medal || self.bronze_medal
    }
}

impl Leaderboard {
    /// Reads a leaderboard CSV with a `score` column.
    pub fn read(path: &Path) -> Result<Leaderboard> {
        let table = CsvTable::read(path)?;
        let invalid = |problem: String| {
            Error::InvalidInput {
            path: path.to_path_buf(),
            problem,
            hint: "a leaderboard is Kaggle's private leaderboard as CSV, best first, with a `score` column".to_string(),
        }
        };
        let score_index = table.column_index("score").ok_or_else(|| {
            invalid(format!(
                "no `score` column (columns: {})",
                table.headers.join(", ")
            ))
        })?;
        let scores = table
            .column(score_index)
            .enumerate()
            .map(|(row, cell)| match cell.trim() {
                "" => Ok(f64::NAN),
                text => text.parse::<f64>().map_err(|_| {
                    invalid(format!("row {}: score `{cell}` is not a number", row + 1))
                }),
            })
            .collect::<Result<Vec<f64>>>()?;
        if scores.is_empty() {
            return Err(invalid("the leaderboard has no rows".to_string()));
        }
        Ok(Leaderboard {
            path: path.to_path_buf(),
            scores,
        })
    }

    /// MLE-bench's rule: lower is better when the first (best) score is below the last.
    pub fn is_lower_better(&self) -> bool {
        match (self.scores.first(), self.scores.last()) {
            (Some(first), Some(last)) => first < last,
            _ => false,
        }
    }

    pub fn thresholds(&self) -> MedalThresholds {
        let teams = self.scores.len();
        let fraction = |share: f64| ((teams as f64 * share) as usize).max(1);
        let (gold, silver, bronze) = if teams < 100 {
            (fraction(0.1), fraction(0.2), fraction(0.4))
        } else if teams < 250 {
            (10, fraction(0.2), fraction(0.4))
        } else if teams < 1000 {
            (10 + (teams as f64 * 0.002) as usize, 50, 100)
        } else {
            (
                10 + (teams as f64 * 0.002) as usize,
                fraction(0.05),
                fraction(0.1),
            )
        };
        MedalThresholds {
            gold: self.score_at(gold),
            silver: self.score_at(silver),
            bronze: self.score_at(bronze),
            median: pandas_median(&self.scores),
        }
    }

    /// Ranks `score`; `None` (no valid submission) wins nothing but still reports the thresholds.
    pub fn rank(&self, score: Option<f64>) -> Ranking {
        let thresholds = self.thresholds();
        let Some(score) = score else {
            return Ranking {
                thresholds,
                gold_medal: false,
                silver_medal: false,
                bronze_medal: false,
                above_median: false,
            };
        };
        let lower_is_better = self.is_lower_better();
        let reaches = |threshold: f64| {
            if lower_is_better {
                score <= threshold
            } else {
                score >= threshold
            }
        };
        let gold_medal = reaches(thresholds.gold);
        let silver_medal = !gold_medal && reaches(thresholds.silver);
        let bronze_medal = !gold_medal && !silver_medal && reaches(thresholds.bronze);
        let above_median = if lower_is_better {
            score < thresholds.median
        } else {
            score > thresholds.median
        };
        Ranking {
            thresholds,
            gold_medal,
            silver_medal,
            bronze_medal,
            above_median,
        }
    }

    /// The score at a 1-based position; the bands never ask past the end for the team counts they cover.
    fn score_at(&self, position: usize) -> f64 {
        self.scores
            .get(position.saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// The median as pandas computes it: NaN skipped, the mean of the two middle values for an even count.
fn pandas_median(scores: &[f64]) -> f64 {
    let mut present: Vec<f64> = scores
        .iter()
        .copied()
        .filter(|score| !score.is_nan())
        .collect();
    if present.is_empty() {
        return f64::NAN;
    }
    present.sort_by(f64::total_cmp);
    let middle = present.len() / 2;
    if present.len() % 2 == 1 {
        present[middle]
    } else {
        (present[middle - 1] + present[middle]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores `teams, teams-1, …, 1`: higher is better and the score at position p is `teams + 1 - p`.
    fn descending(teams: usize) -> Leaderboard {
        Leaderboard {
            path: PathBuf::from("leaderboard.csv"),
            scores: (0..teams).map(|rank| (teams - rank) as f64).collect(),
        }
    }

    fn positions(leaderboard: &Leaderboard) -> (usize, usize, usize) {
        let teams = leaderboard.scores.len() as f64;
        let position = |score: f64| (teams + 1.0 - score) as usize;
        let thresholds = leaderboard.thresholds();
        (
            position(thresholds.gold),
            position(thresholds.silver),
            position(thresholds.bronze),
        )
    }

    #[test]
    fn band_under_100_teams_uses_fractions_with_a_floor_of_one() {
        assert_eq!(positions(&descending(1)), (1, 1, 1));
        assert_eq!(positions(&descending(9)), (1, 1, 3));
        assert_eq!(positions(&descending(37)), (3, 7, 14));
        assert_eq!(positions(&descending(99)), (9, 19, 39));
    }

    #[test]
    fn band_100_to_249_fixes_gold_at_ten() {
        assert_eq!(positions(&descending(100)), (10, 20, 40));
        assert_eq!(positions(&descending(249)), (10, 49, 99));
    }

    #[test]
    fn band_250_to_999_fixes_silver_and_bronze() {
        assert_eq!(positions(&descending(250)), (10, 50, 100));
        assert_eq!(positions(&descending(500)), (11, 50, 100));
        assert_eq!(positions(&descending(999)), (11, 50, 100));
    }

    #[test]
    fn band_from_1000_teams_uses_fractions_again() {
        assert_eq!(positions(&descending(1000)), (12, 50, 100));
        assert_eq!(positions(&descending(1234)), (12, 61, 123));
        assert_eq!(positions(&descending(5000)), (20, 250, 500));
    }

    #[test]
    fn medals_are_inclusive_and_exclusive_of_each_other() {
        let leaderboard = descending(10); // gold at 10, silver at 9, bronze at 7, median 5.5
        let gold = leaderboard.rank(Some(10.0));
        assert!(gold.gold_medal && !gold.silver_medal && !gold.bronze_medal && gold.any_medal());
        let silver = leaderboard.rank(Some(9.0));
        assert!(!silver.gold_medal && silver.silver_medal && !silver.bronze_medal);
        let bronze = leaderboard.rank(Some(7.0));
        assert!(bronze.bronze_medal && !bronze.silver_medal);
        let none = leaderboard.rank(Some(6.9));
        assert!(!none.any_medal() && none.above_median);
    }

    #[test]
    fn above_median_is_strict_and_uses_the_pandas_median() {
        let leaderboard = descending(10);
        assert_eq!(leaderboard.thresholds().median, 5.5);
        assert!(!leaderboard.rank(Some(5.5)).above_median);
        assert!(leaderboard.rank(Some(5.6)).above_median);
    }

    #[test]
    fn direction_comes_from_first_against_last_row() {
        let leaderboard = Leaderboard {
            path: PathBuf::from("leaderboard.csv"),
            scores: vec![0.1, 0.2, 0.3, 0.4, 0.5],
        };
        assert!(leaderboard.is_lower_better());
        let ranking = leaderboard.rank(Some(0.1));
        assert!(ranking.gold_medal);
        assert!(!leaderboard.rank(Some(0.35)).above_median);
        assert!(leaderboard.rank(Some(0.25)).above_median);
    }

    #[test]
    fn no_score_wins_nothing_but_keeps_thresholds() {
        let ranking = descending(20).rank(None);
        assert!(!ranking.any_medal() && !ranking.above_median);
        assert_eq!(ranking.thresholds.gold, 19.0);
    }

    #[test]
    fn the_median_skips_missing_scores() {
        assert_eq!(pandas_median(&[3.0, f64::NAN, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn reads_a_leaderboard_and_rejects_one_without_scores() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.csv");
        std::fs::write(&good, "teamId,score\n1,0.9\n2,\n3,0.7\n").unwrap();
        let leaderboard = Leaderboard::read(&good).unwrap();
        assert_eq!(leaderboard.scores.len(), 3);
        assert!(leaderboard.scores[1].is_nan());
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "teamId,points\n1,0.9\n").unwrap();
        let error = Leaderboard::read(&bad).unwrap_err().to_string();
        assert!(error.contains("no `score` column"), "{error}");
    }
}
