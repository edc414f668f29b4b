//! Errors of the client. Transient faults ([`Error::Status`] with 408, 429 or 5xx other than 501,
//! [`Error::Timeout`], [`Error::Unreachable`], [`Error::Transport`], [`Error::Overloaded`]) are retried
//! inside the client and reach the caller wrapped in [`Error::RetriesExhausted`]; every other variant is
//! final for that request. A refusal of the request itself ([`Error::Unauthorized`],
//! [`Error::Rejected`]) is never retried: sending it again cannot help. [`Error::ContextLengthExceeded`]
//! means the prompt must shrink. [`Error::Malformed`] means the server answered but not as expected:
//! the caller may re-ask.
//!
//! No variant ever holds the API key: text quoted from servers is redacted before it lands here.

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the environment variable {variable} named by api_key_env is not set\nhint: export it, or set \
         api_key_env to the variable that holds your key"
    )]
    MissingApiKey { variable: String },

    #[error("invalid LLM client configuration: {problem}\nhint: {hint}")]
    InvalidConfig { problem: String, hint: String },

    #[error("{url}: cannot connect: {detail}\nhint: check that the server is running and base_url is right")]
    Unreachable { url: String, detail: String },

    #[error("{url}: the server refused the credentials (HTTP {status}): {body}\nhint: {hint}")]
    Unauthorized {
        url: String,
        status: u16,
        /// Excerpt of the reply body, at most 500 characters, key redacted.
        body: String,
        hint: String,
    },

    /// A 4xx other than 401, 403, 408 and 429: the server refused this request (an unsupported
    /// parameter, an unknown model, a malformed body).
    #[error("{url}: the server refused the request (HTTP {status}): {message}\nhint: {}", rejected_hint(*status))]
    Rejected {
        url: String,
        status: u16,
        /// The server's own message when its body has one, else an excerpt of the body; at most 500
        /// characters, key redacted.
        message: String,
    },

    /// The prompt and the output limit do not fit the model's context window (OpenAI's
    /// `context_length_exceeded`, vLLM's and llama.cpp's "maximum context length" and "exceeds the
    /// context", Anthropic's "prompt is too long"), whatever the status or place it was reported in.
    #[error(
        "{url}: the prompt does not fit the model's context window: {message}\nhint: send a shorter \
         prompt, or lower max_tokens (the window holds the prompt and the output)"
    )]
    ContextLengthExceeded {
        url: String,
        /// The server's message, at most 500 characters, key redacted.
        message: String,
    },

    /// Any other unsuccessful status: 5xx (transient but 501), and what no rule above covers.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        status: u16,
        url: String,
        /// Excerpt of the reply body, at most 500 characters, key redacted.
        body: String,
    },

    #[error(
        "{url}: timed out ({phase} timeout of {after:?})\nhint: raise timeouts.{phase} if the server \
         is just slow"
    )]
    Timeout {
        url: String,
        /// `connect`, `idle` (a stream silent for too long) or `total` (the attempt took too long).
        phase: &'static str,
        after: Duration,
    },

    #[error("{url}: the connection failed mid-request: {detail}")]
    Transport { url: String, detail: String },

    /// An `overloaded_error` event in the middle of a stream: what HTTP 529 says before one starts.
    #[error(
        "{url}: the server reported it is overloaded mid-stream: {message}\nhint: wait and try again; \
         the reply was cut short, not refused"
    )]
    Overloaded { url: String, message: String },

    #[error(
        "gave up after {attempts} attempts; last error: {last_error}\nhint: try again later, or raise \
         retry.max_attempts"
    )]
    RetriesExhausted {
        attempts: u32,
        last_error: Box<Error>,
    },

    #[error("{context}: malformed reply: {problem}")]
    Malformed { context: String, problem: String },

    #[error("{what} is not supported\nhint: {hint}")]
    Unsupported { what: String, hint: String },

    #[error("chat template: {problem}\nhint: fix chat_template (a minijinja template in Hugging Face style)")]
    Template { problem: String },
}

impl Error {
    /// Whether the client retries this error (before wrapping it in [`Error::RetriesExhausted`]).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Status { status, .. } => is_retryable_status(*status),
            Error::Timeout { .. }
            | Error::Unreachable { .. }
            | Error::Transport { .. }
            | Error::Overloaded { .. } => true,
            Error::MissingApiKey { .. }
            | Error::InvalidConfig { .. }
            | Error::Unauthorized { .. }
            | Error::Rejected { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::RetriesExhausted { .. }
            | Error::Malformed { .. }
            | Error::Unsupported { .. }
            | Error::Template { .. } => false,
        }
    }

    /// The error with every occurrence of `secret` in text quoted from a server replaced by `***`.
    pub(crate) fn redacted(self, secret: &str) -> Error {
        let clean = |text: String| {
            if text.contains(secret) {
                text.replace(secret, "***")
            } else {
                text
            }
        };
        match self {
            Error::Unauthorized {
                url,
                status,
                body,
                hint,
            } => Error::Unauthorized {
                url,
                status,
                body: clean(body),
                hint,
            },
            Error::Rejected {
                url,
                status,
                message,
            } => Error::Rejected {
                url,
                status,
                message: clean(message),
            },
            Error::ContextLengthExceeded { url, message } => Error::ContextLengthExceeded {
                url,
                message: clean(message),
            },
            Error::Status { status, url, body } => Error::Status {
                status,
                url,
                body: clean(body),
            },
            Error::Overloaded { url, message } => Error::Overloaded {
                url,
                message: clean(message),
            },
            Error::Malformed { context, problem } => Error::Malformed {
                context,
                problem: clean(problem),
            },
            Error::RetriesExhausted {
                attempts,
                last_error,
            } => Error::RetriesExhausted {
                attempts,
                last_error: Box::new(last_error.redacted(secret)),
            },
            // Written by this client from its own configuration or the HTTP library: no server text.
            error @ (Error::MissingApiKey { .. }
            | Error::InvalidConfig { .. }
            | Error::Unreachable { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::Unsupported { .. }
            | Error::Template { .. }) => error,
        }
    }
}

/// A hint for a refused request, by status.
fn rejected_hint(status: u16) -> &'static str {
    match status {
        404 => "check base_url (it usually ends in /v1) and the model name",
        413 => "the request is too large for the server; send fewer or shorter messages",
        _ => {
            "the server's message names what it refused; a parameter it does not take can be left \
             out (temperature = \"server-default\", max_tokens_parameter, top_p, reasoning_effort, \
             extra_body)"
        }
    }
}

/// HTTP statuses worth retrying: 408, 429 and 5xx except 501 Not Implemented.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || ((500..=599).contains(&status) && status != 501)
}

/// At most `limit` characters of a text quoted in an error, trimmed, `…` marking a cut.
pub(crate) fn excerpt(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(limit.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// An error and its sources, joined with `: `.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_text() {
        let long = "x".repeat(1000);
        assert_eq!(excerpt(&long, 200).chars().count(), 200);
        assert!(excerpt(&long, 200).ends_with('…'));
        assert_eq!(excerpt(" ok ", 200), "ok");
    }
}
