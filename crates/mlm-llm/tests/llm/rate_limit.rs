//! `requests_per_minute` spaces request starts, across clones of one client.

use std::time::{Duration, Instant};

use mlm_llm::{ChatRequest, Message};
use wiremock::MockServer;

use crate::support::{answer_every_post, client, ok_chat_response, openai_config, requests};

#[tokio::test]
async fn requests_are_spaced_across_clones() {
    let server = MockServer::start().await;
    answer_every_post(&server, ok_chat_response()).await;
    let mut config = openai_config(&server);
    config.requests_per_minute = Some(600);
    let llm = client(config);
    let request = ChatRequest::new(vec![Message::user("hi")]);
    let started = Instant::now();

    // Spawned tasks also check that the futures are Send and the client 'static.
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let llm = llm.clone();
            let request = request.clone();
            tokio::spawn(async move { llm.chat(&request).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // 600 per minute = one start per 100 ms: the third starts at least 200 ms after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 3);
}
