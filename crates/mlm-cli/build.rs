//! Decides, when the tests are built, which command-line tests cannot do their job on this machine, so
//! that `cargo test` counts them as ignored, with the reason, instead of passing without checking:
//! the browser tests without Chromium (`missing_chromium`), the FLAML baseline without the automl profile
//! (`missing_flaml`), the missing-FLAML message when the base interpreter has FLAML
//! (`base_python_has_flaml`), the AutoGluon baseline without the autogluon profile
//! (`missing_autogluon`), the missing-AutoGluon message when the base interpreter has it
//! (`base_python_has_autogluon`), the Ray executor's test without the cluster profile (`missing_ray`),
//! the convolutional network's run without the deep profile's torch (`missing_torch`), and the text
//! embeddings' run without its torch and transformers (`missing_transformers`).
//! `ML_MASTER_REQUIRE_CHROMIUM=1`, `ML_MASTER_REQUIRE_FLAML=1`, `ML_MASTER_REQUIRE_AUTOGLUON=1`,
//! `ML_MASTER_REQUIRE_RAY=1` and `ML_MASTER_REQUIRE_TORCH=1` (CI) ignore nothing: the tests run and a
//! missing tool fails them.
//!
//! Cargo runs this again when a variable below changes or one of the files or directories that decide
//! changes (an install touches them), so installing Chromium or a profile takes effect on the
//! next `cargo test`. The look-ups mirror the tests' own: `tests/cli/chromium.rs` and mlm-exec's
//! environment resolution (`ML_MASTER_PYTHON`, else `<data dir>/envs/<profile>/bin/python`).

use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM_CANDIDATES: [&str; 3] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];
/// Written by `ml-master env setup` when an environment is complete.
const STAMP_FILE: &str = "ml-master-requirements.sha256";

fn main() {
    for variable in [
        "CHROME",
        "ML_MASTER_PYTHON",
        "ML_MASTER_HOME",
        "HOME",
        "ML_MASTER_REQUIRE_CHROMIUM",
        "ML_MASTER_REQUIRE_FLAML",
        "ML_MASTER_REQUIRE_AUTOGLUON",
        "ML_MASTER_REQUIRE_RAY",
        "ML_MASTER_REQUIRE_TORCH",
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
    }
    for cfg in [
        "missing_chromium",
        "missing_flaml",
        "base_python_has_flaml",
        "missing_autogluon",
        "base_python_has_autogluon",
        "missing_ray",
        "missing_torch",
        "missing_transformers",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    if !required("ML_MASTER_REQUIRE_CHROMIUM") && find_chromium().is_none() {
        println!("cargo::rustc-cfg=missing_chromium");
    }
    if !required("ML_MASTER_REQUIRE_FLAML") && !imports(&interpreter("automl"), "flaml") {
        println!("cargo::rustc-cfg=missing_flaml");
    }
    if !required("ML_MASTER_REQUIRE_AUTOGLUON")
        && !imports(&interpreter("autogluon"), "autogluon.tabular")
    {
        println!("cargo::rustc-cfg=missing_autogluon");
    }
    if !required("ML_MASTER_REQUIRE_RAY") && !imports(&interpreter("cluster"), "ray") {
        println!("cargo::rustc-cfg=missing_ray");
    }
    if !required("ML_MASTER_REQUIRE_TORCH") && !imports(&interpreter("deep"), "torch") {
        println!("cargo::rustc-cfg=missing_torch");
    }
    let deep = interpreter("deep");
    let embeds_text = imports(&deep, "torch") && imports(&deep, "transformers");
    if !required("ML_MASTER_REQUIRE_TORCH") && !embeds_text {
        println!("cargo::rustc-cfg=missing_transformers");
    }
    if imports(&interpreter("base"), "flaml") {
        println!("cargo::rustc-cfg=base_python_has_flaml");
    }
    if imports(&interpreter("base"), "autogluon.tabular") {
        println!("cargo::rustc-cfg=base_python_has_autogluon");
    }
}

fn required(variable: &str) -> bool {
    std::env::var(variable).as_deref() == Ok("1")
}

fn find_chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("CHROME")
        .map(PathBuf::from)
        .into_iter()
        .chain(CHROMIUM_CANDIDATES.map(PathBuf::from))
        .collect();
    let found = candidates.iter().find(|candidate| candidate.is_file());
    match found {
        Some(found) => watch(found, found),
        // A directory that exists changes when the browser is installed into it.
        None => candidates
            .iter()
            .filter_map(|candidate| candidate.parent())
            .for_each(|directory| watch(directory, directory)),
    }
    found.cloned()
}

/// The interpreter the tests resolve for `profile`.
fn interpreter(profile: &str) -> PathBuf {
    if let Some(python) = std::env::var_os("ML_MASTER_PYTHON").filter(|value| !value.is_empty()) {
        let python = PathBuf::from(python);
        watch(&python, &python);
        return python;
    }
    let home = match std::env::var_os("ML_MASTER_HOME").filter(|value| !value.is_empty()) {
        Some(home) => PathBuf::from(home),
        None => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ml-master")
        }
    };
    let root = home.join("envs").join(profile);
    watch(&root.join(STAMP_FILE), &home);
    root.join("bin").join("python")
}

/// True when `python` runs and finds the package `module`.
fn imports(python: &Path, module: &str) -> bool {
    python.is_file()
        && Command::new(python)
            .args([
                "-c",
                &format!("import importlib.util, sys; sys.exit(importlib.util.find_spec('{module}') is None)"),
            ])
            .output()
            .is_ok_and(|output| output.status.success())
}

/// Asks Cargo to rerun this script when `path` changes. A path that does not exist is watched through
/// its nearest existing ancestor up to `limit` (Cargo would rerun the script on every build for a
/// missing path, and scans a watched directory whole, so nothing above `limit` is watched).
fn watch(path: &Path, limit: &Path) {
    let existing = path
        .ancestors()
        .take_while(|ancestor| ancestor.starts_with(limit))
        .find(|ancestor| ancestor.exists());
    if let Some(existing) = existing {
        println!("cargo::rerun-if-changed={}", existing.display());
    }
}
