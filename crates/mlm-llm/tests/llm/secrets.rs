//! The key is read once from the environment and never shows up in exchanges, errors or `Debug`.

use mlm_llm::{ChatRequest, Client, ClientConfig, Error, Message, Provider};
use serde_json::json;
use wiremock::matchers::{any, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{anthropic_config, chat_reply, client, openai_config, KEY};

#[test]
fn a_missing_key_variable_is_named() {
    let mut config = ClientConfig::new(Provider::OpenAi, "m", "https://api.openai.com/v1");
    config.api_key_env = Some("MLM_LLM_TEST_SURELY_UNSET_KEY_VARIABLE".to_owned());
    let error = Client::new(config).unwrap_err();
    let Error::MissingApiKey { variable } = &error else {
        panic!("expected MissingApiKey, got {error:?}");
    };
    assert_eq!(variable, "MLM_LLM_TEST_SURELY_UNSET_KEY_VARIABLE");
    assert_eq!(
        error.to_string(),
        "the environment variable MLM_LLM_TEST_SURELY_UNSET_KEY_VARIABLE named by api_key_env is not \
         set\nhint: export it, or set api_key_env to the variable that holds your key"
    );
}

#[tokio::test]
async fn the_key_never_leaks_into_exchanges_errors_or_debug() {
    let server = MockServer::start().await;
    // A careless server that echoes the key back, in a success and in a failure.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_reply(
            json!({"role": "assistant", "content": format!("your key is {KEY}")}),
            1,
            1,
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad key {KEY}")))
        .mount(&server)
        .await;
    let llm = client(openai_config(&server));
    let anthropic = client(anthropic_config(&server));

    let reply = llm
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap();
    let error = llm
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap_err();
    let probe_error = anthropic.probe().await.unwrap_err();

    let exchange = serde_json::to_string(&reply.exchange).unwrap();
    assert!(!exchange.contains(KEY), "{exchange}");
    assert!(!format!("{reply:?}").contains(KEY));
    for error in [&error, &probe_error] {
        assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
        assert!(!error.to_string().contains(KEY), "{error}");
        assert!(!format!("{error:?}").contains(KEY), "{error:?}");
    }
    for client in [&llm, &anthropic] {
        let debug = format!("{client:?}");
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }
}
