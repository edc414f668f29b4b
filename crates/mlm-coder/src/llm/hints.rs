//! What the harness reads in a failed script's output, said to the model next to the debug request.
//!
//! Small models make the same mistakes over and over and do not read them out of a traceback: a
//! column a famous version of the data set has (Titanic's `Fare`, `Embarked`) but this one lacks, the
//! target read from test.csv, a text column fed to a model, missing values, a forgotten import, only
//! the changed lines sent back, pandas' copy-on-write ignoring `inplace=True` on a column. The harness
//! knows the real columns and the installed packages, so it turns the error into one sentence with
//! the facts the fix needs. A hint never changes the script: the model still writes the fix.

use mlm_task::{is_missing_cell, CsvTable};

use crate::builtin::{classify, parses_as_number, ColumnKind};
use crate::operator::{NodeView, TaskBrief};

/// The import line for names a script commonly uses without importing them.
const IMPORTS: &[(&str, &str)] = &[
    ("pd", "import pandas as pd"),
    ("np", "import numpy as np"),
    ("json", "import json"),
    ("os", "import os"),
    ("re", "import re"),
    ("math", "import math"),
    ("time", "import time"),
    ("torch", "import torch"),
    ("nn", "from torch import nn"),
    ("lgb", "import lightgbm as lgb"),
    ("xgb", "import xgboost as xgb"),
    ("LGBMClassifier", "from lightgbm import LGBMClassifier"),
    ("LGBMRegressor", "from lightgbm import LGBMRegressor"),
    ("XGBClassifier", "from xgboost import XGBClassifier"),
    ("XGBRegressor", "from xgboost import XGBRegressor"),
    (
        "CatBoostClassifier",
        "from catboost import CatBoostClassifier",
    ),
    (
        "CatBoostRegressor",
        "from catboost import CatBoostRegressor",
    ),
    (
        "train_test_split",
        "from sklearn.model_selection import train_test_split",
    ),
    ("KFold", "from sklearn.model_selection import KFold"),
    (
        "StratifiedKFold",
        "from sklearn.model_selection import StratifiedKFold",
    ),
    (
        "cross_val_score",
        "from sklearn.model_selection import cross_val_score",
    ),
    ("SimpleImputer", "from sklearn.impute import SimpleImputer"),
    (
        "StandardScaler",
        "from sklearn.preprocessing import StandardScaler",
    ),
    (
        "OneHotEncoder",
        "from sklearn.preprocessing import OneHotEncoder",
    ),
    (
        "OrdinalEncoder",
        "from sklearn.preprocessing import OrdinalEncoder",
    ),
    (
        "LabelEncoder",
        "from sklearn.preprocessing import LabelEncoder",
    ),
    (
        "ColumnTransformer",
        "from sklearn.compose import ColumnTransformer",
    ),
    ("Pipeline", "from sklearn.pipeline import Pipeline"),
    (
        "make_pipeline",
        "from sklearn.pipeline import make_pipeline",
    ),
    (
        "LogisticRegression",
        "from sklearn.linear_model import LogisticRegression",
    ),
    ("Ridge", "from sklearn.linear_model import Ridge"),
    (
        "LinearRegression",
        "from sklearn.linear_model import LinearRegression",
    ),
    (
        "RandomForestClassifier",
        "from sklearn.ensemble import RandomForestClassifier",
    ),
    (
        "RandomForestRegressor",
        "from sklearn.ensemble import RandomForestRegressor",
    ),
    (
        "GradientBoostingClassifier",
        "from sklearn.ensemble import GradientBoostingClassifier",
    ),
    (
        "GradientBoostingRegressor",
        "from sklearn.ensemble import GradientBoostingRegressor",
    ),
    (
        "HistGradientBoostingClassifier",
        "from sklearn.ensemble import HistGradientBoostingClassifier",
    ),
    (
        "HistGradientBoostingRegressor",
        "from sklearn.ensemble import HistGradientBoostingRegressor",
    ),
    (
        "DecisionTreeClassifier",
        "from sklearn.tree import DecisionTreeClassifier",
    ),
    (
        "TfidfVectorizer",
        "from sklearn.feature_extraction.text import TfidfVectorizer",
    ),
    (
        "accuracy_score",
        "from sklearn.metrics import accuracy_score",
    ),
    ("roc_auc_score", "from sklearn.metrics import roc_auc_score"),
    ("f1_score", "from sklearn.metrics import f1_score"),
    ("log_loss", "from sklearn.metrics import log_loss"),
    (
        "mean_squared_error",
        "from sklearn.metrics import mean_squared_error",
    ),
    (
        "mean_absolute_error",
        "from sklearn.metrics import mean_absolute_error",
    ),
];

