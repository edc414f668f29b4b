//! `top_p`, `reasoning_effort` and `extra_body` reach the request body; `extra_body` cannot replace the
//! model or the conversation.

use mlm_llm::{ChatRequest, Client, ClientConfig, Error, Message, Provider};
use serde_json::json;
use wiremock::MockServer;

use crate::support::{
    answer_every_post, anthropic_config, bodies, client, init_env, messages_response,
    ok_chat_response, openai_config,
};

fn object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn openai_requests_carry_top_p_reasoning_effort_and_extra_fields() {
    let server = MockServer::start().await;
    answer_every_post(&server, ok_chat_response()).await;
    let mut config = openai_config(&server);
    config.top_p = Some(0.95);
    config.reasoning_effort = Some("high".to_owned());
    config.extra_body = object(json!({
        "chat_template_kwargs": {"enable_thinking": true},
        "max_tokens": 999,
    }));

    client(config)
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(body["top_p"], 0.95);
    assert_eq!(body["reasoning_effort"], "high");
    assert_eq!(
        body["chat_template_kwargs"],
        json!({"enable_thinking": true})
    );
    // Applied last, an extra field replaces a sampling parameter of the client's.
    assert_eq!(body["max_tokens"], 999);
    assert_eq!(body["model"], "test-model");
}

#[tokio::test]
async fn anthropic_requests_carry_top_p_and_extra_fields() {
    let server = MockServer::start().await;
    answer_every_post(&server, messages_response()).await;
    let mut config = anthropic_config(&server);
    config.top_p = Some(0.9);
    config.extra_body = object(json!({"metadata": {"user_id": "run-1"}}));

    client(config)
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(body["metadata"], json!({"user_id": "run-1"}));
}

#[test]
fn extra_body_may_not_replace_the_model_or_the_conversation() {
    init_env();
    for field in ["model", "messages", "stream"] {
        let mut config = ClientConfig::new(Provider::OpenAi, "m", "http://127.0.0.1:9/v1");
        config.extra_body = serde_json::Map::from_iter([(field.to_owned(), json!("x"))]);
        let error = Client::new(config).unwrap_err();
        assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains(&format!("extra_body sets `{field}`")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn reasoning_effort_with_anthropic_is_refused_up_front() {
    init_env();
    let mut config = anthropic_config(&MockServer::start().await);
    config.reasoning_effort = Some("high".to_owned());
    let error = Client::new(config).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("hint: use thinking_budget_tokens"),
        "{error}"
    );
}
