//! One module per subcommand.

pub mod bench;
pub mod dashboard;
pub mod env;
pub mod exec;
pub mod grade;
pub mod prepare;
pub mod run;
pub mod serve_validator;
