//! Streamed Anthropic messages: the events are assembled into the reply a whole transport gives, and
//! in-stream errors and cut-off streams are retried or reported as they would be over HTTP.

use mlm_llm::{ChatRequest, ChatResponse, ClientConfig, Error, Message, Price, Transport};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::support::{
    anthropic_config, bodies, client, event_stream, messages_reply, messages_response, requests,
    KEY,
};

/// An event stream as Anthropic writes it: each event named by its `type`.
fn message_events(events: &[Value]) -> String {
    events
        .iter()
        .map(|event| {
            format!(
                "event: {}\ndata: {event}\n\n",
                event["type"].as_str().unwrap()
            )
        })
        .collect()
}

/// [`messages_reply`] as Anthropic streams it, in small deltas with a ping among them.
fn streamed_messages_reply() -> Vec<Value> {
    let delta = |index: u64, delta: Value| json!({"type": "content_block_delta", "index": index, "delta": delta});
    let start = |index: u64, block: Value| json!({"type": "content_block_start", "index": index, "content_block": block});
    let stop = |index: u64| json!({"type": "content_block_stop", "index": index});
    vec![
        json!({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 300, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }}),
        start(0, json!({"type": "thinking", "thinking": ""})),
        delta(
            0,
            json!({"type": "thinking_delta", "thinking": "Consider "}),
        ),
        json!({"type": "ping"}),
        delta(0, json!({"type": "thinking_delta", "thinking": "options."})),
        delta(0, json!({"type": "signature_delta", "signature": "sig"})),
        stop(0),
        start(1, json!({"type": "redacted_thinking", "data": "opaque"})),
        stop(1),
        start(2, json!({"type": "text", "text": ""})),
        delta(2, json!({"type": "text_delta", "text": "Here is "})),
        delta(2, json!({"type": "text_delta", "text": "the plan."})),
        stop(2),
        start(
            3,
            json!({"type": "tool_use", "id": "toolu_1", "name": "submit", "input": {}}),
        ),
        delta(3, json!({"type": "input_json_delta", "partial_json": ""})),
        delta(
            3,
            json!({"type": "input_json_delta", "partial_json": "{\"plan\": \"st"}),
        ),
        delta(
            3,
            json!({"type": "input_json_delta", "partial_json": "ack\"}"}),
        ),
        stop(3),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
               "usage": {"output_tokens": 120}}),
        json!({"type": "message_stop"}),
    ]
}

fn streamed_config(server: &MockServer) -> ClientConfig {
    let mut config = anthropic_config(server);
    config.transport = Transport::Streamed;
    config.price = Price {
        prompt_per_million_usd: 3.0,
        completion_per_million_usd: 15.0,
    };
    config
}

async fn chat(config: ClientConfig) -> Result<ChatResponse, Error> {
    client(config)
        .chat(&ChatRequest::new(vec![Message::user("Plan it")]))
        .await
}

#[tokio::test]
async fn a_streamed_reply_reads_exactly_like_the_whole_one() {
    let whole_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(messages_response())
        .mount(&whole_server)
        .await;
    let streamed_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(event_stream(message_events(&streamed_messages_reply())))
        .mount(&streamed_server)
        .await;
    let mut whole_config = streamed_config(&whole_server);
    whole_config.transport = Transport::Whole;

    let whole = chat(whole_config).await.unwrap();
    let streamed = chat(streamed_config(&streamed_server)).await.unwrap();

    assert_eq!(streamed.content, "Here is the plan.");
    assert_eq!(streamed.reasoning.as_deref(), Some("Consider options."));
    let arguments: Value = streamed.tool_calls[0].parse_arguments().unwrap();
    assert_eq!(arguments, json!({"plan": "stack"}));
    assert_eq!(
        (
            streamed.usage.prompt_tokens,
            streamed.usage.completion_tokens
        ),
        (300, 120)
    );
    assert_eq!(streamed.content, whole.content);
    assert_eq!(streamed.reasoning, whole.reasoning);
    assert_eq!(streamed.tool_calls, whole.tool_calls);
    assert_eq!(streamed.usage, whole.usage);
    // The journal stores the same shape for both transports.
    assert_eq!(streamed.exchange.response, whole.exchange.response);
    assert_eq!(streamed.exchange.attempts, 1);

    let sent = &requests(&streamed_server).await[0];
    let mut body: Value = sent.body_json().unwrap();
    assert_eq!(body["stream"], json!(true));
    assert!(!String::from_utf8_lossy(&sent.body).contains(KEY));
    body.as_object_mut().unwrap().remove("stream");
    assert_eq!(body, bodies(&whole_server).await[0]);
}

