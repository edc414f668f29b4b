//! Streamed replies: a server-sent-events parser, the read loop that applies the idle timeout between
//! chunks, and the assemblers that turn the events into one object shaped like a whole reply (so a
//! single parser reads both transports, and the journal stores the same shape): OpenAI-compatible
//! `chat.completion.chunk` / `text_completion` chunks here, Anthropic's message events in [`messages`].
//!
//! A stream that ends before its end event (`data: [DONE]` without a finish reason, or no
//! `message_stop`) was cut off: that is a transient [`Error::Transport`].

mod messages;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use crate::config::Timeouts;
use crate::error::Error;
use crate::retry::{classify, short, Failure};

/// What the events carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamKind {
    /// OpenAI-compatible chunks.
    Chunks(ChunkKind),
    /// Anthropic's `/messages`: typed events building content blocks.
    Messages,
}

/// What OpenAI-compatible chunks carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkKind {
    /// `/chat/completions`: `choices[0].delta`.
    Chat,
    /// `/completions`: `choices[0].text`.
    Completion,
}

/// Builds one reply from the data of a stream's events.
trait Assembler {
    /// The event that ends a complete stream, named in the error for a cut-off one.
    const END: &'static str;

    /// Takes one event's data; true when it is the end event.
    fn event(&mut self, url: &str, data: &str) -> Result<bool, Failure>;

    /// Whether the events so far make a complete reply although the end event never came.
    fn complete_without_end(&self) -> bool;

    /// An object shaped like a whole (non-streamed) reply.
    fn assemble(self) -> Value;
}

/// Awaits `future` for at most `idle`, else fails with the idle timeout.
pub(crate) async fn within_idle<F: Future>(
    url: &str,
    idle: Duration,
    future: F,
) -> Result<F::Output, Failure> {
    tokio::time::timeout(idle, future).await.map_err(|_| {
        Failure::from(Error::Timeout {
            url: url.to_owned(),
            phase: "idle",
            after: idle,
        })
    })
}

/// Reads a `text/event-stream` reply to the end and assembles it.
pub(crate) async fn read_events(
    response: reqwest::Response,
    kind: StreamKind,
    url: &str,
    timeouts: &Timeouts,
) -> Result<Value, Failure> {
    match kind {
        StreamKind::Chunks(kind) => {
            read_into(response, ChunkAssembly::new(kind), url, timeouts).await
        }
        StreamKind::Messages => {
            read_into(
                response,
                messages::MessageAssembly::default(),
                url,
                timeouts,
            )
            .await
        }
    }
}

/// Feeds the events to `assembly` until its end event, each chunk awaited for at most `idle`.
async fn read_into<A: Assembler>(
    response: reqwest::Response,
    mut assembly: A,
    url: &str,
    timeouts: &Timeouts,
) -> Result<Value, Failure> {
    let mut bytes = response.bytes_stream();
    let mut parser = SseParser::default();
    let mut ended = false;
    while !ended {
        let Some(chunk) = within_idle(url, timeouts.idle, bytes.next()).await? else {
            break;
        };
        let chunk = chunk.map_err(|error| Failure::from(classify(url, &error, timeouts)))?;
        for data in parser.push(&chunk) {
            ended = assembly.event(url, &data)?;
            if ended {
                break;
            }
        }
    }
    if !ended {
        if let Some(data) = parser.finish() {
            ended = assembly.event(url, &data)?;
        }
    }
    if !ended && !assembly.complete_without_end() {
        return Err(Failure::from(Error::Transport {
            url: url.to_owned(),
            detail: format!("the event stream ended before {}", A::END),
        }));
    }
    Ok(assembly.assemble())
}

/// The JSON of one event's data.
fn parse_event(url: &str, data: &str) -> Result<Value, Failure> {
    serde_json::from_str(data).map_err(|error| {
        Failure::from(Error::Malformed {
            context: url.to_owned(),
            problem: format!("a stream chunk is not JSON ({error}): {}", short(data)),
        })
    })
}

/// A minimal server-sent-events parser: yields the `data` of each event (lines joined with `\n`).
#[derive(Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds bytes; returns the data of the events they complete.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.line);
                if let Some(data) = self.line_done(&line) {
                    events.push(data);
                }
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    /// The pending event at the end of the stream, if any.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.line);
        let from_line = self.line_done(&line);
        from_line.or_else(|| self.data.take())
    }

    fn line_done(&mut self, line: &[u8]) -> Option<String> {
        let line = String::from_utf8_lossy(line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.is_empty() {
            return self.data.take();
        }
        if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        // Comments (`:`) and other fields (`event:`, `id:`, `retry:`) carry nothing we need.
        None
    }
}

/// One tool call being assembled from deltas.
#[derive(Default)]
struct PartialToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// The OpenAI-compatible chunks seen so far.
struct ChunkAssembly {
    kind: ChunkKind,
    header: Map<String, Value>,
    text: String,
    reasoning: String,
    tool_calls: BTreeMap<u64, PartialToolCall>,
    finish_reason: Option<Value>,
    usage: Option<Value>,
}

