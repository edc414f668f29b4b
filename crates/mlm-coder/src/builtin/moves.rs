//! The improve moves: every atomic change of one option that could help a script, in the order a Kaggle
//! competitor would try them for its family. Each move changes exactly one key of the options header.

use super::family::{Family, Flavour};
use super::options::{
    round, CategoricalEncoding, ClassWeight, DateParts, NeighbourWeights, ScriptOptions, Switch,
    TextNgrams, Validation,
};
use super::schema::{MetricKind, TaskSchema};

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
    CategoricalEncoding,
    MissingIndicators,
    DateParts,
    TextNgrams,
    TextCharacters,
    TextMaxFeatures,
    Validation,
    ClassWeight,
    LogTarget,
    Seeds,
    Blend,
}

/// Every setting, for reading keys back.
const ALL_SETTINGS: [Setting; 24] = [
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
    Setting::CategoricalEncoding,
    Setting::MissingIndicators,
    Setting::DateParts,
    Setting::TextNgrams,
    Setting::TextCharacters,
    Setting::TextMaxFeatures,
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
            Setting::CategoricalEncoding => "categorical_encoding",
            Setting::MissingIndicators => "missing_indicators",
            Setting::DateParts => "date_parts",
            Setting::TextNgrams => "text_ngrams",
            Setting::TextCharacters => "text_characters",
            Setting::TextMaxFeatures => "text_max_features",
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
    /// The new value as the header writes it.
    pub(crate) to: String,
    /// What the change does, for the plan: "lower the learning rate from 0.05 to 0.025".
    pub(crate) description: String,
    /// The expected run time relative to the parent's.
    pub(crate) cost: f64,
    pub(crate) options: ScriptOptions,
}

/// The order in which settings are tried, per kind of family.
fn priorities(family: Family) -> &'static [Setting] {
    use Setting::*;
    match family {
        Family::LightGbm | Family::XgBoost | Family::CatBoost => &[
            EarlyStopping,
            LearningRate,
            CategoricalEncoding,
            TextCharacters,
            TextNgrams,
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
        ],
        Family::RandomForest | Family::ExtraTrees => &[
            Trees,
            MinLeafSamples,
            FeatureFraction,
            CategoricalEncoding,
            TextCharacters,
            TextNgrams,
            DateParts,
            MissingIndicators,
            ClassWeight,
            LogTarget,
            Validation,
            Seeds,
            Blend,
            TextMaxFeatures,
        ],
        Family::Linear => &[
            InverseRegularization,
            TextCharacters,
            TextNgrams,
            CategoricalEncoding,
            TextMaxFeatures,
            MissingIndicators,
            DateParts,
            ClassWeight,
            LogTarget,
            Validation,
            Blend,
            Seeds,
        ],
        Family::KNearestNeighbours => &[
            Neighbours,
            NeighbourWeights,
            CategoricalEncoding,
            TextNgrams,
            MissingIndicators,
            DateParts,
            LogTarget,
            Validation,
            Blend,
        ],
        Family::MultilayerPerceptron => &[
            HiddenUnits,
            L2Regularization,
            LearningRate,
            Seeds,
            CategoricalEncoding,
            TextNgrams,
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
    priorities(options.family)
        .iter()
        .flat_map(|setting| moves_of(*setting, options, schema))
        .collect()
}

struct Builder<'a> {
    options: &'a ScriptOptions,
    moves: Vec<Move>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        setting: Setting,
        to: impl ToString,
        description: String,
        cost: f64,
        change: impl FnOnce(&mut ScriptOptions),
    ) {
        let mut options = self.options.clone();
        change(&mut options);
        if options != *self.options {
            self.moves.push(Move {
                setting,
                to: to.to_string(),
                description,
                cost,
                options,
            });
        }
    }
}

