//! The LLM coder against fake OpenAI-compatible servers: its prompts, snapshot-tested, and what it does
//! with the replies real models give.

#![expect(
    clippy::unwrap_used,
    reason = "a failed step should fail the test loudly"
)]

mod prompts;
mod replies;
mod support;
