//! The benchmark's error: a message with the context of what failed.
//!
//! A benchmark run either completes or stops with a readable reason, so one string-carrying type
//! is enough; [`Context`] adds "what was being done" to I/O and library errors.

use std::fmt;

/// Why a benchmark step failed, as a sentence fragment chain ("opening pipe.in: no such file").
#[derive(Debug)]
pub(crate) struct Error(String);

impl Error {
    /// An error with the given message.
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self(err.to_string())
    }
}

/// The benchmark's result type.
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// Adds a description of the step that failed to any displayable error.
pub(crate) trait Context<T> {
    /// Prefixes the error with `what` ("what: cause").
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|err| Error(format!("{what}: {err}")))
    }
}
