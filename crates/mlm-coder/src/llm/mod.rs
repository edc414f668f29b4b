//! The LLM coder: ML-Master's operators on a language model. A prompt opens with what never changes in
//! a run (the introduction, the task, the data preview: one system message, marked as a prompt-cache
//! breakpoint), then the scoped memory the engine chose, then what changes with every call (the parent,
//! the instructions with the time left); in steerable mode the data preview and the parent's code,
//! output and bug analysis go into the model's pre-filled reasoning instead. A reply's code is read as
//! `extract` describes; a reply without runnable code is asked again a bounded number of times, each
//! time with a stricter format instruction quoting it, and with another seed once a reply repeats.
//! Reviews go to a separate feedback model, forced to call `submit_review`; a server that refuses tools
//! switches the run to JSON reviews, and a text answer is read as JSON or `key: value` lines.

mod extract;
mod hints;
mod prompts;
mod shrink;
mod starting_script;

use std::sync::{Arc, OnceLock};

use mlm_llm::{
    ChatRequest, Client, CompletionRequest, Exchange, FinishReason, Message, Resample, ToolChoice,
    ToolDefinition, Usage,
};
use mlm_search::Stage;
use serde::Serialize;
use serde_json::{json, Value};

use crate::operator::{
    CallPurpose, CodeProblem, Coder, CoderError, FailureCause, ModelCall, Proposal,
    ProposalRequest, Review, ReviewRequest, SyntaxCheck, TaskBrief, TokenUsage,
};
use extract::Solution;
use prompts::{
    head_and_tail, human_duration, trim_output, Cut, ProposalContext, TaskContext,
    CODE_EDGE_CHARACTERS,
};
pub use prompts::{PromptError, PromptMode, Prompts};
use shrink::PromptCut;

/// The tool the feedback model must call.
const REVIEW_TOOL: &str = "submit_review";
/// Characters of an unusable reply quoted from each end in the re-ask.
const REPLY_EXCERPT_CHARACTERS: usize = 400;
/// Characters of a compiler's message kept from each end in the re-ask.
const COMPILER_MESSAGE_CHARACTERS: usize = 600;
/// The temperature of a request asked again after a repeated reply, when the configured one gave the
/// same reply twice.
const RESAMPLE_TEMPERATURE: f64 = 0.8;

/// How the feedback model returns its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewFormat {
    /// A forced `submit_review` tool call (a JSON object in the text is still accepted).
    Tool,
    /// A JSON object in the reply, for servers without tool calling.
    Json,
}

/// How the LLM coder asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmOptions {
    pub mode: PromptMode,
    pub review_format: ReviewFormat,
    /// Replies without runnable code (or with an unreadable verdict) asked again, per request.
    pub max_reasks: u32,
}

impl Default for LlmOptions {
    fn default() -> Self {
        LlmOptions {
            mode: PromptMode::Chat,
            review_format: ReviewFormat::Tool,
            max_reasks: 2,
        }
    }
}

/// Writes code with one model (or one per operator) and reviews it with another (or the same).
pub struct LlmCoder {
    code_model: Client,
    /// Operators that write with a model of their own instead of `code_model`.
    operator_models: Vec<(Stage, Client)>,
    feedback_model: Client,
    prompts: Prompts,
    options: LlmOptions,
    syntax: Arc<dyn SyntaxCheck>,
    /// The feedback server's refusal of tools, once it refused them: every later review is asked
    /// for JSON.
    tools_refused: OnceLock<String>,
}

impl LlmCoder {
    pub fn new(
        code_model: Client,
        feedback_model: Client,
        prompts: Prompts,
        options: LlmOptions,
        syntax: Arc<dyn SyntaxCheck>,
    ) -> Self {
        LlmCoder {
            code_model,
            operator_models: Vec::new(),
            feedback_model,
            prompts,
            options,
            syntax,
            tools_refused: OnceLock::new(),
        }
    }

