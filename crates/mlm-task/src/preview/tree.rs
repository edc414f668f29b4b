//! The file tree at the top of a preview, after AIDE's `file_tree`: in each directory its files first, then
//! its subdirectories, each in name order, indented four spaces a level, every file with its size. A
//! directory with many files shows the first few and sums up the rest on one line, so that an image folder
//! of thousands of files costs two lines of text, and the walk stops at a depth and a line count.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::{counted, one_line_name};
use crate::error::{Error, Result};

/// Files listed per directory when it holds more than that many (AIDE's numbers).
const FILES_SHOWN: usize = 8;
/// Past this many files a directory is crowded and lists fewer of them.
const CROWDED_DIRECTORY_FILES: usize = 30;
const FILES_SHOWN_WHEN_CROWDED: usize = 4;
/// Subdirectories listed per directory; the others are counted.
const DIRECTORIES_SHOWN: usize = 8;
/// Directories this deep are named but not opened.
const MAX_DEPTH: usize = 6;
/// Lines of tree at most; the walk stops there.
const MAX_LINES: usize = 200;
/// Extensions named in the summary of the files not listed.
const EXTENSIONS_NAMED: usize = 3;
const INDENT: &str = "    ";

/// The rendered tree and the files it lists.
pub(super) struct FileTree {
    pub(super) text: String,
    /// The files listed in the tree (not those summed up), relative to the root with `/` separators, in the
    /// order shown.
    pub(super) shown_files: Vec<String>,
}

/// Walks the directory `root`; an unreadable root is an error, an unreadable subdirectory a note in the tree.
pub(super) fn file_tree(root: &Path) -> Result<FileTree> {
    let listing = Listing::read(root).map_err(|source| Error::io(root, source))?;
    let mut walk = Walk {
        root,
        lines: Vec::new(),
        shown_files: Vec::new(),
        cut: false,
    };
    walk.directory(&listing, "", 0);
    if walk.lines.is_empty() {
        walk.lines.push("(empty directory)".to_string());
    }
    Ok(FileTree {
        text: walk.lines.join("\n"),
        shown_files: walk.shown_files,
    })
}

/// A size in decimal units like Python's `humanize.naturalsize`: `512 B`, `12.3 kB`, `1.2 MB`.
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    // 999.95 kB would print as `1000.0 kB`; move up a unit instead.
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"EB"))
}

struct FileEntry {
    name: String,
    /// `None` when the file cannot be examined (a broken link).
    size: Option<u64>,
}

/// One directory's entries, each group in name order.
struct Listing {
    files: Vec<FileEntry>,
    directories: Vec<String>,
}

impl Listing {
    fn read(directory: &Path) -> std::io::Result<Self> {
        let mut files = Vec::new();
        let mut directories = Vec::new();
        for entry in fs::read_dir(directory)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // `fs::metadata` follows links, so a linked data folder reads like a real one.
            match fs::metadata(entry.path()) {
                Ok(metadata) if metadata.is_dir() => directories.push(name),
                Ok(metadata) => files.push(FileEntry {
                    name,
                    size: Some(metadata.len()),
                }),
                Err(_) => files.push(FileEntry { name, size: None }),
            }
        }
        files.sort_by(|left, right| left.name.cmp(&right.name));
        directories.sort();
        Ok(Listing { files, directories })
    }
}

struct Walk<'a> {
    root: &'a Path,
    lines: Vec<String>,
    shown_files: Vec<String>,
    /// Set once the tree reached [`MAX_LINES`]; nothing is added after that.
    cut: bool,
}

impl Walk<'_> {
    fn push(&mut self, depth: usize, text: String) {
        if self.cut {
            return;
        }
        if self.lines.len() >= MAX_LINES {
            self.cut = true;
            self.lines
                .push(format!("… (tree cut at {MAX_LINES} lines)"));
            return;
        }
        self.lines.push(format!("{}{text}", INDENT.repeat(depth)));
    }

    /// Lists `listing`, the directory at `prefix` (empty for the root, else ending in `/`).
    fn directory(&mut self, listing: &Listing, prefix: &str, depth: usize) {
        let files_shown = if listing.files.len() > CROWDED_DIRECTORY_FILES {
            FILES_SHOWN_WHEN_CROWDED
        } else {
            FILES_SHOWN
        };
        let (shown, others) = listing.files.split_at(listing.files.len().min(files_shown));
        for file in shown {
            let size = file
                .size
                .map_or_else(|| "unreadable".to_string(), human_size);
            self.push(depth, format!("{} ({size})", one_line_name(&file.name)));
            if self.cut {
                return;
            }
            self.shown_files.push(format!("{prefix}{}", file.name));
        }
        if !others.is_empty() {
            self.push(depth, other_files(others));
        }

        let (shown, others) = listing
            .directories
            .split_at(listing.directories.len().min(DIRECTORIES_SHOWN));
        for name in shown {
            if self.cut {
                return;
            }
            let label = one_line_name(name);
            if depth + 1 >= MAX_DEPTH {
                self.push(depth, format!("{label}/ (not expanded)"));
                continue;
            }
            let relative = format!("{prefix}{name}/");
            match Listing::read(&self.root.join(&relative)) {
                Ok(listing) if listing.files.is_empty() && listing.directories.is_empty() => {
                    self.push(depth, format!("{label}/ (empty)"));
                }
                Ok(listing) => {
                    self.push(depth, format!("{label}/"));
                    self.directory(&listing, &relative, depth + 1);
                }
                Err(error) => self.push(depth, format!("{label}/ (unreadable: {error})")),
            }
        }
        if !others.is_empty() {
            let count = counted(others.len() as u64, "other directory", "other directories");
            self.push(depth, format!("… and {count}"));
        }
    }
}

