//! Solution families: the kinds of model a built-in draft can be, how a plan names them (and how a
//! plan's words are read back into one), which Python module each needs, how its inputs are
//! encoded, and the order of expected strength for each kind of task. Two families stand outside that
//! order: the convolutional network, drafted first on image tasks whose run can import torch
//! ([`TaskSchema::convolutional_network_fits`](super::schema::TaskSchema::convolutional_network_fits)),
//! and text embeddings, drafted first on tasks with text columns when the user named a local model
//! ([`TaskSchema::text_embeddings_fit`](super::schema::TaskSchema::text_embeddings_fit)).

use serde::{Deserialize, Serialize};

use super::schema::{Modality, Problem};

/// A kind of model. Every draft uses one; an improve may blend others in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Family {
    #[serde(rename = "lightgbm")]
    LightGbm,
    #[serde(rename = "xgboost")]
    XgBoost,
    #[serde(rename = "catboost")]
    CatBoost,
    #[serde(rename = "random_forest")]
    RandomForest,
    #[serde(rename = "extra_trees")]
    ExtraTrees,
    #[serde(rename = "linear")]
    Linear,
    #[serde(rename = "k_nearest_neighbours")]
    KNearestNeighbours,
    #[serde(rename = "multilayer_perceptron")]
    MultilayerPerceptron,
    /// A small PyTorch CNN on the images (pixel columns that form a square, or image files).
    #[serde(rename = "convolutional_network")]
    ConvolutionalNetwork,
    /// A linear model on the mean-pooled embeddings of each text column from the user's local model
    /// (`[builtin] text_model`), beside the other columns' usual features.
    #[serde(rename = "text_embeddings")]
    TextEmbeddings,
}

/// How a family wants its inputs: what the script's `make_preprocessor(flavour)` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Flavour {
    /// Raw numbers (missing values kept), ordinal categories, sparse TF-IDF.
    TreesSparse,
    /// Imputed numbers, ordinal categories, a dense TF-IDF of a few hundred terms.
    TreesDense,
    /// Imputed and scaled numbers, one-hot categories, sparse TF-IDF.
    Scaled,
}

/// The families that fit any table, in every kind of task's strength order.
pub(crate) const ALL_FAMILIES: [Family; 8] = [
    Family::LightGbm,
    Family::XgBoost,
    Family::CatBoost,
    Family::RandomForest,
    Family::ExtraTrees,
    Family::Linear,
    Family::KNearestNeighbours,
    Family::MultilayerPerceptron,
];

