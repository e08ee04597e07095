//! [`ServerError`]: why binding or serving failed.

use fifo_rpc_fifo::FifoError;
use fifo_rpc_protocol::ProtocolError;

/// The error type of [`Server`](crate::Server) and its builder.
///
/// File-system and FIFO failures (a second server on the directory, a planted file, a directory
/// open to others) come from the FIFO layer and name the path and the failed check:
///
/// ```
/// use fifo_rpc_server::{Server, ServerError};
/// let tmp = tempfile::tempdir()?;
/// let dir = tmp.path().join("svc");
/// let first = Server::bind(&dir)?;
/// let second = Server::bind(&dir).unwrap_err();
/// assert!(second.is_already_serving());
/// assert!(second.to_string().contains(&dir.display().to_string()));
/// drop(first);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A FIFO or file-system operation failed; the message names the path and the check.
    #[error(transparent)]
    Fifo(#[from] FifoError),
    /// A protocol encoding failed (an internal inconsistency; please report it).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A builder option is out of range.
    #[error(
        "server option {option} = {value} is out of range ({min}..={max}); choose a value in range"
    )]
    InvalidOption {
        /// The option's builder method.
        option: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A worker thread could not be started.
    #[error("could not start worker thread {index}; lower workers() or raise the thread limit")]
    SpawnWorker {
        /// The worker's index.
        index: usize,
        /// The error of `std::thread::Builder::spawn`.
        #[source]
        source: std::io::Error,
    },
    /// A worker thread panicked outside any handler (a bug in the server).
    #[error("a worker thread of the server panicked outside a handler; please report it")]
    WorkerPanicked,
}

impl ServerError {
    /// `true` if binding failed because another live server holds the directory (FR-FIFO-5).
    pub fn is_already_serving(&self) -> bool {
        matches!(self, Self::Fifo(FifoError::AlreadyServing { .. }))
    }
}
