//! A CSV file held in memory as text cells, the common currency of grading and previews. Cells stay
//! strings: what a cell means (a label, a probability, an id) is decided by whoever reads it.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// MLE-bench stores leaderboards with Git LFS; a clone without `git lfs pull` holds these pointers instead.
const GIT_LFS_POINTER_PREFIX: &[u8] = b"version https://git-lfs.github.com/spec/";

/// Cells that pandas' `read_csv` reads as missing by default (its `na_values`), exactly as written: the
/// one definition of a missing cell, for previews and for the built-in coder alike, since the scripts
/// read the files with pandas.
pub const MISSING_CELLS: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// Whether pandas reads `cell` as missing.
pub fn is_missing_cell(cell: &str) -> bool {
    MISSING_CELLS.contains(&cell)
}

/// A CSV file with a header row, every record as text cells.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// Where the table came from, for messages.
    pub path: PathBuf,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl CsvTable {
    /// Reads a CSV file from disk. A missing file, a ragged row or invalid UTF-8 is an error naming the file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::io(path, source))?;
        if bytes.starts_with(GIT_LFS_POINTER_PREFIX) {
            return Err(Error::invalid(
                path,
                "this is a Git LFS pointer, not the file itself",
                "fetch the real file with `git lfs pull` in the repository it came from",
            ));
        }
        Self::from_reader(path, bytes.as_slice())
    }

    /// Reads the header and the first `row_limit` records of a CSV file: what a coder judges a large
    /// file's columns by, without holding all of it.
    pub fn read_head(path: &Path, row_limit: usize) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| Error::io(path, source))?;
        Self::parse(path, std::io::BufReader::new(file), row_limit)
    }

    /// Parses CSV from any reader; `path` is only used to label errors.
    pub fn from_reader(path: &Path, reader: impl Read) -> Result<Self> {
        Self::parse(path, reader, usize::MAX)
    }

    fn parse(path: &Path, reader: impl Read, row_limit: usize) -> Result<Self> {
        let csv_error = |source| Error::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers: Vec<String> = reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(|header| header.trim_start_matches('\u{feff}').to_string())
            .collect();
        if headers.is_empty() || headers.iter().all(String::is_empty) {
            return Err(Error::invalid(
                path,
                "the file is empty or has no header row",
                "write a header row naming the columns, then one line per record",
            ));
        }
        let mut rows = Vec::new();
        for record in reader.records().take(row_limit) {
            let record = record.map_err(csv_error)?;
            rows.push(record.iter().map(str::to_string).collect());
        }
        Ok(CsvTable {
            path: path.to_path_buf(),
            headers,
            rows,
        })
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|header| header == name)
    }

    /// The cells of one column, top to bottom.
    pub fn column(&self, index: usize) -> impl Iterator<Item = &str> + '_ {
        self.rows
            .iter()
            .map(move |row| row.get(index).map_or("", String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers_and_rows_and_strips_a_byte_order_mark() {
        let text = "\u{feff}id,label\n1,a\n2,b\n";
        let table = CsvTable::from_reader(Path::new("x.csv"), text.as_bytes()).unwrap();
        assert_eq!(table.headers, vec!["id", "label"]);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.column(1).collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn a_ragged_row_is_an_error_naming_the_file() {
        let text = "id,label\n1,a,extra\n";
        let error = CsvTable::from_reader(Path::new("sub.csv"), text.as_bytes()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("sub.csv: not a readable CSV file"),
            "{error}"
        );
    }

    #[test]
    fn a_git_lfs_pointer_says_to_pull_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leaderboard.csv");
        std::fs::write(
            &path,
            "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
        )
        .unwrap();
        let error = CsvTable::read(&path).unwrap_err().to_string();
        assert!(error.contains("git lfs pull"), "{error}");
    }

    #[test]
    fn the_head_of_a_file_is_its_header_and_first_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.csv");
        std::fs::write(&path, "id,y\n1,a\n2,b\n3,c\n").unwrap();
        let head = CsvTable::read_head(&path, 2).unwrap();
        assert_eq!(head.headers, vec!["id", "y"]);
        assert_eq!(head.rows, vec![vec!["1", "a"], vec!["2", "b"]]);
    }

    #[test]
    fn missing_cells_are_the_ones_pandas_reads_as_missing_and_only_those() {
        for cell in ["", "NA", "nan", "NaN", "None", "null", "<NA>", "#N/A"] {
            assert!(is_missing_cell(cell), "{cell:?}");
        }
        for cell in ["NONE", "Nan", " ", "0", "missing", "-"] {
            assert!(!is_missing_cell(cell), "{cell:?}");
        }
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let error = CsvTable::from_reader(Path::new("empty.csv"), "".as_bytes()).unwrap_err();
        assert!(error.to_string().contains("empty"), "{error}");
    }
}
