//! Where servers put their error message, and which messages mean that the prompt does not fit the
//! context window. OpenAI and Anthropic write `{"error": {"message", "type", "code"}}`, vLLM
//! `{"object": "error", "message"}`, FastAPI-based servers `{"detail"}`, some proxies a bare string.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{excerpt, is_retryable_status, Error};

/// Phrases (lower case) of context-length errors: OpenAI's code, vLLM, SGLang, llama.cpp's server,
/// llama-cpp-python, Anthropic.
const CONTEXT_LENGTH_PHRASES: [&str; 8] = [
    "context_length_exceeded",
    "maximum context length",
    "model's context length",
    "exceeds the context",
    "exceeds the available context",
    "exceed_context_size",
    "exceed context window",
    "prompt is too long",
];

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorField>,
    message: Option<String>,
    detail: Option<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Object { message: Option<String> },
    Text(String),
}

/// Whether an error text says the prompt does not fit the context window.
pub(crate) fn is_context_length(text: &str) -> bool {
    let text = text.to_lowercase();
    CONTEXT_LENGTH_PHRASES
        .iter()
        .any(|phrase| text.contains(phrase))
}

/// The server's own message in an error body, else an excerpt of the body; at most 500 characters.
fn server_message(body: &str) -> String {
    let parsed = serde_json::from_str::<ErrorBody>(body).ok();
    let message = parsed.and_then(|parsed| match parsed.error {
        Some(ErrorField::Object {
            message: Some(message),
        })
        | Some(ErrorField::Text(message)) => Some(message),
        Some(ErrorField::Object { message: None }) | None => {
            parsed.message.or(match parsed.detail {
                Some(Value::String(detail)) => Some(detail),
                Some(other) => Some(other.to_string()),
                None => None,
            })
        }
    });
    excerpt(message.as_deref().unwrap_or(body), 500)
}

/// The error for an unsuccessful status other than 401 and 403 (the transport's [`ReadFailure`]).
///
/// [`ReadFailure`]: crate::transport::ReadFailure
pub(crate) fn read_failure(url: &str, status: u16, body: &str) -> Error {
    let url = url.to_owned();
    if is_context_length(body) {
        return Error::ContextLengthExceeded {
            url,
            message: server_message(body),
        };
    }
    if (400..=499).contains(&status) && !is_retryable_status(status) {
        return Error::Rejected {
            url,
            status,
            message: server_message(body),
        };
    }
    Error::Status {
        status,
        url,
        body: excerpt(body, 500),
    }
}

/// The error for an `error` object inside a successful reply or a stream.
pub(crate) fn reported_in_reply(url: &str, error: &Value) -> Error {
    let text = error.to_string();
    if is_context_length(&text) {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map_or(text.clone(), str::to_owned);
        return Error::ContextLengthExceeded {
            url: url.to_owned(),
            message: excerpt(&message, 500),
        };
    }
    Error::Malformed {
        context: url.to_owned(),
        problem: format!("the server reported an error: {}", excerpt(&text, 200)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_length_errors_of_each_server_are_recognised() {
        let bodies = [
            r#"{"error": {"message": "This model's maximum context length is 8192 tokens.", "code": "context_length_exceeded"}}"#,
            r#"{"object": "error", "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens", "code": 400}"#,
            r#"{"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it", "type": "exceed_context_size_error"}}"#,
            r#"{"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}}"#,
        ];
        for body in bodies {
            let error = read_failure("u", 400, body);
            assert!(
                matches!(error, Error::ContextLengthExceeded { .. }),
                "{body}: {error:?}"
            );
        }
    }

    #[test]
    fn the_message_is_taken_from_where_each_server_puts_it() {
        assert_eq!(
            server_message(r#"{"error": {"message": "Unsupported parameter: 'temperature'"}}"#),
            "Unsupported parameter: 'temperature'"
        );
        assert_eq!(
            server_message(r#"{"object": "error", "message": "bad"}"#),
            "bad"
        );
        assert_eq!(server_message(r#"{"detail": "Not Found"}"#), "Not Found");
        assert_eq!(server_message(r#"{"error": "nope"}"#), "nope");
        assert_eq!(server_message("plain text"), "plain text");
    }
}
