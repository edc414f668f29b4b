//! The MLE-bench-compatible validation server: `POST /validate` (multipart field `file`) answers whether
//! a submission would be graded, never its score; `GET /health` answers that the server runs. Several
//! competitions can be served at once, chosen by the `exp-id` header or the path `/validate/<id>`.
//!
//! Uploads are validated as they arrive, chunk by chunk, on a blocking thread: there is no shared temporary
//! file, so concurrent requests cannot read each other's submissions (MLE-bench's and ML-Master's servers
//! write every upload to one path), and an upload never sits in memory whole. The server bounds what
//! clients can hold: a request head must arrive within a timeout, a request must be answered within
//! another, a fixed number of uploads are validated at once while a fixed number more wait for a slot
//! (their bodies unread), and uploads past both are answered 503.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

use crate::error::{Error, Result};
use crate::report::Grader;

/// The header ML-Master's agents send with each upload.
const EXPERIMENT_HEADER: &str = "exp-id";

/// Chunks of an upload received but not yet validated: the most an upload holds in memory, with the
/// parser's own buffer.
const CHUNKS_IN_FLIGHT: usize = 8;

/// How long to wait before accepting again when accepting fails (out of file descriptors, say).
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// How the validator listens, and what a client may hold of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatorSettings {
    /// Defaults to 127.0.0.1:5001, MLE-bench's port, reachable only from this machine.
    pub address: SocketAddr,
    /// Uploads larger than this are refused with 413.
    pub max_upload_bytes: usize,
    /// Uploads validated at once.
    pub max_concurrent_uploads: usize,
    /// Uploads that wait for a validation slot, their bodies unread; one more is answered 503 at once.
    pub max_waiting_uploads: usize,
    /// A client that has not sent its whole request head within this is disconnected.
    pub header_timeout: Duration,
    /// A request not answered within this, its upload included, is answered 408.
    pub request_timeout: Duration,
}

impl Default for ValidatorSettings {
    fn default() -> Self {
        ValidatorSettings {
            address: SocketAddr::from(([127, 0, 0, 1], 5001)),
            max_upload_bytes: 256 * 1024 * 1024,
            max_concurrent_uploads: 8,
            max_waiting_uploads: 64,
            header_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
struct Validator {
    /// Keyed by competition id.
    graders: Arc<BTreeMap<String, Arc<Grader>>>,
    /// One permit per upload being validated or waiting to be.
    admitted: Arc<Semaphore>,
    /// One permit per upload being validated.
    validating: Arc<Semaphore>,
    request_timeout: Duration,
}

/// The validator's routes over `graders`, with the upload bounds of `settings`.
pub fn validator_router(graders: Vec<Grader>, settings: &ValidatorSettings) -> Router {
    let validator = Validator {
        graders: Arc::new(
            graders
                .into_iter()
                .map(|grader| (grader.competition_id.clone(), Arc::new(grader)))
                .collect(),
        ),
        admitted: Arc::new(Semaphore::new(
            settings.max_concurrent_uploads + settings.max_waiting_uploads,
        )),
        validating: Arc::new(Semaphore::new(settings.max_concurrent_uploads)),
        request_timeout: settings.request_timeout,
    };
    Router::new()
        .route(
            "/health",
            get(|| async { Json(json!({"status": "running"})) }),
        )
        .route("/validate", post(validate_chosen_by_header))
        .route("/validate/{competition_id}", post(validate_chosen_by_path))
        .layer(DefaultBodyLimit::max(settings.max_upload_bytes))
        .with_state(validator)
}

/// Serves until `shutdown` resolves, then lets requests in flight finish. Binding errors name the address.
pub async fn serve_validator(
    graders: Vec<Grader>,
    settings: &ValidatorSettings,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let serve_error = |source| Error::Serve {
        address: settings.address.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(settings.address)
        .await
        .map_err(serve_error)?;
    on_listening(listener.local_addr().map_err(serve_error)?);
    let router = validator_router(graders, settings);
    // hyper's own server, not axum::serve: only hyper can time out a request head that never ends.
    let mut connections = hyper::server::conn::http1::Builder::new();
    connections
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = connections.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or is timed out ends only its own connection.
            let _ = connection.await;
        });
    }
    graceful.shutdown().await;
    Ok(())
}

async fn validate_chosen_by_header(
    State(validator): State<Validator>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let graders = &validator.graders;
    let requested = headers
        .get(EXPERIMENT_HEADER)
        .and_then(|value| value.to_str().ok());
    let grader = match (requested.and_then(|id| graders.get(id)), graders.len()) {
        (Some(grader), _) => grader.clone(),
        // With one competition the header is only an experiment name, as ML-Master sends it.
        (None, 1) => match graders.values().next() {
            Some(grader) => grader.clone(),
            None => return no_such_competition(graders, requested),
        },
        (None, _) => return no_such_competition(graders, requested),
    };
    validate_within_bounds(&validator, grader, multipart).await
}

async fn validate_chosen_by_path(
    State(validator): State<Validator>,
    UrlPath(competition_id): UrlPath<String>,
    multipart: Multipart,
) -> Response {
    match validator.graders.get(&competition_id) {
        Some(grader) => validate_within_bounds(&validator, grader.clone(), multipart).await,
        None => no_such_competition(&validator.graders, Some(&competition_id)),
    }
}

/// Validates one upload once a slot is free, if it may wait for one (503 otherwise), and if the upload
/// is received within the request time (408 otherwise).
async fn validate_within_bounds(
    validator: &Validator,
    grader: Arc<Grader>,
    multipart: Multipart,
) -> Response {
    let busy = || {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            Json(json!({
                "error": "Too many uploads at once.",
                "details": "every validation slot is busy and the queue is full; send the submission again in a moment",
            })),
        )
            .into_response()
    };
    let Ok(_admitted) = validator.admitted.clone().try_acquire_owned() else {
        return busy();
    };
    let deadline = tokio::time::Instant::now() + validator.request_timeout;
    let Ok(Ok(_validating)) =
        tokio::time::timeout_at(deadline, validator.validating.clone().acquire_owned()).await
    else {
        return busy();
    };
    match tokio::time::timeout_at(deadline, validate_upload(grader, multipart)).await {
        Ok(response) => response,
        Err(_) => bad_request(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the upload was not received within {} s",
                validator.request_timeout.as_secs_f64()
            ),
        ),
    }
}

