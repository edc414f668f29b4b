//! The metric table: every score a competition can be graded by, with MLE-bench's semantics (which are
//! scikit-learn's and scipy's), its canonical name and aliases, its direction, how it reads a target cell,
//! and the computation itself over cells already aligned row by row by id.
//!
//! This module owns the arithmetic and the messages that say why a submission cannot be scored (naming
//! the column and the 1-based row). It does not read files, align ids or check the shape of a
//! submission: [`crate::submission`] does that before [`Metric::compute`] runs.

mod cells;
mod classification;
mod ranking;
mod regression;
#[cfg(test)]
mod test_support;

use cells::Cells;
pub(crate) use cells::{parse_boolean, parse_number, quote};

/// How a metric reads a target cell; submission validation checks cells against it before compute runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// One class label. Submission validation holds it to the answers' type in its column: numbers where
    /// every answer is a number, True or False where every answer is one, any non-empty text otherwise.
    Label,
    /// Labels separated by spaces (map@K's ranked guesses): any non-empty text.
    LabelList,
    /// A finite number.
    Number,
    /// A finite number in [0, 1].
    Probability,
}

/// How per-class F1 scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F1Average {
    /// F1 of the positive class `1`; labels must be 0 or 1.
    Binary,
    /// F1 from the true positives, false positives and false negatives summed over all labels.
    Micro,
    /// The unweighted mean of the per-label F1 over the labels in the answers or the submission.
    Macro,
}

/// A grading metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Fraction of rows whose every target column matches.
    Accuracy,
    /// Area under the ROC curve; the mean over columns when there are several (multi-label).
    RocAuc,
    /// Binary log loss for one column, multi-class log loss (one probability column per class) for several.
    LogLoss,
    /// Root mean squared error; the mean of per-column errors when there are several columns.
    Rmse,
    /// Root mean squared logarithmic error; the mean of per-column errors when there are several columns.
    Rmsle,
    /// Mean absolute error; the mean of per-column errors when there are several columns.
    Mae,
    /// Mean column-wise root mean squared error.
    Mcrmse,
    /// Cohen's kappa with quadratic weights over integer labels.
    QuadraticWeightedKappa,
    /// F1 score.
    F1(F1Average),
    /// Mean average precision at K over space-separated ranked predictions.
    MapAtK(usize),
    /// Pearson correlation; the mean over columns when there are several.
    Pearson,
    /// Spearman rank correlation; the mean over columns when there are several.
    Spearman,
}

/// Canonical names, with `map@K` standing for any K of at least 1.
const KNOWN_NAMES: &[&str] = &[
    "accuracy",
    "roc_auc",
    "log_loss",
    "rmse",
    "rmsle",
    "mae",
    "mcrmse",
    "quadratic_weighted_kappa",
    "f1",
    "f1_micro",
    "f1_macro",
    "map@K",
    "pearson",
    "spearman",
];

