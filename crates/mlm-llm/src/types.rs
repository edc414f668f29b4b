//! The provider-neutral request and reply types: messages, tools, tool calls, usage, and the
//! [`Exchange`] record a journal keeps about one call.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Who speaks a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The wire name: `system`, `user` or `assistant`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// Whether a prompt cache may end after a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMark {
    /// No breakpoint here.
    #[default]
    Unmarked,
    /// A cache breakpoint at the end of this message: Anthropic requests mark its content block
    /// `cache_control: {"type": "ephemeral"}`, so the prompt up to here is cached. OpenAI-compatible
    /// servers cache shared prefixes on their own and are sent nothing.
    Breakpoint,
}

impl CacheMark {
    fn is_unmarked(&self) -> bool {
        match self {
            CacheMark::Unmarked => true,
            CacheMark::Breakpoint => false,
        }
    }
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// A prompt-cache breakpoint after this message. Default: none.
    #[serde(default, skip_serializing_if = "CacheMark::is_unmarked")]
    pub cache: CacheMark,
}

impl Message {
    #[must_use]
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
            cache: CacheMark::Unmarked,
        }
    }

    #[must_use]
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
            cache: CacheMark::Unmarked,
        }
    }

    #[must_use]
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
            cache: CacheMark::Unmarked,
        }
    }

    /// The message with a prompt-cache breakpoint after it (see [`CacheMark::Breakpoint`]).
    #[must_use]
    pub fn with_cache_breakpoint(self) -> Self {
        Self {
            cache: CacheMark::Breakpoint,
            ..self
        }
    }
}

/// A function the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// Whether the model chooses among the tools or must call one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoice {
    /// The model decides (ignored when there are no tools). OpenAI-compatible requests leave
    /// `tool_choice` out (the API's default is `auto`); Anthropic requests send `{"type": "auto"}`.
    #[default]
    Auto,
    /// The model must call the named tool. Anthropic refuses forced tool use with extended thinking:
    /// then `auto` is sent instead.
    Forced(String),
}

/// Sampling of one request that differs from the configured one: a caller whose request got an
/// unusable reply asks again with another seed or a higher temperature, so the same body is never sent
/// twice to a server that answers it the same way. Default: the configured sampling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resample {
    /// Sent as `seed` to OpenAI-compatible servers (vLLM, llama.cpp, Ollama and OpenAI honour it);
    /// Anthropic has no seed and is sent none.
    pub seed: Option<u64>,
    /// Replaces the configured temperature (ignored with Anthropic extended thinking, which takes
    /// none).
    pub temperature: Option<f64>,
}

/// One chat call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolDefinition>,
    pub tool_choice: ToolChoice,
    /// Default: the configured sampling.
    #[serde(default)]
    pub resample: Resample,
}

impl ChatRequest {
    /// A request with these messages, no tools.
    #[must_use]
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            resample: Resample::default(),
        }
    }
}

/// A tool call the model made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as raw JSON text, as the model sent it (not validated).
    pub arguments: String,
}

impl ToolCall {
    /// Parses the arguments into `T`.
    ///
    /// # Errors
    /// [`Error::Malformed`] when the text is not JSON or does not fit `T`.
    pub fn parse_arguments<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.arguments).map_err(|error| Error::Malformed {
            context: format!("arguments of tool call `{}` ({})", self.name, self.id),
            problem: error.to_string(),
        })
    }
}

/// Tokens and money spent by one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Every prompt token, those read from and written to the provider's prompt cache included
    /// (Anthropic counts them apart: they are added here).
    pub prompt_tokens: u64,
    /// The part of `prompt_tokens` read from the prompt cache (OpenAI
    /// `prompt_tokens_details.cached_tokens`, DeepSeek `prompt_cache_hit_tokens`, Anthropic
    /// `cache_read_input_tokens`).
    #[serde(default)]
    pub cached_prompt_tokens: u64,
    /// Generated tokens, reasoning included.
    pub completion_tokens: u64,
    /// From [`crate::Price`].
    pub cost_usd: f64,
}

/// Why the model stopped writing, as the server reported it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its reply (OpenAI `stop`, Anthropic `end_turn` and `stop_sequence`).
    Complete,
    /// Cut at the output limit (`finish_reason: "length"`, Anthropic `stop_reason: "max_tokens"`): the
    /// text ends mid-way.
    OutputLimit,
    /// Stopped to call tools (`tool_calls`, `function_call`, Anthropic `tool_use`).
    ToolCalls,
    /// Withheld by the provider (`content_filter`, Anthropic `refusal`).
    ContentFilter,
    /// A reason this client does not know, as the server wrote it.
    Other(String),
    /// The server gave none.
    Unreported,
}

/// Which endpoint a call goes to, for [`crate::Client::probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// [`crate::Client::chat`]: `/chat/completions`, or Anthropic's `/messages`.
    Chat,
    /// [`crate::Client::complete`]: `/completions` (steerable reasoning).
    Completions,
}

/// What a journal stores about one call. Holds no headers, so the request never holds the key; the
/// response is what the server sent, unaltered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The JSON body sent.
    pub request: serde_json::Value,
    /// The JSON body received; for a streamed reply, an object shaped like a whole reply assembled
    /// from its events.
    pub response: serde_json::Value,
    /// Duration of the successful attempt, from sending to the last byte (written as seconds).
    #[serde(with = "crate::config::seconds")]
    pub latency: Duration,
    /// Attempts made, 1 when no retry was needed.
    pub attempts: u32,
}

/// The reply to a [`ChatRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The answer text, without any leading `<think>…</think>` block; empty when the model only called
    /// tools.
    pub content: String,
    /// The reasoning, when the server returned any (a `reasoning_content`/`reasoning` field, a
    /// `<think>` block, or Anthropic thinking blocks).
    pub reasoning: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    /// Why the reply ended; [`FinishReason::OutputLimit`] when it was cut at `max_tokens`.
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub exchange: Exchange,
}

/// A "steerable reasoning" completion: the chat is rendered with the chat template, then
/// `"<think>\n" + thinking_prefill` is appended and the model continues the reasoning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    pub messages: Vec<Message>,
    /// The start of the reasoning, written for the model.
    pub thinking_prefill: String,
    /// Default: the configured sampling.
    #[serde(default)]
    pub resample: Resample,
}

/// The reply to a [`CompletionRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// `thinking_prefill` + the generated text before the first `</think>`; everything when there is
    /// none.
    pub reasoning: String,
    /// The generated text after the first `</think>`, trimmed; empty when there is none (treat that as
    /// a malformed reply).
    pub answer: String,
    /// Why the generation ended; [`FinishReason::OutputLimit`] when it was cut at `max_tokens` (often
    /// before `</think>`, leaving the answer empty).
    pub finish_reason: FinishReason,
    pub usage: Usage,
    pub exchange: Exchange,
}
