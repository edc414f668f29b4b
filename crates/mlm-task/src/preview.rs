//! The data preview that prompts show to a coder, after AIDE's and ML-Master's `data_preview.py`: the file
//! tree of a competition's public data with sizes, then a summary of each table (its row and column
//! counts and, per column, the dtype pandas would infer, the missing count and the range or a few example
//! values) and the schema of each JSON file.
//!
//! The text is deterministic (the same directory gives the same bytes) and bounded: it aims to stay within
//! [`PREVIEW_CHARACTER_LIMIT`] characters, first by dropping detail and at last by cutting it short with a
//! marker line. Files are read streaming, with bounded state per column or key, so a gigabyte CSV or JSON
//! file costs time but not memory.

mod csv_summary;
mod distinct;
mod json_schema;
mod tree;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{Error, Result};
use distinct::DistinctCounter;

/// The characters a preview aims to stay within (ML-Master's limit).
pub const PREVIEW_CHARACTER_LIMIT: usize = 6_000;

/// Data files described after the tree, at most, in tree order; the tree still lists the others.
const MAX_DESCRIBED_FILES: usize = 16;
/// Columns per table described on lines of their own at the most detailed level; only these are tracked.
const MAX_DETAILED_COLUMNS: usize = 40;
/// Characters kept of an example value; longer ones end in `…`.
const MAX_VALUE_CHARACTERS: usize = 40;
/// Characters kept of a column name or JSON key, generous because a coder must spell them exactly.
const MAX_NAME_CHARACTERS: usize = 100;

/// MLE-bench keeps some files in Git LFS; a clone without `git lfs pull` holds these pointers instead.
const GIT_LFS_POINTER_PREFIX: &[u8] = b"version https://git-lfs.github.com/spec/";

/// How much one rendering shows; [`DETAIL_LADDER`] goes from the most to the least.
#[derive(Debug, Clone, Copy)]
struct Detail {
    examples: Examples,
    /// Columns per table described on a line of their own; the others are only named.
    detailed_columns: usize,
    /// Lines of schema per JSON file.
    json_lines: usize,
}

/// Whether text columns show example values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Examples {
    Shown,
    Hidden,
}

/// The renderings tried in turn until one fits the limit; the last one is cut short if it does not.
const DETAIL_LADDER: [Detail; 4] = [
    Detail {
        examples: Examples::Shown,
        detailed_columns: MAX_DETAILED_COLUMNS,
        json_lines: 40,
    },
    Detail {
        examples: Examples::Hidden,
        detailed_columns: MAX_DETAILED_COLUMNS,
        json_lines: 40,
    },
    Detail {
        examples: Examples::Hidden,
        detailed_columns: 10,
        json_lines: 12,
    },
    Detail {
        examples: Examples::Hidden,
        detailed_columns: 0,
        json_lines: 4,
    },
];

/// Describes the directory tree under `public_dir` for a coder: the file tree with sizes, then for each CSV
/// its row and column counts and per column the dtype, the missing count and a few example values (or the
/// range for numbers), and for each JSON file a schema preview. Deterministic: same directory →
/// byte-identical text.
///
/// A file that cannot be read or parsed is noted as `(unreadable: …)` and does not stop the preview; a
/// missing or unreadable `public_dir` is an error naming it.
pub fn data_preview(public_dir: &Path) -> Result<String> {
    match std::fs::metadata(public_dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            return Err(Error::invalid(
                public_dir,
                "the public data path is not a directory",
                "point the task at the folder that holds the competition's train and test files",
            ))
        }
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::invalid(
                public_dir,
                "the public data directory does not exist",
                "prepare the competition's data first (for MLE-bench: `mlebench prepare -c <competition>`)",
            ))
        }
        Err(source) => return Err(Error::io(public_dir, source)),
    }
    let tree = tree::file_tree(public_dir)?;
    let data_files: Vec<(&String, DataKind)> = tree
        .shown_files
        .iter()
        .filter_map(|name| Some((name, data_kind(name)?)))
        .collect();
    let described: Vec<DescribedFile> = data_files
        .iter()
        .take(MAX_DESCRIBED_FILES)
        .map(|(name, kind)| describe_file(public_dir, name, *kind))
        .collect();
    let undescribed = data_files.len().saturating_sub(described.len());

    let mut text = String::new();
    for detail in DETAIL_LADDER {
        text = render(&tree.text, &described, undescribed, detail);
        if text.chars().count() <= PREVIEW_CHARACTER_LIMIT {
            return Ok(text);
        }
    }
    Ok(truncate(&text, PREVIEW_CHARACTER_LIMIT))
}

