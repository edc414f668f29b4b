//! Transient faults are retried with backoff, final ones are not, and the caller sees how it ended.

use std::time::{Duration, Instant};

use mlm_llm::{ChatRequest, Error, Message, Timeouts};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    chat_reply, client, dead_address, fast_retry, openai_config, requests, KEY_VAR,
};

fn hello() -> ChatRequest {
    ChatRequest::new(vec![Message::user("hello")])
}

fn ok_reply() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(chat_reply(
        json!({"role": "assistant", "content": "fine"}),
        1,
        1,
    ))
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok_reply())
        .mount(&server)
        .await;

    let reply = client(openai_config(&server)).chat(&hello()).await.unwrap();

    assert_eq!(reply.content, "fine");
    assert_eq!(reply.exchange.attempts, 2);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn retry_after_is_capped_by_max_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok_reply())
        .mount(&server)
        .await;
    let started = Instant::now();

    let reply = client(openai_config(&server)).chat(&hello()).await.unwrap();

    assert_eq!(reply.exchange.attempts, 2);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test]
async fn a_storm_of_500s_exhausts_the_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal trouble"))
        .mount(&server)
        .await;
    let mut config = openai_config(&server);
    config.retry = fast_retry(4);

    let error = client(config).chat(&hello()).await.unwrap_err();

    let Error::RetriesExhausted {
        attempts,
        last_error,
    } = &error
    else {
        panic!("expected RetriesExhausted, got {error:?}");
    };
    assert_eq!(*attempts, 4);
    assert!(
        matches!(**last_error, Error::Status { status: 500, ref body, .. } if body == "internal trouble"),
        "{last_error:?}"
    );
    assert_eq!(requests(&server).await.len(), 4);
    assert!(error.to_string().contains("hint:"), "{error}");
}

#[tokio::test]
async fn a_400_fails_at_once_with_a_short_body_excerpt() {
    let server = MockServer::start().await;
    let long_body = format!("bad request: {}", "x".repeat(2000));
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(long_body))
        .mount(&server)
        .await;

    let error = client(openai_config(&server))
        .chat(&hello())
        .await
        .unwrap_err();

    let Error::Status { status, url, body } = &error else {
        panic!("expected Status, got {error:?}");
    };
    assert_eq!(*status, 400);
    assert!(url.ends_with("/v1/chat/completions"), "{url}");
    assert!(body.starts_with("bad request: x"));
    assert!(body.chars().count() <= 500);
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_501_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(501))
        .mount(&server)
        .await;
    let error = client(openai_config(&server))
        .chat(&hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Status { status: 501, .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_401_is_unauthorized_with_a_hint_naming_the_variable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string("invalid key"))
        .mount(&server)
        .await;
    let error = client(openai_config(&server))
        .chat(&hello())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "hint: check the key in the environment variable {KEY_VAR}"
        )),
        "{text}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

/// A server slower than `timeouts`: the call is retried once, then ends in a timeout of `phase`.
async fn exhausted_by_a_slow_server(timeouts: Timeouts, phase: &str) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_reply().set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mut config = openai_config(&server);
    config.retry = fast_retry(2);
    config.timeouts = timeouts;

    let error = client(config).chat(&hello()).await.unwrap_err();

    let Error::RetriesExhausted {
        attempts,
        last_error,
    } = &error
    else {
        panic!("expected RetriesExhausted, got {error:?}");
    };
    assert_eq!(*attempts, 2);
    assert!(
        matches!(&**last_error, Error::Timeout { phase: actual, .. } if *actual == phase),
        "{last_error:?}"
    );
    assert_eq!(requests(&server).await.len(), 2);
    error
}

#[tokio::test]
async fn an_idle_timeout_is_retried_then_exhausted() {
    exhausted_by_a_slow_server(
        Timeouts {
            connect: Duration::from_secs(5),
            idle: Duration::from_millis(100),
            total: Duration::from_secs(30),
        },
        "idle",
    )
    .await;
}

#[tokio::test]
async fn the_total_timeout_bounds_each_attempt() {
    let error = exhausted_by_a_slow_server(
        Timeouts {
            connect: Duration::from_secs(5),
            idle: Duration::from_secs(60),
            total: Duration::from_millis(150),
        },
        "total",
    )
    .await;
    assert!(error.to_string().contains("timeouts.total"), "{error}");
}

#[tokio::test]
async fn a_dead_server_is_retried_then_reported_unreachable() {
    let mut config = openai_config(&MockServer::start().await);
    config.base_url = dead_address();
    config.retry = fast_retry(2);
    let error = client(config).chat(&hello()).await.unwrap_err();
    let Error::RetriesExhausted {
        attempts: 2,
        last_error,
    } = &error
    else {
        panic!("expected RetriesExhausted after 2 attempts, got {error:?}");
    };
    assert!(
        matches!(**last_error, Error::Unreachable { .. }),
        "{last_error:?}"
    );
}
