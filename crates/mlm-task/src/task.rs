//! Loading a competition directory. Two layouts are accepted:
//!
//! - ours: `<task>/task.toml` beside `<task>/prepared/{public,private}` and an optional `leaderboard.csv`;
//! - MLE-bench: the prepared data directory `<data>/<id>/prepared/…` plus the registry folder
//!   `mlebench/competitions/<id>/` holding `config.yaml`, `description.md` and `leaderboard.csv`.
//!
//! Everything a later stage needs is checked here, so that a bad directory fails before any work starts.

use std::path::{Path, PathBuf};

use mlm_env_vars::EnvVars;
use serde::Deserialize;

use crate::error::{Error, Result};

const TASK_FILE: &str = "task.toml";
const MLE_BENCH_CONFIG_FILE: &str = "config.yaml";

/// A loaded competition, every path resolved and checked to exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Short identifier, as MLE-bench's `competition_id`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The competition directory the user pointed at.
    pub root: PathBuf,
    /// `prepared/public`: everything generated code may read.
    pub public_dir: PathBuf,
    /// The Kaggle-style overview shown to coders.
    pub description_path: PathBuf,
    pub grading: Grading,
    /// Kaggle's private leaderboard, best first; enables medals.
    pub leaderboard: Option<PathBuf>,
    /// The documented simple model (`baseline` in `task.toml`): a Python script run as
    /// `python SCRIPT DIR`, where `DIR/prepared` is the competition's data, writing `DIR/baseline_submission.csv`.
    pub baseline: Option<PathBuf>,
    pub layout: TaskLayout,
}

/// How a competition is graded, as declared by its task file; `mlm-grade` interprets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Grading {
    /// A name from `mlm-grade`'s metric table, as written in the task file.
    pub metric: String,
    /// The private answers: never visible to generated code.
    pub answers: PathBuf,
    pub sample_submission: PathBuf,
    /// The column that identifies rows; `None` means the first column of the sample submission.
    pub id_column: Option<String>,
    /// The file that declared all of this, for error messages.
    pub declared_in: PathBuf,
}

