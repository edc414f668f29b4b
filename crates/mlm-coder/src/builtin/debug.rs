//! Debugs: recognise what went wrong in the parent's run (its status, its output, the grader's
//! message) and patch the options that caused it; when the failure is not recognised, fall back to
//! a simpler, safer family. The plan says what was recognised and what changed.

use std::collections::BTreeSet;

use super::draft;
use super::family::Family;
use super::options::{ScriptOptions, SubmissionChecks, Switch, Validation};
use super::schema::{Modality, TaskSchema};
use crate::operator::{CoderError, ExecutionStatus, NodeView, ProposalRequest};

/// Modules every built-in script needs; without them no family can run.
const ESSENTIAL_MODULES: [&str; 4] = ["numpy", "pandas", "sklearn", "scipy"];
/// Output that Python and native libraries print when an allocation fails.
const OUT_OF_MEMORY_MARKERS: [&str; 4] = [
    "MemoryError",
    "Unable to allocate",
    "std::bad_alloc",
    "Cannot allocate memory",
];
/// What strict submission checks do, for the plan.
const STRICT_CHECKS: &str = "the script now fills empty predictions, takes the sample \
     submission's ids when test.csv spells them differently, and re-reads the written file to \
     check its columns, ids and values against the sample submission";
/// Evidence quoted in plans is cut to this many characters.
const EVIDENCE_LENGTH: usize = 200;

/// What went wrong, as far as the built-in coder can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    MissingPackage { module: String },
    NonNumericValue { value: String },
    MissingColumn { column: String },
    OutOfMemory,
    Timeout,
    InvalidSubmission { message: String },
    Unrecognised { last_error: String },
}

/// Reads the failure from the parent's status, output and validation message.
pub(crate) fn recognise(parent: &NodeView) -> Failure {
    match parent.status {
        ExecutionStatus::Timeout => return Failure::Timeout,
        ExecutionStatus::Oom => return Failure::OutOfMemory,
        ExecutionStatus::Ok
        | ExecutionStatus::Error
        | ExecutionStatus::Killed
        | ExecutionStatus::DiskLimit => {}
    }
    let output = &parent.output;
    if let (ExecutionStatus::Ok, Some(message)) = (parent.status, &parent.validation_message) {
        return Failure::InvalidSubmission {
            message: message.clone(),
        };
    }
    if OUT_OF_MEMORY_MARKERS
        .iter()
        .any(|marker| output.contains(marker))
    {
        return Failure::OutOfMemory;
    }
    if let Some(module) = quoted_after(output, "No module named ") {
        let root = module.split('.').next().unwrap_or_default().to_string();
        return Failure::MissingPackage { module: root };
    }
    if let Some(value) = quoted_after(output, "could not convert string to float: ") {
        return Failure::NonNumericValue { value };
    }
    if let Some(column) = quoted_after(output, "KeyError: ") {
        return Failure::MissingColumn { column };
    }
    if let Some(message) = &parent.validation_message {
        return Failure::InvalidSubmission {
            message: message.clone(),
        };
    }
    Failure::Unrecognised {
        last_error: last_error_line(output),
    }
}

