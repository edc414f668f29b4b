//! The OpenAI-compatible wire format: the bodies of `/chat/completions` and `/completions`, their
//! replies (whole, or assembled from a stream by [`super::openai_stream`]) and how to read them.
//!
//! Reasoning is read from `reasoning_content` (DeepSeek, vLLM, SGLang) or `reasoning` (OpenRouter,
//! Ollama), and from a `<think>…</think>` block at the start of the content (servers without a reasoning
//! parser). A content holding only the end of such a block (`…</think>answer`, when the chat template
//! itself opened it) is split the same way when no reasoning field is present.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use super::openai_stream::{ChunkAssembly, ChunkKind};
use super::{errors, malformed, ChatReply};
use crate::config::{ClientConfig, OutputLimitParameter, Price};
use crate::error::{excerpt, Result};
use crate::types::{ChatRequest, FinishReason, Resample, ToolCall, ToolChoice, Usage};

/// Sampling and limits, shared by both endpoints.
#[derive(Serialize)]
struct Sampling<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'a str>,
    #[serde(flatten)]
    output_limit: OutputLimit,
}

/// The output limit under its configured name.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum OutputLimit {
    MaxTokens(u32),
    MaxCompletionTokens(u32),
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct RequestMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "function")]
struct FunctionTool<'a> {
    function: FunctionDefinition<'a>,
}

#[derive(Serialize)]
struct FunctionDefinition<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "function")]
struct ForcedFunction<'a> {
    function: FunctionName<'a>,
}

#[derive(Serialize)]
struct FunctionName<'a> {
    name: &'a str,
}

/// The body of `POST /chat/completions`.
#[derive(Serialize)]
pub(crate) struct ChatCompletionRequest<'a> {
    model: &'a str,
    messages: Vec<RequestMessage<'a>>,
    #[serde(flatten)]
    sampling: Sampling<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<FunctionTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ForcedFunction<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

/// The body of `POST /completions`.
#[derive(Serialize)]
pub(crate) struct CompletionRequest<'a> {
    model: &'a str,
    prompt: &'a str,
    #[serde(flatten)]
    sampling: Sampling<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

fn sampling(
    config: &ClientConfig,
    resample: Resample,
    limit: u32,
    parameter: OutputLimitParameter,
) -> Sampling<'_> {
    Sampling {
        temperature: resample.temperature.or(config.temperature),
        seed: resample.seed,
        top_p: config.top_p,
        reasoning_effort: config.reasoning_effort.as_deref(),
        output_limit: match parameter {
            OutputLimitParameter::MaxTokens => OutputLimit::MaxTokens(limit),
            OutputLimitParameter::MaxCompletionTokens => OutputLimit::MaxCompletionTokens(limit),
        },
    }
}

/// `stream` and `stream_options` when streaming.
fn streaming(config: &ClientConfig) -> (Option<bool>, Option<StreamOptions>) {
    if config.transport.streams() {
        (
            Some(true),
            Some(StreamOptions {
                include_usage: true,
            }),
        )
    } else {
        (None, None)
    }
}

impl<'a> ChatCompletionRequest<'a> {
    pub(crate) fn new(
        config: &'a ClientConfig,
        request: &'a ChatRequest,
        limit: u32,
    ) -> ChatCompletionRequest<'a> {
        let messages = request
            .messages
            .iter()
            .map(|message| RequestMessage {
                role: message.role.as_str(),
                content: &message.content,
            })
            .collect();
        let tools = request
            .tools
            .iter()
            .map(|tool| FunctionTool {
                function: FunctionDefinition {
                    name: &tool.name,
                    description: &tool.description,
                    parameters: &tool.parameters,
                },
            })
            .collect();
        // `auto` is the API's default with tools; it is left out because some servers (vLLM without
        // `--enable-auto-tool-choice`) refuse an explicit `auto`.
        let tool_choice = match &request.tool_choice {
            ToolChoice::Forced(name) if !request.tools.is_empty() => Some(ForcedFunction {
                function: FunctionName { name },
            }),
            ToolChoice::Forced(_) | ToolChoice::Auto => None,
        };
        let (stream, stream_options) = streaming(config);
        ChatCompletionRequest {
            model: &config.model,
            messages,
            sampling: sampling(
                config,
                request.resample,
                limit,
                config.output_limit_parameter,
            ),
            tools,
            tool_choice,
            stream,
            stream_options,
        }
    }
}

