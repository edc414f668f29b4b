//! How busy the execution slots stay: the engine runs a scripted coder that takes L seconds per proposal
//! and scripts that take E seconds, for K = 1, 2, 4 and 8 slots, and reports the fraction of K × wall
//! time spent executing, and the engine's overhead per node. Run it with `bench/utilisation.sh` or
//! `cargo run --release -p mlm-engine --example utilisation -- [L] [E] [STEPS] [auto]`: with `auto` the
//! run's workers are `workers = "auto"`, otherwise two per slot.

#![expect(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark's report"
)]

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlm_coder::TokenUsage;
use mlm_engine::{run_engine, EngineParts, Event, RunLayout, RunSettings, Workers};
use mlm_search::SearchConfig;
use tokio::sync::mpsc;

#[path = "../tests/support/fakes.rs"]
mod fakes;
use fakes::{toy_journal, toy_task, AlwaysValid, FakeExecutor, ScriptedCoder};

#[tokio::main]
async fn main() {
    let auto = std::env::args()
        .nth(4)
        .is_some_and(|argument| argument == "auto");
    let arguments: Vec<f64> = std::env::args()
        .skip(1)
        .take(3)
        .map(|argument| argument.parse().expect("a number"))
        .collect();
    let latency = Duration::from_secs_f64(arguments.first().copied().unwrap_or(0.2));
    let execution = Duration::from_secs_f64(arguments.get(1).copied().unwrap_or(0.2));
    let steps_per_slot = arguments.get(2).copied().unwrap_or(12.0) as u32;
    println!(
        "operator latency L = {:.3} s, script time E = {:.3} s",
        latency.as_secs_f64(),
        execution.as_secs_f64()
    );
    println!(
        "{:>5} {:>8} {:>6} {:>10} {:>12} {:>20}",
        "slots", "workers", "nodes", "wall (s)", "utilisation", "overhead/node (ms)"
    );
    for slots in [1_usize, 2, 4, 8] {
        let (workers, most_workers) = if auto {
            (Workers::Auto, slots * mlm_engine::MAX_AUTO_WORKERS_PER_SLOT)
        } else {
            (Workers::Fixed(slots * 2), slots * 2)
        };
        let steps = steps_per_slot * slots as u32;
        let directory = tempfile::tempdir().unwrap();
        let layout = RunLayout::new(directory.path().join("run"));
        let journal = toy_journal(&layout);
        let settings = RunSettings {
            steps,
            time_limit: Duration::from_secs(3600),
            node_timeout: Duration::from_secs(60),
            slots,
            workers,
            token_budget: None,
            cost_budget: None,
            // Many drafts, so that every worker has a subtree of its own from the start.
            search: SearchConfig {
                steps,
                num_drafts: most_workers as u32 + 1,
                ..SearchConfig::default()
            },
            seed: 1,
            max_consecutive_failures: 5,
        };
        let parts = EngineParts {
            settings,
            task: toy_task(),
            coder: Arc::new(ScriptedCoder {
                proposals: AtomicU64::new(0),
                latency,
                usage: TokenUsage::default(),
            }),
            executor: Arc::new(FakeExecutor {
                duration: execution,
            }),
            check: Arc::new(AlwaysValid),
            journal,
            layout,
        };
        let (events, mut receiver) = mpsc::unbounded_channel();
        let (_operations, operation_receiver) = mpsc::unbounded_channel();
        let started = Instant::now();
        let engine = tokio::spawn(run_engine(parts, events, operation_receiver));
        let mut busy = 0.0;
        let mut active_workers = 0;
        while let Some(event) = receiver.recv().await {
            if let Event::NodeFinished {
                execute_seconds, ..
            } = event
            {
                busy += execute_seconds;
            } else if let Event::RunStarted { workers, .. } = event {
                active_workers = active_workers.max(workers);
            } else if let Event::WorkersChanged { active } = event {
                active_workers = active_workers.max(active);
            }
        }
        let summary = engine.await.unwrap().unwrap().summary;
        let wall = started.elapsed().as_secs_f64();
        let utilisation = busy / (slots as f64 * wall);
        // What the engine adds beyond the coder's and the script's own time, per node and per slot.
        let ideal = summary.nodes as f64 * execution.as_secs_f64() / slots as f64;
        let overhead = (wall - ideal).max(0.0) / summary.nodes.max(1) as f64 * slots as f64;
        println!(
            "{slots:>5} {active_workers:>8} {:>6} {wall:>10.2} {:>11.1}% {:>20.1}",
            summary.nodes,
            utilisation * 100.0,
            overhead * 1000.0
        );
    }
}