/// Every accepted spelling (lowercase, `-` and spaces read as `_`) and the metric it names; `map@K`
/// forms are parsed separately.
const ALIASES: &[(&str, Metric)] = &[
    ("accuracy", Metric::Accuracy),
    ("acc", Metric::Accuracy),
    ("roc_auc", Metric::RocAuc),
    ("auc", Metric::RocAuc),
    ("auc_roc", Metric::RocAuc),
    ("roc_auc_score", Metric::RocAuc),
    ("auroc", Metric::RocAuc),
    ("log_loss", Metric::LogLoss),
    ("logloss", Metric::LogLoss),
    ("multi_class_log_loss", Metric::LogLoss),
    ("multiclass_log_loss", Metric::LogLoss),
    ("binary_log_loss", Metric::LogLoss),
    ("cross_entropy", Metric::LogLoss),
    ("rmse", Metric::Rmse),
    ("root_mean_squared_error", Metric::Rmse),
    ("rmsle", Metric::Rmsle),
    ("root_mean_squared_log_error", Metric::Rmsle),
    ("root_mean_squared_logarithmic_error", Metric::Rmsle),
    ("mae", Metric::Mae),
    ("mean_absolute_error", Metric::Mae),
    ("mcrmse", Metric::Mcrmse),
    ("mean_columnwise_root_mean_squared_error", Metric::Mcrmse),
    ("quadratic_weighted_kappa", Metric::QuadraticWeightedKappa),
    ("qwk", Metric::QuadraticWeightedKappa),
    ("quadratic_kappa", Metric::QuadraticWeightedKappa),
    ("cohen_kappa_quadratic", Metric::QuadraticWeightedKappa),
    ("f1", Metric::F1(F1Average::Binary)),
    ("f1_score", Metric::F1(F1Average::Binary)),
    ("f1_binary", Metric::F1(F1Average::Binary)),
    ("binary_f1", Metric::F1(F1Average::Binary)),
    ("f1_micro", Metric::F1(F1Average::Micro)),
    ("micro_f1", Metric::F1(F1Average::Micro)),
    ("f1_macro", Metric::F1(F1Average::Macro)),
    ("macro_f1", Metric::F1(F1Average::Macro)),
    ("pearson", Metric::Pearson),
    ("pearsonr", Metric::Pearson),
    ("pearson_correlation", Metric::Pearson),
    ("spearman", Metric::Spearman),
    ("spearmanr", Metric::Spearman),
    ("spearman_correlation", Metric::Spearman),
];

impl Metric {
    /// Case-insensitive; accepts our canonical names, MLE-bench grader names and common aliases
    /// (`auc-roc`, `multi-class-log-loss`, `root-mean-squared-error`, `qwk`, `map_at_3`, ...). `-` and
    /// spaces read as `_`. `map@K`, `map_at_K` and `map-at-K` take any K of at least 1. Unknown: `None`.
    pub fn from_name(name: &str) -> Option<Metric> {
        let normalized: String = name
            .trim()
            .chars()
            .map(|character| match character {
                '-' | ' ' => '_',
                other => other.to_ascii_lowercase(),
            })
            .collect();
        if let Some(metric) = parse_map_at_k(&normalized) {
            return Some(metric);
        }
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == normalized)
            .map(|(_, metric)| *metric)
    }

    /// Canonical names for error hints; `map@K` stands for any K of at least 1.
    pub fn known_names() -> &'static [&'static str] {
        KNOWN_NAMES
    }

    /// The canonical name: `Metric::from_name(&metric.name()) == Some(metric)`.
    pub fn name(&self) -> String {
        match self {
            Metric::Accuracy => "accuracy".to_string(),
            Metric::RocAuc => "roc_auc".to_string(),
            Metric::LogLoss => "log_loss".to_string(),
            Metric::Rmse => "rmse".to_string(),
            Metric::Rmsle => "rmsle".to_string(),
            Metric::Mae => "mae".to_string(),
            Metric::Mcrmse => "mcrmse".to_string(),
            Metric::QuadraticWeightedKappa => "quadratic_weighted_kappa".to_string(),
            Metric::F1(F1Average::Binary) => "f1".to_string(),
            Metric::F1(F1Average::Micro) => "f1_micro".to_string(),
            Metric::F1(F1Average::Macro) => "f1_macro".to_string(),
            Metric::MapAtK(k) => format!("map@{k}"),
            Metric::Pearson => "pearson".to_string(),
            Metric::Spearman => "spearman".to_string(),
        }
    }

    /// True for the error metrics, where a smaller score is better.
    pub fn lower_is_better(&self) -> bool {
        match self {
            Metric::LogLoss | Metric::Rmse | Metric::Rmsle | Metric::Mae | Metric::Mcrmse => true,
            Metric::Accuracy
            | Metric::RocAuc
            | Metric::QuadraticWeightedKappa
            | Metric::F1(_)
            | Metric::MapAtK(_)
            | Metric::Pearson
            | Metric::Spearman => false,
        }
    }

    /// How this metric reads a target cell.
    pub fn value_kind(&self) -> ValueKind {
        match self {
            Metric::Accuracy | Metric::F1(F1Average::Micro | F1Average::Macro) => ValueKind::Label,
            Metric::MapAtK(_) => ValueKind::LabelList,
            Metric::RocAuc | Metric::LogLoss => ValueKind::Probability,
            Metric::Rmse
            | Metric::Rmsle
            | Metric::Mae
            | Metric::Mcrmse
            | Metric::QuadraticWeightedKappa
            | Metric::F1(F1Average::Binary)
            | Metric::Pearson
            | Metric::Spearman => ValueKind::Number,
        }
    }

    /// The unrounded score of `predicted` against `truth`.
    ///
    /// `columns` names the target columns (the sample submission's columns minus the id column, in order).
    /// `truth[c][r]` and `predicted[c][r]` are column-major cells, aligned row by row by id. Returns
    /// `Err(message)` when the metric cannot be computed for this submission; the message names the
    /// column and the 1-based row where one is at fault, and is shown as `Submission invalid! <message>`.
    pub fn compute(
        &self,
        columns: &[String],
        truth: &[Vec<&str>],
        predicted: &[Vec<&str>],
    ) -> Result<f64, String> {
        let cells = Cells::new(columns, truth, predicted)?;
        let score = match self {
            Metric::Accuracy => classification::accuracy(&cells),
            Metric::RocAuc => ranking::roc_auc(&cells),
            Metric::LogLoss => classification::log_loss(&cells),
            Metric::Rmse | Metric::Mcrmse => regression::root_mean_squared_error(&cells),
            Metric::Rmsle => regression::root_mean_squared_log_error(&cells),
            Metric::Mae => regression::mean_absolute_error(&cells),
            Metric::QuadraticWeightedKappa => classification::quadratic_weighted_kappa(&cells),
            Metric::F1(average) => classification::f1(&cells, *average),
            Metric::MapAtK(k) => ranking::mean_average_precision_at_k(&cells, *k),
            Metric::Pearson => regression::pearson(&cells),
            Metric::Spearman => regression::spearman(&cells),
        }?;
        if score.is_finite() {
            Ok(score)
        } else {
            Err(format!(
                "{} is not a finite number ({score}); check the submission for extreme values",
                self.name()
            ))
        }
    }
}

