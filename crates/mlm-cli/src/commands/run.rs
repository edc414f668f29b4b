//! `ml-master run` and `ml-master resume`: wire the task, the coder, the sandbox and the journal into an
//! engine, show its events, stop cleanly on Ctrl-C, and grade the selected submission at the end.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use chrono::Utc;
use mlm_coder::{Coder, LlmCoder, LlmOptions, PromptMode, Prompts, TaskBrief};
use mlm_engine::{run_engine, EngineParts, Op, RunLayout, RunSummary, StopReason};
use mlm_exec::{
    available_cpus, plan_slots, probe_node_sandbox, Launcher, NodeLayout, NodeLimits, NodeRun,
    Profile, PythonInstallation, Slot,
};
use mlm_grade::Grader;
use mlm_journal::{Journal, RunRecord, RunStatus};
use mlm_llm::{Client, ClientConfig, Endpoint};
use mlm_task::Task;
use tokio::sync::mpsc;

use crate::adapters::{GraderCheck, PythonSyntaxCheck, SandboxExecutor};
use crate::cli::{LiveDashboardArguments, ResumeArguments, RunArguments};
use crate::commands::dashboard::spawn_live_dashboard;
use crate::commands::env::ready_environment;
use crate::commands::prepare::prepared_recipe;
use crate::config::{CoderChoice, ConfigLayer, ResolvedConfig, RunLayer};
use crate::failure::{CommandResult, Failure};
use crate::progress::{Progress, Style};
use crate::report::write_final_report;
use crate::system::physical_memory_bytes;

pub fn run(arguments: RunArguments) -> CommandResult {
    let flags = ConfigLayer {
        run: RunLayer {
            coder: arguments.coder,
            steps: arguments.steps,
            time_limit_seconds: arguments.time_limit,
            slots: arguments.slots,
            workers: arguments.workers,
            seed: arguments.seed,
            ..RunLayer::default()
        },
        ..ConfigLayer::default()
    };
    let layer = ConfigLayer::from_file(arguments.config.as_deref())
        .and_then(|file| Ok(file.merged(ConfigLayer::from_environment()?)))
        .map_err(Failure::bad_input)?
        .merged(flags);
    let config = layer
        .resolve(available_cpus().len(), physical_memory_bytes())
        .map_err(Failure::bad_input)?;
    let task_dir = match prepared_recipe(&arguments.task, &arguments.python)? {
        Some(prepared) => prepared,
        None => arguments.task.clone(),
    };
    let task = Task::load(&task_dir, arguments.task_arguments.registry.as_deref())
        .map_err(Failure::bad_input)?;
    let grader = Grader::for_task(&task).map_err(Failure::bad_input)?;
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::job)?;
    let environment = ready_environment(&arguments.python, Profile::Base)?;
    let installation = environment.installation().map_err(Failure::job)?;
    let run_dir = match &arguments.run_dir {
        Some(run_dir) => run_dir.clone(),
        None => PathBuf::from("runs").join(format!(
            "{}-{}",
            task.id,
            chrono::Local::now().format("%Y%m%d-%H%M%S")
        )),
    };
    let layout = RunLayout::new(std::path::absolute(&run_dir).map_err(Failure::bad_input)?);
    if layout.journal().exists() {
        return Err(Failure::bad_input(anyhow!(
            "{}: this run directory already holds a run\nhint: continue it with `ml-master resume {}`, or pass another --run-dir",
            layout.root.display(),
            layout.root.display()
        )));
    }
    // Before the run directory exists: a model that cannot be reached leaves nothing behind.
    let coder = make_coder(&config, &installation, &layout, &runtime)?;
    std::fs::create_dir_all(&layout.root)
        .with_context(|| format!("{}: cannot create the run directory", layout.root.display()))
        .map_err(Failure::job)?;
    let config_toml = config.to_toml().map_err(Failure::job)?;
    std::fs::write(layout.config(), &config_toml)
        .with_context(|| format!("{}: cannot write", layout.config().display()))
        .map_err(Failure::job)?;
    let task_dir_text = std::path::absolute(&task_dir)
        .unwrap_or(task_dir)
        .display()
        .to_string();
    let journal = Journal::create(
        &layout.journal(),
        &RunRecord {
            task_id: task.id.clone(),
            task_dir: task_dir_text,
            coder: coder.name(),
            seed: config.settings.seed,
            config_toml,
            created_at: Utc::now(),
            status: RunStatus::Running,
            elapsed_seconds: 0.0,
        },
    )
    .map_err(Failure::job)?;
    drive(
        Parts {
            task,
            grader,
            config,
            journal,
            layout,
            installation,
            coder,
        },
        &runtime,
        Watching {
            json: arguments.json,
            dashboard: &arguments.dashboard,
        },
    )
}

