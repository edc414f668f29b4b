//! Configuration in two stages: raw layers (the `ml-master.toml` file, then `ML_MASTER_…` environment
//! variables, then command-line flags), every field optional, merged field by field in that order
//! (`[search]`, `[builtin]` and `[llm.code]` included); then one resolved struct the run uses. The resolved form is
//! written to `<run>/config.toml`, which `resume` reads back.

mod builtin;
mod llm;
mod search;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use merge::Merge;
use mlm_coder::ImproveChoice;
use mlm_engine::{RunSettings, Workers};
use mlm_env_vars::EnvVars;
use mlm_exec::sandbox::{FilesystemIsolation, NetworkAccess, SandboxTier};
use mlm_exec::GpuSelection;
use serde::{Deserialize, Serialize};

pub use crate::ensemble::Ensembling;
use crate::error::{Error, Result};
pub use crate::final_selection::Reselection;
pub use builtin::BuiltinLayer;
pub use llm::{LlmLayer, LlmSettings, ModelLayer, ModelSettings};
pub use search::SearchLayer;

/// The config file read when `--config` is not given and it exists in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "ml-master.toml";

/// `[llm] max_consecutive_failures` when unset: proposals in a row that fail the same way before the run
/// stops.
const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 5;

/// Which coder writes the scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoderChoice {
    /// The offline AutoML coder: no model, no key.
    Builtin,
    /// The models configured under [llm.code] and [llm.feedback].
    Llm,
}

impl CoderChoice {
    pub fn name(self) -> &'static str {
        match self {
            CoderChoice::Builtin => "builtin",
            CoderChoice::Llm => "llm",
        }
    }
}

impl FromStr for CoderChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "builtin" => Ok(CoderChoice::Builtin),
            "llm" => Ok(CoderChoice::Llm),
            other => Err(format!("`{other}`: expected builtin or llm")),
        }
    }
}

/// One layer of configuration: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Merge)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigLayer {
    pub run: RunLayer,
    /// ML-Master's search parameters; absent fields keep their defaults.
    pub search: SearchLayer,
    pub sandbox: SandboxLayer,
    /// The built-in coder's settings.
    pub builtin: BuiltinLayer,
    /// The models of the LLM coder.
    pub llm: LlmLayer,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Merge)]
#[serde(deny_unknown_fields, default)]
#[merge(strategy = merge::option::overwrite_none)]
pub struct RunLayer {
    pub coder: Option<CoderChoice>,
    pub steps: Option<u32>,
    pub time_limit_seconds: Option<u64>,
    pub node_timeout_seconds: Option<u64>,
    pub slots: Option<usize>,
    /// `"auto"` (the default): as many as keep the slots busy at the measured latencies.
    pub workers: Option<Workers>,
    /// `"auto"` (the default): every GPU `nvidia-smi` lists; `"none"`; or indices such as `"0,1"`.
    pub gpus: Option<GpuSelection>,
    pub seed: Option<u64>,
    pub token_budget: Option<u64>,
    pub cost_budget_usd: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Merge)]
#[serde(deny_unknown_fields, default)]
#[merge(strategy = merge::option::overwrite_none)]
pub struct SandboxLayer {
    /// `false` by default: scripts get no network.
    pub allow_network: Option<bool>,
    /// Memory per script in MiB; default: three quarters of physical memory divided among the slots.
    pub memory_mib: Option<u64>,
    /// `false` by default. `true` turns filesystem isolation off; every run then warns.
    pub unrestricted_filesystem: Option<bool>,
    /// Tiers a run refuses to go without (e.g. `["namespaces"]`): a node whose sandbox lacks one is not
    /// started, and the run stops with exit code 2 naming the tier.
    pub require: Option<Vec<SandboxTier>>,
}