fn moves_of(setting: Setting, options: &ScriptOptions, schema: &TaskSchema) -> Vec<Move> {
    let mut builder = Builder {
        options,
        moves: Vec::new(),
    };
    let family = options.family;
    let parameters = &options.hyperparameters;
    let features = &options.features;
    let stops_early = parameters.early_stopping == Some(Switch::On);
    match setting {
        Setting::EarlyStopping if family == Family::MultilayerPerceptron => {
            match parameters.early_stopping {
                Some(Switch::On) => builder.push(setting, "off", "train for the full 200 epochs instead of stopping when a held-out tenth of the rows stops improving".to_string(), 1.5, |next| next.hyperparameters.early_stopping = Some(Switch::Off)),
                Some(Switch::Off) => builder.push(setting, "on", "stop training when a held-out tenth of the rows stops improving".to_string(), 0.7, |next| next.hyperparameters.early_stopping = Some(Switch::On)),
                None => {}
            }
        }
        Setting::EarlyStopping => {
            if let (Some(Switch::Off), Some(trees)) = (parameters.early_stopping, parameters.trees) {
                builder.push(setting, "on", format!("stop boosting early on each validation fold (after 50 rounds without progress), allowing up to {} trees instead of a fixed {trees}", trees * 4), 2.0, |next| next.hyperparameters.early_stopping = Some(Switch::On));
            }
        }
        Setting::LearningRate => {
            if let Some(rate) = parameters.learning_rate {
                let lower = round(rate / 2.0);
                let boosting_note = match family.is_boosting() {
                    true => "; early stopping lets the number of trees grow to match",
                    false => "",
                };
                if (stops_early || !family.is_boosting()) && lower >= 1e-5 {
                    builder.push(setting, lower, format!("lower the learning rate from {rate} to {lower}{boosting_note}"), 2.0, |next| next.hyperparameters.learning_rate = Some(lower));
                }
            }
        }
        Setting::Trees => {
            if let Some(trees) = parameters.trees {
                if !stops_early && trees <= 2_000 {
                    builder.push(setting, trees * 2, format!("double the trees from {trees} to {}", trees * 2), 2.0, |next| next.hyperparameters.trees = Some(trees * 2));
                }
            }
        }
        Setting::NumLeaves => {
            if let Some(leaves) = parameters.num_leaves {
                let smaller = (leaves / 2).max(4);
                let larger = (leaves * 2).min(255);
                builder.push(setting, smaller, format!("grow smaller trees: num_leaves from {leaves} to {smaller}"), 0.8, |next| next.hyperparameters.num_leaves = Some(smaller));
                builder.push(setting, larger, format!("grow larger trees: num_leaves from {leaves} to {larger}"), 1.5, |next| next.hyperparameters.num_leaves = Some(larger));
            }
        }
        Setting::MaxDepth => {
            if let Some(depth) = parameters.max_depth {
                let shallower = depth.saturating_sub(2).max(2);
                let deeper = (depth + 2).min(12);
                builder.push(setting, shallower, format!("grow shallower trees: depth from {depth} to {shallower}"), 0.7, |next| next.hyperparameters.max_depth = Some(shallower));
                builder.push(setting, deeper, format!("grow deeper trees: depth from {depth} to {deeper}"), 2.0, |next| next.hyperparameters.max_depth = Some(deeper));
            }
        }
        Setting::MinLeafSamples => {
            if let Some(minimum) = parameters.min_leaf_samples {
                let more = (minimum * 2).max(minimum + 2);
                builder.push(setting, more, format!("require at least {more} rows per leaf instead of {minimum}"), 0.9, |next| next.hyperparameters.min_leaf_samples = Some(more));
            }
        }
        Setting::L2Regularization => {
            if let Some(l2) = parameters.l2_regularization {
                let factor = if family == Family::MultilayerPerceptron { 10.0 } else { 5.0 };
                let stronger = round(l2 * factor);
                builder.push(setting, stronger, format!("strengthen the L2 regularisation from {l2} to {stronger}"), 1.0, |next| next.hyperparameters.l2_regularization = Some(stronger));
            }
        }
        Setting::FeatureFraction => {
            if let Some(fraction) = parameters.feature_fraction {
                let fewer = round((fraction * 0.6).max(0.05));
                builder.push(setting, fewer, format!("sample fewer features per tree: from {fraction} to {fewer} of them"), 0.8, |next| next.hyperparameters.feature_fraction = Some(fewer));
                if matches!(family, Family::RandomForest | Family::ExtraTrees) {
                    let more = round((fraction * 2.0).min(1.0));
                    builder.push(setting, more, format!("consider more features per split: from {fraction} to {more} of them"), 1.8, |next| next.hyperparameters.feature_fraction = Some(more));
                }
            }
        }
        Setting::RowFraction => {
            if let Some(fraction) = parameters.row_fraction.filter(|fraction| *fraction > 0.6) {
                builder.push(setting, 0.6, format!("bag fewer rows per tree: from {fraction} to 0.6 of them"), 0.9, |next| next.hyperparameters.row_fraction = Some(0.6));
            }
        }
        Setting::InverseRegularization => {
            if let Some(c) = parameters.inverse_regularization {
                let (less, more) = (round(c * 4.0), round(c / 4.0));
                builder.push(setting, less, format!("regularise less: C from {c} to {less}"), 1.2, |next| next.hyperparameters.inverse_regularization = Some(less));
                builder.push(setting, more, format!("regularise more: C from {c} to {more}"), 1.0, |next| next.hyperparameters.inverse_regularization = Some(more));
            }
        }
        Setting::Neighbours => {
            if let Some(k) = parameters.neighbours {
                builder.push(setting, k * 2, format!("average over more neighbours: k from {k} to {}", k * 2), 1.1, |next| next.hyperparameters.neighbours = Some(k * 2));
                if k >= 2 {
                    builder.push(setting, k / 2, format!("average over fewer neighbours: k from {k} to {}", k / 2), 1.0, |next| next.hyperparameters.neighbours = Some(k / 2));
                }
            }
        }
        Setting::NeighbourWeights => {
            if let Some(weights) = parameters.neighbour_weights {
                let (to, name) = match weights {
                    NeighbourWeights::Distance => (NeighbourWeights::Uniform, "uniform"),
                    NeighbourWeights::Uniform => (NeighbourWeights::Distance, "distance"),
                };
                builder.push(setting, name, format!("weight neighbours {}", if name == "distance" { "by inverse distance" } else { "equally" }), 1.0, |next| next.hyperparameters.neighbour_weights = Some(to));
            }
        }
        Setting::HiddenUnits => {
            if let Some(units) = parameters.hidden_units.filter(|units| *units <= 512) {
                builder.push(setting, units * 2, format!("widen the hidden layer from {units} to {} units", units * 2), 2.0, |next| next.hyperparameters.hidden_units = Some(units * 2));
            }
        }
        Setting::CategoricalEncoding => {
            if let Some(encoding) = features.categorical_encoding {
                let scaled = family.flavour() == Flavour::Scaled;
                for (to, name, description) in [
                    (CategoricalEncoding::Target, "target", "encode categories by their mean target, fitted inside each fold"),
                    (CategoricalEncoding::OneHot, "one_hot", "one-hot encode the categories"),
                    (CategoricalEncoding::Ordinal, "ordinal", "encode categories as integers"),
                ] {
                    let no_op = scaled && matches!((encoding, to), (CategoricalEncoding::Ordinal, CategoricalEncoding::OneHot) | (CategoricalEncoding::OneHot, CategoricalEncoding::Ordinal));
                    if to != encoding && !no_op {
                        builder.push(setting, name, description.to_string(), 1.1, |next| next.features.categorical_encoding = Some(to));
                    }
                }
            }
        }
        Setting::MissingIndicators => {
            if features.missing_indicators == Some(Switch::Off) {
                builder.push(setting, "on", "add a missing-value indicator for every numeric column with gaps".to_string(), 1.0, |next| next.features.missing_indicators = Some(Switch::On));
            }
        }
        Setting::DateParts => {
            if features.date_parts == Some(DateParts::DaysOnly) {
                builder.push(setting, "expanded", "add the year, month, day, weekday and hour of every date column".to_string(), 1.0, |next| next.features.date_parts = Some(DateParts::Expanded));
            }
        }
        Setting::TextNgrams => {
            if features.text_ngrams == Some(TextNgrams::Unigrams) {
                builder.push(setting, "up_to_bigrams", "use word bigrams as well as unigrams in the TF-IDF".to_string(), 1.5, |next| next.features.text_ngrams = Some(TextNgrams::UpToBigrams));
            }
        }
        Setting::TextCharacters => {
            if features.text_characters == Some(Switch::Off) {
                builder.push(setting, "on", "add TF-IDF features of character 2- to 5-grams".to_string(), 2.5, |next| next.features.text_characters = Some(Switch::On));
            }
        }
        Setting::TextMaxFeatures => {
            if let Some(maximum) = features.text_max_features.filter(|maximum| *maximum < 200_000) {
                if family.flavour() != Flavour::TreesDense {
                    builder.push(setting, maximum * 4, format!("keep up to {} TF-IDF terms instead of {maximum}", maximum * 4), 1.5, |next| next.features.text_max_features = Some(maximum * 4));
                }
            }
        }
        Setting::Validation => match options.validation {
            Validation::Holdout => builder.push(setting, "five_fold", "validate with 5-fold cross-validation instead of one hold-out split: a steadier estimate".to_string(), 3.0, |next| next.validation = Validation::FiveFold),
            Validation::FiveFold if schema.train_rows <= TEN_FOLD_ROWS => builder.push(setting, "ten_fold", "validate with 10-fold cross-validation: more rows per fit and a steadier estimate".to_string(), 1.9, |next| next.validation = Validation::TenFold),
            Validation::FiveFold | Validation::TenFold => {}
        },
        Setting::ClassWeight => {
            let imbalanced = schema.target.minority_share.is_some_and(|share| share < IMBALANCED_SHARE);
            let probabilities_scored = schema.metric == MetricKind::LogLoss;
            if options.class_weight == Some(ClassWeight::Uniform) && imbalanced && !probabilities_scored {
                builder.push(setting, "balanced", "weight classes inversely to their frequency".to_string(), 1.0, |next| next.class_weight = Some(ClassWeight::Balanced));
            }
        }
        Setting::LogTarget => match options.log_target {
            Some(Switch::Off) => builder.push(setting, "on", "learn log(1 + y) instead of y".to_string(), 1.0, |next| next.log_target = Some(Switch::On)),
            Some(Switch::On) => builder.push(setting, "off", "learn y directly instead of log(1 + y)".to_string(), 1.0, |next| next.log_target = Some(Switch::Off)),
            None => {}
        },
        Setting::Seeds => {
            let more = options.seeds + 2;
            if more <= 5 {
                builder.push(setting, more, format!("average {more} models trained with different seeds instead of {}", options.seeds), f64::from(more) / f64::from(options.seeds.max(1)), |next| next.seeds = more);
            }
        }
        Setting::Blend => {
            let order = Family::strength_order(schema.modality, schema.problem());
            let partner = order.iter().copied().find(|candidate| *candidate != family && !options.blend.contains(candidate));
            if let (Some(partner), true) = (partner, options.blend.len() < MAXIMUM_BLEND) {
                let mut blend = options.blend.clone();
                blend.push(partner);
                let to = serde_json::to_string(&blend).unwrap_or_default();
                builder.push(setting, to, format!("blend in a {} model (its default settings) and average the predictions", partner.plan_name()), 2.5, |next| next.blend = blend);
            }
        }
    }
    builder.moves
}
