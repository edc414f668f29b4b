//! What the workers of a run share and change: the search, the journal, the completed nodes, the budget
//! counters and the proposals in flight. It lives behind one lock ([`crate::context::RunContext`]), so
//! a change that spans several of them (a node entering the tree, the journal and the memory) is one
//! critical section, and there is no lock order to get wrong. Nothing here awaits.

use chrono::Utc;
use mlm_coder::{ModelCall, TokenUsage};
use mlm_journal::{Journal, LlmCallRecord, NodeEntry};
use mlm_search::{ExpansionId, NodeId, Search, WorkerId};
use std::collections::{BTreeSet, HashMap};

use crate::error::Result;
use crate::memory::PendingProposal;
use crate::settings::Measured;

/// Budget counters across the run (and its earlier sessions).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    /// Completed nodes.
    pub steps_done: u32,
    /// Expansions reserved and not yet completed or abandoned.
    pub steps_in_flight: u32,
    pub prompt_tokens: u64,
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// Seconds the coder took to write the completed nodes' scripts, summed.
    pub propose_seconds: f64,
    /// Seconds the completed nodes' scripts ran, summed.
    pub execute_seconds: f64,
}

impl Counters {
    /// The counters of a journal: its nodes, and the model calls of proposals that failed (which cost
    /// tokens but made no node).
    pub fn from_journal<'a>(
        entries: impl Iterator<Item = &'a NodeEntry>,
        calls: &[LlmCallRecord],
    ) -> Counters {
        let mut counters = entries.fold(Counters::default(), |mut counters, entry| {
            counters.completed(entry.propose_seconds, entry.execute_seconds);
            counters.add_usage(TokenUsage {
                prompt_tokens: entry.prompt_tokens,
                cached_prompt_tokens: entry.cached_prompt_tokens,
                completion_tokens: entry.completion_tokens,
                cost_usd: entry.cost_usd,
            });
            counters
        });
        for call in calls.iter().filter(|call| call.node.is_none()) {
            counters.add_usage(TokenUsage {
                prompt_tokens: call.prompt_tokens,
                cached_prompt_tokens: call.cached_prompt_tokens,
                completion_tokens: call.completion_tokens,
                cost_usd: call.cost_usd,
            });
        }
        counters
    }

    pub fn add_usage(&mut self, usage: TokenUsage) {
        self.prompt_tokens += usage.prompt_tokens;
        self.cached_prompt_tokens += usage.cached_prompt_tokens;
        self.completion_tokens += usage.completion_tokens;
        self.cost_usd += usage.cost_usd;
    }

    /// Counts a completed node that took `propose_seconds` to write and `execute_seconds` to run.
    pub fn completed(&mut self, propose_seconds: f64, execute_seconds: f64) {
        self.steps_done += 1;
        self.propose_seconds += propose_seconds;
        self.execute_seconds += execute_seconds;
    }

    /// What the completed nodes measured, once there is one.
    pub fn measured(&self) -> Option<Measured> {
        let nodes = match self.steps_done {
            0 => return None,
            nodes => f64::from(nodes),
        };
        let tokens_spent = self.prompt_tokens + self.completion_tokens;
        Some(Measured {
            propose_seconds: self.propose_seconds / nodes,
            execute_seconds: self.execute_seconds / nodes,
            tokens_per_node: tokens_spent as f64 / nodes,
            cost_per_node: self.cost_usd / nodes,
            tokens_spent,
            cost_spent: self.cost_usd,
        })
    }

    /// Steps neither done nor in flight, out of `steps`.
    pub fn steps_remaining(&self, steps: u32) -> u32 {
        steps.saturating_sub(self.steps_done + self.steps_in_flight)
    }
}

/// Where a proposal in flight stands, as its siblings' memory sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ProposalInFlight {
    /// The coder is writing it; the parent it expands.
    Writing { parent: Option<NodeId> },
    /// Written and not yet a node: siblings are told its plan so they do not repeat it.
    Written(PendingProposal),
}

/// The run's shared state; see the module documentation.
pub(crate) struct RunState {
    pub search: Search,
    pub journal: Journal,
    /// Every completed node, by id: what memory and debug prompts are built from.
    pub entries: HashMap<NodeId, NodeEntry>,
    pub counters: Counters,
    /// Proposals a coder is writing or has written that are not yet nodes, by expansion.
    pub proposals: HashMap<ExpansionId, ProposalInFlight>,
    /// The latest proposals of the run, all failed the same way; empty once one succeeds.
    pub failure_streak: FailureStreak,
    /// Workers waiting between two trajectories because fewer are wanted (`workers = "auto"`); they
    /// hold no expansion, position or draft lock.
    pub parked: BTreeSet<WorkerId>,
}

/// Proposals in a row, across workers, that failed with the same kind of cause.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FailureStreak {
    /// The kind of cause (`FailureCause::kind`); `None` when the last proposal succeeded.
    pub kind: Option<&'static str>,
    pub proposals: u32,
}

impl FailureStreak {
    /// Counts a failure of `kind`; returns how many proposals in a row have now failed that way.
    pub fn failed(&mut self, kind: &'static str) -> u32 {
        if self.kind == Some(kind) {
            self.proposals += 1;
        } else {
            self.kind = Some(kind);
            self.proposals = 1;
        }
        self.proposals
    }
}

impl RunState {
    /// Journals what the search changed since the last call, so records reach the journal in the order
    /// the search produced them.
    pub fn journal_search_records(&mut self) -> Result<()> {
        let records = self.search.take_records();
        self.journal.record_search_records(&records)?;
        Ok(())
    }

    /// Journals model calls, with the node they produced once it exists. A journal that cannot take
    /// them loses a transcript, never the run.
    pub fn record_calls(&self, node: Option<NodeId>, calls: &[ModelCall]) {
        for call in calls {
            let record = LlmCallRecord {
                node,
                purpose: call.purpose.name().to_string(),
                model: call.model.clone(),
                request_json: call.request.to_string(),
                response_json: call.response.to_string(),
                reasoning: call.reasoning.clone(),
                prompt_tokens: call.usage.prompt_tokens,
                cached_prompt_tokens: call.usage.cached_prompt_tokens,
                completion_tokens: call.usage.completion_tokens,
                latency_seconds: call.latency.as_secs_f64(),
                cost_usd: call.usage.cost_usd,
                created_at: Utc::now(),
            };
            if let Err(error) = self.journal.record_llm_call(&record) {
                tracing::warn!("cannot journal a model call: {error}");
            }
        }
    }
}
