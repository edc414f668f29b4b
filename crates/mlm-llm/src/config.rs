//! The client's configuration: which API, which model, where, which key, and how to behave under faults
//! (timeouts, retries, rate limit). Every type here is serde-able so a front end can embed it in its own
//! TOML config; durations are written as seconds (a float).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The output limit sent when the configuration sets none: ML-Master's.
pub const DEFAULT_MAX_TOKENS: u32 = 16_384;

/// Which wire protocol the endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI-compatible `/chat/completions` and `/completions` (OpenAI, DeepSeek, OpenRouter, vLLM,
    /// SGLang, Ollama, llama.cpp server, ...).
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic's `/messages`.
    Anthropic,
}

/// How a reply travels back.
///
/// The default is [`Transport::Whole`]: every server supports it. [`Transport::Streamed`] uses
/// server-sent events (OpenAI-compatible chunks or Anthropic's message events), which keeps long
/// generations alive behind proxies that cut idle connections and lets the idle timeout detect a
/// stalled server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One JSON body per reply.
    #[default]
    Whole,
    /// `"stream": true`, server-sent events assembled into one reply.
    Streamed,
}

impl Transport {
    /// Whether to ask for server-sent events.
    pub(crate) fn streams(self) -> bool {
        match self {
            Transport::Whole => false,
            Transport::Streamed => true,
        }
    }
}

/// The name under which an OpenAI-compatible chat request carries the output limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputLimitParameter {
    /// `max_tokens`: every OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, DeepSeek).
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: OpenAI's o-series and GPT-5, which refuse `max_tokens`.
    MaxCompletionTokens,
}

/// Price of the model, used to compute [`crate::Usage::cost_usd`]. Default: free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Price {
    /// US dollars per million prompt (input) tokens.
    pub prompt_per_million_usd: f64,
    /// US dollars per million completion (output) tokens, reasoning included.
    pub completion_per_million_usd: f64,
}

impl Price {
    /// Cost in US dollars of a call with these token counts.
    #[must_use]
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        // Token counts are far below 2^52: the conversion is exact.
        let (prompt, completion) = (prompt_tokens as f64, completion_tokens as f64);
        (prompt * self.prompt_per_million_usd + completion * self.completion_per_million_usd) / 1e6
    }
}

/// Timeouts of one HTTP attempt. Default: 10 s connect, 300 s idle, 1800 s total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    #[serde(with = "seconds")]
    pub connect: Duration,
    /// With [`Transport::Streamed`], the longest silence between stream chunks, and before the reply's
    /// headers. A whole reply is not sent before it is complete, which a reasoning model may take longer
    /// than this to write: only `total` bounds it.
    #[serde(with = "seconds")]
    pub idle: Duration,
    /// The whole attempt, from sending the request to the last byte of the reply. Per attempt, not per
    /// call: a retried call may take up to `max_attempts` times this plus backoff.
    #[serde(with = "seconds")]
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            idle: Duration::from_secs(300),
            total: Duration::from_secs(1800),
        }
    }
}

/// Retries of transient faults (HTTP 408, 429, 500–599 except 501, timeouts, connection errors).
/// Default: 6 attempts, backoff from 1 s doubling up to 60 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included; 0 is treated as 1.
    pub max_attempts: u32,
    /// Upper bound of the first backoff; the bound doubles per retry. The actual delay is drawn
    /// uniformly below the bound ("full jitter").
    #[serde(with = "seconds")]
    pub initial_backoff: Duration,
    /// Cap of the backoff bound, and of a server's `Retry-After`.
    #[serde(with = "seconds")]
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// How [`crate::Client::complete`] turns chat messages into one raw prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatTemplate {
    /// DeepSeek-R1's template (`<｜begin▁of▁sentence｜>…<｜User｜>…<｜Assistant｜>`).
    #[serde(rename = "deepseek-r1")]
    DeepSeekR1,
    /// Qwen's ChatML (`<|im_start|>role\ncontent<|im_end|>\n`).
    #[serde(rename = "qwen")]
    Qwen,
    /// A minijinja template in Hugging Face style: it sees `messages` (a list of `{role, content}`),
    /// `add_generation_prompt` (true), `bos_token` and `eos_token` (both empty).
    #[serde(rename = "custom")]
    Custom {
        /// The template text.
        source: String,
    },
}

