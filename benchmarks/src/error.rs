//! The harness's errors.

use std::fmt;

/// Why a benchmark run could not go on.
#[derive(Debug)]
pub enum BenchError {
    /// The machine or the build is not ready (namespace, tap, file, binary).
    Setup(String),
    /// A measured program failed or printed no result.
    Run(String),
    /// Writing the report failed.
    Report(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Setup(m) => write!(f, "setup: {m}"),
            Self::Run(m) => write!(f, "run: {m}"),
            Self::Report(m) => write!(f, "report: {m}"),
        }
    }
}
