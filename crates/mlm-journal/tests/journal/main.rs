//! The journal's integration tests: round trips, the best-solution export, run safety, and schema
//! upgrades.

#![expect(
    clippy::unwrap_used,
    reason = "a failed step should fail the test loudly"
)]

mod export;
mod round_trips;
mod run_safety;
mod schema;
