//! `ml-master serve-validator`: MLE-bench's validation endpoint for one or more competitions.

use std::net::SocketAddr;

use mlm_grade::{serve_validator, ValidatorSettings};

use crate::cli::ServeValidatorArguments;
use crate::commands::grade::load_grader;
use crate::failure::{CommandResult, Failure};

pub fn run(arguments: ServeValidatorArguments) -> CommandResult {
    let graders = arguments
        .task
        .iter()
        .map(|task_dir| load_grader(task_dir, &arguments.task_arguments, None))
        .collect::<Result<Vec<_>, Failure>>()?;
    let competition_ids: Vec<String> = graders
        .iter()
        .map(|grader| grader.competition_id.clone())
        .collect();
    let settings = ValidatorSettings {
        address: SocketAddr::new(arguments.host, arguments.port),
        max_upload_bytes: arguments.max_upload_mib.saturating_mul(1024 * 1024),
        ..ValidatorSettings::default()
    };
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::job)?;
    runtime
        .block_on(serve_validator(
            graders,
            &settings,
            |address| {
                eprintln!(
                    "Validating submissions for {} on http://{address}",
                    competition_ids.join(", ")
                );
                eprintln!("  POST /validate (multipart field `file`), GET /health; Ctrl-C stops");
                // Scripts and tests read the bound address from stdout, which matters with --port 0.
                println!("http://{address}");
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        ))
        .map_err(Failure::bad_input)
}
