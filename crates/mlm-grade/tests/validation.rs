//! What a submission may hold and what a validator client may hold: label cells of the answers' type,
//! validation that stops at the first fault instead of reading on, and a server that disconnects slow
//! clients and refuses uploads past its bound.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed step should fail the test loudly"
)]

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mlm_grade::{serve_validator, Grader, ValidatorSettings};
use mlm_task::Task;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A competition graded by `metric` whose answers are `labels` for ids 1, 2, …
fn toy_grader(metric: &str, labels: &[&str]) -> (tempfile::TempDir, Grader) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |relative: &str, text: String| {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "task.toml",
        format!("id = \"toy\"\n[grading]\nmetric = \"{metric}\"\nanswers = \"prepared/private/answers.csv\"\nsample_submission = \"prepared/public/sample_submission.csv\"\n"),
    );
    write("prepared/public/description.md", "# Toy\n".to_string());
    let rows = |label: &dyn Fn(usize) -> String| {
        (0..labels.len())
            .map(|row| format!("{},{}\n", row + 1, label(row)))
            .collect::<String>()
    };
    write(
        "prepared/public/sample_submission.csv",
        format!("id,y\n{}", rows(&|_| labels[0].to_string())),
    );
    write(
        "prepared/private/answers.csv",
        format!("id,y\n{}", rows(&|row| labels[row].to_string())),
    );
    let grader = Grader::for_task(&Task::load(root, None).unwrap()).unwrap();
    (dir, grader)
}

fn verdict(grader: &Grader, predictions: &[&str]) -> Result<(), String> {
    let csv: String = std::iter::once("id,y\n".to_string())
        .chain(
            predictions
                .iter()
                .enumerate()
                .map(|(row, label)| format!("{},{label}\n", row + 1)),
        )
        .collect();
    grader
        .validate(Path::new("submission.csv"), csv.as_bytes())
        .map_err(|invalid| invalid.reason)
}

#[test]
fn accuracy_labels_must_be_of_the_answers_type() {
    let (_numbers, numbers) = toy_grader("accuracy", &["0", "1", "1"]);
    verdict(&numbers, &["1.0", "0", "1"]).unwrap();
    for not_a_number in ["inf", "True", "cat"] {
        let reason = verdict(&numbers, &["0", not_a_number, "1"]).unwrap_err();
        assert_eq!(
            reason,
            format!("row 2 (id `2`), column `y`: `{not_a_number}` is not a number, as every label in the answers is")
        );
    }

    let (_booleans, booleans) = toy_grader("accuracy", &["True", "False", "True"]);
    verdict(&booleans, &["true", "FALSE", "False"]).unwrap();
    let reason = verdict(&booleans, &["True", "1", "True"]).unwrap_err();
    assert!(reason.contains("`1` is not True or False"), "{reason}");

    // Text labels take any text, numbers included.
    let (_text, text) = toy_grader("accuracy", &["cat", "dog", "1"]);
    verdict(&text, &["inf", "True", "bird"]).unwrap();
    // map@K cells are lists of labels, whatever the answers look like.
    let (_lists, lists) = toy_grader("map@3", &["1", "2", "3"]);
    verdict(&lists, &["1 2 3", "a b", "3"]).unwrap();
}

/// Rows `3,1` after `prefix`, 8 MiB of them, counting what was read.
struct ManyRows {
    prefix: &'static [u8],
    served: Arc<AtomicUsize>,
}

impl Read for ManyRows {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let served = self.served.load(Ordering::Relaxed);
        let source: Vec<u8> = match self.prefix.get(served..) {
            Some(rest) if !rest.is_empty() => rest.to_vec(),
            _ if served > 8 * 1024 * 1024 => Vec::new(),
            _ => b"3,1\n".repeat(1 + buffer.len() / 4),
        };
        let length = buffer.len().min(source.len());
        buffer[..length].copy_from_slice(&source[..length]);
        self.served.fetch_add(length, Ordering::Relaxed);
        Ok(length)
    }
}

#[test]
fn validation_stops_at_the_first_fault_without_reading_the_rest() {
    let (_dir, grader) = toy_grader("accuracy", &["0", "1", "1"]);
    for (prefix, expected) in [
        (&b"id,y\n1,0\n1,1\n"[..], "duplicate id `1` on rows 1 and 2"),
        (
            &b"id,y\n1,0\n9,1\n"[..],
            "row 2 has id `9`, which is not in the test set",
        ),
        (
            &b"id,y\n1,0\n2,\n"[..],
            "row 2 (id `2`), column `y`: missing value (empty or NaN)",
        ),
    ] {
        let served = Arc::new(AtomicUsize::new(0));
        let reason = grader
            .validate(
                Path::new("submission.csv"),
                ManyRows {
                    prefix,
                    served: served.clone(),
                },
            )
            .unwrap_err()
            .reason;
        assert_eq!(reason, expected);
        assert!(
            served.load(Ordering::Relaxed) < 1024 * 1024,
            "read {} bytes past a fault in the first rows",
            served.load(Ordering::Relaxed)
        );
    }
}