/// `… and 12 other files (12 .png; 3.4 MB in total)`: how many, of which kinds, and how large.
fn other_files(files: &[FileEntry]) -> String {
    let mut by_extension: BTreeMap<String, u64> = BTreeMap::new();
    let mut total_size: u64 = 0;
    for file in files {
        let extension = Path::new(&file.name).extension().map_or_else(
            || "without extension".to_string(),
            |extension| {
                format!(
                    ".{}",
                    one_line_name(&extension.to_string_lossy()).to_lowercase()
                )
            },
        );
        *by_extension.entry(extension).or_default() += 1;
        total_size = total_size.saturating_add(file.size.unwrap_or(0));
    }
    let mut kinds: Vec<(String, u64)> = by_extension.into_iter().collect();
    // Most common first; the sort is stable, so ties stay in name order.
    kinds.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    let mut named: Vec<String> = kinds
        .iter()
        .take(EXTENSIONS_NAMED)
        .map(|(extension, count)| format!("{count} {extension}"))
        .collect();
    if kinds.len() > EXTENSIONS_NAMED {
        named.push("…".to_string());
    }
    format!(
        "… and {} ({}; {} in total)",
        counted(files.len() as u64, "other file", "other files"),
        named.join(", "),
        human_size(total_size)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, name: &str, size: usize) {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, vec![b'x'; size]).unwrap();
    }

    #[test]
    fn sizes_use_decimal_units_like_humanize() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1.0 kB");
        assert_eq!(human_size(12_345), "12.3 kB");
        assert_eq!(human_size(999_960), "1.0 MB");
        assert_eq!(human_size(1_234_567), "1.2 MB");
        assert_eq!(human_size(5_000_000_000), "5.0 GB");
        assert_eq!(human_size(u64::MAX), "18.4 EB");
    }

    #[test]
    fn files_come_first_then_directories_each_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "b.csv", 10);
        touch(dir.path(), "a.txt", 2000);
        touch(dir.path(), "z/inner.json", 3);
        touch(dir.path(), "m/deeper/file", 1);
        fs::create_dir(dir.path().join("empty")).unwrap();
        let tree = file_tree(dir.path()).unwrap();
        assert_eq!(
            tree.text,
            "a.txt (2.0 kB)\nb.csv (10 B)\nempty/ (empty)\nm/\n    deeper/\n        file (1 B)\nz/\n    inner.json (3 B)"
        );
        assert_eq!(
            tree.shown_files,
            ["a.txt", "b.csv", "m/deeper/file", "z/inner.json"]
        );
    }

    #[test]
    fn a_directory_of_many_files_lists_the_first_few_and_sums_up_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for index in 0..20 {
            touch(dir.path(), &format!("images/{index:02}.png"), 100);
        }
        touch(dir.path(), "images/labels.txt", 50);
        let tree = file_tree(dir.path()).unwrap();
        let lines: Vec<&str> = tree.text.lines().collect();
        assert_eq!(lines.len(), 1 + 8 + 1, "{}", tree.text);
        assert_eq!(lines[1], "    00.png (100 B)");
        assert_eq!(
            lines[9],
            "    … and 13 other files (12 .png, 1 .txt; 1.2 kB in total)"
        );
        assert_eq!(tree.shown_files.len(), 8);
    }

    #[test]
    fn a_crowded_directory_lists_only_four_files() {
        let dir = tempfile::tempdir().unwrap();
        for index in 0..3000 {
            touch(dir.path(), &format!("train/{index:04}.jpg"), 1);
        }
        let tree = file_tree(dir.path()).unwrap();
        assert_eq!(
            tree.text,
            "train/\n    0000.jpg (1 B)\n    0001.jpg (1 B)\n    0002.jpg (1 B)\n    0003.jpg (1 B)\n    \
             … and 2996 other files (2996 .jpg; 3.0 kB in total)"
        );
    }

    #[test]
    fn many_directories_are_counted_and_deep_ones_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        for index in 0..10 {
            touch(dir.path(), &format!("class_{index}/a.png"), 1);
        }
        touch(dir.path(), "1/2/3/4/5/6/7/deep.csv", 1);
        let tree = file_tree(dir.path()).unwrap();
        assert!(
            tree.text.contains("\n… and 3 other directories"),
            "{}",
            tree.text
        );
        assert!(
            tree.text.contains("                    6/ (not expanded)"),
            "{}",
            tree.text
        );
        assert!(!tree.text.contains("deep.csv"), "{}", tree.text);
    }

    #[test]
    fn a_huge_tree_stops_at_its_line_limit() {
        let dir = tempfile::tempdir().unwrap();
        for first in 0..8 {
            for second in 0..8 {
                for file in 0..8 {
                    touch(dir.path(), &format!("{first}/{second}/{file}.txt"), 1);
                }
            }
        }
        let tree = file_tree(dir.path()).unwrap();
        let lines: Vec<&str> = tree.text.lines().collect();
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert_eq!(lines.last(), Some(&"… (tree cut at 200 lines)"));
    }

    #[test]
    fn an_empty_directory_says_so() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(file_tree(dir.path()).unwrap().text, "(empty directory)");
    }
}