/// `map@K`, `map_at_K` (also `map-at-K`, already normalized to `_`) with K at least 1.
fn parse_map_at_k(normalized: &str) -> Option<Metric> {
    let digits = normalized
        .strip_prefix("map@")
        .or_else(|| normalized.strip_prefix("map_at_"))
        .or_else(|| normalized.strip_prefix("mean_average_precision@"))
        .or_else(|| normalized.strip_prefix("mean_average_precision_at_"))?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    match digits.parse::<usize>() {
        Ok(k) if k >= 1 => Some(Metric::MapAtK(k)),
        Ok(_) | Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_metrics() -> Vec<Metric> {
        vec![
            Metric::Accuracy,
            Metric::RocAuc,
            Metric::LogLoss,
            Metric::Rmse,
            Metric::Rmsle,
            Metric::Mae,
            Metric::Mcrmse,
            Metric::QuadraticWeightedKappa,
            Metric::F1(F1Average::Binary),
            Metric::F1(F1Average::Micro),
            Metric::F1(F1Average::Macro),
            Metric::MapAtK(1),
            Metric::MapAtK(3),
            Metric::MapAtK(12),
            Metric::Pearson,
            Metric::Spearman,
        ]
    }

    #[test]
    fn every_name_round_trips() {
        for metric in all_metrics() {
            assert_eq!(
                Metric::from_name(&metric.name()),
                Some(metric),
                "{}",
                metric.name()
            );
            assert_eq!(
                Metric::from_name(&metric.name().to_uppercase()),
                Some(metric)
            );
        }
        assert_eq!(Metric::MapAtK(3).name(), "map@3");
    }

    #[test]
    fn every_known_name_parses() {
        for name in Metric::known_names() {
            let name = name.replace('K', "5");
            assert!(Metric::from_name(&name).is_some(), "{name}");
        }
    }

    #[test]
    fn aliases_parse() {
        let cases = [
            ("accuracy", Metric::Accuracy),
            ("Accuracy", Metric::Accuracy),
            ("roc_auc", Metric::RocAuc),
            ("auc", Metric::RocAuc),
            ("auc-roc", Metric::RocAuc),
            ("roc-auc", Metric::RocAuc),
            ("AUC-ROC", Metric::RocAuc),
            ("log_loss", Metric::LogLoss),
            ("log-loss", Metric::LogLoss),
            ("logloss", Metric::LogLoss),
            ("multi-class-log-loss", Metric::LogLoss),
            ("binary-log-loss", Metric::LogLoss),
            ("rmse", Metric::Rmse),
            ("root-mean-squared-error", Metric::Rmse),
            ("rmsle", Metric::Rmsle),
            ("mae", Metric::Mae),
            ("mean-absolute-error", Metric::Mae),
            ("mcrmse", Metric::Mcrmse),
            ("quadratic_weighted_kappa", Metric::QuadraticWeightedKappa),
            ("quadratic-weighted-kappa", Metric::QuadraticWeightedKappa),
            ("qwk", Metric::QuadraticWeightedKappa),
            ("f1", Metric::F1(F1Average::Binary)),
            ("f1_binary", Metric::F1(F1Average::Binary)),
            ("f1_micro", Metric::F1(F1Average::Micro)),
            ("f1-macro", Metric::F1(F1Average::Macro)),
            ("map@3", Metric::MapAtK(3)),
            ("MAP@3", Metric::MapAtK(3)),
            ("map_at_3", Metric::MapAtK(3)),
            ("map-at-7", Metric::MapAtK(7)),
            ("map@100", Metric::MapAtK(100)),
            ("pearson", Metric::Pearson),
            ("spearman", Metric::Spearman),
            (" spearman ", Metric::Spearman),
        ];
        for (name, metric) in cases {
            assert_eq!(Metric::from_name(name), Some(metric), "{name}");
        }
    }

    #[test]
    fn unknown_names_are_none() {
        for name in [
            "",
            "map@0",
            "map@",
            "map@k",
            "map@-1",
            "map@3x",
            "f2",
            "r2",
            "accuracyy",
            "map@+3",
        ] {
            assert_eq!(Metric::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn directions_and_value_kinds() {
        assert!(Metric::LogLoss.lower_is_better());
        assert!(Metric::Mcrmse.lower_is_better());
        assert!(!Metric::RocAuc.lower_is_better());
        assert!(!Metric::MapAtK(3).lower_is_better());
        assert_eq!(Metric::Accuracy.value_kind(), ValueKind::Label);
        assert_eq!(Metric::F1(F1Average::Macro).value_kind(), ValueKind::Label);
        assert_eq!(
            Metric::F1(F1Average::Binary).value_kind(),
            ValueKind::Number
        );
        assert_eq!(Metric::LogLoss.value_kind(), ValueKind::Probability);
        assert_eq!(
            Metric::QuadraticWeightedKappa.value_kind(),
            ValueKind::Number
        );
    }

    #[test]
    fn shape_problems_are_errors() {
        let columns = vec!["target".to_string()];
        let error = Metric::Rmse.compute(&columns, &[vec!["1", "2"]], &[vec!["1"]]);
        assert!(error.is_err_and(|message| message.contains("rows")));
        let error = Metric::Rmse.compute(&columns, &[vec![]], &[vec![]]);
        assert!(error.is_err_and(|message| message.contains("no rows")));
        let error = Metric::Rmse.compute(&[], &[], &[]);
        assert!(error.is_err_and(|message| message.contains("no target columns")));
        let error = Metric::Rmse.compute(&columns, &[vec!["1"], vec!["2"]], &[vec!["1"]]);
        assert!(error.is_err());
    }

    #[test]
    fn an_infinite_score_is_an_error() {
        let columns = vec!["target".to_string()];
        let error = Metric::Rmse.compute(&columns, &[vec!["-1e308", "0"]], &[vec!["1e308", "0"]]);
        assert!(error.is_err_and(|message| message.contains("not a finite number")));
    }
}
