//! Task recipes: `tasks/<name>/` with a `task.toml` and a seeded `prepare.py` that builds the competition
//! directory. This module recognises a recipe, says how to run it (with the `ml_master_recipe` helper
//! module importable) and fingerprints it, so a prepared copy can be reused until the recipe changes;
//! running `prepare.py` is the caller's business.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The file a prepared competition keeps its recipe's fingerprint in.
pub const RECIPE_FINGERPRINT_FILE: &str = ".recipe-fingerprint";

/// The helper module every recipe can import: `from ml_master_recipe import write_competition`.
const SUPPORT_MODULE: &str = include_str!("../python/ml_master_recipe.py");
const SUPPORT_MODULE_FILE: &str = "ml_master_recipe.py";

/// How to run a recipe: the interpreter runs `arguments` in `working_dir`, with `variables` added to
/// the environment (the recipe may need the user's own, credentials for a download say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeCommand {
    pub working_dir: PathBuf,
    pub arguments: Vec<OsString>,
    pub variables: Vec<(String, String)>,
}

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

    /// `prepare.py --out OUT` in the recipe's directory, with the helper module written into
    /// `support_dir` (a directory of ml-master's own, not shared with other users) and put first on
    /// `PYTHONPATH`.
    pub fn command(&self, out: &Path, support_dir: &Path) -> Result<RecipeCommand> {
        write_support_module(support_dir)?;
        let python_path = match std::env::var("PYTHONPATH") {
            Ok(existing) if !existing.is_empty() => {
                format!("{}:{existing}", support_dir.display())
            }
            _ => support_dir.display().to_string(),
        };
        Ok(RecipeCommand {
            working_dir: self.dir.clone(),
            arguments: vec!["prepare.py".into(), "--out".into(), out.into()],
            variables: vec![("PYTHONPATH".to_string(), python_path)],
        })
    }

    /// A hash of the recipe's files (names and contents), of the helper module and of `salt` (say, the
    /// interpreter that runs it): it changes exactly when a prepared copy may differ.
    pub fn fingerprint(&self, salt: &str) -> Result<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|source| Error::io(&self.dir, source))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        hasher.update(SUPPORT_MODULE.as_bytes());
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

/// Writes the helper module into `dir` unless it is there as it is now. Recipes prepared in parallel
/// write the same bytes; each writes its own scratch file and renames it, so none reads half a module.
fn write_support_module(dir: &Path) -> Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let module = dir.join(SUPPORT_MODULE_FILE);
    if std::fs::read_to_string(&module).is_ok_and(|text| text == SUPPORT_MODULE) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::io(dir, source))?;
    let scratch = dir.join(format!(
        "{SUPPORT_MODULE_FILE}.{}.{}.partial",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&scratch, SUPPORT_MODULE).map_err(|source| Error::io(&scratch, source))?;
    std::fs::rename(&scratch, &module).map_err(|source| Error::io(&module, source))
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

    #[test]
    fn the_command_puts_the_helper_module_on_the_python_path() {
        let recipe_dir = tempfile::tempdir().unwrap();
        std::fs::write(recipe_dir.path().join("task.toml"), "id = \"x\"").unwrap();
        std::fs::write(recipe_dir.path().join("prepare.py"), "").unwrap();
        let recipe = Recipe::detect(recipe_dir.path()).unwrap();
        let support = tempfile::tempdir().unwrap();
        let support_dir = support.path().join("recipe-support");
        std::fs::create_dir_all(&support_dir).unwrap();
        std::fs::write(support_dir.join(SUPPORT_MODULE_FILE), "stale").unwrap();
        let command = recipe.command(Path::new("/out"), &support_dir).unwrap();
        assert_eq!(command.working_dir, recipe_dir.path());
        assert_eq!(command.arguments, ["prepare.py", "--out", "/out"]);
        let (name, value) = &command.variables[0];
        assert_eq!(name, "PYTHONPATH");
        assert!(
            value.starts_with(&support_dir.display().to_string()),
            "{value}"
        );
        assert_eq!(
            std::fs::read_to_string(support_dir.join(SUPPORT_MODULE_FILE)).unwrap(),
            SUPPORT_MODULE,
            "a stale module is replaced"
        );
        let leftovers = std::fs::read_dir(&support_dir).unwrap().count();
        assert_eq!(leftovers, 1, "no scratch files are left");
    }
}
