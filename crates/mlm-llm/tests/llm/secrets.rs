//! The key is read once from the environment and never shows up in exchanges, errors or `Debug`.

use mlm_llm::{ChatRequest, Client, ClientConfig, Endpoint, Error, Message, Provider};
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
async fn the_key_never_leaks_into_errors_or_debug() {
    let server = MockServer::start().await;
    // A careless server that echoes the key back in its refusals.
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad key {KEY}")))
        .mount(&server)
        .await;
    let llm = client(openai_config(&server));
    let anthropic = client(anthropic_config(&server));

    let error = llm
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap_err();
    let probe_error = anthropic.probe(Endpoint::Chat).await.unwrap_err();

    for error in [&error, &probe_error] {
        assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
        assert!(!error.to_string().contains(KEY), "{error}");
        assert!(error.to_string().contains("bad key ***"), "{error}");
        assert!(!format!("{error:?}").contains(KEY), "{error:?}");
    }
    for client in [&llm, &anthropic] {
        let debug = format!("{client:?}");
        assert!(!debug.contains(KEY), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }
}

#[tokio::test]
async fn a_one_letter_key_leaves_the_reply_and_the_servers_message_intact() {
    // vLLM users pass `EMPTY`, Ollama users `ollama`, some a single letter: replacing it by `***`
    // turned `from sklearn` into `from s***learn` in every reply.
    const SHORT_KEY_VAR: &str = "MLM_LLM_TEST_ONE_LETTER_KEY";
    std::env::set_var(SHORT_KEY_VAR, "k");
    let server = MockServer::start().await;
    let code = "from sklearn.linear_model import LogisticRegression";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_reply(
            json!({"role": "assistant", "content": code}),
            1,
            1,
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Unknown parameter: 'top_k'"}})))
        .mount(&server)
        .await;
    let mut config = openai_config(&server);
    config.api_key_env = Some(SHORT_KEY_VAR.to_owned());
    let llm = client(config);

    let reply = llm
        .chat(&ChatRequest::new(vec![Message::user("write it")]))
        .await
        .unwrap();
    let error = llm
        .chat(&ChatRequest::new(vec![Message::user("write it")]))
        .await
        .unwrap_err();

    assert_eq!(reply.content, code);
    assert_eq!(
        reply.exchange.response["choices"][0]["message"]["content"],
        code
    );
    assert!(
        error.to_string().contains("Unknown parameter: 'top_k'"),
        "{error}"
    );
}

#[tokio::test]
async fn a_reply_that_quotes_the_key_is_returned_as_sent() {
    let server = MockServer::start().await;
    let content = format!("your key is {KEY}");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_reply(
            json!({"role": "assistant", "content": content}),
            1,
            1,
        )))
        .mount(&server)
        .await;

    let reply = client(openai_config(&server))
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .await
        .unwrap();

    assert_eq!(reply.content, content);
}
