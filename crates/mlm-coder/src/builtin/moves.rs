//! The improve moves: every atomic change of one option that could help a script, in the order a
//! Kaggle competitor would try them for its family. Each changes exactly one key of the header.

use super::family::{Family, Flavour};
use super::options::{
    round, CategoricalEncoding, ClassWeight, DateParts, NeighbourWeights, ScriptOptions, Switch,
    TextNgrams, Validation,
};
use mlm_grade::Metric;

use super::schema::{Modality, TaskSchema};

/// Rows up to which ten folds are affordable.
const TEN_FOLD_ROWS: usize = 5_000;
/// Models blended in at most, besides the main one.
const MAXIMUM_BLEND: usize = 2;
/// Below this share of rows in the rarest class, balanced class weights are worth a try.
const IMBALANCED_SHARE: f64 = 0.35;

/// An option of the header, named as its JSON key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Setting {
    EarlyStopping,
    LearningRate,
    Trees,
    NumLeaves,
    MaxDepth,
    MinLeafSamples,
    L2Regularization,
    FeatureFraction,
    RowFraction,
    InverseRegularization,
    Neighbours,
    NeighbourWeights,
    HiddenUnits,
    Channels,
    Epochs,
    Augmentation,
    MaxTokens,
    CategoricalEncoding,
    MissingIndicators,
    DateParts,
    TextNgrams,
    TextCharacters,
    TextMaxFeatures,
    TextStatistics,
    Validation,
    ClassWeight,
    LogTarget,
    Seeds,
    Blend,
}

/// Every setting, for reading keys back.
const ALL_SETTINGS: [Setting; 29] = [
    Setting::EarlyStopping,
    Setting::LearningRate,
    Setting::Trees,
    Setting::NumLeaves,
    Setting::MaxDepth,
    Setting::MinLeafSamples,
    Setting::L2Regularization,
    Setting::FeatureFraction,
    Setting::RowFraction,
    Setting::InverseRegularization,
    Setting::Neighbours,
    Setting::NeighbourWeights,
    Setting::HiddenUnits,
    Setting::Channels,
    Setting::Epochs,
    Setting::Augmentation,
    Setting::MaxTokens,
    Setting::CategoricalEncoding,
    Setting::MissingIndicators,
    Setting::DateParts,
    Setting::TextNgrams,
    Setting::TextCharacters,
    Setting::TextMaxFeatures,
    Setting::TextStatistics,
    Setting::Validation,
    Setting::ClassWeight,
    Setting::LogTarget,
    Setting::Seeds,
    Setting::Blend,
];

impl Setting {
    /// The setting whose header key is `key`.
    pub(crate) fn from_key(key: &str) -> Option<Setting> {
        ALL_SETTINGS
            .into_iter()
            .find(|setting| setting.key() == key)
    }

    pub(crate) fn key(self) -> &'static str {
        match self {
            Setting::EarlyStopping => "early_stopping",
            Setting::LearningRate => "learning_rate",
            Setting::Trees => "trees",
            Setting::NumLeaves => "num_leaves",
            Setting::MaxDepth => "max_depth",
            Setting::MinLeafSamples => "min_leaf_samples",
            Setting::L2Regularization => "l2_regularization",
            Setting::FeatureFraction => "feature_fraction",
            Setting::RowFraction => "row_fraction",
            Setting::InverseRegularization => "inverse_regularization",
            Setting::Neighbours => "neighbours",
            Setting::NeighbourWeights => "neighbour_weights",
            Setting::HiddenUnits => "hidden_units",
            Setting::Channels => "channels",
            Setting::Epochs => "epochs",
            Setting::Augmentation => "augmentation",
            Setting::MaxTokens => "max_tokens",
            Setting::CategoricalEncoding => "categorical_encoding",
            Setting::MissingIndicators => "missing_indicators",
            Setting::DateParts => "date_parts",
            Setting::TextNgrams => "text_ngrams",
            Setting::TextCharacters => "text_characters",
            Setting::TextMaxFeatures => "text_max_features",
            Setting::TextStatistics => "text_statistics",
            Setting::Validation => "validation",
            Setting::ClassWeight => "class_weight",
            Setting::LogTarget => "log_target",
            Setting::Seeds => "seeds",
            Setting::Blend => "blend",
        }
    }
}