impl Family {
    /// The words a plan starts with; [`Family::named_in`] reads them back.
    pub(crate) fn plan_name(self) -> &'static str {
        match self {
            Family::LightGbm => "LightGBM gradient boosting",
            Family::XgBoost => "XGBoost gradient boosting",
            Family::CatBoost => "CatBoost gradient boosting",
            Family::RandomForest => "Random forest",
            Family::ExtraTrees => "Extra trees",
            Family::Linear => "Linear model",
            Family::KNearestNeighbours => "k-nearest neighbours",
            Family::MultilayerPerceptron => "Multi-layer perceptron",
            Family::ConvolutionalNetwork => "Convolutional network",
            Family::TextEmbeddings => "Text embeddings",
        }
    }

    /// The Python module the family's model comes from.
    pub(crate) fn module(self) -> &'static str {
        match self {
            Family::LightGbm => "lightgbm",
            Family::XgBoost => "xgboost",
            Family::CatBoost => "catboost",
            Family::RandomForest
            | Family::ExtraTrees
            | Family::Linear
            | Family::KNearestNeighbours
            | Family::MultilayerPerceptron => "sklearn",
            Family::ConvolutionalNetwork => "torch",
            Family::TextEmbeddings => "transformers",
        }
    }

    pub(crate) fn flavour(self) -> Flavour {
        match self {
            Family::LightGbm | Family::XgBoost => Flavour::TreesSparse,
            Family::CatBoost | Family::RandomForest | Family::ExtraTrees => Flavour::TreesDense,
            Family::Linear
            | Family::KNearestNeighbours
            | Family::MultilayerPerceptron
            | Family::ConvolutionalNetwork
            | Family::TextEmbeddings => Flavour::Scaled,
        }
    }

    pub(crate) fn is_boosting(self) -> bool {
        match self {
            Family::LightGbm | Family::XgBoost | Family::CatBoost => true,
            Family::RandomForest
            | Family::ExtraTrees
            | Family::Linear
            | Family::KNearestNeighbours
            | Family::MultilayerPerceptron
            | Family::ConvolutionalNetwork
            | Family::TextEmbeddings => false,
        }
    }

    /// The family a plan names: its first words when the built-in coder wrote it, otherwise the
    /// earliest family keyword in its first sentence (an LLM's plan, say). `None` when no family is
    /// mentioned.
    pub(crate) fn named_in(plan: &str) -> Option<Family> {
        let lowered = plan.trim_start().to_lowercase();
        if let Some(family) = ALL_FAMILIES
            .into_iter()
            .chain([Family::ConvolutionalNetwork, Family::TextEmbeddings])
            .find(|family| lowered.starts_with(&family.plan_name().to_lowercase()))
        {
            return Some(family);
        }
        let first_sentence = lowered.split(". ").next().unwrap_or_default();
        KEYWORDS
            .iter()
            .filter_map(|(keyword, family)| {
                first_sentence
                    .find(keyword)
                    .map(|position| (position, *family))
            })
            .min_by_key(|(position, _)| *position)
            .map(|(_, family)| family)
    }

    /// Every family, strongest first for this kind of task. Drafts walk down the list.
    pub(crate) fn strength_order(modality: Modality, problem: Problem) -> [Family; 8] {
        use Family::{
            CatBoost, ExtraTrees, KNearestNeighbours, LightGbm, Linear, MultilayerPerceptron,
            RandomForest, XgBoost,
        };
        match (modality, problem) {
            (Modality::Text, Problem::Classification | Problem::Regression) => [
                Linear,
                LightGbm,
                MultilayerPerceptron,
                XgBoost,
                CatBoost,
                KNearestNeighbours,
                ExtraTrees,
                RandomForest,
            ],
            (Modality::Image, Problem::Classification | Problem::Regression) => [
                MultilayerPerceptron,
                KNearestNeighbours,
                ExtraTrees,
                LightGbm,
                Linear,
                RandomForest,
                XgBoost,
                CatBoost,
            ],
            (Modality::Tabular, Problem::Classification) => [
                LightGbm,
                CatBoost,
                XgBoost,
                ExtraTrees,
                RandomForest,
                Linear,
                MultilayerPerceptron,
                KNearestNeighbours,
            ],
            (Modality::Tabular, Problem::Regression) => [
                LightGbm,
                CatBoost,
                XgBoost,
                RandomForest,
                ExtraTrees,
                Linear,
                KNearestNeighbours,
                MultilayerPerceptron,
            ],
        }
    }
}

/// Words that name a family in free text, lowercase.
const KEYWORDS: [(&str, Family); 21] = [
    ("lightgbm", Family::LightGbm),
    ("lgbm", Family::LightGbm),
    ("xgboost", Family::XgBoost),
    ("xgb", Family::XgBoost),
    ("catboost", Family::CatBoost),
    ("random forest", Family::RandomForest),
    ("randomforest", Family::RandomForest),
    ("extra trees", Family::ExtraTrees),
    ("extratrees", Family::ExtraTrees),
    ("extremely randomized", Family::ExtraTrees),
    ("logistic", Family::Linear),
    ("ridge", Family::Linear),
    ("linear", Family::Linear),
    ("k-nearest", Family::KNearestNeighbours),
    ("nearest neighbo", Family::KNearestNeighbours),
    ("knn", Family::KNearestNeighbours),
    ("convolutional", Family::ConvolutionalNetwork),
    ("cnn", Family::ConvolutionalNetwork),
    ("perceptron", Family::MultilayerPerceptron),
    ("mlp", Family::MultilayerPerceptron),
    ("neural network", Family::MultilayerPerceptron),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_name_their_family_in_their_first_words_and_are_read_back() {
        for family in ALL_FAMILIES
            .into_iter()
            .chain([Family::ConvolutionalNetwork, Family::TextEmbeddings])
        {
            let plan = format!(
                "{}: a first model, validated with 5-fold CV.",
                family.plan_name()
            );
            assert_eq!(Family::named_in(&plan), Some(family), "{plan}");
        }
    }

    #[test]
    fn free_text_plans_are_read_by_their_earliest_keyword() {
        assert_eq!(
            Family::named_in("We train an XGBoost model, then compare with logistic regression."),
            Some(Family::XgBoost)
        );
        assert_eq!(
            Family::named_in("Fit a TF-IDF + logistic regression baseline."),
            Some(Family::Linear)
        );
        assert_eq!(Family::named_in("Predict the mean."), None);
    }

    #[test]
    fn every_order_holds_every_family_once() {
        for modality in [Modality::Tabular, Modality::Text, Modality::Image] {
            for problem in [Problem::Classification, Problem::Regression] {
                let mut order = Family::strength_order(modality, problem).to_vec();
                order.sort();
                let mut all = ALL_FAMILIES.to_vec();
                all.sort();
                assert_eq!(order, all);
            }
        }
    }
}
