//! The HTTP layer every call goes through, neutral about providers: the shared rate limit, one attempt
//! (send, sort out the status, read the body whole or as an event stream, all under the total
//! timeout), and the retry loop with exponential backoff, full jitter and `Retry-After`. What a body
//! means is the wire formats' business: a failed reply is turned into an error by the function the
//! client hands in ([`ReadFailure`]), a streamed one is fed to an [`EventSink`].
//!
//! The idle timeout applies to streams only (to their headers and between their chunks): a whole reply
//! arrives in one piece once generated, after a silence as long as the model thinks.
//!
//! Replies are returned exactly as received. The API key is redacted from errors only, before they are
//! logged or returned. Logs (`tracing` at debug level) name the method, URL, attempt, status and
//! delay; never headers.

mod rate_limit;
mod retry;
mod sse;

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{ClientConfig, RetryPolicy, Timeouts, Transport};
use crate::error::{chain, excerpt, Error, Result};
pub(crate) use rate_limit::RateLimiter;
pub(crate) use sse::{EventSink, Step};

/// Keys shorter than this are placeholders (`EMPTY` for vLLM, `ollama`), not secrets: replacing them
/// in a server's message would garble its words.
const SHORTEST_SECRET: usize = 8;

/// The API key. Its `Debug` prints `***`.
#[derive(Clone)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    pub(crate) fn new(key: String) -> ApiKey {
        ApiKey(key)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Turns an unsuccessful reply other than 401 and 403 into an error, from its URL, status and body
/// text (key redacted): the wire formats know where each server puts its message.
pub(crate) type ReadFailure = fn(url: &str, status: u16, body: &str) -> Error;

/// How many attempts a request gets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Attempts {
    /// As many as the retry policy allows, each bounded by the total timeout.
    Policy,
    /// One, bounded by `limit` (a start-up check must answer soon).
    One { limit: Duration },
}

/// A successful reply, as received.
pub(crate) enum Reply<S> {
    /// One body: JSON when the server keeps to its API.
    Whole(String),
    /// The sink that took all the events of a stream.
    Streamed(S),
}

pub(crate) struct Received<S> {
    pub(crate) reply: Reply<S>,
    /// Duration of the successful attempt, from sending to the last byte.
    pub(crate) latency: Duration,
    /// Attempts made, 1 when no retry was needed.
    pub(crate) attempts: u32,
}

/// Why an attempt failed, and how long the server asked us to wait.
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

/// The connection pool, headers, key, limits and rate limit of one client and its clones.
pub(crate) struct Http {
    client: reqwest::Client,
    /// Authentication and version headers, the key marked sensitive.
    headers: HeaderMap,
    key: Option<ApiKey>,
    /// The variable the key came from, named in the hint of a refused key.
    key_variable: Option<String>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    limiter: Option<RateLimiter>,
    read_failure: ReadFailure,
}

impl Http {
    /// # Errors
    /// [`Error::InvalidConfig`] when the HTTP client cannot be built (a broken TLS setup).
    pub(crate) fn new(
        config: &ClientConfig,
        key: Option<ApiKey>,
        headers: HeaderMap,
        read_failure: ReadFailure,
    ) -> Result<Http> {
        // No read timeout here: it would also cut a whole reply that a model thinks about for longer
        // than `idle` before sending anything. The attempt applies `idle` to streams itself.
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .build()
            .map_err(|error| Error::InvalidConfig {
                problem: format!("cannot build the HTTP client: {}", chain(&error)),
                hint: "check the TLS setup of this machine".to_owned(),
            })?;
        Ok(Http {
            client,
            headers,
            key,
            key_variable: config.api_key_env.clone(),
            timeouts: config.timeouts,
            retry: config.retry,
            limiter: config.requests_per_minute.map(RateLimiter::per_minute),
            read_failure,
        })
    }

    /// The key, for `Debug` output (which prints `***`).
    pub(crate) fn key(&self) -> Option<&ApiKey> {
        self.key.as_ref()
    }

    /// `error` with the key replaced by `***` in the text it quotes from a server.
    pub(crate) fn redact(&self, error: Error) -> Error {
        match &self.key {
            Some(key) if key.expose().chars().count() >= SHORTEST_SECRET => {
                error.redacted(key.expose())
            }
            Some(_) | None => error,
        }
    }

    /// Text quoted from a server with the key replaced by `***`.
    fn redact_text(&self, text: &str) -> String {
        match &self.key {
            Some(key)
                if key.expose().chars().count() >= SHORTEST_SECRET
                    && text.contains(key.expose()) =>
            {
                text.replace(key.expose(), "***")
            }
            Some(_) | None => text.to_owned(),
        }
    }