/// One candidate change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Move {
    pub(crate) setting: Setting,
    /// The old and the new value as the header writes them (strings without quotes).
    pub(crate) from: String,
    pub(crate) to: String,
    /// What the change does, for the plan: "lower the learning rate from 0.05 to 0.025".
    pub(crate) description: String,
    /// The expected run time relative to the parent's.
    pub(crate) cost: f64,
    pub(crate) options: ScriptOptions,
}

/// The order in which settings are tried, per kind of family (and, for linear models, per modality:
/// on text, character n-grams are worth more than any regularisation).
fn priorities(family: Family, modality: Modality) -> &'static [Setting] {
    use Setting::*;
    match (family, modality) {
        // Early stopping finds the rounds, so a lower learning rate mostly buys time for a gain in
        // the fourth decimal: it comes last.
        (Family::LightGbm | Family::XgBoost | Family::CatBoost, _) => &[
            EarlyStopping,
            CategoricalEncoding,
            TextCharacters,
            TextNgrams,
            TextStatistics,
            NumLeaves,
            MaxDepth,
            L2Regularization,
            MinLeafSamples,
            FeatureFraction,
            DateParts,
            MissingIndicators,
            ClassWeight,
            LogTarget,
            TextMaxFeatures,
            Validation,
            Seeds,
            Blend,
            RowFraction,
            Trees,
            LearningRate,
        ],
        (Family::RandomForest | Family::ExtraTrees, _) => &[
            Trees,
            MinLeafSamples,
            FeatureFraction,
            CategoricalEncoding,
            TextCharacters,
            TextNgrams,
            TextStatistics,
            DateParts,
            MissingIndicators,
            ClassWeight,
            LogTarget,
            Validation,
            Seeds,
            Blend,
            TextMaxFeatures,
        ],
        // A linear model fits deterministically: more seeds would change nothing.
        (Family::Linear, Modality::Text) => &[
            TextCharacters,
            InverseRegularization,
            TextNgrams,
            TextStatistics,
            TextMaxFeatures,
            CategoricalEncoding,
            MissingIndicators,
            DateParts,
            ClassWeight,
            LogTarget,
            Validation,
            Blend,
        ],
        (Family::Linear, Modality::Tabular | Modality::Image) => &[
            InverseRegularization,
            CategoricalEncoding,
            TextCharacters,
            TextNgrams,
            TextStatistics,
            TextMaxFeatures,
            MissingIndicators,
            DateParts,
            ClassWeight,
            LogTarget,
            Validation,
            Blend,
        ],
        (Family::KNearestNeighbours, _) => &[
            Neighbours,
            NeighbourWeights,
            CategoricalEncoding,
            TextNgrams,
            TextStatistics,
            MissingIndicators,
            DateParts,
            LogTarget,
            Validation,
            Blend,
        ],
        // One setting at a time, as the issue asks: width, epochs, augmentation, learning rate.
        (Family::ConvolutionalNetwork, _) => &[Augmentation, Channels, Epochs, LearningRate],
        // The embeddings are the model's own: only the classifier on them and the text it reads
        // change. A blend partner would see the same embeddings instead of its own TF-IDF.
        (Family::TextEmbeddings, _) => &[
            InverseRegularization,
            MaxTokens,
            TextStatistics,
            CategoricalEncoding,
            MissingIndicators,
            DateParts,
            ClassWeight,
            LogTarget,
            Validation,
        ],
        (Family::MultilayerPerceptron, _) => &[
            HiddenUnits,
            EarlyStopping,
            L2Regularization,
            LearningRate,
            Seeds,
            CategoricalEncoding,
            TextNgrams,
            TextStatistics,
            MissingIndicators,
            DateParts,
            ClassWeight,
            LogTarget,
            Validation,
            Blend,
            TextMaxFeatures,
        ],
    }
}

/// Every applicable move from `options`, in priority order.
pub(crate) fn candidates(options: &ScriptOptions, schema: &TaskSchema) -> Vec<Move> {
    priorities(options.family, schema.modality)
        .iter()
        .flat_map(|setting| moves_of(*setting, options, schema))
        .collect()
}

