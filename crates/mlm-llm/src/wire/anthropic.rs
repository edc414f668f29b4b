//! Anthropic's messages API: the body of `POST /messages`, its reply (whole, or assembled from its
//! server-sent events by [`super::anthropic_stream`]) and how to read it.
//!
//! System messages are joined (blank line between) into the top-level `system` field. `max_tokens` is
//! required by Anthropic and always sent. With extended thinking on, `temperature` is omitted and a
//! forced tool choice is sent as `auto` (Anthropic refuses forced tool use while thinking). A message
//! marked with a cache breakpoint is sent as a text block with `cache_control: {"type": "ephemeral"}`
//! (and the system prompt, when one of its messages is marked, as one block per message).
//! [`crate::Transport::Streamed`] sends `"stream": true`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use super::anthropic_stream::MessageAssembly;
use super::{errors, malformed, ChatReply};
use crate::config::{ClientConfig, Price};
use crate::error::Result;
use crate::types::{
    CacheMark, ChatRequest, FinishReason, Message, Role, ToolCall, ToolChoice, Usage,
};

/// The `anthropic-version` header sent with every request.
pub(crate) const API_VERSION: &str = "2023-06-01";

/// A text, or text blocks when one carries a cache breakpoint.
#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(String),
    Blocks(Vec<TextBlock<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "text")]
struct TextBlock<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum CacheControl {
    Ephemeral,
}

#[derive(Serialize)]
struct RequestMessage<'a> {
    role: &'static str,
    content: Content<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Thinking {
    Enabled { budget_tokens: u32 },
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    description: &'a str,
    input_schema: &'a Value,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum AnthropicToolChoice<'a> {
    Auto,
    Tool { name: &'a str },
}

/// The body of `POST /messages`.
#[derive(Serialize)]
pub(crate) struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<Content<'a>>,
    messages: Vec<RequestMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<AnthropicToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
}

fn block(message: &Message) -> TextBlock<'_> {
    TextBlock {
        text: &message.content,
        cache_control: match message.cache {
            CacheMark::Unmarked => None,
            CacheMark::Breakpoint => Some(CacheControl::Ephemeral),
        },
    }
}

fn is_marked(message: &&Message) -> bool {
    match message.cache {
        CacheMark::Unmarked => false,
        CacheMark::Breakpoint => true,
    }
}

impl<'a> MessagesRequest<'a> {
    /// `max_tokens` is the whole output limit, thinking included.
    pub(crate) fn new(config: &'a ClientConfig, request: &'a ChatRequest, max_tokens: u32) -> Self {
        let system: Vec<&Message> = request
            .messages
            .iter()
            .filter(|message| message.role == Role::System)
            .collect();
        let system = if system.is_empty() {
            None
        } else if system.iter().any(is_marked) {
            Some(Content::Blocks(system.into_iter().map(block).collect()))
        } else {
            let texts: Vec<&str> = system
                .iter()
                .map(|message| message.content.as_str())
                .collect();
            Some(Content::Text(texts.join("\n\n")))
        };
        let messages = request
            .messages
            .iter()
            .filter(|message| message.role != Role::System)
            .map(|message| RequestMessage {
                role: message.role.as_str(),
                content: match message.cache {
                    CacheMark::Unmarked => Content::Text(message.content.clone()),
                    CacheMark::Breakpoint => Content::Blocks(vec![block(message)]),
                },
            })
            .collect();
        let thinking = config
            .thinking_budget_tokens
            .map(|budget_tokens| Thinking::Enabled { budget_tokens });
        let tools: Vec<Tool<'a>> = request
            .tools
            .iter()
            .map(|tool| Tool {
                name: &tool.name,
                description: &tool.description,
                input_schema: &tool.parameters,
            })
            .collect();
        let tool_choice = (!tools.is_empty()).then(|| match (&request.tool_choice, &thinking) {
            (ToolChoice::Forced(name), None) => AnthropicToolChoice::Tool { name },
            (ToolChoice::Forced(_), Some(_)) | (ToolChoice::Auto, _) => AnthropicToolChoice::Auto,
        });
        MessagesRequest {
            model: &config.model,
            max_tokens,
            system,
            messages,
            temperature: request
                .resample
                .temperature
                .or(config.temperature)
                .filter(|_| thinking.is_none()),
            top_p: config.top_p,
            thinking,
            tools,
            tool_choice,
            stream: config.transport.streams().then_some(true),
        }
    }
}

/// A messages reply, whole or assembled from a stream. Unknown fields are ignored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct MessagesReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content: Option<Vec<ContentBlock>>,
    pub(super) stop_reason: Option<String>,
    pub(super) stop_sequence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) usage: Option<TokenCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<Value>,
}

/// A content block of a reply: `text`, `thinking`, `redacted_thinking`, `tool_use`, or a later kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ContentBlock {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) thinking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) input: Option<Value>,
}

/// Anthropic counts the prompt in three parts: uncached, written to the cache, read from it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct TokenCounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cache_creation_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cache_read_input_tokens: Option<u64>,
}

fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        None => FinishReason::Unreported,
        Some("end_turn" | "stop_sequence") => FinishReason::Complete,
        Some("max_tokens") => FinishReason::OutputLimit,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

/// Reads a messages reply: text blocks -> content, thinking blocks -> reasoning, `tool_use` blocks ->
/// tool calls with the input serialized as JSON text.
pub(crate) fn read_messages(url: &str, reply: &MessagesReply, price: &Price) -> Result<ChatReply> {
    if let Some(error) = reply.error.as_ref().filter(|error| !error.is_null()) {
        return Err(errors::reported_in_reply(url, error));
    }
    let blocks = reply
        .content
        .as_ref()
        .ok_or_else(|| malformed(url, "no `content` list in the reply"))?;
    let mut texts = Vec::new();
    let mut thoughts = Vec::new();
    let mut tool_calls = Vec::new();
    for (position, block) in blocks.iter().enumerate() {
        match block.kind.as_str() {
            "text" => texts.push(block.text.clone().unwrap_or_default()),
            "thinking" => thoughts.extend(block.thinking.clone().filter(|text| !text.is_empty())),
            "tool_use" => {
                let name = block
                    .name
                    .as_deref()
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| {
                        malformed(url, format!("tool_use block {position} has no name"))
                    })?;
                let input = block
                    .input
                    .clone()
                    .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
                tool_calls.push(ToolCall {
                    id: block.id.clone().unwrap_or_default(),
                    name: name.to_owned(),
                    arguments: input.to_string(),
                });
            }
            // redacted_thinking and later block kinds carry nothing readable.
            _ => {}
        }
    }
    let counts = reply.usage.clone().unwrap_or_default();
    let cached_prompt_tokens = counts.cache_read_input_tokens.unwrap_or(0);
    let prompt_tokens = counts.input_tokens.unwrap_or(0)
        + counts.cache_creation_input_tokens.unwrap_or(0)
        + cached_prompt_tokens;
    let completion_tokens = counts.output_tokens.unwrap_or(0);
    Ok(ChatReply {
        content: texts.concat(),
        reasoning: (!thoughts.is_empty()).then(|| thoughts.join("\n")),
        tool_calls,
        finish_reason: finish_reason(reply.stop_reason.as_deref()),
        usage: Usage {
            prompt_tokens,
            cached_prompt_tokens,
            completion_tokens,
            cost_usd: price.cost(prompt_tokens, completion_tokens),
        },
    })
}
