//! The public types of the server session: its configuration, states, events, and [`ReplyTo`].

use std::fmt;

use super::encode_error_frame;
use crate::{frame_type, Call, ErrorCode, Fragmenter, GoodbyeCode, Hello, ProtocolError};

/// What a [`ServerSession`](super::ServerSession) advertises and enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSessionConfig {
    /// The server's local MaxFrame: `min(PIPE_BUF, 65535)` or less, at least 512 (FR-FRAME-6).
    pub max_frame: usize,
    /// Largest reassembled message the server accepts (at least 4096).
    pub max_message: u32,
    /// Most calls a client may have outstanding (FR-CALL-4), at least 1.
    pub max_in_flight: u32,
    /// Server PID for WELCOME (informational).
    pub server_pid: u32,
    /// Instance ID for WELCOME, random per server start (FR-HS-3).
    pub instance_id: u64,
    /// Body encodings the server accepts in HELLO, e.g. `bincode1` and `raw`.
    pub encodings: Vec<String>,
}

impl Default for ServerSessionConfig {
    /// MaxFrame 4096, Max Message 16 MiB, Max In-flight 1024, encodings `bincode1` and `raw`,
    /// PID and Instance ID 0 (a driver fills them in).
    fn default() -> Self {
        Self {
            max_frame: 4096,
            max_message: 16 << 20,
            max_in_flight: 1024,
            server_pid: 0,
            instance_id: 0,
            encodings: vec!["bincode1".to_owned(), "raw".to_owned()],
        }
    }
}

/// The state of a [`ServerSession`](super::ServerSession) (spec §8, server diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// No session: waiting for HELLO.
    Idle,
    /// A session is established.
    Established,
    /// Shutting down: calls already started are finished, new ones are refused (FR-BYE-2).
    Draining,
    /// Shut down: the final GOODBYE (if any) is queued; the driver exits.
    Closed,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// The client sent GOODBYE (FR-BYE-1).
    Goodbye {
        /// The client's GOODBYE code.
        code: GoodbyeCode,
    },
    /// End of stream on `pipe.in`: the client is gone (FR-FIFO-14).
    Eof,
    /// A HELLO with another Session ID arrived: the previous client is gone (FR-SESS-1).
    Replaced {
        /// The Session ID of the new HELLO.
        by: u32,
    },
    /// `EPIPE` or `ENXIO` on `pipe.out`: the client's read end is gone (FR-FIFO-18).
    PeerGone,
    /// The client broke a session rule; GOODBYE `PROTOCOL_ERROR` was queued (FR-ERR-2).
    ProtocolViolation {
        /// The rule, for logs.
        reason: &'static str,
    },
    /// The client did not read its answers within the write timeout; GOODBYE `SLOW_READER` was
    /// queued.
    SlowReader,
    /// The server drained and queued GOODBYE `SHUTTING_DOWN` (FR-BYE-2).
    ShutDown,
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Goodbye { code } => write!(f, "client said goodbye ({code})"),
            Self::Eof => f.write_str("client closed pipe.in (end of stream)"),
            Self::Replaced { by } => write!(f, "replaced by a new session {by:#010x}"),
            Self::PeerGone => f.write_str("client closed pipe.out (broken pipe)"),
            Self::ProtocolViolation { reason } => write!(f, "protocol violation: {reason}"),
            Self::SlowReader => f.write_str("client did not read its answers in time"),
            Self::ShutDown => f.write_str("server shut down"),
        }
    }
}

/// Why a frame was discarded without being acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiscardReason {
    /// No session is established and the frame is not HELLO (FR-HS-4).
    NoSession {
        /// The frame's Session ID.
        session: u32,
    },
    /// The frame belongs to another session (FR-HS-4).
    ForeignSession {
        /// The frame's Session ID.
        session: u32,
    },
    /// An unassigned ignorable type (FR-TYPE-2).
    Ignorable,
    /// A valid frame the server has no use for (a PONG it did not ask for).
    Unsolicited,
    /// A NOTIFY read while draining: no new work is started (FR-BYE-2).
    ShuttingDown,
}

impl fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSession { session } => write!(
                f,
                "no session established (frame of session {session:#010x})"
            ),
            Self::ForeignSession { session } => {
                write!(f, "frame of foreign session {session:#010x}")
            }
            Self::Ignorable => f.write_str("ignorable frame type"),
            Self::Unsolicited => f.write_str("unsolicited frame"),
            Self::ShuttingDown => f.write_str("server is shutting down"),
        }
    }
}

