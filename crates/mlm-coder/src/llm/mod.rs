//! The LLM coder: ML-Master's operators on a language model. Draft, improve and debug prompts carry
//! the task, the scoped memory the engine chose, the instructions and the data preview; in steerable
//! mode the data preview and the parent's code, output and bug analysis go into the model's pre-filled
//! reasoning instead. Replies without runnable code are asked again a bounded number of times. Reviews
//! go to a separate feedback model, forced to call `submit_review`, with a JSON fallback.

mod extract;
mod prompts;

use std::sync::Arc;

use mlm_llm::{
    ChatRequest, Client, CompletionRequest, Exchange, FinishReason, Message, ToolChoice,
    ToolDefinition, Usage,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::operator::{
    CallPurpose, CodeProblem, Coder, CoderError, FailureCause, ModelCall, Proposal,
    ProposalRequest, Review, ReviewRequest, SyntaxCheck, TaskBrief, TokenUsage,
};
use prompts::{human_duration, trim_output, ProposalContext, TaskContext};
pub use prompts::{PromptError, PromptMode, Prompts};

/// The tool the feedback model must call.
const REVIEW_TOOL: &str = "submit_review";

/// How the feedback model returns its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Writes code with one model and reviews it with another (or the same).
pub struct LlmCoder {
    code_model: Client,
    feedback_model: Client,
    prompts: Prompts,
    options: LlmOptions,
    syntax: Arc<dyn SyntaxCheck>,
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
            feedback_model,
            prompts,
            options,
            syntax,
        }
    }

    fn render(&self, name: &str, context: &impl Serialize) -> Result<String, CoderError> {
        self.prompts
            .render(name, context)
            .map_err(|error| CoderError::failed(error.to_string()))
    }

    /// One reply of the code model: the answer text, why it ended and the call that produced it.
    async fn ask_code_model(
        &self,
        purpose: CallPurpose,
        messages: &[Message],
        thinking_prefill: Option<&str>,
    ) -> Result<(String, FinishReason, ModelCall), mlm_llm::Error> {
        let model = self.code_model.model().to_string();
        match thinking_prefill {
            None => {
                let response = self
                    .code_model
                    .chat(&ChatRequest::new(messages.to_vec()))
                    .await?;
                let call = model_call(purpose, model, &response.exchange, response.usage);
                Ok((response.content, response.finish_reason, call))
            }
            Some(prefill) => {
                let response = self
                    .code_model
                    .complete(&CompletionRequest {
                        messages: messages.to_vec(),
                        thinking_prefill: prefill.to_string(),
                    })
                    .await?;
                let call = model_call(purpose, model, &response.exchange, response.usage);
                Ok((response.answer, response.finish_reason, call))
            }
        }
    }
}

