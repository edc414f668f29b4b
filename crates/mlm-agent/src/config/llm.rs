//! The `[llm]` part of the configuration: the code model (`[llm.code]`), per-operator overrides of it
//! (`[llm.draft]`, `[llm.improve]`, `[llm.debug]`, each key falling back to `[llm.code]`'s), the
//! feedback model that reviews runs (`[llm.feedback]`, the code model when absent) and how the LLM coder
//! asks them. Keys are only
//! ever named (`api_key_env`); the key itself is read from the environment when the client starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use merge::Merge;
use mlm_coder::{PromptMode, ReviewFormat};
use mlm_llm::{
    ChatTemplate, ClientConfig, OutputLimitParameter, Price, Provider, RetryPolicy, Timeouts,
    Transport,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// ML-Master's sampling temperature for both models.
const DEFAULT_TEMPERATURE: f64 = 0.5;
/// Replies without runnable code asked again, per proposal.
const DEFAULT_MAX_REASKS: u32 = 2;

/// `[llm]`: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Merge)]
#[serde(deny_unknown_fields, default)]
#[merge(strategy = merge::option::overwrite_none)]
pub struct LlmLayer {
    #[merge(strategy = merge::option::recurse)]
    pub code: Option<ModelLayer>,
    #[merge(strategy = merge::option::recurse)]
    pub feedback: Option<ModelLayer>,
    /// Drafts' model: every key it leaves out is `[llm.code]`'s.
    #[merge(strategy = merge::option::recurse)]
    pub draft: Option<ModelLayer>,
    /// Improvements' model: every key it leaves out is `[llm.code]`'s.
    #[merge(strategy = merge::option::recurse)]
    pub improve: Option<ModelLayer>,
    /// Debugs' model: every key it leaves out is `[llm.code]`'s.
    #[merge(strategy = merge::option::recurse)]
    pub debug: Option<ModelLayer>,
    /// A directory whose template files replace the built-in prompts of the same name.
    pub prompts_dir: Option<PathBuf>,
    /// How many times a reply without runnable code, or an unreadable review, is asked again.
    pub max_reasks: Option<u32>,
    /// `tool` (a forced `submit_review` call) or `json` (for servers without tool calling).
    pub review_format: Option<ReviewFormatChoice>,
    /// Proposals in a row, across workers, that may fail the same way before the run stops (exit 2).
    /// A request the server refuses for good stops it at the first.
    pub max_consecutive_failures: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewFormatChoice {
    Tool,
    Json,
}

/// `temperature`: a number, or `"server-default"` to send none, for models that accept only their own
/// (OpenAI's o-series and GPT-5 reject any other value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TemperatureChoice {
    Value(f64),
    ServerDefault,
}

const SERVER_DEFAULT: &str = "server-default";

impl Serialize for TemperatureChoice {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TemperatureChoice::Value(value) => serializer.serialize_f64(*value),
            TemperatureChoice::ServerDefault => serializer.serialize_str(SERVER_DEFAULT),
        }
    }
}

