//! Drafts: a first, untuned script of a family that none of the earlier drafts (the memory) used,
//! the strongest families for the task first (a convolutional network first of all on image tasks
//! whose run imports torch, text embeddings first of all on text tasks when the user named a local
//! model), and a plan whose first words name the family.

use std::collections::BTreeSet;

use super::family::{Family, Flavour};
use super::options::{CategoricalEncoding, ScriptOptions, Switch, TextNgrams};
use super::schema::{ColumnKind, LabelSource, Modality, Problem, TargetKind, TaskSchema};
use crate::operator::ProposalRequest;
use mlm_grade::Metric;

/// Seeds of the ensemble drafted once every family has had a draft.
const REPEAT_DRAFT_SEEDS: u32 = 3;

/// The plan and options of a new draft.
pub(crate) fn propose(schema: &TaskSchema, request: &ProposalRequest) -> (String, ScriptOptions) {
    let tabular = Family::strength_order(schema.modality, schema.problem());
    let network = schema
        .convolutional_network_fits()
        .then_some(Family::ConvolutionalNetwork);
    let embeddings = schema
        .text_embeddings_fit()
        .then_some(Family::TextEmbeddings);
    let order: Vec<Family> = network
        .into_iter()
        .chain(embeddings)
        .chain(tabular)
        .collect();
    let used: BTreeSet<Family> = request
        .memory
        .iter()
        .filter_map(|entry| Family::named_in(&entry.plan))
        .collect();
    let untried: Vec<Family> = order
        .iter()
        .copied()
        .filter(|family| !used.contains(family))
        .collect();
    match untried.is_empty() {
        false => {
            // Drafts being written in parallel take the next untried families, one each.
            let pick = (request.siblings_being_written as usize).min(untried.len() - 1);
            let family = untried[pick];
            let options = ScriptOptions::draft(family, schema);
            let mut plan = describe(schema, &options);
            if !used.is_empty() {
                plan.push_str(&format!(
                    " Earlier drafts used {}; this one tries a family none of them used.",
                    names(&used)
                ));
            }
            (plan, options)
        }
        true => {
            let family = tabular[request.siblings_being_written as usize % tabular.len()];
            let mut options = ScriptOptions::draft(family, schema);
            options.seeds = REPEAT_DRAFT_SEEDS;
            let mut plan = describe(schema, &options);
            plan.push_str(&format!(
                " Every family has been drafted already, so this draft averages {REPEAT_DRAFT_SEEDS} differently seeded models."
            ));
            (plan, options)
        }
    }
}

/// A plan for a whole script: family first, then the model, the features, the validation and the
/// output.
pub(crate) fn describe(schema: &TaskSchema, options: &ScriptOptions) -> String {
    format!(
        "{}: {}, {}, on {}. It is validated with {}, prints the validation {} and writes it to metrics.json, then refits on all training rows and writes the submission with the sample submission's columns and ids.",
        options.family.plan_name(),
        model(schema, options),
        target(schema, options),
        features(schema, options),
        options.validation.describe(),
        schema.metric.name(),
    )
}

fn model(schema: &TaskSchema, options: &ScriptOptions) -> String {
    let classification = schema.problem() == Problem::Classification;
    let estimator = if classification {
        "classifier"
    } else {
        "regressor"
    };
    let mut settings = options.key_settings();
    // Boosting can train on the loss the metric scores; the other families fit squared error.
    if options.family.is_boosting() && schema.metric == Metric::Mae {
        settings.push_str(", trained on absolute error as the metric scores it");
    }
    match options.family {
        Family::LightGbm => format!("a LightGBM {estimator} ({settings})"),
        Family::XgBoost => format!("an XGBoost {estimator} ({settings})"),
        Family::CatBoost => format!("a CatBoost {estimator} ({settings})"),
        Family::RandomForest => format!("a random forest {estimator} ({settings})"),
        Family::ExtraTrees => format!("an extra-trees {estimator} ({settings})"),
        Family::Linear => match classification {
            true => format!("logistic regression ({settings})"),
            false => format!("ridge regression ({settings})"),
        },
        Family::KNearestNeighbours => format!("a k-nearest-neighbours {estimator} ({settings})"),
        Family::MultilayerPerceptron => format!("a one-hidden-layer MLP {estimator} ({settings})"),
        Family::ConvolutionalNetwork => format!(
            "a three-stage PyTorch CNN {estimator} ({settings}), stopping when the hold-out score \
             stalls, on the slot's GPU when it has one"
        ),
        Family::TextEmbeddings => format!(
            "{} ({settings}) on mean-pooled embeddings of each text from the local model {}, \
             computed once on the slot's GPU when it has one",
            match classification {
                true => "logistic regression",
                false => "ridge regression",
            },
            schema
                .text_model
                .as_deref()
                .map_or_else(String::new, |path| path.display().to_string())
        ),
    }
}

