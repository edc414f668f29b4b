//! Checks that a journal is whole before anyone resumes from it. A damaged journal must be refused, never
//! read as a shorter run: a write-ahead log cut short reads back as a journal without its last nodes, and a
//! resume would then renumber, overwrite and delete the node directories those nodes left behind.
//!
//! Three checks: the main file is a SQLite file no shorter than its own header says (a truncated file is
//! named as truncated, not as an empty journal of schema version 0); SQLite's `quick_check` finds no
//! damage; and no node directory is further ahead of the journal than a crash can leave it.

use std::io::Read;
use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The first bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The length of SQLite's database header.
const HEADER_BYTES: usize = 100;

/// Refuses a main file that is not a SQLite database or is shorter than its header says.
pub(crate) fn check_main_file(path: &Path) -> Result<()> {
    let damaged = |problem: String| Error::Damaged {
        path: path.to_path_buf(),
        problem,
    };
    let io = |source: std::io::Error| damaged(format!("cannot read it: {source}"));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut header = Vec::with_capacity(HEADER_BYTES);
    file.by_ref()
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut header)
        .map_err(io)?;
    if header.len() < HEADER_BYTES {
        return Err(damaged(format!(
            "the file is truncated: it holds {size} bytes, fewer than SQLite's {HEADER_BYTES}-byte header"
        )));
    }
    if !header.starts_with(SQLITE_MAGIC) {
        return Err(damaged(
            "the file is not a SQLite database (its header is overwritten or it is another file)"
                .to_string(),
        ));
    }
    let word = |offset: usize| {
        u32::from_be_bytes([
            header[offset],
            header[offset + 1],
            header[offset + 2],
            header[offset + 3],
        ])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    let pages = u64::from(word(28));
    // The page count is only valid when the change counter matches its "version valid for" copy.
    let pages_are_valid = word(24) == word(92) && pages > 0;
    if pages_are_valid && size < pages * page_size {
        return Err(damaged(format!(
            "the file is truncated: it holds {size} bytes, but its header records {pages} pages of {page_size} bytes ({} bytes)",
            pages * page_size
        )));
    }
    Ok(())
}

/// SQLite's own check of every page and index; anything but `ok` is damage.
pub(crate) fn check_database(connection: &Connection, path: &Path) -> Result<()> {
    let database = |source| Error::Database {
        path: path.to_path_buf(),
        source,
    };
    let mut statement = connection
        .prepare("PRAGMA quick_check(5)")
        .map_err(database)?;
    let findings = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(database)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(|source| match source {
            // A corrupt page can stop the check itself; that is the same verdict.
            rusqlite::Error::SqliteFailure(failure, message)
                if failure.code == rusqlite::ErrorCode::DatabaseCorrupt =>
            {
                Error::Damaged {
                    path: path.to_path_buf(),
                    problem: message.unwrap_or_else(|| failure.to_string()),
                }
            }
            other => database(other),
        })?;
    match findings.as_slice() {
        [only] if only == "ok" => Ok(()),
        _ => Err(Error::Damaged {
            path: path.to_path_buf(),
            problem: format!("SQLite's quick_check found: {}", findings.join("; ")),
        }),
    }
}

/// Refuses a journal that lost nodes whose directories exist. The engine moves a finished attempt into
/// `nodes/<id>` and then records the node, so a crash between the two leaves exactly one directory,
/// `nodes/<count>`, ahead of the journal (the engine discards it); anything further ahead was journaled
/// once and lost since.
pub(crate) fn check_node_directories(journal: &Path, journaled: u32) -> Result<()> {
    let nodes_dir = journal.parent().unwrap_or(Path::new(".")).join("nodes");
    let Ok(entries) = std::fs::read_dir(&nodes_dir) else {
        return Ok(());
    };
    let mut ahead: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&id| id >= journaled)
        .collect();
    ahead.sort_unstable();
    if ahead.is_empty() || ahead == [journaled] {
        return Ok(());
    }
    Err(Error::LostNodes {
        path: journal.to_path_buf(),
        journaled,
        nodes_dir,
        ahead,
    })
}
