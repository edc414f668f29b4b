//! `probe`: one GET of `/models` that tells reachable, unauthorized and unreachable apart.

use mlm_llm::Error;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{client, dead_address, header, openai_config, requests, KEY};

async fn server_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(status).set_body_string("{\"data\": []}"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_200_is_reachable_and_sends_the_key() {
    let server = server_answering(200).await;
    client(openai_config(&server)).probe().await.unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {KEY}"))
    );
}

#[tokio::test]
async fn a_404_still_counts_as_reachable() {
    let server = server_answering(404).await;
    client(openai_config(&server)).probe().await.unwrap();
}

#[tokio::test]
async fn a_401_is_unauthorized_and_not_retried() {
    let server = server_answering(401).await;
    let error = client(openai_config(&server)).probe().await.unwrap_err();
    assert!(
        matches!(error, Error::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_500_is_reported_once() {
    let server = server_answering(500).await;
    let error = client(openai_config(&server)).probe().await.unwrap_err();
    assert!(
        matches!(error, Error::Status { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_port_nothing_listens_on_is_unreachable() {
    let mut config = openai_config(&MockServer::start().await);
    config.base_url = dead_address();
    let error = client(config).probe().await.unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("hint:"), "{error}");
}