/// The configuration a run uses, every value decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    pub coder: CoderChoice,
    pub settings: RunSettings,
    pub network: NetworkAccess,
    pub filesystem: FilesystemIsolation,
    pub memory_bytes_per_slot: Option<u64>,
    /// Which GPUs the slots are dealt.
    pub gpus: GpuSelection,
    /// `[sandbox] require`: tiers no node runs without.
    pub required_tiers: Vec<SandboxTier>,
    /// The LLM coder's models, when `[llm.code]` is configured.
    pub llm: Option<LlmSettings>,
    /// `[search] ensemble`: whether the run blends its valid nodes at the end.
    pub ensembling: Ensembling,
    /// `[search] reselect_…`: whether and how the best nodes are re-evaluated on fresh folds at the end.
    pub reselection: Reselection,
    /// `[builtin] text_model`: an absolute path to a local Hugging Face model directory that every script
    /// may read, and whose embeddings the built-in coder's first text draft uses.
    pub text_model: Option<PathBuf>,
    /// `[builtin] improve_choice`: how the built-in coder's improves pick their change.
    pub improve_choice: ImproveChoice,
}

impl ConfigLayer {
    /// Reads a config file; `deny_unknown_fields` turns a typo into an error naming the file.
    pub fn read(path: &Path) -> Result<ConfigLayer> {
        let text = std::fs::read_to_string(path)
            .map_err(Error::io(path, "cannot read the config file"))?;
        toml::from_str(&text).map_err(|error| {
            let line = match error.span() {
                Some(span) => format!(":{}", text[..span.start].matches('\n').count() + 1),
                None => String::new(),
            };
            Error::Invalid(format!("{}{line}: not a valid config file: {}\nhint: see the Configuration section of the README", path.display(), error.message()))
        })
    }

    /// The file named by `--config`, else `./ml-master.toml` when it exists, else nothing.
    pub fn from_file(explicit: Option<&Path>) -> Result<ConfigLayer> {
        match explicit {
            Some(path) => ConfigLayer::read(path),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                ConfigLayer::read(Path::new(DEFAULT_CONFIG_FILE))
            }
            None => Ok(ConfigLayer::default()),
        }
    }

    /// The `ML_MASTER_…` variables that are set.
    pub fn from_environment() -> Result<ConfigLayer> {
        fn read<T: FromStr>(name: &str) -> Result<Option<T>> {
            match std::env::var(name) {
                Ok(value) if !value.is_empty() => value.parse().map(Some).map_err(|_| {
                    Error::Invalid(format!(
                        "{name}={value}: not a valid value\nhint: unset it, or give one of the values `ml-master run --help` lists"
                    ))
                }),
                Ok(_) | Err(_) => Ok(None),
            }
        }
        Ok(ConfigLayer {
            run: RunLayer {
                coder: read(EnvVars::ML_MASTER_CODER)?,
                steps: read(EnvVars::ML_MASTER_STEPS)?,
                time_limit_seconds: read(EnvVars::ML_MASTER_TIME_LIMIT)?,
                slots: read(EnvVars::ML_MASTER_SLOTS)?,
                workers: read(EnvVars::ML_MASTER_WORKERS)?,
                seed: read(EnvVars::ML_MASTER_SEED)?,
                ..RunLayer::default()
            },
            builtin: BuiltinLayer {
                text_model: read(EnvVars::ML_MASTER_TEXT_MODEL)?,
                ..BuiltinLayer::default()
            },
            ..ConfigLayer::default()
        })
    }

    /// `self` with every field that `over` sets replaced, section by section and key by key.
    pub fn merged(self, mut over: ConfigLayer) -> ConfigLayer {
        over.merge(self);
        over
    }

    /// Decides every value. Defaults: the built-in coder, 20 steps, one hour, ten minutes per script,
    /// one slot per core, `auto` workers, seed 0.
    pub fn resolve(
        &self,
        cores: usize,
        physical_memory_bytes: Option<u64>,
    ) -> Result<ResolvedConfig> {
        let steps = self.run.steps.unwrap_or(20);
        let slots = self.run.slots.unwrap_or(cores.max(1));
        let workers = self.run.workers.unwrap_or(Workers::Auto);
        let search = self.search.resolve(steps);
        let settings = RunSettings {
            steps,
            time_limit: Duration::from_secs(self.run.time_limit_seconds.unwrap_or(3600)),
            node_timeout: Duration::from_secs(self.run.node_timeout_seconds.unwrap_or(600)),
            slots,
            workers,
            token_budget: self.run.token_budget,
            cost_budget: self.run.cost_budget_usd,
            search,
            seed: self.run.seed.unwrap_or(0),
            max_consecutive_failures: self
                .llm
                .max_consecutive_failures
                .unwrap_or(DEFAULT_MAX_CONSECUTIVE_FAILURES),
        };
        settings
            .validate()
            .map_err(|problem| Error::Invalid(format!("invalid configuration: {problem}")))?;
        let memory_bytes_per_slot = match self.sandbox.memory_mib {
            Some(mebibytes) => Some(mebibytes.saturating_mul(1024 * 1024)),
            None => physical_memory_bytes.map(|bytes| bytes / 4 * 3 / slots as u64),
        };
        let coder = self.run.coder.unwrap_or(CoderChoice::Builtin);
        let llm = self.llm.resolve()?;
        if coder == CoderChoice::Llm && llm.is_none() {
            return Err(Error::Invalid(
                "--coder llm needs a model: the configuration has no [llm.code] section\nhint: add one to ml-master.toml (see the README's \"LLM coder\" section), or use --coder builtin".to_string()
            ));
        }
        Ok(ResolvedConfig {
            coder,
            llm,
            ensembling: match self.search.ensemble.unwrap_or(true) {
                true => Ensembling::On,
                false => Ensembling::Off,
            },
            reselection: Reselection::resolve(
                self.search.reselect_candidates,
                self.search.reselect_evaluations,
                self.search.reselect_share,
            )?,
            settings,
            gpus: self.run.gpus.clone().unwrap_or_default(),
            network: if self.sandbox.allow_network.unwrap_or(false) {
                NetworkAccess::Allowed
            } else {
                NetworkAccess::Denied
            },
            filesystem: if self.sandbox.unrestricted_filesystem.unwrap_or(false) {
                FilesystemIsolation::Unrestricted
            } else {
                FilesystemIsolation::Landlock
            },
            memory_bytes_per_slot,
            required_tiers: self.sandbox.require.clone().unwrap_or_default(),
            text_model: self.builtin.resolve_text_model()?,
            improve_choice: self.builtin.improve_choice.unwrap_or_default(),
        })
    }
}

