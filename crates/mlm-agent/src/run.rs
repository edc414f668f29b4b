//! `run` and `resume` put together: the configuration resolved, the task prepared and loaded, the
//! coder made and its models checked, the sandbox executor and the journal ready; then the engine driven
//! to its end, its best nodes re-evaluated to select one (final selection), and the selected submission
//! graded. Both commands build the same [`Assembly`]; the binary only shows its events.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use mlm_coder::{Coder, FoldDesign, LlmCoder, LlmOptions, PromptMode, Prompts, TaskBrief};
use mlm_engine::{
    run_engine, CancelFlag, EngineParts, Event, FinishedRun, Op, RunLayout, RunSummary, StopReason,
};
use mlm_exec::sandbox::SandboxTiers;
use mlm_exec::{
    available_cpus, importable_deep_learning_modules, plan_slots, probe_node_sandbox, select_gpus,
    Gpu, GpuSelection, Launcher, NodeLayout, NodeLimits, NodeRun, Profile, PythonInstallation,
    Slot,
};
use mlm_grade::Grader;
use mlm_journal::{Journal, RunRecord, RunStatus};
use mlm_llm::{Client, ClientConfig, Endpoint};
use mlm_search::Stage;
use mlm_task::Task;
use tokio::sync::mpsc;

use crate::adapters::{GraderCheck, PythonSyntaxCheck, SandboxExecutor};
use crate::brief::{task_brief, Hardware};
use crate::config::{CoderChoice, ConfigLayer, Reselection, ResolvedConfig};
use crate::ensemble::{build_ensemble, Ensembling};
use crate::environment::{run_environment, Reporter};
use crate::error::{Error, Result};
use crate::final_report::{write_final_report, FinalReport};
use crate::final_selection::{FinalSelection, FoldSource};
use crate::folds::{draw_folds, write_folds, FOLDS_FILE};
use crate::recipe::prepared_recipe;
use crate::system::physical_memory_bytes;

/// Where the task and the interpreter come from, for `run` and `resume` alike.
#[derive(Debug, Clone)]
pub struct Sources {
    /// An MLE-bench registry folder, for MLE-bench data directories.
    pub registry: Option<PathBuf>,
    /// The user's own interpreter instead of the managed environment.
    pub python: Option<PathBuf>,
    /// How the sandbox launcher is started: this binary's hidden `sandbox-exec` command.
    pub launcher: Launcher,
}

/// A new run as the command line asks for it.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// A competition directory, an MLE-bench data directory, or a recipe.
    pub task: PathBuf,
    /// `--config`, else `./ml-master.toml` when it exists.
    pub config_file: Option<PathBuf>,
    /// The command line's layer, above the file's and the environment's.
    pub flags: ConfigLayer,
    /// Default: `runs/<task>-<time>`.
    pub run_dir: Option<PathBuf>,
}

/// More budget for a resumed run, counted from where it stands, and other GPUs:
/// `resume --steps N --time-limit SECS --gpus IDS`. The new values replace the recorded ones in the
/// journal and `config.toml`, so later resumes keep them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extension {
    /// The step budget becomes the nodes completed so far plus this many.
    pub steps: Option<u32>,
    /// The time limit becomes the seconds spent so far (rounded up) plus this many.
    pub seconds: Option<u64>,
    /// The GPUs the slots share from now on.
    pub gpus: Option<GpuSelection>,
}

/// A run, put together and ready to drive.
pub struct Assembly {
    pub task: Task,
    pub grader: Arc<Grader>,
    pub config: ResolvedConfig,
    pub layout: RunLayout,
    pub coder: Arc<dyn Coder>,
    pub brief: TaskBrief,
    executor: SandboxExecutor,
    journal: Journal,
}

/// How a driven run ended, with its final grading.
#[derive(Debug)]
pub struct Finished {
    pub summary: RunSummary,
    pub report: FinalReport,
}

