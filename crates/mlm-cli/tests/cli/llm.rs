//! `ml-master run --coder llm` against a fake OpenAI-compatible server: the prompts the agent sends
//! (scoped memory, the debug material, steerable reasoning), faults, token accounting and budgets, and
//! that the API key never leaves the Authorization header.

use std::path::Path;

use mlm_journal::{Journal, LlmCallRecord, NodeEntry};
use mlm_search::Stage;
use serde_json::Value;

use crate::fake_llm::{self, FakeModel, Fault, API_KEY, API_KEY_ENV};
use crate::support::{ml_master, path, prepared_task};

/// The configuration of a run whose models are the fake server at `base_url`.
fn write_config(
    dir: &Path,
    base_url: &str,
    extra_code: &str,
    extra_run: &str,
) -> std::path::PathBuf {
    let config = dir.join("ml-master.toml");
    std::fs::write(
        &config,
        format!(
            "[run]\nworkers = 1\nslots = 1\n{extra_run}\n[search]\nnum_drafts = 1\n\n[llm]\nmax_reasks = 2\n\n[llm.code]\nmodel = \"fake-coder\"\nbase_url = \"{base_url}/v1\"\napi_key_env = \"{API_KEY_ENV}\"\nmax_attempts = 2\nprompt_price_per_million_usd = 2.0\ncompletion_price_per_million_usd = 8.0\n{extra_code}\n\n[llm.feedback]\nmodel = \"fake-reviewer\"\nbase_url = \"{base_url}/v1\"\napi_key_env = \"{API_KEY_ENV}\"\n"
        ),
    )
    .unwrap();
    config
}

struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    nodes: Vec<NodeEntry>,
    calls: Vec<LlmCallRecord>,
}

fn run_llm(run_dir: &Path, config: &Path, steps: &str) -> Finished {
    let task = prepared_task("titanic");
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .env(API_KEY_ENV, API_KEY)
        .args([
            "run",
            "--task",
            path(&task),
            "--coder",
            "llm",
            "--config",
            path(config),
            "--steps",
            steps,
            "--time-limit",
            "600",
            "--run-dir",
            path(run_dir),
        ])
        .output()
        .unwrap();
    let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        nodes: journal.nodes().unwrap(),
        calls: journal.llm_calls().unwrap(),
    }
}

/// A fake model server and a scratch directory for one `ml-master run --coder llm`.
struct FakeRun {
    runtime: tokio::runtime::Runtime,
    model: std::sync::Arc<FakeModel>,
    server: wiremock::MockServer,
    scratch: tempfile::TempDir,
    run_dir: std::path::PathBuf,
}

impl FakeRun {
    fn start(fault: Fault) -> FakeRun {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let model = FakeModel::new(fault);
        let server = fake_llm::start(&runtime, &model);
        let scratch = tempfile::tempdir().unwrap();
        let run_dir = scratch.path().join("run");
        FakeRun {
            runtime,
            model,
            server,
            scratch,
            run_dir,
        }
    }

    /// Runs `steps` nodes with the fake server as both models; `extra_code` and `extra_run` add lines to
    /// `[llm.code]` and `[run]`.
    fn run(&self, extra_code: &str, extra_run: &str, steps: &str) -> Finished {
        let config = write_config(
            self.scratch.path(),
            &self.server.uri(),
            extra_code,
            extra_run,
        );
        run_llm(&self.run_dir, &config, steps)
    }
}

/// The user message (or the raw prompt, in steerable mode) of a journaled call.
fn prompt_of(call: &LlmCallRecord) -> String {
    let request: Value = serde_json::from_str(&call.request_json).unwrap();
    match request["prompt"].as_str() {
        Some(prompt) => prompt.to_string(),
        None => request["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|message| message["role"] == "user")
            .map(|message| message["content"].as_str().unwrap().to_string())
            .next()
            .unwrap(),
    }
}

fn calls_of<'a>(
    calls: &'a [LlmCallRecord],
    node: &NodeEntry,
    purpose: &str,
) -> Vec<&'a LlmCallRecord> {
    calls
        .iter()
        .filter(|call| call.node == Some(node.id) && call.purpose == purpose)
        .collect()
}