    /// `stage`'s proposals written by `model` instead of the code model.
    #[must_use]
    pub fn with_operator_model(mut self, stage: Stage, model: Client) -> Self {
        self.operator_models.retain(|(known, _)| *known != stage);
        self.operator_models.push((stage, model));
        self
    }

    /// A proposal's messages and, in steerable mode, its pre-filled reasoning: the request with `cut`
    /// applied, `addendum` ending the request's message.
    fn proposal_prompt(
        &self,
        task: &TaskBrief,
        request: &ProposalRequest,
        cut: PromptCut,
        addendum: Option<&str>,
    ) -> Result<(Vec<Message>, Option<String>), CoderError> {
        let (task, request) = cut.apply(task, request);
        let starting_script = match request.stage {
            Stage::Debug => self
                .prompts
                .starting_script(&task)
                .map_err(|error| CoderError::failed(error.to_string()))?,
            Stage::Draft | Stage::Improve => None,
        };
        let context = ProposalContext::new(
            &task,
            &request,
            self.options.mode,
            starting_script.as_deref(),
        );
        let mut instructions = self.render(&format!("{}.j2", request.stage.name()), &context)?;
        if let Some(addendum) = addendum {
            instructions = format!("{}\n\n{addendum}", instructions.trim_end());
        }
        // The system message holds only what every call of the run shares, so a provider's prompt
        // cache covers it.
        let messages = vec![
            Message::system(self.render("introduction.j2", &context)?).with_cache_breakpoint(),
            Message::user(instructions),
        ];
        let thinking_prefill = match self.options.mode {
            PromptMode::Chat => None,
            PromptMode::Steerable => Some(self.render("think.j2", &context)?),
        };
        Ok((messages, thinking_prefill))
    }

    fn render(&self, name: &str, context: &impl Serialize) -> Result<String, CoderError> {
        self.prompts
            .render(name, context)
            .map_err(|error| CoderError::failed(error.to_string()))
    }

    /// One reply of the code model: the answer text, why it ended and the call that produced it.
    async fn ask_code_model(
        &self,
        client: &Client,
        purpose: CallPurpose,
        messages: &[Message],
        thinking_prefill: Option<&str>,
        resample: Resample,
    ) -> Result<(String, FinishReason, ModelCall), mlm_llm::Error> {
        let model = client.model().to_string();
        match thinking_prefill {
            None => {
                let request = ChatRequest {
                    resample,
                    ..ChatRequest::new(messages.to_vec())
                };
                let response = client.chat(&request).await?;
                let call = model_call(
                    purpose,
                    model,
                    &response.exchange,
                    response.reasoning,
                    response.usage,
                );
                Ok((response.content, response.finish_reason, call))
            }
            Some(prefill) => {
                let response = client
                    .complete(&CompletionRequest {
                        messages: messages.to_vec(),
                        thinking_prefill: prefill.to_string(),
                        resample,
                    })
                    .await?;
                let call = model_call(
                    purpose,
                    model,
                    &response.exchange,
                    Some(response.reasoning),
                    response.usage,
                );
                Ok((response.answer, response.finish_reason, call))
            }
        }
    }

    /// How reviews are asked now: as configured, or JSON once the server refused tools.
    fn review_format(&self) -> ReviewFormat {
        match self.tools_refused.get() {
            Some(_) => ReviewFormat::Json,
            None => self.options.review_format,
        }
    }

    fn review_messages(&self, context: &ReviewContext<'_>) -> Result<Vec<Message>, CoderError> {
        Ok(vec![
            Message::system(self.render("review_system.j2", context)?),
            Message::user(self.render("review.j2", context)?),
        ])
    }

