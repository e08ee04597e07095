//! [`ClientSession`]: the client's side of a FIFO-RPC/1 session (spec §8), without I/O.
//!
//! The session turns calls into bytes for `pipe.in` and bytes read from `pipe.out` into
//! [`ClientEvent`]s. It makes no system call, starts no thread and reads no clock: the driver
//! (the `fifo-rpc-client` crate, or a test) moves the bytes, draws the random Session ID and keeps
//! the deadlines.
//!
//! ```text
//!   new ──hello()──> HANDSHAKE ──WELCOME──> ESTABLISHED ──goodbye(), GOODBYE, EOF──> CLOSED
//!                        │                                                            ^
//!                        └──────────── GOODBYE, EOF, session error ───────────────────┘
//! ```

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::{
    encode_frame, encode_notify, frame_type, Call, ErrorCode, Event, Fragmenter, FrameHeader,
    Goodbye, GoodbyeCode, Hello, Message, ProtocolError, Receiver, ReceiverConfig, Welcome,
    MIN_MAX_FRAME, MIN_MAX_MESSAGE, VERSION,
};

/// The settings of one client session.
///
/// ```
/// use fifo_rpc_protocol::session::client::ClientSessionConfig;
/// let cfg = ClientSessionConfig::new(0x2a, 4096);
/// assert_eq!(cfg.encoding, "bincode1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSessionConfig {
    /// The Session ID: random, non-zero, drawn by the driver for every session (FR-HS-1).
    pub session: u32,
    /// The local MaxFrame, `min(PIPE_BUF, 65535)` or less (FR-FRAME-6); values outside
    /// `512..=65535` are clamped into it.
    pub max_frame: usize,
    /// The largest reassembled message the client accepts (advertised in HELLO); at least 4096.
    pub max_message: u32,
    /// Messages reassembled at once before the receiver refuses new ones (FR-FRAG-7).
    pub max_partial: usize,
    /// The client's process id, sent in HELLO for information.
    pub client_pid: u32,
    /// The body encoding named in HELLO (spec §10), `"bincode1"` by default.
    pub encoding: String,
}

impl ClientSessionConfig {
    /// A configuration with Max Message 16 MiB, 1025 partial messages and encoding `bincode1`.
    pub fn new(session: u32, max_frame: usize) -> Self {
        Self {
            session,
            max_frame,
            max_message: 16 << 20,
            max_partial: 1025,
            client_pid: 0,
            encoding: "bincode1".to_owned(),
        }
    }
}

/// Where a [`ClientSession`] is in the state machine of spec §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Created; [`ClientSession::hello`] has not been called.
    New,
    /// HELLO sent, waiting for WELCOME.
    Handshake,
    /// WELCOME received: calls may be made.
    Established,
    /// Ended; see the [`ClientEvent::Closed`] reason.
    Closed,
}

/// How one call ended. Every call started with [`ClientSession::start_call`] and not cancelled
/// ends with exactly one [`ClientEvent::Reply`] carrying one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// RESPONSE: the body.
    Ok(Vec<u8>),
    /// ERROR from the server. `code` is already normalised (an unknown code below 1000 reads as
    /// INTERNAL, spec §11.1).
    Remote {
        /// The error code.
        code: ErrorCode,
        /// The message, for humans.
        message: String,
        /// Opaque details, possibly empty.
        details: Vec<u8>,
    },
    /// The server said GOODBYE `SHUTTING_DOWN` before answering: the call was not run and may be
    /// retried after reconnecting (FR-BYE-3).
    NotProcessed,
    /// The session ended without an answer (EOF, `EPIPE`, a GOODBYE other than `SHUTTING_DOWN`,
    /// a local GOODBYE, a session error): the server may or may not have run the call, and it is
    /// never re-sent (FR-BYE-4).
    Unknown,
    /// The answer arrived but the receiver had to drop it, for example because it exceeded the
    /// client's Max Message (FR-FRAG-3).
    Dropped(ProtocolError),
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent GOODBYE ([`ClientSession::goodbye`], FR-BYE-1).
    Local,
    /// The server refused the handshake with GOODBYE (FR-HS-2).
    Rejected(Goodbye),
    /// The server sent GOODBYE during the session (FR-BYE-2, FR-BYE-3).
    Goodbye(Goodbye),
    /// End of stream on `pipe.out` or `EPIPE` on `pipe.in`: the server is gone (spec §9.6).
    PeerGone {
        /// `true` if it happened before WELCOME.
        during_handshake: bool,
    },
    /// The server sent a frame its state does not allow (FR-ERR-2, FR-TYPE-5); the session queued
    /// GOODBYE `PROTOCOL_ERROR`.
    ProtocolViolation {
        /// The type of the offending frame.
        frame_type: u8,
        /// Which rule it broke.
        reason: &'static str,
    },
}

