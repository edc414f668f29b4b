//! Anthropic messages: headers, the system field, tools, thinking, and the reply's content blocks.

use mlm_llm::{ChatRequest, Message, Price, ToolChoice, ToolDefinition};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::support::{anthropic_config, client, header, messages_response, requests, KEY};

fn tool() -> ToolDefinition {
    ToolDefinition {
        name: "submit".to_owned(),
        description: "Submit a plan".to_owned(),
        parameters: json!({"type": "object", "properties": {"plan": {"type": "string"}}}),
    }
}

fn request(tool_choice: ToolChoice) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::system("You are careful."),
            Message::system("Answer with a tool."),
            Message::user("Plan it"),
            Message::assistant("Sure"),
            Message::user("Go"),
        ],
        tools: vec![tool()],
        tool_choice,
        resample: mlm_llm::Resample::default(),
    }
}

async fn serve(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(messages_response())
        .mount(server)
        .await;
}

#[tokio::test]
async fn messages_call_sends_headers_system_and_tools_and_reads_blocks() {
    let server = MockServer::start().await;
    serve(&server).await;
    let mut config = anthropic_config(&server);
    config.temperature = Some(0.2);
    config.price = Price {
        prompt_per_million_usd: 3.0,
        completion_per_million_usd: 15.0,
    };

    let reply = client(config)
        .chat(&request(ToolChoice::Forced("submit".to_owned())))
        .await
        .unwrap();

    assert_eq!(reply.content, "Here is the plan.");
    assert_eq!(reply.reasoning.as_deref(), Some("Consider options."));
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "toolu_1");
    assert_eq!(reply.tool_calls[0].name, "submit");
    let arguments: serde_json::Value = reply.tool_calls[0].parse_arguments().unwrap();
    assert_eq!(arguments, json!({"plan": "stack"}));
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (300, 120)
    );
    assert!(
        (reply.usage.cost_usd - 0.0027).abs() < 1e-12,
        "{}",
        reply.usage.cost_usd
    );

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "x-api-key").as_deref(), Some(KEY));
    assert_eq!(
        header(&sent[0], "anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    assert_eq!(header(&sent[0], "authorization"), None);
    let body: serde_json::Value = sent[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({
            "model": "claude-test",
            "max_tokens": 16384,
            "temperature": 0.2,
            "system": "You are careful.\n\nAnswer with a tool.",
            "messages": [
                {"role": "user", "content": "Plan it"},
                {"role": "assistant", "content": "Sure"},
                {"role": "user", "content": "Go"},
            ],
            "tools": [{"name": "submit", "description": "Submit a plan",
                       "input_schema": tool().parameters}],
            "tool_choice": {"type": "tool", "name": "submit"},
        })
    );
    assert_eq!(reply.exchange.request, body);
    assert_eq!(reply.exchange.response["stop_reason"], "tool_use");
}

#[tokio::test]
async fn thinking_omits_temperature_and_unforces_the_tool_choice() {
    let server = MockServer::start().await;
    serve(&server).await;
    let mut config = anthropic_config(&server);
    config.temperature = Some(0.7);
    config.thinking_budget_tokens = Some(2048);

    let reply = client(config)
        .chat(&request(ToolChoice::Forced("submit".to_owned())))
        .await
        .unwrap();

    assert_eq!(reply.reasoning.as_deref(), Some("Consider options."));
    let body: serde_json::Value = requests(&server).await[0].body_json().unwrap();
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));
    assert_eq!(body["max_tokens"], json!(2048 + 16384));
    assert!(body.get("temperature").is_none(), "{body}");
    assert!(body.get("stream").is_none(), "{body}");
}

#[tokio::test]
async fn a_thinking_budget_not_below_max_tokens_is_refused() {
    let server = MockServer::start().await;
    let mut config = anthropic_config(&server);
    config.thinking_budget_tokens = Some(4096);
    config.max_tokens = Some(4096);
    crate::support::init_env();
    let error = mlm_llm::Client::new(config).unwrap_err();
    assert!(
        matches!(error, mlm_llm::Error::InvalidConfig { .. }),
        "{error:?}"
    );
}
