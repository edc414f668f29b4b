//! `ml-master bench`: hands the suite to the assembly's bench runner, shows each job as it finishes,
//! stops the running jobs on Ctrl-C, and prints the report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mlm_agent::bench::executor::{ExecutorChoice, RaySettings};
use mlm_agent::bench::results::{Ablation, BaselineKind, RESULTS_FILE};
use mlm_agent::bench::runner::{run_bench, BenchEvent, BenchOutcome, BenchRequest};

use crate::cli::{AblationArgument, BaselineArgument, BenchArguments, ExecutorArgument};
use crate::failure::{CommandResult, Failure};
use crate::reporter::TerminalReporter;

pub fn run(arguments: BenchArguments) -> CommandResult {
    let cancellation = Arc::new(AtomicBool::new(false));
    watch_interrupts(cancellation.clone());
    let options = arguments.options;
    let executor = match arguments.executor {
        ExecutorArgument::Local => ExecutorChoice::Local,
        ExecutorArgument::Ray => ExecutorChoice::Ray(RaySettings {
            address: arguments.ray_address,
            gpus_per_run: arguments.gpus_per_run,
            resources: arguments.ray_resources.unwrap_or_default(),
        }),
    };
    let request = BenchRequest {
        suite: arguments.suite,
        seeds: arguments.seeds,
        time_limit_seconds: options.time_limit,
        steps: options.steps,
        slots: options.slots,
        workers: options.workers,
        gpus: options.gpus,
        coder: options.coder,
        config_file: options.config,
        extra_baselines: arguments
            .baseline
            .iter()
            .map(|baseline| match baseline {
                BaselineArgument::Flaml => BaselineKind::Flaml,
                BaselineArgument::Autogluon => BaselineKind::Autogluon,
            })
            .collect(),
        ablations: arguments
            .ablate
            .iter()
            .map(|ablation| match ablation {
                AblationArgument::Ensemble => Ablation::Ensemble,
                AblationArgument::Selection => Ablation::Selection,
                AblationArgument::Moves => Ablation::Moves,
            })
            .collect(),
        concurrency: arguments.concurrency,
        executor,
        out: arguments.out,
        registry: arguments.task_arguments.registry,
        python: arguments.python.python,
        executable: std::env::current_exe().map_err(Failure::job)?,
        cancellation,
    };
    let outcome = run_bench(request, &mut TerminalReporter, &show)?;
    match outcome {
        BenchOutcome::Interrupted { results } => {
            eprintln!(
                "Interrupted: finished jobs are in {}; rerun the same command to continue (unfinished runs are resumed)",
                results.display()
            );
            Err(Failure::Reported)
        }
        BenchOutcome::Finished {
            markdown,
            json,
            out,
            ..
        } => {
            // stdout carries the report: bench.json with --json, else the Markdown tables.
            if arguments.json {
                println!("{json}");
            } else {
                println!("\n{markdown}");
            }
            eprintln!(
                "Wrote {} and {}",
                out.join("bench.json").display(),
                out.join("bench.md").display()
            );
            Ok(())
        }
    }
}

fn show(event: BenchEvent<'_>) {
    match event {
        BenchEvent::Started {
            competitions,
            seeds,
            time_limit_seconds,
            slots,
            out,
        } => eprintln!(
            "Bench of {competitions} competition(s) × {seeds} seed(s), {time_limit_seconds} s per run, {slots} slot(s), into {}",
            out.display()
        ),
        BenchEvent::NoBaseline { competition } => eprintln!(
            "{competition}: declares no baseline in task.toml; its baseline column stays empty"
        ),
        BenchEvent::Skipped {
            position,
            total,
            job,
        } => eprintln!("[{position}/{total}] {job}: skipped (already in {RESULTS_FILE})"),
        BenchEvent::Placed {
            position,
            total,
            job,
            place,
        } => eprintln!("[{position}/{total}] {job}: {place}"),
        BenchEvent::Finished {
            position,
            total,
            job,
            result,
        } => eprintln!("[{position}/{total}] {job}: {result}"),
        BenchEvent::Failed {
            position,
            total,
            error,
        } => eprintln!("[{position}/{total}] failed: {error}"),
    }
}

/// Ctrl-C stops the running jobs (their process groups are killed, or their Ray jobs stopped) and
/// records nothing for them.
fn watch_interrupts(flag: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("bench-interrupts".to_string())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("Interrupting the bench: stopping the running jobs");
                    flag.store(true, Ordering::SeqCst);
                }
            });
        });
}
