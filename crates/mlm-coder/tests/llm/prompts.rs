//! The LLM coder's prompts, as a model receives them from a fake OpenAI-compatible server: ML-Master's
//! sections for each operator in chat and steerable mode, snapshot-tested; re-asks; reviews with a tool
//! call or a JSON fallback; and user overrides of the templates.

use std::sync::Arc;
use std::time::Duration;

use mlm_coder::{
    Budget, CodeProblem, Coder, CoderError, ExecutionStatus, FailureCause, LlmCoder, LlmOptions,
    MemoryEntry, NodeView, PromptMode, Prompts, ProposalRequest, ReviewFormat, ReviewRequest,
    SyntaxCheck, SyntaxError,
};
use mlm_llm::Client;
use mlm_search::Stage;

use crate::support::{chat_reply, task, task_with_columns, Fixture};
use serde_json::{json, Value};
use wiremock::ResponseTemplate;

/// Accepts any code but the marker of a syntax error, as `python -m py_compile` would refuse it.
struct MarkerSyntaxCheck;

#[async_trait::async_trait]
impl SyntaxCheck for MarkerSyntaxCheck {
    async fn check(&self, code: &str) -> Result<(), SyntaxError> {
        if code.contains("def broken(:") {
            Err(SyntaxError {
                compiler_output: "SyntaxError: invalid syntax (line 1)".to_string(),
            })
        } else {
            Ok(())
        }
    }
}

fn node(
    id: u32,
    stage: Stage,
    plan: &str,
    code: &str,
    output: &str,
    metric: Option<f64>,
) -> NodeView {
    NodeView {
        node: id,
        stage,
        plan: plan.to_string(),
        code: code.to_string(),
        output: output.to_string(),
        status: if metric.is_some() {
            ExecutionStatus::Ok
        } else {
            ExecutionStatus::Error
        },
        duration: Duration::from_secs(12),
        metric,
        buggy: metric.is_none(),
        summary: match metric {
            Some(metric) => format!("Logistic regression reached {metric}."),
            None => "The script failed with a KeyError on the column 'Sex'.".to_string(),
        },
        validation_message: None,
    }
}

fn request(
    stage: Stage,
    parent: Option<NodeView>,
    memory: Vec<MemoryEntry>,
    ancestors: Vec<NodeView>,
) -> ProposalRequest {
    ProposalRequest {
        stage,
        parent,
        memory,
        buggy_ancestors: ancestors,
        budget: Budget {
            time_remaining: Duration::from_secs(3 * 3600 + 20 * 60),
            steps_remaining: 17,
            node_timeout: Duration::from_secs(600),
        },
        siblings_being_written: 0,
        seed: 7,
    }
}

