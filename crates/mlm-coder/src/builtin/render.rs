//! Rendering a script: the minijinja templates under `templates/builtin/` (embedded in the binary)
//! filled with the task's schema, the options and the plan.

use minijinja::Environment;
use serde::Serialize;

use super::family::{Family, Flavour};
use super::options::{Hyperparameters, ScriptOptions, Switch};
use super::schema::{
    sklearn_imports, ColumnKind, ImageFiles, LabelSource, Modality, Problem, TargetKind,
    TaskSchema, NETWORK_IMAGE_SIDE, TABULAR_IMAGE_SIDE,
};
use crate::operator::CoderError;

const TEMPLATES: [(&str, &str); 11] = [
    (
        "builtin/solution.py.j2",
        include_str!("../../templates/builtin/solution.py.j2"),
    ),
    (
        "builtin/cnn.py.j2",
        include_str!("../../templates/builtin/cnn.py.j2"),
    ),
    (
        "builtin/images.py.j2",
        include_str!("../../templates/builtin/images.py.j2"),
    ),
    (
        "builtin/scoring.py.j2",
        include_str!("../../templates/builtin/scoring.py.j2"),
    ),
    (
        "builtin/imports.py.j2",
        include_str!("../../templates/builtin/imports.py.j2"),
    ),
    (
        "builtin/target.py.j2",
        include_str!("../../templates/builtin/target.py.j2"),
    ),
    (
        "builtin/features.py.j2",
        include_str!("../../templates/builtin/features.py.j2"),
    ),
    (
        "builtin/models.py.j2",
        include_str!("../../templates/builtin/models.py.j2"),
    ),
    (
        "builtin/predictions.py.j2",
        include_str!("../../templates/builtin/predictions.py.j2"),
    ),
    (
        "builtin/validation.py.j2",
        include_str!("../../templates/builtin/validation.py.j2"),
    ),
    (
        "builtin/submission.py.j2",
        include_str!("../../templates/builtin/submission.py.j2"),
    ),
];

/// Plans are wrapped to this width in the script's docstring.
const PLAN_WIDTH: usize = 100;
/// The first seed of the models in a run with seed 0; seed ensembles count up from it.
pub(crate) const FIRST_SEED: u32 = 42;

#[derive(Serialize)]
struct ScriptContext<'a> {
    header: String,
    title: String,
    plan_lines: Vec<String>,
    seeds: Vec<u32>,
    schema: SchemaContext,
    options: &'a ScriptOptions,
    members: Vec<MemberContext>,
    /// Some member stops boosting early: each fold sets rows aside to stop on.
    stops_early: bool,
    classification: bool,
    estimator: &'static str,
    metric_imports: &'static [&'static str],
    date_parts: Vec<&'static str>,
    text_min_df: u32,
    folds: u32,
    tabular_image_side: usize,
    network_image_side: usize,
    /// The side of the square images the pixel columns form, for a network on pixel columns.
    pixel_side: Option<usize>,
    /// The local model directory a text-embeddings script loads.
    text_model: Option<String>,
}

#[derive(Serialize)]
struct SchemaContext {
    id_column: String,
    target_columns: Vec<String>,
    label_column: Option<String>,
    label_source: &'static str,
    source_columns: Vec<String>,
    numeric_columns: Vec<String>,
    categorical_columns: Vec<String>,
    text_columns: Vec<String>,
    date_columns: Vec<String>,
    dropped_summary: String,
    metric: String,
    lower_is_better: bool,
    sample_submission_file: String,
    read_as_text: Vec<String>,
    group_column: Option<String>,
    target_kind: &'static str,
    outputs_per_column: bool,
    image: bool,
    modality_text: bool,
    image_files: Option<ImageFiles>,
}

#[derive(Serialize)]
struct MemberContext {
    family: Family,
    flavour: Flavour,
    rounds: u32,
    stops_early: bool,
    hyperparameters: Hyperparameters,
}

