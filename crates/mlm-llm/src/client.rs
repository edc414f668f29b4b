//! The [`Client`]: configuration resolved once (key read, HTTP client built, rate limiter shared by
//! clones) and the public entry points, which dispatch to the provider modules.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;

use crate::config::{ClientConfig, Provider};
use crate::error::{Error, Result};
use crate::retry::{self, RateLimiter, ReadAs};
use crate::stream::{ChunkKind, StreamKind};
use crate::types::{ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, Exchange};
use crate::{anthropic, openai};

/// The API key. Its `Debug` prints `***`.
#[derive(Clone)]
pub(crate) struct ApiKey(String);

impl ApiKey {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What all clones of a [`Client`] share.
pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    /// `base_url` without trailing slashes.
    pub(crate) base: String,
    pub(crate) key: Option<ApiKey>,
    /// Authentication and version headers, the key marked sensitive.
    pub(crate) headers: HeaderMap,
    pub(crate) http: reqwest::Client,
    pub(crate) limiter: Option<RateLimiter>,
}

/// A language-model client. Cheap to clone: clones share the HTTP connection pool and the rate limit.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("Client")
            .field("provider", &config.provider)
            .field("model", &config.model)
            .field("base_url", &self.inner.base)
            .field("api_key_env", &config.api_key_env)
            .field("api_key", &self.inner.key)
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
        Ok(value) if !value.trim().is_empty() => Ok(Some(ApiKey(value.trim().to_owned()))),
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
    if let (Provider::Anthropic, Some(budget)) = (config.provider, config.thinking_budget_tokens) {
        let max_tokens = anthropic::max_tokens(config);
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
    /// rate limit of 0, a base URL that is not http(s), an empty model, an Anthropic thinking budget not
    /// below `max_tokens`; [`Error::Template`] for a custom chat template that does not compile.
    pub fn new(config: ClientConfig) -> Result<Client> {
        let key = read_key(&config)?;
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        validate(&config, &base)?;
        let headers = headers(&config, key.as_ref())?;
        // No read timeout here: it would also cut a whole reply that a model thinks about for longer
        // than `idle` before sending anything. The attempt applies `idle` to streams itself.
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .build()
            .map_err(|error| {
                invalid(
                    format!("cannot build the HTTP client: {}", retry::chain(&error)),
                    "check the TLS setup of this machine",
                )
            })?;
        let limiter = config.requests_per_minute.map(RateLimiter::per_minute);
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                base,
                key,
                headers,
                http,
                limiter,
            }),
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

    /// One request checking that the endpoint is reachable and the key accepted: `GET {base}/models`.
    /// A server without `/models` (404, 405) counts as reachable. No retries; the attempt is limited to
    /// the connect timeout + 30 s.
    ///
    /// # Errors
    /// [`Error::Unreachable`] (no connection, or no answer in time), [`Error::Unauthorized`] (401,
    /// 403), [`Error::Status`] for other failures.
    pub async fn probe(&self) -> Result<()> {
        let inner = &self.inner;
        let url = format!("{}/models", inner.base);
        let limit = inner.config.timeouts.connect + Duration::from_secs(30);
        inner.rate_limit().await;
        tracing::debug!(method = "GET", url, "probing the LLM endpoint");
        let request = inner.http.get(&url).headers(inner.headers.clone()).send();
        let response = match tokio::time::timeout(limit, request).await {
            Err(_) => {
                return Err(Error::Unreachable {
                    url,
                    detail: format!("no answer within {limit:?}"),
                })
            }
            Ok(Err(error)) => {
                return Err(Error::Unreachable {
                    detail: retry::chain(&error),
                    url,
                })
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        tracing::debug!(
            method = "GET",
            url,
            status = status.as_u16(),
            "probe answered"
        );
        if status.is_success()
            || status == StatusCode::NOT_FOUND
            || status == StatusCode::METHOD_NOT_ALLOWED
        {
            return Ok(());
        }
        let body = tokio::time::timeout(limit, response.text())
            .await
            .ok()
            .and_then(std::result::Result::ok)
            .unwrap_or_default();
        let body = inner.excerpt(&body);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(inner.unauthorized(&url, status.as_u16(), body));
        }
        Err(Error::Status {
            status: status.as_u16(),
            url,
            body,
        })
    }

    /// One chat call, retried on transient faults.
    ///
    /// # Errors
    /// See [`Error`]: transient faults end in [`Error::RetriesExhausted`]; a reply that is not the
    /// expected JSON is [`Error::Malformed`].
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let inner = &self.inner;
        let config = &inner.config;
        let (url, body, read) = match config.provider {
            Provider::OpenAi => {
                let read = ReadAs::new(config.transport, StreamKind::Chunks(ChunkKind::Chat));
                let url = format!("{}/chat/completions", inner.base);
                (url, openai::chat_body(config, request), read)
            }
            Provider::Anthropic => {
                let read = ReadAs::new(config.transport, StreamKind::Messages);
                let url = format!("{}/messages", inner.base);
                (url, anthropic::messages_body(config, request), read)
            }
        };
        let received = inner.post(&url, &body, read).await?;
        let reply = match config.provider {
            Provider::OpenAi => openai::parse_chat(&url, &received.body, &config.price)?,
            Provider::Anthropic => anthropic::parse_messages(&url, &received.body, &config.price)?,
        };
        Ok(ChatResponse {
            content: reply.content,
            reasoning: reply.reasoning,
            tool_calls: reply.tool_calls,
            usage: reply.usage,
            exchange: Exchange {
                request: body,
                response: received.body,
                latency: received.latency,
                attempts: received.attempts,
            },
        })
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
        let body = openai::completion_body(config, &prompt);
        let read = ReadAs::new(config.transport, StreamKind::Chunks(ChunkKind::Completion));
        let received = inner.post(&url, &body, read).await?;
        let text = openai::parse_completion(&url, &received.body)?;
        let (reasoning, answer) = match text.split_once("</think>") {
            Some((thought, answer)) => (
                format!("{}{thought}", request.thinking_prefill),
                answer.trim().to_owned(),
            ),
            None => (format!("{}{text}", request.thinking_prefill), String::new()),
        };
        Ok(CompletionResponse {
            reasoning,
            answer,
            usage: openai::usage(&received.body, &config.price),
            exchange: Exchange {
                request: body,
                response: received.body,
                latency: received.latency,
                attempts: received.attempts,
            },
        })
    }
}