/// What the session has to tell its driver; see [`ClientSession::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// WELCOME arrived: the session is established.
    Established(Welcome),
    /// A call ended.
    Reply {
        /// The Request ID [`ClientSession::start_call`] returned.
        request: u32,
        /// How it ended.
        outcome: CallOutcome,
    },
    /// The server sent a NOTIFY.
    Notify(Call),
    /// The server answered a [`ClientSession::ping`].
    Pong {
        /// The opaque value of the PING.
        opaque: [u8; 8],
    },
    /// The server said GOODBYE during the session; [`ClientEvent::Closed`] follows.
    Goodbye(Goodbye),
    /// The session ended. No event follows except framing errors of bytes still buffered.
    Closed {
        /// Why.
        reason: CloseReason,
    },
    /// Bytes on `pipe.out` broke a framing rule (spec §5, §7). They were skipped; the session goes
    /// on (spec §8.6).
    FramingError(ProtocolError),
}

/// What the session remembers about an outstanding Request ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Waiting for its answer.
    Waiting,
    /// Cancelled: the answer is discarded when it comes (FR-CALL-5), and the ID stays reserved
    /// until then so that a late answer is never taken for a new call's.
    Cancelled,
}

/// A cheap hasher for Request IDs, which are small counters chosen by this side.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// The client's side of one session (spec §8), as a state machine over bytes.
///
/// # Call order
///
/// 1. [`new`](Self::new), then [`hello`](Self::hello) and write its bytes to `pipe.in`.
/// 2. Feed every read of `pipe.out` to [`handle_bytes`](Self::handle_bytes) (in any split, one
///    octet at a time included), end of stream or `EPIPE` to [`handle_eof`](Self::handle_eof).
/// 3. After each of those, drain [`poll_event`](Self::poll_event) and write what
///    [`poll_transmit`](Self::poll_transmit) appends (PONG, GOODBYE `PROTOCOL_ERROR`).
/// 4. Once [`ClientEvent::Established`] came out, [`start_call`](Self::start_call),
///    [`cancel`](Self::cancel), [`notify`](Self::notify) and [`ping`](Self::ping) append frames
///    to a buffer the driver writes; [`goodbye`](Self::goodbye) ends the session.
///
/// Every byte appended to an `out` buffer is whole frames: the driver may write them in chunks of
/// whole frames of at most `PIPE_BUF` octets (FR-FRAME-9, FR-FRAME-10).
///
/// # Example
///
/// ```
/// use fifo_rpc_protocol::session::client::{
///     CallOutcome, ClientEvent, ClientSession, ClientSessionConfig,
/// };
/// use fifo_rpc_protocol::{encode_frame, frame_type, FrameHeader, Message, Welcome};
///
/// let mut session = ClientSession::new(ClientSessionConfig::new(7, 4096))?;
/// let mut to_server = Vec::new();
/// session.hello(&mut to_server)?;
///
/// // The server's WELCOME, as bytes read from pipe.out.
/// let welcome = Welcome {
///     version: 1, max_frame: 4096, max_message: 1 << 20, max_in_flight: 8, server_pid: 1,
///     instance_id: 99, encoding: "bincode1".into(), options: vec![],
/// };
/// let mut from_server = Vec::new();
/// Message::Welcome(welcome).encode(7, 512, &mut from_server)?;
/// session.handle_bytes(&from_server);
/// assert!(matches!(session.poll_event(), Some(ClientEvent::Established(_))));
///
/// let id = session.start_call("echo", b"hi", &mut to_server)?;
/// let mut reply = Vec::new();
/// encode_frame(&FrameHeader::new(frame_type::RESPONSE, 7, id), &[], b"hi", 4096, &mut reply)?;
/// session.handle_bytes(&reply);
/// assert_eq!(
///     session.poll_event(),
///     Some(ClientEvent::Reply { request: id, outcome: CallOutcome::Ok(b"hi".to_vec()) })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientSessionConfig,
    state: SessionState,
    receiver: Receiver,
    welcome: Option<Welcome>,
    /// The agreed MaxFrame (FR-FRAME-7); 512 until WELCOME.
    send_max_frame: usize,
    next_request: u32,
    outstanding: IdMap<Pending>,
    events: VecDeque<ClientEvent>,
    transmit: Vec<u8>,
    foreign_frames: u64,
    discarded_answers: u64,
}