/// The value of a setting as the header writes it: strings without their quotes, `none` when absent.
pub(crate) fn header_value(options: &ScriptOptions, setting: Setting) -> String {
    let value = serde_json::to_value(options)
        .ok()
        .and_then(|header| header.get(setting.key()).cloned());
    match value {
        Some(serde_json::Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => "none".to_string(),
    }
}

/// Collects the moves of one setting, dropping any that would change nothing.
struct Builder<'a> {
    options: &'a ScriptOptions,
    setting: Setting,
    moves: Vec<Move>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        description: impl Into<String>,
        cost: f64,
        change: impl FnOnce(&mut ScriptOptions),
    ) {
        let mut options = self.options.clone();
        change(&mut options);
        if options != *self.options {
            self.moves.push(Move {
                setting: self.setting,
                from: header_value(self.options, self.setting),
                to: header_value(&options, self.setting),
                description: description.into(),
                cost,
                options,
            });
        }
    }
}

fn moves_of(setting: Setting, options: &ScriptOptions, schema: &TaskSchema) -> Vec<Move> {
    let mut builder = Builder {
        options,
        setting,
        moves: Vec::new(),
    };
    let family = options.family;
    let parameters = &options.hyperparameters;
    let features = &options.features;
    let stops_early = parameters.early_stopping == Some(Switch::On);
    match setting {
        Setting::EarlyStopping if family == Family::MultilayerPerceptron => {
            let held_out = "when a held-out tenth of the rows stops improving";
            match parameters.early_stopping {
                Some(Switch::On) => builder.push(
                    format!("train for the full 200 epochs instead of stopping {held_out}"),
                    1.5,
                    |next| next.hyperparameters.early_stopping = Some(Switch::Off),
                ),
                Some(Switch::Off) => {
                    builder.push(format!("stop training {held_out}"), 0.7, |next| {
                        next.hyperparameters.early_stopping = Some(Switch::On)
                    })
                }
                None => {}
            }
        }
        Setting::EarlyStopping => {
            if let (Some(Switch::Off), Some(trees)) = (parameters.early_stopping, parameters.trees)
            {
                // One setting, "trees with early stopping": the allowance grows with the switch, and
                // `trees` records the most rounds the model may train.
                let most = trees * 4;
                let what = format!(
                    "stop boosting early on a tenth of each fold's training rows (after 50 rounds \
                     without progress), allowing up to {most} trees instead of a fixed {trees}"
                );
                // Measured: two to five times the fixed-tree run, most with many classes.
                builder.push(what, 3.0, |next| {
                    next.hyperparameters.early_stopping = Some(Switch::On);
                    next.hyperparameters.trees = Some(most);
                });
            }
        }
        Setting::LearningRate => {
            if let Some(rate) = parameters.learning_rate {
                let lower = round(rate / 2.0);
                let note = match family.is_boosting() {
                    true => "; early stopping lets the number of trees grow to match",
                    false => "",
                };
                // Boosting with a fixed number of trees would only underfit at a lower rate.
                if (stops_early || !family.is_boosting()) && lower >= 1e-5 {
                    let what = format!("lower the learning rate from {rate} to {lower}{note}");
                    builder.push(what, 2.0, |next| {
                        next.hyperparameters.learning_rate = Some(lower)
                    });
                }
            }
        }
        Setting::Trees => {
            if let Some(trees) = parameters.trees.filter(|trees| *trees <= 2_000) {
                if !stops_early {
                    let more = trees * 2;
                    let what = format!("double the trees from {trees} to {more}");
                    builder.push(what, 2.0, |next| next.hyperparameters.trees = Some(more));
                }
            }
        }
        Setting::NumLeaves => {
            if let Some(leaves) = parameters.num_leaves {
                let smaller = (leaves / 2).max(4);
                let larger = (leaves * 2).min(255);
                let what = format!("grow smaller trees: num_leaves from {leaves} to {smaller}");
                builder.push(what, 0.8, |next| {
                    next.hyperparameters.num_leaves = Some(smaller)
                });
                let what = format!("grow larger trees: num_leaves from {leaves} to {larger}");
                builder.push(what, 1.5, |next| {
                    next.hyperparameters.num_leaves = Some(larger)
                });
            }
        }
        Setting::MaxDepth => {
            if let Some(depth) = parameters.max_depth {
                let shallower = depth.saturating_sub(2).max(2);
                let deeper = (depth + 2).min(12);
                let what = format!("grow shallower trees: depth from {depth} to {shallower}");
                builder.push(what, 0.7, |next| {
                    next.hyperparameters.max_depth = Some(shallower)
                });
                let what = format!("grow deeper trees: depth from {depth} to {deeper}");
                builder.push(what, 2.0, |next| {
                    next.hyperparameters.max_depth = Some(deeper)
                });
            }
        }
        Setting::MinLeafSamples => {
            if let Some(minimum) = parameters.min_leaf_samples {
                let more = (minimum * 2).max(minimum + 2);
                let what = format!("require at least {more} rows per leaf instead of {minimum}");
                builder.push(what, 0.9, |next| {
                    next.hyperparameters.min_leaf_samples = Some(more)
                });
            }
        }
        Setting::L2Regularization => {
            if let Some(l2) = parameters.l2_regularization {
                let factor = match family {
                    Family::MultilayerPerceptron => 10.0,
                    Family::LightGbm
                    | Family::XgBoost
                    | Family::CatBoost
                    | Family::RandomForest
                    | Family::ExtraTrees
                    | Family::Linear
                    | Family::KNearestNeighbours
                    | Family::ConvolutionalNetwork
                    | Family::TextEmbeddings => 5.0,
                };
                let stronger = round(l2 * factor);
                let what = format!("strengthen the L2 regularisation from {l2} to {stronger}");
                builder.push(what, 1.0, |next| {
                    next.hyperparameters.l2_regularization = Some(stronger)
                });
            }
        }
        Setting::FeatureFraction => {
            if let Some(fraction) = parameters.feature_fraction {
                let fewer = round((fraction * 0.6).max(0.05));
                let what =
                    format!("sample fewer features per tree: from {fraction} to {fewer} of them");
                builder.push(what, 0.8, |next| {
                    next.hyperparameters.feature_fraction = Some(fewer)
                });
                if matches!(family, Family::RandomForest | Family::ExtraTrees) {
                    let more = round((fraction * 2.0).min(1.0));
                    let what = format!(
                        "consider more features per split: from {fraction} to {more} of them"
                    );
                    builder.push(what, 1.8, |next| {
                        next.hyperparameters.feature_fraction = Some(more)
                    });
                }
            }
        }
        Setting::RowFraction => {
            if let Some(fraction) = parameters.row_fraction.filter(|fraction| *fraction > 0.6) {
                let what = format!("bag fewer rows per tree: from {fraction} to 0.6 of them");
                builder.push(what, 0.9, |next| {
                    next.hyperparameters.row_fraction = Some(0.6)
                });
            }
        }
        Setting::InverseRegularization => {
            if let Some(c) = parameters.inverse_regularization {
                let (less, more) = (round(c * 4.0), round(c / 4.0));
                builder.push(
                    format!("regularise less: C from {c} to {less}"),
                    1.2,
                    |next| next.hyperparameters.inverse_regularization = Some(less),
                );
                builder.push(
                    format!("regularise more: C from {c} to {more}"),
                    1.0,
                    |next| next.hyperparameters.inverse_regularization = Some(more),
                );
            }
        }
        Setting::Neighbours => {
            if let Some(k) = parameters.neighbours {
                let (more, fewer) = (k * 2, k / 2);
                let what = format!("average over more neighbours: k from {k} to {more}");
                builder.push(what, 1.1, |next| {
                    next.hyperparameters.neighbours = Some(more)
                });
                if fewer >= 1 {
                    let what = format!("average over fewer neighbours: k from {k} to {fewer}");
                    builder.push(what, 1.0, |next| {
                        next.hyperparameters.neighbours = Some(fewer)
                    });
                }
            }
        }
        Setting::NeighbourWeights => match parameters.neighbour_weights {
            Some(NeighbourWeights::Distance) => {
                builder.push("weight neighbours equally", 1.0, |next| {
                    next.hyperparameters.neighbour_weights = Some(NeighbourWeights::Uniform)
                })
            }
            Some(NeighbourWeights::Uniform) => {
                builder.push("weight neighbours by inverse distance", 1.0, |next| {
                    next.hyperparameters.neighbour_weights = Some(NeighbourWeights::Distance)
                })
            }
            None => {}
        },
        Setting::HiddenUnits => {
            if let Some(units) = parameters.hidden_units.filter(|units| *units <= 512) {
                let wider = units * 2;
                let what = format!("widen the hidden layer from {units} to {wider} units");
                builder.push(what, 2.0, |next| {
                    next.hyperparameters.hidden_units = Some(wider)
                });
            }
        }
        Setting::Channels => {
            if let Some(channels) = parameters.channels.filter(|channels| *channels <= 128) {
                let wider = channels * 2;
                let what = format!("widen the network from {channels} to {wider} channels");
                builder.push(what, 2.5, |next| {
                    next.hyperparameters.channels = Some(wider)
                });
            }
        }
        Setting::Epochs => {
            if let Some(epochs) = parameters.epochs.filter(|epochs| *epochs <= 100) {
                let more = epochs * 2;
                let what = format!(
                    "allow up to {more} epochs instead of {epochs} (training still stops when the \
                     validation score stalls)"
                );
                builder.push(what, 1.5, |next| next.hyperparameters.epochs = Some(more));
            }
        }
        Setting::Augmentation => match parameters.augmentation {
            Some(Switch::Off) => builder.push(
                "augment the training images with random shifts of up to an eighth of their side",
                1.3,
                |next| next.hyperparameters.augmentation = Some(Switch::On),
            ),
            Some(Switch::On) => builder.push("train on the images as they are", 0.8, |next| {
                next.hyperparameters.augmentation = Some(Switch::Off)
            }),
            None => {}
        },
        Setting::MaxTokens => {
            if let Some(tokens) = parameters.max_tokens {
                if tokens > 32 {
                    let fewer = tokens / 2;
                    let what = format!(
                        "embed only the first {fewer} tokens of each text instead of {tokens}"
                    );
                    builder.push(what, 0.6, |next| {
                        next.hyperparameters.max_tokens = Some(fewer)
                    });
                }
                if tokens < 512 {
                    let more = tokens * 2;
                    let what =
                        format!("embed up to {more} tokens of each text instead of {tokens}");
                    builder.push(what, 1.8, |next| {
                        next.hyperparameters.max_tokens = Some(more)
                    });
                }
            }
        }
        Setting::CategoricalEncoding => {
            if let Some(encoding) = features.categorical_encoding {
                // Scaled families one-hot encode "ordinal" categories already.
                let scaled = family.flavour() == Flavour::Scaled;
                let alternatives = [
                    (
                        CategoricalEncoding::Target,
                        "encode categories by their mean target, fitted inside each fold",
                    ),
                    (CategoricalEncoding::OneHot, "one-hot encode the categories"),
                    (
                        CategoricalEncoding::Ordinal,
                        "encode categories as integers",
                    ),
                    (
                        CategoricalEncoding::Frequency,
                        "encode categories by how often they occur, counted inside each fold",
                    ),
                ];
                for (to, what) in alternatives {
                    let same_columns = scaled
                        && matches!(
                            to,
                            CategoricalEncoding::Ordinal | CategoricalEncoding::OneHot
                        )
                        && matches!(
                            encoding,
                            CategoricalEncoding::Ordinal | CategoricalEncoding::OneHot
                        );
                    if to != encoding && !same_columns {
                        builder.push(what, 1.1, |next| {
                            next.features.categorical_encoding = Some(to)
                        });
                    }
                }
            }
        }
        Setting::MissingIndicators => {
            if features.missing_indicators == Some(Switch::Off) {
                let what = "add a missing-value indicator to every numeric column with gaps";
                builder.push(what, 1.0, |next| {
                    next.features.missing_indicators = Some(Switch::On)
                });
            }
        }
        Setting::DateParts => {
            if features.date_parts == Some(DateParts::DaysOnly) {
                let what = "add the year, month, day, weekday and hour of every date column";
                builder.push(what, 1.0, |next| {
                    next.features.date_parts = Some(DateParts::Expanded)
                });
            }
        }
        Setting::TextNgrams => {
            if features.text_ngrams == Some(TextNgrams::Unigrams) {
                let what = "use word bigrams as well as unigrams in the TF-IDF";
                builder.push(what, 1.5, |next| {
                    next.features.text_ngrams = Some(TextNgrams::UpToBigrams)
                });
            }
        }
        Setting::TextCharacters => {
            if features.text_characters == Some(Switch::Off) {
                // Sparse boosting over twice the columns costs far more than a linear model does.
                let cost = match family.flavour() {
                    Flavour::TreesSparse => 8.0,
                    Flavour::TreesDense | Flavour::Scaled => 2.5,
                };
                let what = "add TF-IDF features of character 2- to 5-grams";
                builder.push(what, cost, |next| {
                    next.features.text_characters = Some(Switch::On)
                });
            }
        }
        Setting::TextStatistics => {
            if features.text_statistics == Some(Switch::Off) {
                let what = "add each text's length, word count and shares of capitals, digits and \
                            punctuation as numeric features";
                builder.push(what, 1.05, |next| {
                    next.features.text_statistics = Some(Switch::On)
                });
            }
        }
        Setting::TextMaxFeatures => {
            let maximum = features
                .text_max_features
                .filter(|maximum| *maximum < 200_000);
            // Dense inputs keep a few hundred terms whatever the setting.
            if let (Some(maximum), false) = (maximum, family.flavour() == Flavour::TreesDense) {
                let more = maximum * 4;
                let what = format!("keep up to {more} TF-IDF terms instead of {maximum}");
                builder.push(what, 1.5, |next| {
                    next.features.text_max_features = Some(more)
                });
            }
        }
        Setting::Validation => match options.validation {
            Validation::Holdout => builder.push(
                "validate with 5-fold cross-validation instead of one hold-out split",
                3.0,
                |next| next.validation = Validation::FiveFold,
            ),
            Validation::FiveFold if schema.train_rows <= TEN_FOLD_ROWS => builder.push(
                "validate with 10-fold cross-validation: more rows per fit and a steadier estimate",
                1.9,
                |next| next.validation = Validation::TenFold,
            ),
            Validation::FiveFold | Validation::TenFold => {}
        },
        Setting::ClassWeight => {
            let imbalanced = schema
                .target
                .minority_share
                .is_some_and(|share| share < IMBALANCED_SHARE);
            // Reweighting distorts probabilities, which log loss scores directly.
            let probabilities_scored = schema.metric == Metric::LogLoss;
            let uniform = options.class_weight == Some(ClassWeight::Uniform);
            if uniform && imbalanced && !probabilities_scored {
                let what = "weight classes inversely to their frequency";
                builder.push(what, 1.0, |next| {
                    next.class_weight = Some(ClassWeight::Balanced)
                });
            }
        }
        Setting::LogTarget => match options.log_target {
            Some(Switch::Off) => builder.push("learn log(1 + y) instead of y", 1.0, |next| {
                next.log_target = Some(Switch::On)
            }),
            Some(Switch::On) => {
                builder.push("learn y directly instead of log(1 + y)", 1.0, |next| {
                    next.log_target = Some(Switch::Off)
                })
            }
            None => {}
        },
        Setting::Seeds => {
            let (seeds, more) = (options.seeds, options.seeds + 2);
            if more <= 5 {
                let what = format!(
                    "average {more} models trained with different seeds instead of {seeds}"
                );
                let cost = f64::from(more) / f64::from(seeds.max(1));
                builder.push(what, cost, |next| next.seeds = more);
            }
        }
        Setting::Blend => {
            let order = Family::strength_order(schema.modality, schema.problem());
            let partner = order
                .iter()
                .copied()
                .find(|candidate| *candidate != family && !options.blend.contains(candidate));
            if let (Some(partner), true) = (partner, options.blend.len() < MAXIMUM_BLEND) {
                let mut blend = options.blend.clone();
                blend.push(partner);
                let what = format!(
                    "blend in a {} model (its default settings) and average the predictions",
                    partner.plan_name()
                );
                builder.push(what, 2.5, |next| next.blend = blend);
            }
        }
    }
    builder.moves
}
