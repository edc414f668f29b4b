//! The managed Python environment: a virtual environment per profile under the data directory, built
//! from the pinned requirement files in `python/` (compiled into the binary, so an installed `ml-master`
//! needs no checkout), set up idempotently, or the user's own interpreter when they name one.

use std::path::PathBuf;

use mlm_env_vars::EnvVars;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::node::PythonInstallation;
use crate::process::{run_process, ProcessRequest};

const BASE_REQUIREMENTS: &str = include_str!("../../../python/requirements-base.txt");
const NO_DEPS_REQUIREMENTS: &str = include_str!("../../../python/requirements-no-deps.txt");
const DEEP_REQUIREMENTS: &str = include_str!("../../../python/requirements-deep.txt");
const AUTOML_REQUIREMENTS: &str = include_str!("../../../python/requirements-automl.txt");
const CLUSTER_REQUIREMENTS: &str = include_str!("../../../python/requirements-cluster.txt");
const AUTOGLUON_REQUIREMENTS: &str = include_str!("../../../python/requirements-autogluon.txt");
const STAMP_FILE: &str = "ml-master-requirements.sha256";

/// Which set of packages the managed environment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// numpy, pandas, scikit-learn, the boosting libraries and the recipes' data sets.
    Base,
    /// Base plus torch and torchvision.
    Deep,
    /// Base plus FLAML, for `ml-master bench --baseline flaml`.
    Automl,
    /// Base plus Ray with its dashboard, for `ml-master bench --executor ray` and the `ray` command.
    Cluster,
    /// AutoGluon Tabular with its own pins, not on top of base (it requires pandas 2, base pins pandas
    /// 3), for `ml-master bench --baseline autogluon`.
    Autogluon,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Base => "base",
            Profile::Deep => "deep",
            Profile::Automl => "automl",
            Profile::Cluster => "cluster",
            Profile::Autogluon => "autogluon",
        }
    }

    /// The pip install steps of this profile, in order: (requirements text, install without dependencies).
    fn install_steps(self) -> Vec<(&'static str, DependencyMode)> {
        let base = [
            (BASE_REQUIREMENTS, DependencyMode::WithDependencies),
            (NO_DEPS_REQUIREMENTS, DependencyMode::WithoutDependencies),
        ];
        let on_base = |extra: &'static str| {
            let mut steps = base.to_vec();
            steps.push((extra, DependencyMode::WithDependencies));
            steps
        };
        match self {
            Profile::Base => base.to_vec(),
            Profile::Deep => on_base(DEEP_REQUIREMENTS),
            Profile::Automl => on_base(AUTOML_REQUIREMENTS),
            Profile::Cluster => on_base(CLUSTER_REQUIREMENTS),
            Profile::Autogluon => vec![(AUTOGLUON_REQUIREMENTS, DependencyMode::WithDependencies)],
        }
    }

    /// The import names this profile promises, from its requirement files.
    pub fn modules(self) -> Vec<String> {
        self.install_steps()
            .into_iter()
            .flat_map(|(requirements, _)| requirement_names(requirements))
            .map(|name| module_of_requirement(&name))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DependencyMode {
    WithDependencies,
    WithoutDependencies,
}

/// Where the interpreter comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PythonSource {
    /// A virtual environment that `ml-master env setup` manages.
    Managed { root: PathBuf, profile: Profile },
    /// An interpreter the user named; we never install into it.
    User { python: PathBuf },
}

/// Receives progress while the environment is set up.
pub trait SetupProgress {
    /// A new step starts.
    fn step(&mut self, description: &str);
    /// A line of output from the running step.
    fn output(&mut self, line: &str);
}

/// The Python interpreter that runs recipes and solutions.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonEnvironment {
    pub source: PythonSource,
}

/// The data directory: `$ML_MASTER_HOME`, or `~/.cache/ml-master`.
pub fn data_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os(EnvVars::ML_MASTER_HOME).filter(|value| !value.is_empty())
    {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME")
        .filter(|value| !value.is_empty())
        .ok_or(Error::NoHome)?;
    Ok(PathBuf::from(home).join(".cache").join("ml-master"))
}

