//! `ml-master serve-validator`: MLE-bench's endpoint, verdicts, and isolation of concurrent requests.

use std::path::Path;

use crate::support::{prepared_task, LocalServer};

/// A running validator on a free port.
fn start_validator(tasks: &[&Path]) -> LocalServer {
    let mut arguments: Vec<&std::ffi::OsStr> =
        vec!["serve-validator".as_ref(), "--port".as_ref(), "0".as_ref()];
    for task in tasks {
        arguments.push("--task".as_ref());
        arguments.push(task.as_os_str());
    }
    LocalServer::start(&arguments)
}

fn sample(task: &Path) -> String {
    std::fs::read_to_string(task.join("prepared/public/sample_submission.csv")).unwrap()
}

async fn post(client: &reqwest::Client, url: &str, csv: String) -> serde_json::Value {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text(csv).file_name("submission.csv"),
    );
    let response = client
        .post(url)
        .header("exp-id", "experiment-7")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "status {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn health_and_verdicts_for_the_sample_and_a_broken_submission() {
    let task = prepared_task("titanic");
    let server = start_validator(&[&task]);
    let client = reqwest::Client::new();
    let health: serde_json::Value = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, serde_json::json!({"status": "running"}));

    let valid = post(&client, &format!("{}/validate", server.url), sample(&task)).await;
    assert_eq!(valid, serde_json::json!({"result": "Submission is valid."}));

    let broken = sample(&task).replace("Survived", "Survival");
    let invalid = post(&client, &format!("{}/validate", server.url), broken).await;
    let result = invalid["result"].as_str().unwrap();
    assert!(
        result.starts_with("Submission invalid! missing column(s) `Survived`"),
        "{result}"
    );
    assert!(
        !result.contains("score"),
        "the validator must not reveal a score: {result}"
    );

    let response = client
        .post(format!("{}/validate", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn fifty_concurrent_requests_each_get_their_own_verdict() {
    let task = prepared_task("titanic");
    let server = start_validator(&[&task]);
    let client = reqwest::Client::new();
    let lines: Vec<String> = sample(&task).lines().map(str::to_string).collect();
    let requests = (0..50).map(|index| {
        let client = client.clone();
        let url = format!("{}/validate", server.url);
        // Even requests are valid; odd ones drop a different row each, so each verdict names its own id.
        let (csv, expected_id) = if index % 2 == 0 {
            (lines.join("\n"), None)
        } else {
            let mut broken = lines.clone();
            let dropped = broken.remove(1 + index);
            (
                broken.join("\n"),
                Some(dropped.split(',').next().unwrap().to_string()),
            )
        };
        async move { (post(&client, &url, csv).await, expected_id) }
    });
    let results = futures_join_all(requests).await;
    for (index, (verdict, expected_id)) in results.into_iter().enumerate() {
        let result = verdict["result"].as_str().unwrap().to_string();
        match expected_id {
            None => assert_eq!(result, "Submission is valid.", "request {index}"),
            Some(id) => assert!(
                result.contains(&format!("id `{id}` has no row")),
                "request {index}: {result}"
            ),
        }
    }
}

#[tokio::test]
async fn several_competitions_are_chosen_by_path_or_header() {
    let titanic = prepared_task("titanic");
    let digits = prepared_task("digits");
    let server = start_validator(&[&titanic, &digits]);
    let client = reqwest::Client::new();
    let by_path = post(
        &client,
        &format!("{}/validate/digits", server.url),
        sample(&digits),
    )
    .await;
    assert_eq!(by_path["result"], "Submission is valid.");
    let wrong_competition = post(
        &client,
        &format!("{}/validate/titanic", server.url),
        sample(&digits),
    )
    .await;
    assert!(wrong_competition["result"]
        .as_str()
        .unwrap()
        .starts_with("Submission invalid!"));
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::text(sample(&titanic)));
    let by_header: serde_json::Value = client
        .post(format!("{}/validate", server.url))
        .header("exp-id", "titanic")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_header["result"], "Submission is valid.");
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::text(sample(&titanic)));
    let unknown = client
        .post(format!("{}/validate/nope", server.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

/// Runs futures concurrently on the test's runtime and collects their outputs in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