/// The hints for a debug of `parent`, in the order the model should read them: the final exception's
/// meaning first, then what else the output and the submission check show. `starting_script` is the
/// draft prompt's script for this task, where one fits: a name it defines that the parent lost is
/// quoted with its line.
pub(crate) fn debug_hints(
    parent: &NodeView,
    task: &TaskBrief,
    starting_script: Option<&str>,
) -> Vec<String> {
    let (code, output) = (parent.code.as_str(), parent.output.as_str());
    let data = Data::of(task);
    let mut hints = Vec::new();
    if let Some((kind, message)) = final_exception(output) {
        let hint = match kind {
            "KeyError" => data
                .as_ref()
                .and_then(|data| missing_columns(&message, data)),
            "NameError" => undefined_name(&message, code, output, starting_script),
            "ModuleNotFoundError" => missing_module(&message, task),
            "ImportError" if message.contains("Use pip") => {
                Some(missing_optional_package(&message))
            }
            "AttributeError" => removed_attribute(&message),
            "ValueError" | "TypeError" if message.contains("could not convert string to float") => {
                data.as_ref()
                    .map(|data| text_reached_a_model(&message, data))
            }
            "TypeError" if message.contains("got an unexpected keyword argument") => {
                unexpected_argument(&message)
            }
            "TypeError" if message.contains("Cannot perform reduction") => {
                data.as_ref().map(whole_table_reduction)
            }
            "ValueError" if message.contains("NaN") => data.as_ref().map(missing_values),
            "ValueError" if message.starts_with("Length of values") => data
                .as_ref()
                .and_then(|data| length_mismatch(&message, data)),
            _ => None,
        };
        hints.extend(hint);
    }
    let rows_missing = parent
        .validation_message
        .as_deref()
        .is_some_and(|message| message.contains("rows, expected"));
    if rows_missing && mentions(code, "dropna") {
        hints.push(
            "The submission needs a prediction for every row of test.csv, and `dropna` removes rows: \
             never drop test rows; fill their missing values instead \
             (`df[column] = df[column].fillna(df[column].median())`)."
                .to_string(),
        );
    }
    if output.contains("ChainedAssignmentError") {
        hints.push(
            "pandas here uses copy-on-write: an in-place method on a column, such as \
             `df[column].fillna(value, inplace=True)`, leaves `df` unchanged (the output's \
             ChainedAssignmentError); assign instead: `df[column] = df[column].fillna(value)`."
                .to_string(),
        );
    }
    hints
}

/// The final exception of a traceback: its class name without the module path, and its message.
fn final_exception(output: &str) -> Option<(&str, String)> {
    output.lines().rev().find_map(|line| {
        let (name, message) = line.split_once(": ")?;
        let class = name.rsplit('.').next()?;
        let is_exception_line = !name.is_empty()
            && name
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "._".contains(character))
            && (class.ends_with("Error") || class.ends_with("Exception"));
        is_exception_line.then(|| (class, message.trim().to_string()))
    })
}

/// The strings a Python message quotes with single quotes, without pandas' `dtype='object'`.
fn quoted(message: &str) -> Vec<String> {
    let message = message.replace("dtype='object'", "");
    message
        .split('\'')
        .skip(1)
        .step_by(2)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// What the hints need to know of the data: the columns of each file and their cells.
struct Data<'a> {
    train: &'a CsvTable,
    test: Option<&'a CsvTable>,
    /// The id and target columns, which are not features.
    not_features: Vec<&'a str>,
}