impl PythonEnvironment {
    /// The user's interpreter when given (a flag or `ML_MASTER_PYTHON`), else the managed one for `profile`.
    pub fn resolve(user_python: Option<PathBuf>, profile: Profile) -> Result<Self> {
        let user_python = user_python.or_else(|| {
            std::env::var_os(EnvVars::ML_MASTER_PYTHON)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let source = match user_python {
            Some(python) => PythonSource::User { python },
            None => PythonSource::Managed {
                root: data_home()?.join("envs").join(profile.name()),
                profile,
            },
        };
        Ok(PythonEnvironment { source })
    }

    /// The interpreter's path (it may not exist yet).
    pub fn python(&self) -> PathBuf {
        match &self.source {
            PythonSource::Managed { root, .. } => root.join("bin").join("python"),
            PythonSource::User { python } => python.clone(),
        }
    }

    /// True when the interpreter exists and, for a managed environment, holds the current pins.
    pub fn is_ready(&self) -> bool {
        match &self.source {
            PythonSource::Managed { root, profile } => {
                self.python().is_file()
                    && std::fs::read_to_string(root.join(STAMP_FILE))
                        .ok()
                        .as_deref()
                        == Some(&stamp(*profile))
            }
            PythonSource::User { python } => python.is_file(),
        }
    }

    /// The interpreter, or an error telling the user how to get one.
    pub fn require_python(&self) -> Result<PathBuf> {
        let python = self.python();
        if python.is_file() {
            return Ok(python);
        }
        let hint = match &self.source {
            PythonSource::Managed { profile, .. } => match profile {
                Profile::Base => {
                    "run `ml-master env setup` to create the managed environment".to_string()
                }
                Profile::Deep | Profile::Automl | Profile::Cluster | Profile::Autogluon => format!(
                    "run `ml-master env setup --profile {}` to create it",
                    profile.name()
                ),
            },
            PythonSource::User { .. } => {
                format!(
                    "point --python or {} at an existing interpreter",
                    EnvVars::ML_MASTER_PYTHON
                )
            }
        };
        Err(Error::MissingPython { path: python, hint })
    }

    /// The interpreter and every directory it loads from (`sys.prefix`, `sys.base_prefix` and the exec
    /// prefixes, resolved), which the sandbox must keep readable.
    pub fn installation(&self) -> Result<PythonInstallation> {
        let python = self.require_python()?;
        let script = "import os, sys\nfor path in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:\n    print(os.path.realpath(path))\n";
        let request = ProcessRequest::new(&python, std::env::temp_dir()).args(["-c", script]);
        let mut lines = Vec::new();
        let outcome = run_process(&request, &mut |line| lines.push(line.text))?;
        if !outcome.success() {
            return Err(Error::SetupStep {
                what: format!("{} reporting its prefixes", python.display()),
                status: outcome.status.to_string(),
                output_tail: outcome.output.last_lines(40),
                hint: "check that the interpreter runs".to_string(),
            });
        }
        let mut prefixes: Vec<PathBuf> = lines.into_iter().map(PathBuf::from).collect();
        // The venv's own directory holds the interpreter symlink and site-packages.
        if let Some(root) = python.parent().and_then(std::path::Path::parent) {
            prefixes.push(root.to_path_buf());
        }
        prefixes.sort();
        prefixes.dedup();
        Ok(PythonInstallation { python, prefixes })
    }

    /// Creates or updates the managed environment; does nothing when it already holds the current pins.
    /// Returns whether anything was installed.
    pub fn setup(&self, progress: &mut dyn SetupProgress) -> Result<SetupOutcome> {
        let (root, profile) = match &self.source {
            PythonSource::Managed { root, profile } => (root, *profile),
            PythonSource::User { .. } => {
                self.require_python()?;
                return Ok(SetupOutcome::UserInterpreter);
            }
        };
        if self.is_ready() {
            return Ok(SetupOutcome::AlreadyCurrent);
        }
        std::fs::create_dir_all(root).map_err(|source| Error::Io {
            path: root.clone(),
            source,
        })?;
        if !self.python().is_file() {
            let base_python = std::env::var_os(EnvVars::ML_MASTER_BASE_PYTHON)
                .filter(|value| !value.is_empty())
                .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
            progress.step(&format!(
                "creating a virtual environment in {}",
                root.display()
            ));
            let request = ProcessRequest::new(&base_python, root)
                .args(["-m".into(), "venv".into(), root.clone().into_os_string()])
                .spawn_hint(format!(
                    "install Python 3.10 or newer, or name an interpreter with {}",
                    EnvVars::ML_MASTER_BASE_PYTHON
                ));
            run_step(&request, "creating the virtual environment", progress)?;
        }
        for (index, (requirements, mode)) in profile.install_steps().into_iter().enumerate() {
            let file = root.join(format!("requirements-{}-{index}.txt", profile.name()));
            std::fs::write(&file, requirements).map_err(|source| Error::Io {
                path: file.clone(),
                source,
            })?;
            let names = requirement_names(requirements).join(", ");
            progress.step(&format!("installing {names}"));
            let mut args: Vec<std::ffi::OsString> = [
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
            ]
            .into_iter()
            .map(Into::into)
            .collect();
            match mode {
                DependencyMode::WithDependencies => {}
                DependencyMode::WithoutDependencies => args.push("--no-deps".into()),
            }
            args.push("-r".into());
            args.push(file.into_os_string());
            let request = ProcessRequest::new(self.python(), root).args(args);
            run_step(&request, &format!("pip install of {names}"), progress)?;
        }
        let stamp_path = root.join(STAMP_FILE);
        std::fs::write(&stamp_path, stamp(profile)).map_err(|source| Error::Io {
            path: stamp_path,
            source,
        })?;
        Ok(SetupOutcome::Installed)
    }

    /// The modules of `profile` that this interpreter cannot find.
    pub fn missing_modules(&self, profile: Profile) -> Result<Vec<String>> {
        let python = self.require_python()?;
        let modules = profile.modules();
        // find_spec locates a package without importing it, so data-only packages installed without
        // their dependencies still count as present. A dotted name (autogluon.tabular) imports its
        // parent, which raises when the parent is missing too.
        let script = format!(
            "import importlib.util, sys\nfor name in {modules:?}:\n    try:\n        found = importlib.util.find_spec(name) is not None\n    except ModuleNotFoundError:\n        found = False\n    if not found:\n        print(name)\n"
        );
        let request =
            ProcessRequest::new(&python, std::env::temp_dir()).args(["-c".to_string(), script]);
        let mut missing = Vec::new();
        let outcome = run_process(&request, &mut |line| missing.push(line.text))?;
        if !outcome.success() {
            return Err(Error::SetupStep {
                what: format!("{} checking installed packages", python.display()),
                status: outcome.status.to_string(),
                output_tail: outcome.output.last_lines(40),
                hint: "check that the interpreter runs".to_string(),
            });
        }
        Ok(missing)
    }
}

/// The deep-learning modules among torch and torchvision that `python` imports. Importing, not only
/// finding, is the test: PyPI's torch is found but fails to import without its CUDA libraries.
pub fn importable_deep_learning_modules(python: &std::path::Path) -> Result<Vec<String>> {
    let modules = Profile::Deep.modules();
    let deep_only: Vec<&String> = modules
        .iter()
        .filter(|module| !Profile::Base.modules().contains(module))
        .collect();
    let script = format!(
        "import importlib, importlib.util\nfor name in {deep_only:?}:\n    if importlib.util.find_spec(name) is None:\n        continue\n    try:\n        importlib.import_module(name)\n    except Exception:\n        continue\n    print(name)\n"
    );
    let request =
        ProcessRequest::new(python, std::env::temp_dir()).args(["-c".to_string(), script]);
    let mut importable = Vec::new();
    let outcome = run_process(&request, &mut |line| importable.push(line.text))?;
    if !outcome.success() {
        return Err(Error::SetupStep {
            what: format!("{} checking for torch", python.display()),
            status: outcome.status.to_string(),
            output_tail: outcome.output.last_lines(40),
            hint: "check that the interpreter runs".to_string(),
        });
    }
    Ok(importable)
}

/// What [`PythonEnvironment::setup`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupOutcome {
    Installed,
    AlreadyCurrent,
    /// The user's own interpreter exists; we install nothing into it.
    UserInterpreter,
}

fn run_step(request: &ProcessRequest, what: &str, progress: &mut dyn SetupProgress) -> Result<()> {
    let outcome = run_process(request, &mut |line| progress.output(&line.text))?;
    if outcome.success() {
        return Ok(());
    }
    Err(Error::SetupStep {
        what: what.to_string(),
        status: outcome.status.to_string(),
        output_tail: outcome.output.last_lines(40),
        hint: "read pip's message above; a registry that cannot be reached or a Python older than 3.10 are the usual causes".to_string(),
    })
}

fn stamp(profile: Profile) -> String {
    let mut hasher = Sha256::new();
    hasher.update(profile.name());
    for (requirements, mode) in profile.install_steps() {
        hasher.update(requirements);
        hasher.update(format!("{mode:?}"));
    }
    format!("{:x}\n", hasher.finalize())
}

fn requirement_names(requirements: &str) -> Vec<String> {
    requirements
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split(|character: char| {
                matches!(character, '=' | '<' | '>' | '!' | '~' | '[' | ';' | ' ')
            })
            .next()
            .unwrap_or(line)
            .to_string()
        })
        .collect()
}