#[tokio::test]
async fn pings_anywhere_in_the_stream_are_ignored() {
    let server = MockServer::start().await;
    let ping = json!({"type": "ping"});
    let events: Vec<Value> = streamed_messages_reply()
        .into_iter()
        .flat_map(|event| [ping.clone(), event])
        .collect();
    Mock::given(method("POST"))
        .respond_with(event_stream(message_events(&events)))
        .mount(&server)
        .await;

    let reply = chat(streamed_config(&server)).await.unwrap();

    assert_eq!(reply.content, "Here is the plan.");
    assert_eq!(reply.exchange.response, messages_reply());
}

/// The first attempt streams `first_attempt`, every later one the whole reply: the call must end with
/// that reply, on its second attempt.
async fn assert_recovers_on_the_second_attempt(first_attempt: &[Value]) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(event_stream(message_events(first_attempt)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(event_stream(message_events(&streamed_messages_reply())))
        .mount(&server)
        .await;

    let reply = chat(streamed_config(&server)).await.unwrap();

    assert_eq!(reply.content, "Here is the plan.");
    assert_eq!(reply.exchange.attempts, 2);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn an_overloaded_error_mid_stream_is_retried() {
    let overloaded = [
        streamed_messages_reply()[0].clone(),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": "Here"}}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ];
    assert_recovers_on_the_second_attempt(&overloaded).await;
}

#[tokio::test]
async fn an_invalid_request_error_mid_stream_is_final_and_quoted() {
    let server = MockServer::start().await;
    let refused = [json!({"type": "error", "error": {
        "type": "invalid_request_error", "message": "tools.0: name is invalid"}})];
    Mock::given(method("POST"))
        .respond_with(event_stream(message_events(&refused)))
        .mount(&server)
        .await;

    let error = chat(streamed_config(&server)).await.unwrap_err();

    assert!(matches!(error, Error::Malformed { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("invalid_request_error: tools.0: name is invalid"),
        "{text}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_prompt_too_long_mid_stream_is_a_context_length_error() {
    let server = MockServer::start().await;
    let refused = [json!({"type": "error", "error": {
        "type": "invalid_request_error", "message": "prompt is too long: 201000 tokens > 200000 maximum"}})];
    Mock::given(method("POST"))
        .respond_with(event_stream(message_events(&refused)))
        .mount(&server)
        .await;

    let error = chat(streamed_config(&server)).await.unwrap_err();

    let Error::ContextLengthExceeded { message, .. } = &error else {
        panic!("expected ContextLengthExceeded, got {error:?}");
    };
    assert_eq!(
        message,
        "prompt is too long: 201000 tokens > 200000 maximum"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_stream_cut_before_message_stop_is_retried() {
    let mut cut = streamed_messages_reply();
    // Everything but `message_stop`: the stop reason alone does not make the reply complete.
    cut.pop();
    assert_recovers_on_the_second_attempt(&cut).await;
}

#[tokio::test]
async fn tool_input_that_is_not_json_is_a_malformed_reply() {
    let server = MockServer::start().await;
    let mut events = streamed_messages_reply();
    // The tool input's last fragment, `ack"}`, never arrives.
    events.retain(|event| event["delta"]["partial_json"] != "ack\"}");
    Mock::given(method("POST"))
        .respond_with(event_stream(message_events(&events)))
        .mount(&server)
        .await;

    let error = chat(streamed_config(&server)).await.unwrap_err();

    let Error::Malformed { context, problem } = &error else {
        panic!("expected Malformed, got {error:?}");
    };
    assert!(context.ends_with("/v1/messages"), "{context}");
    assert!(problem.contains("tool_use block 3"), "{problem}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_key_echoed_in_a_stream_is_returned_as_sent() {
    let server = MockServer::start().await;
    let mut events = streamed_messages_reply();
    for event in &mut events {
        if event["delta"]["text"] == "the plan." {
            event["delta"]["text"] = json!(format!("your key {KEY}."));
        }
    }
    Mock::given(method("POST"))
        .respond_with(event_stream(message_events(&events)))
        .mount(&server)
        .await;

    let reply = chat(streamed_config(&server)).await.unwrap();

    assert_eq!(reply.content, format!("Here is your key {KEY}."));
}
