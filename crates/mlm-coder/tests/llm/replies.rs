//! What the LLM coder does with the replies real models give, each scripted on a fake OpenAI-compatible
//! server and compiled by the real interpreter: scripts split into blocks or indented inside lists,
//! reasoning before the code, unfenced scripts, the same bad reply again and again, servers that refuse
//! tools, reviews written as text, huge scripts, and prompts that share their static prefix.

use std::sync::Arc;
use std::time::Duration;

use mlm_coder::{
    Budget, Coder, CoderError, ExecutionStatus, FailureCause, LlmCoder, LlmOptions, MemoryEntry,
    NodeView, PromptMode, Prompts, ProposalRequest, ReviewFormat, ReviewRequest, SyntaxCheck,
    SyntaxError,
};
use mlm_llm::Client;
use mlm_search::Stage;

use crate::support::{chat_reply, task, Fixture};
use serde_json::{json, Value};
use wiremock::ResponseTemplate;

/// Compiles with the managed environment's interpreter, as a run does.
struct PythonCompile;

#[async_trait::async_trait]
impl SyntaxCheck for PythonCompile {
    async fn check(&self, code: &str) -> Result<(), SyntaxError> {
        use std::io::Write;
        let mut child = std::process::Command::new(mlm_test_support::python())
            .args([
                "-c",
                "import sys; compile(sys.stdin.read(), 'solution.py', 'exec')",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(code.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        if output.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            Err(SyntaxError {
                compiler_output: lines[lines.len().saturating_sub(4)..].join("\n"),
            })
        }
    }
}

fn draft(memory: Vec<MemoryEntry>, minutes_left: u64, seed: u64) -> ProposalRequest {
    ProposalRequest {
        stage: Stage::Draft,
        parent: None,
        memory,
        buggy_ancestors: Vec::new(),
        budget: Budget {
            time_remaining: Duration::from_secs(minutes_left * 60),
            steps_remaining: 5,
            node_timeout: Duration::from_secs(600),
        },
        siblings_being_written: 0,
        seed,
    }
}

fn node(code: &str) -> NodeView {
    NodeView {
        node: 3,
        stage: Stage::Draft,
        plan: "Logistic regression.".to_string(),
        code: code.to_string(),
        output: "Validation accuracy: 0.78\n".to_string(),
        status: ExecutionStatus::Ok,
        duration: Duration::from_secs(12),
        metric: Some(0.78),
        buggy: false,
        summary: "Reached 0.78.".to_string(),
        validation_message: None,
    }
}

fn review_request(code: &str) -> ReviewRequest {
    ReviewRequest {
        node: node(code),
        reported_metric: Some((0.78, false)),
        submission_exists: true,
    }
}

const JSON_VERDICT: &str = "{\"is_bug\": false, \"has_csv_submission\": true, \"summary\": \"Reached 0.78.\", \"metric\": 0.78, \"lower_is_better\": false}";

/// The LLM coder on the fixture's server at temperature 0, compiling with the real interpreter.
fn coder(fixture: &Fixture, mode: PromptMode) -> LlmCoder {
    let mut config = fixture.client_config();
    config.temperature = Some(0.0);
    let client = Client::new(config).unwrap();
    LlmCoder::new(
        client.clone(),
        client,
        Prompts::load(None).unwrap(),
        LlmOptions {
            mode,
            review_format: ReviewFormat::Tool,
            max_reasks: 2,
        },
        Arc::new(PythonCompile),
    )
}

/// Qwen2.5-Coder-1.5B's answer to the draft prompt: the prompt's headings copied, a helper block,
/// then the script as blocks indented inside a numbered list. The longest block alone fails with
/// `IndentationError: unexpected indent` and misses the helper (`NameError`).
const QWEN_LIST_REPLY: &str = "## Solution sketch

I will train a logistic regression on a few numeric columns.

## Implementation

1. A helper that loads the data:
   ```python
   import pandas as pd

   def load(name):
       return pd.read_csv(f'./input/{name}')
   ```

2. The script:
   ```python
   train = load('train.csv')
   features = train[['Pclass', 'SibSp']].fillna(0)
   for column in features:
       print(column, features[column].mean())
   print('Validation accuracy: 0.7')
   ```
";

#[test]
fn a_qwen_reply_with_the_script_in_list_indented_blocks_is_joined_and_dedented() {
    let fixture = Fixture::repeating_last(vec![chat_reply(QWEN_LIST_REPLY)]);
    let proposal = fixture
        .block_on(coder(&fixture, PromptMode::Chat).propose(&task(), &draft(Vec::new(), 60, 1)))
        .unwrap();
    assert_eq!(fixture.bodies().len(), 1, "no re-ask was needed");
    assert!(
        proposal
            .code
            .starts_with("import pandas as pd\n\ndef load(name):"),
        "{}",
        proposal.code
    );
    assert!(
        proposal
            .code
            .contains("\ntrain = load('train.csv')\nfeatures ="),
        "the script follows its helper at the left margin:\n{}",
        proposal.code
    );
    assert!(
        proposal.plan.contains("logistic regression"),
        "{}",
        proposal.plan
    );
}

#[test]
fn deepseek_r1_reasoning_before_the_code_is_not_read_as_code_and_an_unfenced_script_runs() {
    let reasoning_first = "<think>\nMaybe ```python\nprint(\n``` no. Plain logistic regression.\n</think>\n\nLogistic regression.\n```python\nimport sys\nprint('Validation accuracy: 0.7')\n```";
    let unfenced = "import pandas as pd\nprint('Validation accuracy:', 0.7)\n";
    let fixture = Fixture::repeating_last(vec![chat_reply(reasoning_first), chat_reply(unfenced)]);
    let coder = coder(&fixture, PromptMode::Chat);
    let first = fixture
        .block_on(coder.propose(&task(), &draft(Vec::new(), 60, 1)))
        .unwrap();
    assert_eq!(
        first.code,
        "import sys\nprint('Validation accuracy: 0.7')\n"
    );
    assert_eq!(first.plan, "Logistic regression.");
    assert_eq!(
        first.calls[0].reasoning.as_deref(),
        Some("Maybe ```python\nprint(\n``` no. Plain logistic regression."),
        "the think block is kept as the call's reasoning"
    );
    let second = fixture
        .block_on(coder.propose(&task(), &draft(Vec::new(), 60, 2)))
        .unwrap();
    assert_eq!(second.code, unfenced);
    assert_eq!(second.calls[0].reasoning, None);
    assert_eq!(fixture.bodies().len(), 2, "one request per proposal");
}

#[test]
fn the_same_bad_reply_gets_requests_that_differ_and_the_proposal_stops_after_three() {
    // The 1.5B model's second failure: it echoed the memory's format instead of writing code.
    let echo =
        "Design: Logistic regression.\nResults: This solution has bugs.\n-----------------------";
    let fixture = Fixture::repeating_last(vec![chat_reply(echo)]);
    let error = fixture
        .block_on(coder(&fixture, PromptMode::Chat).propose(&task(), &draft(Vec::new(), 60, 40)))
        .unwrap_err();
    let CoderError::Failed { cause, calls } = error else {
        panic!("{error}")
    };
    assert!(
        matches!(cause, FailureCause::NoCode { replies: 3, .. }),
        "{cause}"
    );
    assert_eq!(calls.len(), 3);
    let bodies = fixture.bodies();
    assert_eq!(bodies.len(), 3, "a small fixed number of requests");
    assert_ne!(bodies[0], bodies[1]);
    assert_ne!(
        bodies[1], bodies[2],
        "an identical reply is never asked for the same way"
    );
    let second = bodies[1]["messages"][1]["content"].as_str().unwrap();
    assert!(
        second.contains("> Results: This solution has bugs."),
        "the re-ask quotes the reply: {second}"
    );
    assert!(second.contains("one ```python code block"), "{second}");
    assert_eq!(
        bodies[1]["seed"],
        Value::Null,
        "the first re-ask changes the prompt only"
    );
    assert_eq!(bodies[2]["seed"], 42, "the repeated reply changes the seed");
    assert_eq!(bodies[2]["temperature"], 0.8);
    assert_eq!(
        bodies[2]["messages"].as_array().unwrap().len(),
        2,
        "the conversation does not grow with unusable replies"
    );
}

#[test]
fn steerable_mode_asks_again_with_the_correction_before_the_reasoning_and_a_new_seed() {
    let completion = ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "text": "done.\n</think>\n\nPlan.\n```python\ndef broken(:\n```", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}
    }));
    let fixture = Fixture::repeating_last(vec![completion]);
    fixture
        .block_on(
            coder(&fixture, PromptMode::Steerable).propose(&task(), &draft(Vec::new(), 60, 1)),
        )
        .unwrap_err();
    let bodies = fixture.bodies();
    assert_eq!(bodies.len(), 3);
    let second = bodies[1]["prompt"].as_str().unwrap();
    assert!(second.contains("SyntaxError"), "{second}");
    assert!(
        second.trim_end().ends_with("different from the drafts in the memory, that validates on a hold-out set, writes metrics.json and writes ./submission/submission.csv."),
        "the pre-filled reasoning still ends the prompt: {second}"
    );
    assert_eq!(bodies[1]["prompt"], bodies[2]["prompt"]);
    assert_ne!(bodies[1]["seed"], bodies[2]["seed"]);
}

