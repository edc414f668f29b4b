//! Support code shared by the integration tests of every crate: the Python interpreter the tests use
//! (the managed base environment, or `ML_MASTER_PYTHON`), and the bundled task recipes prepared once and
//! cached by the content of their recipe, so that test binaries running in parallel share the work.
//!
//! Tests that need Python fail with a message saying how to set it up: they never skip silently.
//! [`tree_invariants`] checks a search tree's invariants, for the search's own tests and for the trees
//! real runs leave; [`journal_rows`] makes journal records without a run.

#![expect(
    clippy::expect_used,
    reason = "test support: a failed precondition should stop the test loudly"
)]

pub mod journal_rows;
pub mod tree_invariants;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use mlm_exec::{run_process, Environment, ProcessRequest, Profile, PythonEnvironment};
use mlm_task::Recipe;

/// The task recipes bundled under `tasks/`.
pub const BUNDLED_TASKS: [&str; 7] = [
    "titanic",
    "churn",
    "leaf",
    "bikeshare",
    "rotten-tomatoes",
    "digits",
    "digit-images",
];

/// The repository root, where `tasks/` and `python/` live.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

/// The interpreter of the managed base environment (or `ML_MASTER_PYTHON`).
pub fn python() -> PathBuf {
    let environment =
        PythonEnvironment::resolve(None, Profile::Base).expect("a data directory can be found");
    match environment.require_python() {
        Ok(python) => python,
        Err(error) => panic!(
            "these tests need the managed Python environment: {error}\n(run `cargo run -- env setup` first, or set ML_MASTER_PYTHON)"
        ),
    }
}

/// The bundled recipe `tasks/<name>` prepared into a competition directory, built at most once per
/// recipe content. Never modify the returned directory: copy it first.
pub fn prepared_task(name: &str) -> PathBuf {
    prepared_task_in(&std::env::temp_dir().join("ml-master-test-tasks"), name)
}

/// [`prepared_task`] with its cache under `cache`. Tests of one binary run on threads of one process,
/// so each preparation gets its own scratch directory: two threads sharing one (named by the process
/// alone) deleted each other's half-written files.
pub fn prepared_task_in(cache: &Path, name: &str) -> PathBuf {
    static PREPARATIONS: AtomicU64 = AtomicU64::new(0);
    let recipe = Recipe {
        dir: repository_root().join("tasks").join(name),
    };
    let python = python();
    let fingerprint = recipe
        .fingerprint(&python.to_string_lossy())
        .expect("the recipe is readable");
    let prepared = cache.join(format!("{name}-{fingerprint}"));
    if prepared.join("task.toml").is_file() {
        return prepared;
    }
    std::fs::create_dir_all(cache).expect("the test task cache can be created");
    let scratch = cache.join(format!(
        "{name}-{fingerprint}.{}.{}.partial",
        std::process::id(),
        PREPARATIONS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    let command = recipe
        .command(&scratch, &cache.join("recipe-support"))
        .expect("the recipe helper module can be written");
    let mut request = ProcessRequest::new(&python, &command.working_dir).args(command.arguments);
    request.environment = Environment::InheritWith(command.variables);
    let mut output = Vec::new();
    let outcome =
        run_process(&request, &mut |line| output.push(line.text)).expect("prepare.py starts");
    assert!(
        outcome.success(),
        "tasks/{name}/prepare.py failed ({}):\n{}",
        outcome.status,
        output.join("\n")
    );
    // Another test may have finished the same recipe first; either copy is identical.
    if std::fs::rename(&scratch, &prepared).is_err() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    assert!(
        prepared.join("task.toml").is_file(),
        "{} was not prepared",
        prepared.display()
    );
    prepared
}

/// A private, writable copy of a prepared task, for tests that change it.
pub fn copy_of_prepared_task(name: &str, destination: &Path) -> PathBuf {
    let target = destination.join(name);
    copy_directory(&prepared_task(name), &target);
    target
}

fn copy_directory(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).expect("the copy's directory can be created");
    for entry in std::fs::read_dir(source).expect("the prepared task is readable") {
        let entry = entry.expect("a directory entry");
        let destination = target.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_directory(&entry.path(), &destination);
        } else {
            std::fs::copy(entry.path(), &destination).expect("a file copies");
        }
    }
}