impl<'de> Deserialize<'de> for TemperatureChoice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TemperatureVisitor;
        impl serde::de::Visitor<'_> for TemperatureVisitor {
            type Value = TemperatureChoice;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(formatter, "a number, or \"{SERVER_DEFAULT}\" to send none")
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
                Ok(TemperatureChoice::Value(value))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(TemperatureChoice::Value(value as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(TemperatureChoice::Value(value as f64))
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
                if value == SERVER_DEFAULT {
                    Ok(TemperatureChoice::ServerDefault)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(value), &self))
                }
            }
        }
        deserializer.deserialize_any(TemperatureVisitor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeChoice {
    Chat,
    Steerable,
}

/// `[llm.code]` or `[llm.feedback]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Merge)]
#[serde(deny_unknown_fields, default)]
#[merge(strategy = merge::option::overwrite_none)]
pub struct ModelLayer {
    /// `openai` (any OpenAI-compatible server) or `anthropic`.
    pub provider: Option<Provider>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// The name of the environment variable that holds the key.
    pub api_key_env: Option<String>,
    pub temperature: Option<TemperatureChoice>,
    pub max_tokens: Option<u32>,
    /// `chat`, or `steerable` (completions API with pre-filled reasoning; code model only).
    pub mode: Option<ModeChoice>,
    /// For steerable mode: `deepseek-r1`, `qwen`, or the path of a minijinja chat template.
    pub chat_template: Option<String>,
    pub prompt_price_per_million_usd: Option<f64>,
    pub completion_price_per_million_usd: Option<f64>,
    pub requests_per_minute: Option<u32>,
    /// `whole` or `streamed`.
    pub transport: Option<Transport>,
    pub connect_timeout_seconds: Option<f64>,
    /// Streamed replies only: the longest silence before the headers and between chunks.
    pub idle_timeout_seconds: Option<f64>,
    /// One attempt, from sending the request to the reply's last byte.
    pub total_timeout_seconds: Option<f64>,
    /// Attempts per request for 429, 5xx, timeouts and resets.
    pub max_attempts: Option<u32>,
    /// Anthropic extended thinking.
    pub thinking_budget_tokens: Option<u32>,
    /// The output limit's name in chat requests: `max_tokens` (default) or `max_completion_tokens`
    /// (OpenAI's o-series and GPT-5).
    pub max_tokens_parameter: Option<OutputLimitParameter>,
    pub top_p: Option<f64>,
    /// OpenAI-compatible servers only, e.g. `low`, `medium`, `high`.
    pub reasoning_effort: Option<String>,
    /// Fields added to every request body as they are (last: TOML writes tables after values).
    pub extra_body: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One model, every value decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    pub client: ClientConfig,
    pub mode: PromptMode,
    /// `chat_template` as configured (a file path made absolute), for `<run>/config.toml`.
    pub chat_template: Option<String>,
}

/// The LLM coder's settings, every value decided.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    pub code: ModelSettings,
    /// Where `[llm.draft]`, `[llm.improve]` or `[llm.debug]` is set: that operator's model, `[llm.code]`
    /// completed by the section's keys.
    pub draft: Option<ModelSettings>,
    pub improve: Option<ModelSettings>,
    pub debug: Option<ModelSettings>,
    pub feedback: ModelSettings,
    pub prompts_dir: Option<PathBuf>,
    pub max_reasks: u32,
    pub review_format: ReviewFormat,
}

impl LlmLayer {
    /// The settings, or `None` when no code model is configured.
    pub fn resolve(&self) -> Result<Option<LlmSettings>> {
        let Some(code) = &self.code else {
            if self.feedback.is_some() {
                return Err(Error::Invalid(
                    "[llm.feedback] is set but [llm.code] is not\nhint: add an [llm.code] section with at least `model`"
                        .to_string(),
                ));
            }
            return Ok(None);
        };
        let operator = |section: &str,
                        layer: &Option<ModelLayer>|
         -> Result<Option<ModelSettings>> {
            let Some(layer) = layer else {
                return Ok(None);
            };
            // One prompt mode for every operator: the mode decides the prompts' shape, and the
            // templates a steerable run needs come with [llm.code].
            if layer.mode.is_some() || layer.chat_template.is_some() {
                return Err(Error::Invalid(format!(
                    "[{section}] sets mode or chat_template, which every operator shares\nhint: set them in [llm.code] only"
                )));
            }
            let mut merged = layer.clone();
            merged.merge(code.clone());
            merged.resolve(section).map(Some)
        };
        let draft = operator("llm.draft", &self.draft)?;
        let improve = operator("llm.improve", &self.improve)?;
        let debug = operator("llm.debug", &self.debug)?;
        let code = code.resolve("llm.code")?;
        let feedback = match &self.feedback {
            Some(feedback) => feedback.resolve("llm.feedback")?,
            None => ModelSettings {
                mode: PromptMode::Chat,
                ..code.clone()
            },
        };
        if feedback.mode == PromptMode::Steerable {
            return Err(Error::Invalid(
                "[llm.feedback] mode = \"steerable\": reviews need tool calls or JSON, which only chat mode gives\nhint: remove `mode` from [llm.feedback]"
                    .to_string(),
            ));
        }
        let prompts_dir = match &self.prompts_dir {
            Some(dir) => {
                let dir = std::path::absolute(dir).map_err(Error::io(dir, "not a usable path"))?;
                if !dir.is_dir() {
                    return Err(Error::Invalid(format!(
                        "{}: the prompts_dir of [llm] is not a directory\nhint: create it with copies of the templates in crates/mlm-coder/prompts/ you want to change",
                        dir.display()
                    )));
                }
                Some(dir)
            }
            None => None,
        };
        Ok(Some(LlmSettings {
            code,
            draft,
            improve,
            debug,
            feedback,
            prompts_dir,
            max_reasks: self.max_reasks.unwrap_or(DEFAULT_MAX_REASKS),
            review_format: match self.review_format {
                None | Some(ReviewFormatChoice::Tool) => ReviewFormat::Tool,
                Some(ReviewFormatChoice::Json) => ReviewFormat::Json,
            },
        }))
    }
}

