//! A thin HTTP client for language models: OpenAI-compatible chat completions (with tools and
//! streaming) against any base URL, legacy `/completions` for "steerable reasoning" (the chat rendered
//! with a chat template and the reasoning prefilled), and Anthropic's messages API (tool use, extended
//! thinking, prompt caching, streaming). It owns retries with backoff, the rate limit, timeouts, the
//! classification of errors, token and cost accounting, and the [`Exchange`] record a journal stores
//! about each call.
//!
//! Two layers below the [`Client`], neither importing the other's internals: `transport` (rate limit,
//! retries, timeouts, event-stream framing; neutral about providers) and `wire` (typed request and reply
//! structs per provider, stream assembly, error bodies; no I/O). The client joins them.
//!
//! It knows nothing about prompts, trees or tasks: callers hand it messages and tools and get text,
//! reasoning, tool calls and why the reply ended back. Replies are returned exactly as the server sent
//! them. The API key is read from the environment once and never appears in errors, logs or `Debug`
//! output.

mod client;
mod config;
mod error;
mod template;
mod transport;
mod types;
mod wire;

pub use client::Client;
pub use config::{
    ChatTemplate, ClientConfig, OutputLimitParameter, Price, Provider, RetryPolicy, Timeouts,
    Transport, DEFAULT_MAX_TOKENS,
};
pub use error::{Error, Result};
pub use types::{
    CacheMark, ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, Endpoint,
    Exchange, FinishReason, Message, Resample, Role, ToolCall, ToolChoice, ToolDefinition, Usage,
};
