//! `ml-master exec`: one script run exactly as a node of the search runs, for trying a solution by hand
//! and for testing the sandbox.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use mlm_exec::sandbox::{FilesystemIsolation, NetworkAccess};
use mlm_exec::{
    available_cpus, plan_slots, run_node, Launcher, NodeLayout, NodeLimits, NodeResult, NodeRun,
    NodeStatus, Profile,
};
use mlm_task::Task;
use serde_json::json;

use crate::cli::ExecArguments;
use crate::failure::{CommandResult, Failure};
use crate::reporter::TerminalReporter;

pub fn run(arguments: ExecArguments) -> CommandResult {
    let task = Task::load(
        &arguments.task,
        arguments.task_arguments.registry.as_deref(),
    )
    .map_err(Failure::bad_input)?;
    let script = std::fs::read_to_string(&arguments.script).map_err(|error| {
        Failure::bad_input(anyhow!(
            "{}: cannot read the script: {error}",
            arguments.script.display()
        ))
    })?;
    let environment = mlm_agent::ready_environment(
        arguments.python.python.as_deref(),
        Profile::Base,
        &mut TerminalReporter,
    )?;
    let python = environment.installation().map_err(Failure::job)?;
    let node_dir = match &arguments.node_dir {
        Some(node_dir) => node_dir.clone(),
        None => default_node_dir(&task.id)?,
    };
    if node_dir.exists()
        && std::fs::read_dir(&node_dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::bad_input(anyhow!(
            "{}: the node directory is not empty\nhint: pass a new --node-dir, or leave it out to get a fresh one",
            node_dir.display()
        )));
    }
    let node_dir = std::path::absolute(&node_dir).map_err(Failure::bad_input)?;
    let layout = NodeLayout::new(&node_dir);
    layout
        .prepare(&task.public_dir, &script)
        .map_err(Failure::job)?;

    let slot = plan_slots(1, &available_cpus(), &arguments.gpus).remove(0);
    let limits = NodeLimits {
        timeout: Duration::from_secs(arguments.timeout),
        memory_bytes: match arguments.memory_mib {
            Some(mebibytes) => Some(mebibytes.saturating_mul(1024 * 1024)),
            None => mlm_agent::system::physical_memory_bytes().map(|bytes| bytes / 4 * 3),
        },
        ..NodeLimits::default()
    };
    let launcher = Launcher {
        program: std::env::current_exe().map_err(Failure::job)?,
        leading_arguments: vec!["sandbox-exec".into()],
    };
    let status_path = std::env::temp_dir().join(format!(
        "ml-master-{}-{}.status.json",
        std::process::id(),
        unique_suffix()
    ));
    let run = NodeRun {
        layout: &layout,
        public_dir: &task.public_dir,
        read_only_dirs: &[],
        python: &python,
        slot: &slot,
        limits: &limits,
        network: if arguments.allow_network {
            NetworkAccess::Allowed
        } else {
            NetworkAccess::Denied
        },
        filesystem: FilesystemIsolation::Landlock,
        launcher: &launcher,
        status_path: &status_path,
        cancellation: None,
    };
    if !arguments.json {
        eprintln!(
            "Running {} in {}",
            arguments.script.display(),
            node_dir.display()
        );
    }
    let json = arguments.json;
    let result = run_node(&run, &mut |line| {
        if !json {
            eprintln!("  | {}", line.text);
        }
    })
    .map_err(Failure::job)?;
    if let Some(tiers) = &result.tiers {
        for warning in tiers.warnings() {
            eprintln!("warning: {warning}");
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result_json(&result, &node_dir)).map_err(Failure::job)?
        );
    } else {
        print!("{}", describe(&result, &node_dir));
    }
    match result.status {
        NodeStatus::Ok => Ok(()),
        NodeStatus::Error
        | NodeStatus::Timeout
        | NodeStatus::Oom
        | NodeStatus::Killed
        | NodeStatus::DiskLimit
        | NodeStatus::Interrupted => Err(Failure::Reported),
    }
}

fn default_node_dir(task_id: &str) -> Result<PathBuf, Failure> {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    Ok(mlm_exec::data_home()
        .map_err(Failure::bad_input)?
        .join("exec")
        .join(format!("{task_id}-{stamp}-{}", std::process::id())))
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos())
}

fn result_json(result: &NodeResult, node_dir: &Path) -> serde_json::Value {
    json!({
        "status": result.status,
        "exit_code": result.exit_code,
        "signal": result.signal,
        "duration_s": result.duration.as_secs_f64(),
        "output": result.output.text,
        "output_bytes": result.output.total_bytes,
        "output_omitted_bytes": result.output.omitted_bytes,
        "submission_path": result.submission_path,
        "submission_problem": result.submission_problem,
        "metrics": result.metrics,
        "metrics_problem": result.metrics_problem,
        "peak_rss_kilobytes": result.peak_rss_kilobytes,
        "sandbox": result.tiers,
        "supervisor_peak_rss_kilobytes": mlm_agent::system::own_peak_rss_kilobytes(),
        "node_dir": node_dir,
    })
}

fn describe(result: &NodeResult, node_dir: &Path) -> String {
    let status = match result.status {
        NodeStatus::Ok => "ok".to_string(),
        NodeStatus::Error => format!("error (exit code {})", result.exit_code.unwrap_or(-1)),
        NodeStatus::Timeout => "timeout (the process group was killed)".to_string(),
        NodeStatus::Oom => "out of memory".to_string(),
        NodeStatus::Killed => format!("killed by signal {}", result.signal.unwrap_or(0)),
        NodeStatus::DiskLimit => "disk limit (the node directory grew too large)".to_string(),
        NodeStatus::Interrupted => "interrupted".to_string(),
    };
    let mut text = format!(
        "status: {status} after {:.1} s\n",
        result.duration.as_secs_f64()
    );
    if let Some(kilobytes) = result.peak_rss_kilobytes {
        text.push_str(&format!(
            "peak memory: {:.0} MiB\n",
            kilobytes as f64 / 1024.0
        ));
    }
    match (&result.submission_path, &result.submission_problem) {
        (Some(path), _) => text.push_str(&format!("submission: {}\n", path.display())),
        (None, Some(problem)) => text.push_str(&format!("submission: none ({problem})\n")),
        (None, None) => text
            .push_str("submission: none (the script did not write ./submission/submission.csv)\n"),
    }
    match (&result.metrics, &result.metrics_problem) {
        (Some(metrics), _) => text.push_str(&format!(
            "validation metric: {} ({})\n",
            metrics.validation_metric,
            if metrics.lower_is_better {
                "lower is better"
            } else {
                "higher is better"
            }
        )),
        (None, Some(problem)) => text.push_str(&format!("metrics: {problem}\n")),
        (None, None) => text.push_str("metrics: none (the script did not write ./metrics.json)\n"),
    }
    text.push_str(&format!("node directory: {}\n", node_dir.display()));
    text
}
