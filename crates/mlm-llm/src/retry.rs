//! The HTTP layer every call goes through: the shared rate limit, one attempt (send, classify the
//! status, read the body whole or as a stream, all under the total timeout), and the retry loop with
//! exponential backoff, full jitter and `Retry-After`.
//!
//! The idle timeout applies to streams only (to their headers and between their chunks): a whole reply
//! arrives in one piece once generated, after a silence as long as the model thinks.
//!
//! `Retry-After` (seconds or an HTTP date) replaces the jittered backoff when present, capped at
//! `retry.max_backoff`. Logs (`tracing` at debug level) name the method, URL, attempt, status and delay;
//! never headers.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use crate::client::Inner;
use crate::config::{RetryPolicy, Transport};
use crate::error::{Error, Result};
use crate::stream::{self, StreamKind};

/// How to read a successful reply.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ReadAs {
    /// One JSON body.
    Json,
    /// Server-sent events, assembled into one JSON object shaped like a whole reply. A server that
    /// answers with plain JSON anyway is read as [`ReadAs::Json`].
    Stream(StreamKind),
}

impl ReadAs {
    /// How to read a reply of `kind` sent over `transport`.
    pub(crate) fn new(transport: Transport, kind: StreamKind) -> ReadAs {
        match transport {
            Transport::Whole => ReadAs::Json,
            Transport::Streamed => ReadAs::Stream(kind),
        }
    }
}

/// A successful reply.
pub(crate) struct Received {
    pub(crate) body: Value,
    pub(crate) latency: Duration,
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

/// Spaces request starts at least `interval` apart. The lock is held while waiting, so waiters are
/// served in order (tokio's mutex is fair) without busy waiting.
pub(crate) struct RateLimiter {
    interval: Duration,
    next: tokio::sync::Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub(crate) fn per_minute(requests: u32) -> Self {
        RateLimiter {
            interval: Duration::from_secs(60) / requests.max(1),
            next: tokio::sync::Mutex::new(None),
        }
    }

    async fn acquire(&self) {
        let mut next = self.next.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(Instant::now() + self.interval);
    }
}

impl Inner {
    /// Waits for the rate limit, if any.
    pub(crate) async fn rate_limit(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.acquire().await;
        }
    }

    /// Replaces every occurrence of the key in text quoted from a server.
    pub(crate) fn redact(&self, text: &str) -> String {
        match &self.key {
            Some(key) if text.contains(key.expose()) => text.replace(key.expose(), "***"),
            Some(_) | None => text.to_owned(),
        }
    }

    /// At most 500 characters of a body, key redacted.
    pub(crate) fn excerpt(&self, text: &str) -> String {
        const LIMIT: usize = 500;
        let text = self.redact(text.trim());
        if text.chars().count() <= LIMIT {
            return text;
        }
        let mut short: String = text.chars().take(LIMIT - 1).collect();
        short.push('…');
        short
    }

    /// The error for a 401/403, with a hint naming the key variable.
    pub(crate) fn unauthorized(&self, url: &str, status: u16, body: String) -> Error {
        let hint = match &self.config.api_key_env {
            Some(variable) => {
                format!("check the key in the environment variable {variable} named by api_key_env")
            }
            None => {
                "no key was sent: set api_key_env to the environment variable that holds your key"
                    .to_owned()
            }
        };
        Error::Unauthorized {
            url: url.to_owned(),
            status,
            body,
            hint,
        }
    }

