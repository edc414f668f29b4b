//! The prompt templates: minijinja files in `crates/mlm-coder/prompts/`, built into the binary and
//! replaceable one by one from a directory the user names, and the values they are rendered with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use mlm_search::{Metric, Stage};

use super::hints::debug_hints;
use super::starting_script::StartingScriptContext;
use crate::operator::{MemoryEntry, NodeView, ProposalRequest, TaskBrief};

/// Every template, by the file name a user overrides it with.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "introduction.j2",
        include_str!("../../prompts/introduction.j2"),
    ),
    ("_task.j2", include_str!("../../prompts/_task.j2")),
    ("_memory.j2", include_str!("../../prompts/_memory.j2")),
    ("_previous.j2", include_str!("../../prompts/_previous.j2")),
    (
        "_instructions.j2",
        include_str!("../../prompts/_instructions.j2"),
    ),
    ("draft.j2", include_str!("../../prompts/draft.j2")),
    (
        "_starting_script.py.j2",
        include_str!("../../prompts/_starting_script.py.j2"),
    ),
    ("improve.j2", include_str!("../../prompts/improve.j2")),
    ("debug.j2", include_str!("../../prompts/debug.j2")),
    ("think.j2", include_str!("../../prompts/think.j2")),
    ("reask.j2", include_str!("../../prompts/reask.j2")),
    (
        "review_system.j2",
        include_str!("../../prompts/review_system.j2"),
    ),
    ("review.j2", include_str!("../../prompts/review.j2")),
];

/// Characters of a script's output kept from each end in a prompt, as ML-Master's review does.
pub(crate) const OUTPUT_EDGE_CHARACTERS: usize = 2_500;
/// Characters of a script kept from each end wherever it enters another prompt (a parent's code, a
/// reviewed script): a 400 KB script becomes about 24 KB, some 6,000 tokens.
pub(crate) const CODE_EDGE_CHARACTERS: usize = 12_000;
/// Characters of a plan or a review's summary kept from each end in memory and ancestor lists.
const PROSE_EDGE_CHARACTERS: usize = 1_000;
/// Characters kept from the end of a buggy ancestor's output.
const ANCESTOR_OUTPUT_CHARACTERS: usize = 1_500;

/// Why the prompt templates cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    #[error("{path}: cannot read the prompt template: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "{path}: not a prompt template of ml-master\nhint: the templates are {names}; copy one from crates/mlm-coder/prompts/ and edit it"
    )]
    UnknownTemplate { path: PathBuf, names: String },
    #[error("{name}: the prompt template is invalid: {reason}\nhint: check its minijinja syntax against crates/mlm-coder/prompts/{name}")]
    Invalid { name: String, reason: String },
}

/// The loaded templates.
#[derive(Debug)]
pub struct Prompts {
    environment: Environment<'static>,
}

impl Prompts {
    /// The built-in templates, with any file of `override_dir` replacing the template of its name.
    pub fn load(override_dir: Option<&Path>) -> Result<Prompts, PromptError> {
        let mut sources: Vec<(String, String)> = TEMPLATES
            .iter()
            .map(|(name, source)| (name.to_string(), source.to_string()))
            .collect();
        if let Some(dir) = override_dir {
            let entries = std::fs::read_dir(dir).map_err(|error| PromptError::Unreadable {
                path: dir.to_path_buf(),
                reason: error.to_string(),
            })?;
            for entry in entries {
                let path = entry
                    .map_err(|error| PromptError::Unreadable {
                        path: dir.to_path_buf(),
                        reason: error.to_string(),
                    })?
                    .path();
                let name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let Some(slot) = sources.iter_mut().find(|(known, _)| *known == name) else {
                    return Err(PromptError::UnknownTemplate {
                        path,
                        names: TEMPLATES
                            .iter()
                            .map(|(name, _)| *name)
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                };
                slot.1 =
                    std::fs::read_to_string(&path).map_err(|error| PromptError::Unreadable {
                        path: path.clone(),
                        reason: error.to_string(),
                    })?;
            }
        }
        let mut environment = Environment::new();
        // A misspelt variable in a user's template is an error, not silently empty text.
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_keep_trailing_newline(true);
        for (name, source) in sources {
            environment
                .add_template_owned(name.clone(), source)
                .map_err(|error| PromptError::Invalid {
                    name,
                    reason: error.to_string(),
                })?;
        }
        Ok(Prompts { environment })
    }

    /// Renders the template `name` with `context`.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<String, PromptError> {
        let invalid = |error: minijinja::Error| PromptError::Invalid {
            name: name.to_string(),
            reason: format!("{error:#}"),
        };
        let template = self.environment.get_template(name).map_err(invalid)?;
        let text = template.render(context).map_err(invalid)?;
        Ok(text.trim().to_string() + "\n")
    }

    /// The script a draft prompt offers to start from (`_starting_script.py.j2`), or `None` for a task it
    /// does not fit (several target columns, a metric scikit-learn does not compute on one column).
    pub fn starting_script(&self, task: &TaskBrief) -> Result<Option<String>, PromptError> {
        let Some(starting_script) = StartingScriptContext::new(task) else {
            return Ok(None);
        };
        #[derive(Serialize)]
        struct Context<'a> {
            task: TaskContext<'a>,
            starting_script: StartingScriptContext,
        }
        let context = Context {
            task: TaskContext::new(task),
            starting_script,
        };
        self.render("_starting_script.py.j2", &context).map(Some)
    }
}

