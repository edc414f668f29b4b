//! `probe`: one minimal request per endpoint with the run's own parameters and a one-token output
//! limit, so that what the server refuses is found before a run, in its own words.

use mlm_llm::{ChatTemplate, Endpoint, Error, OutputLimitParameter};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    anthropic_config, bodies, chat_reply, client, completion_reply, dead_address, header,
    messages_response, openai_config, requests, KEY,
};

async fn server_answering(route: &str, reply: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(reply)
        .mount(&server)
        .await;
    server
}

/// A reply cut at the one-token limit, as a server gives it.
fn cut_reply() -> ResponseTemplate {
    let mut reply = chat_reply(json!({"role": "assistant", "content": "O"}), 12, 1);
    reply["choices"][0]["finish_reason"] = json!("length");
    ResponseTemplate::new(200).set_body_json(reply)
}

#[tokio::test]
async fn the_chat_probe_sends_the_runs_parameters_with_a_one_token_limit() {
    let server = server_answering("/v1/chat/completions", cut_reply()).await;
    let mut config = openai_config(&server);
    config.temperature = Some(0.3);
    config.top_p = Some(0.9);
    config.reasoning_effort = Some("low".to_owned());
    config.output_limit_parameter = OutputLimitParameter::MaxCompletionTokens;
    config.extra_body = json!({"seed": 7}).as_object().unwrap().clone();

    client(config).probe(Endpoint::Chat).await.unwrap();

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {KEY}"))
    );
    let body: serde_json::Value = sent[0].body_json().unwrap();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_completion_tokens"], 1);
    assert!(body.get("max_tokens").is_none(), "{body}");
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(body["reasoning_effort"], "low");
    assert_eq!(body["seed"], 7);
}

#[tokio::test]
async fn an_unsupported_parameter_fails_the_probe_with_the_servers_words_after_one_request() {
    let refusal = json!({"error": {
        "message": "Unsupported parameter: 'temperature' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_parameter",
    }});
    let server = server_answering(
        "/v1/chat/completions",
        ResponseTemplate::new(400).set_body_json(refusal),
    )
    .await;
    let mut config = openai_config(&server);
    config.temperature = Some(0.5);

    let error = client(config).probe(Endpoint::Chat).await.unwrap_err();

    assert!(
        matches!(error, Error::Rejected { status: 400, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("HTTP 400): Unsupported parameter: 'temperature' is not supported"),
        "{text}"
    );
    assert!(text.contains("hint:"), "{text}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn the_steerable_probe_goes_to_completions_with_max_tokens() {
    let server = server_answering(
        "/v1/completions",
        ResponseTemplate::new(200).set_body_json(completion_reply("Ok")),
    )
    .await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::Qwen);
    config.output_limit_parameter = OutputLimitParameter::MaxCompletionTokens;

    client(config).probe(Endpoint::Completions).await.unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(body["max_tokens"], 1);
    assert!(
        body["prompt"].as_str().unwrap().ends_with("<think>\n"),
        "{body}"
    );
}

#[tokio::test]
async fn the_anthropic_probe_leaves_room_for_the_thinking_budget() {
    let server = server_answering("/v1/messages", messages_response()).await;
    let mut config = anthropic_config(&server);
    config.thinking_budget_tokens = Some(1024);

    client(config).probe(Endpoint::Chat).await.unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(body["max_tokens"], 1025);
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
}

#[tokio::test]
async fn a_401_is_unauthorized_and_not_retried() {
    let server = server_answering(
        "/v1/chat/completions",
        ResponseTemplate::new(401).set_body_string("invalid key"),
    )
    .await;
    let error = client(openai_config(&server))
        .probe(Endpoint::Chat)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_500_is_reported_once_without_retries() {
    let server = server_answering(
        "/v1/chat/completions",
        ResponseTemplate::new(500).set_body_string("warming up"),
    )
    .await;
    let error = client(openai_config(&server))
        .probe(Endpoint::Chat)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Status { status: 500, ref body, .. } if body == "warming up"),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_port_nothing_listens_on_is_unreachable() {
    let mut config = openai_config(&MockServer::start().await);
    config.base_url = dead_address();
    let error = client(config).probe(Endpoint::Chat).await.unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("hint:"), "{error}");
}