impl Assembly {
    /// A new run: nothing is written before the models answered and the task loaded.
    pub fn create(
        request: NewRun,
        sources: Sources,
        reporter: &mut dyn Reporter,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Assembly> {
        let layer = ConfigLayer::from_file(request.config_file.as_deref())?
            .merged(ConfigLayer::from_environment()?)
            .merged(request.flags);
        let config = layer.resolve(available_cpus().len(), physical_memory_bytes())?;
        let task_dir = prepared_recipe(&request.task, sources.python.as_deref(), reporter)?
            .unwrap_or_else(|| request.task.clone());
        let task = Task::load(&task_dir, sources.registry.as_deref())?;
        let grader = Grader::for_task(&task)?;
        let environment = run_environment(sources.python.as_deref(), reporter)?;
        let installation = environment.installation()?;
        let run_dir = request.run_dir.unwrap_or_else(|| {
            PathBuf::from("runs").join(format!(
                "{}-{}",
                task.id,
                chrono::Local::now().format("%Y%m%d-%H%M%S")
            ))
        });
        let root =
            std::path::absolute(&run_dir).map_err(Error::io(&run_dir, "not a usable path"))?;
        let layout = RunLayout::new(root);
        if layout.journal().exists() {
            return Err(Error::Invalid(format!(
                "{}: this run directory already holds a run\nhint: continue it with `ml-master resume {}`, or pass another --run-dir",
                layout.root.display(),
                layout.root.display()
            )));
        }
        // Before the run directory exists: a model that cannot be reached, or a GPU that is not there,
        // leaves nothing behind.
        let gpus = gpus_of(&config)?;
        let coder = make_coder(&config, &installation, &layout, runtime)?;
        std::fs::create_dir_all(&layout.root)
            .map_err(Error::io(&layout.root, "cannot create the run directory"))?;
        let config_toml = config.to_toml()?;
        std::fs::write(layout.config(), &config_toml)
            .map_err(Error::io(layout.config(), "cannot write"))?;
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
        )?;
        Assembly::finish(
            task,
            grader,
            config,
            journal,
            layout,
            installation,
            gpus,
            coder,
            sources,
        )
    }

