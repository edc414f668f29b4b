//! The [`Client`]: the configuration resolved once (key read, headers and HTTP transport built, rate
//! limiter shared by clones) and the public entry points, each joining a wire format (what to send,
//! how to read the reply) to the transport (how to send it).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::{ClientConfig, Provider, DEFAULT_MAX_TOKENS};
use crate::error::{Error, Result};
use crate::transport::{ApiKey, Attempts, EventSink, Http, Received, Reply};
use crate::types::{
    ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, Endpoint, Exchange, Message,
    Resample,
};
use crate::wire::{self, anthropic, errors, openai};

/// How long the start-up check waits for its one reply at most: a local server may load the model
/// on its first request.
const PROBE_LIMIT: Duration = Duration::from_secs(120);

/// A call of the run, or the start-up check (one attempt, a one-token output limit).
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Run,
    Probe,
}

/// What all clones of a [`Client`] share.
struct Inner {
    config: ClientConfig,
    /// `base_url` without trailing slashes.
    base: String,
    http: Http,
}

/// A language-model client. Cheap to clone: clones share the HTTP connection pool and the rate limit.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("Client")
            .field("provider", &config.provider)
            .field("model", &config.model)
            .field("base_url", &self.inner.base)
            .field("api_key_env", &config.api_key_env)
            .field("api_key", &self.inner.http.key())
            .finish_non_exhaustive()
    }
}

fn invalid(problem: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::InvalidConfig {
        problem: problem.into(),
        hint: hint.into(),
    }
}

/// Reads the key from the variable named by `api_key_env`.
fn read_key(config: &ClientConfig) -> Result<Option<ApiKey>> {
    let Some(variable) = &config.api_key_env else {
        return Ok(None);
    };
    match std::env::var(variable) {
        Ok(value) if !value.trim().is_empty() => Ok(Some(ApiKey::new(value.trim().to_owned()))),
        Ok(_) | Err(_) => Err(Error::MissingApiKey {
            variable: variable.clone(),
        }),
    }
}

/// The headers every request of this provider carries.
fn headers(config: &ClientConfig, key: Option<&ApiKey>) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        let (name, text) = match config.provider {
            Provider::OpenAi => (AUTHORIZATION, format!("Bearer {}", key.expose())),
            Provider::Anthropic => (
                HeaderName::from_static("x-api-key"),
                key.expose().to_owned(),
            ),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            let variable = config.api_key_env.as_deref().unwrap_or_default();
            invalid(
                format!("the key in {variable} holds characters not allowed in an HTTP header"),
                format!("check the value of {variable}"),
            )
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    match config.provider {
        Provider::OpenAi => {}
        Provider::Anthropic => {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(anthropic::API_VERSION),
            );
        }
    }
    Ok(headers)
}

/// The output limit sent. Anthropic's includes the thinking budget, so its default adds the budget.
fn output_limit(config: &ClientConfig, purpose: Purpose) -> u32 {
    let thinking = match config.provider {
        Provider::Anthropic => config.thinking_budget_tokens.unwrap_or(0),
        Provider::OpenAi => 0,
    };
    match purpose {
        Purpose::Run => config
            .max_tokens
            .unwrap_or_else(|| thinking.saturating_add(DEFAULT_MAX_TOKENS)),
        Purpose::Probe => thinking.saturating_add(1),
    }
}

/// Checks what the server would only refuse later.
fn validate(config: &ClientConfig, base: &str) -> Result<()> {
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(invalid(
            format!("base_url `{}` is not an http(s) URL", config.base_url),
            "use e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1",
        ));
    }
    if config.requests_per_minute == Some(0) {
        return Err(invalid(
            "requests_per_minute is 0",
            "leave it unset for no limit, or give a positive number",
        ));
    }
    if config.model.trim().is_empty() {
        return Err(invalid("the model name is empty", "set model"));
    }
    if config.max_tokens == Some(0) {
        return Err(invalid(
            "max_tokens is 0",
            "leave it unset for the default of 16384, or give a positive number",
        ));
    }
    if let Some(field) = wire::CLIENT_FIELDS
        .iter()
        .find(|field| config.extra_body.contains_key(**field))
    {
        return Err(invalid(
            format!("extra_body sets `{field}`, which the client writes itself"),
            "remove it from extra_body: the model, the conversation, the tools and the stream \
             framing come from the client's own settings",
        ));
    }
    match (config.provider, &config.reasoning_effort) {
        (Provider::Anthropic, Some(effort)) => {
            return Err(invalid(
                format!(
                    "reasoning_effort = \"{effort}\" is an OpenAI parameter; Anthropic has none"
                ),
                "use thinking_budget_tokens for Anthropic's extended thinking",
            ))
        }
        (Provider::Anthropic, None) | (Provider::OpenAi, _) => {}
    }
    if let (Provider::Anthropic, Some(budget)) = (config.provider, config.thinking_budget_tokens) {
        let max_tokens = output_limit(config, Purpose::Run);
        if budget >= max_tokens {
            return Err(invalid(
                format!("thinking_budget_tokens {budget} is not below max_tokens {max_tokens}"),
                "raise max_tokens above the thinking budget, or leave it unset",
            ));
        }
    }
    if let Some(template) = &config.chat_template {
        template.check()?;
    }
    Ok(())
}

