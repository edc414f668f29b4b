//! OpenAI-compatible chat with whole replies: request bodies, usage and cost, reasoning in its various
//! places, tool calls.

use mlm_llm::{ChatRequest, Error, Message, Price, ToolChoice, ToolDefinition};
use serde::Deserialize;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{bodies, chat_reply, client, header, openai_config, requests, KEY};

async fn serve(server: &MockServer, reply: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(server)
        .await;
}

#[tokio::test]
async fn chat_happy_path_sends_the_expected_body_and_accounts_usage() {
    let server = MockServer::start().await;
    serve(
        &server,
        chat_reply(json!({"role": "assistant", "content": "Hello!"}), 1000, 500),
    )
    .await;
    let mut config = openai_config(&server);
    config.temperature = Some(0.5);
    config.max_tokens = Some(256);
    config.price = Price {
        prompt_per_million_usd: 2.0,
        completion_per_million_usd: 8.0,
    };
    let llm = client(config);
    let request = ChatRequest::new(vec![Message::system("Be brief."), Message::user("Hi")]);

    let reply = llm.chat(&request).await.unwrap();

    assert_eq!(reply.content, "Hello!");
    assert_eq!(reply.reasoning, None);
    assert!(reply.tool_calls.is_empty());
    assert_eq!(reply.usage.prompt_tokens, 1000);
    assert_eq!(reply.usage.completion_tokens, 500);
    assert!(
        (reply.usage.cost_usd - 0.006).abs() < 1e-12,
        "{}",
        reply.usage.cost_usd
    );
    assert_eq!(reply.exchange.attempts, 1);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url.path(), "/v1/chat/completions");
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {KEY}"))
    );
    let body: serde_json::Value = sent[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({
            "model": "test-model",
            "temperature": 0.5,
            "max_tokens": 256,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ],
        })
    );
    assert_eq!(reply.exchange.request, body);
    assert_eq!(
        reply.exchange.response["choices"][0]["message"]["content"],
        "Hello!"
    );
}

#[tokio::test]
async fn no_api_key_env_sends_no_authorization_and_missing_usage_is_zero() {
    let server = MockServer::start().await;
    let reply =
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}]});
    serve(&server, reply).await;
    let mut config = openai_config(&server);
    config.api_key_env = None;
    let llm = client(config);

    let reply = llm
        .chat(&ChatRequest::new(vec![Message::user("x")]))
        .await
        .unwrap();

    assert_eq!(reply.content, "ok");
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (0, 0)
    );
    assert_eq!(reply.usage.cost_usd, 0.0);
    assert_eq!(header(&requests(&server).await[0], "authorization"), None);
}

#[tokio::test]
async fn reasoning_is_read_from_reasoning_content() {
    let server = MockServer::start().await;
    let message = json!({"role": "assistant", "content": "42", "reasoning_content": "6 times 7"});
    serve(&server, chat_reply(message, 1, 1)).await;
    let reply = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("?")]))
        .await
        .unwrap();
    assert_eq!(reply.content, "42");
    assert_eq!(reply.reasoning.as_deref(), Some("6 times 7"));
}

#[tokio::test]
async fn reasoning_is_read_from_reasoning() {
    let server = MockServer::start().await;
    let message = json!({"role": "assistant", "content": "42", "reasoning": "forty-two"});
    serve(&server, chat_reply(message, 1, 1)).await;
    let reply = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("?")]))
        .await
        .unwrap();
    assert_eq!(reply.content, "42");
    assert_eq!(reply.reasoning.as_deref(), Some("forty-two"));
}

#[tokio::test]
async fn think_block_in_content_becomes_reasoning() {
    let server = MockServer::start().await;
    let message =
        json!({"role": "assistant", "content": "<think>\nadd them\n</think>\n\nThe answer is 2."});
    serve(&server, chat_reply(message, 1, 1)).await;
    let reply = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("1+1?")]))
        .await
        .unwrap();
    assert_eq!(reply.content, "The answer is 2.");
    assert_eq!(reply.reasoning.as_deref(), Some("add them"));
}

#[tokio::test]
async fn think_block_and_reasoning_field_are_joined() {
    let server = MockServer::start().await;
    let message = json!({
        "role": "assistant",
        "content": "<think>second</think>done",
        "reasoning_content": "first",
    });
    serve(&server, chat_reply(message, 1, 1)).await;
    let reply = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("?")]))
        .await
        .unwrap();
    assert_eq!(reply.content, "done");
    assert_eq!(reply.reasoning.as_deref(), Some("first\nsecond"));
}

fn submit_tool() -> ToolDefinition {
    ToolDefinition {
        name: "submit_review".to_owned(),
        description: "Submit the review of a run".to_owned(),
        parameters: json!({
            "type": "object",
            "properties": {"is_bug": {"type": "boolean"}, "metric": {"type": "number"}},
            "required": ["is_bug"],
        }),
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct Review {
    is_bug: bool,
    metric: Option<f64>,
}

#[tokio::test]
async fn forced_tool_call_round_trips() {
    let server = MockServer::start().await;
    let message = json!({
        "role": "assistant",
        "content": null,
        "tool_calls": [{
            "id": "call_abc",
            "type": "function",
            "function": {"name": "submit_review", "arguments": "{\"is_bug\": false, \"metric\": 0.93}"},
        }],
    });
    serve(&server, chat_reply(message, 10, 5)).await;
    let request = ChatRequest {
        messages: vec![Message::user("Review this run")],
        tools: vec![submit_tool()],
        tool_choice: ToolChoice::Forced("submit_review".to_owned()),
        resample: mlm_llm::Resample::default(),
    };

    let reply = client(openai_config(&server)).chat(&request).await.unwrap();

    assert_eq!(reply.content, "");
    assert_eq!(reply.tool_calls.len(), 1);
    let call = &reply.tool_calls[0];
    assert_eq!(
        (call.id.as_str(), call.name.as_str()),
        ("call_abc", "submit_review")
    );
    assert_eq!(
        call.parse_arguments::<Review>().unwrap(),
        Review {
            is_bug: false,
            metric: Some(0.93)
        }
    );
    let body = &bodies(&server).await[0];
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "submit_review",
            "description": "Submit the review of a run",
            "parameters": submit_tool().parameters,
        }}])
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "submit_review"}})
    );
}

#[tokio::test]
async fn invalid_tool_arguments_are_malformed() {
    let server = MockServer::start().await;
    let message = json!({
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "submit_review", "arguments": "{\"is_bug\": tru"}}],
    });
    serve(&server, chat_reply(message, 1, 1)).await;
    let request = ChatRequest {
        messages: vec![Message::user("Review")],
        tools: vec![submit_tool()],
        tool_choice: ToolChoice::Auto,
        resample: mlm_llm::Resample::default(),
    };
    let reply = client(openai_config(&server)).chat(&request).await.unwrap();
    let body = &bodies(&server).await[0];
    assert_eq!(body["tools"][0]["function"]["name"], "submit_review");
    assert!(body.get("tool_choice").is_none(), "{body}");

    let error = reply.tool_calls[0].parse_arguments::<Review>().unwrap_err();

    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");
    assert!(error.to_string().contains("submit_review"), "{error}");
}

#[tokio::test]
async fn a_200_that_is_not_json_is_malformed_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
        .mount(&server)
        .await;
    let error = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("x")]))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");
    assert!(error.to_string().contains("gateway"), "{error}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_200_without_choices_is_malformed() {
    let server = MockServer::start().await;
    serve(&server, json!({"error": {"message": "model overloaded"}})).await;
    let error = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("x")]))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");
    assert!(error.to_string().contains("model overloaded"), "{error}");
}