impl ClientSession {
    /// Creates a session in state [`SessionState::New`].
    ///
    /// `max_frame` is clamped into `512..=65535` and `max_message` raised to at least 4096.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidSession`] if the Session ID is 0 (FR-FRAME-4).
    pub fn new(mut config: ClientSessionConfig) -> Result<Self, ProtocolError> {
        if config.session == 0 {
            return Err(ProtocolError::InvalidSession);
        }
        config.max_frame = config.max_frame.clamp(MIN_MAX_FRAME, usize::from(u16::MAX));
        config.max_message = config.max_message.max(MIN_MAX_MESSAGE);
        let receiver = Receiver::new(ReceiverConfig {
            max_frame: config.max_frame,
            max_message: config.max_message,
            max_partial: config.max_partial.max(1),
        });
        Ok(Self {
            config,
            state: SessionState::New,
            receiver,
            welcome: None,
            send_max_frame: MIN_MAX_FRAME,
            next_request: 1,
            outstanding: IdMap::default(),
            events: VecDeque::new(),
            transmit: Vec::new(),
            foreign_frames: 0,
            discarded_answers: 0,
        })
    }

    /// Appends HELLO to `out` and enters [`SessionState::Handshake`] (FR-HS-1). HELLO fits in 512
    /// octets (FR-FRAME-7).
    ///
    /// # Errors
    /// [`ProtocolError::SessionClosed`] if HELLO was already sent; a local-misuse [`ProtocolError`] if
    /// the encoding name is empty or over 32 octets.
    pub fn hello(&mut self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        if self.state != SessionState::New {
            return Err(ProtocolError::SessionClosed);
        }
        let hello = Hello {
            min_version: VERSION,
            max_version: VERSION,
            max_frame: self.config.max_frame as u16, // clamped to 65535 in new()
            max_message: self.config.max_message,
            client_pid: self.config.client_pid,
            encoding: self.config.encoding.clone(),
            options: Vec::new(),
        };
        Message::Hello(hello).encode(self.config.session, MIN_MAX_FRAME, out)?;
        self.state = SessionState::Handshake;
        Ok(())
    }