    /// The first reading of `reply`'s code that compiles (see [`extract::solutions`]); else why none
    /// does, with the compiler's message about the last reading tried (the longest block, or the
    /// whole text).
    async fn runnable(&self, reply: &str) -> Result<Solution, Unrunnable> {
        let mut refusal = None;
        for reading in extract::solutions(reply) {
            match self.syntax.check(&reading.code).await {
                Ok(()) => return Ok(reading),
                Err(error) => refusal = Some(error),
            }
        }
        // Quoted, so that the excerpt's own fences and headings read as the reply's, not the prompt's.
        let excerpt = head_and_tail(reply.trim(), REPLY_EXCERPT_CHARACTERS, Cut::Prose)
            .lines()
            .map(|line| format!("> {line}"))
            .collect::<Vec<_>>()
            .join("\n");
        Err(Unrunnable {
            problem: match refusal {
                None => CodeProblem::NoCodeBlock,
                Some(error) => CodeProblem::DoesNotCompile(error),
            },
            excerpt,
        })
    }
}

fn model_call(
    purpose: CallPurpose,
    model: String,
    exchange: &Exchange,
    reasoning: Option<String>,
    usage: Usage,
) -> ModelCall {
    ModelCall {
        purpose,
        model,
        request: exchange.request.clone(),
        response: exchange.response.clone(),
        // An empty `<think></think>` block says nothing worth showing.
        reasoning: reasoning.filter(|reasoning| !reasoning.trim().is_empty()),
        usage: TokenUsage {
            prompt_tokens: usage.prompt_tokens,
            cached_prompt_tokens: usage.cached_prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_usd: usage.cost_usd,
        },
        latency: exchange.latency,
    }
}

/// What a client's error means for the request: refused for good, too long, or the model failing.
fn failure_cause(error: &mlm_llm::Error) -> FailureCause {
    let detail = error.to_string();
    match error {
        mlm_llm::Error::Unauthorized { status, .. } | mlm_llm::Error::Rejected { status, .. } => {
            FailureCause::Refused {
                status: *status,
                detail,
            }
        }
        mlm_llm::Error::Status { status, .. } if !error.is_transient() => FailureCause::Refused {
            status: *status,
            detail,
        },
        mlm_llm::Error::ContextLengthExceeded { .. } => FailureCause::ContextTooLong { detail },
        mlm_llm::Error::MissingApiKey { .. }
        | mlm_llm::Error::InvalidConfig { .. }
        | mlm_llm::Error::Unsupported { .. }
        | mlm_llm::Error::Template { .. } => FailureCause::Misconfigured { detail },
        mlm_llm::Error::Status { .. }
        | mlm_llm::Error::Timeout { .. }
        | mlm_llm::Error::Unreachable { .. }
        | mlm_llm::Error::Transport { .. }
        | mlm_llm::Error::Overloaded { .. }
        | mlm_llm::Error::RetriesExhausted { .. }
        | mlm_llm::Error::Malformed { .. } => FailureCause::ModelUnavailable { detail },
    }
}

/// Whether a server's refusal is about tools: `tools`, `tool_choice`, or function calling.
fn refuses_tools(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("tool") || message.contains("function call")
}

/// Whether `code` is the parent's script again, apart from comment lines, blank lines and spaces at
/// line ends.
fn repeats_the_parent(request: &ProposalRequest, code: &str) -> bool {
    fn statements(code: &str) -> Vec<&str> {
        code.lines()
            .map(str::trim_end)
            .filter(|line| {
                let trimmed = line.trim_start();
                !trimmed.is_empty() && !trimmed.starts_with('#')
            })
            .collect()
    }
    request
        .parent
        .as_ref()
        .is_some_and(|parent| statements(&parent.code) == statements(code))
}

