//! What the server reports: [`ServerLog`] records for an optional callback, and the counters of
//! [`ServeSummary`]. The server has no logging dependency; the callback decides where records go.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use fifo_rpc_fifo::FifoError;
use fifo_rpc_protocol::session::server::{DiscardReason, EndReason};
use fifo_rpc_protocol::{frame_type, GoodbyeCode, ProtocolError};

/// How much a [`ServerLog`] record matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum LogLevel {
    /// Details for debugging: discarded frames, refused pipe sizes.
    Debug,
    /// Normal operation: sessions starting and ending, shutdown.
    Info,
    /// Something went wrong but serving goes on: framing errors, panics, slow readers.
    Warn,
}

/// One thing worth reporting. `Display` gives a one-line message; [`level`](Self::level) says
/// how much it matters.
///
/// ```
/// use fifo_rpc_server::{LogLevel, ServerLog};
/// use fifo_rpc_protocol::ProtocolError;
/// let record = ServerLog::FramingError { error: ProtocolError::BadMagic };
/// assert_eq!(record.level(), LogLevel::Warn);
/// assert!(record.to_string().starts_with("framing error BAD_MAGIC"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerLog {
    /// A client's HELLO was accepted.
    SessionStarted {
        /// The Session ID.
        session: u32,
        /// The PID the client announced.
        client_pid: u32,
        /// The agreed body encoding.
        encoding: String,
    },
    /// A session ended.
    SessionEnded {
        /// The Session ID.
        session: u32,
        /// Why.
        reason: EndReason,
    },
    /// A HELLO was refused (FR-HS-2).
    HandshakeRejected {
        /// The Session ID of the HELLO.
        session: u32,
        /// The GOODBYE code sent.
        code: GoodbyeCode,
    },
    /// Bytes on `pipe.in` that broke a framing rule were skipped (FR-ERR-1).
    FramingError {
        /// What was wrong.
        error: ProtocolError,
    },
    /// A valid frame was discarded (FR-HS-4, FR-TYPE-2).
    Discarded {
        /// Its type.
        frame_type: u8,
        /// Why.
        reason: DiscardReason,
    },
    /// A handler panicked; the call was answered `HANDLER_PANICKED` (FR-CALL-2).
    HandlerPanicked {
        /// The method.
        method: String,
        /// The panic message, if it was a string.
        message: String,
    },
    /// The client did not read its answers within the write timeout; its session was dropped.
    SlowReader {
        /// The Session ID.
        session: u32,
        /// The write timeout in force.
        timeout: Duration,
    },
    /// Unwritten answers were dropped at shutdown because the client did not read them.
    UnflushedAtExit {
        /// Octets dropped.
        bytes: usize,
    },
    /// The kernel refused the pipe size asked for; the default size stays.
    PipeSizeRefused {
        /// The refusal.
        error: Arc<FifoError>,
    },
    /// Opening or writing `pipe.out` failed other than with `ENXIO`/`EPIPE`; the session was
    /// ended as if the client had gone.
    PipeOutError {
        /// The failure, naming the path.
        error: Arc<FifoError>,
    },
    /// Graceful shutdown began (FR-BYE-2).
    ShutdownStarted,
}

impl ServerLog {
    /// How much the record matters.
    pub fn level(&self) -> LogLevel {
        match self {
            Self::Discarded { .. } | Self::PipeSizeRefused { .. } => LogLevel::Debug,
            Self::SessionStarted { .. } | Self::SessionEnded { .. } | Self::ShutdownStarted => {
                LogLevel::Info
            }
            Self::HandshakeRejected { .. }
            | Self::FramingError { .. }
            | Self::HandlerPanicked { .. }
            | Self::SlowReader { .. }
            | Self::UnflushedAtExit { .. }
            | Self::PipeOutError { .. } => LogLevel::Warn,
        }
    }
}

impl fmt::Display for ServerLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SessionStarted {
                session,
                client_pid,
                encoding,
            } => {
                write!(f, "session {session:#010x} started (client pid {client_pid}, encoding {encoding})")
            }
            Self::SessionEnded { session, reason } => {
                write!(f, "session {session:#010x} ended: {reason}")
            }
            Self::HandshakeRejected { session, code } => {
                write!(f, "refused HELLO of session {session:#010x}: {code}")
            }
            Self::FramingError { error } => write!(f, "framing error {}: {error}", error.name()),
            Self::Discarded {
                frame_type: t,
                reason,
            } => {
                let name = frame_type::name(*t).unwrap_or("unassigned");
                write!(f, "discarded a {name} frame ({t:#04x}): {reason}")
            }
            Self::HandlerPanicked { method, message } => {
                write!(f, "handler of {method} panicked: {message}")
            }
            Self::SlowReader { session, timeout } => write!(
                f,
                "session {session:#010x} dropped: the client read no answer for {} ms",
                timeout.as_millis()
            ),
            Self::UnflushedAtExit { bytes } => {
                write!(f, "{bytes} bytes of answers were not read before exit")
            }
            Self::PipeSizeRefused { error } => write!(f, "pipe size unchanged: {error}"),
            Self::PipeOutError { error } => write!(f, "pipe.out failed, session dropped: {error}"),
            Self::ShutdownStarted => f.write_str("shutting down"),
        }
    }
}

/// The callback type of [`ServerBuilder::on_log`](crate::ServerBuilder::on_log).
pub(crate) type LogFn = Arc<dyn Fn(&ServerLog) + Send + Sync>;

/// What [`Server::serve`](crate::Server::serve) did, returned when it stops.
///
/// ```
/// let summary = fifo_rpc_server::ServeSummary::default();
/// assert_eq!(summary.framing_errors, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeSummary {
    /// Sessions established (HELLO accepted).
    pub sessions: u64,
    /// HELLOs refused (FR-HS-2).
    pub rejected_handshakes: u64,
    /// Calls run by a handler and answered (RESPONSE or ERROR).
    pub calls: u64,
    /// Calls whose handler returned an error.
    pub handler_errors: u64,
    /// Calls whose handler panicked.
    pub handler_panics: u64,
    /// Calls answered `METHOD_NOT_FOUND`.
    pub unknown_methods: u64,
    /// NOTIFY messages handed to a handler.
    pub notifications: u64,
    /// Framing errors on `pipe.in` (bad magic, checksum, ...; FR-ERR-1).
    pub framing_errors: u64,
    /// Valid frames discarded (no session, foreign session, ignorable type; FR-HS-4).
    pub discarded_frames: u64,
    /// Sessions dropped because the client did not read its answers.
    pub slow_readers: u64,
}
