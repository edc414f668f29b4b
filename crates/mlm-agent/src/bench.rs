//! `ml-master bench`: many runs, one report. The suite file, the results recorded per finished
//! (competition, seed) and per baseline, the aggregate in MLE-bench's form, and its markdown. Running the
//! children lives in [`jobs`], where they run in [`executor`] and [`ray`], the whole bench in [`runner`].

pub mod aggregate;
pub mod executor;
pub mod jobs;
pub mod markdown;
pub mod ray;
pub mod results;
pub mod runner;
pub mod suite;
