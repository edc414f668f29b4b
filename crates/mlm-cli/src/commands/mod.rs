//! One module per subcommand.

pub mod env;
pub mod grade;
pub mod prepare;
pub mod serve_validator;