impl ModelLayer {
    fn resolve(&self, section: &str) -> Result<ModelSettings> {
        let model = self.model.clone().ok_or_else(|| {
            Error::Invalid(format!("[{section}] needs `model`\nhint: e.g. model = \"deepseek-reasoner\" with base_url = \"https://api.deepseek.com/v1\""))
        })?;
        let provider = self.provider.unwrap_or(Provider::OpenAi);
        // The provider's own endpoint takes its usual key variable; a base_url of one's own (a local
        // vLLM or Ollama) takes no key unless one is named.
        let (base_url, default_key) = match (&self.base_url, provider) {
            (Some(base_url), _) => (base_url.clone(), None),
            (None, Provider::OpenAi) => (
                "https://api.openai.com/v1".to_string(),
                Some("OPENAI_API_KEY"),
            ),
            (None, Provider::Anthropic) => (
                "https://api.anthropic.com/v1".to_string(),
                Some("ANTHROPIC_API_KEY"),
            ),
        };
        let mut client = ClientConfig::new(provider, model, base_url);
        client.api_key_env = self.api_key_env.clone().or(default_key.map(str::to_string));
        client.temperature = match self.temperature {
            None => Some(DEFAULT_TEMPERATURE),
            Some(TemperatureChoice::Value(value)) => Some(value),
            Some(TemperatureChoice::ServerDefault) => None,
        };
        client.max_tokens = self.max_tokens;
        client.output_limit_parameter = self.max_tokens_parameter.unwrap_or_default();
        client.top_p = self.top_p;
        client.reasoning_effort = self.reasoning_effort.clone();
        client.extra_body = self.extra_body.clone().unwrap_or_default();
        client.price = Price {
            prompt_per_million_usd: self.prompt_price_per_million_usd.unwrap_or(0.0),
            completion_per_million_usd: self.completion_price_per_million_usd.unwrap_or(0.0),
        };
        let defaults = Timeouts::default();
        client.timeouts = Timeouts {
            connect: seconds(
                section,
                "connect_timeout_seconds",
                self.connect_timeout_seconds,
            )?
            .unwrap_or(defaults.connect),
            idle: seconds(section, "idle_timeout_seconds", self.idle_timeout_seconds)?
                .unwrap_or(defaults.idle),
            total: seconds(section, "total_timeout_seconds", self.total_timeout_seconds)?
                .unwrap_or(defaults.total),
        };
        client.retry = RetryPolicy {
            max_attempts: self
                .max_attempts
                .unwrap_or(RetryPolicy::default().max_attempts)
                .max(1),
            ..RetryPolicy::default()
        };
        if self.requests_per_minute == Some(0) {
            return Err(Error::Invalid(format!(
                "[{section}] requests_per_minute = 0 would never send a request\nhint: remove it for no limit"
            )));
        }
        client.requests_per_minute = self.requests_per_minute;
        client.transport = self.transport.unwrap_or_default();
        client.thinking_budget_tokens = self.thinking_budget_tokens;
        let (chat_template, configured_template) = match self.chat_template.as_deref() {
            None => (None, None),
            Some("deepseek-r1") => (
                Some(ChatTemplate::DeepSeekR1),
                Some("deepseek-r1".to_string()),
            ),
            Some("qwen") => (Some(ChatTemplate::Qwen), Some("qwen".to_string())),
            Some(path) => {
                let path = std::path::absolute(Path::new(path))
                    .map_err(Error::io(path, "not a usable path"))?;
                let source = std::fs::read_to_string(&path).map_err(|error| {
                    Error::Invalid(format!(
                        "{}: cannot read the chat_template of [{section}]: {error}\nhint: use deepseek-r1, qwen, or the path of a minijinja chat template",
                        path.display()
                    ))
                })?;
                (
                    Some(ChatTemplate::Custom { source }),
                    Some(path.display().to_string()),
                )
            }
        };
        client.chat_template = chat_template;
        let mode = match self.mode {
            None | Some(ModeChoice::Chat) => PromptMode::Chat,
            Some(ModeChoice::Steerable) => {
                if provider != Provider::OpenAi {
                    return Err(Error::Invalid(format!(
                        "[{section}] mode = \"steerable\" needs an OpenAI-compatible completions endpoint\nhint: use provider = \"openai\" with a vLLM, SGLang or DeepSeek server, or mode = \"chat\""
                    )));
                }
                if client.chat_template.is_none() {
                    return Err(Error::Invalid(format!(
                        "[{section}] mode = \"steerable\" needs chat_template\nhint: chat_template = \"deepseek-r1\", \"qwen\", or the path of a template file"
                    )));
                }
                PromptMode::Steerable
            }
        };
        Ok(ModelSettings {
            client,
            mode,
            chat_template: configured_template,
        })
    }
}

