//! Every environment variable ml-master reads, as a constant in one place (as uv's `uv-static` does), so
//! a reader can find them all and no crate spells one as a string literal. This crate owns names only:
//! it reads nothing. It is a crate of its own because the lowest crates (`mlm-exec`, `mlm-task`) and the
//! binary all need the names, and none of them may depend on another for that.

/// Namespace for the variable names.
pub struct EnvVars;

impl EnvVars {
    /// Where the managed Python environment, prepared tasks and caches live (default
    /// `~/.cache/ml-master`).
    pub const ML_MASTER_HOME: &'static str = "ML_MASTER_HOME";
    /// A Python interpreter of the user's to use instead of the managed environment.
    pub const ML_MASTER_PYTHON: &'static str = "ML_MASTER_PYTHON";
    /// The interpreter the managed environment is created from (default: `python3` on the PATH).
    pub const ML_MASTER_BASE_PYTHON: &'static str = "ML_MASTER_BASE_PYTHON";
    /// An MLE-bench data directory (its `registry`), for `--task` given as a competition id.
    pub const ML_MASTER_MLEBENCH_REGISTRY: &'static str = "ML_MASTER_MLEBENCH_REGISTRY";
    /// A `tracing` filter for the binary's diagnostics (default `warn`).
    pub const ML_MASTER_LOG: &'static str = "ML_MASTER_LOG";
    /// `[run] coder`: `builtin` or `llm`.
    pub const ML_MASTER_CODER: &'static str = "ML_MASTER_CODER";
    /// `[run] steps`.
    pub const ML_MASTER_STEPS: &'static str = "ML_MASTER_STEPS";
    /// `[run] time_limit_seconds`.
    pub const ML_MASTER_TIME_LIMIT: &'static str = "ML_MASTER_TIME_LIMIT";
    /// `[run] workers`.
    pub const ML_MASTER_WORKERS: &'static str = "ML_MASTER_WORKERS";
    /// `[run] slots`.
    pub const ML_MASTER_SLOTS: &'static str = "ML_MASTER_SLOTS";
    /// `[run] seed`.
    pub const ML_MASTER_SEED: &'static str = "ML_MASTER_SEED";
    /// `[builtin] text_model`: a local Hugging Face model directory.
    pub const ML_MASTER_TEXT_MODEL: &'static str = "ML_MASTER_TEXT_MODEL";
    /// Tests only, read when they are built: `1` (as CI sets) makes the FLAML baseline's test run, and
    /// fail without FLAML, instead of being ignored.
    pub const ML_MASTER_REQUIRE_FLAML: &'static str = "ML_MASTER_REQUIRE_FLAML";
    /// Tests only, read when they are built: `1` (as CI sets) makes the AutoGluon baseline's test run,
    /// and fail without the autogluon profile, instead of being ignored.
    pub const ML_MASTER_REQUIRE_AUTOGLUON: &'static str = "ML_MASTER_REQUIRE_AUTOGLUON";
    /// Tests only, read when they are built: `1` (as CI sets) makes the browser tests run, and fail
    /// without Chromium, instead of being ignored.
    pub const ML_MASTER_REQUIRE_CHROMIUM: &'static str = "ML_MASTER_REQUIRE_CHROMIUM";
    /// Tests only, read when they are built: `1` (as CI sets) makes the sandbox tests of the namespaces
    /// tier run, and fail without bubblewrap, instead of being ignored.
    pub const ML_MASTER_REQUIRE_BUBBLEWRAP: &'static str = "ML_MASTER_REQUIRE_BUBBLEWRAP";
    /// Tests only: set (as CI does) to make the Ray executor's test fail, not skip, without Ray.
    pub const ML_MASTER_REQUIRE_RAY: &'static str = "ML_MASTER_REQUIRE_RAY";
    /// Tests only, read when they are built: `1` (as CI sets) makes the convolutional network's and the
    /// text embeddings' run tests run, and fail without the deep profile's torch and transformers,
    /// instead of being ignored.
    pub const ML_MASTER_REQUIRE_TORCH: &'static str = "ML_MASTER_REQUIRE_TORCH";
}