fn target(schema: &TaskSchema, options: &ScriptOptions) -> String {
    let columns = schema.target_columns.join("`, `");
    let source = match &schema.target.source {
        LabelSource::Column(column) => column.clone(),
        LabelSource::TargetColumns | LabelSource::OneHotColumns => columns.clone(),
    };
    match schema.target.kind {
        TargetKind::BinaryProbability => {
            format!("predicting the probability that `{source}` is positive")
        }
        TargetKind::MulticlassProbability => format!(
            "predicting one probability per class of `{source}` ({} classes, clipped and normalised)",
            schema.target_columns.len()
        ),
        TargetKind::MultilabelProbability => {
            format!("predicting a probability for each of `{columns}`")
        }
        TargetKind::BinaryLabel | TargetKind::MulticlassLabel => format!(
            "predicting the `{source}` label ({} classes, written as train.csv spells them)",
            schema.target.classes.len()
        ),
        TargetKind::Regression => match options.log_target {
            Some(Switch::On) => {
                format!("predicting `{columns}` (learnt as log(1 + y), clipped at 0)")
            }
            Some(Switch::Off) | None => format!("predicting `{columns}`"),
        },
        TargetKind::Ordinal => {
            format!("predicting the `{source}` grade (learnt as a number, cut into grades at thresholds tuned on out-of-fold predictions)")
        }
    }
}

fn features(schema: &TaskSchema, options: &ScriptOptions) -> String {
    let count = |kind: ColumnKind| {
        schema
            .columns
            .iter()
            .filter(|(_, column)| *column == kind)
            .count()
    };
    let mut parts = Vec::new();
    if let Some(images) = &schema.image_files {
        let side = match options.family == Family::ConvolutionalNetwork {
            true => super::schema::NETWORK_IMAGE_SIDE,
            false => super::schema::TABULAR_IMAGE_SIDE,
        };
        parts.push(format!(
            "the image files in {}/ and {}/ resized to {side}×{side} pixels",
            images.train_dir, images.test_dir
        ));
    }
    let numeric = count(ColumnKind::Numeric);
    if numeric > 0 {
        parts.push(match schema.modality {
            Modality::Image => format!("{numeric} pixel columns"),
            Modality::Tabular | Modality::Text => format!("{numeric} numeric columns"),
        });
    }
    let categorical = count(ColumnKind::Categorical);
    if categorical > 0 {
        let encoding = match options.features.categorical_encoding {
            Some(CategoricalEncoding::Target) => "target-encoded within folds",
            Some(CategoricalEncoding::OneHot) => "one-hot encoded",
            Some(CategoricalEncoding::Frequency) => "encoded by their frequency within folds",
            Some(CategoricalEncoding::Ordinal) | None => match options.family.flavour() {
                Flavour::Scaled => "one-hot encoded",
                Flavour::TreesSparse | Flavour::TreesDense => "ordinal-encoded",
            },
        };
        parts.push(format!("{categorical} categorical columns ({encoding})"));
    }
    let text = count(ColumnKind::Text);
    if text > 0 {
        let encoding = match (options.family, options.features.text_ngrams) {
            (Family::TextEmbeddings, _) => "embedded by the local model",
            (_, Some(TextNgrams::UpToBigrams)) => "TF-IDF of word unigrams and bigrams",
            (_, Some(TextNgrams::Unigrams) | None) => "TF-IDF of word unigrams",
        };
        let statistics = match options.features.text_statistics {
            Some(Switch::On) => ", with length and character statistics",
            Some(Switch::Off) | None => "",
        };
        parts.push(format!("{text} text columns ({encoding}{statistics})"));
    }
    let dates = count(ColumnKind::Date);
    if dates > 0 {
        parts.push(format!("{dates} date columns"));
    }
    parts.join(", ")
}

fn names(families: &BTreeSet<Family>) -> String {
    families
        .iter()
        .map(|family| family.plan_name())
        .collect::<Vec<_>>()
        .join(", ")
}