    /// POSTs `body` as JSON to `url`, retrying transient faults.
    pub(crate) async fn post(&self, url: &str, body: &Value, read: ReadAs) -> Result<Received> {
        let policy = self.config.retry;
        let max_attempts = policy.max_attempts.max(1);
        let total = self.config.timeouts.total;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.rate_limit().await;
            tracing::debug!(method = "POST", url, attempt, "sending LLM request");
            let started = Instant::now();
            let outcome = match tokio::time::timeout(total, self.attempt(url, body, read)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::from(Error::Timeout {
                    url: url.to_owned(),
                    phase: "total",
                    after: total,
                })),
            };
            let failure = match outcome {
                Ok(value) => {
                    let latency = started.elapsed();
                    tracing::debug!(
                        method = "POST",
                        url,
                        attempt,
                        ?latency,
                        "LLM reply received"
                    );
                    return Ok(Received {
                        body: value,
                        latency,
                        attempts: attempt,
                    });
                }
                Err(failure) => failure,
            };
            if !failure.error.is_transient() {
                return Err(failure.error);
            }
            if attempt >= max_attempts {
                tracing::debug!(method = "POST", url, attempt, error = %failure.error, "giving up");
                return Err(Error::RetriesExhausted {
                    attempts: attempt,
                    last_error: Box::new(failure.error),
                });
            }
            let delay = match failure.retry_after {
                Some(asked) => asked.min(policy.max_backoff),
                None => backoff(&policy, attempt),
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

    /// One attempt, without the total timeout (the caller applies it).
    async fn attempt(&self, url: &str, body: &Value, read: ReadAs) -> Result<Value, Failure> {
        let timeouts = &self.config.timeouts;
        let sending = self
            .http
            .post(url)
            .headers(self.headers.clone())
            .json(body)
            .send();
        // A streaming server answers with headers at once; a whole reply comes when it is written.
        let sent = match read {
            ReadAs::Stream(_) => stream::within_idle(url, timeouts.idle, sending).await?,
            ReadAs::Json => sending.await,
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
        match read {
            ReadAs::Stream(kind) if is_event_stream => {
                let value = stream::read_events(response, kind, url, timeouts).await?;
                self.redact_value(value).map_err(Failure::from)
            }
            ReadAs::Stream(_) | ReadAs::Json => {
                let text = response
                    .text()
                    .await
                    .map_err(|error| Failure::from(classify(url, &error, timeouts)))?;
                parse_json(url, &self.redact(&text)).map_err(Failure::from)
            }
        }
    }

    /// The failure for a non-success status, with the server's `Retry-After`.
    async fn status_failure(&self, url: &str, response: reqwest::Response) -> Failure {
        let status = response.status();
        let retry_after = parse_retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        let body = self.excerpt(&text);
        let error = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            self.unauthorized(url, status.as_u16(), body)
        } else {
            Error::Status {
                status: status.as_u16(),
                url: url.to_owned(),
                body,
            }
        };
        Failure { error, retry_after }
    }

    /// Redacts the key from an assembled JSON value (only re-parses when the key occurs).
    fn redact_value(&self, value: Value) -> Result<Value> {
        let Some(key) = &self.key else {
            return Ok(value);
        };
        let text = value.to_string();
        if !text.contains(key.expose()) {
            return Ok(value);
        }
        parse_json("assembled stream", &self.redact(&text))
    }
}

/// Parses a 2xx body; anything but JSON is [`Error::Malformed`].
pub(crate) fn parse_json(url: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|error| Error::Malformed {
        context: url.to_owned(),
        problem: format!("the body is not JSON ({error}): {}", short(text)),
    })
}

/// The first 200 characters of a text, for messages.
pub(crate) fn short(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= 200 {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(199).collect();
    out.push('…');
    out
}

/// Maps a reqwest error to the matching transient error. The HTTP client enforces only the connect
/// timeout; the idle and total timeouts are the attempt's own, reported where they expire.
pub(crate) fn classify(url: &str, error: &reqwest::Error, timeouts: &crate::Timeouts) -> Error {
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

/// Full-jitter exponential backoff before retry number `attempt` (1-based): uniform in
/// `[0, min(max_backoff, initial_backoff * 2^(attempt-1))]`.
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let bound = policy
        .initial_backoff
        .saturating_mul(factor)
        .min(policy.max_backoff);
    bound.mul_f64(rand::thread_rng().gen::<f64>())
}

/// `Retry-After` as seconds (integer or decimal) or an HTTP date.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds.max(0.0)).ok();
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_doubling_bound_and_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        for _ in 0..100 {
            assert!(backoff(&policy, 1) <= Duration::from_millis(100));
            assert!(backoff(&policy, 2) <= Duration::from_millis(200));
            assert!(backoff(&policy, 3) <= Duration::from_millis(350));
            assert!(backoff(&policy, 40) <= Duration::from_millis(350));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(
            parse_retry_after(&headers),
            Some(Duration::from_millis(500))
        );
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&headers), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        headers.insert(RETRY_AFTER, later.parse().unwrap());
        let wait = parse_retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), None);
    }

    #[test]
    fn short_cuts_long_text() {
        let long = "x".repeat(1000);
        assert_eq!(short(&long).chars().count(), 200);
        assert_eq!(short(" ok "), "ok");
    }
}