impl<'a> Data<'a> {
    fn of(task: &'a TaskBrief) -> Option<Data<'a>> {
        let mut not_features = vec![task.id_column.as_str()];
        not_features.extend(task.target_columns.iter().map(String::as_str));
        Some(Data {
            train: task.train_sample.as_ref()?,
            test: task.test_sample.as_ref(),
            not_features,
        })
    }

    fn in_train(&self, column: &str) -> bool {
        self.train.headers.iter().any(|header| header == column)
    }

    fn in_test(&self, column: &str) -> bool {
        self.test
            .is_some_and(|test| test.headers.iter().any(|header| header == column))
    }

    /// "train.csv has exactly the columns …; test.csv has …"
    fn columns_sentence(&self) -> String {
        let mut sentence = format!(
            "train.csv has exactly the columns {}",
            listed(&self.train.headers)
        );
        if let Some(test) = self.test {
            sentence.push_str(&format!("; test.csv has {}", listed(&test.headers)));
        }
        sentence + "."
    }

    /// Each file with its cells of `column`.
    fn cells(&self, column: &str) -> Vec<(&'a str, Vec<&'a str>)> {
        [
            Some(("train.csv", self.train)),
            self.test.map(|test| ("test.csv", test)),
        ]
        .into_iter()
        .flatten()
        .filter_map(|(file, table)| {
            let index = table.headers.iter().position(|header| header == column)?;
            let cells = table.rows.iter().map(|row| row[index].as_str()).collect();
            Some((file, cells))
        })
        .collect()
    }

    /// The feature columns with a cell that is not a number.
    fn text_columns(&self) -> Vec<&'a str> {
        self.train
            .headers
            .iter()
            .map(String::as_str)
            .filter(|column| !self.not_features.contains(column))
            .filter(|column| {
                self.cells(column).iter().any(|(_, cells)| {
                    cells
                        .iter()
                        .any(|cell| !is_missing_cell(cell) && !parses_as_number(cell))
                })
            })
            .collect()
    }
}

/// `KeyError: 'Fare'`, `KeyError: ['Embarked', 'Fare']`, `KeyError: "['Survived'] not found in axis"`.
fn missing_columns(message: &str, data: &Data<'_>) -> Option<String> {
    let names = quoted(message);
    if names.is_empty() {
        return None;
    }
    let absent: Vec<&String> = names
        .iter()
        .filter(|name| !data.in_train(name) && !data.in_test(name))
        .collect();
    let train_only: Vec<&String> = names
        .iter()
        .filter(|name| data.in_train(name) && data.test.is_some() && !data.in_test(name))
        .collect();
    let mut sentences = Vec::new();
    if !absent.is_empty() {
        sentences.push(format!(
            "{} {} of train.csv or test.csv: this data set differs from other versions you may \
             know, so remove every use of {}.",
            listed(&absent),
            match absent.len() {
                1 => "is not a column",
                _ => "are not columns",
            },
            them(absent.len()),
        ));
    }
    if !train_only.is_empty() {
        sentences.push(format!(
            "{} {} in train.csv only: test.csv has no such column, so do not select, drop or fill {} \
             on the test data.",
            listed(&train_only),
            are(train_only.len()),
            them(train_only.len()),
        ));
    }
    if sentences.is_empty() {
        sentences.push(format!(
            "{} {} in the data files, so the script removed or renamed {} before the failing line.",
            listed(&names),
            are(names.len()),
            them(names.len()),
        ));
    }
    sentences.push(data.columns_sentence());
    Some(sentences.join(" "))
}

