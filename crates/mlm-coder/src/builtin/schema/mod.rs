//! The task's schema as the built-in coder sees it, computed from the brief and the first rows of
//! `train.csv` and `test.csv` that it carries: the kind of every column, what the submission asks for, and
//! the shape of the task (tabular, text, or images as pixel columns or as files), and whether the run
//! can train a PyTorch network or embed text with the user's local model. Anything the templates could
//! not handle is an error that names the file and the problem, never a broken script.

mod columns;
mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub(crate) use columns::{classify, parses_as_number, ColumnKind};
pub(crate) use target::{sklearn_imports, LabelSource, Target, TargetKind};

use mlm_grade::Metric;
use mlm_task::is_missing_cell;

use crate::operator::{CoderError, TaskBrief};

/// Distinct values kept per column, to find which column a value in an error message came from.
const EXAMPLES_PER_COLUMN: usize = 200;
/// A task is about images when at least this many numeric columns are named like `pixel12`…
const MINIMUM_PIXEL_COLUMNS: usize = 16;
/// …and they make up at least this share of the features.
const MINIMUM_PIXEL_SHARE: f64 = 0.8;
/// Folder pairs (train, test) where image competitions keep their files, and the endings a file's
/// name adds to its id.
const IMAGE_FOLDERS: [(&str, &str); 3] = [
    ("train", "test"),
    ("train_images", "test_images"),
    ("images", "images"),
];
const IMAGE_SUFFIXES: [&str; 4] = ["", ".png", ".jpg", ".jpeg"];
/// Image files become this many pixels a side, grey, for the families that read a table.
pub(crate) const TABULAR_IMAGE_SIDE: usize = 16;
/// …and this many a side, in their own colours, for a convolutional network.
pub(crate) const NETWORK_IMAGE_SIDE: usize = 32;
/// A task is about text when it has text columns and at most this many other features.
const MAXIMUM_OTHER_FEATURES_OF_TEXT_TASKS: usize = 2;

/// Whether the model predicts classes or numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    Classification,
    Regression,
}

/// What the features mostly are; it decides which families are tried first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modality {
    Tabular,
    /// Free text carries the signal.
    Text,
    /// Pixel columns of small images.
    Image,
}

/// Images shipped as files: `./input/<train_dir>/<id><suffix>` for each row of train.csv, and the same
/// under `test_dir` for test.csv.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct ImageFiles {
    pub(crate) train_dir: String,
    pub(crate) test_dir: String,
    pub(crate) suffix: String,
}

/// Whether the run's interpreter imports PyTorch, as the brief's installed packages say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Torch {
    Importable,
    Missing,
}

/// Everything the built-in coder knows about the task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskSchema {
    pub(crate) competition_id: String,
    pub(crate) id_column: String,
    pub(crate) target_columns: Vec<String>,
    pub(crate) sample_submission_file: String,
    pub(crate) metric: Metric,
    pub(crate) target: Target,
    /// Feature candidates (in both files, not the id, not the target), in train.csv's order.
    pub(crate) columns: Vec<(String, ColumnKind)>,
    /// Train columns that test.csv lacks and that are not the target: never features.
    pub(crate) train_only: Vec<String>,
    pub(crate) modality: Modality,
    /// Rows of train.csv read (all of them for files up to 20,000 rows).
    pub(crate) train_rows: usize,
    /// Whether some numeric feature has missing cells.
    pub(crate) has_missing_numbers: bool,
    /// Up to 200 distinct values per feature column, from both files.
    pub(crate) examples: BTreeMap<String, BTreeSet<String>>,
    /// The feature column whose order split train.csv from test.csv (a forecast's time), when one did:
    /// the run's folds then follow it.
    pub(crate) split_order_column: Option<String>,
    /// The images, when the task ships them as files instead of feature columns.
    pub(crate) image_files: Option<ImageFiles>,
    pub(crate) torch: Torch,
    /// `[builtin] text_model`, kept only where the run's interpreter imports torch and transformers:
    /// the local model directory whose embeddings a text draft can learn from.
    pub(crate) text_model: Option<PathBuf>,
}

impl TaskSchema {
    /// The column that groups validation folds, when the split between train and test was made by
    /// one.
    pub(crate) fn group_column(&self) -> Option<&str> {
        self.columns
            .iter()
            .find(|(_, kind)| *kind == ColumnKind::Grouping)
            .map(|(name, _)| name.as_str())
    }

    pub(crate) fn problem(&self) -> Problem {
        self.target.kind.problem()
    }

