//! `ml-master run` and `ml-master resume`: hand the request to the assembly, show the run's events,
//! stop cleanly on Ctrl-C, and show the final report.

use anyhow::anyhow;
use mlm_agent::config::{ConfigLayer, RunLayer};
use mlm_agent::{Assembly, Extension, NewRun, Sources};
use mlm_engine::{Op, StopReason};
use mlm_exec::Launcher;
use tokio::sync::mpsc;

use crate::cli::{
    LiveDashboardArguments, PythonArguments, ResumeArguments, RunArguments, TaskArguments,
};
use crate::commands::dashboard::spawn_live_dashboard;
use crate::failure::{CommandResult, Failure};
use crate::progress::{Progress, Style};
use crate::reporter::TerminalReporter;

pub fn run(arguments: RunArguments) -> CommandResult {
    let options = arguments.options;
    let request = NewRun {
        task: arguments.task,
        config_file: options.config,
        flags: ConfigLayer {
            run: RunLayer {
                coder: options.coder,
                steps: options.steps,
                time_limit_seconds: options.time_limit,
                slots: options.slots,
                workers: options.workers,
                gpus: options.gpus,
                seed: arguments.seed,
                ..RunLayer::default()
            },
            ..ConfigLayer::default()
        },
        run_dir: arguments.run_dir,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::job)?;
    let sources = sources(&arguments.task_arguments, &arguments.python)?;
    let assembly = Assembly::create(request, sources, &mut TerminalReporter, runtime.handle())?;
    drive(assembly, &runtime, arguments.json, &arguments.dashboard)
}

pub fn resume(arguments: ResumeArguments) -> CommandResult {
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::job)?;
    let sources = sources(&arguments.task_arguments, &arguments.python)?;
    let extension = Extension {
        steps: arguments.steps,
        seconds: arguments.time_limit,
        gpus: arguments.gpus,
    };
    let assembly = Assembly::resume(
        &arguments.run_dir,
        extension,
        sources,
        &mut TerminalReporter,
        runtime.handle(),
    )?;
    if !arguments.json {
        let (nodes, seconds) = assembly.earlier_sessions()?;
        let settings = &assembly.config.settings;
        eprintln!(
            "Resuming {} ({nodes} of {} nodes so far, {seconds:.0} of {:.0} s spent)",
            assembly.layout.root.display(),
            settings.steps,
            settings.time_limit.as_secs_f64(),
        );
    }
    drive(assembly, &runtime, arguments.json, &arguments.dashboard)
}

fn sources(task: &TaskArguments, python: &PythonArguments) -> Result<Sources, Failure> {
    Ok(Sources {
        registry: task.registry.clone(),
        python: python.python.clone(),
        launcher: Launcher {
            program: std::env::current_exe().map_err(Failure::job)?,
            leading_arguments: vec!["sandbox-exec".into()],
        },
    })
}

/// Shows the run's start, its sandbox, its events and its end.
fn drive(
    assembly: Assembly,
    runtime: &tokio::runtime::Runtime,
    json: bool,
    dashboard: &LiveDashboardArguments,
) -> CommandResult {
    let settings = &assembly.config.settings;
    let mut progress = Progress::new(Style::detect(json), settings.steps)
        .with_metric_name(&assembly.grader.metric.name());
    if !json {
        eprintln!(
            "Running `{}` with the {} coder: {} steps, {:.0} s, {} slots, {} workers, run directory {}",
            assembly.task.id,
            assembly.coder.name(),
            settings.steps,
            settings.time_limit.as_secs_f64(),
            settings.slots,
            settings.workers,
            assembly.layout.root.display()
        );
        let torch = match assembly
            .brief
            .installed_packages
            .iter()
            .any(|package| package == "torch")
        {
            true => "PyTorch installed",
            false => "no PyTorch",
        };
        eprintln!("Each script: {}; {torch}", assembly.brief.hardware);
    }
    let tiers = assembly.probe_sandbox()?;
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "sandbox", "tiers": tiers})
        );
    } else {
        let summary: Vec<String> = tiers
            .named()
            .iter()
            .map(|(name, state)| format!("{name} {state}"))
            .collect();
        eprintln!("Sandbox: {}", summary.join("; "));
    }
    for warning in tiers.warnings() {
        eprintln!("warning: {warning}");
    }
    for warning in assembly.config.warnings() {
        eprintln!("warning: {warning}");
    }
    let layout = assembly.layout.clone();
    let finished = runtime.block_on(async {
        if dashboard.dashboard {
            spawn_live_dashboard(&layout.root, dashboard.dashboard_port);
        }
        let (event_sender, mut events) = mpsc::unbounded_channel();
        let (operations, operation_receiver) = mpsc::unbounded_channel();
        let engine = tokio::spawn(assembly.drive(event_sender, operation_receiver));
        let mut interrupts = 0;
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => progress.show(&event),
                    None => break,
                },
                _ = ticks.tick() => progress.tick(),
                _ = tokio::signal::ctrl_c() => {
                    interrupts += 1;
                    if interrupts > 1 {
                        eprintln!("Stopping at once.");
                        std::process::exit(130);
                    }
                    eprintln!("Interrupting: running scripts are stopped and discarded; resume with `ml-master resume {}` (Ctrl-C again to quit at once)", layout.root.display());
                    let _ = operations.send(Op::Interrupt);
                }
            }
        }
        engine
            .await
            .map_err(|error| Failure::job(anyhow!("the engine stopped unexpectedly: {error}")))?
            .map_err(Failure::from)
    })?;
    progress.finish(&finished.summary, &finished.report, &layout);
    match (finished.summary.reason, finished.report.selected.is_some()) {
        (StopReason::Interrupted, _) => Err(Failure::Reported),
        (StopReason::CoderFailed, _) => Err(Failure::bad_input(anyhow!(
            "{}",
            finished
                .summary
                .failure
                .unwrap_or_else(|| "the coder failed".to_string())
        ))),
        (_, true) => Ok(()),
        (_, false) => Err(Failure::Reported),
    }
}
