//! Integration tests of the search through its public API: hand-built scenarios for each rule of both
//! policies, restore, and property tests driven by a random environment with interleaved workers.

#![expect(
    clippy::unwrap_used,
    reason = "a failed step should fail the test loudly"
)]

mod greedy;
mod mcts;
mod properties;
mod protocol;
mod restore;
mod support;