/// One data file's summary, read once and rendered at each level of detail.
struct DescribedFile {
    /// The path relative to the public directory, with `/` separators.
    name: String,
    description: Description,
}

enum Description {
    Table(csv_summary::CsvSummary),
    Json(json_schema::JsonSummary),
    Unreadable(String),
}

/// The files a preview looks inside; anything else is only listed in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    Table { delimiter: u8 },
    Json,
}

fn data_kind(name: &str) -> Option<DataKind> {
    let extension = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "csv" => Some(DataKind::Table { delimiter: b',' }),
        "tsv" => Some(DataKind::Table { delimiter: b'\t' }),
        "json" | "jsonl" | "ndjson" => Some(DataKind::Json),
        _ => None,
    }
}

fn describe_file(public_dir: &Path, name: &str, kind: DataKind) -> DescribedFile {
    let path = public_dir.join(name);
    let description = match kind {
        DataKind::Table { delimiter } => {
            csv_summary::summarise(&path, delimiter).map(Description::Table)
        }
        DataKind::Json => json_schema::summarise(&path).map(Description::Json),
    };
    DescribedFile {
        name: name.to_string(),
        description: description
            .unwrap_or_else(|error| Description::Unreadable(unreadable_reason(error))),
    }
}

/// What went wrong with one file, without its absolute path (the preview names it relative to the root).
fn unreadable_reason(error: Error) -> String {
    match error {
        Error::InvalidTask { problem, .. } => problem,
        Error::Io { source, .. } => source.to_string(),
        Error::Csv { source, .. } => source.to_string(),
    }
}

fn render(tree: &str, files: &[DescribedFile], undescribed: usize, detail: Detail) -> String {
    let mut sections = vec![format!("```\n{tree}\n```")];
    for file in files {
        sections.push(match &file.description {
            Description::Table(summary) => summary.render(&file.name, detail),
            Description::Json(summary) => summary.render(&file.name, detail.json_lines),
            Description::Unreadable(reason) => format!("-> {} (unreadable: {reason})", file.name),
        });
    }
    if undescribed > 0 {
        sections.push(format!(
            "… and {} not described",
            counted(undescribed as u64, "other data file", "other data files")
        ));
    }
    sections.join("\n\n")
}

/// Cuts `text` at the last line break within `limit` characters (or at the limit, for one long line) and
/// says so on a last line.
fn truncate(text: &str, limit: usize) -> String {
    let cut = text
        .char_indices()
        .nth(limit)
        .map_or(text.len(), |(index, _)| index);
    let kept = text.get(..cut).unwrap_or(text);
    let kept = kept
        .rfind('\n')
        .map_or(kept, |newline| kept.get(..newline).unwrap_or(kept));
    format!("{kept}\n… (preview truncated at {limit} characters)")
}

/// `1 row`, `2 rows`.
fn counted(count: u64, singular: &str, plural: &str) -> String {
    if count == 1 {
        format!("1 {singular}")
    } else {
        format!("{count} {plural}")
    }
}

/// The first `limit` characters of `text`, with `…` when something was cut.
fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((index, _)) => format!("{}…", text.get(..index).unwrap_or(text)),
        None => text.to_string(),
    }
}

/// A name as it may appear on one line of the preview: control characters (line breaks, tabs) become
/// spaces and very long names are shortened.
fn one_line_name(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect();
    shorten(&cleaned, MAX_NAME_CHARACTERS)
}

/// Grows the range `(lowest, highest)` to take in `value`.
fn widen<T: PartialOrd + Copy>(range: &mut Option<(T, T)>, value: T) {
    *range = Some(match *range {
        None => (value, value),
        Some((lowest, highest)) => (
            if value < lowest { value } else { lowest },
            if value > highest { value } else { highest },
        ),
    });
}

