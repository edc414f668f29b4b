//! `ml-master dashboard` and `ml-master report` on a real finished run: the JSON API and its event stream,
//! the page driven in headless Chromium (a click on a node shows that node), the self-contained report,
//! and the errors for a directory without a run.

use std::path::{Path, PathBuf};

use std::sync::OnceLock;

use chrono::Utc;
use mlm_journal::{Journal, LlmCallRecord, NodeEntry};
use mlm_search::NodeId;
use serde_json::{json, Value};

use crate::chromium::{chromium, Browser};
use crate::support::{path, prepared_task, redact, run, LocalServer};

/// The node the tests give recorded model calls.
const CALLED_NODE: u32 = 1;

/// The draft call's reasoning, with markup that must be shown as text.
const DRAFT_REASONING: &str = "The <b>Age</b> column has gaps: impute it first.";

/// A run of the built-in coder (3 nodes), finished and graded once for every test of this module, with
/// two model calls recorded for node 1 as an LLM coder would have recorded them.
fn finished_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        // Under target/, replaced by the next test run, rather than left behind in the system's temp dir.
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let run_dir = root.join("run");
        let task = prepared_task("titanic");
        let (code, _, stderr) = run(&[
            "run",
            "--task",
            path(&task),
            "--steps",
            "3",
            "--time-limit",
            "120",
            "--run-dir",
            path(&run_dir),
        ]);
        assert_eq!(code, 0, "{stderr}");
        let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
        for (purpose, answer) in [
            ("draft", "```python\nprint('draft')\n```"),
            ("review", "{\"is_bug\": false}"),
        ] {
            journal
                .record_llm_call(&LlmCallRecord {
                    node: Some(NodeId(CALLED_NODE)),
                    purpose: purpose.into(),
                    model: "fake-model".into(),
                    request_json: json!({"model": "fake-model", "messages": [
                        {"role": "system", "content": "You are a Kaggle grandmaster."},
                        {"role": "user", "content": format!("Write the {purpose} <now>.")}
                    ]})
                    .to_string(),
                    response_json:
                        json!({"choices": [{"message": {"role": "assistant", "content": answer}}]})
                            .to_string(),
                    reasoning: (purpose == "draft").then(|| DRAFT_REASONING.to_string()),
                    prompt_tokens: 120,
                    cached_prompt_tokens: 96,
                    completion_tokens: 30,
                    latency_seconds: 1.5,
                    cost_usd: 0.002,
                    created_at: Utc::now(),
                })
                .unwrap();
        }
        run_dir
    })
}

fn nodes(run_dir: &Path) -> Vec<NodeEntry> {
    Journal::open_read_only(&run_dir.join("journal.sqlite"))
        .unwrap()
        .nodes()
        .unwrap()
}

/// A running `ml-master dashboard` on a free port.
fn start_dashboard(run_dir: &Path) -> LocalServer {
    LocalServer::start(&[
        "dashboard".as_ref(),
        run_dir.as_os_str(),
        "--port".as_ref(),
        "0".as_ref(),
    ])
}