/// Everything a driver needs to answer one call, outside any lock: the session, the Request ID,
/// the agreed MaxFrame and the client's Max Message. `Copy`, so it travels with the call.
///
/// ```
/// use fifo_rpc_protocol::session::server::{ServerEvent, ServerSession, ServerSessionConfig};
/// use fifo_rpc_protocol::{encode_request, Hello, Message};
///
/// let mut server = ServerSession::new(ServerSessionConfig::default());
/// let hello = Hello {
///     min_version: 1,
///     max_version: 1,
///     max_frame: 4096,
///     max_message: 1 << 20,
///     client_pid: 1,
///     encoding: "raw".into(),
///     options: vec![],
/// };
/// let mut input = Vec::new();
/// Message::Hello(hello).encode(7, 512, &mut input).unwrap();
/// encode_request(7, 1, "echo", b"hi", 4096, &mut input).unwrap();
/// server.handle_bytes(&input);
/// let mut reply = None;
/// while let Some(event) = server.poll_event() {
///     if let ServerEvent::Call { call, reply: r, .. } = event {
///         assert_eq!(call.method(), "echo");
///         reply = Some((r, call));
///     }
/// }
/// let (reply, call) = reply.unwrap();
/// assert!(server.start_call(&reply));
/// let mut out = Vec::new();
/// reply.encode_response(call.body(), &mut out).unwrap(); // outside any lock
/// assert!(server.complete(&reply)); // still the current session: write `out`
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyTo {
    pub(super) session: u32,
    pub(super) request: u32,
    pub(super) seq: u64,
    pub(super) max_frame: usize,
    pub(super) peer_max_message: u32,
}

impl ReplyTo {
    /// The Session ID the answer carries.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// The Request ID of the call.
    pub fn request(&self) -> u32 {
        self.request
    }

    /// The agreed MaxFrame of the session (FR-FRAME-7).
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The client's Max Message: the largest answer it accepts (FR-FRAG-4).
    pub fn peer_max_message(&self) -> u32 {
        self.peer_max_message
    }

    /// `true` if a RESPONSE with a body of `body_len` octets fits the client's Max Message.
    pub fn fits(&self, body_len: usize) -> bool {
        body_len <= self.peer_max_message as usize
    }

    /// Appends the RESPONSE frames for `body` to `out`, or ERROR `MESSAGE_TOO_LARGE` if the body
    /// exceeds the client's Max Message (FR-FRAG-4). Returns the code of the ERROR if one was
    /// written instead.
    ///
    /// # Errors
    ///
    /// Only an internal inconsistency of the encoder; nothing is appended then.
    pub fn encode_response(
        &self,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<ErrorCode>, ProtocolError> {
        if !self.fits(body.len()) {
            let text = format!(
                "response of {} bytes exceeds the client's max message of {} bytes",
                body.len(),
                self.peer_max_message
            );
            self.encode_error(ErrorCode::MESSAGE_TOO_LARGE, &text, out)?;
            return Ok(Some(ErrorCode::MESSAGE_TOO_LARGE));
        }
        crate::encode_response(self.session, self.request, body, self.max_frame, out)?;
        Ok(None)
    }

    /// The RESPONSE of a `body_len`-octet body as a [`Fragmenter`], for a sender that encodes a
    /// large answer while it writes it (parts: `&[body]`). Check [`fits`](Self::fits) first: a
    /// body over the client's Max Message must be answered with ERROR `MESSAGE_TOO_LARGE`.
    ///
    /// # Errors
    ///
    /// Only an internal inconsistency of the encoder.
    pub fn response_fragmenter(&self, body_len: usize) -> Result<Fragmenter, ProtocolError> {
        Fragmenter::new(
            frame_type::RESPONSE,
            self.session,
            self.request,
            body_len,
            self.max_frame,
        )
    }

    /// Appends an ERROR frame for the call to `out`; `message` is cut to 200 octets at a character
    /// boundary so the answer always fits the client's Max Message.
    ///
    /// # Errors
    ///
    /// Only an internal inconsistency of the encoder; nothing is appended then.
    pub fn encode_error(
        &self,
        code: ErrorCode,
        message: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        encode_error_frame(
            self.session,
            self.request,
            code,
            message,
            self.max_frame,
            out,
        )
    }
}

/// What the driver is told by [`ServerSession::poll_event`](super::ServerSession::poll_event).
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A HELLO was accepted and WELCOME queued: open `pipe.out` (spec §9.4).
    SessionStarted {
        /// The new Session ID.
        session: u32,
        /// The client's HELLO.
        hello: Hello,
    },
    /// A HELLO was refused and GOODBYE queued with the reason (FR-HS-2); no session started.
    HandshakeRejected {
        /// The Session ID of the HELLO.
        session: u32,
        /// The reason sent.
        code: GoodbyeCode,
    },
    /// A REQUEST was accepted: run it and answer it through `reply` (FR-CALL-2).
    Call {
        /// The Request ID.
        request: u32,
        /// The method and body.
        call: Call,
        /// Where the answer goes.
        reply: ReplyTo,
    },
    /// A NOTIFY of the session: run it, never answer it (FR-CALL-7).
    Notify {
        /// The Session ID.
        session: u32,
        /// The method and body.
        call: Call,
    },
    /// The client cancelled a call that is already running: signal its handler (FR-CANCEL-2).
    Cancel {
        /// The Session ID.
        session: u32,
        /// The Request ID of the running call.
        request: u32,
    },
    /// The session ended: close `pipe.out`; its answers are no longer written (FR-SESS-2).
    SessionEnded {
        /// The Session ID.
        session: u32,
        /// Why.
        reason: EndReason,
    },
    /// Bytes on `pipe.in` broke a framing rule; the receiver skipped them and goes on (FR-ERR-1).
    FramingError(ProtocolError),
    /// A valid frame was discarded without being acted on (FR-HS-4, FR-TYPE-2).
    Discarded {
        /// The frame's type.
        frame_type: u8,
        /// Why.
        reason: DiscardReason,
    },
}