/// The plan and options of a fix for `request.parent`.
pub(crate) fn propose(
    schema: &TaskSchema,
    request: &ProposalRequest,
) -> Result<(String, ScriptOptions), CoderError> {
    let parent = request
        .parent
        .as_ref()
        .ok_or_else(|| CoderError::failed("a debug needs the node to fix".to_string()))?;
    let failure = recognise(parent);
    let recognised = describe(&failure, parent.node);
    let options = ScriptOptions::from_code(&parent.code);
    let patched = match (&failure, options) {
        (Failure::MissingPackage { module }, options) => {
            if ESSENTIAL_MODULES.contains(&module.as_str()) {
                return Err(CoderError::failed(format!(
                    "the Python environment has no `{module}`, which every built-in script needs\nhint: run `ml-master env setup` to repair the managed environment"
                )));
            }
            let mut missing: BTreeSet<String> = request
                .buggy_ancestors
                .iter()
                .filter_map(|ancestor| match recognise(ancestor) {
                    Failure::MissingPackage { module } => Some(module),
                    Failure::NonNumericValue { .. }
                    | Failure::MissingColumn { .. }
                    | Failure::OutOfMemory
                    | Failure::Timeout
                    | Failure::InvalidSubmission { .. }
                    | Failure::Unrecognised { .. } => None,
                })
                .collect();
            missing.insert(module.clone());
            Some(without_modules(schema, options, &missing))
        }
        (Failure::NonNumericValue { value }, Some(mut options)) => {
            schema.column_holding(value).and_then(|column| {
                (!options.features.force_categorical.contains(&column)).then(|| {
                    options.features.force_categorical.push(column.clone());
                    (
                        format!("`{column}` now becomes categories instead of numbers"),
                        options,
                    )
                })
            })
        }
        (Failure::MissingColumn { column }, Some(mut options)) => {
            let known = schema.columns.iter().any(|(name, _)| name == column);
            (known && !options.features.excluded_columns.contains(column)).then(|| {
                options.features.excluded_columns.push(column.clone());
                (format!("the script no longer uses `{column}`"), options)
            })
        }
        (Failure::OutOfMemory, Some(options)) => Some(lighter(options)),
        (Failure::Timeout, Some(options)) => Some(faster(options)),
        (Failure::InvalidSubmission { .. }, Some(mut options)) => {
            (options.submission_checks == SubmissionChecks::Standard).then(|| {
                options.submission_checks = SubmissionChecks::Strict;
                (STRICT_CHECKS.to_string(), options)
            })
        }
        (
            Failure::NonNumericValue { .. }
            | Failure::MissingColumn { .. }
            | Failure::OutOfMemory
            | Failure::Timeout
            | Failure::InvalidSubmission { .. }
            | Failure::Unrecognised { .. },
            _,
        ) => None,
    };
    let (fix, options) = match patched {
        Some(patch) => patch,
        None => fallback(schema, parent),
    };
    Ok((format!("Debug: {recognised}. Fix: {fix}."), options))
}

fn describe(failure: &Failure, node: u32) -> String {
    match failure {
        Failure::MissingPackage { module } => {
            format!(
                "node {node} failed because the environment has no `{module}` module \
                 (ModuleNotFoundError)"
            )
        }
        Failure::NonNumericValue { value } => format!(
            "node {node} failed converting text to numbers (could not convert string to float: `{}`)",
            cut(value)
        ),
        Failure::MissingColumn { column } => {
            format!("node {node} failed looking up column `{}` (KeyError)", cut(column))
        }
        Failure::OutOfMemory => format!("node {node} ran out of memory"),
        Failure::Timeout => format!("node {node} ran past its time limit"),
        Failure::InvalidSubmission { message } => format!(
            "the grader rejected node {node}'s submission ({}): {}",
            submission_problem(message),
            cut(message)
        ),
        Failure::Unrecognised { last_error } => format!(
            "the failure of node {node} was not recognised (last error: `{}`)",
            cut(last_error)
        ),
    }
}

/// Which part of the submission the grader's message is about.
fn submission_problem(message: &str) -> &'static str {
    let has = |needle: &str| message.contains(needle);
    if has("missing column") || has("unexpected column") || has("appears more than once") {
        "its columns differ from the sample submission's"
    } else if has("has no row")
        || has("rows, expected")
        || has("duplicate")
        || has("not in the test set")
    {
        "its ids differ from the test set's"
    } else if has("is not a probability") || has("probabilities sum to") {
        "its probabilities are out of range or do not sum to one"
    } else if has("missing value") || has("is not a number") {
        "some predictions are empty or not numbers"
    } else {
        "its content does not match the sample submission"
    }
}

