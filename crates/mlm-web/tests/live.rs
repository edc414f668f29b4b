//! The dashboard on a run that is still being written: the event stream sends a new snapshot when a node
//! lands in the journal, the API tells valid, buggy and best nodes apart, and a node's detail carries
//! each model call's reasoning and cached prompt tokens.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed step should fail the test loudly"
)]

use std::net::SocketAddr;
use std::path::Path;

use chrono::Utc;
use mlm_journal::{Journal, LlmCallRecord, NodeEntry, RunRecord, RunStatus};
use mlm_search::{Direction, Metric, NodeId, Outcome};
use mlm_test_support::journal_rows::node_entry;
use mlm_web::{serve_dashboard, DashboardSettings};
use serde_json::Value;

/// Node `id`: valid with `metric` (lower is better), or buggy without one.
fn node(id: u32, parent: Option<u32>, metric: Option<f64>) -> NodeEntry {
    let outcome = match metric {
        Some(value) => Outcome::Valid {
            metric: Metric::new(value, Direction::LowerIsBetter),
        },
        None => Outcome::Buggy,
    };
    NodeEntry {
        plan: format!("plan of node {id}"),
        ..node_entry(id, parent, outcome)
    }
}

fn writer(dir: &Path) -> Journal {
    Journal::create(
        &dir.join("journal.sqlite"),
        &RunRecord {
            task_id: "toy".into(),
            task_dir: "toy".into(),
            coder: "llm".into(),
            seed: 0,
            config_toml: "[run]\nsteps = 3\n".into(),
            created_at: Utc::now(),
            status: RunStatus::Running,
            elapsed_seconds: 0.0,
        },
    )
    .unwrap()
}

/// Reads the event stream until the next complete `snapshot` event and returns its data.
async fn next_snapshot(stream: &mut reqwest::Response, buffer: &mut String) -> Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.starts_with("event: snapshot") {
                let data = event
                    .lines()
                    .find_map(|line| line.strip_prefix("data: "))
                    .unwrap();
                return serde_json::from_str(data).unwrap();
            }
            continue;
        }
        let chunk = stream
            .chunk()
            .await
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn a_node_written_while_the_page_watches_arrives_in_the_next_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = writer(dir.path());
    journal.record_node(&node(0, None, Some(0.5)), &[]).unwrap();
    let (address_sender, address) = tokio::sync::oneshot::channel::<SocketAddr>();
    let run_dir = dir.path().to_path_buf();
    tokio::spawn(async move {
        serve_dashboard(
            &run_dir,
            &DashboardSettings {
                address: SocketAddr::from(([127, 0, 0, 1], 0)),
            },
            |bound| {
                let _ = address_sender.send(bound);
            },
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    let base = format!("http://{}", address.await.unwrap());
    let mut stream = reqwest::get(format!("{base}/api/events")).await.unwrap();
    let mut buffer = String::new();

    let first = next_snapshot(&mut stream, &mut buffer).await;
    assert_eq!(first["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(first["run"]["status"], "running");
    assert_eq!(first["nodes"][0]["summary"], "review of node 0");

    journal.record_node(&node(1, Some(0), None), &[]).unwrap();
    journal
        .record_node(&node(2, Some(1), Some(0.25)), &[])
        .unwrap();
    journal
        .record_event("node_finished", "{\"node\":2}")
        .unwrap();
    let mut latest = next_snapshot(&mut stream, &mut buffer).await;
    while latest["nodes"].as_array().unwrap().len() < 3 {
        latest = next_snapshot(&mut stream, &mut buffer).await;
    }
    let run = &latest["run"];
    assert_eq!(
        (run["valid_nodes"].as_u64(), run["buggy_nodes"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(run["best_node"], 2, "lower is better: 0.25 beats 0.5");
    assert_eq!(run["lower_is_better"], true);
    assert_eq!(run["llm_calls"], 0);
    assert_eq!(run["prompt_tokens"], 30);
    assert_eq!(latest["events"][0]["payload"]["node"], 2);

    journal
        .record_llm_call(&LlmCallRecord {
            node: Some(NodeId(1)),
            purpose: "draft".into(),
            model: "reasoner".into(),
            request_json: "{}".into(),
            response_json: "{}".into(),
            reasoning: Some("The target is skewed; <b>log</b> it first.".into()),
            prompt_tokens: 2048,
            cached_prompt_tokens: 1024,
            completion_tokens: 300,
            latency_seconds: 12.0,
            cost_usd: 0.01,
            created_at: Utc::now(),
        })
        .unwrap();

    let detail: Value = reqwest::get(format!("{base}/api/nodes/1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["node"]["outcome"]["kind"], "buggy");
    assert_eq!(detail["node"]["plan"], "plan of node 1");
    assert_eq!(detail["node"]["cached_prompt_tokens"], 4);
    let calls = detail["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["reasoning"],
        "The target is skewed; <b>log</b> it first."
    );
    assert_eq!(calls[0]["cached_prompt_tokens"], 1024);

    journal.set_status(RunStatus::Finished).unwrap();
    let mut finished = next_snapshot(&mut stream, &mut buffer).await;
    while finished["run"]["status"] != "finished" {
        finished = next_snapshot(&mut stream, &mut buffer).await;
    }
    assert_eq!(finished["nodes"].as_array().unwrap().len(), 3);
}

#[test]
fn a_report_of_a_directory_without_a_journal_names_it_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let error = mlm_web::render_report(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("journal.sqlite: no run is recorded here") && error.contains("hint:"),
        "{error}"
    );
}
