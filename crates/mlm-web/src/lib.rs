//! Watching and understanding a run from its directory: the live dashboard (an axum server that reads the
//! journal read-only, polls it twice a second and pushes what changed over server-sent events to one
//! embedded page) and the self-contained HTML report (the same page with the run's data embedded).
//!
//! It owns the page (HTML, CSS and JavaScript written by hand, embedded in the binary: no framework, no
//! CDN), the JSON API and the report file. It refuses to change a run: every journal connection it opens
//! is read-only, so a dashboard on a live run in another process cannot disturb it.

mod error;
mod page;
mod server;
mod view;

pub use error::{Error, Result};
pub use page::{render_report, write_report};
pub use server::{dashboard_router, serve_dashboard, DashboardSettings};
pub use view::{EventView, NodeDetail, NodeSummary, ReportData, RunView, Snapshot};