pub fn resume(arguments: ResumeArguments) -> CommandResult {
    let layout =
        RunLayout::new(std::path::absolute(&arguments.run_dir).map_err(Failure::bad_input)?);
    let journal = Journal::open(&layout.journal()).map_err(Failure::bad_input)?;
    let run = journal.run().map_err(Failure::bad_input)?;
    let layer: ConfigLayer = toml::from_str(&run.config_toml).map_err(|error| {
        Failure::bad_input(anyhow!(
            "{}: the recorded configuration is unreadable: {error}",
            layout.journal().display()
        ))
    })?;
    let config = layer
        .resolve(available_cpus().len(), physical_memory_bytes())
        .map_err(Failure::bad_input)?;
    let task = Task::load(
        Path::new(&run.task_dir),
        arguments.task_arguments.registry.as_deref(),
    )
    .map_err(Failure::bad_input)?;
    let grader = Grader::for_task(&task).map_err(Failure::bad_input)?;
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::job)?;
    let environment = ready_environment(&arguments.python, Profile::Base)?;
    let installation = environment.installation().map_err(Failure::job)?;
    let coder = make_coder(&config, &installation, &layout, &runtime)?;
    if !arguments.json {
        eprintln!(
            "Resuming {} ({} nodes so far, {:.0} s spent)",
            layout.root.display(),
            journal.node_count().unwrap_or(0),
            run.elapsed_seconds
        );
    }
    drive(
        Parts {
            task,
            grader,
            config,
            journal,
            layout,
            installation,
            coder,
        },
        &runtime,
        Watching {
            json: arguments.json,
            dashboard: &arguments.dashboard,
        },
    )
}

/// The coder the configuration names. An LLM coder's endpoints are probed once here (one minimal request
/// with the run's parameters each), so an unset key, a refused parameter
/// or an unreachable server is a configuration error (exit code 2) before any work starts.
fn make_coder(
    config: &ResolvedConfig,
    installation: &PythonInstallation,
    layout: &RunLayout,
    runtime: &tokio::runtime::Runtime,
) -> Result<Arc<dyn Coder>, Failure> {
    let llm = match (config.coder, &config.llm) {
        (CoderChoice::Builtin, _) => return Ok(Arc::new(mlm_coder::BuiltinCoder::default())),
        (CoderChoice::Llm, Some(llm)) => llm,
        (CoderChoice::Llm, None) => {
            return Err(Failure::bad_input(anyhow!(
                "--coder llm needs a model: the configuration has no [llm.code] section\nhint: add one to ml-master.toml (see the README's \"LLM coder\" section), or use --coder builtin"
            )))
        }
    };
    let client = |section: &str, settings: &ClientConfig| {
        Client::new(settings.clone())
            .map_err(|error| Failure::bad_input(anyhow!("[{section}]: {error}")))
    };
    let code_model = client("llm.code", &llm.code.client)?;
    let feedback_model = client("llm.feedback", &llm.feedback.client)?;
    let code_endpoint = match llm.code.mode {
        PromptMode::Chat => Endpoint::Chat,
        PromptMode::Steerable => Endpoint::Completions,
    };
    // Reviews are chat calls; a feedback model configured like the code model in chat mode was
    // checked by the code model's probe.
    let same_check = llm.feedback.client == llm.code.client && code_endpoint == Endpoint::Chat;
    runtime.block_on(async {
        let probe = |section: &'static str, model: &Client, base_url: &str, endpoint| {
            let model = model.clone();
            let base_url = base_url.to_string();
            async move {
                model.probe(endpoint).await.map_err(|error| {
                    Failure::bad_input(anyhow!(
                        "[{section}] cannot use the model `{}` at {base_url}: {error}",
                        model.model()
                    ))
                })
            }
        };
        probe(
            "llm.code",
            &code_model,
            &llm.code.client.base_url,
            code_endpoint,
        )
        .await?;
        if !same_check {
            probe(
                "llm.feedback",
                &feedback_model,
                &llm.feedback.client.base_url,
                Endpoint::Chat,
            )
            .await?;
        }
        Ok::<(), Failure>(())
    })?;
    let prompts = Prompts::load(llm.prompts_dir.as_deref())
        .map_err(|error| Failure::bad_input(anyhow!(error)))?;
    let syntax = PythonSyntaxCheck {
        python: installation.python.clone(),
        scratch_dir: layout.work_dir().join("syntax-check"),
        counter: AtomicU64::new(0),
    };
    Ok(Arc::new(LlmCoder::new(
        code_model,
        feedback_model,
        prompts,
        LlmOptions {
            mode: llm.code.mode,
            review_format: llm.review_format,
            max_reasks: llm.max_reasks,
        },
        Arc::new(syntax),
    )))
}

/// Everything a run needs, built by `run` or `resume`.
struct Parts {
    task: Task,
    grader: Grader,
    config: ResolvedConfig,
    journal: Journal,
    layout: RunLayout,
    installation: PythonInstallation,
    coder: Arc<dyn Coder>,
}

/// How the user watches the run: JSON lines or the terminal, and the live dashboard or not.
struct Watching<'a> {
    json: bool,
    dashboard: &'a LiveDashboardArguments,
}

