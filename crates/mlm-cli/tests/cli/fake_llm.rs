//! A fake OpenAI-compatible server for the LLM coder's end-to-end tests. It answers like a model that
//! solves the Titanic task: drafts (the first reply without code, the next one buggy), a debug fix,
//! improvements (the first helps, later ones do not) and reviews, and it can inject faults. wiremock records every request it received.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The key the tests put in the environment; it must never leave the Authorization header.
pub const API_KEY: &str = "sk-test-SECRET-4242-do-not-leak";
pub const API_KEY_ENV: &str = "ML_MASTER_TEST_LLM_KEY";
pub const PROMPT_TOKENS: u64 = 100;
pub const COMPLETION_TOKENS: u64 = 50;
/// The part of a chat reply's prompt tokens the fake says it read from its prompt cache.
pub const CACHED_PROMPT_TOKENS: u64 = 64;
/// The reasoning every chat reply carries.
pub const REASONING: &str = "Let me think about the data first.";

/// Faults the server injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The first improve request gets a 429 with `Retry-After: 0`.
    RateLimitFirstImprove,
    /// The first draft gets 500s on both of its attempts; later requests succeed.
    ServerErrorsOnFirstDraft,
    /// Every request, the start-up check's included, is refused with a 400 naming a parameter.
    RefuseEverything,
    /// The start-up check passes; every code request is refused with a 400 naming a parameter (as
    /// a server does that checks a parameter only with long prompts).
    RefuseCodeRequests,
    /// Code requests are answered in prose, never with code.
    NeverCode,
}

/// What a server says when it refuses a parameter (OpenAI's wording).
pub const REFUSAL: &str = "Unsupported parameter: 'top_p' is not supported with this model.";

fn refusal() -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({"error": {
        "message": REFUSAL, "type": "invalid_request_error", "param": "top_p", "code": "unsupported_parameter"
    }}))
}

/// A solution script for the Titanic task that reports `metric`, or crashes before writing anything.
pub fn titanic_script(metric: f64, crash: bool) -> String {
    let crash_line = if crash {
        "survivors = undefined_column_name  # NameError\n"
    } else {
        ""
    };
    format!(
        "import json\nimport os\n\nimport pandas as pd\n\nos.makedirs(\"submission\", exist_ok=True)\ntrain = pd.read_csv(\"input/train.csv\")\ntest = pd.read_csv(\"input/test.csv\")\n{crash_line}majority = int(train[\"Survived\"].mode()[0])\npd.DataFrame({{\"PassengerId\": test[\"PassengerId\"], \"Survived\": majority}}).to_csv(\"submission/submission.csv\", index=False)\nscore = {metric}\njson.dump({{\"validation_metric\": score, \"lower_is_better\": False}}, open(\"metrics.json\", \"w\"))\nprint(f\"Validation accuracy: {{score}}\")\nprint(\"environment:\", \" \".join(sorted(os.environ)))\n"
    )
}

/// The model's scripted behaviour; counts what it was asked.
#[derive(Debug)]
pub struct FakeModel {
    fault: Fault,
    drafts: AtomicUsize,
    improves: AtomicUsize,
    debugs: AtomicUsize,
    failed_draft_attempts: AtomicUsize,
    rate_limited: AtomicUsize,
    /// Every status code answered, in order.
    pub statuses: Mutex<Vec<u16>>,
}

impl FakeModel {
    pub fn new(fault: Fault) -> Arc<FakeModel> {
        Arc::new(FakeModel {
            fault,
            drafts: AtomicUsize::new(0),
            improves: AtomicUsize::new(0),
            debugs: AtomicUsize::new(0),
            failed_draft_attempts: AtomicUsize::new(0),
            rate_limited: AtomicUsize::new(0),
            statuses: Mutex::new(Vec::new()),
        })
    }

    fn answer(&self, status: u16, body: Value) -> ResponseTemplate {
        self.statuses.lock().unwrap().push(status);
        ResponseTemplate::new(status).set_body_json(body)
    }

    /// A chat reply; drafts carry `reasoning_content`, everything else `reasoning`, as servers differ.
    fn chat_reply(
        &self,
        content: Option<String>,
        reasoning_field: &str,
        tool_call: Option<Value>,
    ) -> ResponseTemplate {
        let mut message = json!({"role": "assistant", "content": content});
        message[reasoning_field] = json!(REASONING);
        if let Some(call) = tool_call {
            message["tool_calls"] = json!([call]);
        }
        self.answer(
            200,
            json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                          "prompt_tokens_details": {"cached_tokens": CACHED_PROMPT_TOKENS}}
            }),
        )
    }

    fn review(&self, prompt: &str) -> ResponseTemplate {
        let crashed = prompt.contains("Traceback");
        let arguments = if crashed {
            json!({"is_bug": true, "has_csv_submission": false,
                   "summary": "The script crashed with a NameError before writing the submission.",
                   "metric": null, "lower_is_better": false})
        } else {
            let metric = prompt
                .split("Validation accuracy: ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse::<f64>().ok());
            json!({"is_bug": false, "has_csv_submission": true,
                   "summary": format!("A majority-class model reached a validation accuracy of {}.", metric.unwrap_or(0.0)),
                   "metric": metric, "lower_is_better": false})
        };
        self.chat_reply(
            None,
            "reasoning",
            Some(json!({"id": "call-1", "type": "function",
                        "function": {"name": "submit_review", "arguments": arguments.to_string()}})),
        )
    }

    /// The reply text of a code request for `stage`.
    fn solution(&self, stage: &str) -> Option<String> {
        match stage {
            "draft" => match self.drafts.fetch_add(1, Ordering::SeqCst) {
                0 => None,
                1 => Some(format!(
                    "Predict the majority class from a column that does not exist.\n\n```python\n{}```\n",
                    titanic_script(0.6, true)
                )),
                index => Some(format!(
                    "Draft number {index}: predict the majority class.\n\n```python\n{}```\n",
                    titanic_script(0.59, false)
                )),
            },
            "debug" => {
                self.debugs.fetch_add(1, Ordering::SeqCst);
                Some(format!(
                    "Remove the reference to the missing column.\n\n```python\n{}```\n",
                    titanic_script(0.62, false)
                ))
            }
            _ => {
                // The first improvement helps; later ones do not, so the trajectory gives up on them
                // after max_improve_failure and siblings accumulate under one parent.
                let index = self.improves.fetch_add(1, Ordering::SeqCst);
                let metric = if index == 0 { 0.63 } else { 0.6 };
                Some(format!(
                    "Improvement {index}: tune the threshold.\n\n```python\n{}```\n",
                    titanic_script(metric, false)
                ))
            }
        }
    }
}