/// A reply cut at the output limit in the middle of its script.
fn cut_reply() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Plan.\n```python\nimport pandas as pd\nfor column in ["}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 16384}
    }))
}

const GOOD_REPLY: &str =
    "Fit a gradient-boosted model.\n\n```python\nprint('Validation accuracy: 0.8')\n```\n";

/// The LLM coder on the fixture's server, compiling with the marker check.
fn coder(
    fixture: &Fixture,
    mode: PromptMode,
    review_format: ReviewFormat,
    prompts: Prompts,
) -> LlmCoder {
    let client = Client::new(fixture.client_config()).unwrap();
    LlmCoder::new(
        client.clone(),
        client,
        prompts,
        LlmOptions {
            mode,
            review_format,
            max_reasks: 2,
        },
        Arc::new(MarkerSyntaxCheck),
    )
}

/// The messages of a chat body, as one readable text.
fn transcript(body: &Value) -> String {
    match body["prompt"].as_str() {
        Some(prompt) => prompt.to_string(),
        None => body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|message| {
                format!(
                    "=== {} ===\n{}",
                    message["role"].as_str().unwrap(),
                    message["content"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn improve_request() -> ProposalRequest {
    let parent = node(
        3,
        Stage::Draft,
        "Logistic regression on one-hot features.",
        "import pandas as pd\nprint('Validation accuracy: 0.78')\n",
        "Validation accuracy: 0.78\n",
        Some(0.78),
    );
    let memory = vec![
        MemoryEntry {
            node: 5,
            plan: "Add the title extracted from Name.".to_string(),
            summary: "The title raised accuracy to 0.80.".to_string(),
            metric: Some(0.8),
            buggy: false,
        },
        MemoryEntry {
            node: 6,
            plan: "Impute Age by class median.".to_string(),
            summary: "Crashed on a missing column.".to_string(),
            metric: None,
            buggy: true,
        },
    ];
    request(Stage::Improve, Some(parent), memory, Vec::new())
}

fn debug_request() -> ProposalRequest {
    let parent = node(
        8,
        Stage::Debug,
        "Encode Sex as 0/1.",
        "import pandas as pd\ntrain['Sex'].map({'male': 0})\n",
        "Traceback (most recent call last):\nKeyError: 'Sex'\n",
        None,
    );
    let ancestor = node(
        4,
        Stage::Draft,
        "Random forest on raw columns.",
        "import sklearn\n",
        "ValueError: could not convert string to float: 'male'\n",
        None,
    );
    request(Stage::Debug, Some(parent), Vec::new(), vec![ancestor])
}

#[test]
fn chat_prompts_have_ml_masters_sections_for_each_operator() {
    let fixture = Fixture::new(vec![
        chat_reply(GOOD_REPLY),
        chat_reply(GOOD_REPLY),
        chat_reply(GOOD_REPLY),
    ]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let draft_memory = vec![MemoryEntry {
        node: 0,
        plan: "LightGBM on numeric columns.".to_string(),
        summary: "Reached 0.79.".to_string(),
        metric: Some(0.79),
        buggy: false,
    }];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(coder.propose(
            &task(),
            &request(Stage::Draft, None, draft_memory, Vec::new()),
        ))
        .unwrap();
    runtime
        .block_on(coder.propose(&task(), &improve_request()))
        .unwrap();
    let proposal = runtime
        .block_on(coder.propose(&task(), &debug_request()))
        .unwrap();
    assert_eq!(proposal.plan, "Fit a gradient-boosted model.");
    assert_eq!(proposal.usage.prompt_tokens, 1000);
    let bodies = fixture.bodies();
    assert_eq!(
        bodies[0]["temperature"],
        Value::Null,
        "the client's temperature is left to config"
    );
    insta::assert_snapshot!("draft_chat", transcript(&bodies[0]));
    insta::assert_snapshot!("improve_chat", transcript(&bodies[1]));
    insta::assert_snapshot!("debug_chat", transcript(&bodies[2]));
}

/// The task section of a draft's system message for a slot that shares a GPU, in an environment with
/// PyTorch: the model learns which GPU it gets, that others share it, and that torch is there.
#[test]
fn a_draft_prompt_names_the_scripts_gpu_the_deep_learning_packages_and_the_local_text_model() {
    let fixture = Fixture::new(vec![chat_reply(GOOD_REPLY)]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let mut brief = task();
    brief.hardware = "4 CPU core(s) per script, 1 GPU per script: NVIDIA H100 80GB HBM3 (79.6 GiB), shared by 2 scripts running at once, no fixed memory limit".to_string();
    brief
        .installed_packages
        .extend(["torch".to_string(), "torchvision".to_string()]);
    brief.text_model = Some(std::path::PathBuf::from("/models/all-MiniLM-L6-v2"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(coder.propose(&brief, &request(Stage::Draft, None, Vec::new(), Vec::new())))
        .unwrap();
    let system = transcript(&fixture.bodies()[0]);
    let task_section: String = system
        .lines()
        .skip_while(|line| !line.starts_with("- The competition data"))
        .take_while(|line| !line.starts_with("## Competition"))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("draft_gpu_task_section", task_section);
}

#[test]
fn steerable_prompts_end_inside_the_models_reasoning() {
    let completion = ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "text": "one change only.\n</think>\n\n".to_string() + GOOD_REPLY}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}
    }));
    let fixture = Fixture::new(vec![completion]);
    let coder = coder(
        &fixture,
        PromptMode::Steerable,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proposal = runtime
        .block_on(coder.propose(&task(), &debug_request()))
        .unwrap();
    assert_eq!(proposal.code, "print('Validation accuracy: 0.8')\n");
    let prompt = transcript(&fixture.bodies()[0]);
    assert!(
        prompt
            .trim_end()
            .ends_with("keeping the rest of the solution as it is."),
        "{prompt}"
    );
    insta::assert_snapshot!("debug_steerable", prompt);
}

/// A small model that writes Kaggle's Titanic columns into this data set is told, at the end of the
/// debug request, which columns are not there and which are, and the instructions list the real columns.
#[test]
fn a_debug_prompt_says_what_the_error_means_with_the_real_columns() {
    let fixture = Fixture::new(vec![chat_reply(GOOD_REPLY)]);
    let chat_coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let brief = task_with_columns();
    let mut request = debug_request();
    request.parent.as_mut().unwrap().output =
        "Traceback (most recent call last):\nKeyError: ['Embarked', 'Fare']\n".to_string();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(chat_coder.propose(&brief, &request))
        .unwrap();
    let prompt = transcript(&fixture.bodies()[0]);
    // Last, where a small model reads it just before it answers; in steerable mode also in the
    // model's own reasoning, which it continues.
    let steerable_fixture = Fixture::new(vec![ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "text": "drop them.\n</think>\n\n".to_string() + GOOD_REPLY}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}
    }))]);
    let steerable_coder = coder(
        &steerable_fixture,
        PromptMode::Steerable,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    runtime
        .block_on(steerable_coder.propose(&brief, &request))
        .unwrap();
    let reasoning = transcript(&steerable_fixture.bodies()[0]);
    assert!(
        reasoning.contains(
            "Reading the error against the data: `Embarked` and `Fare` are not columns of train.csv \
             or test.csv"
        ) && reasoning
            .trim_end()
            .ends_with("keeping the rest of the solution as it is."),
        "{reasoning}"
    );
    assert!(
        prompt.trim_end().ends_with(
            "# What the error means\n\n\
             The harness read the error against the data and the installed packages; the fix must \
             address this:\n\n\
             - `Embarked` and `Fare` are not columns of train.csv or test.csv: this data set differs \
             from other versions you may know, so remove every use of them. train.csv has exactly the \
             columns `PassengerId`, `Sex` and `Survived`; test.csv has `PassengerId` and `Sex`."
        ),
        "{prompt}"
    );
    assert!(
        prompt.contains(
            "- `train.csv` has exactly the columns `PassengerId`, `Sex`, `Survived`; `test.csv` has \
             `PassengerId`, `Sex`. Use no other column names.\n"
        ),
        "{prompt}"
    );
}

/// A draft prompt ends with a baseline script for the task's own columns and metric (which
/// `builtin_scripts.rs` runs on every bundled task), so a small model writes only features and a model,
/// and an echo of the prompt still runs; improves and debugs start from their parent's code instead.
#[test]
fn a_draft_prompt_ends_with_a_starting_script_for_the_tasks_columns() {
    let fixture = Fixture::new(vec![chat_reply(GOOD_REPLY), chat_reply(GOOD_REPLY)]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let brief = task_with_columns();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(coder.propose(&brief, &request(Stage::Draft, None, Vec::new(), Vec::new())))
        .unwrap();
    runtime
        .block_on(coder.propose(&brief, &improve_request()))
        .unwrap();
    let bodies = fixture.bodies();
    let draft = transcript(&bodies[0]);
    let starting_script = draft
        .split_once("# A script to start from")
        .unwrap_or_else(|| panic!("{draft}"))
        .1;
    insta::assert_snapshot!("draft_starting_script", starting_script);
    assert!(!transcript(&bodies[1]).contains("# A script to start from"));
}

/// MLE-STAR's leakage checker: an improve of a node whose validation score is too perfect to trust
/// asks the model to find the leak, in chat mode and in steerable mode's reasoning; an ordinary score
/// keeps the ordinary improve.
#[test]
fn an_improve_of_a_suspiciously_perfect_node_asks_for_a_leakage_check() {
    let completion = ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "text": "the scaler.\n</think>\n\n".to_string() + GOOD_REPLY}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}
    }));
    let fixture = Fixture::new(vec![chat_reply(GOOD_REPLY), completion]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut perfect = improve_request();
    perfect.parent.as_mut().unwrap().metric = Some(1.0);
    for mode in [PromptMode::Chat, PromptMode::Steerable] {
        let coder = coder(
            &fixture,
            mode,
            ReviewFormat::Tool,
            Prompts::load(None).unwrap(),
        );
        runtime.block_on(coder.propose(&task(), &perfect)).unwrap();
    }
    let bodies = fixture.bodies();
    let chat = transcript(&bodies[0]);
    assert!(
        chat.contains(
            "# Your job: check the solution for data leakage\n\nSuspicious: a validation score of 1 (≥ 0.999)"
        ),
        "{chat}"
    );
    assert!(!chat.contains("# Your job: one improvement"), "{chat}");
    let steerable = transcript(&bodies[1]);
    assert!(
        steerable.contains("# Your job: check the solution for data leakage"),
        "{steerable}"
    );
    assert!(
        steerable.trim_end().ends_with(
            "before anything else I should find where the target or the validation rows leak into \
             the training, and fix it."
        ),
        "{steerable}"
    );
}

/// Qwen2.5-Coder-1.5B in steerable mode answered improves with the parent's script and one new comment:
/// such a reply is asked once for a real change; a second repeat runs rather than failing the proposal.
#[test]
fn a_reply_that_repeats_the_parents_script_is_asked_once_for_a_change() {
    let parent_again = "Tune it.\n```python\nimport pandas as pd\n# The atomic change: none.\n\
                        print('Validation accuracy: 0.78')\n```\n";
    let changed =
        "Tune it.\n```python\nimport pandas as pd\nprint('Validation accuracy: 0.81')\n```\n";
    let fixture = Fixture::new(vec![chat_reply(parent_again), chat_reply(changed)]);
    let improving = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proposal = runtime
        .block_on(improving.propose(&task(), &improve_request()))
        .unwrap();
    assert_eq!(
        proposal.code,
        "import pandas as pd\nprint('Validation accuracy: 0.81')\n"
    );
    assert_eq!(proposal.calls.len(), 2);
    let second = transcript(&fixture.bodies()[1]);
    assert!(
        second.trim_end().ends_with(
            "# Your previous reply changed nothing\n\nIts script was the one you were given, again: \
             apart from comments, not one line of code differed, so running it would give the same \
             result. Change the code itself as your plan says, and reply with the plan and the whole \
             changed script in one ```python code block."
        ),
        "{second}"
    );

    // A debug repeated twice runs as it is after the one re-ask: no third request.
    let repeated =
        "Fix it.\n```python\nimport pandas as pd\n# Fixed.\ntrain['Sex'].map({'male': 0})\n```\n";
    let fixture = Fixture::new(vec![chat_reply(repeated), chat_reply(repeated)]);
    let debugging = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let proposal = runtime
        .block_on(debugging.propose(&task(), &debug_request()))
        .unwrap();
    assert_eq!(proposal.calls.len(), 2);
    assert_eq!(fixture.bodies().len(), 2);
    assert!(proposal
        .code
        .contains("# Fixed.\ntrain['Sex'].map({'male': 0})"));
}