/// The parent without the missing modules: blend members using them go, and a main family using
/// them is replaced by the strongest family whose module is there.
fn without_modules(
    schema: &TaskSchema,
    options: Option<ScriptOptions>,
    missing: &BTreeSet<String>,
) -> (String, ScriptOptions) {
    let available = |family: &Family| !missing.contains(family.module());
    let strongest = Family::strength_order(schema.modality, schema.problem())
        .into_iter()
        .find(available)
        .unwrap_or(Family::RandomForest);
    match options {
        Some(mut options) if available(&options.family) => {
            options.blend.retain(available);
            let fix = format!(
                "the blend no longer uses {}",
                missing.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            (fix, options)
        }
        Some(options) => {
            let replacement = ScriptOptions::draft(strongest, schema);
            let fix = format!(
                "switch from {} to {}, which needs no missing module",
                options.family.plan_name(),
                strongest.plan_name()
            );
            (fix, replacement)
        }
        None => (
            format!(
                "write a fresh {} script, which needs no missing module",
                strongest.plan_name()
            ),
            ScriptOptions::draft(strongest, schema),
        ),
    }
}

/// Less memory: fewer rows, fewer text features, one model.
fn lighter(mut options: ScriptOptions) -> (String, ScriptOptions) {
    let mut changes = vec![format!(
        "train on {}% of the rows instead of {}%",
        percent(options.row_subsample * 0.5),
        percent(options.row_subsample)
    )];
    options.row_subsample = (options.row_subsample * 0.5).max(0.1);
    if let Some(maximum) = options.features.text_max_features {
        options.features.text_max_features = Some((maximum / 2).max(100));
        changes.push(format!(
            "keep {} TF-IDF terms instead of {maximum}",
            (maximum / 2).max(100)
        ));
    }
    if options.seeds > 1 || !options.blend.is_empty() {
        options.seeds = 1;
        options.blend.clear();
        changes.push("fit a single model instead of an ensemble".to_string());
    }
    (changes.join(", "), options)
}

/// Less time: one model, one hold-out split, half the trees; fewer rows when nothing else is left.
fn faster(mut options: ScriptOptions) -> (String, ScriptOptions) {
    let was_holdout = options.validation == Validation::Holdout;
    let mut changes = Vec::new();
    if options.seeds > 1 || !options.blend.is_empty() {
        options.seeds = 1;
        options.blend.clear();
        changes.push("fit a single model instead of an ensemble".to_string());
    }
    if options.validation != Validation::Holdout {
        changes.push(format!(
            "validate on a hold-out split instead of {}",
            options.validation.describe()
        ));
        options.validation = Validation::Holdout;
    }
    if let Some(trees) = options.hyperparameters.trees.filter(|trees| *trees >= 40) {
        options.hyperparameters.trees = Some(trees / 2);
        changes.push(format!("use {} trees instead of {trees}", trees / 2));
    }
    if options.features.text_characters == Some(Switch::On) {
        options.features.text_characters = Some(Switch::Off);
        changes.push("drop the character n-grams".to_string());
    }
    if changes.is_empty() || was_holdout {
        changes.push(format!(
            "train on {}% of the rows instead of {}%",
            percent(options.row_subsample * 0.5),
            percent(options.row_subsample)
        ));
        options.row_subsample = (options.row_subsample * 0.5).max(0.1);
    }
    (changes.join(", "), options)
}

/// A simpler, safer script: a random forest (or, for text, a linear model) with a hold-out split
/// and strict submission checks.
fn fallback(schema: &TaskSchema, parent: &NodeView) -> (String, ScriptOptions) {
    let parent_family = ScriptOptions::from_code(&parent.code)
        .map(|options| options.family)
        .or_else(|| Family::named_in(&parent.plan));
    // The safe family for the task, or the other one when the parent already was it.
    let (safe, other) = match schema.modality {
        Modality::Text => (Family::Linear, Family::RandomForest),
        Modality::Tabular | Modality::Image => (Family::RandomForest, Family::Linear),
    };
    let safe = if parent_family == Some(safe) {
        other
    } else {
        safe
    };
    let mut options = ScriptOptions::draft(safe, schema);
    options.validation = Validation::Holdout;
    options.submission_checks = SubmissionChecks::Strict;
    let fix = format!(
        "rewrite it as the simpler, safer family {}: {}",
        safe.plan_name(),
        draft::describe(schema, &options)
    );
    (fix, options)
}

/// The quoted text after `marker` on the last line that has it: `'x'` or `"x"`.
fn quoted_after(output: &str, marker: &str) -> Option<String> {
    let line = output.lines().rev().find(|line| line.contains(marker))?;
    let rest = &line[line.find(marker)? + marker.len()..];
    let quote = rest
        .chars()
        .next()
        .filter(|character| *character == '\'' || *character == '"')?;
    let inner = &rest[1..];
    Some(inner[..inner.find(quote)?].to_string())
}

/// The last line that looks like an error, or the last non-empty line.
pub(crate) fn last_error_line(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|line| line.contains("Error") || line.contains("Exception"))
        .or(lines.last())
        .map_or_else(|| "no output".to_string(), |line| line.to_string())
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(EVIDENCE_LENGTH) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

fn percent(share: f64) -> String {
    format!("{}", (share.max(0.1) * 100.0).round())
}