fn seconds(section: &str, key: &str, value: Option<f64>) -> Result<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(value) if value.is_finite() && value > 0.0 => Ok(Some(Duration::from_secs_f64(value))),
        Some(value) => Err(Error::Invalid(format!(
            "[{section}] {key} = {value}: must be a positive number of seconds"
        ))),
    }
}

impl ModelSettings {
    /// An operator's section: complete but for the mode and chat template, which `[llm.code]` holds.
    fn to_operator_layer(&self) -> ModelLayer {
        ModelLayer {
            mode: None,
            chat_template: None,
            ..self.to_layer()
        }
    }

    /// Whether a cost budget can ever be reached through this model.
    pub fn is_priced(&self) -> bool {
        self.client.price.prompt_per_million_usd > 0.0
            || self.client.price.completion_per_million_usd > 0.0
    }

    fn to_layer(&self) -> ModelLayer {
        let client = &self.client;
        ModelLayer {
            provider: Some(client.provider),
            model: Some(client.model.clone()),
            base_url: Some(client.base_url.clone()),
            api_key_env: client.api_key_env.clone(),
            temperature: Some(match client.temperature {
                Some(value) => TemperatureChoice::Value(value),
                None => TemperatureChoice::ServerDefault,
            }),
            max_tokens: client.max_tokens,
            mode: Some(match self.mode {
                PromptMode::Chat => ModeChoice::Chat,
                PromptMode::Steerable => ModeChoice::Steerable,
            }),
            chat_template: self.chat_template.clone(),
            prompt_price_per_million_usd: Some(client.price.prompt_per_million_usd),
            completion_price_per_million_usd: Some(client.price.completion_per_million_usd),
            requests_per_minute: client.requests_per_minute,
            transport: Some(client.transport),
            connect_timeout_seconds: Some(client.timeouts.connect.as_secs_f64()),
            idle_timeout_seconds: Some(client.timeouts.idle.as_secs_f64()),
            total_timeout_seconds: Some(client.timeouts.total.as_secs_f64()),
            max_attempts: Some(client.retry.max_attempts),
            thinking_budget_tokens: client.thinking_budget_tokens,
            max_tokens_parameter: Some(client.output_limit_parameter),
            top_p: client.top_p,
            reasoning_effort: client.reasoning_effort.clone(),
            extra_body: (!client.extra_body.is_empty()).then(|| client.extra_body.clone()),
        }
    }
}

