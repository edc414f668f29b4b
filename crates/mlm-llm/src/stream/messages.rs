//! Anthropic's streamed `/messages` replies: the typed events (`message_start`, `content_block_start`,
//! `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`, `ping`, `error`)
//! assembled into one object shaped like a whole messages reply, for [`crate::anthropic`] to read.
//!
//! Only `message_stop` completes a stream. An `overloaded_error` event is the in-stream form of HTTP 529
//! and is retried; any other error event is final.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{parse_event, Assembler};
use crate::error::Error;
use crate::retry::{short, Failure};

/// One content block being assembled.
struct ContentBlock {
    /// The block as `content_block_start` announced it, its text, thinking and signature extended by
    /// the deltas.
    fields: Map<String, Value>,
    /// The `input_json_delta` fragments of a `tool_use` block: the input is JSON only once complete,
    /// so it is parsed at `message_stop`.
    partial_json: String,
}

impl ContentBlock {
    fn append(&mut self, field: &str, text: &str) {
        match self.fields.get_mut(field) {
            Some(Value::String(existing)) => existing.push_str(text),
            Some(_) | None => {
                self.fields.insert(field.to_owned(), json!(text));
            }
        }
    }
}

/// The events seen so far.
#[derive(Default)]
pub(super) struct MessageAssembly {
    /// The message of `message_start` (id, model, usage, ...), updated by `message_delta`.
    message: Map<String, Value>,
    /// The content blocks by their index.
    blocks: BTreeMap<u64, ContentBlock>,
}

fn malformed(url: &str, problem: String) -> Failure {
    Failure::from(Error::Malformed {
        context: url.to_owned(),
        problem,
    })
}

/// The `index` of a content block event.
fn block_index(url: &str, event: &Value, kind: &str) -> Result<u64, Failure> {
    event
        .get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed(url, format!("a {kind} event has no index")))
}

impl MessageAssembly {
    fn delta(&mut self, url: &str, event: &Value) -> Result<(), Failure> {
        let index = block_index(url, event, "content_block_delta")?;
        let block = self.blocks.get_mut(&index).ok_or_else(|| {
            malformed(
                url,
                format!("a delta for content block {index}, which never started"),
            )
        })?;
        let Some(delta) = event.get("delta") else {
            return Ok(());
        };
        let text = |field: &str| delta.get(field).and_then(Value::as_str).unwrap_or_default();
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => block.append("text", text("text")),
            Some("thinking_delta") => block.append("thinking", text("thinking")),
            Some("signature_delta") => block.append("signature", text("signature")),
            Some("input_json_delta") => block.partial_json.push_str(text("partial_json")),
            // Citations and delta types added later carry nothing the reply reader uses.
            Some(_) | None => {}
        }
        Ok(())
    }

    /// Takes the fields of `message_delta` (stop reason, stop sequence) and its usage, whose counts
    /// are totals so far and replace those of `message_start`.
    fn message_delta(&mut self, event: &Value) {
        if let Some(Value::Object(delta)) = event.get("delta") {
            for (field, value) in delta {
                self.message.insert(field.clone(), value.clone());
            }
        }
        if let Some(Value::Object(counts)) = event.get("usage") {
            let usage = self.message.entry("usage").or_insert_with(|| json!({}));
            if let Value::Object(usage) = usage {
                for (field, count) in counts.iter().filter(|(_, count)| !count.is_null()) {
                    usage.insert(field.clone(), count.clone());
                }
            }
        }
    }

    /// Parses the assembled input of each `tool_use` block.
    fn parse_tool_inputs(&mut self, url: &str) -> Result<(), Failure> {
        for (index, block) in &mut self.blocks {
            if block.partial_json.is_empty() {
                continue;
            }
            let input: Value = serde_json::from_str(&block.partial_json).map_err(|error| {
                malformed(
                    url,
                    format!(
                        "the input of tool_use block {index} is not JSON ({error}): {}",
                        short(&block.partial_json)
                    ),
                )
            })?;
            block.fields.insert("input".to_owned(), input);
        }
        Ok(())
    }
}

impl Assembler for MessageAssembly {
    const END: &'static str = "`message_stop`";

    fn event(&mut self, url: &str, data: &str) -> Result<bool, Failure> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        let event = parse_event(url, data)?;
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                if let Some(Value::Object(message)) = event.get("message") {
                    self.message = message.clone();
                }
            }
            Some("content_block_start") => {
                let index = block_index(url, &event, "content_block_start")?;
                let Some(Value::Object(fields)) = event.get("content_block") else {
                    return Err(malformed(
                        url,
                        format!("content_block_start {index} has no content_block"),
                    ));
                };
                let block = ContentBlock {
                    fields: fields.clone(),
                    partial_json: String::new(),
                };
                self.blocks.insert(index, block);
            }
            Some("content_block_delta") => self.delta(url, &event)?,
            Some("message_delta") => self.message_delta(&event),
            Some("message_stop") => {
                self.parse_tool_inputs(url)?;
                return Ok(true);
            }
            Some("error") => {
                let error = event.get("error");
                let field = |name: &str| {
                    error
                        .and_then(|error| error.get(name))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                };
                let message = field("message").to_owned();
                let error = match field("type") {
                    "overloaded_error" => Error::Overloaded {
                        url: url.to_owned(),
                        message,
                    },
                    other => Error::Malformed {
                        context: url.to_owned(),
                        problem: format!("the stream reported an error: {other}: {message}"),
                    },
                };
                return Err(Failure::from(error));
            }
            // `content_block_stop` adds nothing (tool inputs are parsed at `message_stop`); `ping` keeps
            // the connection alive; event types added later are skipped, as Anthropic asks.
            Some(_) | None => {}
        }
        Ok(false)
    }

    fn complete_without_end(&self) -> bool {
        false
    }

    fn assemble(self) -> Value {
        let mut message = self.message;
        let content = self
            .blocks
            .into_values()
            .map(|block| Value::Object(block.fields))
            .collect();
        message.insert("content".to_owned(), Value::Array(content));
        Value::Object(message)
    }
}
