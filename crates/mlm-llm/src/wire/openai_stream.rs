//! Streamed OpenAI-compatible replies: `chat.completion.chunk` / `text_completion` chunks assembled into
//! a [`Completion`] shaped like a whole reply, so one reader serves both transports and the journal
//! stores the same shape.
//!
//! A stream ends with `data: [DONE]`; one that stops after a finish reason without it is complete too.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::errors;
use super::openai::{
    Arguments, Choice, Completion, ReplyFunction, ReplyMessage, ReplyToolCall, TokenCounts,
};
use super::parse_event;
use crate::error::Result;
use crate::transport::{EventSink, Step};

/// What the chunks carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkKind {
    /// `/chat/completions`: `choices[0].delta`.
    Chat,
    /// `/completions`: `choices[0].text`.
    Completion,
}

#[derive(Deserialize)]
struct Chunk {
    id: Option<String>,
    model: Option<String>,
    created: Option<u64>,
    system_fingerprint: Option<String>,
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<TokenCounts>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    delta: Option<Delta>,
    text: Option<String>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: Option<u64>,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

/// One tool call being assembled from deltas.
#[derive(Default)]
struct PartialToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// The chunks seen so far.
pub(crate) struct ChunkAssembly {
    kind: ChunkKind,
    header: Completion,
    text: String,
    reasoning: String,
    tool_calls: BTreeMap<u64, PartialToolCall>,
    finish_reason: Option<String>,
}

impl ChunkAssembly {
    pub(crate) fn new(kind: ChunkKind) -> Self {
        ChunkAssembly {
            kind,
            header: Completion::default(),
            text: String::new(),
            reasoning: String::new(),
            tool_calls: BTreeMap::new(),
            finish_reason: None,
        }
    }

    fn delta(&mut self, delta: Delta) {
        if let Some(text) = delta.content {
            self.text.push_str(&text);
        }
        // Servers send `reasoning_content` (DeepSeek, vLLM) or `reasoning` (OpenRouter, Ollama), a few
        // both with the same text: take the first one present.
        if let Some(text) = delta.reasoning_content.or(delta.reasoning) {
            self.reasoning.push_str(&text);
        }
        for (position, call) in delta.tool_calls.into_iter().flatten().enumerate() {
            let index = call.index.unwrap_or(position as u64);
            let partial = self.tool_calls.entry(index).or_default();
            if let Some(id) = call.id {
                if partial.id.is_empty() {
                    partial.id = id;
                }
            }
            let Some(function) = call.function else {
                continue;
            };
            if let Some(name) = function.name {
                // Most servers send the name once; some repeat it whole in every delta.
                if partial.name.is_empty() {
                    partial.name = name;
                } else if partial.name != name {
                    partial.name.push_str(&name);
                }
            }
            if let Some(arguments) = function.arguments {
                partial.arguments.push_str(&arguments);
            }
        }
    }

    /// The reply the chunks make, shaped like a whole one.
    pub(crate) fn finish(self) -> Completion {
        let mut choice = Choice {
            index: 0,
            message: None,
            text: None,
            finish_reason: self.finish_reason,
        };
        let object = match self.kind {
            ChunkKind::Completion => {
                choice.text = Some(self.text);
                "text_completion"
            }
            ChunkKind::Chat => {
                let tool_calls: Vec<ReplyToolCall> = self
                    .tool_calls
                    .into_values()
                    .map(|call| ReplyToolCall {
                        id: Some(call.id),
                        kind: Some("function".to_owned()),
                        function: Some(ReplyFunction {
                            name: Some(call.name),
                            arguments: Some(Arguments::Text(call.arguments)),
                        }),
                    })
                    .collect();
                let content = (!self.text.is_empty() || tool_calls.is_empty()).then_some(self.text);
                choice.message = Some(ReplyMessage {
                    role: Some("assistant".to_owned()),
                    content,
                    reasoning_content: (!self.reasoning.is_empty()).then_some(self.reasoning),
                    reasoning: None,
                    tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                });
                "chat.completion"
            }
        };
        Completion {
            object: Some(object.to_owned()),
            choices: vec![choice],
            ..self.header
        }
    }
}

impl EventSink for ChunkAssembly {
    const END: &'static str = "`data: [DONE]`";

    fn event(&mut self, url: &str, data: &str) -> Result<Step> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(Step::End);
        }
        if data.is_empty() {
            return Ok(Step::Continue);
        }
        let chunk: Chunk = parse_event(url, data)?;
        if let Some(error) = chunk.error.filter(|error| !error.is_null()) {
            return Err(errors::reported_in_reply(url, &error));
        }
        let header = &mut self.header;
        header.id = header.id.take().or(chunk.id);
        header.model = header.model.take().or(chunk.model);
        header.created = header.created.or(chunk.created);
        header.system_fingerprint = header
            .system_fingerprint
            .take()
            .or(chunk.system_fingerprint);
        if chunk.usage.is_some() {
            header.usage = chunk.usage;
        }
        for choice in chunk.choices.into_iter().filter(|choice| choice.index == 0) {
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
            match self.kind {
                ChunkKind::Completion => {
                    if let Some(text) = choice.text {
                        self.text.push_str(&text);
                    }
                }
                ChunkKind::Chat => {
                    if let Some(delta) = choice.delta {
                        self.delta(delta);
                    }
                }
            }
        }
        Ok(Step::Continue)
    }

    fn complete_without_end(&self) -> bool {
        self.finish_reason.is_some()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn chat_deltas_assemble_into_a_whole_reply() {
        let mut assembly = ChunkAssembly::new(ChunkKind::Chat);
        let events = [
            r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","reasoning":"th"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning":"ink"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","function":{"name":"f","arguments":"{\"x\""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        ];
        for event in events {
            assert_eq!(assembly.event("u", event).unwrap(), Step::Continue);
        }
        assert_eq!(assembly.event("u", "[DONE]").unwrap(), Step::End);
        let whole = serde_json::to_value(assembly.finish()).unwrap();
        assert_eq!(
            whole,
            json!({
                "id": "c1", "model": "m", "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": "Hi", "reasoning_content": "think",
                    "tool_calls": [{"id": "t1", "type": "function",
                                    "function": {"name": "f", "arguments": "{\"x\":1}"}}]}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4},
            })
        );
    }
}
