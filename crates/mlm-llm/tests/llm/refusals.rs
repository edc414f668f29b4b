//! A request the server refuses is final at once and carries the server's words; a prompt too long for
//! the context window is its own error, whichever server says it.

use mlm_llm::{ChatRequest, Error, Message};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{client, fast_retry, openai_config, requests};

fn hello() -> ChatRequest {
    ChatRequest::new(vec![Message::user("hello")])
}

/// The error of a chat call to a server that always answers `status` with `body`, and the number of
/// requests it received (with up to 4 attempts allowed).
async fn refused(status: u16, body: serde_json::Value) -> (Error, usize) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    let mut config = openai_config(&server);
    config.retry = fast_retry(4);
    let error = client(config).chat(&hello()).await.unwrap_err();
    (error, requests(&server).await.len())
}

#[tokio::test]
async fn client_errors_are_final_at_once_with_the_servers_message() {
    for status in [400, 404, 422] {
        let body = json!({"error": {"message": format!("refused with {status}")}});
        let (error, sent) = refused(status, body).await;
        assert_eq!(sent, 1, "HTTP {status}");
        assert!(
            matches!(error, Error::Rejected { status: actual, .. } if actual == status),
            "{error:?}"
        );
        assert!(!error.is_transient());
        let text = error.to_string();
        assert!(text.contains(&format!("refused with {status}")), "{text}");
        assert!(text.contains("hint:"), "{text}");
    }
    for status in [401, 403] {
        let (error, sent) = refused(status, json!({"error": {"message": "no"}})).await;
        assert_eq!(sent, 1, "HTTP {status}");
        assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    }
}

#[tokio::test]
async fn a_404_hints_at_base_url_and_model() {
    let (error, _) = refused(404, json!({"detail": "Not Found"})).await;
    let text = error.to_string();
    assert!(text.contains("HTTP 404): Not Found"), "{text}");
    assert!(text.contains("hint: check base_url"), "{text}");
}

#[tokio::test]
async fn openais_context_length_code_is_its_own_error() {
    let body = json!({"error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }});
    let (error, sent) = refused(400, body).await;
    assert_eq!(sent, 1);
    let Error::ContextLengthExceeded { message, .. } = &error else {
        panic!("expected ContextLengthExceeded, got {error:?}");
    };
    assert!(message.starts_with("This model's maximum context length is 128000"));
    assert!(error.to_string().contains("hint: send a shorter prompt"));
}

#[tokio::test]
async fn vllm_and_llama_cpp_context_errors_are_recognised() {
    let vllm = json!({"object": "error", "type": "BadRequestError", "code": 400,
        "message": "This model's maximum context length is 4096 tokens. However, you requested 20000 tokens (3904 in the messages, 16384 in the completion)."});
    let llama_cpp = json!({"error": {"code": 400, "type": "exceed_context_size_error",
        "message": "the request exceeds the available context size, try increasing it"}});
    for body in [vllm, llama_cpp] {
        let (error, sent) = refused(400, body).await;
        assert_eq!(sent, 1);
        assert!(
            matches!(error, Error::ContextLengthExceeded { .. }),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_context_error_behind_a_500_is_not_retried() {
    // llama-cpp-python reports an over-long prompt as an internal error.
    let body =
        json!({"error": {"message": "Requested tokens (5000) exceed context window of 2048"}});
    let (error, sent) = refused(500, body).await;
    assert_eq!(sent, 1);
    assert!(
        matches!(error, Error::ContextLengthExceeded { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn transient_errors_keep_their_retries() {
    let (error, sent) = refused(503, json!({"error": {"message": "busy"}})).await;
    assert_eq!(sent, 4);
    assert!(
        matches!(error, Error::RetriesExhausted { attempts: 4, .. }),
        "{error:?}"
    );
}