/// `NameError: name 'pd' is not defined`.
fn undefined_name(
    message: &str,
    code: &str,
    output: &str,
    starting_script: Option<&str>,
) -> Option<String> {
    let name = quoted(message).into_iter().next()?;
    if let Some((_, import)) = IMPORTS.iter().find(|(known, _)| *known == name) {
        // Python stops at the first; a small model then fixes one import per debug.
        let others: Vec<(&str, &str)> = unimported(code)
            .into_iter()
            .filter(|(other, _)| *other != name)
            .collect();
        if others.is_empty() {
            return Some(format!(
                "`{name}` is used but never imported: add `{import}` at the top of the script."
            ));
        }
        let names: Vec<&str> = others.iter().map(|(other, _)| *other).collect();
        let lines: Vec<&str> = std::iter::once(*import)
            .chain(others.iter().map(|(_, line)| *line))
            .collect();
        return Some(format!(
            "`{name}` is used but never imported, and so {} {}: add these lines at the top of the \
             script: {}.",
            are(names.len()),
            listed(&names),
            listed(&lines)
        ));
    }
    let whole_script =
        "Nothing carries over from earlier solutions: reply with the whole script, every \
                        import and definition included, not only the lines that change.";
    let line = failing_line(output);
    let defined_before = line.is_some_and(|line| {
        code.lines()
            .take(line.saturating_sub(1))
            .any(|text| mentions(text, &name))
    });
    // Small models rewrite the starting script's preparation and lose the table it built.
    let starting_definition = starting_script.and_then(|script| {
        script
            .lines()
            .find(|text| text.starts_with(&format!("{name} = ")))
    });
    Some(match (line, defined_before, starting_definition) {
        (Some(line), false, Some(definition)) => format!(
            "`{name}` is used on line {line}, and no line before it defines `{name}`. The starting \
             script defined it with `{definition}`: put that line back before line {line} (after \
             the lines it needs), or create `{name}` another way. {whole_script}"
        ),
        (Some(line), false, None) => format!(
            "`{name}` is used on line {line}, and no line before it defines `{name}`: create it \
             before line {line}, or write that part without it. {whole_script}"
        ),
        (Some(_), true, _) | (None, _, _) => {
            format!("`{name}` is used before anything in the script assigns it. {whole_script}")
        }
    })
}

/// The common names (`IMPORTS`) that a line of code outside comments uses and no import line names, with
/// their import lines, in the table's order.
fn unimported(code: &str) -> Vec<(&'static str, &'static str)> {
    let (imports, uses): (Vec<&str>, Vec<&str>) = code
        .lines()
        .map(str::trim_start)
        .filter(|line| !line.starts_with('#'))
        .partition(|line| line.starts_with("import ") || line.starts_with("from "));
    IMPORTS
        .iter()
        .filter(|(name, _)| {
            uses.iter().any(|line| mentions(line, name))
                && !imports.iter().any(|line| mentions(line, name))
        })
        .copied()
        .collect()
}

/// The script's line the last traceback stopped at: its innermost frame in the file of its outermost
/// frame, which is the script itself.
fn failing_line(output: &str) -> Option<usize> {
    let last_traceback = &output[output.rfind("Traceback (most recent call last):")?..];
    let frames: Vec<(&str, usize)> = last_traceback
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("File \"")?;
            let (file, rest) = rest.split_once("\", line ")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            Some((file, digits.parse().ok()?))
        })
        .collect();
    let (script, _) = frames.first()?;
    frames
        .iter()
        .rev()
        .find(|(file, _)| file == script)
        .map(|(_, line)| *line)
}

/// Whether `text` holds `name` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let is_identifier = |character: char| character.is_alphanumeric() || character == '_';
    text.match_indices(name).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + name.len()..].chars().next();
        !before.is_some_and(is_identifier) && !after.is_some_and(is_identifier)
    })
}

/// Keyword arguments that older releases took and the installed ones refuse, as (the callable's name
/// in the message, the argument, what to write instead): what a model trained on older code writes.
const RENAMED_ARGUMENTS: &[(&str, &str, &str)] = &[
    ("OneHotEncoder", "sparse", "`sparse_output=False`"),
    (
        "mean_squared_error",
        "squared",
        "`root_mean_squared_error` from sklearn.metrics for the RMSE",
    ),
    (
        "LGBM",
        "early_stopping_rounds",
        "`callbacks=[lightgbm.early_stopping(rounds)]` in `fit`",
    ),
    (
        "LGBM",
        "verbose_eval",
        "`callbacks=[lightgbm.log_evaluation(0)]` in `fit`",
    ),
    (
        "XGB",
        "early_stopping_rounds",
        "`early_stopping_rounds=` in the model's constructor, not in `fit`",
    ),
    ("XGB", "use_label_encoder", "nothing: leave it out"),
];

