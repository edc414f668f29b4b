//! Prompt caching: cached prompt tokens read from each provider's usage, and a cache breakpoint on a
//! message sent as Anthropic's `cache_control`.

use mlm_llm::{ChatRequest, Message, Price};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    answer_every_post, anthropic_config, bodies, chat_reply, client, messages_reply,
    messages_response, ok_chat_response, openai_config, streamed_reply,
};

#[tokio::test]
async fn openai_cached_tokens_are_read_from_the_prompt_details() {
    let server = MockServer::start().await;
    let mut reply = chat_reply(json!({"role": "assistant", "content": "ok"}), 2048, 10);
    reply["usage"]["prompt_tokens_details"] = json!({"cached_tokens": 1024});
    answer_every_post(&server, ResponseTemplate::new(200).set_body_json(reply)).await;

    let reply = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap();

    assert_eq!(reply.usage.prompt_tokens, 2048);
    assert_eq!(reply.usage.cached_prompt_tokens, 1024);
}

#[tokio::test]
async fn streamed_usage_keeps_the_cached_tokens() {
    let chunks = [
        json!({"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 1500, "completion_tokens": 2,
                                        "prompt_tokens_details": {"cached_tokens": 1280}}}),
    ];

    let reply = streamed_reply(&chunks, "hi").await;

    assert_eq!(reply.usage.cached_prompt_tokens, 1280);
    assert_eq!(
        reply.exchange.response["usage"]["prompt_tokens_details"]["cached_tokens"],
        1280
    );
}

#[tokio::test]
async fn anthropic_cache_reads_and_writes_count_as_prompt_tokens_and_cost() {
    let server = MockServer::start().await;
    let mut reply = messages_reply();
    reply["usage"] = json!({"input_tokens": 100, "output_tokens": 50,
        "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 3000});
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(&server)
        .await;
    let mut config = anthropic_config(&server);
    config.price = Price {
        prompt_per_million_usd: 1.0,
        completion_per_million_usd: 10.0,
    };

    let reply = client(config)
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap();

    assert_eq!(reply.usage.prompt_tokens, 5100);
    assert_eq!(reply.usage.cached_prompt_tokens, 3000);
    assert_eq!(reply.usage.completion_tokens, 50);
    assert!(
        (reply.usage.cost_usd - (5100.0 + 500.0) / 1e6).abs() < 1e-12,
        "{}",
        reply.usage.cost_usd
    );
}

#[tokio::test]
async fn a_cache_breakpoint_becomes_anthropic_cache_control_on_that_block() {
    let server = MockServer::start().await;
    answer_every_post(&server, messages_response()).await;
    let request = ChatRequest::new(vec![
        Message::system("You are an ML engineer.").with_cache_breakpoint(),
        Message::user("The task and its data, at length.").with_cache_breakpoint(),
        Message::user("Time left: 3 hours."),
    ]);

    client(anthropic_config(&server))
        .chat(&request)
        .await
        .unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are an ML engineer.",
                "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "The task and its data, at length.",
                                          "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "Time left: 3 hours."},
        ])
    );
}

#[tokio::test]
async fn openai_requests_carry_no_cache_markup() {
    let server = MockServer::start().await;
    answer_every_post(&server, ok_chat_response()).await;
    let request = ChatRequest::new(vec![Message::user("static").with_cache_breakpoint()]);

    client(openai_config(&server)).chat(&request).await.unwrap();

    assert_eq!(
        bodies(&server).await[0]["messages"],
        json!([{"role": "user", "content": "static"}])
    );
}
