//! Improves: one atomic change to the parent's options, read back from the parent's first line.
//! Changes the memory (the parent's other children) shows were tried are skipped. Under the planned
//! choice (the default), settings whose change made a sibling worse (or buggy) wait until the others
//! are tried and changes the time budget cannot afford are left out; in order, the first untried change
//! of the family's list is taken, as a baseline for `bench --ablate moves`. Siblings being written in
//! parallel take the next changes down the list.

use std::collections::BTreeSet;

use super::draft;
use super::family::Family;
use super::moves::{candidates, Move, Setting};
use super::options::ScriptOptions;
use super::schema::TaskSchema;
use super::ImproveChoice;
use crate::operator::{CoderError, MemoryEntry, NodeView, ProposalRequest};

/// How plans record their change, for later siblings and children to read:
/// `[option learning_rate = 0.025, was 0.05]`.
const TAG_PREFIX: &str = "[option ";
/// A child may take at most this share of the node timeout, judged from the parent's run time.
const TIMEOUT_SHARE: f64 = 0.6;

/// The plan and options of an improvement of `request.parent`.
pub(crate) fn propose(
    schema: &TaskSchema,
    request: &ProposalRequest,
    choice: ImproveChoice,
) -> Result<(String, ScriptOptions), CoderError> {
    let parent = request
        .parent
        .as_ref()
        .ok_or_else(|| CoderError::failed("an improve needs the node to improve".to_string()))?;
    let Some(options) = ScriptOptions::from_code(&parent.code) else {
        return Ok(restart(schema, parent));
    };
    let tried = tried_changes(&request.memory);
    // Undoing the parent's own change would rebuild its parent.
    let undo = change_of(&parent.plan).and_then(|change| Some((change.key, change.from?)));
    let untried: Vec<Move> = candidates(&options, schema)
        .into_iter()
        .filter(|candidate| {
            let change = (candidate.setting.key().to_string(), candidate.to.clone());
            !tried.contains(&change) && undo.as_ref() != Some(&change)
        })
        .collect();
    let mut ranked = match choice {
        ImproveChoice::Planned => planned(untried, parent, request, schema),
        ImproveChoice::InOrder => untried,
    };
    if ranked.is_empty() {
        return Err(CoderError::failed(format!(
            "every change the built-in coder knows has been tried on node {}",
            parent.node
        )));
    }
    // Improves of the same parent being written in parallel take the next moves, one each.
    let pick = (request.siblings_being_written as usize).min(ranked.len() - 1);
    let chosen = ranked.swap_remove(pick);
    Ok((plan(&options, &chosen), chosen.options))
}

/// The untried moves the run can afford, one knob at a time: the setting the parent itself just
/// changed waits behind the others, and a setting whose change hurt a sibling waits longest. When none
/// is affordable, the cheapest untried one is the best left.
fn planned(
    untried: Vec<Move>,
    parent: &NodeView,
    request: &ProposalRequest,
    schema: &TaskSchema,
) -> Vec<Move> {
    let hurt = hurt_settings(&request.memory, parent, schema.metric.lower_is_better());
    let affordable = |candidate: &Move| {
        let expected = parent.duration.as_secs_f64() * candidate.cost;
        expected <= request.budget.node_timeout.as_secs_f64() * TIMEOUT_SHARE
            && expected <= request.budget.time_remaining.as_secs_f64()
    };
    let mut ranked: Vec<Move> = untried
        .iter()
        .filter(|candidate| affordable(candidate))
        .cloned()
        .collect();
    if ranked.is_empty() {
        ranked = untried;
        ranked.sort_by(|left, right| left.cost.total_cmp(&right.cost));
        ranked.truncate(1);
    }
    // Stable: the priority order holds within each group.
    let parent_setting = change_of(&parent.plan).and_then(|change| Setting::from_key(&change.key));
    ranked.sort_by_key(|candidate| {
        (
            hurt.contains(&candidate.setting),
            parent_setting == Some(candidate.setting),
        )
    });
    ranked
}

fn plan(parent: &ScriptOptions, chosen: &Move) -> String {
    format!(
        "Improve: {}. Everything else in the {} script stays as it was. {TAG_PREFIX}{} = {}, was {}]",
        capitalised(&chosen.description),
        parent.family.plan_name(),
        chosen.setting.key(),
        chosen.to,
        chosen.from
    )
}

/// The parent was not written by the built-in coder: start from a fresh script of the family its
/// plan names (or the strongest for the task).
fn restart(schema: &TaskSchema, parent: &NodeView) -> (String, ScriptOptions) {
    let family = Family::named_in(&parent.plan)
        .unwrap_or(Family::strength_order(schema.modality, schema.problem())[0]);
    let options = ScriptOptions::draft(family, schema);
    let plan = format!(
        "{} Improve: node {} was not written by the built-in coder, so its settings cannot be read back; this is a fresh script of the same family.",
        draft::describe(schema, &options),
        parent.node
    );
    (plan, options)
}

/// The (setting, value) changes that the memory's plans record.
fn tried_changes(memory: &[MemoryEntry]) -> BTreeSet<(String, String)> {
    memory
        .iter()
        .filter_map(|entry| change_of(&entry.plan))
        .map(|change| (change.key, change.to))
        .collect()
}

/// A change an improve's plan records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedChange {
    pub(crate) key: String,
    pub(crate) to: String,
    /// The value before, when the plan says (`, was …`).
    pub(crate) from: Option<String>,
}

/// Reads `[option KEY = VALUE, was OLD]` (or `[option KEY = VALUE]`) from a plan.
pub(crate) fn change_of(plan: &str) -> Option<RecordedChange> {
    let start = plan.rfind(TAG_PREFIX)? + TAG_PREFIX.len();
    let rest = &plan[start..];
    let inner = &rest[..rest.rfind(']')?];
    let (key, values) = inner.split_once(" = ")?;
    let (to, from) = match values.rsplit_once(", was ") {
        Some((to, from)) => (to, Some(from.trim().to_string())),
        None => (values, None),
    };
    Some(RecordedChange {
        key: key.trim().to_string(),
        to: to.trim().to_string(),
        from,
    })
}

/// Settings whose change made a sibling buggy or worse than the parent.
fn hurt_settings(
    memory: &[MemoryEntry],
    parent: &NodeView,
    lower_is_better: bool,
) -> BTreeSet<Setting> {
    memory
        .iter()
        .filter(|entry| {
            entry.buggy
                || match (entry.metric, parent.metric) {
                    (Some(child), Some(parent)) => match lower_is_better {
                        true => child > parent,
                        false => child < parent,
                    },
                    (None, _) => true,
                    (Some(_), None) => false,
                }
        })
        .filter_map(|entry| change_of(&entry.plan))
        .filter_map(|change| Setting::from_key(&change.key))
        .collect()
}

fn capitalised(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}