/// `TypeError: OneHotEncoder.__init__() got an unexpected keyword argument 'sparse'`.
fn unexpected_argument(message: &str) -> Option<String> {
    let argument = quoted(message).into_iter().next()?;
    let callable = message.split("() got").next()?.trim();
    let instead = RENAMED_ARGUMENTS
        .iter()
        .find(|(name, renamed, _)| callable.contains(name) && *renamed == argument)
        .map(|(_, _, instead)| *instead);
    Some(match instead {
        Some(instead) => format!(
            "`{callable}` of the installed version takes no `{argument}` argument (older releases \
             did): write {instead}."
        ),
        None => format!(
            "`{callable}` of the installed version takes no `{argument}` argument (older releases may \
             have): leave it out or use the name the installed version documents."
        ),
    })
}

/// Attributes a type lacks that code written for older releases, or for another type, reaches for:
/// (the type in the message, the attribute, what to write instead).
const MISPLACED_ATTRIBUTES: &[(&str, &str, &str)] = &[
    (
        "Categorical",
        "cat",
        "`pd.Categorical(values).codes`, or `series.astype('category').cat.codes` on a Series",
    ),
    ("DataFrame", "append", "`pd.concat([frame, other])`"),
    ("Series", "append", "`pd.concat([series, other])`"),
    ("DataFrame", "iteritems", "`.items()`"),
    ("Series", "iteritems", "`.items()`"),
    (
        "numpy.ndarray",
        "values",
        "the array itself: it already holds the values",
    ),
    ("DataFrame", "reshape", "`frame.to_numpy().reshape(...)`"),
    ("Series", "reshape", "`series.to_numpy().reshape(...)`"),
];

/// `AttributeError: 'Categorical' object has no attribute 'cat'`.
fn removed_attribute(message: &str) -> Option<String> {
    let quoted = quoted(message);
    let [owner, attribute] = quoted.as_slice() else {
        return None;
    };
    let (_, _, instead) =
        MISPLACED_ATTRIBUTES
            .iter()
            .find(|(known_owner, known_attribute, _)| {
                *known_owner == owner && *known_attribute == attribute
            })?;
    Some(format!(
        "A `{owner}` has no `.{attribute}` in the installed versions: write {instead}."
    ))
}

/// `ModuleNotFoundError: No module named 'catboost'`.
fn missing_module(message: &str, task: &TaskBrief) -> Option<String> {
    let module = quoted(message).into_iter().next()?;
    Some(format!(
        "`{module}` is not installed and nothing can be installed (there is no network); use the \
         installed packages instead: {}.",
        listed(&task.installed_packages)
    ))
}

/// A library's optional dependency, as pandas names it: `Missing optional dependency 'tables'.  Use
/// pip or conda to install tables.` (pandas 2), ``ImportError: `Import pytables` failed.  Use pip, …``
/// (pandas 3). The 1.5B model saved its tables with `to_hdf` into `./input/` three debugs running.
fn missing_optional_package(message: &str) -> String {
    let package = quoted(message).into_iter().next().or_else(|| {
        let rest = message.split_once("`Import ")?.1;
        Some(rest.split_once('`')?.0.to_string())
    });
    let package = package.map_or_else(|| "a package".to_string(), |name| format!("`{name}`"));
    format!(
        "The call that raised this needs {package}, which is not installed and cannot be (there is \
         no network): do without that call. Keep intermediate tables in memory rather than saving \
         and reloading them (`to_hdf`, `read_hdf`), or write them as CSV under ./working (./input is \
         read-only)."
    )
}

