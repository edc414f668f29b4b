//! End-to-end tests of the `ml-master` binary, one module per area, sharing `support`.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed step should fail the test loudly"
)]

mod bench;
mod chromium;
mod dashboard;
mod ensemble;
mod exec;
mod fake_llm;
mod gpus;
mod grade;
mod images;
mod llm;
mod output;
mod prepare;
mod ray;
mod readme;
mod run;
mod selection;
mod support;
mod text_model;
mod validator;