impl<'a> CompletionRequest<'a> {
    /// `/completions` knows only `max_tokens`, whatever the chat parameter's name.
    pub(crate) fn new(
        config: &'a ClientConfig,
        prompt: &'a str,
        resample: Resample,
        limit: u32,
    ) -> Self {
        let (stream, stream_options) = streaming(config);
        CompletionRequest {
            model: &config.model,
            prompt,
            sampling: sampling(config, resample, limit, OutputLimitParameter::MaxTokens),
            stream,
            stream_options,
        }
    }
}

/// A reply of either endpoint, whole or assembled from a stream. Unknown fields are ignored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Completion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) created: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) system_fingerprint: Option<String>,
    #[serde(default)]
    pub(super) choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) usage: Option<TokenCounts>,
    /// Some servers and proxies answer 200 with an error object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub(super) index: u32,
    /// Chat replies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) message: Option<ReplyMessage>,
    /// Completion replies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<String>,
    pub(super) finish_reason: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ReplyMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) role: Option<String>,
    pub(super) content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reasoning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tool_calls: Option<Vec<ReplyToolCall>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ReplyToolCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<String>,
    pub(super) function: Option<ReplyFunction>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ReplyFunction {
    pub(super) name: Option<String>,
    pub(super) arguments: Option<Arguments>,
}

/// Tool arguments: JSON text as the API says, or (a few servers) the object itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Arguments {
    Text(String),
    Object(Value),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct TokenCounts {
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_tokens_details: Option<PromptTokenDetails>,
    /// DeepSeek's count of prompt tokens read from its cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PromptTokenDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    cached_tokens: Option<u64>,
}

/// What a completion reply carries besides the exchange.
pub(crate) struct CompletionReply {
    pub(crate) text: String,
    pub(crate) finish_reason: FinishReason,
    pub(crate) usage: Usage,
}

/// `usage`, missing counts zero; cached tokens are part of `prompt_tokens` already.
fn usage(counts: Option<&TokenCounts>, price: &Price) -> Usage {
    let counts = counts.cloned().unwrap_or_default();
    let prompt_tokens = counts.prompt_tokens.unwrap_or(0);
    let completion_tokens = counts.completion_tokens.unwrap_or(0);
    let cached_prompt_tokens = counts
        .prompt_tokens_details
        .and_then(|details| details.cached_tokens)
        .or(counts.prompt_cache_hit_tokens)
        .unwrap_or(0);
    Usage {
        prompt_tokens,
        cached_prompt_tokens,
        completion_tokens,
        cost_usd: price.cost(prompt_tokens, completion_tokens),
    }
}

fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        None => FinishReason::Unreported,
        Some("stop") => FinishReason::Complete,
        Some("length") => FinishReason::OutputLimit,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

/// `choices[0]`, or why there is none.
fn first_choice<'a>(url: &str, reply: &'a Completion) -> Result<&'a Choice> {
    if let Some(error) = reply.error.as_ref().filter(|error| !error.is_null()) {
        return Err(errors::reported_in_reply(url, error));
    }
    reply
        .choices
        .first()
        .ok_or_else(|| malformed(url, "no `choices[0]` in the reply"))
}

