//! What the submission asks for: the metric (as the built-in coder knows it), the kind of target (a
//! probability, a label, a number), and where train.csv holds the values to learn.

use mlm_grade::{F1Average, Metric};

use mlm_task::{is_missing_cell, CsvTable};

use super::columns::parses_as_number;
use super::Problem;

/// The scikit-learn functions a script's `output_score` calls for `metric`.
pub(crate) fn sklearn_imports(metric: Metric) -> &'static [&'static str] {
    match metric {
        Metric::Accuracy => &["accuracy_score"],
        Metric::RocAuc => &["roc_auc_score"],
        Metric::LogLoss => &["log_loss"],
        Metric::Rmse | Metric::Mcrmse => &["mean_squared_error"],
        Metric::Rmsle => &["mean_squared_log_error"],
        Metric::Mae => &["mean_absolute_error"],
        Metric::QuadraticWeightedKappa => &["cohen_kappa_score"],
        Metric::F1(_) => &["f1_score"],
        // map@K has no scikit-learn function; the schema refuses it before a script is written.
        Metric::Pearson | Metric::Spearman | Metric::MapAtK(_) => &[],
    }
}

/// What one prediction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKind {
    /// One column: the probability of the positive class.
    BinaryProbability,
    /// One probability column per class, each row summing to one.
    MulticlassProbability,
    /// Several independent yes/no probability columns.
    MultilabelProbability,
    BinaryLabel,
    MulticlassLabel,
    /// One or more numeric columns.
    Regression,
    /// Whole grades, scored by quadratic weighted kappa: learnt as a number, rounded.
    Ordinal,
}

impl TargetKind {
    pub(crate) fn problem(self) -> Problem {
        match self {
            TargetKind::BinaryProbability
            | TargetKind::MulticlassProbability
            | TargetKind::MultilabelProbability
            | TargetKind::BinaryLabel
            | TargetKind::MulticlassLabel => Problem::Classification,
            TargetKind::Regression | TargetKind::Ordinal => Problem::Regression,
        }
    }

    /// The name the templates switch on.
    pub(crate) fn template_name(self) -> &'static str {
        match self {
            TargetKind::BinaryProbability => "binary_probability",
            TargetKind::MulticlassProbability => "multiclass_probability",
            TargetKind::MultilabelProbability => "multilabel_probability",
            TargetKind::BinaryLabel => "binary_label",
            TargetKind::MulticlassLabel => "multiclass_label",
            TargetKind::Regression => "regression",
            TargetKind::Ordinal => "ordinal",
        }
    }
}

/// Where train.csv holds what the model learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LabelSource {
    /// Train has the submission's target columns themselves.
    TargetColumns,
    /// One train column holds the class (or value) of each row, e.g. leaf's `species`.
    Column(String),
    /// Train has one 0/1 column per class, named like the submission's columns.
    OneHotColumns,
}

/// The resolved target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) kind: TargetKind,
    pub(crate) source: LabelSource,
    /// The train columns the values come from.
    pub(crate) source_columns: Vec<String>,
    /// Distinct labels seen in the sample (classification only), sorted.
    pub(crate) classes: Vec<String>,
    /// The rarest class's share of the rows (classification only).
    pub(crate) minority_share: Option<f64>,
    /// Whether every sampled target value is at least zero (regression only).
    pub(crate) non_negative: bool,
}