#[test]
fn broken_code_is_asked_again_with_the_compiler_message_and_then_fails_cleanly() {
    let broken = "Plan.\n```python\ndef broken(:\n```";
    let fixture = Fixture::new(vec![
        chat_reply(broken),
        chat_reply("No code, sorry."),
        chat_reply(broken),
    ]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime
        .block_on(coder.propose(&task(), &improve_request()))
        .unwrap_err();
    let reason = error.to_string();
    let CoderError::Failed { cause, calls } = error else {
        panic!("{reason}")
    };
    assert_eq!(calls.len(), 3, "max_reasks = 2 bounds the replies");
    assert!(
        matches!(
            cause,
            FailureCause::NoCode {
                replies: 3,
                problem: CodeProblem::DoesNotCompile(_)
            }
        ),
        "{cause:?}"
    );
    assert!(
        reason.contains("no runnable code after 3 replies"),
        "{reason}"
    );
    let bodies = fixture.bodies();
    let second = transcript(&bodies[1]);
    assert!(
        second.contains("SyntaxError: invalid syntax (line 1)"),
        "{second}"
    );
    let third = transcript(&bodies[2]);
    assert!(
        third.contains("It held no ```python code block") && third.contains("> No code, sorry."),
        "{third}"
    );
    assert!(
        !third.contains("SyntaxError"),
        "each re-ask replaces the last: {third}"
    );
}

#[test]
fn a_reply_cut_at_the_output_limit_is_asked_once_for_a_shorter_script() {
    let fixture = Fixture::new(vec![cut_reply(), chat_reply(GOOD_REPLY)]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proposal = runtime
        .block_on(coder.propose(&task(), &improve_request()))
        .unwrap();
    assert_eq!(proposal.calls.len(), 2);
    let bodies = fixture.bodies();
    assert_eq!(bodies.len(), 2);
    let second = transcript(&bodies[1]);
    assert!(second.contains("cut at the output limit"), "{second}");
    assert!(!second.contains("does not compile"), "{second}");
    assert!(
        !second.contains("for column in ["),
        "the cut reply is not sent back: {second}"
    );
}

#[test]
fn a_second_reply_cut_at_the_output_limit_fails_the_proposal_as_such() {
    // vLLM without max_tokens: the reasoning is cut before `</think>`, so no answer at all.
    let cut_reasoning = || {
        ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "text": "Let me think about the", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 16}
        }))
    };
    let fixture = Fixture::new(vec![
        cut_reasoning(),
        cut_reasoning(),
        chat_reply(GOOD_REPLY),
    ]);
    let coder = coder(
        &fixture,
        PromptMode::Steerable,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime
        .block_on(coder.propose(&task(), &improve_request()))
        .unwrap_err();
    let bodies = fixture.bodies();
    assert_eq!(bodies.len(), 2);
    let second = transcript(&bodies[1]);
    assert!(second.contains("cut at the output limit"), "{second}");
    assert!(
        error.to_string().contains("cut at the output limit"),
        "{error}"
    );
    assert!(
        matches!(
            error,
            CoderError::Failed {
                cause: FailureCause::OutputLimit { replies: 2 },
                ..
            }
        ),
        "{error:?}"
    );
}