    /// An existing run, finished or not, continued with the configuration it recorded and `extension`'s
    /// budgets.
    pub fn resume(
        run_dir: &Path,
        extension: Extension,
        sources: Sources,
        reporter: &mut dyn Reporter,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Assembly> {
        let root = std::path::absolute(run_dir).map_err(Error::io(run_dir, "not a usable path"))?;
        let layout = RunLayout::new(root);
        let journal = Journal::open(&layout.journal()).map_err(Error::RunDirectory)?;
        let run = journal.run().map_err(Error::RunDirectory)?;
        let mut layer: ConfigLayer = toml::from_str(&run.config_toml).map_err(|error| {
            Error::Invalid(format!(
                "{}: the recorded configuration is unreadable: {error}",
                layout.journal().display()
            ))
        })?;
        if let Some(steps) = extension.steps {
            layer.run.steps = Some(journal.node_count()?.saturating_add(steps));
        }
        if let Some(seconds) = extension.seconds {
            let spent = run.elapsed_seconds.max(0.0).ceil() as u64;
            layer.run.time_limit_seconds = Some(spent.saturating_add(seconds));
        }
        if let Some(gpus) = &extension.gpus {
            layer.run.gpus = Some(gpus.clone());
        }
        let config = layer.resolve(available_cpus().len(), physical_memory_bytes())?;
        let task = Task::load(Path::new(&run.task_dir), sources.registry.as_deref())?;
        let grader = Grader::for_task(&task)?;
        let environment = run_environment(sources.python.as_deref(), reporter)?;
        let installation = environment.installation()?;
        let gpus = gpus_of(&config)?;
        let coder = make_coder(&config, &installation, &layout, runtime)?;
        // Recorded once everything else is ready: a resume refused above leaves the budget as it was.
        if extension != Extension::default() {
            let config_toml = config.to_toml()?;
            journal.set_config_toml(&config_toml)?;
            std::fs::write(layout.config(), &config_toml)
                .map_err(Error::io(layout.config(), "cannot write"))?;
        }
        Assembly::finish(
            task,
            grader,
            config,
            journal,
            layout,
            installation,
            gpus,
            coder,
            sources,
        )
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the parts `create` and `resume` both gather, joined in one place"
    )]
    fn finish(
        task: Task,
        grader: Grader,
        config: ResolvedConfig,
        journal: Journal,
        layout: RunLayout,
        installation: PythonInstallation,
        gpus: Vec<Gpu>,
        coder: Arc<dyn Coder>,
        sources: Sources,
    ) -> Result<Assembly> {
        let indices: Vec<u32> = gpus.iter().map(|gpu| gpu.index).collect();
        let slots = plan_slots(config.settings.slots, &available_cpus(), &indices);
        let grader = Arc::new(grader);
        let mut packages = Profile::Base.modules();
        packages.extend(importable_deep_learning_modules(&installation.python)?);
        let brief = task_brief(
            &task,
            &grader,
            &Hardware {
                slots: &slots,
                gpus: &gpus,
                memory_bytes_per_slot: config.memory_bytes_per_slot,
            },
            packages,
            config.text_model.clone(),
        )?;
        // Drawn when the run starts and kept: a resumed run's new nodes use the folds its first ones did.
        // A task without train.csv (images in folders) has no rows to fold here; its scripts draw their own.
        let train_csv = task.public_dir.join("train.csv");
        let folds_file = layout.root.join(FOLDS_FILE);
        let folds_file = match (folds_file.exists(), train_csv.is_file()) {
            (true, _) => Some(folds_file),
            (false, true) => {
                let drawn = draw_folds(
                    &train_csv,
                    &FoldDesign::for_task(&brief),
                    config.settings.seed,
                )
                .and_then(|folds| write_folds(&folds_file, &folds));
                match drawn {
                    Ok(()) => Some(folds_file),
                    // The scripts then draw their own folds, as they do for a task without train.csv.
                    Err(error) => {
                        tracing::warn!("no shared folds for this run: {error}");
                        None
                    }
                }
            }
            (false, false) => None,
        };
        let executor = SandboxExecutor {
            public_dir: task.public_dir.clone(),
            read_only_dirs: config.text_model.iter().cloned().collect(),
            folds_file,
            python: installation,
            slots,
            limits: NodeLimits {
                memory_bytes: config.memory_bytes_per_slot,
                required_tiers: config.required_tiers.clone(),
                ..NodeLimits::default()
            },
            network: config.network,
            filesystem: config.filesystem,
            launcher: sources.launcher,
        };
        Ok(Assembly {
            task,
            grader,
            config,
            layout,
            coder,
            brief,
            executor,
            journal,
        })
    }

    /// Nodes and seconds an earlier session of this run spent: what a resume continues from.
    pub fn earlier_sessions(&self) -> Result<(u32, f64)> {
        let run = self.journal.run()?;
        Ok((self.journal.node_count()?, run.elapsed_seconds))
    }

    /// The sandbox tiers a node will get, probed by starting the launcher once.
    pub fn probe_sandbox(&self) -> Result<SandboxTiers> {
        let probe_dir = self.layout.work_dir().join("probe");
        std::fs::create_dir_all(&probe_dir).map_err(Error::io(&probe_dir, "cannot create"))?;
        let node = NodeLayout::new(&probe_dir);
        let executor = &self.executor;
        let slot = executor.slots.first().cloned().unwrap_or(Slot {
            index: 0,
            cpus: Vec::new(),
            gpus: Vec::new(),
        });
        let status_path = self.layout.work_dir().join("probe.status.json");
        let run = NodeRun {
            layout: &node,
            public_dir: &executor.public_dir,
            read_only_dirs: &executor.read_only_dirs,
            python: &executor.python,
            slot: &slot,
            limits: &executor.limits,
            network: executor.network,
            filesystem: executor.filesystem,
            launcher: &executor.launcher,
            status_path: &status_path,
            cancellation: None,
        };
        let tiers = probe_node_sandbox(&run)?;
        let _ = std::fs::remove_dir_all(&probe_dir);
        Ok(tiers)
    }

