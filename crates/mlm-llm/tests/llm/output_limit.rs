//! Every request carries an output limit, under the name the server wants, and a reply cut at it says
//! so in its finish reason.

use mlm_llm::{
    ChatRequest, ChatTemplate, CompletionRequest, FinishReason, Message, OutputLimitParameter,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    anthropic_config, bodies, chat_reply, client, completion_reply, messages_reply, openai_config,
    streamed_reply,
};

async fn serve(server: &MockServer, route: &str, reply: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_json(reply))
        .mount(server)
        .await;
}

fn hello() -> ChatRequest {
    ChatRequest::new(vec![Message::user("hello")])
}

fn steer() -> CompletionRequest {
    CompletionRequest {
        messages: vec![Message::user("Improve the model.")],
        thinking_prefill: "First,".to_owned(),
        resample: mlm_llm::Resample::default(),
    }
}

#[tokio::test]
async fn an_unset_limit_is_sent_as_16384_max_tokens() {
    let server = MockServer::start().await;
    let message = json!({"role": "assistant", "content": "ok"});
    serve(&server, "/v1/chat/completions", chat_reply(message, 1, 1)).await;

    let reply = client(openai_config(&server)).chat(&hello()).await.unwrap();

    assert_eq!(reply.finish_reason, FinishReason::Complete);
    let body = &bodies(&server).await[0];
    assert_eq!(body["max_tokens"], 16384);
    assert!(body.get("max_completion_tokens").is_none(), "{body}");
}

#[tokio::test]
async fn max_completion_tokens_replaces_max_tokens_when_configured() {
    let server = MockServer::start().await;
    let message = json!({"role": "assistant", "content": "ok"});
    serve(&server, "/v1/chat/completions", chat_reply(message, 1, 1)).await;
    let mut config = openai_config(&server);
    config.output_limit_parameter = OutputLimitParameter::MaxCompletionTokens;
    config.max_tokens = Some(2000);

    client(config).chat(&hello()).await.unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(body["max_completion_tokens"], 2000);
    assert!(body.get("max_tokens").is_none(), "{body}");
}

#[tokio::test]
async fn a_chat_reply_cut_at_the_limit_says_so() {
    let server = MockServer::start().await;
    let mut reply = chat_reply(
        json!({"role": "assistant", "content": "```python\nimport pandas as"}),
        10,
        16384,
    );
    reply["choices"][0]["finish_reason"] = json!("length");
    serve(&server, "/v1/chat/completions", reply).await;

    let reply = client(openai_config(&server)).chat(&hello()).await.unwrap();

    assert_eq!(reply.finish_reason, FinishReason::OutputLimit);
    assert_eq!(reply.content, "```python\nimport pandas as");
}

#[tokio::test]
async fn a_streamed_chat_reply_cut_at_the_limit_says_so() {
    let chunks = [
        json!({"choices": [{"index": 0, "delta": {"content": "import "}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "numpy"}, "finish_reason": "length"}]}),
    ];

    let reply = streamed_reply(&chunks, "hello").await;

    assert_eq!(reply.finish_reason, FinishReason::OutputLimit);
    assert_eq!(reply.content, "import numpy");
}

#[tokio::test]
async fn a_steered_completion_always_sends_max_tokens_and_reports_a_cut() {
    // vLLM's /completions answers 16 tokens when no limit is sent: the reasoning never reached
    // </think>.
    let server = MockServer::start().await;
    let mut reply = completion_reply(" so I will try stacking and");
    reply["choices"][0]["finish_reason"] = json!("length");
    serve(&server, "/v1/completions", reply).await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::Qwen);
    config.output_limit_parameter = OutputLimitParameter::MaxCompletionTokens;

    let reply = client(config).complete(&steer()).await.unwrap();

    assert_eq!(reply.finish_reason, FinishReason::OutputLimit);
    assert_eq!(reply.answer, "");
    let body = &bodies(&server).await[0];
    assert_eq!(body["max_tokens"], 16384);
    assert!(body.get("max_completion_tokens").is_none(), "{body}");
}

#[tokio::test]
async fn an_anthropic_reply_stopped_at_max_tokens_says_so() {
    let server = MockServer::start().await;
    let mut reply = messages_reply();
    reply["stop_reason"] = json!("max_tokens");
    serve(&server, "/v1/messages", reply).await;
    let mut config = anthropic_config(&server);
    config.max_tokens = Some(300);

    let reply = client(config).chat(&hello()).await.unwrap();

    assert_eq!(reply.finish_reason, FinishReason::OutputLimit);
    assert_eq!(bodies(&server).await[0]["max_tokens"], 300);
}

#[tokio::test]
async fn tool_calls_and_unknown_reasons_are_named() {
    let server = MockServer::start().await;
    serve(&server, "/v1/messages", messages_reply()).await;
    let reply = client(anthropic_config(&server))
        .chat(&hello())
        .await
        .unwrap();
    assert_eq!(reply.finish_reason, FinishReason::ToolCalls);

    let server = MockServer::start().await;
    let mut unknown = chat_reply(json!({"role": "assistant", "content": "x"}), 1, 1);
    unknown["choices"][0]["finish_reason"] = json!("abort");
    serve(&server, "/v1/chat/completions", unknown).await;
    let reply = client(openai_config(&server)).chat(&hello()).await.unwrap();
    assert_eq!(reply.finish_reason, FinishReason::Other("abort".to_owned()));
}