/// What an OpenAI-compatible server answers when the prompt does not fit.
fn context_overflow() -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({"error": {
        "message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
        "type": "invalid_request_error", "code": "context_length_exceeded"
    }}))
}

/// An improve whose memory also holds an older attempt.
fn improve_request_with_older_memory() -> ProposalRequest {
    let mut request = improve_request();
    request.memory.insert(
        0,
        MemoryEntry {
            node: 1,
            plan: "Oldest idea: a constant baseline.".to_string(),
            summary: "Scored 0.61.".to_string(),
            metric: Some(0.61),
            buggy: false,
        },
    );
    request
}

#[test]
fn a_prompt_too_long_is_cut_older_memory_first_then_the_data_preview() {
    let fixture = Fixture::new(vec![
        context_overflow(),
        context_overflow(),
        chat_reply(GOOD_REPLY),
    ]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proposal = runtime
        .block_on(coder.propose(&task(), &improve_request_with_older_memory()))
        .unwrap();
    assert_eq!(proposal.code, "print('Validation accuracy: 0.8')\n");
    let prompts: Vec<String> = fixture.bodies().iter().map(transcript).collect();
    assert_eq!(prompts.len(), 3);
    assert!(prompts[0].contains("Oldest idea") && prompts[0].contains("712 rows"));
    assert!(
        !prompts[1].contains("Oldest idea") && prompts[1].contains("Impute Age"),
        "{}",
        prompts[1]
    );
    assert!(prompts[1].contains("712 rows"));
    assert!(
        !prompts[2].contains("712 rows") && prompts[2].contains("left out to fit"),
        "{}",
        prompts[2]
    );
}

#[test]
fn a_prompt_too_long_even_cut_down_fails_the_proposal_as_such() {
    let fixture = Fixture::new((0..6).map(|_| context_overflow()).collect());
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let error = runtime
        .block_on(coder.propose(&task(), &improve_request_with_older_memory()))
        .unwrap_err();
    assert_eq!(
        fixture.bodies().len(),
        4,
        "the whole prompt and three cuts of it"
    );
    assert!(
        matches!(
            error,
            CoderError::Failed {
                cause: FailureCause::ContextTooLong { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("does not fit the model's context window"),
        "{error}"
    );
}

fn review_request() -> ReviewRequest {
    ReviewRequest {
        node: node(
            9,
            Stage::Improve,
            "Add the title.",
            "print('Validation accuracy: 0.81')\n",
            &format!("{}Validation accuracy: 0.81\n", "x".repeat(9000)),
            Some(0.81),
        ),
        reported_metric: Some((0.81, false)),
        submission_exists: true,
    }
}

#[test]
fn a_review_is_a_forced_tool_call_with_output_trimmed_at_both_ends() {
    let arguments = json!({"is_bug": false, "has_csv_submission": true, "summary": "The title helped: 0.81.", "metric": 0.81, "lower_is_better": false});
    let reply = ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "submit_review", "arguments": arguments.to_string()}}]}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3}
    }));
    let fixture = Fixture::new(vec![reply]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let review = runtime
        .block_on(coder.review(&task(), &review_request()))
        .unwrap();
    assert!(!review.is_bug);
    assert_eq!(review.metric, Some(0.81));
    assert_eq!(review.summary, "The title helped: 0.81.");
    assert_eq!(review.usage.prompt_tokens, 7);
    let body = &fixture.bodies()[0];
    assert_eq!(body["tool_choice"]["function"]["name"], "submit_review");
    let prompt = transcript(body);
    assert!(
        prompt.contains("[... 4026 characters omitted ...]"),
        "{prompt}"
    );
    assert!(
        prompt.contains("Validation accuracy: 0.81"),
        "the tail is kept"
    );
}