/// How the code model is asked: ordinary chat messages, or ML-Master's steerable reasoning (the
/// completions API with the reasoning pre-filled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptMode {
    Chat,
    Steerable,
}

#[derive(Debug, Serialize)]
pub(crate) struct TaskContext<'a> {
    competition_id: &'a str,
    description: &'a str,
    data_preview: &'a str,
    metric: String,
    lower_is_better: bool,
    id_column: &'a str,
    target_columns: &'a [String],
    sample_submission_file: &'a str,
    hardware: &'a str,
    installed_packages: &'a [String],
    /// `[builtin] text_model`, which the task section names when it is set.
    text_model: Option<String>,
    /// The headers of `train.csv` and `test.csv`, empty when the file is not a readable CSV: small
    /// models write the columns of a famous version of a data set unless told these are all.
    train_columns: &'a [String],
    test_columns: &'a [String],
}

impl<'a> TaskContext<'a> {
    pub(crate) fn new(task: &'a TaskBrief) -> Self {
        TaskContext {
            competition_id: &task.competition_id,
            description: &task.description,
            data_preview: &task.data_preview,
            metric: task.metric.name(),
            lower_is_better: task.metric.lower_is_better(),
            id_column: &task.id_column,
            target_columns: &task.target_columns,
            sample_submission_file: &task.sample_submission_file,
            hardware: &task.hardware,
            installed_packages: &task.installed_packages,
            text_model: task
                .text_model
                .as_ref()
                .map(|path| path.display().to_string()),
            train_columns: task
                .train_sample
                .as_ref()
                .map_or(&[], |table| table.headers.as_slice()),
            test_columns: task
                .test_sample
                .as_ref()
                .map_or(&[], |table| table.headers.as_slice()),
        }
    }
}