/// Fails for a Git LFS pointer, which would otherwise read as a tiny, misleading table or invalid JSON.
fn open_data_file(path: &Path) -> Result<BufReader<File>> {
    let file = File::open(path).map_err(|source| Error::io(path, source))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let start = reader
        .fill_buf()
        .map_err(|source| Error::io(path, source))?;
    if start.starts_with(GIT_LFS_POINTER_PREFIX) {
        return Err(Error::invalid(
            path,
            "this is a Git LFS pointer, not the file itself",
            "fetch the real file with `git lfs pull` in the repository it came from",
        ));
    }
    Ok(reader)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, name: &str, contents: &str) {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, contents).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-public");
        let error = data_preview(&missing).unwrap_err().to_string();
        assert!(error.contains("no-such-public"), "{error}");
        assert!(error.contains("does not exist"), "{error}");
    }

    #[test]
    fn a_file_instead_of_a_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "train.csv", "a\n1\n");
        let error = data_preview(&dir.path().join("train.csv"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a directory"), "{error}");
    }

    #[test]
    fn two_previews_of_the_same_directory_are_identical() {
        let dir = tempfile::tempdir().unwrap();
        for index in 0..40 {
            write(dir.path(), &format!("images/{index:03}.png"), "png");
        }
        write(
            dir.path(),
            "train.csv",
            "id,label,text\n1,0,a\n2,1,b\n3,1,\n",
        );
        write(
            dir.path(),
            "meta.json",
            r#"{"classes": ["a", "b"], "size": {"w": 1, "h": 2}}"#,
        );
        let first = data_preview(dir.path()).unwrap();
        let second = data_preview(dir.path()).unwrap();
        assert_eq!(first, second);
        assert!(
            first.contains("-> train.csv has 3 rows and 3 columns."),
            "{first}"
        );
        assert!(first.contains("-> meta.json is JSON: object"), "{first}");
    }

    #[test]
    fn a_ragged_csv_is_noted_and_the_preview_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.csv", "id,label\n1,a\n2,b,extra\n");
        write(dir.path(), "good.csv", "id\n1\n");
        let preview = data_preview(dir.path()).unwrap();
        assert!(
            preview.contains("-> bad.csv (unreadable: CSV error: record 2"),
            "{preview}"
        );
        assert!(
            preview.contains("-> good.csv has 1 row and 1 column."),
            "{preview}"
        );
        assert!(
            !preview.contains(&dir.path().display().to_string()),
            "{preview}"
        );
    }

    #[test]
    fn a_git_lfs_pointer_is_noted_as_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train.csv",
            "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
        );
        let preview = data_preview(dir.path()).unwrap();
        assert!(
            preview.contains("(unreadable: this is a Git LFS pointer"),
            "{preview}"
        );
    }

    #[test]
    fn a_wide_table_falls_back_to_less_detail_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let header: Vec<String> = (0..200)
            .map(|index| format!("feature_with_a_long_name_{index}"))
            .collect();
        let row: Vec<String> = (0..200)
            .map(|index| format!("value {index} with some words"))
            .collect();
        let mut contents = format!("{}\n", header.join(","));
        for _ in 0..5 {
            contents.push_str(&format!("{}\n", row.join(",")));
        }
        for name in ["train.csv", "test.csv", "extra.csv"] {
            write(dir.path(), name, &contents);
        }
        let preview = data_preview(dir.path()).unwrap();
        assert!(
            preview.chars().count() <= PREVIEW_CHARACTER_LIMIT,
            "{preview}"
        );
        assert!(!preview.contains("e.g."), "examples go first: {preview}");
        assert!(
            preview.contains("… and 190 more columns: feature_with_a_long_name_10,"),
            "{preview}"
        );
    }

    #[test]
    fn a_preview_that_cannot_fit_is_cut_at_the_limit_with_a_marker() {
        let dir = tempfile::tempdir().unwrap();
        let header: Vec<String> = (0..20)
            .map(|index| format!("{}_{index}", "long_column_name".repeat(5)))
            .collect();
        for index in 0..MAX_DESCRIBED_FILES {
            write(
                dir.path(),
                &format!("table_{index:02}.csv"),
                &format!("{}\n", header.join(",")),
            );
        }
        let preview = data_preview(dir.path()).unwrap();
        let marker = "\n… (preview truncated at 6000 characters)";
        assert!(preview.ends_with(marker), "{preview}");
        assert!(preview.chars().count() <= PREVIEW_CHARACTER_LIMIT + marker.chars().count());
    }

    #[test]
    fn truncation_never_exceeds_the_limit_plus_the_marker() {
        let marker_length = "\n… (preview truncated at 10 characters)".chars().count();
        for text in [
            "ééééééééééééééééééééé",
            "ab\ncd\nef\ngh\nij\nkl",
            "short",
            "a\nééééééééééééé",
        ] {
            let cut = truncate(text, 10);
            assert!(cut.chars().count() <= 10 + marker_length, "{cut}");
            assert!(
                cut.ends_with("… (preview truncated at 10 characters)"),
                "{cut}"
            );
        }
        assert_eq!(
            truncate("ab\ncd\nef\ngh", 7),
            "ab\ncd\n… (preview truncated at 7 characters)"
        );
    }

    #[test]
    fn shorten_and_names_stay_on_one_line() {
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(one_line_name("two\nlines\there"), "two lines here");
    }
}