#[test]
fn a_server_without_tools_reviews_in_json() {
    let fixture = Fixture::new(vec![
        chat_reply("I think it went fine."),
        chat_reply("```json\n{\"is_bug\": true, \"has_csv_submission\": false, \"summary\": \"No submission was written.\", \"metric\": null, \"lower_is_better\": false}\n```"),
    ]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Json,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let review = runtime
        .block_on(coder.review(&task(), &review_request()))
        .unwrap();
    assert!(review.is_bug);
    assert_eq!(review.metric, None);
    assert_eq!(
        review.calls.len(),
        2,
        "the unreadable reply was asked again"
    );
    let bodies = fixture.bodies();
    assert!(bodies[0].get("tools").is_none());
    assert!(transcript(&bodies[0]).contains("reply with ONLY one JSON object"));
}

#[test]
fn a_users_template_replaces_the_built_in_one_and_a_typo_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("introduction.j2"),
        "You are a careful engineer working on {{ task.competition_id }}.",
    )
    .unwrap();
    let fixture = Fixture::new(vec![chat_reply(GOOD_REPLY)]);
    let coder = coder(
        &fixture,
        PromptMode::Chat,
        ReviewFormat::Tool,
        Prompts::load(Some(dir.path())).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(coder.propose(&task(), &improve_request()))
        .unwrap();
    let body = &fixture.bodies()[0];
    assert_eq!(
        body["messages"][0]["content"],
        "You are a careful engineer working on titanic.\n"
    );

    std::fs::write(dir.path().join("improv.j2"), "x").unwrap();
    let error = Prompts::load(Some(dir.path())).unwrap_err().to_string();
    assert!(
        error.contains("improv.j2") && error.contains("hint:"),
        "{error}"
    );
}

#[test]
fn steerable_mode_keeps_the_reasoning_last_when_it_asks_again_after_broken_code() {
    let completion = |answer: &str| {
        ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "text": format!("done.\n</think>\n\n{answer}")}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5}
        }))
    };
    let fixture = Fixture::new(vec![
        completion("Plan.\n```python\ndef broken(:\n```"),
        completion(GOOD_REPLY),
    ]);
    let coder = coder(
        &fixture,
        PromptMode::Steerable,
        ReviewFormat::Tool,
        Prompts::load(None).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let proposal = runtime
        .block_on(coder.propose(&task(), &improve_request()))
        .unwrap();
    assert_eq!(proposal.calls.len(), 2);
    let bodies = fixture.bodies();
    let (first, second) = (
        bodies[0]["prompt"].as_str().unwrap(),
        bodies[1]["prompt"].as_str().unwrap(),
    );
    assert!(second.contains("SyntaxError: invalid syntax"), "{second}");
    let reasoning = &first[first.rfind("<think>").unwrap()..];
    assert!(
        second.ends_with(reasoning),
        "the correction goes into the request, the pre-filled reasoning stays last: {second}"
    );
}
