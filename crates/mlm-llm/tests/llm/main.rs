//! Integration tests of the LLM client against a fake server (wiremock) scripted per test; each test
//! asserts on the requests the client sent as well as on what it returned.

#![expect(clippy::unwrap_used, reason = "test helpers panic on setup failures")]

mod anthropic;
mod anthropic_streaming;
mod caching;
mod completions;
mod faults;
mod openai_chat;
mod output_limit;
mod passthrough;
mod probe;
mod rate_limit;
mod refusals;
mod secrets;
mod streaming;
mod support;