    /// POSTs `body` as JSON to `url`, retrying transient faults as `attempts` allows. With
    /// [`Transport::Streamed`], an event-stream reply is fed to a fresh sink from `new_sink` per
    /// attempt; a server that answers with one body anyway is read whole.
    pub(crate) async fn post<S: EventSink>(
        &self,
        url: &str,
        body: &Value,
        transport: Transport,
        new_sink: impl Fn() -> S,
        attempts: Attempts,
    ) -> Result<Received<S>> {
        let (max_attempts, limit) = match attempts {
            Attempts::Policy => (self.retry.max_attempts.max(1), self.timeouts.total),
            Attempts::One { limit } => (1, limit.min(self.timeouts.total)),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.rate_limit().await;
            tracing::debug!(method = "POST", url, attempt, "sending LLM request");
            let started = Instant::now();
            let sending = self.attempt(url, body, transport, new_sink());
            let outcome = match tokio::time::timeout(limit, sending).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::from(Error::Timeout {
                    url: url.to_owned(),
                    phase: "total",
                    after: limit,
                })),
            };
            let failure = match outcome {
                Ok(reply) => {
                    let latency = started.elapsed();
                    tracing::debug!(
                        method = "POST",
                        url,
                        attempt,
                        ?latency,
                        "LLM reply received"
                    );
                    return Ok(Received {
                        reply,
                        latency,
                        attempts: attempt,
                    });
                }
                Err(failure) => Failure {
                    error: self.redact(failure.error),
                    retry_after: failure.retry_after,
                },
            };
            if !failure.error.is_transient() {
                tracing::debug!(method = "POST", url, attempt, error = %failure.error, "final LLM failure");
                return Err(failure.error);
            }
            if attempt >= max_attempts {
                tracing::debug!(method = "POST", url, attempt, error = %failure.error, "giving up");
                return Err(match attempts {
                    Attempts::One { .. } => failure.error,
                    Attempts::Policy => Error::RetriesExhausted {
                        attempts: attempt,
                        last_error: Box::new(failure.error),
                    },
                });
            }
            let delay = match failure.retry_after {
                Some(asked) => asked.min(self.retry.max_backoff),
                None => retry::backoff(&self.retry, attempt),
            };
            tracing::debug!(
                method = "POST",
                url,
                attempt,
                ?delay,
                error = %failure.error,
                "transient LLM failure, retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn rate_limit(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
    }

    /// One attempt, without the total timeout (the caller applies it).
    async fn attempt<S: EventSink>(
        &self,
        url: &str,
        body: &Value,
        transport: Transport,
        sink: S,
    ) -> Result<Reply<S>, Failure> {
        let timeouts = &self.timeouts;
        let sending = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .json(body)
            .send();
        // A streaming server answers with headers at once; a whole reply comes when it is written.
        let sent = match transport {
            Transport::Streamed => sse::within_idle(url, timeouts.idle, sending).await?,
            Transport::Whole => sending.await,
        };
        let response = sent.map_err(|error| Failure::from(classify(url, &error, timeouts)))?;
        let status = response.status();
        tracing::debug!(
            method = "POST",
            url,
            status = status.as_u16(),
            "LLM response status"
        );
        if !status.is_success() {
            return Err(self.status_failure(url, response).await);
        }
        let is_event_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        match transport {
            Transport::Streamed if is_event_stream => {
                let sink = sse::read_events(response, sink, url, timeouts).await?;
                Ok(Reply::Streamed(sink))
            }
            Transport::Streamed | Transport::Whole => {
                let text = response
                    .text()
                    .await
                    .map_err(|error| Failure::from(classify(url, &error, timeouts)))?;
                Ok(Reply::Whole(text))
            }
        }
    }

    /// The failure for a non-success status, with the server's `Retry-After`.
    async fn status_failure(&self, url: &str, response: reqwest::Response) -> Failure {
        let status = response.status();
        let retry_after = retry::parse_retry_after(response.headers());
        let text = self.redact_text(&response.text().await.unwrap_or_default());
        let error = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let hint = match &self.key_variable {
                Some(variable) => format!(
                    "check the key in the environment variable {variable} named by api_key_env"
                ),
                None => "no key was sent: set api_key_env to the environment variable that holds \
                         your key"
                    .to_owned(),
            };
            Error::Unauthorized {
                url: url.to_owned(),
                status: status.as_u16(),
                body: excerpt(&text, 500),
                hint,
            }
        } else {
            (self.read_failure)(url, status.as_u16(), &text)
        };
        Failure { error, retry_after }
    }
}

/// Maps a reqwest error to the matching transient error. The HTTP client enforces only the connect
/// timeout; the idle and total timeouts are the attempt's own, reported where they expire.
fn classify(url: &str, error: &reqwest::Error, timeouts: &Timeouts) -> Error {
    let detail = chain(error);
    if error.is_connect() && error.is_timeout() {
        Error::Timeout {
            url: url.to_owned(),
            phase: "connect",
            after: timeouts.connect,
        }
    } else if error.is_connect() {
        Error::Unreachable {
            url: url.to_owned(),
            detail,
        }
    } else {
        Error::Transport {
            url: url.to_owned(),
            detail,
        }
    }
}
