//! The MLE-bench-compatible validation server: `POST /validate` (multipart field `file`) answers whether
//! a submission would be graded, never its score; `GET /health` answers that the server runs. Several
//! competitions can be served at once, chosen by the `exp-id` header or the path `/validate/<id>`.
//!
//! Uploads are validated in memory: there is no shared temporary file, so concurrent requests cannot
//! read each other's submissions (MLE-bench's and ML-Master's servers write every upload to one path).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mlm_task::CsvTable;
use serde_json::json;

use crate::error::{Error, Result};
use crate::report::Grader;

/// The header ML-Master's agents send with each upload.
const EXPERIMENT_HEADER: &str = "exp-id";

/// How the validator listens.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatorSettings {
    /// Defaults to 127.0.0.1:5001, MLE-bench's port, reachable only from this machine.
    pub address: SocketAddr,
    /// Uploads larger than this are refused with 413.
    pub max_upload_bytes: usize,
}

impl Default for ValidatorSettings {
    fn default() -> Self {
        ValidatorSettings {
            address: SocketAddr::from(([127, 0, 0, 1], 5001)),
            max_upload_bytes: 256 * 1024 * 1024,
        }
    }
}

type Graders = Arc<BTreeMap<String, Arc<Grader>>>;

/// The validator's routes over `graders`, keyed by competition id.
pub fn validator_router(graders: Vec<Grader>, max_upload_bytes: usize) -> Router {
    let graders: Graders = Arc::new(
        graders
            .into_iter()
            .map(|grader| (grader.competition_id.clone(), Arc::new(grader)))
            .collect(),
    );
    Router::new()
        .route(
            "/health",
            get(|| async { Json(json!({"status": "running"})) }),
        )
        .route("/validate", post(validate_chosen_by_header))
        .route("/validate/{competition_id}", post(validate_chosen_by_path))
        .layer(DefaultBodyLimit::max(max_upload_bytes))
        .with_state(graders)
}

/// Serves until `shutdown` resolves. Binding errors name the address.
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
    axum::serve(
        listener,
        validator_router(graders, settings.max_upload_bytes),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(serve_error)
}

async fn validate_chosen_by_header(
    State(graders): State<Graders>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let requested = headers
        .get(EXPERIMENT_HEADER)
        .and_then(|value| value.to_str().ok());
    let grader = match (requested.and_then(|id| graders.get(id)), graders.len()) {
        (Some(grader), _) => grader.clone(),
        // With one competition the header is only an experiment name, as ML-Master sends it.
        (None, 1) => match graders.values().next() {
            Some(grader) => grader.clone(),
            None => return no_such_competition(&graders, requested),
        },
        (None, _) => return no_such_competition(&graders, requested),
    };
    validate_upload(grader, multipart).await
}

async fn validate_chosen_by_path(
    State(graders): State<Graders>,
    UrlPath(competition_id): UrlPath<String>,
    multipart: Multipart,
) -> Response {
    match graders.get(&competition_id) {
        Some(grader) => validate_upload(grader.clone(), multipart).await,
        None => no_such_competition(&graders, Some(&competition_id)),
    }
}

async fn validate_upload(grader: Arc<Grader>, mut multipart: Multipart) -> Response {
    let mut upload = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => match field.bytes().await {
                Ok(bytes) => {
                    upload = Some(bytes);
                    break;
                }
                Err(error) => {
                    return bad_request(
                        error.status(),
                        format!("cannot read the upload: {}", error.body_text()),
                    )
                }
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) => {
                return bad_request(
                    error.status(),
                    format!("not a multipart upload: {}", error.body_text()),
                )
            }
        }
    }
    let Some(bytes) = upload else {
        return bad_request(
            StatusCode::BAD_REQUEST,
            "no `file` field: send the submission as multipart form data, e.g. curl -F file=@submission.csv".to_string(),
        );
    };
    // Grading is CPU work; keep it off the threads that accept connections.
    let verdict = tokio::task::spawn_blocking(move || {
        CsvTable::from_reader(Path::new("submission.csv"), bytes.as_ref())
            .map_err(|error| error.to_string())
            .and_then(|table| grader.validate(&table).map_err(|invalid| invalid.reason))
    })
    .await;
    match verdict {
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

fn no_such_competition(graders: &Graders, requested: Option<&str>) -> Response {
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
