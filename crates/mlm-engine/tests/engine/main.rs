//! The engine with a scripted coder and a fake executor: tree shape, budgets, interruption and resume
//! (`runs`), what failing proposals stop (`failures`), and the order of calls a seeded run makes (`call_order`), asserted on the journal as a
//! user's tools would read it.

#![expect(
    clippy::expect_used,
    reason = "a failed step should fail the test loudly"
)]

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use mlm_coder::TokenUsage;
use mlm_engine::{RunSettings, Workers};
use mlm_search::SearchConfig;

#[path = "../support/fakes.rs"]
mod fakes;
use fakes::ScriptedCoder;

mod auto_workers;
mod call_order;
mod failures;
mod runs;

fn settings(steps: u32, slots: usize, workers: usize) -> RunSettings {
    RunSettings {
        steps,
        time_limit: Duration::from_secs(600),
        node_timeout: Duration::from_secs(60),
        slots,
        workers: Workers::Fixed(workers),
        token_budget: None,
        cost_budget: None,
        search: SearchConfig {
            steps,
            ..SearchConfig::default()
        },
        seed: 11,
        max_consecutive_failures: 5,
    }
}

fn instant_coder() -> ScriptedCoder {
    ScriptedCoder {
        proposals: AtomicU64::new(0),
        latency: Duration::from_millis(1),
        usage: TokenUsage::default(),
    }
}