/// Reads a chat reply.
pub(crate) fn read_chat(url: &str, reply: &Completion, price: &Price) -> Result<ChatReply> {
    let choice = first_choice(url, reply)?;
    let message = choice
        .message
        .as_ref()
        .ok_or_else(|| malformed(url, "no `choices[0].message` in the reply"))?;
    let content = message.content.clone().unwrap_or_default();
    let field = [&message.reasoning_content, &message.reasoning]
        .into_iter()
        .flatten()
        .find(|text| !text.is_empty())
        .cloned();
    let (tagged, content) = split_think(&content, field.is_some());
    let tagged = tagged.filter(|text| !text.is_empty());
    let reasoning = match (field, tagged) {
        (Some(field), Some(tagged)) => Some(format!("{field}\n{tagged}")),
        (Some(text), None) | (None, Some(text)) => Some(text),
        (None, None) => None,
    };
    let mut tool_calls = Vec::new();
    let calls = message.tool_calls.iter().flatten();
    for (position, call) in calls.enumerate() {
        let function = call
            .function
            .as_ref()
            .ok_or_else(|| malformed(url, format!("tool call {position} has no `function`")))?;
        let name = function
            .name
            .as_deref()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| malformed(url, format!("tool call {position} has no function name")))?;
        let arguments = match &function.arguments {
            None | Some(Arguments::Object(Value::Null)) => String::new(),
            Some(Arguments::Text(text)) => text.clone(),
            Some(Arguments::Object(object)) => object.to_string(),
        };
        tool_calls.push(ToolCall {
            id: call
                .id
                .clone()
                .unwrap_or_else(|| format!("call_{position}")),
            name: name.to_owned(),
            arguments,
        });
    }
    Ok(ChatReply {
        content,
        reasoning,
        tool_calls,
        finish_reason: finish_reason(choice.finish_reason.as_deref()),
        usage: usage(reply.usage.as_ref(), price),
    })
}

/// Reads a completion reply: `choices[0].text`.
pub(crate) fn read_completion(
    url: &str,
    reply: &Completion,
    price: &Price,
) -> Result<CompletionReply> {
    let choice = first_choice(url, reply)?;
    let text = choice.text.clone().ok_or_else(|| {
        let shape = serde_json::to_string(choice).unwrap_or_default();
        malformed(
            url,
            format!("no text in `choices[0].text`: {}", excerpt(&shape, 200)),
        )
    })?;
    Ok(CompletionReply {
        text,
        finish_reason: finish_reason(choice.finish_reason.as_deref()),
        usage: usage(reply.usage.as_ref(), price),
    })
}

/// Moves a leading `<think>…</think>` block out of the content: `(reasoning, rest)`. An unclosed block
/// (a cut-off reply) is all reasoning. Without an opening tag, a `</think>` still splits the content when
/// `has_reasoning_field` is false (the template opened the block).
pub(crate) fn split_think(content: &str, has_reasoning_field: bool) -> (Option<String>, String) {
    const OPEN: &str = "<think>";
    const CLOSE: &str = "</think>";
    let trimmed = content.trim_start();
    if let Some(inner) = trimmed.strip_prefix(OPEN) {
        return match inner.split_once(CLOSE) {
            Some((thought, rest)) => (
                Some(thought.trim().to_owned()),
                rest.trim_start().to_owned(),
            ),
            None => (Some(inner.trim().to_owned()), String::new()),
        };
    }
    if !has_reasoning_field {
        if let Some((thought, rest)) = content.split_once(CLOSE) {
            return (
                Some(thought.trim().to_owned()),
                rest.trim_start().to_owned(),
            );
        }
    }
    (None, content.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_blocks_are_split_off() {
        assert_eq!(
            split_think("  <think>\nplan\n</think>\n\nanswer", false),
            (Some("plan".to_owned()), "answer".to_owned())
        );
        assert_eq!(
            split_think("<think>cut off", false),
            (Some("cut off".to_owned()), String::new())
        );
        assert_eq!(
            split_think("plan</think>answer", false),
            (Some("plan".to_owned()), "answer".to_owned())
        );
        assert_eq!(
            split_think("see </think> here", true),
            (None, "see </think> here".to_owned())
        );
        assert_eq!(split_think("plain", false), (None, "plain".to_owned()));
    }

    #[test]
    fn empty_tag_block_gives_empty_reasoning() {
        let (reasoning, rest) = split_think("<think></think>ok", false);
        assert_eq!(reasoning.as_deref(), Some(""));
        assert_eq!(rest, "ok");
    }
}