/// `ValueError: could not convert string to float: 'Harris, Mrs Henry'`.
fn text_reached_a_model(message: &str, data: &Data<'_>) -> String {
    let value = quoted(message).into_iter().next();
    let text_columns = data.text_columns();
    let source = value.as_deref().and_then(|value| {
        text_columns.iter().find(|column| {
            data.cells(column)
                .iter()
                .any(|(_, cells)| cells.contains(&value))
        })
    });
    let mut sentences = Vec::new();
    if let (Some(value), Some(column)) = (&value, source) {
        sentences.push(format!(
            "'{value}' is a value of the text column `{column}`."
        ));
    }
    sentences.push(format!(
        "A model needs numbers: before fitting, encode the text columns {} as numbers (for example \
         with `pd.get_dummies` on train and test together, or an `OrdinalEncoder`) or leave them out.",
        listed(&text_columns)
    ));
    // The built-in coder's own judgement of a column: free text or an identifier is different on
    // almost every row.
    let nearly_unique: Vec<&str> = text_columns
        .iter()
        .copied()
        .filter(|column| {
            let cells = data
                .cells(column)
                .into_iter()
                .next()
                .map(|(_, cells)| cells)
                .unwrap_or_default();
            match classify(&cells) {
                Ok(ColumnKind::Text | ColumnKind::Identifier) => true,
                Ok(
                    ColumnKind::Numeric
                    | ColumnKind::Categorical
                    | ColumnKind::Date
                    | ColumnKind::Constant
                    | ColumnKind::Grouping,
                )
                | Err(_) => false,
            }
        })
        .collect();
    if !nearly_unique.is_empty() {
        sentences.push(format!(
            "{} {} different on almost every row: one-hot encoding {} is useless, so drop {} or \
             extract a part that repeats (such as a title or a word).",
            listed(&nearly_unique),
            are(nearly_unique.len()),
            them(nearly_unique.len()),
            them(nearly_unique.len()),
        ));
    }
    sentences.join(" ")
}

/// `TypeError: Cannot perform reduction 'mean' with string dtype`: `df.fillna(df.mean())` on a table
/// with text columns.
fn whole_table_reduction(data: &Data<'_>) -> String {
    format!(
        "A mean or median of the whole table reached its text columns {}: compute it on the numeric \
         columns only (`df.mean(numeric_only=True)`), or fill column by column: \
         `df[column] = df[column].fillna(df[column].median())`.",
        listed(&data.text_columns())
    )
}

/// `ValueError: Length of values (210) does not match length of index (263)`: predictions of the
/// validation rows put into the test table.
fn length_mismatch(message: &str, data: &Data<'_>) -> Option<String> {
    let numbers: Vec<usize> = message
        .split(|character: char| !character.is_ascii_digit())
        .filter_map(|digits| digits.parse().ok())
        .collect();
    let [values, index] = numbers[..] else {
        return None;
    };
    let test_rows = data.test?.rows.len();
    (index == test_rows).then(|| {
        format!(
            "test.csv has {test_rows} rows and the submission needs one prediction for each, but the \
             script assigned {values} values (predictions of the validation rows?): predict on the \
             test data's features, prepared exactly as the training features were."
        )
    })
}

/// `ValueError: Input X contains NaN.`
fn missing_values(data: &Data<'_>) -> String {
    let with_missing: Vec<String> = data
        .train
        .headers
        .iter()
        .filter(|column| !data.not_features.contains(&column.as_str()))
        .filter_map(|column| {
            let files: Vec<&str> = data
                .cells(column)
                .into_iter()
                .filter(|(_, cells)| cells.iter().any(|cell| is_missing_cell(cell)))
                .map(|(file, _)| file)
                .collect();
            (!files.is_empty()).then(|| format!("`{column}` (in {})", files.join(" and ")))
        })
        .collect();
    match with_missing.is_empty() {
        true => "No column of train.csv or test.csv has missing values, so the script made them \
                 (for example `map` with a dictionary that misses some values, or a merge): fill \
                 them before fitting."
            .to_string(),
        false => format!(
            "These columns have missing values: {}. Fill them in both files before fitting \
             (`df[column] = df[column].fillna(df[column].median())` for numbers, a constant such \
             as \"missing\" for text), or use a model that accepts missing values, such as \
             `HistGradientBoostingClassifier` or `HistGradientBoostingRegressor`.",
            with_missing.join(", ")
        ),
    }
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
fn listed(names: &[impl AsRef<str>]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn are(count: usize) -> &'static str {
    if count == 1 {
        "is"
    } else {
        "are"
    }
}

fn them(count: usize) -> &'static str {
    if count == 1 {
        "it"
    } else {
        "them"
    }
}

#[cfg(test)]
mod tests;
