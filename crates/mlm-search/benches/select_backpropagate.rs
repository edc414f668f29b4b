//! Selection plus backpropagation on 10,000-node trees: the per-step cost the engine pays under its lock.
//!
//! Each tree is grown by three interleaved workers under ML-Master's defaults, with metrics that follow
//! a random walk (so trajectories improve about half the time and the tree keeps growing), then
//! restored from its records. The MCTS step then runs under a configuration in which every completion
//! ends its trajectory (`back_debug_depth` 0, `max_improve_failure` 1): each measured step is one
//! selection from the root (UCT descent, draft lock, terminal revisits) plus one completion and its
//! backpropagation to the root. Steps run on clones of the tree in chunks of 100, so the tree stays
//! within 100 nodes of 10,000; only the steps are timed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use mlm_search::{
    Direction, Expansion, Metric, Next, NodeResult, Outcome, PolicyKind, Search, SearchConfig,
    WorkerId,
};

const NODES: usize = 10_000;
const CHUNK: u64 = 100;

struct Environment {
    state: u64,
}

impl Environment {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn outcome(&mut self, search: &Search, expansion: &Expansion) -> Outcome {
        let roll = self.unit();
        if roll < 0.3 {
            return Outcome::Buggy;
        }
        if roll < 0.35 {
            return Outcome::Invalid { metric: None };
        }
        let base = expansion
            .parent
            .and_then(|parent| search.node(parent))
            .and_then(|node| node.metric())
            .map_or(0.5, |metric| metric.value);
        Outcome::Valid {
            metric: Metric::new(base + (self.unit() - 0.5) * 0.2, Direction::HigherIsBetter),
        }
    }
}

fn result(outcome: Outcome) -> NodeResult {
    NodeResult {
        plan: "plan".to_string(),
        code_ref: "solution.py".to_string(),
        outcome,
    }
}

/// Grows a tree of `NODES` nodes with three interleaved workers, and returns its records.
fn grow(config: &SearchConfig) -> Vec<mlm_search::Record> {
    let Ok(mut search) = Search::new(config.clone(), 7) else {
        panic!("the bench configuration is valid");
    };
    let mut environment = Environment { state: 11 };
    let mut in_flight: BTreeMap<WorkerId, Expansion> = BTreeMap::new();
    while search.tree().len() < NODES {
        let worker = WorkerId((environment.next() % 3) as u32);
        let outcome = match in_flight.remove(&worker) {
            Some(expansion) => Some((expansion, environment.outcome(&search, &expansion))),
            None => {
                match search.next_expansion(worker) {
                    Ok(Next::Expand(expansion)) => {
                        in_flight.insert(worker, expansion);
                    }
                    Ok(Next::Wait) => {}
                    Ok(Next::Exhausted) | Err(_) => panic!("the tree stopped growing"),
                }
                None
            }
        };
        if let Some((expansion, outcome)) = outcome {
            if search.complete(expansion.ticket, result(outcome)).is_err() {
                panic!("completion refused");
            }
        }
    }
    search.take_records()
}

fn restore(config: SearchConfig, records: Vec<mlm_search::Record>) -> Search {
    match Search::restore(config, 7, records) {
        Ok(search) => search,
        Err(error) => panic!("restore failed: {error}"),
    }
}

#[expect(
    clippy::print_stderr,
    reason = "the bench reports the shape of its tree"
)]
fn describe(name: &str, search: &Search) {
    let depth = |mut id| {
        let mut depth = 1;
        while let Some(parent) = search.node(id).and_then(|node| node.parent()) {
            id = parent;
            depth += 1;
        }
        depth
    };
    let deepest = search
        .nodes()
        .map(|node| depth(node.id()))
        .max()
        .unwrap_or(0);
    let widest = search
        .nodes()
        .map(|node| node.children().len())
        .max()
        .unwrap_or(0);
    eprintln!(
        "{name}: {} nodes, depth up to {deepest}, up to {widest} children, root visits {}",
        search.tree().len(),
        search.tree().root().visits()
    );
}

/// One measured step: requests until one hands out work (selection, with any terminal revisits; a
/// request that only revisited answers `Wait` and the engine asks again), then a buggy completion
/// (backpropagation).
fn step(search: &mut Search, worker: WorkerId) {
    let mut requests = 0;
    let expansion = loop {
        match search.next_expansion(worker) {
            Ok(Next::Expand(expansion)) => break expansion,
            Ok(Next::Wait) if requests < 1000 => requests += 1,
            other => panic!("the bench worker got no work: {other:?}"),
        }
    };
    if search
        .complete(expansion.ticket, result(Outcome::Buggy))
        .is_err()
    {
        panic!("completion refused");
    }
}

fn bench_steps(criterion: &mut Criterion, name: &str, base: &Search) {
    criterion.bench_function(name, |bencher| {
        bencher.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            let mut remaining = iterations;
            while remaining > 0 {
                let chunk = remaining.min(CHUNK);
                let mut search = base.clone();
                let start = Instant::now();
                for _ in 0..chunk {
                    step(&mut search, WorkerId(99));
                }
                total += start.elapsed();
                remaining -= chunk;
            }
            total
        });
    });
}

fn select_backpropagate(criterion: &mut Criterion) {
    let defaults = SearchConfig {
        steps: 20_000,
        ..SearchConfig::default()
    };
    let every_step_backpropagates = SearchConfig {
        back_debug_depth: 0,
        max_improve_failure: 1,
        ..defaults.clone()
    };
    let mcts = restore(every_step_backpropagates, grow(&defaults));
    describe("mcts", &mcts);
    bench_steps(criterion, "mcts_select_backpropagate_10k_nodes", &mcts);

    let greedy_config = SearchConfig {
        policy: PolicyKind::Greedy,
        ..defaults
    };
    let greedy = restore(greedy_config.clone(), grow(&greedy_config));
    describe("greedy", &greedy);
    bench_steps(criterion, "greedy_select_backpropagate_10k_nodes", &greedy);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = select_backpropagate
}
criterion_main!(benches);
