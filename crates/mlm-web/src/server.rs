//! The dashboard server: the page at `/`, the JSON API (`/api/run`, `/api/nodes`, `/api/nodes/{id}`) and
//! `/api/events`, a server-sent event stream that sends a `snapshot` when the page connects and again
//! whenever the journal changes. It polls the journal (read-only) every half second, which works the same
//! for a run in this process, a run in another process and a finished run.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use mlm_search::NodeId;
use serde_json::json;

use crate::error::{Error, Result};
use crate::page::{render_page, PageMode};
use crate::view::RunFiles;

/// How often the event stream looks at the journal.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How the dashboard listens.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardSettings {
    /// Defaults to 127.0.0.1:8765, reachable only from this machine.
    pub address: SocketAddr,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            address: SocketAddr::from(([127, 0, 0, 1], 8765)),
        }
    }
}

type Shared = Arc<RunFiles>;

/// The dashboard's routes for the run directory `run_dir`.
pub fn dashboard_router(run_dir: &Path) -> Router {
    let files: Shared = Arc::new(RunFiles::new(run_dir));
    Router::new()
        .route("/", get(page))
        .route("/api/run", get(run))
        .route("/api/nodes", get(nodes))
        .route("/api/nodes/{id}", get(node))
        .route("/api/events", get(events))
        .with_state(files)
}

/// Checks that `run_dir` holds a readable journal, then serves until `shutdown` resolves.
/// `on_listening` gets the bound address (useful with port 0).
pub async fn serve_dashboard(
    run_dir: &Path,
    settings: &DashboardSettings,
    on_listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let files = RunFiles::new(run_dir);
    files.open()?;
    let serve_error = |source| Error::Serve {
        address: settings.address.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(settings.address)
        .await
        .map_err(serve_error)?;
    on_listening(listener.local_addr().map_err(serve_error)?);
    axum::serve(listener, dashboard_router(run_dir))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(serve_error)
}

/// Runs a journal read on the blocking pool.
async fn read<T: Send + 'static>(
    files: &Shared,
    work: impl FnOnce(&RunFiles) -> Result<T> + Send + 'static,
) -> Result<T> {
    let files = files.clone();
    tokio::task::spawn_blocking(move || work(&files))
        .await
        .map_err(|error| Error::Background(error.to_string()))?
}

fn failure(error: &Error) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": error.to_string()})),
    )
        .into_response()
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        render_page(PageMode::Live, None),
    )
        .into_response()
}

async fn run(State(files): State<Shared>) -> Response {
    match read(&files, RunFiles::snapshot).await {
        Ok(snapshot) => Json(snapshot.run).into_response(),
        Err(error) => failure(&error),
    }
}

async fn nodes(State(files): State<Shared>) -> Response {
    match read(&files, RunFiles::snapshot).await {
        Ok(snapshot) => Json(snapshot.nodes).into_response(),
        Err(error) => failure(&error),
    }
}

async fn node(State(files): State<Shared>, UrlPath(id): UrlPath<u32>) -> Response {
    match read(&files, move |files| files.detail(NodeId(id))).await {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("node {id} is not in this run (yet)")})),
        )
            .into_response(),
        Err(error) => failure(&error),
    }
}

/// Where the event stream stands between polls.
struct Poll {
    files: Shared,
    last_fingerprint: Option<String>,
    first: Tick,
}

/// Whether the stream has sent anything yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tick {
    First,
    Later,
}

async fn events(
    State(files): State<Shared>,
) -> Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>> {
    let start = Poll {
        files,
        last_fingerprint: None,
        first: Tick::First,
    };
    let stream = futures_util::stream::unfold(start, |mut poll| async move {
        loop {
            match poll.first {
                Tick::First => poll.first = Tick::Later,
                Tick::Later => tokio::time::sleep(POLL_INTERVAL).await,
            }
            let fingerprint = match read(&poll.files, RunFiles::fingerprint).await {
                Ok(fingerprint) => fingerprint,
                Err(error) => {
                    let event = SseEvent::default().event("problem").data(error.to_string());
                    return Some((Ok(event), poll));
                }
            };
            if poll.last_fingerprint.as_ref() == Some(&fingerprint) {
                continue;
            }
            let snapshot = read(&poll.files, RunFiles::snapshot)
                .await
                .and_then(|snapshot| Ok(serde_json::to_string(&snapshot)?));
            let event = match snapshot {
                Ok(data) => {
                    poll.last_fingerprint = Some(fingerprint);
                    SseEvent::default().event("snapshot").data(data)
                }
                Err(error) => SseEvent::default().event("problem").data(error.to_string()),
            };
            return Some((Ok(event), poll));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
