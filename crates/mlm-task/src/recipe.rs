//! Task recipes: `tasks/<name>/` with a `task.toml` and a seeded `prepare.py` that builds the competition
//! directory. This module recognises a recipe and fingerprints its files, so a prepared copy can be
//! reused until the recipe changes; running `prepare.py` is the caller's business.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The file a prepared competition keeps its recipe's fingerprint in.
pub const RECIPE_FINGERPRINT_FILE: &str = ".recipe-fingerprint";

/// A recipe directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub dir: PathBuf,
}

impl Recipe {
    /// `Some` when `dir` holds `task.toml` and `prepare.py` but no prepared data of its own.
    pub fn detect(dir: &Path) -> Option<Recipe> {
        let is_recipe = dir.join("prepare.py").is_file()
            && dir.join("task.toml").is_file()
            && !dir.join("prepared").exists();
        is_recipe.then(|| Recipe {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory's name, used as the default name of its prepared copy.
    pub fn name(&self) -> String {
        std::path::absolute(&self.dir)
            .ok()
            .and_then(|dir| {
                dir.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "task".to_string())
    }

    /// A hash of the recipe's files (names and contents) and of `salt` (say, the interpreter that runs
    /// it): it changes exactly when a prepared copy may differ.
    pub fn fingerprint(&self, salt: &str) -> Result<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|source| Error::io(&self.dir, source))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        for path in files {
            hasher.update(
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            hasher.update(std::fs::read(&path).map_err(|source| Error::io(&path, source))?);
        }
        Ok(format!("{:x}", hasher.finalize())[..16].to_string())
    }

    /// True when `prepared` was built from this recipe as it is now.
    pub fn is_prepared_in(&self, prepared: &Path, salt: &str) -> bool {
        let recorded = std::fs::read_to_string(prepared.join(RECIPE_FINGERPRINT_FILE)).ok();
        prepared.join("task.toml").is_file()
            && recorded.is_some_and(|recorded| {
                Some(recorded.trim().to_string()) == self.fingerprint(salt).ok()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recipe_is_recognised_and_its_fingerprint_follows_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("task.toml"), "id = \"x\"").unwrap();
        assert_eq!(Recipe::detect(dir.path()), None);
        std::fs::write(dir.path().join("prepare.py"), "print(1)").unwrap();
        let recipe = Recipe::detect(dir.path()).unwrap();
        let before = recipe.fingerprint("python").unwrap();
        assert_eq!(before, recipe.fingerprint("python").unwrap());
        assert_ne!(before, recipe.fingerprint("other python").unwrap());
        std::fs::write(dir.path().join("prepare.py"), "print(2)").unwrap();
        assert_ne!(before, recipe.fingerprint("python").unwrap());
    }

    #[test]
    fn a_prepared_copy_is_current_only_with_the_same_fingerprint() {
        let recipe_dir = tempfile::tempdir().unwrap();
        std::fs::write(recipe_dir.path().join("task.toml"), "id = \"x\"").unwrap();
        std::fs::write(recipe_dir.path().join("prepare.py"), "print(1)").unwrap();
        let recipe = Recipe::detect(recipe_dir.path()).unwrap();
        let prepared = tempfile::tempdir().unwrap();
        std::fs::write(prepared.path().join("task.toml"), "id = \"x\"").unwrap();
        assert!(!recipe.is_prepared_in(prepared.path(), "python"));
        std::fs::write(
            prepared.path().join(RECIPE_FINGERPRINT_FILE),
            recipe.fingerprint("python").unwrap(),
        )
        .unwrap();
        assert!(recipe.is_prepared_in(prepared.path(), "python"));
        assert!(!recipe.is_prepared_in(prepared.path(), "another python"));
    }
}