/// A validator for the toy competition with tight bounds, on a free port.
async fn start_validator(settings: ValidatorSettings) -> (tempfile::TempDir, SocketAddr) {
    let (dir, grader) = toy_grader("accuracy", &["0", "1", "1"]);
    let (address_sender, address) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        serve_validator(
            vec![grader],
            &ValidatorSettings {
                address: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..settings
            },
            |address| {
                let _ = address_sender.send(address);
            },
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    (dir, address.await.unwrap())
}

/// What the server sends before it closes the connection, waiting no longer than a test may take.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut received))
        .await
        .expect("the server never closed the connection")
        .unwrap();
    String::from_utf8_lossy(&received).into_owned()
}

/// The head of a multipart upload of `length` body bytes, and the body's first part.
fn upload_head(length: usize) -> String {
    format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {length}\r\n\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"submission.csv\"\r\n\r\nid,y\n1,0\n"
    )
}

fn short_timeouts() -> ValidatorSettings {
    ValidatorSettings {
        header_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(1),
        ..ValidatorSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let (_dir, address) = start_validator(short_timeouts()).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_that_stalls_is_answered_408() {
    let (_dir, address) = start_validator(short_timeouts()).await;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(upload_head(100_000).as_bytes())
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("was not received within 1 s"), "{answer}");
}

/// Posts a valid submission to the validator at `address`.
fn post_valid(
    client: &reqwest::Client,
    address: SocketAddr,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text("id,y\n1,0\n2,1\n3,1\n").file_name("submission.csv"),
    );
    client
        .post(format!("http://{address}/validate"))
        .multipart(form)
        .send()
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_past_the_bound_are_answered_503_until_a_slot_frees() {
    let (_dir, address) = start_validator(ValidatorSettings {
        max_concurrent_uploads: 2,
        max_waiting_uploads: 0,
        ..ValidatorSettings::default()
    })
    .await;
    let client = reqwest::Client::new();
    let post = || post_valid(&client, address);
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(upload_head(100_000).as_bytes())
            .await
            .unwrap();
        stalled.push(stream);
    }
    // The stalled uploads take their slots once their heads are read; until then uploads still pass.
    let mut refused = None;
    for _ in 0..200 {
        let response = post().await.unwrap();
        if response.status() == 503 {
            refused = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = refused.expect("a third upload beside two was never refused");
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "Too many uploads at once.");

    drop(stalled);
    let mut verdict = None;
    for _ in 0..200 {
        let response = post().await.unwrap();
        if response.status() == 200 {
            verdict = Some(response.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        verdict.expect("no upload passed after the stalled ones went away"),
        serde_json::json!({"result": "Submission is valid."})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_upload_refused_early_still_gets_its_verdict() {
    let (_dir, address) = start_validator(ValidatorSettings::default()).await;
    // A duplicate on the second row, then 20 MB that are never validated.
    let csv = format!("id,y\n1,0\n1,1\n{}", "3,1\n".repeat(5_000_000));
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::text(csv).file_name("submission.csv"),
    );
    let response = reqwest::Client::new()
        .post(format!("http://{address}/validate"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"result": "Submission invalid! duplicate id `1` on rows 1 and 2"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_waiting_for_a_slot_gets_its_verdict_once_the_slot_frees() {
    let (_dir, address) = start_validator(ValidatorSettings {
        max_concurrent_uploads: 1,
        max_waiting_uploads: 1,
        ..ValidatorSettings::default()
    })
    .await;
    let mut stalled = tokio::net::TcpStream::connect(address).await.unwrap();
    stalled
        .write_all(upload_head(100_000).as_bytes())
        .await
        .unwrap();
    let waiting = tokio::spawn(post_valid(&reqwest::Client::new(), address));
    // Usually enough for the upload to arrive while the slot is held; the verdict is the same either way.
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stalled);
    let response = waiting.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"result": "Submission is valid."})
    );
}

/// A first row whose label cell is `length` digits long, counting what was read.
struct LongCell {
    length: usize,
    served: Arc<AtomicUsize>,
}

impl Read for LongCell {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        const HEAD: &[u8] = b"id,y\n1,";
        let served = self.served.load(Ordering::Relaxed);
        let length = match HEAD.get(served..) {
            Some(rest) if !rest.is_empty() => {
                let length = buffer.len().min(rest.len());
                buffer[..length].copy_from_slice(&rest[..length]);
                length
            }
            _ => {
                let length = buffer.len().min(HEAD.len() + self.length - served);
                buffer[..length].fill(b'1');
                length
            }
        };
        self.served.fetch_add(length, Ordering::Relaxed);
        Ok(length)
    }
}

#[test]
fn a_record_too_long_for_any_submission_is_refused_before_it_is_held_whole() {
    let (_dir, grader) = toy_grader("accuracy", &["text", "1", "1"]);
    let served = Arc::new(AtomicUsize::new(0));
    let reason = grader
        .validate(
            Path::new("submission.csv"),
            LongCell {
                length: 100 * 1024 * 1024,
                served: served.clone(),
            },
        )
        .unwrap_err()
        .reason;
    assert!(
        reason.contains("a record is longer than 16 MiB"),
        "{}",
        &reason[..reason.len().min(300)]
    );
    assert!(served.load(Ordering::Relaxed) < 20 * 1024 * 1024);

    // A long cell is quoted shortened, never whole.
    let long = "1".repeat(1000);
    let (_numbers, numbers) = toy_grader("accuracy", &["0", "1", "1"]);
    let reason = verdict(&numbers, &["0", &format!("{long}x"), "1"]).unwrap_err();
    assert!(reason.len() < 200, "{reason}");
}
