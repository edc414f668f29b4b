//! What the LLM coder's tests share: the brief of a small titanic task, a chat reply, and a fake
//! OpenAI-compatible server that answers with scripted replies and records what it received.

use std::path::PathBuf;
use std::time::Duration;

use mlm_coder::TaskBrief;
use mlm_llm::{ChatTemplate, ClientConfig, Provider, RetryPolicy};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub fn task() -> TaskBrief {
    TaskBrief {
        competition_id: "titanic".to_string(),
        description: "Predict who survived the Titanic.".to_string(),
        data_preview:
            "-> input/train.csv has 712 rows and 12 columns: PassengerId, Survived, Pclass, ..."
                .to_string(),
        metric: mlm_grade::Metric::Accuracy,
        train_sample: None,
        test_sample: None,
        public_dir: PathBuf::from("/nonexistent"),
        id_column: "PassengerId".to_string(),
        target_columns: vec!["Survived".to_string()],
        sample_submission_file: "sample_submission.csv".to_string(),
        hardware: "2 CPU core(s) per script, no GPU, 8.0 GB of memory".to_string(),
        installed_packages: vec![
            "numpy".to_string(),
            "pandas".to_string(),
            "lightgbm".to_string(),
        ],
        text_model: None,
    }
}

/// [`task`] with the headers of train.csv and test.csv read (no rows), as a run reads them.
pub fn task_with_columns() -> TaskBrief {
    let table = |file: &str, headers: &[&str]| mlm_task::CsvTable {
        path: PathBuf::from(file),
        headers: headers.iter().map(|header| header.to_string()).collect(),
        rows: Vec::new(),
    };
    TaskBrief {
        train_sample: Some(table("train.csv", &["PassengerId", "Sex", "Survived"])),
        test_sample: Some(table("test.csv", &["PassengerId", "Sex"])),
        ..task()
    }
}

/// A chat completion that ends normally with `content`.
pub fn chat_reply(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 200}
    }))
}

/// A fake server and the runtime it lives on.
pub struct Fixture {
    pub runtime: tokio::runtime::Runtime,
    pub server: MockServer,
}

impl Fixture {
    /// A server answering with `replies` in order, each once; later requests get 404.
    pub fn new(replies: Vec<ResponseTemplate>) -> Fixture {
        Fixture::serving(replies, Repeat::EachOnce)
    }

    /// A server answering with `replies` in order, the last one for every later request.
    pub fn repeating_last(replies: Vec<ResponseTemplate>) -> Fixture {
        Fixture::serving(replies, Repeat::Last)
    }

    fn serving(replies: Vec<ResponseTemplate>, repeat: Repeat) -> Fixture {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let count = replies.len();
        let server = runtime.block_on(async {
            let server = MockServer::start().await;
            for (index, reply) in replies.into_iter().enumerate() {
                let mock = Mock::given(method("POST"))
                    .respond_with(reply)
                    .with_priority(u8::try_from(index + 1).unwrap());
                let mock = match repeat {
                    Repeat::Last if index + 1 == count => mock,
                    Repeat::Last | Repeat::EachOnce => mock.up_to_n_times(1),
                };
                mock.mount(&server).await;
            }
            server
        });
        Fixture { runtime, server }
    }

    /// A client configuration for the fake server: one attempt, the Qwen template for steerable mode.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(
            Provider::OpenAi,
            "fake-model",
            format!("{}/v1", self.server.uri()),
        );
        config.retry = RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        };
        config.chat_template = Some(ChatTemplate::Qwen);
        config
    }

    /// The JSON bodies the server received, in order.
    pub fn bodies(&self) -> Vec<Value> {
        self.runtime
            .block_on(self.server.received_requests())
            .unwrap()
            .iter()
            .map(|request| serde_json::from_slice(&request.body).unwrap())
            .collect()
    }

    pub fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }
}

/// Which of a fixture's scripted replies answer more than once.
#[derive(Clone, Copy)]
enum Repeat {
    EachOnce,
    Last,
}