impl LlmSettings {
    /// Every model the run asks, by its section: the code model, the operators' own, the feedback
    /// model.
    pub fn models(&self) -> Vec<(&'static str, &ModelSettings)> {
        let mut models = vec![("llm.code", &self.code)];
        for (section, model) in [
            ("llm.draft", &self.draft),
            ("llm.improve", &self.improve),
            ("llm.debug", &self.debug),
        ] {
            if let Some(model) = model {
                models.push((section, model));
            }
        }
        models.push(("llm.feedback", &self.feedback));
        models
    }

    /// The settings as a complete layer, for `<run>/config.toml`.
    pub fn to_layer(&self) -> LlmLayer {
        LlmLayer {
            code: Some(self.code.to_layer()),
            draft: self.draft.as_ref().map(ModelSettings::to_operator_layer),
            improve: self.improve.as_ref().map(ModelSettings::to_operator_layer),
            debug: self.debug.as_ref().map(ModelSettings::to_operator_layer),
            feedback: Some(self.feedback.to_layer()),
            prompts_dir: self.prompts_dir.clone(),
            max_reasks: Some(self.max_reasks),
            review_format: Some(match self.review_format {
                ReviewFormat::Tool => ReviewFormatChoice::Tool,
                ReviewFormat::Json => ReviewFormatChoice::Json,
            }),
            // The run's setting, which the resolved configuration writes beside these.
            max_consecutive_failures: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(text: &str) -> LlmLayer {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_feedback_model_defaults_to_the_code_model_in_chat_mode() {
        let settings = layer(
            "[code]\nmodel = \"r1\"\nbase_url = \"http://127.0.0.1:8000/v1\"\nmode = \"steerable\"\nchat_template = \"deepseek-r1\"\n",
        )
        .resolve()
        .unwrap()
        .unwrap();
        assert_eq!(settings.code.mode, PromptMode::Steerable);
        assert_eq!(settings.feedback.mode, PromptMode::Chat);
        assert_eq!(settings.feedback.client.model, "r1");
        assert_eq!(
            settings.code.client.api_key_env, None,
            "a server of one's own takes no key by default"
        );
        assert_eq!(settings.code.client.temperature, Some(0.5));
    }

    #[test]
    fn an_operators_section_overrides_the_code_model_key_by_key_and_survives_a_resume() {
        let settings = layer(
            "[code]\nmodel = \"r1\"\nbase_url = \"http://127.0.0.1:8000/v1\"\nmax_tokens = 8000\nmode = \"steerable\"\nchat_template = \"qwen\"\n[draft]\nmodel = \"r1-large\"\nmax_tokens = 16000\n",
        )
        .resolve()
        .unwrap()
        .unwrap();
        let draft = settings.draft.clone().unwrap();
        assert_eq!(draft.client.model, "r1-large");
        assert_eq!(draft.client.max_tokens, Some(16000));
        assert_eq!(draft.client.base_url, "http://127.0.0.1:8000/v1");
        assert_eq!(draft.mode, PromptMode::Steerable);
        assert_eq!(settings.improve, None);
        assert_eq!(settings.debug, None);
        let sections: Vec<&str> = settings
            .models()
            .iter()
            .map(|(section, _)| *section)
            .collect();
        assert_eq!(sections, vec!["llm.code", "llm.draft", "llm.feedback"]);
        let text = toml::to_string(&settings.to_layer()).unwrap();
        assert_eq!(layer(&text).resolve().unwrap().unwrap(), settings);
    }

    #[test]
    fn an_operators_section_cannot_change_the_prompt_mode() {
        let error = layer("[code]\nmodel = \"r1\"\n[debug]\nmode = \"chat\"\n")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("[llm.debug]") && error.contains("hint:"),
            "{error}"
        );
    }

    #[test]
    fn the_providers_own_endpoint_takes_its_usual_key_variable() {
        let settings = layer("[code]\nmodel = \"gpt-4o\"\n")
            .resolve()
            .unwrap()
            .unwrap();
        assert_eq!(settings.code.client.base_url, "https://api.openai.com/v1");
        assert_eq!(
            settings.code.client.api_key_env.as_deref(),
            Some("OPENAI_API_KEY")
        );
    }

    #[test]
    fn steerable_mode_without_a_chat_template_is_refused_with_a_hint() {
        let error = layer("[code]\nmodel = \"r1\"\nmode = \"steerable\"\n")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("chat_template") && error.contains("hint:"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_model_names_the_section() {
        let error = layer("[feedback]\nmodel = \"x\"\n[code]\nbase_url = \"http://x\"\n")
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(error.contains("[llm.code] needs `model`"), "{error}");
    }

    #[test]
    fn server_default_sends_no_temperature_and_survives_a_resume() {
        let settings = layer(
            "[code]\nmodel = \"o3\"\ntemperature = \"server-default\"\n[feedback]\nmodel = \"gpt-4o\"\ntemperature = 1\n",
        )
        .resolve()
        .unwrap()
        .unwrap();
        assert_eq!(settings.code.client.temperature, None);
        assert_eq!(settings.feedback.client.temperature, Some(1.0));
        let text = toml::to_string(&settings.to_layer()).unwrap();
        assert_eq!(layer(&text).resolve().unwrap().unwrap(), settings);
    }

    #[test]
    fn a_temperature_that_is_neither_a_number_nor_server_default_is_refused() {
        let error = toml::from_str::<LlmLayer>("[code]\nmodel = \"o3\"\ntemperature = \"none\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("temperature") && error.contains("\"server-default\""),
            "{error}"
        );
    }

    #[test]
    fn sampling_passthrough_keys_reach_the_client_and_survive_a_resume() {
        let settings = layer(
            "[code]\nmodel = \"gpt-5\"\ntemperature = \"server-default\"\nmax_tokens_parameter = \"max_completion_tokens\"\nreasoning_effort = \"high\"\ntop_p = 0.9\n[code.extra_body]\nseed = 7\nchat_template_kwargs = { enable_thinking = false }\n",
        )
        .resolve()
        .unwrap()
        .unwrap();
        let client = &settings.code.client;
        assert_eq!(
            client.output_limit_parameter,
            OutputLimitParameter::MaxCompletionTokens
        );
        assert_eq!(client.reasoning_effort.as_deref(), Some("high"));
        assert_eq!(client.top_p, Some(0.9));
        assert_eq!(client.extra_body["seed"], 7);
        assert_eq!(
            client.extra_body["chat_template_kwargs"]["enable_thinking"],
            false
        );
        let text = toml::to_string(&settings.to_layer()).unwrap();
        assert_eq!(layer(&text).resolve().unwrap().unwrap(), settings);
    }

    #[test]
    fn resolved_settings_round_trip_through_their_layer() {
        let settings = layer(
            "max_reasks = 4\nreview_format = \"json\"\n[code]\nmodel = \"qwen3\"\nbase_url = \"http://127.0.0.1:1/v1\"\napi_key_env = \"MY_KEY\"\nmode = \"steerable\"\nchat_template = \"qwen\"\nprompt_price_per_million_usd = 1.5\nrequests_per_minute = 30\ntransport = \"streamed\"\n[feedback]\nprovider = \"anthropic\"\nmodel = \"claude\"\n",
        )
        .resolve()
        .unwrap()
        .unwrap();
        let text = toml::to_string(&settings.to_layer()).unwrap();
        assert!(!text.contains("sk-"), "{text}");
        assert_eq!(layer(&text).resolve().unwrap().unwrap(), settings);
    }
}