#[test]
fn a_server_that_refuses_tools_switches_the_run_to_json_reviews_and_says_so_once() {
    let refusal = ResponseTemplate::new(400).set_body_json(json!({
        "error": {"message": "deepseek-reasoner does not support tool_choice", "type": "invalid_request_error"}
    }));
    let fixture = Fixture::repeating_last(vec![refusal, chat_reply(JSON_VERDICT)]);
    let coder = coder(&fixture, PromptMode::Chat);
    let first = fixture
        .block_on(coder.review(&task(), &review_request("print(1)\n")))
        .unwrap();
    let second = fixture
        .block_on(coder.review(&task(), &review_request("print(2)\n")))
        .unwrap();
    assert_eq!(first.summary, "Reached 0.78.");
    let notice = first.notice.unwrap();
    assert!(
        notice.contains("does not support tool_choice") && notice.contains("JSON"),
        "{notice}"
    );
    assert_eq!(second.notice, None, "said once");
    let bodies = fixture.bodies();
    assert_eq!(bodies.len(), 3, "one refused request, then one per review");
    assert_eq!(
        bodies[0]["tool_choice"]["function"]["name"],
        "submit_review"
    );
    for body in &bodies[1..] {
        assert!(body.get("tools").is_none(), "{body}");
        let prompt = body["messages"][1]["content"].as_str().unwrap();
        assert!(
            prompt.contains("reply with ONLY one JSON object"),
            "{prompt}"
        );
    }
}