    /// Feeds bytes read from `pipe.out`. Events come out of [`poll_event`](Self::poll_event);
    /// frames to send (PONG, GOODBYE `PROTOCOL_ERROR`) out of
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.receiver.push(bytes);
        self.drain_receiver();
    }

    /// Reports the end of the byte stream: EOF or `POLLHUP` on `pipe.out` once a writer has been
    /// there, or `EPIPE` on `pipe.in` (spec §9.6). Every outstanding call fails with
    /// [`CallOutcome::Unknown`] (FR-BYE-4) and the session closes.
    pub fn handle_eof(&mut self) {
        self.receiver.finish();
        self.drain_receiver();
        if matches!(
            self.state,
            SessionState::Handshake | SessionState::Established
        ) {
            let during_handshake = self.state == SessionState::Handshake;
            self.close(
                CloseReason::PeerGone { during_handshake },
                CallOutcome::Unknown,
            );
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Appends frames the session itself has to send (PONG, GOODBYE `PROTOCOL_ERROR`) to `out`;
    /// returns `true` if it appended any.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        if self.transmit.is_empty() {
            return false;
        }
        out.append(&mut self.transmit);
        true
    }

    /// Hands back the body buffer of an answer once it has been read (decoded into a value,
    /// say), so that the next answer is received into it instead of a new allocation
    /// ([`Reassembler::recycle`](crate::Reassembler::recycle)).
    pub fn recycle(&mut self, body: Vec<u8>) {
        self.receiver.recycle(body);
    }

    /// Starts a call: chooses its Request ID (FR-CALL-1) and appends its REQUEST frames to `out`,
    /// fragmented at the agreed MaxFrame. Allocates nothing but room in `out`.
    ///
    /// # Errors
    /// [`ProtocolError::SessionNotEstablished`] or [`ProtocolError::SessionClosed`] outside
    /// ESTABLISHED; [`ProtocolError::InFlightLimit`] at the server's Max In-flight
    /// (FR-CALL-4); [`ProtocolError::PeerMessageLimit`] over the server's Max Message
    /// (FR-FRAG-4); a local-misuse [`ProtocolError`] for an empty method or one over 255 octets.
    pub fn start_call(
        &mut self,
        method: &str,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u32, ProtocolError> {
        let mut call = self.start_call_streamed(method, body.len())?;
        out.reserve(call.octets_left());
        call.encode_next(method, body, usize::MAX, out);
        Ok(call.request())
    }

    /// Starts a call whose REQUEST frames the caller encodes a few at a time with
    /// [`StreamedRequest::encode_next`], so that a large request can be written while it is
    /// encoded instead of encoded whole first. The call counts as outstanding from now on: the
    /// caller must encode (and send) all of its frames, before any other frame that depends on it.
    ///
    /// ```
    /// # use fifo_rpc_protocol::session::client::{ClientEvent, ClientSession, ClientSessionConfig};
    /// # use fifo_rpc_protocol::{Message, Welcome};
    /// # let mut client = ClientSession::new(ClientSessionConfig::new(7, 4096))?;
    /// # client.hello(&mut Vec::new())?;
    /// # let welcome = Welcome {
    /// #     version: 1, max_frame: 4096, max_message: 1 << 20, max_in_flight: 8, server_pid: 1,
    /// #     instance_id: 99, encoding: "bincode1".into(), options: vec![],
    /// # };
    /// # let mut from_server = Vec::new();
    /// # Message::Welcome(welcome).encode(7, 512, &mut from_server)?;
    /// # client.handle_bytes(&from_server);
    /// # assert!(matches!(client.poll_event(), Some(ClientEvent::Established(_))));
    /// let body = vec![1u8; 100_000];
    /// let mut call = client.start_call_streamed("store", body.len())?;
    /// let mut chunk = Vec::new();
    /// while !call.is_done() {
    ///     chunk.clear();
    ///     call.encode_next("store", &body, 64 * 1024, &mut chunk);
    ///     // write `chunk` (whole frames, at most 64 KiB) here
    /// }
    /// assert_eq!(client.outstanding(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`start_call`](Self::start_call).
    pub fn start_call_streamed(
        &mut self,
        method: &str,
        body_len: usize,
    ) -> Result<StreamedRequest, ProtocolError> {
        let welcome = self.established()?;
        let (max_in_flight, max_message) = (welcome.max_in_flight, welcome.max_message);
        if self.outstanding.len() as u64 >= u64::from(max_in_flight) {
            return Err(ProtocolError::InFlightLimit { max: max_in_flight });
        }
        check_len(method, body_len, max_message)?;
        let prefix = crate::message::method_len(method)?;
        let request = self.next_request_id();
        let fragmenter = Fragmenter::new(
            frame_type::REQUEST,
            self.config.session,
            request,
            1 + method.len() + body_len,
            self.send_max_frame,
        )?;
        self.outstanding.insert(request, Pending::Waiting);
        Ok(StreamedRequest {
            request,
            prefix,
            fragmenter,
        })
    }

    /// Cancels an outstanding call: appends CANCEL to `out` and forgets the call (FR-CANCEL-1); its
    /// answer is discarded when it comes (FR-CALL-5). Its Request ID stays reserved, and counts
    /// against Max In-flight, until that answer arrives (the server answers every call exactly
    /// once, FR-CALL-2, FR-CANCEL-2).
    ///
    /// Returns `false`, appending nothing, if the call is not outstanding (already answered or
    /// cancelled) or the session is not established.
    pub fn cancel(&mut self, request: u32, out: &mut Vec<u8>) -> bool {
        if self.state != SessionState::Established {
            return false;
        }
        match self.outstanding.get_mut(&request) {
            Some(p @ Pending::Waiting) => {
                let header = FrameHeader::new(frame_type::CANCEL, self.config.session, request);
                if encode_frame(&header, &[], &[], self.send_max_frame, out).is_err() {
                    return false; // unreachable: 20 octets always fit
                }
                *p = Pending::Cancelled;
                true
            }
            _ => false,
        }
    }

    /// Appends a NOTIFY (never answered, FR-CALL-7) to `out`.
    ///
    /// # Errors
    /// As [`start_call`](Self::start_call), without the in-flight limit.
    pub fn notify(
        &mut self,
        method: &str,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        let max_message = self.established()?.max_message;
        check_len(method, body.len(), max_message)?;
        let start = out.len();
        if let Err(e) = encode_notify(self.config.session, method, body, self.send_max_frame, out) {
            out.truncate(start);
            return Err(e);
        }
        Ok(())
    }

    /// Appends a PING to `out`; the answer comes out as [`ClientEvent::Pong`] (FR-PING-1).
    ///
    /// # Errors
    /// [`ProtocolError::SessionNotEstablished`] or [`ProtocolError::SessionClosed`] outside
    /// ESTABLISHED.
    pub fn ping(&mut self, opaque: [u8; 8], out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        self.established()?;
        let header = FrameHeader::new(frame_type::PING, self.config.session, 0);
        encode_frame(&header, &[], &opaque, self.send_max_frame, out)?;
        Ok(())
    }

    /// Ends the session normally: appends GOODBYE `NO_ERROR` to `out` (FR-BYE-1). Calls still
    /// outstanding end with [`CallOutcome::Unknown`]. Returns `false`, appending nothing, if there
    /// is no session to end (before [`hello`](Self::hello) or after the session closed).
    pub fn goodbye(&mut self, out: &mut Vec<u8>) -> bool {
        if !matches!(
            self.state,
            SessionState::Handshake | SessionState::Established
        ) {
            return false;
        }
        let goodbye = Goodbye {
            code: GoodbyeCode::NO_ERROR.0,
            last_request: 0,
            message: String::new(),
        };
        // A GOODBYE with an empty message is 28 octets: it fits even the bootstrap limit.
        let _ = Message::Goodbye(goodbye).encode(self.config.session, self.send_max_frame, out);
        self.close(CloseReason::Local, CallOutcome::Unknown);
        true
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The Session ID.
    pub fn session_id(&self) -> u32 {
        self.config.session
    }

    /// The server's WELCOME, once received.
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// The MaxFrame frames are sent with: 512 until WELCOME, then the agreed one (FR-FRAME-7).
    pub fn max_frame(&self) -> usize {
        self.send_max_frame
    }

    /// Outstanding Request IDs, cancelled ones awaiting their answer included.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// `true` if `request` was started, not cancelled and not answered yet.
    pub fn is_waiting(&self, request: u32) -> bool {
        self.outstanding.get(&request) == Some(&Pending::Waiting)
    }

    /// Frames discarded because their Session ID was not this session's (FR-HS-5).
    pub fn foreign_frames(&self) -> u64 {
        self.foreign_frames
    }

    /// Answers discarded because no call was waiting for them (FR-CALL-5).
    pub fn discarded_answers(&self) -> u64 {
        self.discarded_answers
    }

    fn established(&self) -> Result<&Welcome, ProtocolError> {
        match (self.state, &self.welcome) {
            (SessionState::Established, Some(w)) => Ok(w),
            (SessionState::Closed, _) => Err(ProtocolError::SessionClosed),
            _ => Err(ProtocolError::SessionNotEstablished),
        }
    }

    /// Counts up from 1, wrapping, skipping 0 and outstanding IDs (FR-CALL-1). The caller has
    /// checked that fewer than Max In-flight (< 2^32 - 1) IDs are outstanding, so this ends.
    fn next_request_id(&mut self) -> u32 {
        loop {
            let id = self.next_request;
            self.next_request = match id.wrapping_add(1) {
                0 => 1,
                next => next,
            };
            if id != 0 && !self.outstanding.contains_key(&id) {
                return id;
            }
        }
    }

    fn drain_receiver(&mut self) {
        while let Some(event) = self.receiver.poll_event() {
            match event {
                Event::Message { session, message } => self.on_message(session, message),
                Event::Error(error) => self.on_framing_error(error),
                Event::MalformedMessage {
                    session,
                    request,
                    error,
                    ..
                } => {
                    // A malformed answer would leave its call waiting for ever: end it now.
                    if request != 0
                        && session == self.config.session
                        && self.state == SessionState::Established
                    {
                        self.finish_call(request, CallOutcome::Dropped(error.clone()));
                    }
                    self.events.push_back(ClientEvent::FramingError(error));
                }
                // Ignorable types (FR-TYPE-2) and the end of a discarded message: nothing to do.
                _ => {}
            }
        }
    }

    fn on_framing_error(&mut self, error: ProtocolError) {
        // An answer the receiver had to drop (FR-FRAG-3, FR-FRAG-7) would leave its call waiting
        // for ever: end that call now.
        if let ProtocolError::MessageTooLarge {
            session, request, ..
        }
        | ProtocolError::TooManyPartialMessages {
            session, request, ..
        } = error
        {
            if session == self.config.session && self.state == SessionState::Established {
                self.finish_call(request, CallOutcome::Dropped(error.clone()));
            }
        }
        self.events.push_back(ClientEvent::FramingError(error));
    }

    fn on_message(&mut self, session: u32, message: Message) {
        if session != self.config.session {
            self.foreign_frames += 1; // FR-HS-5
            return;
        }
        match self.state {
            SessionState::Handshake => self.on_handshake_message(message),
            SessionState::Established => self.on_established_message(message),
            // Before HELLO nothing of ours can arrive; after the end nothing is acted on.
            SessionState::New | SessionState::Closed => {}
        }
    }

    fn on_handshake_message(&mut self, message: Message) {
        match message {
            Message::Welcome(welcome) => {
                if let Err(reason) = self.check_welcome(&welcome) {
                    return self.violation(frame_type::WELCOME, reason);
                }
                self.send_max_frame = self.config.max_frame.min(usize::from(welcome.max_frame));
                self.state = SessionState::Established;
                self.welcome = Some(welcome.clone());
                self.events.push_back(ClientEvent::Established(welcome));
            }
            Message::Goodbye(goodbye) => {
                self.close(CloseReason::Rejected(goodbye), CallOutcome::NotProcessed);
            }
            other => self.violation(
                other.frame_type(),
                "only WELCOME or GOODBYE may answer HELLO",
            ),
        }
    }

    fn check_welcome(&self, welcome: &Welcome) -> Result<(), &'static str> {
        if welcome.version != VERSION {
            return Err("WELCOME names a version HELLO did not offer");
        }
        if usize::from(welcome.max_frame) < MIN_MAX_FRAME {
            return Err("WELCOME advertises a max frame below 512");
        }
        if welcome.encoding != self.config.encoding {
            return Err("WELCOME names another encoding than HELLO");
        }
        if welcome.options.iter().any(|o| o.option_type < 0x80) {
            return Err("WELCOME carries an unknown critical option");
        }
        Ok(())
    }

    fn on_established_message(&mut self, message: Message) {
        match message {
            Message::Response { request, body } => self.answer(request, CallOutcome::Ok(body)),
            Message::Error {
                request,
                code,
                message,
                details,
            } => {
                let code = ErrorCode(code).normalized();
                self.answer(
                    request,
                    CallOutcome::Remote {
                        code,
                        message,
                        details,
                    },
                );
            }
            Message::Notify { call } => self.events.push_back(ClientEvent::Notify(call)),
            Message::Ping { opaque } => {
                // FR-PING-1. A PONG is 28 octets: it always fits.
                let header = FrameHeader::new(frame_type::PONG, self.config.session, 0);
                let _ = encode_frame(
                    &header,
                    &[],
                    &opaque,
                    self.send_max_frame,
                    &mut self.transmit,
                );
            }
            Message::Pong { opaque } => self.events.push_back(ClientEvent::Pong { opaque }),
            Message::Goodbye(goodbye) => {
                // FR-BYE-3: before GOODBYE SHUTTING_DOWN the server answered every call it started
                // (FR-BYE-2), so the rest were not run; after another code they may have been.
                let outcome =
                    if GoodbyeCode(goodbye.code).normalized() == GoodbyeCode::SHUTTING_DOWN {
                        CallOutcome::NotProcessed
                    } else {
                        CallOutcome::Unknown
                    };
                self.events.push_back(ClientEvent::Goodbye(goodbye.clone()));
                self.close(CloseReason::Goodbye(goodbye), outcome);
            }
            Message::Welcome(_) => self.violation(frame_type::WELCOME, "WELCOME twice"),
            other => self.violation(
                other.frame_type(),
                "a client-to-server message arrived on pipe.out",
            ),
        }
    }

    /// An answer (RESPONSE or ERROR) for `request`.
    fn answer(&mut self, request: u32, outcome: CallOutcome) {
        if !self.finish_call(request, outcome) {
            self.discarded_answers += 1; // FR-CALL-5
        }
    }

    /// Ends one call; returns `false` if no call was waiting for `request`.
    fn finish_call(&mut self, request: u32, outcome: CallOutcome) -> bool {
        match self.outstanding.remove(&request) {
            Some(Pending::Waiting) => {
                self.events
                    .push_back(ClientEvent::Reply { request, outcome });
                true
            }
            Some(Pending::Cancelled) | None => false,
        }
    }

    /// A session error (FR-ERR-2, FR-TYPE-5): queue GOODBYE `PROTOCOL_ERROR` and end the session.
    fn violation(&mut self, frame_type: u8, reason: &'static str) {
        let goodbye = Goodbye {
            code: GoodbyeCode::PROTOCOL_ERROR.0,
            last_request: 0,
            message: reason.to_owned(),
        };
        // The reasons are short: the GOODBYE fits in 512 octets.
        let _ = Message::Goodbye(goodbye).encode(
            self.config.session,
            self.send_max_frame,
            &mut self.transmit,
        );
        self.close(
            CloseReason::ProtocolViolation { frame_type, reason },
            CallOutcome::Unknown,
        );
    }

    /// Ends the session: every waiting call gets `outcome`, then [`ClientEvent::Closed`].
    fn close(&mut self, reason: CloseReason, outcome: CallOutcome) {
        let mut waiting: Vec<u32> = self
            .outstanding
            .iter()
            .filter(|(_, p)| **p == Pending::Waiting)
            .map(|(id, _)| *id)
            .collect();
        waiting.sort_unstable();
        for request in waiting {
            let outcome = outcome.clone();
            self.events
                .push_back(ClientEvent::Reply { request, outcome });
        }
        self.outstanding.clear();
        self.state = SessionState::Closed;
        self.receiver.drop_session(self.config.session);
        self.events.push_back(ClientEvent::Closed { reason });
    }
}