fn model_call(purpose: CallPurpose, model: String, exchange: &Exchange, usage: Usage) -> ModelCall {
    ModelCall {
        purpose,
        model,
        request: exchange.request.clone(),
        response: exchange.response.clone(),
        usage: TokenUsage {
            prompt_tokens: usage.prompt_tokens,
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

fn total_usage(calls: &[ModelCall]) -> TokenUsage {
    TokenUsage::total(calls.iter().map(|call| &call.usage))
}

/// Why a reply is asked again.
#[derive(Debug, Serialize)]
struct Reask {
    /// `no_code`, `syntax` or `output_limit`.
    problem: &'static str,
    /// The compiler's message, for `syntax`.
    detail: String,
}

#[derive(Debug, Serialize)]
struct ReviewContext<'a> {
    task: TaskContext<'a>,
    node: ReviewedNode<'a>,
    output: String,
    submission_exists: bool,
    reported_metric: Option<f64>,
    format: &'static str,
}

#[derive(Debug, Serialize)]
struct ReviewedNode<'a> {
    code: &'a str,
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
        let context = ProposalContext::new(task, request, self.options.mode);
        let mut messages = vec![
            Message::system(self.render("introduction.j2", &context)?),
            Message::user(self.render(&format!("{}.j2", request.stage.name()), &context)?),
        ];
        let thinking_prefill = match self.options.mode {
            PromptMode::Chat => None,
            PromptMode::Steerable => Some(self.render("think.j2", &context)?),
        };
        let mut calls = Vec::new();
        let mut reasks = 0;
        let mut cut_replies = 0;
        loop {
            let (reply, finish_reason, call) = match self
                .ask_code_model(purpose, &messages, thinking_prefill.as_deref())
                .await
            {
                Ok(answer) => answer,
                Err(error) => {
                    return Err(CoderError::Failed {
                        cause: failure_cause(&error),
                        calls,
                    })
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
                let shorter = self.render(
                    "reask.j2",
                    &Reask {
                        problem: "output_limit",
                        detail: String::new(),
                    },
                )?;
                if let Some(request) = messages.get_mut(1) {
                    request.content = format!("{}\n\n{shorter}", request.content.trim_end());
                }
                continue;
            }
            let problem = match extract::solution(&reply) {
                None => CodeProblem::NoCodeBlock,
                Some(solution) => match self.syntax.check(&solution.code).await {
                    Ok(()) => {
                        return Ok(Proposal {
                            plan: solution.plan,
                            code: solution.code,
                            usage: total_usage(&calls),
                            calls,
                        })
                    }
                    Err(error) => CodeProblem::DoesNotCompile(error),
                },
            };
            if reasks == self.options.max_reasks {
                return Err(CoderError::Failed {
                    cause: FailureCause::NoCode {
                        replies: calls.len() as u32,
                        problem,
                    },
                    calls,
                });
            }
            reasks += 1;
            let reask = match &problem {
                CodeProblem::NoCodeBlock => Reask {
                    problem: "no_code",
                    detail: String::new(),
                },
                CodeProblem::DoesNotCompile(error) => Reask {
                    problem: "syntax",
                    detail: error.compiler_output.clone(),
                },
            };
            // Steerable mode asks the same prompt again: its prompt is the model's own reasoning,
            // which a correction would break.
            if matches!(self.options.mode, PromptMode::Chat) {
                messages.push(Message::assistant(reply));
                messages.push(Message::user(self.render("reask.j2", &reask)?));
            }
        }
    }

    async fn review(
        &self,
        task: &TaskBrief,
        request: &ReviewRequest,
    ) -> Result<Review, CoderError> {
        let context = ReviewContext {
            task: TaskContext::new(task),
            node: ReviewedNode {
                code: &request.node.code,
                status: request.node.status.name(),
                duration: human_duration(request.node.duration),
                validation_message: request.node.validation_message.as_deref(),
            },
            output: trim_output(&request.node.output),
            submission_exists: request.submission_exists,
            reported_metric: request.reported_metric.map(|(value, _)| value),
            format: match self.options.review_format {
                ReviewFormat::Tool => "tool",
                ReviewFormat::Json => "json",
            },
        };
        let mut messages = vec![
            Message::system(self.render("review_system.j2", &context)?),
            Message::user(self.render("review.j2", &context)?),
        ];
        let (tools, tool_choice) = match self.options.review_format {
            ReviewFormat::Tool => (
                vec![review_tool()],
                ToolChoice::Forced(REVIEW_TOOL.to_string()),
            ),
            ReviewFormat::Json => (Vec::new(), ToolChoice::Auto),
        };
        let model = self.feedback_model.model().to_string();
        let mut calls = Vec::new();
        let mut last_problem = String::new();
        for _ in 0..=self.options.max_reasks {
            let chat = ChatRequest {
                messages: messages.clone(),
                tools: tools.clone(),
                tool_choice: tool_choice.clone(),
            };
            let response = match self.feedback_model.chat(&chat).await {
                Ok(response) => response,
                Err(error) => {
                    return Err(CoderError::Failed {
                        cause: failure_cause(&error),
                        calls,
                    })
                }
            };
            calls.push(model_call(
                CallPurpose::Review,
                model.clone(),
                &response.exchange,
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
                    extract::json_object(&response.content).ok_or_else(|| {
                        "the reply neither called submit_review nor held a JSON object".to_string()
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
                    })
                }
                Err(problem) => {
                    messages.push(Message::assistant(if response.content.is_empty() {
                        "(a submit_review call with unusable arguments)".to_string()
                    } else {
                        response.content.clone()
                    }));
                    messages.push(Message::user(format!(
                        "Your review could not be read: {problem}. Call `submit_review` again with all five fields (or reply with only that JSON object)."
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
