//! The built-in coder's behaviour through its public trait: drafts rotate through families,
//! improves change one option that the code's header records, debugs recognise failures, reviews
//! give verdicts.

mod debugs_and_reviews;
mod drafts_and_improves;
mod text_embeddings;

use std::collections::BTreeSet;

use super::family::Family;
use super::options::ScriptOptions;
use super::BuiltinCoder;
use crate::operator::{Coder, Proposal, ProposalRequest, TaskBrief};

pub(super) fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

pub(super) fn propose(task: &TaskBrief, request: &ProposalRequest) -> Proposal {
    block_on(BuiltinCoder::new().propose(task, request)).unwrap()
}

pub(super) fn family_of(proposal: &Proposal) -> Family {
    ScriptOptions::from_code(&proposal.code).unwrap().family
}

/// The header keys whose values differ between two option sets.
pub(super) fn changed_keys(before: &ScriptOptions, after: &ScriptOptions) -> BTreeSet<String> {
    let before = serde_json::to_value(before).unwrap();
    let after = serde_json::to_value(after).unwrap();
    let (before, after) = (before.as_object().unwrap(), after.as_object().unwrap());
    before
        .keys()
        .chain(after.keys())
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect()
}