#[test]
fn a_review_written_as_text_without_the_tool_is_read() {
    let text = "The script ran fine.\n\n- **is_bug**: false\n- **has_csv_submission**: true\n- **summary**: Logistic regression reached 0.78 on validation.\n- **metric**: 0.78\n- **lower_is_better**: false\n";
    let fixture = Fixture::repeating_last(vec![chat_reply(text)]);
    let review = fixture
        .block_on(coder(&fixture, PromptMode::Chat).review(&task(), &review_request("print(1)\n")))
        .unwrap();
    assert!(!review.is_bug);
    assert_eq!(review.metric, Some(0.78));
    assert_eq!(
        review.summary,
        "Logistic regression reached 0.78 on validation."
    );
    assert_eq!(fixture.bodies().len(), 1, "no re-ask");
}

#[test]
fn a_400_kb_script_keeps_its_head_and_tail_in_improve_and_review_prompts() {
    let huge = format!(
        "import numpy\n{}print('the end')\n",
        "weights = [0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0]\n".repeat(7_500)
    );
    assert!(huge.len() > 400_000);
    let fixture = Fixture::repeating_last(vec![
        chat_reply("Plan.\n```python\nprint(1)\n```"),
        chat_reply(JSON_VERDICT),
    ]);
    let coder = coder(&fixture, PromptMode::Chat);
    let mut improve = draft(
        vec![MemoryEntry {
            node: 1,
            plan: "p".repeat(100_000),
            summary: "s".repeat(100_000),
            metric: Some(0.7),
            buggy: false,
        }],
        60,
        1,
    );
    improve.stage = Stage::Improve;
    improve.parent = Some(node(&huge));
    fixture.block_on(coder.propose(&task(), &improve)).unwrap();
    fixture
        .block_on(coder.review(&task(), &review_request(&huge)))
        .unwrap();
    for body in fixture.bodies() {
        let size = body.to_string().len();
        assert!(size < 50_000, "a {size}-byte request");
        let prompt = body["messages"][1]["content"].as_str().unwrap();
        assert!(prompt.contains("import numpy"), "the head is kept");
        assert!(prompt.contains("print('the end')"), "the tail is kept");
        assert!(
            prompt.contains("characters of this script cut here"),
            "the cut is marked"
        );
    }
}

#[test]
fn consecutive_prompts_share_a_prefix_covering_the_task_and_the_data_preview() {
    let reply = "Plan.\n```python\nprint(1)\n```";
    let fixture = Fixture::repeating_last(vec![chat_reply(reply)]);
    let coder = coder(&fixture, PromptMode::Chat);
    let remembered = MemoryEntry {
        node: 0,
        plan: "Logistic regression.".to_string(),
        summary: "Reached 0.78.".to_string(),
        metric: Some(0.78),
        buggy: false,
    };
    fixture
        .block_on(coder.propose(&task(), &draft(Vec::new(), 60, 1)))
        .unwrap();
    fixture
        .block_on(coder.propose(&task(), &draft(vec![remembered], 55, 2)))
        .unwrap();
    let mut improve = draft(Vec::new(), 50, 3);
    improve.stage = Stage::Improve;
    improve.parent = Some(node("print(0)\n"));
    fixture.block_on(coder.propose(&task(), &improve)).unwrap();
    let bodies = fixture.bodies();
    let first = bodies[0].to_string();
    let shared = bodies[1..]
        .iter()
        .map(|body| {
            let text = body.to_string();
            first
                .chars()
                .zip(text.chars())
                .take_while(|(a, b)| a == b)
                .count()
        })
        .min()
        .unwrap();
    let prefix: String = first.chars().take(shared).collect();
    assert!(
        prefix.contains("Predict who survived the Titanic.")
            && prefix.contains("input/train.csv has 712 rows"),
        "the shared prefix ends before the task and data preview: {prefix}"
    );
    let system = &bodies[0]["messages"][0]["content"];
    assert!(
        bodies
            .iter()
            .all(|body| body["messages"][0]["content"] == *system),
        "every operator shares the system message"
    );
}