impl Client {
    /// Resolves the configuration: reads the API key from the environment variable named by
    /// `api_key_env` now, and builds the HTTP client.
    ///
    /// # Errors
    /// [`Error::MissingApiKey`] when the variable is unset or empty; [`Error::InvalidConfig`] for a
    /// rate limit or `max_tokens` of 0, a base URL that is not http(s), an empty model, an `extra_body`
    /// naming a field the client writes, `reasoning_effort` with Anthropic, an Anthropic thinking budget
    /// not below `max_tokens`; [`Error::Template`] for a custom chat template that does not compile.
    pub fn new(config: ClientConfig) -> Result<Client> {
        let key = read_key(&config)?;
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        validate(&config, &base)?;
        let headers = headers(&config, key.as_ref())?;
        let http = Http::new(&config, key, headers, errors::read_failure)?;
        Ok(Client {
            inner: Arc::new(Inner { config, base, http }),
        })
    }

    /// The model name sent with every request.
    #[must_use]
    pub fn model(&self) -> &str {
        &self.inner.config.model
    }

    /// The wire protocol.
    #[must_use]
    pub fn provider(&self) -> Provider {
        self.inner.config.provider
    }

    /// The start-up check: one minimal request to `endpoint` with the run's own parameters (model,
    /// temperature, `top_p`, `reasoning_effort`, `extra_body`, transport, the output limit's name) and
    /// an output limit of one token (with Anthropic thinking, the budget + 1), so that a refused
    /// parameter, an unknown model or a refused key fails before the run with the server's words. One
    /// attempt, no retries, waiting at most the total timeout or 2 minutes, whichever is shorter.
    ///
    /// # Errors
    /// As [`Client::chat`] and [`Client::complete`], never [`Error::RetriesExhausted`]: the first
    /// error is returned as it is.
    pub async fn probe(&self, endpoint: Endpoint) -> Result<()> {
        match endpoint {
            Endpoint::Chat => {
                let request = ChatRequest::new(vec![Message::user("Reply with OK.")]);
                self.send_chat(&request, Purpose::Probe).await.map(drop)
            }
            Endpoint::Completions => {
                let request = CompletionRequest {
                    messages: vec![Message::user("Reply with OK.")],
                    thinking_prefill: String::new(),
                    resample: Resample::default(),
                };
                self.send_completion(&request, Purpose::Probe)
                    .await
                    .map(drop)
            }
        }
    }

