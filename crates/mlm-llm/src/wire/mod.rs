//! The wire formats: typed request and reply structs for each provider (OpenAI-compatible chat and
//! completions in [`openai`], Anthropic messages in [`anthropic`]), the assembly of their streamed
//! events into the whole reply's shape, and where servers put their error messages ([`errors`]).
//! Reply fields are optional wherever some server leaves them out. Nothing here does I/O: the
//! transport below sends and frames, the client above joins the two.

pub(crate) mod anthropic;
mod anthropic_stream;
pub(crate) mod errors;
pub(crate) mod openai;
mod openai_stream;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{excerpt, Error, Result};
use crate::types::{FinishReason, ToolCall, Usage};

/// Request fields the client writes itself, which `extra_body` may not replace: the model, the
/// conversation, the tools and the stream framing.
pub(crate) const CLIENT_FIELDS: [&str; 8] = [
    "model",
    "messages",
    "prompt",
    "system",
    "tools",
    "tool_choice",
    "stream",
    "stream_options",
];

/// What a chat reply of either provider carries besides the exchange.
pub(crate) struct ChatReply {
    pub(crate) content: String,
    pub(crate) reasoning: Option<String>,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) finish_reason: FinishReason,
    pub(crate) usage: Usage,
}

pub(crate) fn malformed(url: &str, problem: impl Into<String>) -> Error {
    Error::Malformed {
        context: url.to_owned(),
        problem: problem.into(),
    }
}

/// A request body: the typed request, then the configured extra fields (already checked not to name
/// a [`CLIENT_FIELDS`] entry).
pub(crate) fn request_body(
    url: &str,
    request: &impl Serialize,
    extra_body: &Map<String, Value>,
) -> Result<Value> {
    let mut body = record(url, request)?;
    if let Value::Object(fields) = &mut body {
        for (field, value) in extra_body {
            fields.insert(field.clone(), value.clone());
        }
    }
    Ok(body)
}

/// A typed value as the JSON a journal keeps.
pub(crate) fn record(url: &str, value: &impl Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|error| malformed(url, format!("cannot record: {error}")))
}

/// A whole reply body: the JSON as received (for the journal) and its typed reading.
pub(crate) fn parse_whole<T: DeserializeOwned>(url: &str, text: &str) -> Result<(Value, T)> {
    let value: Value = serde_json::from_str(text).map_err(|error| {
        malformed(
            url,
            format!("the body is not JSON ({error}): {}", excerpt(text, 200)),
        )
    })?;
    let typed = T::deserialize(&value).map_err(|error| {
        malformed(
            url,
            format!(
                "the reply does not have the expected shape ({error}): {}",
                excerpt(&value.to_string(), 200)
            ),
        )
    })?;
    Ok((value, typed))
}

/// One stream event's data read as `T`.
fn parse_event<T: DeserializeOwned>(url: &str, data: &str) -> Result<T> {
    serde_json::from_str(data).map_err(|error| {
        malformed(
            url,
            format!(
                "a stream event is not as expected ({error}): {}",
                excerpt(data, 200)
            ),
        )
    })
}