/// The operator a code prompt asks for, read from its request (the system message is the same for all).
pub fn stage_of(prompt: &str) -> &'static str {
    if prompt.contains("previous solution had a bug") {
        "debug"
    } else if prompt.contains("should improve it") {
        "improve"
    } else {
        "draft"
    }
}

/// The start-up check: one request with a one-token output limit, answered outside the script.
fn is_probe(body: &Value) -> bool {
    body["max_tokens"] == 1 || body["max_completion_tokens"] == 1
}

struct ChatResponder(Arc<FakeModel>);

impl Respond for ChatResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let model = &self.0;
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        if model.fault == Fault::RefuseEverything {
            return refusal();
        }
        if is_probe(&body) {
            return ResponseTemplate::new(200).set_body_json(json!({
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"},
                             "finish_reason": "length"}]
            }));
        }
        let messages = body["messages"].as_array().unwrap();
        let request_text = messages[1]["content"].as_str().unwrap_or_default();
        let last = messages.last().unwrap()["content"]
            .as_str()
            .unwrap_or_default();
        if body.get("tools").is_some() {
            return model.review(last);
        }
        let stage = stage_of(request_text);
        match (model.fault, stage) {
            (Fault::ServerErrorsOnFirstDraft, "draft")
                if model.drafts.load(Ordering::SeqCst) == 0
                    && model.failed_draft_attempts.fetch_add(1, Ordering::SeqCst) < 2 =>
            {
                return model.answer(500, json!({"error": {"message": "overloaded"}}));
            }
            (Fault::RateLimitFirstImprove, "improve")
                if model.rate_limited.fetch_add(1, Ordering::SeqCst) == 0 =>
            {
                model.statuses.lock().unwrap().push(429);
                return ResponseTemplate::new(429)
                    .insert_header("Retry-After", "0")
                    .set_body_json(json!({"error": {"message": "slow down"}}));
            }
            (Fault::RefuseCodeRequests, _) => {
                model.statuses.lock().unwrap().push(400);
                return refusal();
            }
            (Fault::NeverCode, _) => {
                return model.chat_reply(
                    Some("I would start with a majority-class baseline.".to_string()),
                    "reasoning",
                    None,
                );
            }
            _ => {}
        }
        let field = if stage == "draft" {
            "reasoning_content"
        } else {
            "reasoning"
        };
        match model.solution(stage) {
            Some(text) => model.chat_reply(Some(text), field, None),
            None => model.chat_reply(
                Some("I would start with a majority-class baseline.".to_string()),
                field,
                None,
            ),
        }
    }
}

/// Steerable mode: the prompt is the rendered chat with pre-filled reasoning; the reply continues it.
struct CompletionResponder(Arc<FakeModel>);

impl Respond for CompletionResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let model = &self.0;
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        if is_probe(&body) {
            return ResponseTemplate::new(200).set_body_json(json!({
                "choices": [{"index": 0, "text": "OK", "finish_reason": "length"}]
            }));
        }
        let prompt = body["prompt"].as_str().unwrap();
        let stage = stage_of(prompt);
        let answer = model.solution(stage).unwrap_or_default();
        model.answer(
            200,
            json!({
                "id": "cmpl-fake",
                "object": "text_completion",
                "choices": [{"index": 0, "text": format!(" so that is the plan.\n</think>\n\n{answer}"), "finish_reason": "stop"}],
                "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS}
            }),
        )
    }
}

/// Starts the fake server on `runtime`.
pub fn start(runtime: &tokio::runtime::Runtime, model: &Arc<FakeModel>) -> MockServer {
    runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ChatResponder(Arc::clone(model)))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/completions"))
            .respond_with(CompletionResponder(Arc::clone(model)))
            .mount(&server)
            .await;
        server
    })
}

/// The bodies of every POST the server received but the start-up checks, as JSON.
pub fn posted_bodies(
    runtime: &tokio::runtime::Runtime,
    server: &MockServer,
) -> Vec<(String, Value)> {
    runtime
        .block_on(server.received_requests())
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() == "POST")
        .map(|request| {
            (
                request.url.path().to_string(),
                serde_json::from_slice(&request.body).unwrap(),
            )
        })
        .filter(|(_, body)| !is_probe(body))
        .collect()
}