    /// One chat call, retried on transient faults.
    ///
    /// # Errors
    /// See [`Error`]: transient faults end in [`Error::RetriesExhausted`]; a refused request is
    /// [`Error::Rejected`] or [`Error::ContextLengthExceeded`] after one attempt; a reply that is not
    /// the expected JSON is [`Error::Malformed`].
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.send_chat(request, Purpose::Run).await
    }

    /// One "steerable reasoning" completion through `POST {base}/completions`: the messages rendered
    /// with `chat_template` (generation prompt included), then `"<think>\n" + thinking_prefill`. The
    /// generated text is split at its first `</think>`: reasoning = prefill + what precedes it, answer =
    /// what follows, trimmed. Without `</think>` everything is reasoning and the answer is empty.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for Anthropic; [`Error::InvalidConfig`] without a chat template;
    /// otherwise as [`Client::chat`].
    pub async fn complete(&self, request: &CompletionRequest) -> Result<CompletionResponse> {
        self.send_completion(request, Purpose::Run).await
    }

    async fn send_chat(&self, request: &ChatRequest, purpose: Purpose) -> Result<ChatResponse> {
        let inner = &self.inner;
        let config = &inner.config;
        let limit = output_limit(config, purpose);
        let (reply, exchange) = match config.provider {
            Provider::OpenAi => {
                let url = format!("{}/chat/completions", inner.base);
                let body = openai::ChatCompletionRequest::new(config, request, limit);
                let new_sink = || openai::ChunkAssembly::new(openai::ChunkKind::Chat);
                let (completion, exchange) = self
                    .send(
                        &url,
                        &body,
                        new_sink,
                        purpose,
                        openai::ChunkAssembly::finish,
                    )
                    .await?;
                let reply = openai::read_chat(&url, &completion, &config.price);
                (self.redacted(reply)?, exchange)
            }
            Provider::Anthropic => {
                let url = format!("{}/messages", inner.base);
                let body = anthropic::MessagesRequest::new(config, request, limit);
                let (message, exchange) = self
                    .send(
                        &url,
                        &body,
                        anthropic::MessageAssembly::default,
                        purpose,
                        anthropic::MessageAssembly::finish,
                    )
                    .await?;
                let reply = anthropic::read_messages(&url, &message, &config.price);
                (self.redacted(reply)?, exchange)
            }
        };
        Ok(ChatResponse {
            content: reply.content,
            reasoning: reply.reasoning,
            tool_calls: reply.tool_calls,
            finish_reason: reply.finish_reason,
            usage: reply.usage,
            exchange,
        })
    }

    async fn send_completion(
        &self,
        request: &CompletionRequest,
        purpose: Purpose,
    ) -> Result<CompletionResponse> {
        let inner = &self.inner;
        let config = &inner.config;
        match config.provider {
            Provider::OpenAi => {}
            Provider::Anthropic => {
                return Err(Error::Unsupported {
                    what: "raw completions (steerable reasoning) with the Anthropic provider"
                        .to_owned(),
                    hint:
                        "use an OpenAI-compatible server (vLLM, SGLang, llama.cpp) for completions"
                            .to_owned(),
                })
            }
        }
        let template = config.chat_template.as_ref().ok_or_else(|| {
            invalid(
                "completions need a chat template and none is configured",
                "set chat_template to deepseek-r1, qwen or a custom template",
            )
        })?;
        let prompt = template.steered_prompt(&request.messages, &request.thinking_prefill)?;
        let url = format!("{}/completions", inner.base);
        let body = openai::CompletionRequest::new(
            config,
            &prompt,
            request.resample,
            output_limit(config, purpose),
        );
        let new_sink = || openai::ChunkAssembly::new(openai::ChunkKind::Completion);
        let (completion, exchange) = self
            .send(
                &url,
                &body,
                new_sink,
                purpose,
                openai::ChunkAssembly::finish,
            )
            .await?;
        let reply = self.redacted(openai::read_completion(&url, &completion, &config.price))?;
        let (reasoning, answer) = match reply.text.split_once("</think>") {
            Some((thought, answer)) => (
                format!("{}{thought}", request.thinking_prefill),
                answer.trim().to_owned(),
            ),
            None => (
                format!("{}{}", request.thinking_prefill, reply.text),
                String::new(),
            ),
        };
        Ok(CompletionResponse {
            reasoning,
            answer,
            finish_reason: reply.finish_reason,
            usage: reply.usage,
            exchange,
        })
    }

    /// Sends a typed request and returns the typed reply with the exchange: the body as sent, and the
    /// reply as received (a streamed one assembled by its sink, then `finish`ed).
    async fn send<S, T>(
        &self,
        url: &str,
        request: &impl Serialize,
        new_sink: impl Fn() -> S,
        purpose: Purpose,
        finish: fn(S) -> T,
    ) -> Result<(T, Exchange)>
    where
        S: EventSink,
        T: DeserializeOwned + Serialize,
    {
        let config = &self.inner.config;
        let body = wire::request_body(url, request, &config.extra_body)?;
        let attempts = match purpose {
            Purpose::Run => Attempts::Policy,
            Purpose::Probe => Attempts::One { limit: PROBE_LIMIT },
        };
        let Received {
            reply,
            latency,
            attempts,
        } = self
            .inner
            .http
            .post(url, &body, config.transport, new_sink, attempts)
            .await?;
        let (response, typed) = match reply {
            Reply::Whole(text) => self.redacted(wire::parse_whole::<T>(url, &text))?,
            Reply::Streamed(sink) => {
                let typed = finish(sink);
                (wire::record(url, &typed)?, typed)
            }
        };
        let exchange = Exchange {
            request: body,
            response,
            latency,
            attempts,
        };
        Ok((typed, exchange))
    }

    /// A reading of a reply, its error quoting the server with the key redacted.
    fn redacted<T>(&self, reading: Result<T>) -> Result<T> {
        reading.map_err(|error| self.inner.http.redact(error))
    }
}