impl ResolvedConfig {
    /// What the configuration allows but cannot mean, for the user to read before the run starts: a
    /// cost budget with models whose prices are zero.
    pub fn warnings(&self) -> Vec<String> {
        let (Some(budget), CoderChoice::Llm, Some(llm)) =
            (self.settings.cost_budget, self.coder, &self.llm)
        else {
            return Vec::new();
        };
        let models = llm.models();
        let unpriced: Vec<&str> = models
            .iter()
            .filter(|(_, model)| !model.is_priced())
            .map(|(section, _)| *section)
            .collect();
        if unpriced.is_empty() {
            return Vec::new();
        }
        let consequence = if unpriced.len() == models.len() {
            "the budget can never be reached"
        } else {
            "their calls count nothing against it"
        };
        vec![format!(
            "cost_budget_usd = {budget} is set but [{}] has no prices, so {consequence}\nhint: set prompt_price_per_million_usd and completion_price_per_million_usd there (US dollars per million tokens)",
            unpriced.join("], [")
        )]
    }

    /// The resolved values as a complete layer, for `<run>/config.toml`. Holds no secret: keys are only
    /// ever named, never stored.
    pub fn to_layer(&self) -> ConfigLayer {
        let settings = &self.settings;
        let (reselect_candidates, reselect_evaluations, reselect_share) = match self.reselection {
            Reselection::Off => (Some(0), None, None),
            Reselection::On {
                candidates,
                evaluations,
                share,
            } => (Some(candidates), Some(evaluations), Some(share)),
        };
        ConfigLayer {
            run: RunLayer {
                coder: Some(self.coder),
                steps: Some(settings.steps),
                time_limit_seconds: Some(settings.time_limit.as_secs()),
                node_timeout_seconds: Some(settings.node_timeout.as_secs()),
                slots: Some(settings.slots),
                workers: Some(settings.workers),
                gpus: Some(self.gpus.clone()),
                seed: Some(settings.seed),
                token_budget: settings.token_budget,
                cost_budget_usd: settings.cost_budget,
            },
            search: SearchLayer {
                ensemble: Some(self.ensembling == Ensembling::On),
                reselect_candidates,
                reselect_evaluations,
                reselect_share,
                ..SearchLayer::from(&settings.search)
            },
            sandbox: SandboxLayer {
                allow_network: Some(matches!(self.network, NetworkAccess::Allowed)),
                memory_mib: self
                    .memory_bytes_per_slot
                    .map(|bytes| bytes / (1024 * 1024)),
                unrestricted_filesystem: Some(matches!(
                    self.filesystem,
                    FilesystemIsolation::Unrestricted
                )),
                require: Some(self.required_tiers.clone()),
            },
            builtin: BuiltinLayer {
                text_model: self.text_model.clone(),
                improve_choice: Some(self.improve_choice),
            },
            llm: LlmLayer {
                max_consecutive_failures: Some(settings.max_consecutive_failures),
                ..self
                    .llm
                    .as_ref()
                    .map(LlmSettings::to_layer)
                    .unwrap_or_default()
            },
        }
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(&self.to_layer()).map_err(|error| {
            Error::Failed(format!(
                "cannot write the resolved configuration as TOML: {error}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cost_budget_with_unpriced_models_is_warned_about() {
        let resolve = |prices: &str| {
            toml::from_str::<ConfigLayer>(&format!(
                "[run]\ncoder = \"llm\"\ncost_budget_usd = 2.5\n[llm.code]\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1/v1\"\n{prices}"
            ))
            .unwrap()
            .resolve(2, None)
            .unwrap()
        };
        let warnings = resolve("").warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("[llm.code], [llm.feedback]")
                && warnings[0].contains("can never be reached")
                && warnings[0].contains("hint:"),
            "{warnings:?}"
        );
        let priced = resolve("prompt_price_per_million_usd = 1.0\n");
        assert_eq!(priced.warnings(), Vec::<String>::new());
    }

    #[test]
    fn later_layers_win_field_by_field() {
        let file: ConfigLayer =
            toml::from_str("[run]\nsteps = 50\nslots = 3\n[sandbox]\nmemory_mib = 1024\n").unwrap();
        let environment = ConfigLayer {
            run: RunLayer {
                steps: Some(60),
                ..RunLayer::default()
            },
            ..ConfigLayer::default()
        };
        let flags = ConfigLayer {
            run: RunLayer {
                slots: Some(1),
                ..RunLayer::default()
            },
            ..ConfigLayer::default()
        };
        let resolved = file
            .merged(environment)
            .merged(flags)
            .resolve(2, None)
            .unwrap();
        assert_eq!(resolved.settings.steps, 60);
        assert_eq!(
            resolved.settings.search.steps, 60,
            "the exploration schedule reads the same step budget"
        );
        assert_eq!(resolved.settings.slots, 1);
        assert_eq!(resolved.settings.workers, Workers::Auto);
        assert_eq!(resolved.memory_bytes_per_slot, Some(1024 * 1024 * 1024));
        assert_eq!(resolved.network, NetworkAccess::Denied);
    }

    #[test]
    fn search_keys_from_different_layers_are_merged_one_by_one() {
        let file: ConfigLayer = toml::from_str("[search]\nnum_drafts = 7\nnum_bugs = 2\n").unwrap();
        let flags: ConfigLayer = toml::from_str("[search]\nnum_bugs = 4\n").unwrap();
        let resolved = file.merged(flags).resolve(2, None).unwrap();
        assert_eq!(
            resolved.settings.search.num_drafts, 7,
            "the file's key survives"
        );
        assert_eq!(resolved.settings.search.num_bugs, 4, "the later layer wins");
        assert_eq!(
            resolved.settings.search.num_improves,
            mlm_search::SearchConfig::default().num_improves
        );
    }

    #[test]
    fn a_run_directory_written_by_an_earlier_version_still_reads() {
        let layer: ConfigLayer =
            toml::from_str("[run]\nsteps = 9\n[search]\nsteps = 9\nnum_drafts = 5\n").unwrap();
        assert_eq!(layer.resolve(1, None).unwrap().settings.search.steps, 9);
    }

    #[test]
    fn required_sandbox_tiers_are_read_by_name_and_survive_a_resume() {
        let layer: ConfigLayer =
            toml::from_str("[sandbox]\nrequire = [\"namespaces\", \"network\"]\n").unwrap();
        let resolved = layer.resolve(1, None).unwrap();
        assert_eq!(
            resolved.required_tiers,
            [SandboxTier::Namespaces, SandboxTier::Network]
        );
        let reread: ConfigLayer = toml::from_str(&resolved.to_toml().unwrap()).unwrap();
        assert_eq!(reread.resolve(1, None).unwrap(), resolved);
        let typo = toml::from_str::<ConfigLayer>("[sandbox]\nrequire = [\"namespace\"]\n");
        assert!(typo.is_err(), "an unknown tier is refused");
    }

    #[test]
    fn a_typo_in_the_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ml-master.toml");
        std::fs::write(&path, "[run]\nseed = 1\nstpes = 5\n").unwrap();
        let error = ConfigLayer::read(&path).unwrap_err().to_string();
        assert!(
            error.contains("ml-master.toml:3:") && error.contains("stpes"),
            "{error}"
        );
    }

    #[test]
    fn the_resolved_config_round_trips_through_its_toml() {
        let resolved = ConfigLayer::default().resolve(2, Some(8 << 30)).unwrap();
        let text = resolved.to_toml().unwrap();
        let reread: ConfigLayer = toml::from_str(&text).unwrap();
        assert_eq!(reread.resolve(16, None).unwrap(), resolved);
    }

    #[test]
    fn the_text_model_resolves_to_an_absolute_directory_that_a_resume_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("config.json"), "{}").unwrap();
        let layer: ConfigLayer = toml::from_str(&format!(
            "[builtin]\ntext_model = {:?}\n",
            model.join("..").join("model").display().to_string()
        ))
        .unwrap();
        let resolved = layer.resolve(1, None).unwrap();
        let text_model = resolved.text_model.clone().unwrap();
        assert!(text_model.is_absolute(), "{}", text_model.display());
        assert!(text_model.join("config.json").is_file());
        let reread: ConfigLayer = toml::from_str(&resolved.to_toml().unwrap()).unwrap();
        assert_eq!(reread.resolve(1, None).unwrap(), resolved);
        assert_eq!(
            ConfigLayer::default().resolve(1, None).unwrap().text_model,
            None,
            "without the key, text stays with TF-IDF"
        );
    }

