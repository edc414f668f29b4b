//! Steerable reasoning through `/completions`: the exact prompt each chat template produces, and the
//! reply split at `</think>`.

use mlm_llm::{ChatTemplate, CompletionRequest, Error, Message, Transport};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{anthropic_config, bodies, client, completion_reply, openai_config, sse};

async fn serve(server: &MockServer, text: &str) {
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion_reply(text)))
        .mount(server)
        .await;
}

fn request() -> CompletionRequest {
    CompletionRequest {
        messages: vec![
            Message::system("You are an ML engineer."),
            Message::user("Improve the model."),
        ],
        thinking_prefill: "Previously, gradient boosting scored 0.81.".to_owned(),
        resample: mlm_llm::Resample::default(),
    }
}

#[tokio::test]
async fn deepseek_r1_prompt_is_exact_and_the_reply_is_split_at_think_end() {
    let server = MockServer::start().await;
    serve(
        &server,
        " So try stacking.\n</think>\n\nUse a stacked ensemble.\n",
    )
    .await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::DeepSeekR1);
    config.max_tokens = Some(4096);

    let reply = client(config).complete(&request()).await.unwrap();

    let body = &bodies(&server).await[0];
    assert_eq!(
        body["prompt"],
        "<｜begin▁of▁sentence｜>You are an ML engineer.<｜User｜>Improve the model.\
         <｜Assistant｜><think>\nPreviously, gradient boosting scored 0.81."
    );
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(
        reply.reasoning,
        "Previously, gradient boosting scored 0.81. So try stacking.\n"
    );
    assert_eq!(reply.answer, "Use a stacked ensemble.");
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (20, 10)
    );
    assert_eq!(reply.exchange.request, *body);
}

#[tokio::test]
async fn qwen_prompt_ends_with_the_prefilled_think_block() {
    let server = MockServer::start().await;
    serve(&server, "</think>answer").await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::Qwen);

    let reply = client(config).complete(&request()).await.unwrap();

    let prompt = bodies(&server).await[0]["prompt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        prompt,
        "<|im_start|>system\nYou are an ML engineer.<|im_end|>\n<|im_start|>user\nImprove the model.<|im_end|>\n\
         <|im_start|>assistant\n<think>\nPreviously, gradient boosting scored 0.81."
    );
    assert_eq!(
        reply.reasoning,
        "Previously, gradient boosting scored 0.81."
    );
    assert_eq!(reply.answer, "answer");
}

#[tokio::test]
async fn a_custom_template_is_rendered_with_minijinja() {
    let server = MockServer::start().await;
    serve(&server, "done</think> A").await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::Custom {
        source:
            "{% for message in messages %}<{{ message.role }}>{{ message.content }}\n{% endfor %}\
                 {% if add_generation_prompt %}<assistant>{% endif %}"
                .to_owned(),
    });

    let reply = client(config).complete(&request()).await.unwrap();

    assert_eq!(
        bodies(&server).await[0]["prompt"],
        "<system>You are an ML engineer.\n<user>Improve the model.\n<assistant><think>\n\
         Previously, gradient boosting scored 0.81."
    );
    assert_eq!(reply.answer, "A");
}

#[tokio::test]
async fn without_think_end_everything_is_reasoning() {
    let server = MockServer::start().await;
    serve(&server, " and it ran out of tokens").await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::Qwen);
    let reply = client(config).complete(&request()).await.unwrap();
    assert_eq!(
        reply.reasoning,
        "Previously, gradient boosting scored 0.81. and it ran out of tokens"
    );
    assert_eq!(reply.answer, "");
}

#[tokio::test]
async fn streamed_completions_are_assembled() {
    let server = MockServer::start().await;
    let chunks = [
        json!({"choices": [{"index": 0, "text": " more", "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "text": "</think>final", "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
    ];
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse(&chunks), "text/event-stream"))
        .mount(&server)
        .await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::DeepSeekR1);
    config.transport = Transport::Streamed;

    let reply = client(config).complete(&request()).await.unwrap();

    assert_eq!(
        reply.reasoning,
        "Previously, gradient boosting scored 0.81. more"
    );
    assert_eq!(reply.answer, "final");
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (7, 3)
    );
    assert_eq!(
        reply.exchange.response["choices"][0]["text"],
        " more</think>final"
    );
    assert_eq!(bodies(&server).await[0]["stream"], json!(true));
}

#[tokio::test]
async fn completions_need_a_template_and_an_openai_server() {
    let server = MockServer::start().await;
    let error = client(openai_config(&server))
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
    assert!(
        error.to_string().contains("hint: set chat_template"),
        "{error}"
    );

    let mut config = anthropic_config(&server);
    config.chat_template = Some(ChatTemplate::Qwen);
    let error = client(config).complete(&request()).await.unwrap_err();
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_custom_template_that_does_not_compile_is_refused_up_front() {
    let server = MockServer::start().await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::Custom {
        source: "{% if %}".to_owned(),
    });
    crate::support::init_env();
    let error = mlm_llm::Client::new(config).unwrap_err();
    assert!(matches!(error, Error::Template { .. }), "{error:?}");
}

#[tokio::test]
async fn a_resampled_request_sends_its_seed_and_temperature_over_the_configured_ones() {
    let server = MockServer::start().await;
    serve(&server, "</think>answer").await;
    let mut config = openai_config(&server);
    config.chat_template = Some(ChatTemplate::Qwen);
    config.temperature = Some(0.0);
    let client = client(config);

    client.complete(&request()).await.unwrap();
    let mut again = request();
    again.resample = mlm_llm::Resample {
        seed: Some(8),
        temperature: Some(0.7),
    };
    client.complete(&again).await.unwrap();

    let bodies = bodies(&server).await;
    assert_eq!(
        (&bodies[0]["seed"], &bodies[0]["temperature"]),
        (&json!(null), &json!(0.0))
    );
    assert_eq!(
        (&bodies[1]["seed"], &bodies[1]["temperature"]),
        (&json!(8), &json!(0.7))
    );
}
