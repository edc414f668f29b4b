//! Shared helpers: the fake key, client configurations pointing at a mock server, canned replies and
//! access to the requests the server received.

use std::sync::Once;
use std::time::Duration;

use mlm_llm::{
    ChatRequest, ChatResponse, Client, ClientConfig, Message, Provider, Result, RetryPolicy,
    Transport,
};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The environment variable holding the fake key; set once for the whole test binary.
pub const KEY_VAR: &str = "MLM_LLM_TEST_API_KEY";
/// A distinctive fake key, searched for in everything that must not contain it.
pub const KEY: &str = "sk-fake-7Qz9-DISTINCTIVE-key-4242";

pub fn init_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var(KEY_VAR, KEY));
}

/// Tiny backoffs so retry tests run fast.
pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

/// An OpenAI-compatible config for the mock server (base URL with a trailing slash, tolerated).
pub fn openai_config(server: &MockServer) -> ClientConfig {
    let mut config = ClientConfig::new(
        Provider::OpenAi,
        "test-model",
        format!("{}/v1/", server.uri()),
    );
    config.api_key_env = Some(KEY_VAR.to_owned());
    config.retry = fast_retry(3);
    config
}

/// An Anthropic config for the mock server.
pub fn anthropic_config(server: &MockServer) -> ClientConfig {
    let mut config = ClientConfig::new(
        Provider::Anthropic,
        "claude-test",
        format!("{}/v1", server.uri()),
    );
    config.api_key_env = Some(KEY_VAR.to_owned());
    config.retry = fast_retry(3);
    config
}

pub fn client(config: ClientConfig) -> Client {
    init_env();
    Client::new(config).unwrap()
}

/// A whole chat reply with this message and usage.
pub fn chat_reply(message: Value, prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    })
}

/// A whole completion reply with this text.
pub fn completion_reply(text: &str) -> Value {
    json!({
        "id": "cmpl-1",
        "object": "text_completion",
        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10},
    })
}

/// A whole Anthropic messages reply: thinking, a redacted thinking block, text and a tool call.
pub fn messages_reply() -> Value {
    json!({
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [
            {"type": "thinking", "thinking": "Consider options.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Here is the plan."},
            {"type": "tool_use", "id": "toolu_1", "name": "submit", "input": {"plan": "stack"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {
            "input_tokens": 300,
            "output_tokens": 120,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    })
}

/// A `200 text/event-stream` reply with this body.
pub fn event_stream(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

/// A server-sent-events body: one `data:` event per chunk, then `data: [DONE]`.
pub fn sse(chunks: &[Value]) -> String {
    let mut body = String::new();
    for chunk in chunks {
        body.push_str("data: ");
        body.push_str(&chunk.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
    body
}

/// A `200` whole chat reply saying "ok", one prompt and one completion token.
pub fn ok_chat_response() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(chat_reply(
        json!({"role": "assistant", "content": "ok"}),
        1,
        1,
    ))
}

/// A `200` whole Anthropic messages reply: the one `messages_reply` describes.
pub fn messages_response() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(messages_reply())
}

/// Makes the server answer every POST, whatever its path, with this response.
pub async fn answer_every_post(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Asks the server, over a streamed OpenAI-compatible config, a chat of one user message.
pub async fn streamed_chat(server: &MockServer, prompt: &str) -> Result<ChatResponse> {
    let mut config = openai_config(server);
    config.transport = Transport::Streamed;
    client(config)
        .chat(&ChatRequest::new(vec![Message::user(prompt)]))
        .await
}

/// The reply to a streamed chat from a fresh server that answers every POST with these chunks as
/// server-sent events.
pub async fn streamed_reply(chunks: &[Value], prompt: &str) -> ChatResponse {
    let server = MockServer::start().await;
    answer_every_post(&server, event_stream(sse(chunks))).await;
    streamed_chat(&server, prompt).await.unwrap()
}

/// The requests the server received.
pub async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

/// The JSON bodies of the requests the server received.
pub async fn bodies(server: &MockServer) -> Vec<Value> {
    requests(server)
        .await
        .iter()
        .map(|request| request.body_json().unwrap())
        .collect()
}

/// A header of a received request, as text.
pub fn header(request: &wiremock::Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

/// A local address nothing listens on.
pub fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/v1")
}