    #[test]
    fn a_text_model_that_is_not_a_model_directory_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let refusal = |path: &Path| {
            let layer = ConfigLayer {
                builtin: BuiltinLayer {
                    text_model: Some(path.to_path_buf()),
                    ..BuiltinLayer::default()
                },
                ..ConfigLayer::default()
            };
            layer.resolve(1, None).unwrap_err()
        };
        let missing = dir.path().join("no-such-model");
        let error = refusal(&missing);
        let message = error.to_string();
        assert!(
            message.contains(&missing.display().to_string())
                && message.contains("no such directory")
                && message.contains("\nhint: "),
            "{message}"
        );
        assert_eq!(
            error.kind(),
            crate::error::ErrorKind::BadInput,
            "exit code 2"
        );
        let message = refusal(dir.path()).to_string();
        assert!(
            message.contains("has no config.json") && message.contains("\nhint: "),
            "{message}"
        );
    }

    #[test]
    fn fewer_workers_than_slots_is_rejected() {
        let layer = ConfigLayer {
            run: RunLayer {
                slots: Some(4),
                workers: Some(Workers::Fixed(2)),
                ..RunLayer::default()
            },
            ..ConfigLayer::default()
        };
        assert!(layer
            .resolve(2, None)
            .unwrap_err()
            .to_string()
            .contains("workers"));
    }
}