/// The complete script for these options and this plan, its models seeded from `first_seed` on.
pub(crate) fn render(
    schema: &TaskSchema,
    options: &ScriptOptions,
    plan: &str,
    first_seed: u32,
) -> Result<String, CoderError> {
    let mut environment = Environment::new();
    environment.set_trim_blocks(true);
    environment.set_lstrip_blocks(true);
    environment.set_keep_trailing_newline(true);
    for (name, source) in TEMPLATES {
        environment
            .add_template(name, source)
            .map_err(|error| template_failure(&error))?;
    }
    let classification = schema.problem() == Problem::Classification;
    let members: Vec<MemberContext> =
        std::iter::once(member(options.family, &options.hyperparameters))
            .chain(
                options
                    .blend
                    .iter()
                    .map(|family| member(*family, &Hyperparameters::defaults(*family, schema))),
            )
            .collect();
    let context = ScriptContext {
        header: options.header()[super::options::HEADER_PREFIX.len()..].to_string(),
        title: format!(
            "{} for `{}`, scored by {}",
            options.family.plan_name(),
            schema.competition_id,
            schema.metric.name()
        ),
        plan_lines: wrap(&sanitize(plan), PLAN_WIDTH),
        seeds: (0..options.seeds.max(1))
            .map(|offset| first_seed + offset)
            .collect(),
        schema: schema_context(schema, options),
        options,
        stops_early: members.iter().any(|member| member.stops_early),
        members,
        classification,
        estimator: match classification {
            true => "Classifier",
            false => "Regressor",
        },
        metric_imports: sklearn_imports(schema.metric),
        date_parts: match options.features.date_parts {
            Some(super::options::DateParts::Expanded) => {
                vec!["days", "year", "month", "day", "weekday", "hour"]
            }
            Some(super::options::DateParts::DaysOnly) | None => vec!["days"],
        },
        text_min_df: if schema.train_rows >= 200 { 2 } else { 1 },
        folds: options.validation.folds(),
        tabular_image_side: TABULAR_IMAGE_SIDE,
        network_image_side: NETWORK_IMAGE_SIDE,
        pixel_side: schema.pixel_side(),
        text_model: schema
            .text_model
            .as_ref()
            .map(|path| path.display().to_string()),
    };
    // A network is a script of its own: it shares the target, scoring and submission parts only.
    let template = match options.family == Family::ConvolutionalNetwork {
        true => "builtin/cnn.py.j2",
        false => "builtin/solution.py.j2",
    };
    environment
        .get_template(template)
        .and_then(|template| template.render(&context))
        .map(|script| without_unused_imports(&script))
        .map_err(|error| template_failure(&error))
}

/// The script with each name that a `from … import …` line brings in, and no other line mentions, left
/// out; a line left with no name goes. The import template names what any combination of options may
/// need, and which of it a script uses follows from functions the other templates define or leave out.
fn without_unused_imports(script: &str) -> String {
    let is_import = |line: &str| line.starts_with("from ") && line.contains(" import ");
    let code: Vec<&str> = script
        .lines()
        .filter(|line| !is_import(line) && !line.trim_start().starts_with('#'))
        .collect();
    // A mention is the whole identifier, not part of a longer one.
    let identifier = |character: char| character.is_alphanumeric() || character == '_';
    let mentions = |line: &str, name: &str| {
        line.match_indices(name).any(|(start, _)| {
            !line[..start].chars().next_back().is_some_and(identifier)
                && !line[start + name.len()..]
                    .chars()
                    .next()
                    .is_some_and(identifier)
        })
    };
    let used = |name: &str| code.iter().any(|line| mentions(line, name));
    let mut kept = String::with_capacity(script.len());
    for line in script.split_inclusive('\n') {
        let Some((module, names)) = line
            .strip_prefix("from ")
            .and_then(|rest| rest.split_once(" import "))
        else {
            kept.push_str(line);
            continue;
        };
        let names: Vec<&str> = names
            .trim()
            .split(',')
            .map(str::trim)
            .filter(|name| used(name.rsplit(' ').next().unwrap_or(name)))
            .collect();
        if !names.is_empty() {
            kept.push_str(&format!("from {module} import {}\n", names.join(", ")));
        }
    }
    kept
}

fn template_failure(error: &minijinja::Error) -> CoderError {
    CoderError::failed(format!(
        "the built-in script template could not be rendered: {error:#}"
    ))
}