impl ChunkAssembly {
    fn new(kind: ChunkKind) -> Self {
        ChunkAssembly {
            kind,
            header: Map::new(),
            text: String::new(),
            reasoning: String::new(),
            tool_calls: BTreeMap::new(),
            finish_reason: None,
            usage: None,
        }
    }

    fn delta(&mut self, delta: &Value) {
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            self.text.push_str(text);
        }
        // Servers send `reasoning_content` (DeepSeek, vLLM) or `reasoning` (OpenRouter, Ollama), a few
        // both with the same text: take the first one present.
        let reasoning = ["reasoning_content", "reasoning"]
            .iter()
            .find_map(|field| delta.get(*field).and_then(Value::as_str));
        if let Some(text) = reasoning {
            self.reasoning.push_str(text);
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        for (position, call) in calls.into_iter().flatten().enumerate() {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let partial = self.tool_calls.entry(index).or_default();
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                if partial.id.is_empty() {
                    id.clone_into(&mut partial.id);
                }
            }
            let function = call.get("function");
            if let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) {
                // Most servers send the name once; some repeat it whole in every delta.
                if partial.name.is_empty() {
                    name.clone_into(&mut partial.name);
                } else if partial.name != name {
                    partial.name.push_str(name);
                }
            }
            if let Some(arguments) = function
                .and_then(|f| f.get("arguments"))
                .and_then(Value::as_str)
            {
                partial.arguments.push_str(arguments);
            }
        }
    }
}

impl Assembler for ChunkAssembly {
    const END: &'static str = "`data: [DONE]`";

    fn event(&mut self, url: &str, data: &str) -> Result<bool, Failure> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk = parse_event(url, data)?;
        if let Some(error) = chunk.get("error") {
            return Err(Failure::from(Error::Malformed {
                context: url.to_owned(),
                problem: format!(
                    "the stream reported an error: {}",
                    short(&error.to_string())
                ),
            }));
        }
        for field in ["id", "model", "created", "system_fingerprint"] {
            if let Some(value) = chunk.get(field) {
                if !value.is_null() && !self.header.contains_key(field) {
                    self.header.insert(field.to_owned(), value.clone());
                }
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| !usage.is_null()) {
            self.usage = Some(usage.clone());
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
                self.finish_reason = Some(reason.clone());
            }
            match self.kind {
                ChunkKind::Completion => {
                    if let Some(text) = choice.get("text").and_then(Value::as_str) {
                        self.text.push_str(text);
                    }
                }
                ChunkKind::Chat => {
                    if let Some(delta) = choice.get("delta") {
                        self.delta(delta);
                    }
                }
            }
        }
        Ok(false)
    }

    fn complete_without_end(&self) -> bool {
        self.finish_reason.is_some()
    }

    fn assemble(self) -> Value {
        let mut out = self.header;
        let finish_reason = self.finish_reason.unwrap_or(Value::Null);
        let choice = match self.kind {
            ChunkKind::Completion => {
                out.insert("object".to_owned(), json!("text_completion"));
                json!({"index": 0, "text": self.text, "finish_reason": finish_reason})
            }
            ChunkKind::Chat => {
                out.insert("object".to_owned(), json!("chat.completion"));
                let mut message = Map::new();
                message.insert("role".to_owned(), json!("assistant"));
                let content = if self.text.is_empty() && !self.tool_calls.is_empty() {
                    Value::Null
                } else {
                    json!(self.text)
                };
                message.insert("content".to_owned(), content);
                if !self.reasoning.is_empty() {
                    message.insert("reasoning_content".to_owned(), json!(self.reasoning));
                }
                if !self.tool_calls.is_empty() {
                    let calls: Vec<Value> = self
                        .tool_calls
                        .into_values()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": call.arguments},
                            })
                        })
                        .collect();
                    message.insert("tool_calls".to_owned(), Value::Array(calls));
                }
                json!({"index": 0, "message": message, "finish_reason": finish_reason})
            }
        };
        out.insert("choices".to_owned(), json!([choice]));
        if let Some(usage) = self.usage {
            out.insert("usage".to_owned(), usage);
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_handles_split_lines_crlf_comments_and_multiline_data() {
        let mut parser = SseParser::default();
        let mut events = parser.push(b": keep-alive\r\n\r\ndata: {\"a\"");
        assert!(events.is_empty());
        events.extend(parser.push(b":1}\r\n\r\ndata: one\ndata: two\n\nevent: x\ndata:[DONE]"));
        assert_eq!(events, vec!["{\"a\":1}", "one\ntwo"]);
        assert_eq!(parser.finish().as_deref(), Some("[DONE]"));
        assert_eq!(parser.finish(), None);
    }

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
            assert!(!assembly.event("u", event).ok().unwrap());
        }
        assert!(assembly.event("u", "[DONE]").ok().unwrap());
        let whole = assembly.assemble();
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