async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_api_serves_the_run_its_nodes_and_a_node_with_its_model_calls() {
    let run_dir = finished_run();
    let journal_before = std::fs::read(run_dir.join("journal.sqlite")).unwrap();
    let dashboard = start_dashboard(run_dir);
    let client = reqwest::Client::new();

    let (status, run) = get_json(&client, &format!("{}/api/run", dashboard.url)).await;
    assert_eq!(status, 200);
    assert_eq!(run["task_id"], "titanic");
    assert_eq!(run["status"], "finished");
    assert_eq!(run["nodes"], 3);
    assert_eq!(run["llm_calls"], 2);
    assert!(run["report"]["grading"]["score"].is_number(), "{run}");
    assert!(
        run["config_toml"].as_str().unwrap().contains("steps = 3"),
        "{run}"
    );

    let (_, listed) = get_json(&client, &format!("{}/api/nodes", dashboard.url)).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed[0].get("code").is_none(),
        "summaries leave the code out"
    );

    let (status, detail) = get_json(
        &client,
        &format!("{}/api/nodes/{CALLED_NODE}", dashboard.url),
    )
    .await;
    assert_eq!(status, 200);
    let stored = &nodes(run_dir)[CALLED_NODE as usize];
    assert_eq!(detail["node"]["code"], stored.code.as_str());
    assert_eq!(detail["node"]["plan"], stored.plan.as_str());
    let purposes: Vec<&str> = detail["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| call["purpose"].as_str().unwrap())
        .collect();
    assert_eq!(purposes, ["draft", "review"]);

    let (status, missing) = get_json(&client, &format!("{}/api/nodes/99", dashboard.url)).await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (404, Some("node 99 is not in this run (yet)"))
    );

    let page = client
        .get(&dashboard.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-mode=\"live\""));

    let mut events = client
        .get(format!("{}/api/events", dashboard.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut received = String::new();
    while !received.contains("\n\n") {
        let chunk = events
            .chunk()
            .await
            .unwrap()
            .expect("the stream stays open");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = received
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    assert!(received.starts_with("event: snapshot"), "{received}");
    let snapshot: Value = serde_json::from_str(data).unwrap();
    assert_eq!(snapshot["nodes"].as_array().unwrap().len(), 3);
    assert!(!snapshot["events"].as_array().unwrap().is_empty());

    drop(dashboard);
    assert!(
        std::fs::read(run_dir.join("journal.sqlite")).unwrap() == journal_before,
        "the dashboard changed the journal"
    );
}

#[test]
#[cfg_attr(
    missing_chromium,
    ignore = "no Chromium when the tests were built: install Debian's `chromium` or set CHROME"
)]
fn clicking_a_node_in_headless_chromium_shows_its_plan_and_code() {
    let chromium = chromium();
    let run_dir = finished_run();
    let stored = &nodes(run_dir)[CALLED_NODE as usize];
    let dashboard = start_dashboard(run_dir);
    let mut browser = Browser::launch(&chromium);
    browser.navigate(&format!("{}/", dashboard.url));
    browser.wait_for(
        "document.querySelectorAll('#tree [data-node]').length === 3",
        "the three nodes of the tree",
    );
    let centre = browser.eval(&format!(
        "(() => {{ const r = document.querySelector('#tree [data-node=\"{CALLED_NODE}\"] circle.body').getBoundingClientRect();
                   return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
    ));
    browser.click(centre[0].as_f64().unwrap(), centre[1].as_f64().unwrap());
    browser.wait_for(
        "document.querySelector('#detail-code') !== null",
        "the detail pane",
    );
    let shown = browser.eval(
        "({heading: document.querySelector('#detail h2').textContent,
           plan: document.querySelector('#detail-plan').textContent,
           code: document.querySelector('#detail-code').textContent,
           highlighted: document.querySelectorAll('#detail-code .hl-kw').length,
           calls: document.querySelectorAll('#detail .call').length,
           prompt: document.querySelector('#detail .call').textContent,
           reasoning: [...document.querySelectorAll('#detail .call details.reasoning pre')].map((pre) => pre.textContent),
           reasoningOpen: document.querySelector('#detail .call details.reasoning').open,
           tokens: [...document.querySelectorAll('#detail dt')].find((dt) => dt.textContent === 'tokens').nextElementSibling.textContent,
           selected: document.querySelector('#tree .node.selected').dataset.node,
           hash: location.hash})",
    );
    assert!(
        shown["heading"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Node {CALLED_NODE}")),
        "{shown}"
    );
    assert_eq!(shown["plan"], stored.plan.as_str());
    assert_eq!(shown["code"], stored.code.as_str());
    assert!(
        shown["highlighted"].as_u64().unwrap() > 0,
        "the code is highlighted"
    );
    assert_eq!(shown["calls"], 2);
    assert!(
        shown["prompt"]
            .as_str()
            .unwrap()
            .contains("Write the draft <now>."),
        "the exact prompt, escaped as text: {shown}"
    );
    assert_eq!(
        shown["reasoning"],
        json!([DRAFT_REASONING]),
        "the draft's reasoning, escaped as text; the review carried none: {shown}"
    );
    assert_eq!(shown["reasoningOpen"], false, "collapsed until asked for");
    assert!(
        shown["tokens"].as_str().unwrap().contains("192 cached"),
        "the node's token line counts its calls' cached tokens: {shown}"
    );
    assert_eq!(shown["selected"], CALLED_NODE.to_string());
    assert_eq!(shown["hash"], format!("#node={CALLED_NODE}"));

    // A node without model calls says why.
    let other = browser.eval(
        "(() => { const r = document.querySelector('#tree [data-node=\"0\"] circle.body').getBoundingClientRect();
                  return [r.left + r.width / 2, r.top + r.height / 2]; })()",
    );
    browser.click(other[0].as_f64().unwrap(), other[1].as_f64().unwrap());
    let note = browser.wait_for(
        "document.querySelector('#detail h2').textContent.startsWith('Node 0') && document.querySelector('#detail').textContent.includes('no model calls (built-in coder)')",
        "node 0's detail",
    );
    assert_eq!(note, true);
    let plot = browser.eval("document.querySelectorAll('#plot path.line-valid').length");
    assert_eq!(plot, 1, "the best-score plot is drawn");
}

#[test]
fn the_report_is_one_self_contained_file_with_the_best_code() {
    let run_dir = finished_run();
    let out = run_dir.parent().unwrap().join("shared-report.html");
    let (code, stdout, stderr) = run(&["report", path(run_dir), "--out", path(&out)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), path(&out));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<html").count(), 1);
    for reference in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "src=\"//",
        "<link",
    ] {
        assert!(!html.contains(reference), "the report loads `{reference}`");
    }
    let data = html
        .split("<script type=\"application/json\" id=\"mlm-data\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .unwrap();
    let data: Value = serde_json::from_str(data).unwrap();
    let best = data["snapshot"]["run"]["best_node"].as_u64().unwrap();
    let best_code = std::fs::read_to_string(run_dir.join("best/solution.py")).unwrap();
    assert_eq!(
        data["details"][best as usize]["node"]["code"],
        best_code.as_str()
    );
    assert!(data["snapshot"]["run"]["report"]["grading"].is_object());
    let default_report = run(&["report", path(run_dir)]);
    assert_eq!(default_report.0, 0);
    assert!(run_dir.join("report.html").is_file());
}