    /// Runs the engine to its end (the time limit less final selection's share), re-evaluates the best
    /// nodes on fresh folds to select one, then grades the selected submission and writes
    /// `report.json`. Events go to `events`; [`Op::Interrupt`] on `operations` stops the run cleanly,
    /// final selection included.
    pub async fn drive(
        self,
        events: mpsc::UnboundedSender<Event>,
        mut operations: mpsc::UnboundedReceiver<Op>,
    ) -> Result<Finished> {
        let Assembly {
            task,
            config,
            layout,
            coder,
            brief,
            executor,
            journal,
            grader,
        } = self;
        let folds = executor.folds_file.as_ref().map(|_| FoldSource {
            train_csv: task.public_dir.join("train.csv"),
            design: FoldDesign::for_task(&brief),
        });
        // Time-ordered blocks are the same for every seed: final selection will have no fresh folds to
        // re-evaluate on (it says so in its report), so the search keeps its share of the time.
        let search_reselection = match folds.as_ref().map(|folds| &folds.design) {
            Some(FoldDesign::TimeOrdered { .. }) => Reselection::Off,
            Some(
                FoldDesign::Stratified { .. } | FoldDesign::Grouped { .. } | FoldDesign::Plain,
            )
            | None => config.reselection,
        };
        let executor = Arc::new(executor);
        let mut settings = config.settings.clone();
        settings.time_limit = search_reselection.search_time_limit(settings.time_limit);
        // An interruption reaches the engine, and after it final selection, whose scripts it kills.
        let interrupted: CancelFlag = Arc::new(AtomicBool::new(false));
        let (engine_operations, engine_receiver) = mpsc::unbounded_channel();
        let forwarding = {
            let interrupted = interrupted.clone();
            tokio::spawn(async move {
                while let Some(operation) = operations.recv().await {
                    match operation {
                        Op::Interrupt => interrupted.store(true, Ordering::SeqCst),
                    }
                    let _ = engine_operations.send(operation);
                }
            })
        };
        let parts = EngineParts {
            settings,
            task: brief,
            coder,
            executor: executor.clone(),
            check: Arc::new(GraderCheck(grader.clone())),
            journal,
            layout: layout.clone(),
        };
        // Held until the end, so that the front end keeps listening (for Ctrl-C) during final selection.
        let front_end = events.clone();
        let FinishedRun {
            mut summary,
            mut journal,
        } = run_engine(parts, events, engine_receiver).await?;
        let selection = match (config.reselection, summary.reason) {
            (Reselection::Off, _) | (_, StopReason::Interrupted) => None,
            (
                Reselection::On {
                    candidates,
                    evaluations,
                    ..
                },
                StopReason::StepsExhausted
                | StopReason::TimeLimit
                | StopReason::TokenBudget
                | StopReason::CostBudget
                | StopReason::SearchExhausted
                | StopReason::CoderFailed,
            ) => {
                let started = Instant::now();
                let selection = FinalSelection {
                    layout: &layout,
                    journal: &mut journal,
                    executor: &executor,
                    folds,
                    seed: config.settings.seed,
                    candidates,
                    evaluations,
                    node_timeout: config.settings.node_timeout,
                    time_left: config.settings.time_limit.saturating_sub(summary.elapsed),
                    cancel: interrupted.clone(),
                    events: &front_end,
                }
                .run()
                .await?;
                summary.elapsed += started.elapsed();
                journal.set_elapsed_seconds(summary.elapsed.as_secs_f64())?;
                selection
            }
        };
        forwarding.abort();
        // Interrupted during final selection: the engine's best stays, and a resume selects again.
        let selection = match (interrupted.load(Ordering::SeqCst), summary.reason) {
            (true, StopReason::Interrupted) | (false, _) => selection,
            (true, _) => {
                summary.reason = StopReason::Interrupted;
                journal.set_status(RunStatus::Interrupted)?;
                None
            }
        };
        let ensemble = match config.ensembling {
            Ensembling::On => build_ensemble(&layout.root, &grader, &journal)?,
            Ensembling::Off => None,
        };
        let report = write_final_report(&layout, &grader, &summary, &journal, ensemble, selection)?;
        drop(front_end);
        Ok(Finished { summary, report })
    }
}

