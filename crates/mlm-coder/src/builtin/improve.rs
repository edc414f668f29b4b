//! Improves: one atomic change to the parent's options, read back from the parent's first line. Changes
//! the memory (the parent's other children) shows were tried are skipped; settings whose change made a
//! sibling worse (or buggy) wait until the others are tried; changes the time budget cannot afford are
//! left out.

use std::collections::BTreeSet;

use super::draft;
use super::family::Family;
use super::moves::{candidates, Move, Setting};
use super::options::ScriptOptions;
use super::schema::TaskSchema;
use super::seeded_pick;
use crate::operator::{CoderError, MemoryEntry, NodeView, ProposalRequest};

/// How plans record their change, for later siblings to read: `[option learning_rate = 0.025]`.
const TAG_PREFIX: &str = "[option ";
/// A child may take at most this share of the node timeout, judged from the parent's run time.
const TIMEOUT_SHARE: f64 = 0.6;

/// The plan and options of an improvement of `request.parent`.
pub(crate) fn propose(
    schema: &TaskSchema,
    request: &ProposalRequest,
) -> Result<(String, ScriptOptions), CoderError> {
    let parent = request
        .parent
        .as_ref()
        .ok_or_else(|| CoderError::Failed("an improve needs the node to improve".to_string()))?;
    let Some(options) = ScriptOptions::from_code(&parent.code) else {
        return Ok(restart(schema, parent));
    };
    let tried = tried_changes(&request.memory);
    let hurt = hurt_settings(&request.memory, parent, schema.lower_is_better);
    let affordable = |candidate: &Move| {
        let expected = parent.duration.as_secs_f64() * candidate.cost;
        expected <= request.budget.node_timeout.as_secs_f64() * TIMEOUT_SHARE
            && expected <= request.budget.time_remaining.as_secs_f64()
    };
    let untried: Vec<Move> = candidates(&options, schema)
        .into_iter()
        .filter(|candidate| {
            !tried.contains(&(candidate.setting.key().to_string(), candidate.to.clone()))
        })
        .collect();
    let mut ranked: Vec<Move> = untried
        .iter()
        .filter(|candidate| affordable(candidate))
        .cloned()
        .collect();
    if ranked.is_empty() {
        // Nothing fits the budget: the cheapest untried change is the best left.
        ranked = untried.clone();
        ranked.sort_by(|left, right| left.cost.total_cmp(&right.cost));
        ranked.truncate(1);
    }
    // Stable: the priority order holds within each group.
    ranked.sort_by_key(|candidate| hurt.contains(&candidate.setting));
    if ranked.is_empty() {
        return Err(CoderError::Failed(format!(
            "every change the built-in coder knows has been tried on node {}",
            parent.node
        )));
    }
    let chosen = ranked.swap_remove(seeded_pick(request.seed, ranked.len()));
    Ok((plan(&options, &chosen), chosen.options))
}

fn plan(parent: &ScriptOptions, chosen: &Move) -> String {
    format!(
        "Improve: {}. Everything else in the {} script stays as it was. {TAG_PREFIX}{} = {}]",
        capitalised(&chosen.description),
        parent.family.plan_name(),
        chosen.setting.key(),
        chosen.to
    )
}

/// The parent was not written by the built-in coder: start from a fresh script of the family its plan
/// names (or the strongest for the task).
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
        .collect()
}

/// Reads `[option KEY = VALUE]` from a plan.
pub(crate) fn change_of(plan: &str) -> Option<(String, String)> {
    let start = plan.rfind(TAG_PREFIX)? + TAG_PREFIX.len();
    let rest = &plan[start..];
    let inner = &rest[..rest.rfind(']')?];
    let (key, value) = inner.split_once(" = ")?;
    Some((key.trim().to_string(), value.trim().to_string()))
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
        .filter_map(|(key, _)| Setting::from_key(&key))
        .collect()
}

fn capitalised(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}