#[test]
#[cfg_attr(
    missing_chromium,
    ignore = "no Chromium when the tests were built: install Debian's `chromium` or set CHROME"
)]
fn the_report_shows_the_best_code_and_its_sections_in_chromium() {
    let chromium = chromium();
    let run_dir = finished_run();
    let out = run_dir.parent().unwrap().join("report-in-chromium.html");
    let (code, _, stderr) = run(&["report", path(run_dir), "--out", path(&out)]);
    assert_eq!(code, 0, "{stderr}");
    let best_code = std::fs::read_to_string(run_dir.join("best/solution.py")).unwrap();
    let mut browser = Browser::launch(&chromium);
    browser.navigate(&format!("file://{}", path(&out)));
    let shown = browser.wait_for(
        "document.querySelector('#best-solution pre') && document.querySelector('#best-solution pre').textContent",
        "the best solution's code",
    );
    assert_eq!(shown, best_code.as_str());
    let sections = browser.eval("document.querySelector('#extra').textContent");
    for section in [
        "Grading report",
        "Configuration",
        "Cost",
        "2 model calls",
        "steps = 3",
    ] {
        assert!(
            sections.as_str().unwrap().contains(section),
            "{section} missing: {sections}"
        );
    }
}

#[test]
fn dashboard_and_report_on_a_directory_without_a_run_exit_2_with_a_hint() {
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&["report", path(empty.path())]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(redact(&stderr, empty.path(), "[EMPTY]"), @r"
    error: [EMPTY]/journal.sqlite: no run is recorded here
    hint: start a run with `ml-master run --task DIR --run-dir [EMPTY]`
    ");
    let (code, _, stderr) = run(&["dashboard", path(empty.path()), "--port", "0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no run is recorded here"), "{stderr}");
}

/// Not a check: how `docs/screenshots.sh` photographs the dashboard and the report (Chromium's
/// `--screenshot` would wait forever for the dashboard's event stream to end, and ignores scrolling).
/// Reads `ML_MASTER_SCREENSHOT_RUN` and `ML_MASTER_SCREENSHOT_NODE`; writes `dashboard.png.b64` and
/// `report.png.b64` (base64 PNGs) into the directory `ML_MASTER_SCREENSHOT_OUT`.
#[test]
#[ignore = "a tool for docs/screenshots.sh, not a check"]
fn docs_screenshots() {
    let run_dir = PathBuf::from(std::env::var("ML_MASTER_SCREENSHOT_RUN").unwrap());
    let node: u32 = std::env::var("ML_MASTER_SCREENSHOT_NODE")
        .unwrap()
        .parse()
        .unwrap();
    let out = PathBuf::from(std::env::var("ML_MASTER_SCREENSHOT_OUT").unwrap());
    let chromium = chromium();
    let dashboard = start_dashboard(&run_dir);
    let mut browser = Browser::launch(&chromium);
    browser.navigate(&format!("{}/#node={node}", dashboard.url));
    browser.wait_for(
        &format!("document.querySelector('#detail h2') && document.querySelector('#detail h2').textContent.startsWith('Node {node}')"),
        "the selected node",
    );
    let shot = browser.call("Page.captureScreenshot", json!({"format": "png"}));
    std::fs::write(
        out.join("dashboard.png.b64"),
        shot["data"].as_str().unwrap(),
    )
    .unwrap();

    let report = out.join("report.html");
    let (code, _, stderr) = run(&["report", path(&run_dir), "--out", path(&report)]);
    assert_eq!(code, 0, "{stderr}");
    browser.navigate(&format!("file://{}", path(&report)));
    browser.wait_for(
        "document.querySelector('#extra .panel') !== null",
        "the report's sections",
    );
    browser
        .eval("document.getElementById('extra').scrollIntoView(), window.scrollBy(0, -12), true");
    let shot = browser.call("Page.captureScreenshot", json!({"format": "png"}));
    std::fs::write(out.join("report.png.b64"), shot["data"].as_str().unwrap()).unwrap();
}

#[test]
fn a_run_with_dashboard_serves_it_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let task = prepared_task("titanic");
    let run_dir = dir.path().join("run");
    let (code, stdout, stderr) = run(&[
        "run",
        "--task",
        path(&task),
        "--steps",
        "1",
        "--run-dir",
        path(&run_dir),
        "--dashboard",
        "--dashboard-port",
        "0",
    ]);
    assert_eq!(code, 0, "{stderr}");
    // stdout holds how the run ended; the dashboard's address is a note on stderr.
    assert!(
        stdout.starts_with("Stopped after 1 nodes") && !stdout.contains("Dashboard"),
        "{stdout}"
    );
    let url = stderr
        .lines()
        .find_map(|line| line.strip_prefix("Dashboard: "))
        .unwrap_or_else(|| panic!("no dashboard address in:\n{stderr}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
}
