//! The OpenAI-compatible wire format: request bodies for `/chat/completions` and `/completions`, and the
//! readers of their replies (whole, or assembled from a stream by [`crate::stream`]).
//!
//! Reasoning is read from `reasoning_content` (DeepSeek, vLLM, SGLang) or `reasoning` (OpenRouter,
//! Ollama), and from a `<think>…</think>` block at the start of the content (servers without a reasoning
//! parser). A content holding only the end of such a block (`…</think>answer`, when the chat template
//! itself opened it) is split the same way when no reasoning field is present.

use serde_json::{json, Map, Value};

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::types::{ChatRequest, ToolCall, ToolChoice, Usage};

/// What a chat reply carries besides the exchange.
pub(crate) struct ChatReply {
    pub(crate) content: String,
    pub(crate) reasoning: Option<String>,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) usage: Usage,
}

/// Model, sampling options and, when streaming, the stream flags.
fn common_body(config: &ClientConfig) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("model".to_owned(), json!(config.model));
    if let Some(temperature) = config.temperature {
        body.insert("temperature".to_owned(), json!(temperature));
    }
    if let Some(max_tokens) = config.max_tokens {
        body.insert("max_tokens".to_owned(), json!(max_tokens));
    }
    if config.transport.streams() {
        body.insert("stream".to_owned(), json!(true));
        body.insert("stream_options".to_owned(), json!({"include_usage": true}));
    }
    body
}

/// The body of `POST /chat/completions`.
pub(crate) fn chat_body(config: &ClientConfig, request: &ChatRequest) -> Value {
    let mut body = common_body(config);
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|message| json!({"role": message.role.as_str(), "content": message.content}))
        .collect();
    body.insert("messages".to_owned(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                })
            })
            .collect();
        body.insert("tools".to_owned(), Value::Array(tools));
        // `auto` is the API's default with tools; it is left out because some servers (vLLM without
        // `--enable-auto-tool-choice`) refuse an explicit `auto`.
        match &request.tool_choice {
            ToolChoice::Auto => {}
            ToolChoice::Forced(name) => {
                let choice = json!({"type": "function", "function": {"name": name}});
                body.insert("tool_choice".to_owned(), choice);
            }
        }
    }
    Value::Object(body)
}

/// The body of `POST /completions`.
pub(crate) fn completion_body(config: &ClientConfig, prompt: &str) -> Value {
    let mut body = common_body(config);
    body.insert("prompt".to_owned(), json!(prompt));
    Value::Object(body)
}

fn malformed(url: &str, problem: impl Into<String>) -> Error {
    Error::Malformed {
        context: url.to_owned(),
        problem: problem.into(),
    }
}

/// `choices[0]`, or why there is none.
fn first_choice<'a>(url: &str, body: &'a Value) -> Result<&'a Value> {
    if let Some(error) = body.get("error").filter(|error| !error.is_null()) {
        return Err(malformed(
            url,
            format!(
                "the server reported an error: {}",
                crate::retry::short(&error.to_string())
            ),
        ));
    }
    body.get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .ok_or_else(|| malformed(url, "no `choices[0]` in the reply"))
}

/// `usage.{prompt_tokens, completion_tokens}`; missing counts are zero.
pub(crate) fn usage(body: &Value, price: &crate::Price) -> Usage {
    let count = |field: &str| {
        body.get("usage")
            .and_then(|usage| usage.get(field))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (prompt_tokens, completion_tokens) = (count("prompt_tokens"), count("completion_tokens"));
    Usage {
        prompt_tokens,
        completion_tokens,
        cost_usd: price.cost(prompt_tokens, completion_tokens),
    }
}

/// Reads a whole (or assembled) chat reply.
pub(crate) fn parse_chat(url: &str, body: &Value, price: &crate::Price) -> Result<ChatReply> {
    let choice = first_choice(url, body)?;
    let message = choice
        .get("message")
        .filter(|message| message.is_object())
        .ok_or_else(|| malformed(url, "no `choices[0].message` in the reply"))?;
    let content = match message.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => {
            return Err(malformed(
                url,
                format!(
                    "`content` is neither text nor null: {}",
                    crate::retry::short(&other.to_string())
                ),
            ))
        }
    };
    let field = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|field| message.get(*field).and_then(Value::as_str))
        .filter(|text| !text.is_empty())
        .map(str::to_owned);
    let (tagged, content) = split_think(&content, field.is_some());
    let tagged = tagged.filter(|text| !text.is_empty());
    let reasoning = match (field, tagged) {
        (Some(field), Some(tagged)) => Some(format!("{field}\n{tagged}")),
        (Some(text), None) | (None, Some(text)) => Some(text),
        (None, None) => None,
    };
    let mut tool_calls = Vec::new();
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for (position, call) in calls.into_iter().flatten().enumerate() {
        let function = call
            .get("function")
            .ok_or_else(|| malformed(url, format!("tool call {position} has no `function`")))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| malformed(url, format!("tool call {position} has no function name")))?;
        let arguments = match function.get("arguments") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            // A few servers send the arguments as an object instead of JSON text.
            Some(other) => other.to_string(),
        };
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("call_{position}"), str::to_owned);
        tool_calls.push(ToolCall {
            id,
            name: name.to_owned(),
            arguments,
        });
    }
    Ok(ChatReply {
        content,
        reasoning,
        tool_calls,
        usage: usage(body, price),
    })
}

/// Reads a whole (or assembled) completion reply: `choices[0].text`.
pub(crate) fn parse_completion(url: &str, body: &Value) -> Result<String> {
    let choice = first_choice(url, body)?;
    match choice.get("text") {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Null) => Ok(String::new()),
        Some(_) | None => Err(malformed(url, "no text in `choices[0].text`")),
    }
}

/// Moves a leading `<think>…</think>` block out of the content: `(reasoning, rest)`. An unclosed block
/// (a cut-off reply) is all reasoning. Without an opening tag, a `</think>` still splits the content when
/// `has_reasoning_field` is false (the template opened the block).
pub(crate) fn split_think(content: &str, has_reasoning_field: bool) -> (Option<String>, String) {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let trimmed = content.trim_start();
    if let Some(inner) = trimmed.strip_prefix(OPEN) {
        return match inner.split_once(CLOSE) {
            Some((thought, rest)) => (
                Some(thought.trim().to_owned()),
                rest.trim_start().to_owned(),
            ),
            None => (Some(inner.trim().to_owned()), String::new()),
        };
    }
    if !has_reasoning_field {
        if let Some((thought, rest)) = content.split_once(CLOSE) {
            return (
                Some(thought.trim().to_owned()),
                rest.trim_start().to_owned(),
            );
        }
    }
    (None, content.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_blocks_are_split_off() {
        assert_eq!(
            split_think("  <think>\nplan\n</think>\n\nanswer", false),
            (Some("plan".to_owned()), "answer".to_owned())
        );
        assert_eq!(
            split_think("<think>cut off", false),
            (Some("cut off".to_owned()), String::new())
        );
        assert_eq!(
            split_think("plan</think>answer", false),
            (Some("plan".to_owned()), "answer".to_owned())
        );
        assert_eq!(
            split_think("see </think> here", true),
            (None, "see </think> here".to_owned())
        );
        assert_eq!(split_think("plain", false), (None, "plain".to_owned()));
    }

    #[test]
    fn empty_tag_block_gives_empty_reasoning() {
        let (reasoning, rest) = split_think("<think></think>ok", false);
        assert_eq!(reasoning.as_deref(), Some(""));
        assert_eq!(rest, "ok");
    }
}
