//! A thin HTTP client for language models: OpenAI-compatible chat completions (with tools and
//! streaming) against any base URL, legacy `/completions` for "steerable reasoning" (the chat rendered
//! with a chat template and the reasoning prefilled), and Anthropic's messages API (tool use, extended
//! thinking, streaming). It owns retries with backoff, the rate limit, timeouts, token and cost accounting, and the
//! [`Exchange`] record a journal stores about each call.
//!
//! It knows nothing about prompts, trees or tasks: callers hand it messages and tools and get text,
//! reasoning and tool calls back. The API key is read from the environment once and never appears in
//! exchanges, errors, logs or `Debug` output.

mod anthropic;
mod client;
mod config;
mod error;
mod openai;
mod retry;
mod stream;
mod template;
mod types;

pub use client::Client;
pub use config::{ChatTemplate, ClientConfig, Price, Provider, RetryPolicy, Timeouts, Transport};
pub use error::{Error, Result};
pub use types::{
    ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, Exchange, Message, Role,
    ToolCall, ToolChoice, ToolDefinition, Usage,
};
