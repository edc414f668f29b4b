//! Transient faults are retried with backoff, final ones are not, and the caller sees how it ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlm_llm::{ChatRequest, ClientConfig, Error, Message, Timeouts, Transport};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
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

    let Error::Rejected {
        status,
        url,
        message,
    } = &error
    else {
        panic!("expected Rejected, got {error:?}");
    };
    assert_eq!(*status, 400);
    assert!(url.ends_with("/v1/chat/completions"), "{url}");
    assert!(message.starts_with("bad request: x"));
    assert!(message.chars().count() <= 500);
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

/// A server that sends its whole reply after `delay`, headers included.
async fn server_answering_after(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_reply().set_delay(delay))
        .mount(&server)
        .await;
    server
}

/// Asserts that the call was retried once, then ended in a timeout of `phase`.
/// Streamed, two attempts, and 100 ms of silence allowed within a generous total.
fn streamed_with_a_short_idle_timeout(mut config: ClientConfig) -> ClientConfig {
    config.transport = Transport::Streamed;
    config.retry = fast_retry(2);
    config.timeouts = Timeouts {
        connect: Duration::from_secs(5),
        idle: Duration::from_millis(100),
        total: Duration::from_secs(30),
    };
    config
}

fn assert_timed_out_twice(error: &Error, phase: &str) {
    let Error::RetriesExhausted {
        attempts,
        last_error,
    } = error
    else {
        panic!("expected RetriesExhausted, got {error:?}");
    };
    assert_eq!(*attempts, 2);
    assert!(
        matches!(&**last_error, Error::Timeout { phase: actual, .. } if *actual == phase),
        "{last_error:?}"
    );
}

#[tokio::test]
async fn an_idle_timeout_is_retried_then_exhausted() {
    // wiremock sends a body in one piece; a stall between chunks needs a server of our own. It answers
    // each request with the headers and the first chunk of a stream, then goes silent.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests_received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests_received);
    tokio::spawn(async move {
        loop {
            let (mut connection, _) = listener.accept().await.unwrap();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                // The reply does not depend on the request: its first bytes are enough.
                let mut request = vec![0; 64 * 1024];
                let received = connection.read(&mut request).await.unwrap();
                assert!(received > 0, "the client closed without a request");
                counter.fetch_add(1, Ordering::SeqCst);
                let event =
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                     transfer-encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
                    event.len()
                );
                connection.write_all(reply.as_bytes()).await.unwrap();
                // The stall: the connection stays open and silent.
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    let mut config = streamed_with_a_short_idle_timeout(openai_config(&MockServer::start().await));
    config.base_url = format!("http://{address}/v1");

    let error = client(config).chat(&hello()).await.unwrap_err();

    assert_timed_out_twice(&error, "idle");
    assert_eq!(requests_received.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_stream_whose_headers_are_late_is_timed_out_idle() {
    let server = server_answering_after(Duration::from_secs(3)).await;
    let config = streamed_with_a_short_idle_timeout(openai_config(&server));

    let error = client(config).chat(&hello()).await.unwrap_err();

    assert_timed_out_twice(&error, "idle");
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_whole_reply_slower_than_the_idle_timeout_succeeds_at_once() {
    // A reasoning model behind a whole transport: nothing is sent until the reply is complete.
    let server = server_answering_after(Duration::from_millis(600)).await;
    let mut config = openai_config(&server);
    config.timeouts = Timeouts {
        connect: Duration::from_secs(5),
        idle: Duration::from_millis(100),
        total: Duration::from_secs(30),
    };

    let reply = client(config).chat(&hello()).await.unwrap();

    assert_eq!(reply.content, "fine");
    assert_eq!(reply.exchange.attempts, 1);
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn the_total_timeout_bounds_each_attempt() {
    let server = server_answering_after(Duration::from_secs(3)).await;
    let mut config = openai_config(&server);
    config.retry = fast_retry(2);
    config.timeouts = Timeouts {
        total: Duration::from_millis(150),
        ..Timeouts::default()
    };

    let error = client(config).chat(&hello()).await.unwrap_err();

    assert_timed_out_twice(&error, "total");
    assert!(error.to_string().contains("timeouts.total"), "{error}");
    assert_eq!(requests(&server).await.len(), 2);
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
