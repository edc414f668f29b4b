//! Anthropic's streamed `/messages` replies: the typed events (`message_start`, `content_block_start`,
//! `content_block_delta`, `message_delta`, `message_stop`, `error`; `ping`, `content_block_stop` and
//! later kinds are skipped) assembled into a [`MessagesReply`] shaped like a whole one.
//!
//! Only `message_stop` completes a stream. An `overloaded_error` event is the in-stream form of HTTP 529
//! and is retried; a context-length error is reported as such; any other error event is final.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::anthropic::{ContentBlock, MessagesReply, TokenCounts};
use super::{errors, malformed, parse_event};
use crate::error::{excerpt, Error, Result};
use crate::transport::{EventSink, Step};

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: MessagesReply,
    },
    ContentBlockStart {
        index: u64,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: u64,
        delta: BlockDelta,
    },
    MessageDelta {
        delta: StopFields,
        usage: Option<TokenCounts>,
    },
    MessageStop,
    Error {
        error: StreamError,
    },
    /// `ping`, `content_block_stop` and event kinds added later, skipped as Anthropic asks.
    #[serde(other)]
    Skipped,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    /// Citations and delta kinds added later carry nothing the reply reader uses.
    #[serde(other)]
    Skipped,
}

#[derive(Deserialize)]
struct StopFields {
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
}

#[derive(Deserialize)]
struct StreamError {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

/// One content block being assembled.
struct PartialBlock {
    /// The block as `content_block_start` announced it, its text, thinking and signature extended by
    /// the deltas.
    block: ContentBlock,
    /// The `input_json_delta` fragments of a `tool_use` block: the input is JSON only once complete,
    /// so it is parsed at `message_stop`.
    partial_json: String,
}

fn append(field: &mut Option<String>, text: &str) {
    field.get_or_insert_with(String::new).push_str(text);
}

/// The events seen so far.
#[derive(Default)]
pub(crate) struct MessageAssembly {
    /// The message of `message_start` (id, model, usage, ...), updated by `message_delta`.
    message: MessagesReply,
    /// The content blocks by their index.
    blocks: BTreeMap<u64, PartialBlock>,
}

impl MessageAssembly {
    fn delta(&mut self, url: &str, index: u64, delta: BlockDelta) -> Result<()> {
        let partial = self.blocks.get_mut(&index).ok_or_else(|| {
            malformed(
                url,
                format!("a delta for content block {index}, which never started"),
            )
        })?;
        let block = &mut partial.block;
        match delta {
            BlockDelta::TextDelta { text } => append(&mut block.text, &text),
            BlockDelta::ThinkingDelta { thinking } => append(&mut block.thinking, &thinking),
            BlockDelta::SignatureDelta { signature } => append(&mut block.signature, &signature),
            BlockDelta::InputJsonDelta { partial_json } => {
                partial.partial_json.push_str(&partial_json);
            }
            BlockDelta::Skipped => {}
        }
        Ok(())
    }

    /// Takes the stop fields of `message_delta` and its usage, whose counts are totals so far and
    /// replace those of `message_start`.
    fn message_delta(&mut self, delta: StopFields, usage: Option<TokenCounts>) {
        self.message.stop_reason = delta.stop_reason;
        self.message.stop_sequence = delta.stop_sequence;
        let Some(counts) = usage else {
            return;
        };
        let usage = self.message.usage.get_or_insert_with(TokenCounts::default);
        usage.input_tokens = counts.input_tokens.or(usage.input_tokens);
        usage.output_tokens = counts.output_tokens.or(usage.output_tokens);
        usage.cache_creation_input_tokens = counts
            .cache_creation_input_tokens
            .or(usage.cache_creation_input_tokens);
        usage.cache_read_input_tokens = counts
            .cache_read_input_tokens
            .or(usage.cache_read_input_tokens);
    }

    /// Parses the assembled input of each `tool_use` block.
    fn parse_tool_inputs(&mut self, url: &str) -> Result<()> {
        for (index, partial) in &mut self.blocks {
            if partial.partial_json.is_empty() {
                continue;
            }
            let input: Value = serde_json::from_str(&partial.partial_json).map_err(|error| {
                malformed(
                    url,
                    format!(
                        "the input of tool_use block {index} is not JSON ({error}): {}",
                        excerpt(&partial.partial_json, 200)
                    ),
                )
            })?;
            partial.block.input = Some(input);
        }
        Ok(())
    }

    /// The reply the events make, shaped like a whole one.
    pub(crate) fn finish(self) -> MessagesReply {
        let content = self
            .blocks
            .into_values()
            .map(|partial| partial.block)
            .collect();
        MessagesReply {
            content: Some(content),
            ..self.message
        }
    }
}

impl EventSink for MessageAssembly {
    const END: &'static str = "`message_stop`";

    fn event(&mut self, url: &str, data: &str) -> Result<Step> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(Step::Continue);
        }
        match parse_event::<StreamEvent>(url, data)? {
            StreamEvent::MessageStart { message } => self.message = message,
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let partial = PartialBlock {
                    block: content_block,
                    partial_json: String::new(),
                };
                self.blocks.insert(index, partial);
            }
            StreamEvent::ContentBlockDelta { index, delta } => self.delta(url, index, delta)?,
            StreamEvent::MessageDelta { delta, usage } => self.message_delta(delta, usage),
            StreamEvent::MessageStop => {
                self.parse_tool_inputs(url)?;
                return Ok(Step::End);
            }
            StreamEvent::Error { error } => {
                let kind = error.kind.unwrap_or_default();
                let message = error.message.unwrap_or_default();
                if kind == "overloaded_error" {
                    return Err(Error::Overloaded {
                        url: url.to_owned(),
                        message,
                    });
                }
                if errors::is_context_length(&message) {
                    return Err(Error::ContextLengthExceeded {
                        url: url.to_owned(),
                        message: excerpt(&message, 500),
                    });
                }
                return Err(malformed(
                    url,
                    format!("the stream reported an error: {kind}: {message}"),
                ));
            }
            StreamEvent::Skipped => {}
        }
        Ok(Step::Continue)
    }

    fn complete_without_end(&self) -> bool {
        false
    }
}
