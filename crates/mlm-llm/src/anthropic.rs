//! Anthropic's messages API: the body of `POST /messages` and the reader of its reply (whole, or
//! assembled from its server-sent events by [`crate::stream`]).
//!
//! System messages are joined (blank line between) into the top-level `system` field. `max_tokens` is
//! required by Anthropic: unset, it is 8192, or the thinking budget + 8192 with thinking on. With
//! extended thinking on, `temperature` is omitted and a forced tool choice is sent as `auto` (Anthropic
//! refuses forced tool use while thinking). [`crate::Transport::Streamed`] sends `"stream": true`.

use serde_json::{json, Map, Value};

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::openai::ChatReply;
use crate::types::{ChatRequest, Role, ToolCall, ToolChoice, Usage};

/// The `anthropic-version` header sent with every request.
pub(crate) const API_VERSION: &str = "2023-06-01";

/// `max_tokens` when the config leaves it unset (beyond the thinking budget, when thinking is on).
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 8192;

/// The `max_tokens` sent.
pub(crate) fn max_tokens(config: &ClientConfig) -> u32 {
    config.max_tokens.unwrap_or_else(|| {
        config
            .thinking_budget_tokens
            .unwrap_or(0)
            .saturating_add(DEFAULT_MAX_TOKENS)
    })
}

/// The body of `POST /messages`.
pub(crate) fn messages_body(config: &ClientConfig, request: &ChatRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".to_owned(), json!(config.model));
    body.insert("max_tokens".to_owned(), json!(max_tokens(config)));
    if config.transport.streams() {
        body.insert("stream".to_owned(), json!(true));
    }
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|message| message.role == Role::System)
        .map(|message| message.content.as_str())
        .collect();
    if !system.is_empty() {
        body.insert("system".to_owned(), json!(system.join("\n\n")));
    }
    let messages: Vec<Value> = request
        .messages
        .iter()
        .filter(|message| message.role != Role::System)
        .map(|message| json!({"role": message.role.as_str(), "content": message.content}))
        .collect();
    body.insert("messages".to_owned(), Value::Array(messages));
    let thinking = config.thinking_budget_tokens;
    match thinking {
        Some(budget) => {
            body.insert(
                "thinking".to_owned(),
                json!({"type": "enabled", "budget_tokens": budget}),
            );
        }
        None => {
            if let Some(temperature) = config.temperature {
                body.insert("temperature".to_owned(), json!(temperature));
            }
        }
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        body.insert("tools".to_owned(), Value::Array(tools));
        let choice = match (&request.tool_choice, thinking) {
            (ToolChoice::Forced(name), None) => json!({"type": "tool", "name": name}),
            (ToolChoice::Forced(_), Some(_)) | (ToolChoice::Auto, _) => json!({"type": "auto"}),
        };
        body.insert("tool_choice".to_owned(), choice);
    }
    Value::Object(body)
}

fn malformed(url: &str, problem: impl Into<String>) -> Error {
    Error::Malformed {
        context: url.to_owned(),
        problem: problem.into(),
    }
}

/// Reads a messages reply: text blocks -> content, thinking blocks -> reasoning, `tool_use` blocks ->
/// tool calls with the input serialized as JSON text.
pub(crate) fn parse_messages(url: &str, body: &Value, price: &crate::Price) -> Result<ChatReply> {
    if let Some(error) = body.get("error").filter(|error| !error.is_null()) {
        return Err(malformed(
            url,
            format!(
                "the server reported an error: {}",
                crate::retry::short(&error.to_string())
            ),
        ));
    }
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed(url, "no `content` list in the reply"))?;
    let mut texts = Vec::new();
    let mut thoughts = Vec::new();
    let mut tool_calls = Vec::new();
    for (position, block) in blocks.iter().enumerate() {
        let text_of = |field: &str| block.get(field).and_then(Value::as_str);
        match block.get("type").and_then(Value::as_str) {
            Some("text") => texts.push(text_of("text").unwrap_or_default().to_owned()),
            Some("thinking") => thoughts.push(text_of("thinking").unwrap_or_default().to_owned()),
            Some("tool_use") => {
                let name = text_of("name")
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| {
                        malformed(url, format!("tool_use block {position} has no name"))
                    })?;
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(ToolCall {
                    id: text_of("id").unwrap_or_default().to_owned(),
                    name: name.to_owned(),
                    arguments: input.to_string(),
                });
            }
            // redacted_thinking and future block types carry nothing readable.
            Some(_) | None => {}
        }
    }
    let thoughts: Vec<String> = thoughts.into_iter().filter(|t| !t.is_empty()).collect();
    let count = |field: &str| {
        body.get("usage")
            .and_then(|usage| usage.get(field))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (prompt_tokens, completion_tokens) = (count("input_tokens"), count("output_tokens"));
    Ok(ChatReply {
        content: texts.concat(),
        reasoning: (!thoughts.is_empty()).then(|| thoughts.join("\n")),
        tool_calls,
        usage: Usage {
            prompt_tokens,
            completion_tokens,
            cost_usd: price.cost(prompt_tokens, completion_tokens),
        },
    })
}
