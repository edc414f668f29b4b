//! The starting script a draft prompt offers: a short script the harness writes from the task's files
//! and metric that already reads the data, validates on the run's folds, writes `metrics.json`, the
//! prediction files and a submission of the right shape. Small models lose most drafts to that
//! plumbing (pandas 3's copy-on-write, invented columns, validation predictions written as the
//! submission); with the plumbing given, the model's work is the features and the model, and a model
//! that only echoes the prompt still replies with a script that runs.

use serde::Serialize;

use mlm_grade::{F1Average, Metric};

use crate::operator::TaskBrief;

/// What the submission's one target column holds, which decides the estimator and the prediction call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Prediction {
    /// A class label, as train.csv spells it (`predict` of a classifier).
    Label,
    /// The probability of the positive class of a binary target (`predict_proba(...)[:, 1]`).
    Probability,
    /// A number (`predict` of a regressor).
    Value,
}

/// What `_starting_script.py.j2` is rendered with.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StartingScriptContext {
    id_column: String,
    target: String,
    prediction: Prediction,
    /// The `sklearn.metrics` function the score is computed with.
    metric_function: &'static str,
    /// The score of `predicted` against `y[valid]`, as a Python expression.
    metric_expression: String,
    lower_is_better: bool,
}

impl StartingScriptContext {
    /// The context for tasks the starting script fits: one target column that train.csv holds, an id column
    /// and feature columns that test.csv holds, and a metric scikit-learn computes on one column. `None` otherwise
    /// (several targets, ranked lists, correlations), where the prompt offers no starting script.
    pub(crate) fn new(task: &TaskBrief) -> Option<StartingScriptContext> {
        let [target] = task.target_columns.as_slice() else {
            return None;
        };
        let has_column = |table: &Option<mlm_task::CsvTable>, column: &str| {
            table
                .as_ref()
                .is_some_and(|table| table.column_index(column).is_some())
        };
        // test.csv must hold features besides the id: an image task's rows name files instead.
        let test_has_features = task
            .test_sample
            .as_ref()
            .is_some_and(|table| table.headers.iter().any(|header| *header != task.id_column));
        if !has_column(&task.train_sample, target)
            || !has_column(&task.test_sample, &task.id_column)
            || !test_has_features
        {
            return None;
        }
        let truth = "y[valid]";
        let (prediction, metric_function, metric_expression) = match task.metric {
            Metric::Accuracy => (
                Prediction::Label,
                "accuracy_score",
                format!("accuracy_score({truth}, predicted)"),
            ),
            Metric::F1(average) => {
                let average = match average {
                    F1Average::Binary => "binary",
                    F1Average::Micro => "micro",
                    F1Average::Macro => "macro",
                };
                (
                    Prediction::Label,
                    "f1_score",
                    format!("f1_score({truth}, predicted, average=\"{average}\")"),
                )
            }
            Metric::QuadraticWeightedKappa => (
                Prediction::Label,
                "cohen_kappa_score",
                format!("cohen_kappa_score({truth}, predicted, weights=\"quadratic\")"),
            ),
            Metric::RocAuc => (
                Prediction::Probability,
                "roc_auc_score",
                format!("roc_auc_score({truth}, predicted)"),
            ),
            Metric::LogLoss => (
                Prediction::Probability,
                "log_loss",
                format!("log_loss({truth}, predicted)"),
            ),
            Metric::Rmse => (
                Prediction::Value,
                "mean_squared_error",
                format!("mean_squared_error({truth}, predicted) ** 0.5"),
            ),
            Metric::Rmsle => (
                Prediction::Value,
                "mean_squared_log_error",
                format!("mean_squared_log_error({truth}, np.clip(predicted, 0, None)) ** 0.5"),
            ),
            Metric::Mae => (
                Prediction::Value,
                "mean_absolute_error",
                format!("mean_absolute_error({truth}, predicted)"),
            ),
            Metric::Mcrmse | Metric::MapAtK(_) | Metric::Pearson | Metric::Spearman => return None,
        };
        Some(StartingScriptContext {
            id_column: task.id_column.clone(),
            target: target.clone(),
            prediction,
            metric_function,
            metric_expression,
            lower_is_better: task.metric.lower_is_better(),
        })
    }
}