/// Resolves the target from the metric, the submission's columns and train.csv's header and rows.
/// `train_only` lists the train columns test.csv lacks (besides the id). Errors are problems in
/// words.
pub(crate) fn resolve(
    metric: Metric,
    target_columns: &[String],
    train: &CsvTable,
    train_only: &[String],
) -> Result<Target, String> {
    let in_train = target_columns
        .iter()
        .all(|column| train.column_index(column).is_some());
    let single_source = || -> Result<String, String> {
        match (target_columns, in_train, train_only) {
            ([column], true, _) => Ok(column.clone()),
            (_, _, [column]) => Ok(column.clone()),
            _ => Err(format!(
                "it has no column {} (the sample submission's target{}), and no single column that test.csv lacks to learn {} from (train-only columns: {})",
                quoted(target_columns),
                if target_columns.len() == 1 { "" } else { "s" },
                if target_columns.len() == 1 { "it" } else { "them" },
                if train_only.is_empty() { "none".to_string() } else { quoted(train_only) },
            )),
        }
    };
    let several = target_columns.len() > 1;
    let (kind, source) = match metric {
        Metric::MapAtK(_) => {
            return Err(format!(
                "{} is not a metric the built-in coder can optimise",
                metric.name()
            ))
        }
        Metric::RocAuc | Metric::LogLoss if !several => (
            TargetKind::BinaryProbability,
            LabelSource::Column(single_source()?),
        ),
        Metric::RocAuc if in_train => (
            TargetKind::MultilabelProbability,
            LabelSource::TargetColumns,
        ),
        Metric::LogLoss if in_train => (
            TargetKind::MulticlassProbability,
            LabelSource::OneHotColumns,
        ),
        Metric::RocAuc | Metric::LogLoss => (
            TargetKind::MulticlassProbability,
            LabelSource::Column(single_source()?),
        ),
        Metric::Accuracy | Metric::F1(_) => {
            if several {
                return Err(format!(
                    "{} asks for labels in several columns ({}), which the built-in coder does not support",
                    metric.name(),
                    quoted(target_columns)
                ));
            }
            (
                TargetKind::MulticlassLabel,
                LabelSource::Column(single_source()?),
            )
        }
        Metric::QuadraticWeightedKappa => {
            (TargetKind::Ordinal, LabelSource::Column(single_source()?))
        }
        Metric::Rmse
        | Metric::Rmsle
        | Metric::Mae
        | Metric::Mcrmse
        | Metric::Pearson
        | Metric::Spearman => match several {
            true if in_train => (TargetKind::Regression, LabelSource::TargetColumns),
            true => {
                return Err(format!(
                    "it lacks the target column(s) {} of the sample submission",
                    quoted(
                        &target_columns
                            .iter()
                            .filter(|column| train.column_index(column).is_none())
                            .cloned()
                            .collect::<Vec<_>>()
                    )
                ))
            }
            false => (
                TargetKind::Regression,
                LabelSource::Column(single_source()?),
            ),
        },
    };
    let source_columns = match &source {
        LabelSource::Column(column) => vec![column.clone()],
        LabelSource::TargetColumns | LabelSource::OneHotColumns => target_columns.to_vec(),
    };
    let cells: Vec<&str> = source_columns
        .iter()
        .filter_map(|column| train.column_index(column))
        .flat_map(|index| train.column(index))
        .filter(|cell| !is_missing_cell(cell))
        .collect();
    if cells.is_empty() {
        return Err(format!(
            "its target column(s) {} hold no values",
            quoted(&source_columns)
        ));
    }
    match kind.problem() {
        super::Problem::Classification => {
            classification(kind, metric, source, source_columns, target_columns, &cells)
        }
        super::Problem::Regression => {
            if let Some(cell) = cells.iter().find(|cell| !parses_as_number(cell)) {
                return Err(format!(
                    "{} is scored by {}, which needs numbers, but its target holds `{cell}`",
                    quoted(&source_columns),
                    metric.name()
                ));
            }
            let non_negative = cells
                .iter()
                .all(|cell| cell.trim().parse::<f64>().is_ok_and(|value| value >= 0.0));
            if metric == Metric::Rmsle && !non_negative {
                return Err(format!(
                    "{} is scored by rmsle, which takes logarithms, but it holds negative values",
                    quoted(&source_columns)
                ));
            }
            Ok(Target {
                kind,
                source,
                source_columns,
                classes: Vec::new(),
                minority_share: None,
                non_negative,
            })
        }
    }
}

fn classification(
    kind: TargetKind,
    metric: Metric,
    source: LabelSource,
    source_columns: Vec<String>,
    target_columns: &[String],
    cells: &[&str],
) -> Result<Target, String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    match source {
        LabelSource::Column(_) => {
            for cell in cells {
                *counts.entry(cell).or_default() += 1;
            }
        }
        // One-hot or multi-label columns: the classes are the columns themselves.
        LabelSource::TargetColumns | LabelSource::OneHotColumns => {
            for column in target_columns {
                counts.insert(column, 1);
            }
        }
    }
    let classes: Vec<String> = counts.keys().map(|label| label.to_string()).collect();
    let kind = if kind == TargetKind::MulticlassLabel && classes.len() == 2 {
        TargetKind::BinaryLabel
    } else {
        kind
    };
    let examples = |labels: &[String], count: usize| {
        quoted(&labels.iter().take(count).cloned().collect::<Vec<_>>())
    };
    if kind == TargetKind::BinaryProbability && classes.len() != 2 {
        return Err(format!(
            "{} is scored by {} on one probability column, which needs two classes, but {} holds {} ({})",
            quoted(target_columns),
            metric.name(),
            quoted(&source_columns),
            classes.len(),
            examples(&classes, 5)
        ));
    }
    if kind == TargetKind::MulticlassProbability
        && matches!(source, LabelSource::Column(_))
        && !classes.iter().any(|label| target_columns.contains(label))
    {
        return Err(format!(
            "the labels of {} (e.g. {}) name none of the sample submission's probability columns",
            quoted(&source_columns),
            examples(&classes, 3)
        ));
    }
    if metric == Metric::F1(F1Average::Binary) && classes != ["0", "1"] {
        return Err(format!(
            "f1 scores the positive class `1`, but {} holds {}",
            quoted(&source_columns),
            examples(&classes, 5)
        ));
    }
    let total: usize = counts.values().sum();
    let minority_share = match source {
        LabelSource::Column(_) => counts
            .values()
            .min()
            .map(|count| *count as f64 / total.max(1) as f64),
        LabelSource::TargetColumns | LabelSource::OneHotColumns => None,
    };
    Ok(Target {
        kind,
        source,
        source_columns,
        classes,
        minority_share,
        non_negative: false,
    })
}

pub(crate) fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