/// Everything a [`crate::Client`] needs. Build one with [`ClientConfig::new`] and adjust fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The wire protocol.
    pub provider: Provider,
    /// The model name sent with every request.
    pub model: String,
    /// The API root, e.g. `https://api.openai.com/v1`, `http://127.0.0.1:8000/v1`,
    /// `https://api.anthropic.com/v1`; a trailing slash is tolerated.
    pub base_url: String,
    /// The *name* of the environment variable holding the API key, read once by
    /// [`crate::Client::new`]. `None`: no key is sent (local servers). Default: `None`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Sampling temperature; `None` leaves the server's default.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// The output limit, always sent: `None` sends [`DEFAULT_MAX_TOKENS`] (with Anthropic thinking on,
    /// the thinking budget + [`DEFAULT_MAX_TOKENS`], as the limit includes the thinking).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// The name of the output limit in OpenAI-compatible chat requests. `/completions` always takes
    /// `max_tokens`, Anthropic always `max_tokens`. Default: `max_tokens`.
    #[serde(default)]
    pub output_limit_parameter: OutputLimitParameter,
    /// Nucleus sampling; `None` sends none.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// `reasoning_effort` of OpenAI-compatible requests (`low`, `medium`, `high`, ... as the server
    /// names them); `None` sends none. Anthropic has no such parameter: use `thinking_budget_tokens`.
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// Fields added to every request body as they are, after the client's own (so one of them may
    /// replace a sampling parameter); the fields that carry the model, the conversation, the tools and
    /// the stream framing are refused by [`crate::Client::new`].
    #[serde(default)]
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// Price per million tokens, for cost accounting. Default: free.
    #[serde(default)]
    pub price: Price,
    /// Timeouts of one attempt.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Retries of transient faults.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Spaces request starts at least 60/rpm seconds apart, across all clones of a client.
    /// `None`: no limit. Must not be 0.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Whole or streamed replies. Default: whole.
    #[serde(default)]
    pub transport: Transport,
    /// The chat template, needed by [`crate::Client::complete`] only.
    #[serde(default)]
    pub chat_template: Option<ChatTemplate>,
    /// Anthropic extended thinking budget; `None`: thinking off. Ignored by OpenAI-compatible servers.
    #[serde(default)]
    pub thinking_budget_tokens: Option<u32>,
}

impl ClientConfig {
    /// A configuration with defaults for everything but the provider, model and base URL: no API key,
    /// server-default temperature, the default output limit as `max_tokens`, no extra parameters, free, default timeouts and retries, no rate limit,
    /// whole transport, no chat template, no thinking.
    #[must_use]
    pub fn new(provider: Provider, model: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            provider,
            model: model.into(),
            base_url: base_url.into(),
            api_key_env: None,
            temperature: None,
            max_tokens: None,
            output_limit_parameter: OutputLimitParameter::default(),
            top_p: None,
            reasoning_effort: None,
            extra_body: serde_json::Map::new(),
            price: Price::default(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            requests_per_minute: None,
            transport: Transport::default(),
            chat_template: None,
            thinking_budget_tokens: None,
        }
    }
}

/// Serde for a [`Duration`] as a float number of seconds.
pub(crate) mod seconds {
    use std::time::Duration;

    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs)
            .map_err(|_| D::Error::custom(format!("{secs} is not a valid number of seconds")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn config_reads_from_a_sparse_document_with_seconds() {
        let config: ClientConfig = serde_json::from_value(json!({
            "provider": "openai",
            "model": "deepseek-reasoner",
            "base_url": "https://api.deepseek.com/v1",
            "api_key_env": "DEEPSEEK_API_KEY",
            "timeouts": {"idle": 2.5},
            "retry": {"max_attempts": 3},
            "price": {"prompt_per_million_usd": 0.55},
            "transport": "streamed",
            "chat_template": "deepseek-r1",
        }))
        .unwrap();
        let mut expected = ClientConfig::new(
            Provider::OpenAi,
            "deepseek-reasoner",
            "https://api.deepseek.com/v1",
        );
        expected.api_key_env = Some("DEEPSEEK_API_KEY".to_owned());
        expected.timeouts.idle = Duration::from_millis(2500);
        expected.retry.max_attempts = 3;
        expected.price.prompt_per_million_usd = 0.55;
        expected.transport = Transport::Streamed;
        expected.chat_template = Some(ChatTemplate::DeepSeekR1);
        assert_eq!(config, expected);
    }

    #[test]
    fn config_round_trips_with_readable_names() {
        let mut config = ClientConfig::new(
            Provider::Anthropic,
            "claude",
            "https://api.anthropic.com/v1",
        );
        config.chat_template = Some(ChatTemplate::Custom {
            source: "{{ x }}".to_owned(),
        });
        let value = serde_json::to_value(&config).unwrap();
        assert_eq!(value["provider"], "anthropic");
        assert_eq!(value["transport"], "whole");
        assert_eq!(
            value["timeouts"],
            json!({"connect": 10.0, "idle": 300.0, "total": 1800.0})
        );
        assert_eq!(
            value["chat_template"],
            json!({"custom": {"source": "{{ x }}"}})
        );
        let back: ClientConfig = serde_json::from_value(value).unwrap();
        assert_eq!(back, config);
        assert!(serde_json::from_value::<Timeouts>(json!({"idle": -1.0})).is_err());
    }

    #[test]
    fn price_costs_per_million() {
        let price = Price {
            prompt_per_million_usd: 2.0,
            completion_per_million_usd: 8.0,
        };
        assert!((price.cost(1_000_000, 500_000) - 6.0).abs() < 1e-12);
        assert_eq!(Price::default().cost(10, 10), 0.0);
    }
}
