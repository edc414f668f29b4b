//! Streamed replies: the bytes of a `text/event-stream` body framed into events by
//! `eventsource-stream` (the WHATWG rules: CRLF, multi-line data, comments, a byte-order mark), each
//! event's data handed to an [`EventSink`] that the wire formats implement, under the idle timeout.
//!
//! The idle timeout is applied to the byte stream, not to events: a server that sends keep-alive
//! comments is alive even though they make no event. A stream that ends before its sink's end event
//! was cut off: that is a transient [`Error::Transport`].

use std::future::Future;
use std::time::Duration;

use eventsource_stream::{EventStream, EventStreamError};
use futures_util::StreamExt;

use super::{classify, Failure};
use crate::config::Timeouts;
use crate::error::{Error, Result};

/// Whether a stream goes on after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Continue,
    /// The event that ends a complete stream.
    End,
}

/// Builds one reply from the data of a stream's events.
pub(crate) trait EventSink {
    /// The event that ends a complete stream, named in the error for a cut-off one.
    const END: &'static str;

    /// Takes one event's data.
    fn event(&mut self, url: &str, data: &str) -> Result<Step>;

    /// Whether the events so far make a complete reply although the end event never came.
    fn complete_without_end(&self) -> bool;
}

/// Why the byte stream stopped early.
enum ChunkError {
    Idle,
    Http(reqwest::Error),
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

/// Reads a `text/event-stream` reply into `sink` until its end event, each chunk of bytes awaited for
/// at most `timeouts.idle`.
pub(crate) async fn read_events<S: EventSink>(
    response: reqwest::Response,
    mut sink: S,
    url: &str,
    timeouts: &Timeouts,
) -> Result<S, Failure> {
    let idle = timeouts.idle;
    let chunks =
        futures_util::stream::unfold(response.bytes_stream(), move |mut bytes| async move {
            match tokio::time::timeout(idle, bytes.next()).await {
                Err(_) => Some((Err(ChunkError::Idle), bytes)),
                Ok(None) => None,
                Ok(Some(chunk)) => Some((chunk.map_err(ChunkError::Http), bytes)),
            }
        });
    let mut events = std::pin::pin!(EventStream::new(chunks));
    while let Some(event) = events.next().await {
        let event = event.map_err(|error| {
            Failure::from(match error {
                EventStreamError::Transport(ChunkError::Idle) => Error::Timeout {
                    url: url.to_owned(),
                    phase: "idle",
                    after: idle,
                },
                EventStreamError::Transport(ChunkError::Http(error)) => {
                    classify(url, &error, timeouts)
                }
                EventStreamError::Utf8(error) => Error::Malformed {
                    context: url.to_owned(),
                    problem: format!("the event stream is not UTF-8: {error}"),
                },
                EventStreamError::Parser(error) => Error::Malformed {
                    context: url.to_owned(),
                    problem: format!("the event stream cannot be read: {error}"),
                },
            })
        })?;
        match sink.event(url, &event.data)? {
            Step::End => return Ok(sink),
            Step::Continue => {}
        }
    }
    if sink.complete_without_end() {
        return Ok(sink);
    }
    Err(Failure::from(Error::Transport {
        url: url.to_owned(),
        detail: format!("the event stream ended before {}", S::END),
    }))
}
