//! Errors of the client. Transient faults ([`Error::Status`] with 408, 429 or 5xx other than 501,
//! [`Error::Timeout`], [`Error::Unreachable`], [`Error::Transport`], [`Error::Overloaded`]) are retried
//! inside the client and reach the caller wrapped in [`Error::RetriesExhausted`]; every other variant is
//! final for that request. [`Error::Malformed`] means the server answered but not as expected: the
//! caller may re-ask.
//!
//! No variant ever holds the API key: bodies quoted from servers are redacted before they land here.

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

    #[error("{url}: HTTP {status}: {body}{}", status_hint(*status))]
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
            | Error::RetriesExhausted { .. }
            | Error::Malformed { .. }
            | Error::Unsupported { .. }
            | Error::Template { .. } => false,
        }
    }
}

/// A hint for the statuses where the usual cause is known.
fn status_hint(status: u16) -> &'static str {
    match status {
        404 => "\nhint: check base_url (it usually ends in /v1) and the model name",
        413 => "\nhint: the request is too large for the server; send fewer or shorter messages",
        _ => "",
    }
}

/// HTTP statuses worth retrying: 408, 429 and 5xx except 501 Not Implemented.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || ((500..=599).contains(&status) && status != 501)
}