/// Every file under `dir`, as bytes.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            files.push((path, bytes));
        }
    }
    files
}

#[test]
fn a_run_with_the_llm_coder_drafts_debugs_and_improves_with_scoped_prompts() {
    let fake = FakeRun::start(Fault::RateLimitFirstImprove);
    let finished = fake.run("", "", "12");
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("llm:fake-coder"),
        "the run names its coder: {}",
        finished.stderr
    );
    let nodes = &finished.nodes;
    assert_eq!(nodes.len(), 12);

    // The first draft's reply had no code block: it was asked again, and both calls belong to node 0.
    let first_draft = calls_of(&finished.calls, &nodes[0], "draft");
    assert_eq!(first_draft.len(), 2, "one re-ask");
    let reask: Value = serde_json::from_str(&first_draft[1].request_json).unwrap();
    let reask_text = reask["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reask_text.contains("It held no ```python code block")
            && reask_text.contains("> I would start with a majority-class baseline."),
        "{reask_text}"
    );

    // The buggy draft was debugged, and the debug prompt held its code and its output.
    let tree: Vec<String> = nodes
        .iter()
        .map(|node| {
            format!(
                "{} {:?} parent {:?} buggy {} plan {}",
                node.id,
                node.stage,
                node.parent,
                node.outcome.is_buggy(),
                node.plan
            )
        })
        .collect();
    let buggy = nodes
        .iter()
        .find(|node| node.stage == Stage::Draft && node.outcome.is_buggy())
        .unwrap_or_else(|| panic!("a buggy draft in {tree:#?}"));
    let debug = nodes
        .iter()
        .find(|node| node.stage == Stage::Debug && node.parent == Some(buggy.id))
        .expect("a debug of the buggy draft");
    let debug_prompt = prompt_of(calls_of(&finished.calls, debug, "debug")[0]);
    assert!(
        debug_prompt.contains("undefined_column_name  # NameError"),
        "the buggy code: {debug_prompt}"
    );
    assert!(
        debug_prompt.contains("NameError: name 'undefined_column_name' is not defined"),
        "its output"
    );
    assert!(
        debug_prompt.contains(&buggy.review_summary),
        "the bug analysis"
    );
    assert!(
        !debug_prompt.contains("# Memory"),
        "a debug sees no sibling memory"
    );

    // Each improve prompt remembers exactly its earlier siblings: plan, summary and metric.
    let improves: Vec<&NodeEntry> = nodes
        .iter()
        .filter(|node| node.stage == Stage::Improve)
        .collect();
    assert!(improves.len() >= 2, "{} improves", improves.len());
    let mut most_siblings = 0;
    for improve in &improves {
        let prompt = prompt_of(calls_of(&finished.calls, improve, "improve")[0]);
        let siblings: Vec<&NodeEntry> = nodes
            .iter()
            .filter(|node| node.parent == improve.parent && node.id.0 < improve.id.0)
            .collect();
        assert_eq!(
            prompt.matches("Design: ").count(),
            siblings.len(),
            "node {}: {prompt}",
            improve.id
        );
        for sibling in &siblings {
            assert!(
                prompt.contains(&format!("Design: {}", sibling.plan)),
                "{prompt}"
            );
            assert!(
                prompt.contains(&format!("Results: {}", sibling.review_summary)),
                "{prompt}"
            );
            assert!(
                prompt.contains(&format!(
                    "Validation metric: {}",
                    sibling.outcome.metric().unwrap().value
                )),
                "{prompt}"
            );
        }
        most_siblings = most_siblings.max(siblings.len());
        if siblings.is_empty() {
            assert!(prompt.contains("There is no previous memory."), "{prompt}");
        }
        let parent = &nodes[improve.parent.unwrap().0 as usize];
        assert!(prompt.contains(&parent.code), "the parent's code");
    }

    assert!(
        most_siblings >= 1,
        "some improve remembered several siblings: {tree:#?}"
    );

    // The 429 was retried: the improve still happened, and the server saw the rate limit once.
    let statuses = fake.model.statuses.lock().unwrap().clone();
    assert_eq!(statuses.iter().filter(|status| **status == 429).count(), 1);

    // Tokens: every call's usage is summed into its node and into the run.
    for node in nodes {
        let calls: Vec<&LlmCallRecord> = finished
            .calls
            .iter()
            .filter(|call| call.node == Some(node.id))
            .collect();
        assert!(
            calls.len() >= 2,
            "node {} has a proposal and a review",
            node.id
        );
        assert_eq!(
            node.prompt_tokens,
            calls.iter().map(|call| call.prompt_tokens).sum::<u64>()
        );
        assert_eq!(
            node.completion_tokens,
            calls.iter().map(|call| call.completion_tokens).sum::<u64>()
        );
        assert_eq!(
            node.cached_prompt_tokens,
            calls.len() as u64 * fake_llm::CACHED_PROMPT_TOKENS
        );
        let cost: f64 = calls.iter().map(|call| call.cost_usd).sum();
        assert!((node.cost_usd - cost).abs() < 1e-12);
    }
    // Every call keeps the reasoning its reply carried, in either field the servers use.
    for call in &finished.calls {
        assert_eq!(
            call.reasoning.as_deref(),
            Some(fake_llm::REASONING),
            "{} call",
            call.purpose
        );
        assert_eq!(call.cached_prompt_tokens, fake_llm::CACHED_PROMPT_TOKENS);
    }
    let total_tokens: u64 = finished
        .calls
        .iter()
        .map(|call| call.prompt_tokens + call.completion_tokens)
        .sum();
    assert_eq!(
        total_tokens,
        finished.calls.len() as u64 * (fake_llm::PROMPT_TOKENS + fake_llm::COMPLETION_TOKENS)
    );
    assert!(
        finished.stdout.contains(&format!("{total_tokens} tokens")),
        "the run reports its tokens: {}",
        finished.stdout
    );
    let cached_tokens = finished.calls.len() as u64 * fake_llm::CACHED_PROMPT_TOKENS;
    assert!(
        finished
            .stdout
            .contains(&format!("{cached_tokens} of them cached")),
        "the run reports its cached tokens: {}",
        finished.stdout
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(fake.run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["cached_prompt_tokens"], cached_tokens);

    // The key went only into the Authorization header: not into a body, the journal, a file or a log.
    let requests = fake
        .runtime
        .block_on(fake.server.received_requests())
        .unwrap();
    for request in &requests {
        assert!(!String::from_utf8_lossy(&request.body).contains(API_KEY));
        assert_eq!(
            request
                .headers
                .get("authorization")
                .map(|value| value.to_str().unwrap().to_string()),
            Some(format!("Bearer {API_KEY}"))
        );
    }
    for (file, bytes) in files_under(&fake.run_dir) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(API_KEY),
            "{} holds the key",
            file.display()
        );
    }
    assert!(!finished.stderr.contains(API_KEY) && !finished.stdout.contains(API_KEY));
    let valid = nodes.iter().find(|node| node.outcome.is_valid()).unwrap();
    assert!(valid.output.contains("environment: "), "{}", valid.output);
    assert!(
        nodes.iter().all(|node| !node.output.contains(API_KEY_ENV)),
        "scripts never see the key's variable"
    );
}

#[test]
fn steerable_reasoning_prefills_the_think_block_with_the_parents_code() {
    let fake = FakeRun::start(Fault::None);
    let finished = fake.run(
        "mode = \"steerable\"\nchat_template = \"deepseek-r1\"",
        "",
        "5",
    );
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let completions: Vec<(String, Value)> = fake_llm::posted_bodies(&fake.runtime, &fake.server)
        .into_iter()
        .filter(|(path, _)| path == "/v1/completions")
        .collect();
    assert!(!completions.is_empty());
    for (_, body) in &completions {
        let prompt = body["prompt"].as_str().unwrap();
        let thinking = prompt
            .rsplit_once("<｜Assistant｜><think>\n")
            .map(|(_, thinking)| thinking);
        let thinking =
            thinking.unwrap_or_else(|| panic!("the prompt ends inside <think>: {prompt}"));
        assert!(!thinking.contains("</think>"));
        assert!(
            thinking.contains("Okay, let me start by looking at the data"),
            "{thinking}"
        );
    }
    let improve = finished
        .nodes
        .iter()
        .find(|node| node.stage == Stage::Improve)
        .expect("an improve");
    let prompt = prompt_of(calls_of(&finished.calls, improve, "improve")[0]);
    let (_, thinking) = prompt.rsplit_once("<think>\n").unwrap();
    let parent = &finished.nodes[improve.parent.unwrap().0 as usize];
    assert!(
        thinking.contains(&parent.code),
        "the parent's code is in the reasoning: {thinking}"
    );
    assert!(thinking.contains("Validation accuracy:"), "and its output");
    let reasoning = calls_of(&finished.calls, improve, "improve")[0]
        .reasoning
        .as_deref()
        .unwrap_or_default();
    assert!(
        reasoning.contains(&parent.code) && reasoning.trim_end().ends_with("so that is the plan."),
        "the call keeps the pre-filled reasoning and the model's continuation: {reasoning}"
    );
    let (user_turn, _) = prompt.rsplit_once("<think>\n").unwrap();
    assert!(
        !user_turn.contains(&parent.code),
        "steerable mode moves the code out of the user turn"
    );
}

#[test]
fn a_storm_of_server_errors_ends_the_proposal_not_the_run() {
    let fake = FakeRun::start(Fault::ServerErrorsOnFirstDraft);
    let finished = fake.run("", "", "3");
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let statuses = fake.model.statuses.lock().unwrap().clone();
    assert_eq!(
        statuses.iter().take_while(|status| **status == 500).count(),
        2,
        "max_attempts = 2 bounds the attempts: {statuses:?}"
    );
    assert!(
        finished.stderr.contains("gave up after 2 attempts"),
        "{}",
        finished.stderr
    );
    assert_eq!(
        finished.nodes.len(),
        3,
        "the run went on to its step budget"
    );
}

#[test]
fn a_server_that_refuses_every_request_costs_one_request_and_exit_2_before_the_run() {
    let fake = FakeRun::start(Fault::RefuseEverything);
    let config = write_config(fake.scratch.path(), &fake.server.uri(), "", "");
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .env(API_KEY_ENV, API_KEY)
        .args(["run", "--task", path(&prepared_task("titanic"))])
        .args(["--coder", "llm", "--config", path(&config)])
        .args(["--run-dir", path(&fake.run_dir)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let requests = fake
        .runtime
        .block_on(fake.server.received_requests())
        .unwrap();
    assert_eq!(requests.len(), 1, "the start-up check only");
    assert!(
        stderr.contains(fake_llm::REFUSAL) && stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(!fake.run_dir.exists(), "nothing is left behind");
}

#[test]
fn a_refused_code_request_stops_the_run_at_its_first_proposal_with_exit_2() {
    let fake = FakeRun::start(Fault::RefuseCodeRequests);
    let finished = fake.run("", "", "3");
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);
    assert_eq!(
        fake.model.statuses.lock().unwrap().clone(),
        vec![400],
        "one refused request, never retried or asked again"
    );
    assert!(
        finished.stderr.contains("draft proposal refused")
            && finished.stderr.contains(fake_llm::REFUSAL)
            && finished.stderr.contains("hint:"),
        "{}",
        finished.stderr
    );
    assert!(finished.nodes.is_empty());
}

#[test]
fn a_model_that_never_writes_code_stops_the_run_after_failures_in_a_row() {
    let fake = FakeRun::start(Fault::NeverCode);
    let config = write_config(fake.scratch.path(), &fake.server.uri(), "", "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "max_reasks = 2\n",
            "max_reasks = 2\nmax_consecutive_failures = 2\n",
        ),
    )
    .unwrap();
    let finished = run_llm(&fake.run_dir, &config, "5");
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);
    let code_requests = fake_llm::posted_bodies(&fake.runtime, &fake.server).len();
    assert_eq!(
        code_requests, 6,
        "two proposals of three replies each (max_reasks = 2)"
    );
    assert!(
        finished
            .stderr
            .contains("2 proposals in a row failed the same way (no code)")
            && finished.stderr.contains("hint:"),
        "{}",
        finished.stderr
    );
}

#[test]
fn an_operators_own_model_writes_its_proposals_and_the_others_keep_the_code_model() {
    let fake = FakeRun::start(Fault::None);
    let finished = fake.run("\n[llm.draft]\nmodel = \"fake-drafter\"\n", "", "3");
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    let models = |purpose: &str| -> Vec<String> {
        let mut models: Vec<String> = finished
            .calls
            .iter()
            .filter(|call| call.purpose == purpose)
            .map(|call| call.model.clone())
            .collect();
        models.dedup();
        models
    };
    assert_eq!(models("draft"), vec!["fake-drafter"]);
    assert_eq!(models("debug"), vec!["fake-coder"]);
    assert_eq!(models("review"), vec!["fake-reviewer"]);
}

#[test]
fn the_token_budget_stops_the_run() {
    let fake = FakeRun::start(Fault::None);
    // A node costs at least three calls of 150 tokens (a re-asked draft and a review).
    let finished = fake.run("", "token_budget = 700", "20");
    assert!(finished.nodes.len() < 20, "{} nodes", finished.nodes.len());
    assert!(
        finished.stdout.contains("token budget"),
        "{}",
        finished.stderr
    );
    let spent: u64 = finished
        .calls
        .iter()
        .map(|call| call.prompt_tokens + call.completion_tokens)
        .sum();
    assert!(
        spent >= 700,
        "the run stopped once the budget was spent, not before: {spent}"
    );
}

#[test]
fn an_unset_key_or_an_unreachable_server_is_a_configuration_error() {
    let scratch = tempfile::tempdir().unwrap();
    let task = prepared_task("titanic");
    let config = write_config(scratch.path(), "http://127.0.0.1:9", "", "");
    let run_dir = scratch.path().join("run");
    let run = |with_key: bool| {
        let mut command = ml_master();
        command
            .env("ML_MASTER_PYTHON", mlm_test_support::python())
            .env_remove(API_KEY_ENV)
            .args([
                "run",
                "--task",
                path(&task),
                "--coder",
                "llm",
                "--config",
                path(&config),
            ])
            .args(["--run-dir", path(&run_dir)]);
        if with_key {
            command.env(API_KEY_ENV, API_KEY);
        }
        command.output().unwrap()
    };
    let output = run(false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(API_KEY_ENV) && stderr.contains("hint:"),
        "{stderr}"
    );

    let output = run(true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("127.0.0.1:9") && stderr.contains("fake-coder"),
        "{stderr}"
    );
    assert!(!stderr.contains(API_KEY));
    assert!(!run_dir.exists(), "nothing is left behind");
}

#[test]
fn the_llm_coder_without_a_model_section_says_what_to_add() {
    let scratch = tempfile::tempdir().unwrap();
    let task = prepared_task("titanic");
    let output = ml_master()
        .current_dir(scratch.path())
        .args(["run", "--task", path(&task), "--coder", "llm"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("[llm.code]") && stderr.contains("hint:"),
        "{stderr}"
    );
}
