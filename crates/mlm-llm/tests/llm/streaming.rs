//! Streamed OpenAI-compatible chat: deltas of content, reasoning and tool calls plus the usage chunk are assembled into
//! one reply, and the exchange holds an object shaped like a whole reply.

use mlm_llm::{ChatRequest, Error, Message, Price, ToolChoice, ToolDefinition, Transport};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    answer_every_post, bodies, chat_reply, client, event_stream, openai_config, requests, sse,
    streamed_chat, streamed_reply,
};

fn chunk(delta: serde_json::Value, finish_reason: Option<&str>) -> serde_json::Value {
    json!({
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    })
}

#[tokio::test]
async fn streamed_chat_assembles_content_reasoning_tool_calls_and_usage() {
    let server = MockServer::start().await;
    let chunks = [
        chunk(
            json!({"role": "assistant", "reasoning_content": "Let me "}),
            None,
        ),
        chunk(json!({"reasoning_content": "think."}), None),
        chunk(json!({"content": "Calling "}), None),
        chunk(json!({"content": "the tool."}), None),
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "run", "arguments": ""}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"code\":"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": " \"print(1)\"}"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                                   "function": {"name": "stop", "arguments": "{}"}}]}),
            Some("tool_calls"),
        ),
        json!({"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 40}}),
    ];
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(event_stream(sse(&chunks)))
        .mount(&server)
        .await;
    let mut config = openai_config(&server);
    config.transport = Transport::Streamed;
    config.price = Price {
        prompt_per_million_usd: 1.0,
        completion_per_million_usd: 10.0,
    };
    let tool = ToolDefinition {
        name: "run".to_owned(),
        description: "Run code".to_owned(),
        parameters: json!({"type": "object"}),
    };
    let request = ChatRequest {
        messages: vec![Message::user("go")],
        tools: vec![tool],
        tool_choice: ToolChoice::Auto,
        resample: mlm_llm::Resample::default(),
    };

    let reply = client(config).chat(&request).await.unwrap();

    assert_eq!(reply.content, "Calling the tool.");
    assert_eq!(reply.reasoning.as_deref(), Some("Let me think."));
    assert_eq!(reply.tool_calls.len(), 2);
    assert_eq!(reply.tool_calls[0].id, "call_1");
    assert_eq!(reply.tool_calls[0].name, "run");
    assert_eq!(reply.tool_calls[0].arguments, "{\"code\": \"print(1)\"}");
    assert_eq!(reply.tool_calls[1].name, "stop");
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (100, 40)
    );
    assert!((reply.usage.cost_usd - 0.0005).abs() < 1e-12);
    let body = &bodies(&server).await[0];
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    let assembled = &reply.exchange.response;
    assert_eq!(assembled["object"], "chat.completion");
    assert_eq!(
        assembled["choices"][0]["message"]["content"],
        "Calling the tool."
    );
    assert_eq!(assembled["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(assembled["usage"]["completion_tokens"], 40);
}

#[tokio::test]
async fn streamed_reasoning_field_and_think_tags_are_read() {
    let chunks = [
        chunk(json!({"content": "<think>plan"}), None),
        chunk(json!({"content": "</think>answer"}), Some("stop")),
    ];
    let reply = streamed_reply(&chunks, "?").await;
    assert_eq!(reply.content, "answer");
    assert_eq!(reply.reasoning.as_deref(), Some("plan"));
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (0, 0)
    );
}

#[tokio::test]
async fn a_server_ignoring_stream_true_is_read_as_a_whole_reply() {
    let server = MockServer::start().await;
    let reply = chat_reply(
        json!({"role": "assistant", "content": "whole", "reasoning": "r"}),
        3,
        2,
    );
    answer_every_post(&server, ResponseTemplate::new(200).set_body_json(reply)).await;
    let reply = streamed_chat(&server, "?").await.unwrap();
    assert_eq!(reply.content, "whole");
    assert_eq!(reply.reasoning.as_deref(), Some("r"));
    assert_eq!(reply.usage.prompt_tokens, 3);
}

#[tokio::test]
async fn a_stream_cut_before_done_is_retried() {
    let server = MockServer::start().await;
    let cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n".to_owned();
    Mock::given(method("POST"))
        .respond_with(event_stream(cut))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let full = [chunk(json!({"content": "full"}), Some("stop"))];
    answer_every_post(&server, event_stream(sse(&full))).await;
    let reply = streamed_chat(&server, "?").await.unwrap();
    assert_eq!(reply.content, "full");
    assert_eq!(reply.exchange.attempts, 2);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn a_stream_chunk_that_is_not_json_is_malformed() {
    let server = MockServer::start().await;
    let body = "data: {not json\n\ndata: [DONE]\n\n".to_owned();
    answer_every_post(&server, event_stream(body)).await;
    let error = streamed_chat(&server, "?").await.unwrap_err();
    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn openrouters_streamed_reasoning_field_is_read() {
    let chunks = [
        chunk(json!({"role": "assistant", "reasoning": "Compare "}), None),
        chunk(json!({"reasoning": "two models."}), None),
        chunk(json!({"content": "Use boosting."}), Some("stop")),
    ];

    let reply = streamed_reply(&chunks, "?").await;

    assert_eq!(reply.content, "Use boosting.");
    assert_eq!(reply.reasoning.as_deref(), Some("Compare two models."));
}

#[tokio::test]
async fn crlf_framing_and_keep_alive_comments_are_read() {
    let server = MockServer::start().await;
    let first = chunk(json!({"content": "two "}), None);
    let last = chunk(json!({"content": "lines"}), Some("stop"));
    let body = format!(": keep-alive\r\n\r\ndata: {first}\r\n\r\n: ping\r\n\r\ndata: {last}\r\n\r\ndata: [DONE]\r\n\r\n");
    answer_every_post(&server, event_stream(body)).await;

    let reply = streamed_chat(&server, "?").await.unwrap();

    assert_eq!(reply.content, "two lines");
    assert_eq!(reply.exchange.attempts, 1);
}