/// The GPUs the configuration selects on this machine: a named GPU the driver does not list is a
/// configuration error.
fn gpus_of(config: &ResolvedConfig) -> Result<Vec<Gpu>> {
    select_gpus(&config.gpus).map_err(|error| Error::Invalid(error.to_string()))
}

/// The coder the configuration names. An LLM coder's endpoints are probed once here (one minimal request
/// with the run's parameters each), so an unset key, a refused parameter or an unreachable server is a
/// configuration error (exit code 2) before any work starts.
fn make_coder(
    config: &ResolvedConfig,
    installation: &PythonInstallation,
    layout: &RunLayout,
    runtime: &tokio::runtime::Handle,
) -> Result<Arc<dyn Coder>> {
    let llm = match (config.coder, &config.llm) {
        (CoderChoice::Builtin, _) => {
            return Ok(Arc::new(
                mlm_coder::BuiltinCoder::new()
                    .with_improve_choice(config.improve_choice)
                    .with_run_seed(config.settings.seed),
            ))
        }
        (CoderChoice::Llm, Some(llm)) => llm,
        (CoderChoice::Llm, None) => {
            return Err(Error::Invalid(
                "--coder llm needs a model: the configuration has no [llm.code] section\nhint: add one to ml-master.toml (see the README's \"LLM coder\" section), or use --coder builtin".to_string(),
            ))
        }
    };
    let client = |section: &'static str, settings: &ClientConfig| {
        Client::new(settings.clone()).map_err(|error| Error::Model {
            section,
            model: settings.model.clone(),
            base_url: settings.base_url.clone(),
            error: Box::new(error),
        })
    };
    let code_endpoint = match llm.code.mode {
        PromptMode::Chat => Endpoint::Chat,
        PromptMode::Steerable => Endpoint::Completions,
    };
    // Every model the run will ask, each probed once with the endpoint it will be asked on: reviews
    // are chat calls; a model configured exactly like one already probed on its endpoint is not asked
    // again.
    let mut probed: Vec<(&ClientConfig, Endpoint)> = Vec::new();
    for (section, model) in llm.models() {
        let endpoint = match section {
            "llm.feedback" => Endpoint::Chat,
            _ => code_endpoint,
        };
        if probed
            .iter()
            .any(|(settings, known)| **settings == model.client && *known == endpoint)
        {
            continue;
        }
        probed.push((&model.client, endpoint));
        let probe_client = client(section, &model.client)?;
        runtime
            .block_on(probe_client.probe(endpoint))
            .map_err(|error| Error::Model {
                section,
                model: model.client.model.clone(),
                base_url: model.client.base_url.clone(),
                error: Box::new(error),
            })?;
    }
    let code_model = client("llm.code", &llm.code.client)?;
    let feedback_model = client("llm.feedback", &llm.feedback.client)?;
    let prompts = Prompts::load(llm.prompts_dir.as_deref())
        .map_err(|error| Error::Invalid(error.to_string()))?;
    let syntax = PythonSyntaxCheck {
        python: installation.python.clone(),
        scratch_dir: layout.work_dir().join("syntax-check"),
        counter: AtomicU64::new(0),
    };
    let mut coder = LlmCoder::new(
        code_model,
        feedback_model,
        prompts,
        LlmOptions {
            mode: llm.code.mode,
            review_format: llm.review_format,
            max_reasks: llm.max_reasks,
        },
        Arc::new(syntax),
    );
    for (stage, section, model) in [
        (Stage::Draft, "llm.draft", &llm.draft),
        (Stage::Improve, "llm.improve", &llm.improve),
        (Stage::Debug, "llm.debug", &llm.debug),
    ] {
        if let Some(model) = model {
            coder = coder.with_operator_model(stage, client(section, &model.client)?);
        }
    }
    Ok(Arc::new(coder))
}
