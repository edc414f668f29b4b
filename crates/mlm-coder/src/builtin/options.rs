//! The options a built-in script is rendered from. They are written as JSON on the script's first
//! line (`# ml-master-builtin: {...}`), so that improving or debugging a node starts from its
//! parent's options, read back from the parent's code, and changes them. Options that do not apply
//! to the task (text settings without text columns, class weights for a regression) are absent from
//! the header.

use serde::{Deserialize, Serialize};

use super::family::Family;
use mlm_grade::Metric;

use super::schema::{ColumnKind, Modality, Problem, TaskSchema};

/// The start of a built-in script's first line.
pub(crate) const HEADER_PREFIX: &str = "# ml-master-builtin: ";

/// Below this many training rows, trees are kept small.
const SMALL_DATA_ROWS: usize = 3_000;
/// Above this many classes, multi-class boosting is kept cheap.
const MANY_CLASSES: usize = 10;
/// The most rounds a boosting draft may train; early stopping usually ends it well before.
const EARLY_STOPPING_ROUNDS: u32 = 1_000;
/// Above this many rows (or when train.csv was only sampled), a single hold-out split validates.
const HOLDOUT_ROWS: usize = 20_000;
/// The tokens of each text a text-embeddings draft reads; longer texts are cut.
const EMBEDDING_MAX_TOKENS: u32 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Switch {
    Off,
    On,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CategoricalEncoding {
    /// One integer per category (trees); scaled families get one-hot columns instead.
    Ordinal,
    OneHot,
    /// The mean target per category, fitted inside each validation fold.
    Target,
    /// Each category's share of the rows, counted inside each validation fold.
    Frequency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DateParts {
    /// Days since 1970 only.
    DaysOnly,
    /// Days since 1970 plus year, month, day, weekday and hour.
    Expanded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TextNgrams {
    Unigrams,
    UpToBigrams,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Validation {
    /// A fifth of the rows held out once.
    Holdout,
    FiveFold,
    TenFold,
}

impl Validation {
    pub(crate) fn folds(self) -> u32 {
        match self {
            Validation::Holdout => 1,
            Validation::FiveFold => 5,
            Validation::TenFold => 10,
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Validation::Holdout => "a 20% hold-out split",
            Validation::FiveFold => "5-fold cross-validation",
            Validation::TenFold => "10-fold cross-validation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ClassWeight {
    Uniform,
    Balanced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NeighbourWeights {
    Uniform,
    Distance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SubmissionChecks {
    Standard,
    /// Repairs empty cells and mismatched ids, then re-reads the file and checks it against the
    /// sample.
    Strict,
}

/// Model settings; each family uses some of them and the others stay absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Hyperparameters {
    /// Boosting rounds or forest trees; with early stopping, the most rounds boosting may train.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trees: Option<u32>,
    /// On: boosting trains up to `trees` rounds and stops after 50 without progress (boosting drafts
    /// start with it on; switching it on raises `trees` fourfold); a network stops when a held-out
    /// tenth of the rows stops improving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) early_stopping: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) num_leaves: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_depth: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) min_leaf_samples: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) feature_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) row_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) l2_regularization: Option<f64>,
    /// C of a logistic regression; a ridge uses alpha = 1 / C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inverse_regularization: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) neighbours: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) neighbour_weights: Option<NeighbourWeights>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hidden_units: Option<u32>,
    /// CatBoost's histogram bins per feature (`border_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bins: Option<u32>,
    /// A convolutional network's width: the channels of its first stage (each later stage doubles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) channels: Option<u32>,
    /// The most epochs a network trains; it stops earlier when the validation score stalls or the
    /// time allowed for training runs out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) epochs: Option<u32>,
    /// On: training images are shifted at random by up to an eighth of their side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) augmentation: Option<Switch>,
    /// The tokens of each text a local model embeds; longer texts are cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_tokens: Option<u32>,
}

/// How columns become features.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct FeatureOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) categorical_encoding: Option<CategoricalEncoding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) missing_indicators: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) date_parts: Option<DateParts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) text_ngrams: Option<TextNgrams>,
    /// Character 2–5-grams besides the words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) text_characters: Option<Switch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) text_max_features: Option<u32>,
    /// Per text column: its length, words, and shares of capitals, digits and punctuation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) text_statistics: Option<Switch>,
    /// Columns read as categories whatever the schema says (a debug found text in them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) force_categorical: Vec<String>,
    /// Columns left out (a debug found them missing from a file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) excluded_columns: Vec<String>,
}

/// Everything a built-in script is rendered from, besides the task's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScriptOptions {
    pub(crate) family: Family,
    #[serde(flatten)]
    pub(crate) hyperparameters: Hyperparameters,
    #[serde(flatten)]
    pub(crate) features: FeatureOptions,
    pub(crate) validation: Validation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) class_weight: Option<ClassWeight>,
    /// Regression on non-negative targets: learn log(1 + y).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) log_target: Option<Switch>,
    /// Models per member, each with its own seed, averaged.
    pub(crate) seeds: u32,
    /// Other families averaged with the main one, each with its default settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) blend: Vec<Family>,
    /// The share of training rows used (1 = all).
    pub(crate) row_subsample: f64,
    pub(crate) submission_checks: SubmissionChecks,
    /// Seconds a network may spend training, from the node timeout and the time left when the script
    /// was written; the epochs stop before the next one would overrun it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) training_seconds: Option<u32>,
}

impl ScriptOptions {
    /// A first script of `family` for this task: sensible defaults, no tuning, no ensembling.
    pub(crate) fn draft(family: Family, schema: &TaskSchema) -> ScriptOptions {
        let has = |kind: ColumnKind| schema.columns.iter().any(|(_, column)| *column == kind);
        // A text-embeddings script embeds its text columns instead of counting their words.
        let has_text = has(ColumnKind::Text);
        let counts_words = has_text && family != Family::TextEmbeddings;
        let text_max_features = match (schema.modality, family) {
            (Modality::Text, Family::Linear) => 200_000,
            (Modality::Text, Family::LightGbm) => 5_000,
            (Modality::Text, Family::XgBoost) => 2_000,
            (Modality::Text, Family::MultilayerPerceptron) => 10_000,
            (
                Modality::Text,
                Family::CatBoost
                | Family::RandomForest
                | Family::ExtraTrees
                | Family::KNearestNeighbours,
            ) => 20_000,
            (
                Modality::Tabular | Modality::Image,
                Family::Linear | Family::MultilayerPerceptron,
            ) => 2_000,
            (_, Family::ConvolutionalNetwork | Family::TextEmbeddings) => 300,
            (
                Modality::Tabular | Modality::Image,
                Family::LightGbm
                | Family::XgBoost
                | Family::CatBoost
                | Family::RandomForest
                | Family::ExtraTrees
                | Family::KNearestNeighbours,
            ) => 300,
        };
        let problem = schema.problem();
        ScriptOptions {
            family,
            hyperparameters: Hyperparameters::defaults(family, schema),
            features: FeatureOptions {
                categorical_encoding: has(ColumnKind::Categorical)
                    .then_some(CategoricalEncoding::Ordinal),
                missing_indicators: schema.has_missing_numbers.then_some(Switch::Off),
                date_parts: has(ColumnKind::Date).then_some(DateParts::DaysOnly),
                text_ngrams: counts_words.then_some(match schema.modality {
                    Modality::Text => TextNgrams::UpToBigrams,
                    Modality::Tabular | Modality::Image => TextNgrams::Unigrams,
                }),
                text_characters: counts_words.then_some(Switch::Off),
                text_max_features: counts_words.then_some(text_max_features),
                text_statistics: has_text.then_some(Switch::Off),
                force_categorical: Vec::new(),
                excluded_columns: Vec::new(),
            },
            // A network stops early on its hold-out rows; folds would train it five times.
            validation: match (family, schema.train_rows < HOLDOUT_ROWS) {
                (Family::ConvolutionalNetwork, _) | (_, false) => Validation::Holdout,
                (_, true) => Validation::FiveFold,
            },
            class_weight: (problem == Problem::Classification).then_some(ClassWeight::Uniform),
            log_target: (problem == Problem::Regression && schema.target.non_negative).then_some(
                match schema.metric {
                    Metric::Rmsle => Switch::On,
                    Metric::Accuracy
                    | Metric::RocAuc
                    | Metric::LogLoss
                    | Metric::Rmse
                    | Metric::Mae
                    | Metric::Mcrmse
                    | Metric::QuadraticWeightedKappa
                    | Metric::F1(_)
                    | Metric::Pearson
                    | Metric::Spearman
                    | Metric::MapAtK(_) => Switch::Off,
                },
            ),
            seeds: 1,
            blend: Vec::new(),
            row_subsample: 1.0,
            submission_checks: SubmissionChecks::Standard,
            training_seconds: None,
        }
    }

    /// The script's first line.
    pub(crate) fn header(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string());
        format!("{HEADER_PREFIX}{json}")
    }

    /// The options recorded in a built-in script's first lines; `None` for any other code.
    pub(crate) fn from_code(code: &str) -> Option<ScriptOptions> {
        code.lines()
            .take(5)
            .find_map(|line| line.strip_prefix(HEADER_PREFIX))
            .and_then(|json| serde_json::from_str(json.trim()).ok())
    }

    /// A few words on the settings that matter most, for plans and summaries.
    pub(crate) fn key_settings(&self) -> String {
        let parameters = &self.hyperparameters;
        let mut parts = Vec::new();
        if let Some(trees) = parameters.trees {
            parts.push(match parameters.early_stopping {
                Some(Switch::On) => format!("up to {trees} trees with early stopping"),
                Some(Switch::Off) | None => format!("{trees} trees"),
            });
        }
        let mut push = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                parts.push(format!("{name} {value}"));
            }
        };
        push(
            "learning rate",
            parameters.learning_rate.map(|value| value.to_string()),
        );
        push(
            "num_leaves",
            parameters.num_leaves.map(|value| value.to_string()),
        );
        push("depth", parameters.max_depth.map(|value| value.to_string()));
        push(
            "C",
            parameters
                .inverse_regularization
                .map(|value| value.to_string()),
        );
        push("k", parameters.neighbours.map(|value| value.to_string()));
        push(
            "hidden units",
            parameters.hidden_units.map(|value| value.to_string()),
        );
        push(
            "channels",
            parameters.channels.map(|value| value.to_string()),
        );
        if let Some(tokens) = parameters.max_tokens {
            parts.push(format!("texts cut at {tokens} tokens"));
        }
        if let Some(epochs) = parameters.epochs {
            parts.push(format!("up to {epochs} epochs"));
        }
        if parameters.augmentation == Some(Switch::On) {
            parts.push("random shifts".to_string());
        }
        parts.push(self.validation.describe().to_string());
        if self.seeds > 1 {
            parts.push(format!("{} seeds", self.seeds));
        }
        if !self.blend.is_empty() {
            parts.push(format!(
                "blended with {}",
                self.blend
                    .iter()
                    .map(|family| family.plan_name())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        parts.join(", ")
    }
}

impl Hyperparameters {
    /// The settings a family starts from on this task.
    pub(crate) fn defaults(family: Family, schema: &TaskSchema) -> Hyperparameters {
        let small = schema.train_rows < SMALL_DATA_ROWS;
        let text = schema.modality == Modality::Text;
        // Multi-class boosting grows one tree per class and round.
        let many_classes = schema.target.classes.len() > MANY_CLASSES;
        let classification = schema.problem() == Problem::Classification;
        // Columns a forest splits on: text becomes 100 SVD components (text tasks) or 300 terms.
        let features = schema
            .columns
            .iter()
            .map(|(_, kind)| match kind {
                ColumnKind::Numeric | ColumnKind::Categorical | ColumnKind::Date => 1,
                ColumnKind::Text if text => 100,
                ColumnKind::Text => 300,
                ColumnKind::Identifier | ColumnKind::Constant | ColumnKind::Grouping => 0,
            })
            .sum::<usize>()
            .saturating_add(schema.image_files.as_ref().map_or(0, |_| {
                super::schema::TABULAR_IMAGE_SIDE * super::schema::TABULAR_IMAGE_SIDE
            }))
            .max(1);
        let forest_feature_fraction = match classification {
            true => round((features as f64).sqrt() / features as f64).clamp(0.1, 1.0),
            false => 0.5,
        };
        let none = Hyperparameters::default();
        match family {
            // Boosting stops early from the first draft: each fold finds its number of rounds on
            // rows set aside from its training rows, and the refit trains their mean (issue 15: most
            // improves once only halved a learning rate that fixed rounds could not use).
            Family::LightGbm => Hyperparameters {
                trees: Some(EARLY_STOPPING_ROUNDS),
                early_stopping: Some(Switch::On),
                learning_rate: Some(0.05),
                num_leaves: Some(if small { 15 } else { 31 }),
                min_leaf_samples: Some(if small { 10 } else { 20 }),
                feature_fraction: Some(0.8),
                row_fraction: Some(0.8),
                l2_regularization: Some(1.0),
                ..none
            },
            Family::XgBoost => Hyperparameters {
                trees: Some(EARLY_STOPPING_ROUNDS),
                early_stopping: Some(Switch::On),
                learning_rate: Some(0.05),
                max_depth: Some(if small { 4 } else { 6 }),
                feature_fraction: Some(0.8),
                row_fraction: Some(0.8),
                l2_regularization: Some(1.0),
                ..none
            },
            Family::CatBoost => Hyperparameters {
                trees: Some(EARLY_STOPPING_ROUNDS),
                early_stopping: Some(Switch::On),
                learning_rate: Some(if many_classes { 0.15 } else { 0.08 }),
                max_depth: Some(if many_classes { 4 } else { 6 }),
                l2_regularization: Some(3.0),
                bins: Some(if many_classes || text { 32 } else { 254 }),
                ..none
            },
            Family::RandomForest | Family::ExtraTrees => Hyperparameters {
                trees: Some(if text { 100 } else { 300 }),
                min_leaf_samples: Some(if text { 2 } else { 1 }),
                feature_fraction: Some(forest_feature_fraction),
                ..none
            },
            Family::Linear => Hyperparameters {
                inverse_regularization: Some(match schema.modality {
                    Modality::Text => 4.0,
                    Modality::Tabular | Modality::Image => 1.0,
                }),
                ..none
            },
            Family::KNearestNeighbours => Hyperparameters {
                neighbours: Some(match schema.modality {
                    Modality::Image => 5,
                    Modality::Tabular | Modality::Text => 15,
                }),
                neighbour_weights: Some(NeighbourWeights::Distance),
                ..none
            },
            Family::MultilayerPerceptron => Hyperparameters {
                hidden_units: Some(match schema.modality {
                    Modality::Image => 256,
                    Modality::Tabular => 128,
                    Modality::Text => 64,
                }),
                l2_regularization: Some(0.0001),
                learning_rate: Some(0.001),
                // Stopping on held-out accuracy helps labels, but stops before probabilities settle
                // (log loss), and small image sets cannot spare the rows.
                early_stopping: Some(match (schema.metric, schema.modality) {
                    (Metric::LogLoss, _) | (_, Modality::Image) => Switch::Off,
                    (_, Modality::Tabular | Modality::Text) => Switch::On,
                }),
                ..none
            },
            Family::TextEmbeddings => Hyperparameters {
                inverse_regularization: Some(1.0),
                max_tokens: Some(EMBEDDING_MAX_TOKENS),
                ..none
            },
            Family::ConvolutionalNetwork => Hyperparameters {
                channels: Some(16),
                epochs: Some(20),
                learning_rate: Some(0.002),
                augmentation: Some(Switch::Off),
                ..none
            },
        }
    }
}

/// Rounds to four significant digits, so that repeated scaling keeps headers readable.
pub(crate) fn round(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let digits = 4 - value.abs().log10().floor() as i32 - 1;
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_four_significant_digits() {
        assert_eq!(round(0.15000000000000002), 0.15);
        assert_eq!(round(0.0125), 0.0125);
        assert_eq!(round(1234.567), 1235.0);
    }
}
