//! [`ClientError`]: every way a client operation can fail.

use std::path::PathBuf;
use std::time::Duration;

use fifo_rpc_fifo::FifoError;
use fifo_rpc_protocol::payload::PayloadError;
use fifo_rpc_protocol::{ErrorCode, GoodbyeCode, ProtocolError};

/// The error type of every fallible operation of this crate.
///
/// The variants say what happened to a call, which matters for retrying:
///
/// | variant | was the call run? | retry? |
/// |---|---|---|
/// | [`Remote`](Self::Remote) | the server answered with an error | depends on the code |
/// | [`NotProcessed`](Self::NotProcessed) | no (the server said GOODBYE `SHUTTING_DOWN` first) | yes, after [`reconnect`](crate::Client::reconnect) |
/// | [`ServerGone`](Self::ServerGone) | unknown (at most once, FR-BYE-4) | only if the call is idempotent |
/// | [`Timeout`](Self::Timeout) | unknown; it was cancelled | only if the call is idempotent |
/// | [`Disconnected`](Self::Disconnected) | no, it was never sent | after [`reconnect`](crate::Client::reconnect) |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A FIFO operation failed (a refused file, a system call error).
    #[error(transparent)]
    Fifo(#[from] FifoError),

    /// A protocol rule was broken: a local encoding limit, or an answer the receiver dropped.
    #[error(transparent)]
    Protocol(ProtocolError),

    /// No server answered within the connect timeout: the directory, the FIFOs or the server's
    /// read end never appeared, or WELCOME never came (spec §9.4).
    #[error(
        "no server answered in {dir} within {waited:?}; start the server or raise the connect timeout"
    )]
    NoServer {
        /// The service directory.
        dir: PathBuf,
        /// How long the client waited.
        waited: Duration,
    },

    /// Another client held `client.lock` for the whole connect timeout (FR-FIFO-10).
    #[error(
        "the server in {dir} stayed busy with another client for {waited:?}; retry later or raise the connect timeout"
    )]
    Busy {
        /// The service directory.
        dir: PathBuf,
        /// How long the client waited.
        waited: Duration,
    },

    /// The server refused the handshake with GOODBYE (FR-HS-2).
    #[error(
        "the server refused the session with {code}: {message}; check the client configuration"
    )]
    Rejected {
        /// The GOODBYE code.
        code: GoodbyeCode,
        /// The server's explanation.
        message: String,
    },

    /// The call got no answer in time. It was cancelled (CANCEL sent); the server may or may
    /// not have run it, and a late answer is discarded.
    #[error("call to {method:?} got no answer within {after:?}; retry or raise the call timeout")]
    Timeout {
        /// The method called.
        method: String,
        /// The timeout.
        after: Duration,
    },

    /// The server answered with ERROR.
    #[error("the server answered with error {code}: {message}")]
    Remote {
        /// The code, normalised (spec §11.1).
        code: ErrorCode,
        /// Its registry name (`"METHOD_NOT_FOUND"`, `"APPLICATION"`, ...).
        name: &'static str,
        /// The server's message.
        message: String,
        /// The opaque details, possibly empty.
        details: Vec<u8>,
    },

    /// The server went away (EOF on `pipe.out`, `EPIPE` on `pipe.in`) before answering. The call
    /// may or may not have run; it is never re-sent (FR-BYE-4).
    #[error(
        "the server went away before answering; the call may or may not have run, reconnect and check before retrying"
    )]
    ServerGone,

    /// The server ended the session before running the call (GOODBYE `SHUTTING_DOWN`,
    /// FR-BYE-3): it is safe to retry after reconnecting.
    #[error("the server ended the session before running the call; reconnect and retry")]
    NotProcessed,

    /// The client is not connected (closed, after `exit`, or after the server went away).
    #[error("the client is disconnected; call reconnect() to start a new session")]
    Disconnected,

    /// The request exceeds the server's Max Message (FR-FRAG-4); nothing was sent.
    #[error("a request of {len} bytes exceeds the server's max message of {max} bytes; send less")]
    MessageTooLarge {
        /// The message length (method length octet, method and body).
        len: u64,
        /// The server's Max Message.
        max: u32,
    },

    /// A body could not be encoded or decoded with `bincode1`.
    #[error(transparent)]
    Codec(#[from] PayloadError),

    /// The server broke a session rule (FR-ERR-2); the client sent GOODBYE `PROTOCOL_ERROR` and
    /// closed the session.
    #[error("the server broke the protocol ({reason}); the session was closed, reconnect")]
    ProtocolViolation {
        /// Which rule it broke.
        reason: &'static str,
    },
}

impl From<ProtocolError> for ClientError {
    fn from(error: ProtocolError) -> Self {
        match error {
            ProtocolError::PeerMessageLimit { len, max } => Self::MessageTooLarge { len, max },
            // InFlightLimit is waited out by the client; a session that is not established or is
            // closed cannot carry the call.
            ProtocolError::SessionNotEstablished
            | ProtocolError::SessionClosed
            | ProtocolError::InFlightLimit { .. } => Self::Disconnected,
            other => Self::Protocol(other),
        }
    }
}

impl ClientError {
    /// The remote error code, if the server answered with ERROR.
    ///
    /// ```
    /// use fifo_rpc_client::ClientError;
    /// assert_eq!(ClientError::Disconnected.remote_code(), None);
    /// ```
    pub fn remote_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Remote { code, .. } => Some(*code),
            _ => None,
        }
    }
}
