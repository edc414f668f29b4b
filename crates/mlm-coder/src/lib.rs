//! Operators: the part of the agent that writes code. Given what the search decided (draft, improve
//! or debug, and from which node) and a selectively scoped memory of what nearby branches tried, a
//! [`Coder`] proposes a plan and a complete Python script; given a finished run, it reviews it into
//! a verdict and a short summary that later prompts remember.
//!
//! [`LlmCoder`] implements it on language models through `mlm-llm`, with prompts from minijinja
//! templates a user can override. [`BuiltinCoder`] implements it without any language model: it renders
//! scripts from templates and changes one option at a time.
//!
//! This crate refuses to run anything: the engine executes scripts and hands the results back.

pub mod builtin;
pub mod llm;
mod operator;

pub use builtin::{BuiltinCoder, FoldDesign, ImproveChoice};
pub use llm::{LlmCoder, LlmOptions, PromptError, PromptMode, Prompts, ReviewFormat};
pub use operator::{
    Budget, CallPurpose, CodeProblem, Coder, CoderError, ExecutionStatus, FailureCause,
    MemoryEntry, ModelCall, NodeView, Proposal, ProposalRequest, Review, ReviewRequest,
    SyntaxCheck, SyntaxError, TaskBrief, TokenUsage,
};
