//! `ml-master dashboard` and `ml-master report`: a run directory shown as a live web page, or written as
//! one self-contained HTML file. Both read the journal read-only.

use std::net::SocketAddr;
use std::path::Path;

use mlm_web::{serve_dashboard, write_report, DashboardSettings};

use crate::cli::{DashboardArguments, ReportArguments};
use crate::failure::{CommandResult, Failure};

pub fn run(arguments: DashboardArguments) -> CommandResult {
    let settings = DashboardSettings {
        address: SocketAddr::new(arguments.host, arguments.port),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::job)?;
    runtime
        .block_on(serve_dashboard(
            &arguments.run_dir,
            &settings,
            |address| {
                eprintln!(
                    "Dashboard of {} on http://{address}/ (Ctrl-C stops)",
                    arguments.run_dir.display()
                );
                // Scripts and tests read the bound address from stdout, which matters with --port 0.
                println!("http://{address}/");
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        ))
        .map_err(Failure::bad_input)
}

pub fn report(arguments: ReportArguments) -> CommandResult {
    let path =
        write_report(&arguments.run_dir, arguments.out.as_deref()).map_err(
            |error| match error {
                mlm_web::Error::Journal(_) | mlm_web::Error::Read { .. } => {
                    Failure::bad_input(error)
                }
                mlm_web::Error::Write { .. }
                | mlm_web::Error::Serve { .. }
                | mlm_web::Error::Encode(_)
                | mlm_web::Error::Background(_) => Failure::job(error),
            },
        )?;
    eprintln!("Report written to {}", path.display());
    println!("{}", path.display());
    Ok(())
}

/// Starts the dashboard of the run in `run_dir` on the current runtime and says where it is. It stops with
/// the runtime. A dashboard that cannot start is a warning, not a reason to stop the run.
pub fn spawn_live_dashboard(run_dir: &Path, port: u16) {
    let run_dir = run_dir.to_path_buf();
    let settings = DashboardSettings {
        address: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    tokio::spawn(async move {
        let served = serve_dashboard(
            &run_dir,
            &settings,
            |address| eprintln!("Dashboard: http://{address}/"),
            std::future::pending(),
        )
        .await;
        if let Err(error) = served {
            eprintln!("warning: the dashboard is not available: {error}");
        }
    });
}