fn member(family: Family, hyperparameters: &Hyperparameters) -> MemberContext {
    let stops_early = family.is_boosting() && hyperparameters.early_stopping == Some(Switch::On);
    MemberContext {
        family,
        flavour: family.flavour(),
        rounds: hyperparameters.trees.unwrap_or(0),
        stops_early,
        hyperparameters: hyperparameters.clone(),
    }
}

fn schema_context(schema: &TaskSchema, options: &ScriptOptions) -> SchemaContext {
    let features = &options.features;
    let kind_of = |name: &str, kind: ColumnKind| -> Option<ColumnKind> {
        if features
            .excluded_columns
            .iter()
            .any(|column| column == name)
        {
            return None;
        }
        if features
            .force_categorical
            .iter()
            .any(|column| column == name)
        {
            return Some(ColumnKind::Categorical);
        }
        Some(kind)
    };
    let columns_of = |wanted: ColumnKind| -> Vec<String> {
        schema
            .columns
            .iter()
            .filter(|(name, kind)| kind_of(name, *kind) == Some(wanted))
            .map(|(name, _)| name.clone())
            .collect()
    };
    let mut dropped: Vec<String> = schema
        .columns
        .iter()
        .filter_map(|(name, kind)| match kind_of(name, *kind) {
            None => Some(format!("{name} (left out)")),
            Some(ColumnKind::Identifier) => Some(format!("{name} (identifier)")),
            Some(ColumnKind::Constant) => Some(format!("{name} (constant)")),
            Some(ColumnKind::Grouping) => Some(format!(
                "{name} (test.csv's values are mostly unseen in train.csv; it groups the folds)"
            )),
            Some(
                ColumnKind::Numeric | ColumnKind::Categorical | ColumnKind::Text | ColumnKind::Date,
            ) => None,
        })
        .collect();
    dropped.extend(
        schema
            .train_only
            .iter()
            .map(|name| format!("{name} (not in test.csv)")),
    );
    let label_column = match &schema.target.source {
        LabelSource::Column(column) => Some(column.clone()),
        LabelSource::TargetColumns | LabelSource::OneHotColumns => None,
    };
    let classification = schema.problem() == Problem::Classification;
    let mut read_as_text = vec![schema.id_column.clone()];
    if let (true, Some(label)) = (classification, &label_column) {
        read_as_text.push(label.clone());
    }
    SchemaContext {
        id_column: schema.id_column.clone(),
        target_columns: schema.target_columns.clone(),
        label_column: label_column.filter(|_| classification),
        label_source: match schema.target.source {
            LabelSource::Column(_) => "column",
            LabelSource::TargetColumns => "target_columns",
            LabelSource::OneHotColumns => "one_hot",
        },
        source_columns: schema.target.source_columns.clone(),
        numeric_columns: columns_of(ColumnKind::Numeric),
        categorical_columns: columns_of(ColumnKind::Categorical),
        text_columns: columns_of(ColumnKind::Text),
        date_columns: columns_of(ColumnKind::Date),
        dropped_summary: match dropped.is_empty() {
            true => "none".to_string(),
            false => dropped.join(", "),
        },
        metric: schema.metric.name(),
        lower_is_better: schema.metric.lower_is_better(),
        sample_submission_file: schema.sample_submission_file.clone(),
        read_as_text,
        group_column: schema.group_column().map(str::to_string),
        target_kind: schema.target.kind.template_name(),
        outputs_per_column: match schema.target.kind {
            TargetKind::MultilabelProbability | TargetKind::Regression | TargetKind::Ordinal => {
                true
            }
            TargetKind::BinaryProbability
            | TargetKind::MulticlassProbability
            | TargetKind::BinaryLabel
            | TargetKind::MulticlassLabel => false,
        },
        image: schema.modality == Modality::Image,
        modality_text: schema.modality == Modality::Text,
        image_files: schema.image_files.clone(),
    }
}

/// Plans go into a docstring: no triple quotes, no backslashes.
fn sanitize(plan: &str) -> String {
    plan.replace('\\', "/").replace("\"\"\"", "'''")
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}