/// The import name of a distribution, where the two differ.
fn module_of_requirement(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "scikit-learn" => "sklearn".to_string(),
        "pillow" => "PIL".to_string(),
        "xgboost-cpu" => "xgboost".to_string(),
        "islp" => "ISLP".to_string(),
        other => other.replace('-', "_"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names_skip_comments_and_versions() {
        assert_eq!(
            requirement_names("# comment\nnumpy==2.0\nscikit-learn>=1 # why\n\ntorch\n"),
            vec!["numpy", "scikit-learn", "torch"]
        );
    }

    #[test]
    fn the_base_profile_promises_the_packages_solutions_import() {
        let modules = Profile::Base.modules();
        for expected in [
            "numpy", "pandas", "sklearn", "lightgbm", "xgboost", "catboost", "PIL", "ISLP",
        ] {
            assert!(
                modules.iter().any(|module| module == expected),
                "{expected} missing from {modules:?}"
            );
        }
        assert!(!modules.iter().any(|module| module == "torch"));
        assert!(Profile::Deep
            .modules()
            .iter()
            .any(|module| module == "torch"));
    }

    #[test]
    fn the_stamp_differs_between_profiles() {
        assert_ne!(stamp(Profile::Base), stamp(Profile::Deep));
        assert_ne!(stamp(Profile::Base), stamp(Profile::Automl));
        assert_ne!(stamp(Profile::Base), stamp(Profile::Cluster));
        assert!(Profile::Cluster
            .modules()
            .iter()
            .any(|module| module == "ray"));
        assert!(Profile::Automl
            .modules()
            .iter()
            .any(|module| module == "flaml"));
        assert_ne!(stamp(Profile::Automl), stamp(Profile::Autogluon));
    }

    #[test]
    fn the_autogluon_profile_stands_apart_from_base() {
        let modules = Profile::Autogluon.modules();
        assert!(modules.iter().any(|module| module == "autogluon.tabular"));
        assert!(modules.iter().any(|module| module == "lightgbm"));
        // Its own pandas pin: base's pandas 3 and autogluon.tabular cannot share an environment.
        assert!(!modules.iter().any(|module| module == "ISLP"));
        assert!(!modules.iter().any(|module| module == "torch"));
    }
}