async fn validate_upload(grader: Arc<Grader>, mut multipart: Multipart) -> Response {
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            Ok(Some(_)) => {}
            Ok(None) => {
                return bad_request(
                    StatusCode::BAD_REQUEST,
                    "no `file` field: send the submission as multipart form data, e.g. curl -F file=@submission.csv".to_string(),
                )
            }
            Err(error) => {
                return bad_request(
                    error.status(),
                    format!("not a multipart upload: {}", error.body_text()),
                )
            }
        }
    };
    let (chunks, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
    // Grading is CPU work; keep it off the threads that accept connections.
    let verdict = tokio::task::spawn_blocking(move || {
        grader
            .validate(
                Path::new("submission.csv"),
                UploadReader {
                    chunks: receiver,
                    current: Bytes::new(),
                },
            )
            .map_err(|invalid| invalid.reason)
    });
    loop {
        match field.chunk().await {
            // A closed channel means the verdict came before the end of the upload; the rest is read and
            // dropped so that the client, still sending, receives the answer.
            Ok(Some(chunk)) => {
                let _ = chunks.send(chunk).await;
            }
            Ok(None) => break,
            Err(error) => {
                return bad_request(
                    error.status(),
                    format!("cannot read the upload: {}", error.body_text()),
                )
            }
        }
    }
    drop(chunks);
    match verdict.await {
        Ok(Ok(())) => Json(json!({"result": "Submission is valid."})).into_response(),
        Ok(Err(reason)) => {
            Json(json!({"result": format!("Submission invalid! {reason}")})).into_response()
        }
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "An unexpected error occurred.", "details": error.to_string()})),
        )
            .into_response(),
    }
}

/// An upload's chunks as the validating thread reads them; the channel's end is the end of the file.
struct UploadReader {
    chunks: mpsc::Receiver<Bytes>,
    /// What is left of the chunk being read.
    current: Bytes,
}

impl Read for UploadReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let length = buffer.len().min(self.current.len());
        buffer[..length].copy_from_slice(&self.current[..length]);
        self.current = self.current.slice(length..);
        Ok(length)
    }
}

fn no_such_competition(
    graders: &BTreeMap<String, Arc<Grader>>,
    requested: Option<&str>,
) -> Response {
    let served: Vec<&str> = graders.keys().map(String::as_str).collect();
    let problem = match requested {
        Some(id) => format!("this validator does not serve competition `{id}`"),
        None => "several competitions are served: name one".to_string(),
    };
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": problem,
            "details": format!("served: {}; post to /validate/<id> or send the header `{EXPERIMENT_HEADER}: <id>`", served.join(", ")),
        })),
    )
        .into_response()
}

fn bad_request(status: StatusCode, details: String) -> Response {
    (
        status,
        Json(json!({"error": "Bad request.", "details": details})),
    )
        .into_response()
}