/// FR-FRAG-4: the REQUEST or NOTIFY message (method length octet, method, body) must fit the
/// server's Max Message.
fn check_len(method: &str, body_len: usize, max: u32) -> Result<(), ProtocolError> {
    let len = 1 + method.len() as u64 + body_len as u64;
    if len > u64::from(max) {
        return Err(ProtocolError::PeerMessageLimit { len, max });
    }
    Ok(())
}

/// A call started with [`ClientSession::start_call_streamed`] whose REQUEST frames are still
/// being encoded.
#[derive(Debug, Clone)]
pub struct StreamedRequest {
    request: u32,
    /// The method-length octet that starts the payload (spec §6.3).
    prefix: u8,
    fragmenter: Fragmenter,
}

impl StreamedRequest {
    /// The call's Request ID.
    pub fn request(&self) -> u32 {
        self.request
    }

    /// `true` once every frame has been encoded.
    pub fn is_done(&self) -> bool {
        self.fragmenter.is_done()
    }

    /// Octets, headers included, of the frames not yet encoded.
    pub fn octets_left(&self) -> usize {
        self.fragmenter.octets_left()
    }

    /// Appends the next frames of the REQUEST to `out`: whole frames, as many as fit in `limit`
    /// octets (at least one while any is left). `method` and `body` must be those the call was
    /// started with. Returns how many frames it appended.
    pub fn encode_next(
        &mut self,
        method: &str,
        body: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> usize {
        let prefix = [self.prefix];
        self.fragmenter
            .encode_next(&[&prefix, method.as_bytes(), body], limit, out)
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
