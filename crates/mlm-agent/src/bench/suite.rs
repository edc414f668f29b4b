//! The suite file of `ml-master bench`: a TOML list of competitions (recipes or prepared competition
//! directories, relative to the file) and optional defaults for seeds, time limit and steps.
//!
//! ```toml
//! seeds = 3                  # optional: runs per competition (seeds 0..N)
//! time_limit_seconds = 600   # optional: each run's budget, and FLAML's
//! steps = 20                 # optional: each run's node budget
//!
//! [[competition]]
//! task = "../../tasks/titanic"
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use serde::Deserialize;

/// A suite as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    seeds: Option<u32>,
    time_limit_seconds: Option<u64>,
    steps: Option<u32>,
    #[serde(default)]
    competition: Vec<CompetitionEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompetitionEntry {
    task: PathBuf,
}

/// A suite read and checked: every competition directory exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The suite file, absolute.
    pub path: PathBuf,
    pub seeds: Option<u32>,
    pub time_limit_seconds: Option<u64>,
    pub steps: Option<u32>,
    /// Competition or recipe directories, absolute, in the file's order.
    pub competitions: Vec<PathBuf>,
}

const SUITE_HINT: &str = "hint: a suite has optional `seeds`, `time_limit_seconds` and `steps`, then one [[competition]] table per competition with `task = \"DIR\"` (relative to the suite file); see bench/suites/bundled.toml";

impl Suite {
    /// Reads and checks the suite file at `path`.
    pub fn read(path: &Path) -> Result<Suite> {
        let path = std::path::absolute(path).map_err(|error| {
            Error::Invalid(format!(
                "{}: cannot resolve the path: {error}",
                path.display()
            ))
        })?;
        let text = std::fs::read_to_string(&path).map_err(|error| {
            Error::Invalid(format!(
                "{}: cannot read the suite file: {error}\nhint: pass a TOML suite such as bench/suites/bundled.toml",
                path.display()
            ))
        })?;
        let file: SuiteFile = toml::from_str(&text).map_err(|error| {
            Error::Invalid(format!(
                "{}: not a valid suite file: {}\n{SUITE_HINT}",
                path.display(),
                error.message()
            ))
        })?;
        if file.competition.is_empty() {
            return Err(Error::Invalid(format!(
                "{}: the suite lists no competition\n{SUITE_HINT}",
                path.display()
            )));
        }
        if file.seeds == Some(0) {
            return Err(Error::Invalid(format!(
                "{}: seeds = 0: a bench needs at least one seed\nhint: set seeds to 1 or more",
                path.display()
            )));
        }
        let base = path.parent().unwrap_or(Path::new("/"));
        let mut competitions = Vec::with_capacity(file.competition.len());
        for (index, entry) in file.competition.iter().enumerate() {
            let task = normalized(&base.join(&entry.task));
            if !task.is_dir() {
                return Err(Error::Invalid(format!(
                    "{}: competition {} has task = \"{}\", but {} is not a directory\nhint: task paths are relative to the suite file and name a recipe (tasks/<name>) or a prepared competition",
                    path.display(),
                    index + 1,
                    entry.task.display(),
                    task.display()
                )));
            }
            competitions.push(task);
        }
        Ok(Suite {
            path,
            seeds: file.seeds,
            time_limit_seconds: file.time_limit_seconds,
            steps: file.steps,
            competitions,
        })
    }
}

/// `path` with `.` and `..` resolved lexically, so that messages show `/repo/tasks/titanic`, not
/// `/repo/bench/suites/../../tasks/titanic`.
fn normalized(path: &Path) -> PathBuf {
    let mut result = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !result.pop() {
                    result.push(component);
                }
            }
            std::path::Component::Prefix(_)
            | std::path::Component::RootDir
            | std::path::Component::Normal(_) => result.push(component),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite_with(text: &str) -> (tempfile::TempDir, Result<Suite>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("task")).unwrap();
        let path = dir.path().join("suite.toml");
        std::fs::write(&path, text).unwrap();
        let suite = Suite::read(&path);
        (dir, suite)
    }

    #[test]
    fn task_paths_are_relative_to_the_suite_file() {
        let (dir, suite) = suite_with("seeds = 2\n[[competition]]\ntask = \"task\"\n");
        let suite = suite.unwrap();
        assert_eq!(suite.seeds, Some(2));
        assert_eq!(suite.competitions, vec![dir.path().join("task")]);
    }

    #[test]
    fn parent_components_are_resolved() {
        assert_eq!(
            normalized(Path::new("/repo/bench/suites/../../tasks/./titanic")),
            PathBuf::from("/repo/tasks/titanic")
        );
    }

    #[test]
    fn an_unknown_key_names_the_file_and_the_key() {
        let (_dir, suite) = suite_with("sedes = 2\n[[competition]]\ntask = \"task\"\n");
        let error = suite.unwrap_err().to_string();
        assert!(
            error.contains("suite.toml") && error.contains("sedes") && error.contains("hint:"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_task_names_the_path() {
        let (_dir, suite) = suite_with("[[competition]]\ntask = \"nowhere\"\n");
        let error = suite.unwrap_err().to_string();
        assert!(
            error.contains("nowhere") && error.contains("hint:"),
            "{error}"
        );
    }
}