/// Which of the two directory layouts a task was loaded from.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskLayout {
    /// Ours: `task.toml` at the competition root.
    TaskToml,
    /// MLE-bench: `config.yaml` in this registry folder.
    MleBench { registry_dir: PathBuf },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    id: String,
    name: Option<String>,
    baseline: Option<PathBuf>,
    grading: GradingSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradingSection {
    metric: String,
    answers: PathBuf,
    sample_submission: PathBuf,
    id_column: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MleBenchConfig {
    id: String,
    name: Option<String>,
    dataset: MleBenchDataset,
    grader: MleBenchGrader,
}

#[derive(Debug, Deserialize)]
struct MleBenchDataset {
    answers: PathBuf,
    sample_submission: PathBuf,
}

#[derive(Debug, Deserialize)]
struct MleBenchGrader {
    name: String,
}

impl Task {
    /// Loads the competition at `dir`. `registry` is MLE-bench's `mlebench/competitions` folder (or one
    /// competition's folder inside it); it is only consulted when `dir` has no `task.toml`.
    pub fn load(dir: &Path, registry: Option<&Path>) -> Result<Task> {
        if !dir.is_dir() {
            return Err(Error::invalid(
                dir,
                "no such competition directory",
                "pass the directory that holds task.toml (ours) or prepared/ (MLE-bench)",
            ));
        }
        let task_file = dir.join(TASK_FILE);
        if task_file.is_file() {
            return load_task_toml(dir, &task_file);
        }
        if dir.join(MLE_BENCH_CONFIG_FILE).is_file() {
            return Err(Error::invalid(
                dir,
                "this is an MLE-bench registry folder, not a prepared competition",
                format!(
                    "pass the prepared data directory as --task (e.g. ~/.cache/mle-bench/data/<id>) and this folder as --registry (or set {})",
                    EnvVars::ML_MASTER_MLEBENCH_REGISTRY
                ),
            ));
        }
        match registry {
            Some(registry) => load_mle_bench(dir, registry),
            None => Err(Error::invalid(
                dir,
                format!("found neither {TASK_FILE} nor an MLE-bench registry to describe this competition"),
                format!(
                    "add a {TASK_FILE} (see tasks/titanic/task.toml), or pass MLE-bench's mlebench/competitions folder with --registry or {}",
                    EnvVars::ML_MASTER_MLEBENCH_REGISTRY
                ),
            )),
        }
    }

    /// Reads the competition's overview text.
    pub fn description(&self) -> Result<String> {
        std::fs::read_to_string(&self.description_path)
            .map_err(|source| Error::io(&self.description_path, source))
    }
}

fn load_task_toml(dir: &Path, task_file: &Path) -> Result<Task> {
    let text = std::fs::read_to_string(task_file).map_err(|source| Error::io(task_file, source))?;
    let parsed: TaskFile = toml::from_str(&text).map_err(|error| {
        // Where the parser stopped, as line and column (both from 1), as editors count them.
        let location = match error.span() {
            Some(span) => {
                let before = &text[..span.start];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                format!("line {line}, column {column}: ")
            }
            None => String::new(),
        };
        Error::invalid(
            task_file,
            format!("{location}not a valid task file: {}", error.message()),
            "expected `id`, optional `name` and `baseline`, and a [grading] table with metric, answers, sample_submission and optional id_column",
        )
    })?;
    if dir.join("prepare.py").is_file() && !dir.join("prepared").exists() {
        return Err(Error::invalid(
            dir,
            "this is a task recipe, not a prepared competition",
            format!("build it first: ml-master prepare {}", dir.display()),
        ));
    }
    let public_dir = existing_dir(dir.join("prepared").join("public"), task_file)?;
    let answers = existing_file(
        dir.join(&parsed.grading.answers),
        task_file,
        "grading.answers",
    )?;
    let sample_submission = existing_file(
        dir.join(&parsed.grading.sample_submission),
        task_file,
        "grading.sample_submission",
    )?;
    let grading = Grading {
        metric: parsed.grading.metric,
        answers: private_file(answers, dir, &public_dir, task_file, "grading.answers")?,
        sample_submission: inside(
            sample_submission,
            dir,
            task_file,
            "grading.sample_submission",
        )?,
        id_column: parsed.grading.id_column,
        declared_in: task_file.to_path_buf(),
    };
    let description_path =
        existing_file(public_dir.join("description.md"), task_file, "the overview")?;
    let leaderboard = Some(dir.join("leaderboard.csv")).filter(|path| path.is_file());
    let baseline = match parsed.baseline {
        Some(script) => Some(existing_file(dir.join(script), task_file, "baseline")?),
        None => None,
    };
    Ok(Task {
        name: parsed.name.unwrap_or_else(|| parsed.id.clone()),
        id: parsed.id,
        root: dir.to_path_buf(),
        public_dir,
        description_path,
        grading,
        leaderboard,
        baseline,
        layout: TaskLayout::TaskToml,
    })
}

fn load_mle_bench(data_dir: &Path, registry: &Path) -> Result<Task> {
    let competition_id = data_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let registry_dir = if registry.join(MLE_BENCH_CONFIG_FILE).is_file() {
        registry.to_path_buf()
    } else {
        registry.join(&competition_id)
    };
    let config_path = registry_dir.join(MLE_BENCH_CONFIG_FILE);
    if !config_path.is_file() {
        return Err(Error::invalid(
            &config_path,
            format!("no MLE-bench config for competition `{competition_id}`"),
            "pass MLE-bench's mlebench/competitions folder (or the competition's own folder in it) as --registry",
        ));
    }
    let text =
        std::fs::read_to_string(&config_path).map_err(|source| Error::io(&config_path, source))?;
    let config: MleBenchConfig = serde_yaml::from_str(&text).map_err(|error| {
        Error::invalid(
            &config_path,
            format!("not a valid MLE-bench config: {error}"),
            "expected `id`, `dataset.answers`, `dataset.sample_submission` and `grader.name`",
        )
    })?;
    // MLE-bench writes dataset paths relative to its data root, which holds one folder per competition.
    let data_root = data_dir.parent().unwrap_or(data_dir);
    let public_dir = existing_dir(data_dir.join("prepared").join("public"), &config_path)?;
    let answers = existing_file(
        data_root.join(&config.dataset.answers),
        &config_path,
        "dataset.answers",
    )?;
    let sample_submission = existing_file(
        data_root.join(&config.dataset.sample_submission),
        &config_path,
        "dataset.sample_submission",
    )?;
    let grading = Grading {
        metric: config.grader.name,
        answers: private_file(
            answers,
            data_dir,
            &public_dir,
            &config_path,
            "dataset.answers",
        )?,
        sample_submission: inside(
            sample_submission,
            data_dir,
            &config_path,
            "dataset.sample_submission",
        )?,
        id_column: None,
        declared_in: config_path.clone(),
    };
    let public_description = public_dir.join("description.md");
    let description_path = if public_description.is_file() {
        public_description
    } else {
        existing_file(
            registry_dir.join("description.md"),
            &config_path,
            "the overview",
        )?
    };
    let leaderboard = Some(registry_dir.join("leaderboard.csv")).filter(|path| path.is_file());
    Ok(Task {
        name: config.name.unwrap_or_else(|| config.id.clone()),
        id: config.id,
        root: data_dir.to_path_buf(),
        public_dir,
        description_path,
        grading,
        leaderboard,
        baseline: None,
        layout: TaskLayout::MleBench { registry_dir },
    })
}

fn existing_dir(path: PathBuf, declared_in: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        Ok(path)
    } else {
        Err(Error::invalid(
            &path,
            "expected the competition's public data directory here, found nothing",
            format!(
                "the layout is <task>/prepared/public/ and <task>/prepared/private/ (described by {})",
                declared_in.display()
            ),
        ))
    }
}