    /// Whether a convolutional network can be drafted: torch imports, and the task classifies one
    /// label column from images, given as files or as pixel columns that form a square.
    pub(crate) fn convolutional_network_fits(&self) -> bool {
        let one_label = matches!(self.target.source, LabelSource::Column(_))
            && match self.target.kind {
                TargetKind::BinaryProbability
                | TargetKind::MulticlassProbability
                | TargetKind::BinaryLabel
                | TargetKind::MulticlassLabel => true,
                TargetKind::MultilabelProbability
                | TargetKind::Regression
                | TargetKind::Ordinal => false,
            };
        let images = self.image_files.is_some() || self.pixel_side().is_some();
        self.torch == Torch::Importable && self.modality == Modality::Image && one_label && images
    }

    /// Whether a text-embeddings draft can be made: a usable local model, and text columns to embed.
    pub(crate) fn text_embeddings_fit(&self) -> bool {
        self.text_model.is_some()
            && self
                .columns
                .iter()
                .any(|(_, kind)| *kind == ColumnKind::Text)
    }

    /// The side of the square images that the numeric columns hold, row by row, when they do.
    pub(crate) fn pixel_side(&self) -> Option<usize> {
        let pixels = self
            .columns
            .iter()
            .filter(|(_, kind)| *kind == ColumnKind::Numeric)
            .count();
        let side = (pixels as f64).sqrt().round() as usize;
        (pixels >= MINIMUM_PIXEL_COLUMNS && side * side == pixels).then_some(side)
    }

    /// The feature column whose cells include `value`, if any.
    pub(crate) fn column_holding(&self, value: &str) -> Option<String> {
        self.examples
            .iter()
            .find(|(_, values)| values.contains(value))
            .map(|(column, _)| column.clone())
    }
}

fn failure(path: &Path, problem: impl std::fmt::Display, hint: &str) -> CoderError {
    CoderError::failed(format!("{}: {problem}\nhint: {hint}", path.display()))
}

/// Computes the schema of a task from its brief and its public files.
pub(crate) fn detect(task: &TaskBrief) -> Result<TaskSchema, CoderError> {
    let metric = task.metric;
    if let Metric::MapAtK(_) = metric {
        return Err(CoderError::failed(format!(
            "the metric `{}` is not one the built-in coder can optimise\nhint: use an LLM coder for this competition",
            metric.name()
        )));
    }
    let train_path: PathBuf = task.public_dir.join("train.csv");
    let test_path: PathBuf = task.public_dir.join("test.csv");
    let unreadable =
        "is missing, or is not a CSV file with a header row (the data preview says which)";
    let needs_files = "the built-in coder needs train.csv and test.csv among the public files";
    let train = task
        .train_sample
        .as_ref()
        .ok_or_else(|| failure(&train_path, unreadable, needs_files))?;
    let test = task
        .test_sample
        .as_ref()
        .ok_or_else(|| failure(&test_path, unreadable, needs_files))?;
    if train.rows.is_empty() {
        return Err(failure(
            &train_path,
            "the file has a header but no rows: there is nothing to learn from",
            "check that the competition was prepared completely",
        ));
    }
    if test.rows.is_empty() {
        return Err(failure(
            &test_path,
            "the file has a header but no rows: there is nothing to predict",
            "check that the competition was prepared completely",
        ));
    }
    if test.column_index(&task.id_column).is_none() {
        return Err(failure(
            &test_path,
            format!("no id column `{}`", task.id_column),
            "the sample submission's id column must be a column of test.csv",
        ));
    }
    let in_test: BTreeSet<&str> = test.headers.iter().map(String::as_str).collect();
    let train_only: Vec<String> = train
        .headers
        .iter()
        .filter(|header| !in_test.contains(header.as_str()) && **header != task.id_column)
        .cloned()
        .collect();
    let target =
        target::resolve(metric, &task.target_columns, train, &train_only).map_err(|problem| {
            failure(
                &train_path,
                problem,
                "train.csv must hold the values the submission predicts",
            )
        })?;
    let excluded: BTreeSet<String> = std::iter::once(&task.id_column)
        .chain(&target.source_columns)
        .chain(&task.target_columns)
        .cloned()
        .collect();
    let mut columns = Vec::new();
    let mut examples = BTreeMap::new();
    let mut has_missing_numbers = false;
    let mut split_order_column = None;
    for (train_index, name) in train.headers.iter().enumerate() {
        let Some(test_index) = test.column_index(name) else {
            continue;
        };
        if excluded.contains(name) {
            continue;
        }
        let train_cells: Vec<&str> = train.column(train_index).collect();
        let test_cells: Vec<&str> = test.column(test_index).collect();
        let cells: Vec<&str> = train_cells.iter().chain(&test_cells).copied().collect();
        let kind = columns::classify(&cells).map_err(|unknown| {
            failure(
                &train_path,
                format!(
                    "column `{name}` has a type the built-in coder does not know: {}",
                    unknown.problem
                ),
                "drop or flatten the column in the competition's files, or use an LLM coder",
            )
        })?;
        let kind = columns::refine_with_test(kind, &train_cells, &test_cells);
        if split_order_column.is_none()
            && columns::orders_the_split(kind, &train_cells, &test_cells)
        {
            split_order_column = Some(name.clone());
        }
        if kind == ColumnKind::Numeric && cells.iter().any(|cell| is_missing_cell(cell)) {
            has_missing_numbers = true;
        }
        let mut distinct = BTreeSet::new();
        for cell in &cells {
            if distinct.len() >= EXAMPLES_PER_COLUMN {
                break;
            }
            distinct.insert(cell.to_string());
        }
        examples.insert(name.clone(), distinct);
        columns.push((name.clone(), kind));
    }
    let usable = columns.iter().filter(|(_, kind)| is_feature(*kind)).count();
    let image_files = match usable {
        0 => image_files(task, train, test),
        _ => None,
    };
    if usable == 0 && image_files.is_none() {
        return Err(failure(
            &train_path,
            "no column shared with test.csv can serve as a feature (every one is the id, the target, an identifier or constant)",
            "the built-in coder learns from the columns train.csv and test.csv share",
        ));
    }
    let modality = match image_files {
        Some(_) => Modality::Image,
        None => modality_of(&columns),
    };
    let importable = |module: &str| {
        task.installed_packages
            .iter()
            .any(|package| package == module)
    };
    let torch = match importable("torch") {
        true => Torch::Importable,
        false => Torch::Missing,
    };
    let text_model = task
        .text_model
        .clone()
        .filter(|_| torch == Torch::Importable && importable("transformers"));
    Ok(TaskSchema {
        competition_id: task.competition_id.clone(),
        id_column: task.id_column.clone(),
        target_columns: task.target_columns.clone(),
        sample_submission_file: task.sample_submission_file.clone(),
        metric,
        target,
        columns,
        train_only: train_only
            .into_iter()
            .filter(|column| !excluded.contains(column))
            .collect(),
        modality,
        train_rows: train.rows.len(),
        has_missing_numbers,
        examples,
        split_order_column,
        image_files,
        torch,
        text_model,
    })
}