/// What ends a proposal's request when it is asked again: the request for a shorter script, the
/// correction of an unusable reply, or both.
fn addendum(shorter: &Option<String>, correction: &Option<String>) -> Option<String> {
    let parts: Vec<&str> = [shorter, correction]
        .into_iter()
        .flatten()
        .map(|part| part.trim())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

fn total_usage(calls: &[ModelCall]) -> TokenUsage {
    TokenUsage::total(calls.iter().map(|call| &call.usage))
}

/// Why a reply is asked again, as `reask.j2` sees it.
#[derive(Debug, Serialize)]
struct Reask {
    /// `no_code`, `syntax`, `output_limit` or `unchanged`.
    problem: &'static str,
    /// The compiler's message, for `syntax`, head and tail kept.
    detail: String,
    /// The unusable reply, head and tail kept, each line quoted with `> `; empty for `output_limit`.
    excerpt: String,
}

impl Reask {
    /// A re-ask that quotes nothing of the reply: a reply cut at the output limit would fill the window
    /// again, and one that repeats its parent is the script the prompt already shows.
    fn without_reply(problem: &'static str) -> Reask {
        Reask {
            problem,
            detail: String::new(),
            excerpt: String::new(),
        }
    }
}

/// A reply none of whose readings compiles.
struct Unrunnable {
    problem: CodeProblem,
    /// The reply, head and tail kept, each line quoted with `> `.
    excerpt: String,
}

impl Unrunnable {
    fn reask(&self) -> Reask {
        let (problem, detail) = match &self.problem {
            CodeProblem::NoCodeBlock => ("no_code", String::new()),
            CodeProblem::DoesNotCompile(error) => (
                "syntax",
                head_and_tail(
                    &error.compiler_output,
                    COMPILER_MESSAGE_CHARACTERS,
                    Cut::Output,
                ),
            ),
        };
        Reask {
            problem,
            detail,
            excerpt: self.excerpt.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ReviewContext<'a> {
    task: TaskContext<'a>,
    node: ReviewedNode<'a>,
    output: String,
    submission_exists: bool,
    reported_metric: Option<f64>,
    format: ReviewFormat,
}

#[derive(Debug, Serialize)]
struct ReviewedNode<'a> {
    code: String,
    status: &'static str,
    duration: String,
    validation_message: Option<&'a str>,
}

fn review_tool() -> ToolDefinition {
    ToolDefinition {
        name: REVIEW_TOOL.to_string(),
        description: "Submit a review evaluating the output of the training script.".to_string(),
        parameters: json!({
            "type": "object",
            "properties": {
                "is_bug": {"type": "boolean", "description": "true if the output log shows that the execution failed or has some bug, otherwise false"},
                "has_csv_submission": {"type": "boolean", "description": "true if the code saves its predictions on the test data in ./submission/submission.csv"},
                "summary": {"type": "string", "description": "2-3 sentences describing the empirical findings; no suggestions"},
                "metric": {"type": ["number", "null"], "description": "the validation metric reported in the output, or null"},
                "lower_is_better": {"type": "boolean", "description": "true if a lower value of the metric is better"}
            },
            "required": ["is_bug", "has_csv_submission", "summary", "metric", "lower_is_better"]
        }),
    }
}

#[async_trait::async_trait]
impl Coder for LlmCoder {
    fn name(&self) -> String {
        format!("llm:{}", self.code_model.model())
    }

    async fn propose(
        &self,
        task: &TaskBrief,
        request: &ProposalRequest,
    ) -> Result<Proposal, CoderError> {
        let purpose = match request.stage {
            mlm_search::Stage::Draft => CallPurpose::Draft,
            mlm_search::Stage::Improve => CallPurpose::Improve,
            mlm_search::Stage::Debug => CallPurpose::Debug,
        };
        let mut cut = PromptCut::Whole;
        // Set once a reply was cut at the output limit: the request then asks for a shorter script.
        let mut shorter: Option<String> = None;
        // Set once a reply had no runnable code: the request then quotes it and asks again, stricter.
        let mut correction: Option<String> = None;
        let (mut messages, mut thinking_prefill) =
            self.proposal_prompt(task, request, cut, None)?;
        let client = self
            .operator_models
            .iter()
            .find(|(stage, _)| *stage == request.stage)
            .map_or(&self.code_model, |(_, model)| model);
        let mut calls = Vec::new();
        let mut replies: Vec<String> = Vec::new();
        let mut resample = Resample::default();
        let mut reasks = 0;
        let mut cut_replies = 0;
        // Set once a reply repeated the parent's script: asked again once, then taken as it is.
        let mut asked_for_a_change = false;
        loop {
            let (reply, finish_reason, call) = match self
                .ask_code_model(
                    client,
                    purpose,
                    &messages,
                    thinking_prefill.as_deref(),
                    resample,
                )
                .await
            {
                Ok(answer) => answer,
                Err(error) => {
                    let next_cut = if matches!(error, mlm_llm::Error::ContextLengthExceeded { .. })
                    {
                        cut.next()
                    } else {
                        None
                    };
                    let Some(next_cut) = next_cut else {
                        return Err(CoderError::Failed {
                            cause: failure_cause(&error),
                            calls,
                        });
                    };
                    cut = next_cut;
                    (messages, thinking_prefill) = self.proposal_prompt(
                        task,
                        request,
                        cut,
                        addendum(&shorter, &correction).as_deref(),
                    )?;
                    continue;
                }
            };
            calls.push(call);
            if finish_reason == FinishReason::OutputLimit {
                cut_replies += 1;
                if cut_replies > 1 {
                    return Err(CoderError::Failed {
                        cause: FailureCause::OutputLimit {
                            replies: cut_replies,
                        },
                        calls,
                    });
                }
                // The cut reply is not shown again: it would fill the window it just overflowed.
                // The request itself asks for less, in both modes.
                shorter = Some(self.render("reask.j2", &Reask::without_reply("output_limit"))?);
                (messages, thinking_prefill) = self.proposal_prompt(
                    task,
                    request,
                    cut,
                    addendum(&shorter, &correction).as_deref(),
                )?;
                continue;
            }
            let unrunnable = match self.runnable(&reply).await {
                Ok(solution)
                    if !asked_for_a_change && repeats_the_parent(request, &solution.code) =>
                {
                    // Small models answer an improve with the parent's script and a new comment: a
                    // run that would change nothing (a debug's, one that fails the same way). Asked
                    // once; a second repeat runs, since failing the proposal would count towards
                    // stopping the run.
                    asked_for_a_change = true;
                    correction = Some(self.render("reask.j2", &Reask::without_reply("unchanged"))?);
                    (messages, thinking_prefill) = self.proposal_prompt(
                        task,
                        request,
                        cut,
                        addendum(&shorter, &correction).as_deref(),
                    )?;
                    continue;
                }
                Ok(solution) => {
                    return Ok(Proposal {
                        plan: solution.plan,
                        code: solution.code,
                        usage: total_usage(&calls),
                        calls,
                    })
                }
                Err(unrunnable) => unrunnable,
            };
            if reasks == self.options.max_reasks {
                return Err(CoderError::Failed {
                    cause: FailureCause::NoCode {
                        replies: calls.len() as u32,
                        problem: unrunnable.problem,
                    },
                    calls,
                });
            }
            reasks += 1;
            // A server that answered the same request twice the same way will do so again: from then
            // on every request samples anew.
            if replies.contains(&reply) || resample.seed.is_some() {
                resample = Resample {
                    seed: Some(request.seed.wrapping_add(u64::from(reasks))),
                    temperature: Some(RESAMPLE_TEMPERATURE),
                };
            }
            replies.push(reply);
            // The correction ends the original request rather than following the unusable reply as
            // a new turn: small models copy a long conversation's last reply, and in steerable mode
            // the model's pre-filled reasoning must stay the last part of the prompt.
            correction = Some(self.render("reask.j2", &unrunnable.reask())?);
            (messages, thinking_prefill) = self.proposal_prompt(
                task,
                request,
                cut,
                addendum(&shorter, &correction).as_deref(),
            )?;
        }
    }

    async fn review(
        &self,
        task: &TaskBrief,
        request: &ReviewRequest,
    ) -> Result<Review, CoderError> {
        let mut context = ReviewContext {
            task: TaskContext::new(task),
            node: ReviewedNode {
                code: head_and_tail(&request.node.code, CODE_EDGE_CHARACTERS, Cut::Code),
                status: request.node.status.name(),
                duration: human_duration(request.node.duration),
                validation_message: request.node.validation_message.as_deref(),
            },
            output: trim_output(&request.node.output),
            submission_exists: request.submission_exists,
            reported_metric: request.reported_metric.map(|(value, _)| value),
            format: self.review_format(),
        };
        let mut messages = self.review_messages(&context)?;
        let model = self.feedback_model.model().to_string();
        let mut calls = Vec::new();
        let mut notice = None;
        let mut last_problem = String::new();
        let mut replies = 0;
        while replies <= self.options.max_reasks {
            let (tools, tool_choice) = match context.format {
                ReviewFormat::Tool => (
                    vec![review_tool()],
                    ToolChoice::Forced(REVIEW_TOOL.to_string()),
                ),
                ReviewFormat::Json => (Vec::new(), ToolChoice::Auto),
            };
            let chat = ChatRequest {
                messages: messages.clone(),
                tools,
                tool_choice,
                resample: Resample::default(),
            };
            let response = match self.feedback_model.chat(&chat).await {
                Ok(response) => response,
                Err(mlm_llm::Error::Rejected { message, .. })
                    if context.format == ReviewFormat::Tool && refuses_tools(&message) =>
                {
                    let refusal = self.tools_refused.get_or_init(|| message.clone());
                    notice = Some(format!(
                        "the feedback model's server refused tool calls ({refusal}); reviews are asked as JSON from now on"
                    ));
                    context.format = ReviewFormat::Json;
                    messages = self.review_messages(&context)?;
                    continue;
                }
                Err(error) => {
                    return Err(CoderError::Failed {
                        cause: failure_cause(&error),
                        calls,
                    })
                }
            };
            replies += 1;
            calls.push(model_call(
                CallPurpose::Review,
                model.clone(),
                &response.exchange,
                response.reasoning.clone(),
                response.usage,
            ));
            let arguments = response
                .tool_calls
                .iter()
                .find(|call| call.name == REVIEW_TOOL)
                .map(|call| {
                    serde_json::from_str::<Value>(&call.arguments)
                        .map_err(|error| format!("the tool arguments are not JSON: {error}"))
                })
                .unwrap_or_else(|| {
                    extract::json_object(&response.content)
                        .or_else(|| extract::verdict_lines(&response.content))
                        .ok_or_else(|| {
                            "the reply neither called submit_review nor held a JSON object or an `is_bug:` line"
                                .to_string()
                        })
                });
            match arguments.and_then(|arguments| extract::verdict(&arguments)) {
                Ok(verdict) => {
                    return Ok(Review {
                        is_bug: verdict.is_bug,
                        summary: verdict.summary,
                        metric: verdict.metric,
                        lower_is_better: verdict.lower_is_better,
                        usage: total_usage(&calls),
                        calls,
                        notice,
                    })
                }
                Err(problem) => {
                    messages.push(Message::assistant(if response.content.is_empty() {
                        "(a submit_review call with unusable arguments)".to_string()
                    } else {
                        response.content.clone()
                    }));
                    messages.push(Message::user(format!(
                        "Your review could not be read: {problem}. {}",
                        match context.format {
                            ReviewFormat::Tool => "Call `submit_review` again with all five fields (or reply with only that JSON object).",
                            ReviewFormat::Json => "Reply with only one JSON object with all five fields.",
                        }
                    )));
                    last_problem = problem;
                }
            }
        }
        Err(CoderError::Failed {
            cause: FailureCause::UnreadableReview {
                replies: calls.len() as u32,
                problem: last_problem,
            },
            calls,
        })
    }
}
