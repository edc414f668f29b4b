//! How a command fails, and the exit code each kind of failure gets.

use std::process::ExitCode;

use mlm_agent::ErrorKind;

/// A command's failure; the variant decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The job ran and did not succeed (an invalid submission, a failed install): exit code 1.
    Job(anyhow::Error),
    /// The input or configuration is wrong (a bad task directory, an unknown metric): exit code 2.
    BadInput(anyhow::Error),
    /// The job ran and failed, and already said why on stderr or stdout: exit code 1, nothing more printed.
    Reported,
}

impl Failure {
    pub fn job(error: impl Into<anyhow::Error>) -> Self {
        Failure::Job(error.into())
    }

    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        Failure::BadInput(error.into())
    }

    pub fn report(self) -> ExitCode {
        let (error, code) = match self {
            Failure::Job(error) => (error, 1),
            Failure::BadInput(error) => (error, 2),
            Failure::Reported => return ExitCode::from(1),
        };
        eprintln!("error: {error}");
        for cause in error.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        ExitCode::from(code)
    }
}

/// The assembly says whose fault an error is; the exit code follows.
impl From<mlm_agent::Error> for Failure {
    fn from(error: mlm_agent::Error) -> Failure {
        match error.kind() {
            ErrorKind::BadInput => Failure::BadInput(error.into()),
            ErrorKind::JobFailed => Failure::Job(error.into()),
        }
    }
}

pub type CommandResult = Result<(), Failure>;