/// Where the images of a task without feature columns are: the first folder pair and file ending
/// under which the first rows of train.csv and test.csv each have a file.
fn image_files(
    task: &TaskBrief,
    train: &mlm_task::CsvTable,
    test: &mlm_task::CsvTable,
) -> Option<ImageFiles> {
    let first_id = |table: &mlm_task::CsvTable| {
        let index = table.column_index(&task.id_column)?;
        table.column(index).next().map(str::to_string)
    };
    let (train_id, test_id) = (first_id(train)?, first_id(test)?);
    IMAGE_FOLDERS.iter().find_map(|(train_dir, test_dir)| {
        IMAGE_SUFFIXES.iter().find_map(|suffix| {
            let train_file = task
                .public_dir
                .join(train_dir)
                .join(format!("{train_id}{suffix}"));
            let test_file = task
                .public_dir
                .join(test_dir)
                .join(format!("{test_id}{suffix}"));
            (train_file.is_file() && test_file.is_file()).then(|| ImageFiles {
                train_dir: train_dir.to_string(),
                test_dir: test_dir.to_string(),
                suffix: suffix.to_string(),
            })
        })
    })
}

fn is_feature(kind: ColumnKind) -> bool {
    match kind {
        ColumnKind::Numeric | ColumnKind::Categorical | ColumnKind::Text | ColumnKind::Date => true,
        ColumnKind::Identifier | ColumnKind::Constant | ColumnKind::Grouping => false,
    }
}

fn modality_of(columns: &[(String, ColumnKind)]) -> Modality {
    let features: Vec<&(String, ColumnKind)> = columns
        .iter()
        .filter(|(_, kind)| is_feature(*kind))
        .collect();
    let pixels = features
        .iter()
        .filter(|(name, kind)| *kind == ColumnKind::Numeric && is_pixel_name(name))
        .count();
    if pixels >= MINIMUM_PIXEL_COLUMNS
        && pixels as f64 >= MINIMUM_PIXEL_SHARE * features.len() as f64
    {
        return Modality::Image;
    }
    let text = features
        .iter()
        .filter(|(_, kind)| *kind == ColumnKind::Text)
        .count();
    if text > 0 && features.len() - text <= MAXIMUM_OTHER_FEATURES_OF_TEXT_TASKS {
        return Modality::Text;
    }
    Modality::Tabular
}

/// `pixel0`, `pixel_12`, `px3`, `pix40`.
fn is_pixel_name(name: &str) -> bool {
    let lowered = name.to_lowercase();
    ["pixel", "pix", "px"].iter().any(|prefix| {
        lowered.strip_prefix(prefix).is_some_and(|rest| {
            let digits = rest.strip_prefix('_').unwrap_or(rest);
            !digits.is_empty() && digits.chars().all(|character| character.is_ascii_digit())
        })
    })
}

#[cfg(test)]
mod tests;