#[derive(Debug, Serialize)]
struct BudgetContext {
    time_remaining: String,
    steps_remaining: u32,
    node_timeout: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct NodeContext {
    plan: String,
    code: String,
    output: String,
    output_tail: String,
    status: &'static str,
    duration: String,
    metric: Option<f64>,
    summary: String,
    validation_message: Option<String>,
}

impl NodeContext {
    pub(crate) fn new(node: &NodeView) -> Self {
        NodeContext {
            plan: head_and_tail(&node.plan, PROSE_EDGE_CHARACTERS, Cut::Prose),
            code: head_and_tail(&node.code, CODE_EDGE_CHARACTERS, Cut::Code),
            output: trim_output(&node.output),
            output_tail: tail(&node.output, ANCESTOR_OUTPUT_CHARACTERS),
            status: node.status.name(),
            duration: human_duration(node.duration),
            metric: node.metric,
            summary: head_and_tail(&node.summary, PROSE_EDGE_CHARACTERS, Cut::Prose),
            validation_message: node.validation_message.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct MemoryContext {
    plan: String,
    summary: String,
    metric: Option<f64>,
    buggy: bool,
}

/// What the draft, improve, debug and think templates see.
#[derive(Debug, Serialize)]
pub(crate) struct ProposalContext<'a> {
    stage: &'static str,
    mode: PromptMode,
    task: TaskContext<'a>,
    budget: BudgetContext,
    memory: Vec<MemoryContext>,
    parent: Option<NodeContext>,
    ancestors: Vec<NodeContext>,
    /// What the harness reads in a debugged parent's error (see `hints`).
    hints: Vec<String>,
    /// Why an improved parent's validation score is too perfect to trust (MLE-STAR's leakage check):
    /// the improve becomes a check for leakage.
    suspicion: Option<String>,
    /// The script a draft starts from, where the task fits one (see `starting_script`).
    starting_script: Option<StartingScriptContext>,
}

impl<'a> ProposalContext<'a> {
    /// `starting_script` is the draft prompt's script for this task (`Prompts::starting_script`), which
    /// a debug's hints quote.
    pub(crate) fn new(
        task: &'a TaskBrief,
        request: &'a ProposalRequest,
        mode: PromptMode,
        starting_script: Option<&str>,
    ) -> Self {
        ProposalContext {
            stage: request.stage.name(),
            mode,
            task: TaskContext::new(task),
            budget: BudgetContext {
                time_remaining: human_duration(request.budget.time_remaining),
                steps_remaining: request.budget.steps_remaining,
                node_timeout: human_duration(request.budget.node_timeout),
            },
            memory: request.memory.iter().map(memory_context).collect(),
            parent: request.parent.as_ref().map(NodeContext::new),
            ancestors: request
                .buggy_ancestors
                .iter()
                .map(NodeContext::new)
                .collect(),
            hints: match (&request.parent, request.stage == Stage::Debug) {
                (Some(parent), true) => debug_hints(parent, task, starting_script),
                _ => Vec::new(),
            },
            suspicion: request
                .parent
                .as_ref()
                .filter(|_| request.stage == Stage::Improve)
                .and_then(|parent| parent.metric)
                .and_then(|value| Metric::new(value, task.direction()).suspicion()),
            starting_script: match request.stage {
                Stage::Draft => StartingScriptContext::new(task),
                Stage::Improve | Stage::Debug => None,
            },
        }
    }
}

fn memory_context(entry: &MemoryEntry) -> MemoryContext {
    MemoryContext {
        plan: head_and_tail(&entry.plan, PROSE_EDGE_CHARACTERS, Cut::Prose),
        summary: head_and_tail(&entry.summary, PROSE_EDGE_CHARACTERS, Cut::Prose),
        metric: entry.metric,
        buggy: entry.buggy,
    }
}

/// The first and last [`OUTPUT_EDGE_CHARACTERS`] of a script's output, so a prompt stays bounded.
pub(crate) fn trim_output(output: &str) -> String {
    head_and_tail(output, OUTPUT_EDGE_CHARACTERS, Cut::Output)
}

/// What kind of text is cut, which decides how the cut is marked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cut {
    /// A script's output: the marker stands on its own line.
    Output,
    /// A Python script: the marker is a comment line, so a model that copies it writes valid Python.
    Code,
    /// A plan, a summary or a reply quoted in a sentence.
    Prose,
}

/// The first and last `edge` characters of `text`, with a marker saying how many were cut between
/// them; `text` itself when it is at most twice `edge` long.
pub(crate) fn head_and_tail(text: &str, edge: usize, cut: Cut) -> String {
    let count = text.chars().count();
    if count <= 2 * edge {
        return text.to_string();
    }
    let head: String = text.chars().take(edge).collect();
    let tail: String = text.chars().skip(count - edge).collect();
    let dropped = count - 2 * edge;
    match cut {
        Cut::Output => format!("{head}\n[... {dropped} characters omitted ...]\n{tail}"),
        Cut::Code => format!(
            "{head}\n# [... {dropped} characters of this script cut here to keep the prompt short ...]\n{tail}"
        ),
        Cut::Prose => format!("{head} [... {dropped} characters cut ...] {tail}"),
    }
}

fn tail(output: &str, characters: usize) -> String {
    let count = output.chars().count();
    output
        .chars()
        .skip(count.saturating_sub(characters))
        .collect()
}

/// "1 hour 5 minutes", "42 seconds": how ML-Master states budgets to the model.
pub(crate) fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let unit =
        |value: u64, name: &str| format!("{value} {name}{}", if value == 1 { "" } else { "s" });
    match (hours, minutes) {
        (0, 0) => unit(seconds, "second"),
        (0, _) => unit(minutes, "minute"),
        (_, 0) => unit(hours, "hour"),
        (_, _) => format!("{} {}", unit(hours, "hour"), unit(minutes, "minute")),
    }
}