/// Runs the engine to its end and writes the final report.
fn drive(parts: Parts, runtime: &tokio::runtime::Runtime, watching: Watching<'_>) -> CommandResult {
    let Watching { json, dashboard } = watching;
    let Parts {
        task,
        grader,
        config,
        journal,
        layout,
        installation,
        coder,
    } = parts;
    let slots = plan_slots(config.settings.slots, &available_cpus(), &[]);
    let launcher = Launcher {
        program: std::env::current_exe().map_err(Failure::job)?,
        leading_arguments: vec!["sandbox-exec".into()],
    };
    let grader = Arc::new(grader);
    let brief = task_brief(&task, &grader, &slots, config.memory_bytes_per_slot)
        .map_err(Failure::bad_input)?;
    let mut progress = Progress::new(Style::detect(json), config.settings.steps)
        .with_metric_name(&grader.metric.name());
    if !json {
        eprintln!(
            "Running `{}` with the {} coder: {} steps, {:.0} s, {} slots, {} workers, run directory {}",
            task.id,
            coder.name(),
            config.settings.steps,
            config.settings.time_limit.as_secs_f64(),
            config.settings.slots,
            config.settings.workers,
            layout.root.display()
        );
    }
    let executor = SandboxExecutor {
        public_dir: task.public_dir.clone(),
        python: installation,
        slots,
        limits: NodeLimits {
            memory_bytes: config.memory_bytes_per_slot,
            ..NodeLimits::default()
        },
        network: config.network,
        filesystem: config.filesystem,
        launcher,
    };
    report_sandbox(&executor, &layout, json)?;
    let parts = EngineParts {
        settings: config.settings.clone(),
        task: brief,
        coder,
        executor: Arc::new(executor),
        check: Arc::new(GraderCheck(grader.clone())),
        journal,
        layout: layout.clone(),
    };
    let summary: RunSummary = runtime.block_on(async {
        if dashboard.dashboard {
            spawn_live_dashboard(&layout.root, dashboard.dashboard_port);
        }
        let (event_sender, mut events) = mpsc::unbounded_channel();
        let (operations, operation_receiver) = mpsc::unbounded_channel();
        let engine = tokio::spawn(run_engine(parts, event_sender, operation_receiver));
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
        engine.await.map_err(|error| Failure::job(anyhow!("the engine stopped unexpectedly: {error}")))?.map_err(Failure::job)
    })?;
    let report = write_final_report(&layout, &grader, &summary).map_err(Failure::job)?;
    progress.finish(&summary, &report, &layout);
    match (summary.reason, report.selected.is_some()) {
        (StopReason::Interrupted, _) => Err(Failure::Reported),
        (_, true) => Ok(()),
        (_, false) => Err(Failure::Reported),
    }
}

/// Probes the sandbox tiers a node will get and reports them: every tier not in force is a warning.
fn report_sandbox(
    executor: &SandboxExecutor,
    layout: &RunLayout,
    json: bool,
) -> Result<(), Failure> {
    let probe_dir = layout.work_dir().join("probe");
    std::fs::create_dir_all(&probe_dir)
        .with_context(|| format!("{}: cannot create", probe_dir.display()))
        .map_err(Failure::job)?;
    let node = NodeLayout::new(&probe_dir);
    let slot = executor.slots.first().cloned().unwrap_or(Slot {
        index: 0,
        cpus: Vec::new(),
        gpus: Vec::new(),
    });
    let status_path = layout.work_dir().join("probe.status.json");
    let run = NodeRun {
        layout: &node,
        public_dir: &executor.public_dir,
        python: &executor.python,
        slot: &slot,
        limits: &executor.limits,
        network: executor.network,
        filesystem: executor.filesystem,
        launcher: &executor.launcher,
        status_path: &status_path,
        cancellation: None,
    };
    let tiers = probe_node_sandbox(&run).map_err(Failure::job)?;
    let _ = std::fs::remove_dir_all(&probe_dir);
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
    Ok(())
}

/// What the coder is told about the task.
fn task_brief(
    task: &Task,
    grader: &Grader,
    slots: &[mlm_exec::Slot],
    memory_bytes_per_slot: Option<u64>,
) -> anyhow::Result<TaskBrief> {
    let cores = slots.first().map_or(1, |slot| slot.cpus.len().max(1));
    let memory = memory_bytes_per_slot.map_or("no fixed memory limit".to_string(), |bytes| {
        format!("{:.1} GB of memory", bytes as f64 / 1e9)
    });
    Ok(TaskBrief {
        competition_id: task.id.clone(),
        description: task.description()?,
        data_preview: mlm_task::preview::data_preview(&task.public_dir)?,
        metric: grader.metric.name(),
        lower_is_better: grader.metric.lower_is_better(),
        public_dir: task.public_dir.clone(),
        id_column: grader.id_column().to_string(),
        target_columns: grader.target_columns().to_vec(),
        sample_submission_file: task
            .grading
            .sample_submission
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sample_submission.csv".to_string()),
        hardware: format!("{cores} CPU core(s) per script, no GPU, {memory}"),
        installed_packages: Profile::Base.modules(),
    })
}