fn existing_file(path: PathBuf, declared_in: &Path, what: &str) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::invalid(
            &path,
            format!("missing file ({what} in {})", declared_in.display()),
            "check the path in the task file, or rebuild the competition with `ml-master prepare`",
        ))
    }
}

/// `path` (which exists), if it resolves inside `task_dir` once every link is followed: a task file must not
/// make the grader read, and quote in its messages, a file elsewhere on the machine.
fn inside(path: PathBuf, task_dir: &Path, declared_in: &Path, field: &str) -> Result<PathBuf> {
    let resolved = std::fs::canonicalize(&path).map_err(|source| Error::io(&path, source))?;
    let task_dir = std::fs::canonicalize(task_dir).map_err(|source| Error::io(task_dir, source))?;
    if resolved.starts_with(&task_dir) {
        return Ok(path);
    }
    Err(Error::invalid(
        declared_in,
        format!(
            "`{field}` resolves to {}, outside the task directory {}",
            resolved.display(),
            task_dir.display()
        ),
        format!(
            "keep the file inside {} (answers under prepared/private/) and name it by a path relative to it",
            task_dir.display()
        ),
    ))
}

/// [`inside`], and also outside `public_dir`, which generated code reads: answers there would be visible
/// to the scripts they grade.
fn private_file(
    path: PathBuf,
    task_dir: &Path,
    public_dir: &Path,
    declared_in: &Path,
    field: &str,
) -> Result<PathBuf> {
    let path = inside(path, task_dir, declared_in, field)?;
    let resolved = std::fs::canonicalize(&path).map_err(|source| Error::io(&path, source))?;
    let public_dir =
        std::fs::canonicalize(public_dir).map_err(|source| Error::io(public_dir, source))?;
    if !resolved.starts_with(&public_dir) {
        return Ok(path);
    }
    Err(Error::invalid(
        declared_in,
        format!(
            "`{field}` resolves to {}, inside {}, which every generated script can read",
            resolved.display(),
            public_dir.display()
        ),
        "move the answers to prepared/private/ and point the task file there",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn our_task(root: &Path) {
        write(
            &root.join("task.toml"),
            "id = \"toy\"\n[grading]\nmetric = \"accuracy\"\nanswers = \"prepared/private/answers.csv\"\nsample_submission = \"prepared/public/sample_submission.csv\"\nid_column = \"id\"\n",
        );
        write(&root.join("prepared/public/description.md"), "# Toy\n");
        write(
            &root.join("prepared/public/sample_submission.csv"),
            "id,y\n1,0\n",
        );
        write(&root.join("prepared/private/answers.csv"), "id,y\n1,1\n");
    }

    #[test]
    fn a_syntax_error_in_task_toml_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        our_task(dir.path());
        write(
            &dir.path().join("task.toml"),
            "id = \"toy\"\n[grading]\nmetric = accuracy\n",
        );
        let error = Task::load(dir.path(), None).unwrap_err().to_string();
        assert!(
            error.contains("task.toml: line 3, column 10: not a valid task file"),
            "{error}"
        );
    }

    #[test]
    fn loads_our_layout() {
        let dir = tempfile::tempdir().unwrap();
        our_task(dir.path());
        let task = Task::load(dir.path(), None).unwrap();
        assert_eq!(task.id, "toy");
        assert_eq!(task.name, "toy");
        assert_eq!(task.grading.metric, "accuracy");
        assert_eq!(task.grading.id_column.as_deref(), Some("id"));
        assert_eq!(task.leaderboard, None);
        assert_eq!(task.layout, TaskLayout::TaskToml);
    }

    #[test]
    fn a_declared_baseline_is_resolved_and_a_missing_one_named() {
        let dir = tempfile::tempdir().unwrap();
        our_task(dir.path());
        let task_file = dir.path().join("task.toml");
        let text = std::fs::read_to_string(&task_file).unwrap();
        write(
            &task_file,
            &text.replace(
                "id = \"toy\"\n",
                "id = \"toy\"\nbaseline = \"baseline.py\"\n",
            ),
        );
        let error = Task::load(dir.path(), None).unwrap_err().to_string();
        assert!(
            error.contains("baseline.py") && error.contains("baseline in"),
            "{error}"
        );
        write(&dir.path().join("baseline.py"), "print(1)\n");
        let task = Task::load(dir.path(), None).unwrap();
        assert_eq!(task.baseline, Some(dir.path().join("baseline.py")));
    }

    #[test]
    fn a_missing_answers_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        our_task(dir.path());
        std::fs::remove_file(dir.path().join("prepared/private/answers.csv")).unwrap();
        let error = Task::load(dir.path(), None).unwrap_err().to_string();
        assert!(error.contains("prepared/private/answers.csv"), "{error}");
        assert!(error.contains("grading.answers"), "{error}");
        assert!(error.contains("hint:"), "{error}");
    }

    /// Points `grading.answers` of the toy task at `answers`.
    fn with_answers(root: &Path, answers: &str) {
        let task_file = root.join("task.toml");
        let text = std::fs::read_to_string(&task_file).unwrap();
        let text: Vec<String> = text
            .lines()
            .map(|line| match line.starts_with("answers =") {
                true => format!("answers = {answers:?}"),
                false => line.to_string(),
            })
            .collect();
        write(&task_file, &(text.join("\n") + "\n"));
    }

    #[test]
    fn answers_outside_the_task_directory_are_refused_without_being_read() {
        let scratch = tempfile::tempdir().unwrap();
        let secret = scratch.path().join("shadow.csv");
        write(&secret, "root:SECRET-HASH:19000:0:99999:7:::\n");
        let root = scratch.path().join("task");
        let absolute = secret.display().to_string();
        for answers in [
            absolute.as_str(),
            "../shadow.csv",
            "prepared/private/linked.csv",
        ] {
            our_task(&root);
            std::os::unix::fs::symlink(&secret, root.join("prepared/private/linked.csv")).unwrap();
            with_answers(&root, answers);
            let error = Task::load(&root, None).unwrap_err().to_string();
            assert!(
                error.contains("`grading.answers` resolves to")
                    && error.contains("outside the task directory")
                    && error.contains("hint:"),
                "{answers}: {error}"
            );
            assert!(!error.contains("SECRET"), "{answers}: {error}");
            std::fs::remove_dir_all(&root).unwrap();
        }
    }

    #[test]
    fn answers_under_prepared_public_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        our_task(dir.path());
        write(
            &dir.path().join("prepared/public/answers.csv"),
            "id,y\n1,1\n",
        );
        with_answers(dir.path(), "prepared/public/answers.csv");
        let error = Task::load(dir.path(), None).unwrap_err().to_string();
        assert!(
            error.contains("inside") && error.contains("every generated script can read"),
            "{error}"
        );
        // A link in private/ to a file in public/ is the same leak.
        with_answers(dir.path(), "prepared/private/answers.csv");
        std::fs::remove_file(dir.path().join("prepared/private/answers.csv")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("prepared/public/answers.csv"),
            dir.path().join("prepared/private/answers.csv"),
        )
        .unwrap();
        let error = Task::load(dir.path(), None).unwrap_err().to_string();
        assert!(error.contains("every generated script can read"), "{error}");
    }

    #[test]
    fn an_unknown_field_in_task_toml_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        our_task(dir.path());
        let task_file = dir.path().join("task.toml");
        let text = std::fs::read_to_string(&task_file).unwrap();
        std::fs::write(&task_file, text.replace("metric =", "metirc =")).unwrap();
        let error = Task::load(dir.path(), None).unwrap_err().to_string();
        assert!(
            error.contains(
                "task.toml: line 3, column 1: not a valid task file: unknown field `metirc`"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_recipe_directory_says_to_prepare_it() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("task.toml"),
            "id = \"toy\"\n[grading]\nmetric = \"accuracy\"\nanswers = \"a.csv\"\nsample_submission = \"s.csv\"\n",
        );
        write(&dir.path().join("prepare.py"), "");
        let error = Task::load(dir.path(), None).unwrap_err().to_string();
        assert!(error.contains("ml-master prepare"), "{error}");
    }

    #[test]
    fn loads_an_mle_bench_competition_from_data_and_registry() {
        let data = tempfile::tempdir().unwrap();
        let registry = tempfile::tempdir().unwrap();
        let competition = data.path().join("spaceship-titanic");
        write(
            &competition.join("prepared/public/sample_submission.csv"),
            "PassengerId,Transported\n",
        );
        write(
            &competition.join("prepared/private/test.csv"),
            "PassengerId,Transported\n",
        );
        let registry_dir = registry.path().join("spaceship-titanic");
        write(
            &registry_dir.join("config.yaml"),
            "id: spaceship-titanic\nname: Spaceship Titanic\ndataset:\n  answers: spaceship-titanic/prepared/private/test.csv\n  sample_submission: spaceship-titanic/prepared/public/sample_submission.csv\ngrader:\n  name: accuracy\n  grade_fn: mlebench.competitions.spaceship-titanic.grade:grade\n",
        );
        write(&registry_dir.join("description.md"), "# Spaceship\n");
        write(&registry_dir.join("leaderboard.csv"), "score\n0.8\n");
        let task = Task::load(&competition, Some(registry.path())).unwrap();
        assert_eq!(task.id, "spaceship-titanic");
        assert_eq!(task.name, "Spaceship Titanic");
        assert_eq!(task.description_path, registry_dir.join("description.md"));
        assert_eq!(task.leaderboard, Some(registry_dir.join("leaderboard.csv")));
        assert_eq!(
            task.layout,
            TaskLayout::MleBench {
                registry_dir: registry_dir.clone()
            }
        );
        // The competition's own registry folder works as well as the parent registry.
        assert_eq!(
            Task::load(&competition, Some(&registry_dir)).unwrap().id,
            "spaceship-titanic"
        );
    }

    #[test]
    fn an_mle_bench_directory_without_a_registry_gets_a_hint() {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("prepared/public")).unwrap();
        let error = Task::load(data.path(), None).unwrap_err().to_string();
        assert!(error.contains("--registry"), "{error}");
    }
}
