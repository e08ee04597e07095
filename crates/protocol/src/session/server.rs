//! The server side of a FIFO-RPC/1 session (spec §8) as a state machine without I/O.
//!
//! [`ServerSession`] turns the bytes read from `pipe.in` into [`ServerEvent`]s and queues the frames
//! it answers on its own (WELCOME, handshake GOODBYE, PONG, call errors, the final GOODBYE) for
//! [`ServerSession::poll_transmit`]. It makes no system call, starts no thread and reads no clock;
//! a driver (the `fifo-rpc-server` crate) owns the FIFOs and the handlers.
//!
//! ```text
//! IDLE --HELLO--> ESTABLISHED --client GOODBYE, EOF, EPIPE, new HELLO--> IDLE
//!                      |
//!                      +--begin_shutdown--> DRAINING --last call answered, GOODBYE--> CLOSED
//! ```
//!
//! # Call order
//!
//! 1. Feed every chunk read from `pipe.in` to [`handle_bytes`](ServerSession::handle_bytes), and
//!    end of stream to [`handle_eof`](ServerSession::handle_eof).
//! 2. Drain [`poll_event`](ServerSession::poll_event): open `pipe.out` on
//!    [`ServerEvent::SessionStarted`] (and for a [`ServerEvent::HandshakeRejected`] answer), close
//!    it on [`ServerEvent::SessionEnded`], run calls.
//! 3. Write what [`poll_transmit`](ServerSession::poll_transmit) appends, in order.
//! 4. Before running a call, [`start_call`](ServerSession::start_call); when its answer is
//!    encoded (outside any lock, with [`ReplyTo`]), [`complete`](ServerSession::complete): only if
//!    it returns `true` is the answer written, and then `poll_transmit` again (the final GOODBYE of
//!    a drain follows the last answer).

use std::collections::{HashMap, VecDeque};

use crate::{
    frame_type, Call, ErrorCode, Event, Goodbye, GoodbyeCode, Hello, HelloOption, Message,
    ProtocolError, Receiver, ReceiverConfig, Welcome, MIN_MAX_FRAME, MIN_MAX_MESSAGE, VERSION,
};

/// Longest message text the session puts in an ERROR or GOODBYE it writes itself.
const MAX_TEXT: usize = 200;

/// Most refused messages remembered until their last fragment (FR-FRAG-5).
const REFUSED_KEPT: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Current {
    id: u32,
    max_frame: usize,
    peer_max_message: u32,
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    seq: u64,
    started: bool,
    cancel_requested: bool,
}

/// The server session state machine. See the [module docs](self) for the call order.
#[derive(Debug)]
pub struct ServerSession {
    cfg: ServerSessionConfig,
    receiver: Receiver,
    state: SessionState,
    current: Option<Current>,
    in_flight: HashMap<u32, InFlight>,
    next_seq: u64,
    last_request: u32,
    events: VecDeque<ServerEvent>,
    tx: Vec<u8>,
    /// Requests of the current session refused during reassembly, with the code to answer.
    refused: Vec<(u32, ErrorCode)>,
}

impl ServerSession {
    /// A session machine in state IDLE. Limits below the protocol minimums are raised to them.
    pub fn new(mut cfg: ServerSessionConfig) -> Self {
        cfg.max_frame = cfg.max_frame.clamp(MIN_MAX_FRAME, u16::MAX as usize);
        cfg.max_message = cfg.max_message.max(MIN_MAX_MESSAGE);
        cfg.max_in_flight = cfg.max_in_flight.max(1);
        let receiver = Receiver::new(ReceiverConfig {
            max_frame: cfg.max_frame,
            max_message: cfg.max_message,
            max_partial: cfg.max_in_flight as usize + 1, // FR-FRAG-7
        });
        let reserve = (cfg.max_in_flight as usize).min(4096);
        Self {
            receiver,
            state: SessionState::Idle,
            current: None,
            in_flight: HashMap::with_capacity(reserve),
            next_seq: 1,
            last_request: 0,
            events: VecDeque::with_capacity(reserve.min(256)),
            tx: Vec::with_capacity(cfg.max_frame),
            refused: Vec::new(),
            cfg,
        }
    }

    /// The configuration in force (after clamping).
    pub fn config(&self) -> &ServerSessionConfig {
        &self.cfg
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The Session ID of the established (or draining) session.
    pub fn session_id(&self) -> Option<u32> {
        self.current.map(|c| c.id)
    }

    /// Calls accepted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The last Request ID accepted in the current session, 0 if none.
    pub fn last_request(&self) -> u32 {
        self.last_request
    }

    /// `true` once the session machine has shut down (state CLOSED): the driver flushes
    /// [`poll_transmit`](Self::poll_transmit) and exits.
    pub fn is_closed(&self) -> bool {
        self.state == SessionState::Closed
    }

    /// `true` if [`poll_event`](Self::poll_event) has something.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Feeds bytes read from `pipe.in`, in any split (FR-DEC-1).
    pub fn handle_bytes(&mut self, bytes: &[u8]) {
        self.receiver.push(bytes);
        self.pump();
    }

    /// `pipe.in` was read empty (a non-blocking read found no data, or returned less than asked):
    /// an incomplete candidate frame still held is stray bytes, since clients write every frame
    /// with one atomic write. It is abandoned so that it cannot hold up the frames behind it
    /// (FR-DEC-7): `TRUNCATED_FRAME` is reported and the octets after it are scanned.
    pub fn handle_drained(&mut self) {
        if self.receiver.abandon_partial() {
            self.pump();
        }
    }

    /// Hands back the payload buffer of a call that has run ([`Call::into_payload`]), for the
    /// next fragmented request to reuse ([`Reassembler::recycle`](crate::Reassembler::recycle)):
    /// a server answering a stream of large requests then allocates no new buffer for each.
    ///
    /// [`Call::into_payload`]: crate::Call::into_payload
    pub fn recycle(&mut self, payload: Vec<u8>) {
        self.receiver.recycle(payload);
    }

    /// End of stream on `pipe.in` (a read of 0 octets or `POLLHUP`).
    ///
    /// Reports truncated frames and messages (FR-DEC-5, FR-FRAG-6), ends an established session
    /// (FR-FIFO-14) and resets the receiver for the next writer.
    pub fn handle_eof(&mut self) {
        self.receiver.finish();
        self.pump();
        self.receiver.reset();
        if self.current.is_some() {
            self.end(EndReason::Eof);
        }
    }

    /// Ends the current session for a reason the driver observed: [`EndReason::PeerGone`]
    /// (`EPIPE`, `ENXIO` opening `pipe.out`) or [`EndReason::SlowReader`] (write timeout; queues
    /// GOODBYE `SLOW_READER` as the only frame to transmit). Other reasons end it without a
    /// GOODBYE. No effect without a session.
    pub fn end_session(&mut self, reason: EndReason) {
        if self.current.is_some() {
            self.end(reason);
        }
    }

    /// Begins a graceful shutdown (FR-BYE-2): from now on every REQUEST is answered with ERROR
    /// `SHUTTING_DOWN`; when the calls already started are answered, GOODBYE `SHUTTING_DOWN` is
    /// queued and the state becomes CLOSED. Without a session the state becomes CLOSED at once.
    pub fn begin_shutdown(&mut self) {
        match self.state {
            SessionState::Idle => self.state = SessionState::Closed,
            SessionState::Established => {
                self.state = SessionState::Draining;
                self.maybe_finish_drain();
            }
            SessionState::Draining | SessionState::Closed => {}
        }
    }

    /// The next event, in the order the frames arrived.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Appends the frames the session queued on its own to `out` and returns how many octets,
    /// or `None` if there were none. Whole frames, in order; the driver writes them to `pipe.out`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<usize> {
        if self.tx.is_empty() {
            return None;
        }
        let n = self.tx.len();
        out.extend_from_slice(&self.tx);
        self.tx.clear();
        Some(n)
    }

    /// Marks a call as started. Returns `false` if it must not run: it was cancelled before it
    /// started (ERROR `CANCELLED` is already queued, FR-CANCEL-2) or its session ended.
    pub fn start_call(&mut self, reply: &ReplyTo) -> bool {
        if !self.is_current(reply.session) {
            return false;
        }
        match self.in_flight.get_mut(&reply.request) {
            Some(f) if f.seq == reply.seq => {
                f.started = true;
                true
            }
            _ => false,
        }
    }

    /// `true` if the client cancelled the call, or the call no longer belongs to the current
    /// session; a long handler polls this and stops early.
    pub fn is_cancelled(&self, reply: &ReplyTo) -> bool {
        match self.in_flight.get(&reply.request) {
            Some(f) if f.seq == reply.seq => f.cancel_requested,
            _ => true,
        }
    }

    /// Completes a call whose answer the driver has encoded. Returns `true` if the call still
    /// belongs to the current session, so the answer MUST be written now; `false` if it MUST NOT
    /// be (its session ended, FR-SESS-2, or it was answered with CANCELLED). Call
    /// [`poll_transmit`](Self::poll_transmit) after writing: the final GOODBYE of a drain is
    /// queued here.
    pub fn complete(&mut self, reply: &ReplyTo) -> bool {
        match self.in_flight.get(&reply.request) {
            Some(f) if f.seq == reply.seq && self.is_current(reply.session) => {
                self.in_flight.remove(&reply.request);
                if self.state == SessionState::Draining {
                    self.maybe_finish_drain();
                }
                true
            }
            _ => false,
        }
    }

    fn is_current(&self, session: u32) -> bool {
        self.current.is_some_and(|c| c.id == session)
    }

    /// Turns receiver events into session events.
    fn pump(&mut self) {
        while let Some(event) = self.receiver.poll_event() {
            match event {
                Event::Message { session, message } => self.on_message(session, message),
                Event::Ignored { frame_type } => self.events.push_back(ServerEvent::Discarded {
                    frame_type,
                    reason: DiscardReason::Ignorable,
                }),
                Event::MessageDiscarded {
                    session,
                    request,
                    frame_type,
                } => self.on_message_discarded(session, request, frame_type),
                Event::MalformedMessage {
                    session,
                    request,
                    frame_type,
                    error,
                } => self.on_bad_payload(session, request, frame_type, error),
                Event::Error(err) => self.on_framing_error(err),
                // Receiver events this version of the session does not know are bytes only.
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
    }

    /// A complete message with a malformed payload (FR-TYPE-4): reported like any framing error;
    /// a REQUEST of the current session is answered `BAD_REQUEST` and the session goes on
    /// (FR-CALL-6).
    fn on_bad_payload(&mut self, session: u32, request: u32, frame_type: u8, error: ProtocolError) {
        if frame_type == frame_type::REQUEST
            && request != 0
            && self.is_current(session)
            && !self.in_flight.contains_key(&request)
        {
            let text = format!("malformed request: {error}");
            self.queue_error(request, ErrorCode::BAD_REQUEST, &text);
        }
        self.events.push_back(ServerEvent::FramingError(error));
    }

    fn on_framing_error(&mut self, err: ProtocolError) {
        // A message refused while being reassembled is answered when its last fragment has
        // arrived ([`Event::MessageDiscarded`]); remember which code it gets. Other errors concern
        // bytes only (FR-ERR-1).
        let refused = match err {
            ProtocolError::MessageTooLarge {
                session, request, ..
            } => Some((session, request, ErrorCode::MESSAGE_TOO_LARGE)),
            ProtocolError::TooManyPartialMessages {
                session, request, ..
            } => Some((session, request, ErrorCode::OVERLOADED)),
            _ => None,
        };
        if let Some((session, request, code)) = refused {
            if request != 0 && self.is_current(session) {
                if self.refused.len() >= REFUSED_KEPT {
                    self.refused.remove(0);
                }
                self.refused.push((request, code));
            }
        }
        self.events.push_back(ServerEvent::FramingError(err));
    }

    /// The last fragment of a refused message arrived: answer a REQUEST of this session
    /// (FR-FRAG-5), so its client is not left waiting.
    fn on_message_discarded(&mut self, session: u32, request: u32, frame_type: u8) {
        let code = match self.refused.iter().position(|&(r, _)| r == request) {
            Some(i) => self.refused.remove(i).1,
            None => ErrorCode::MESSAGE_TOO_LARGE,
        };
        if frame_type != frame_type::REQUEST
            || !self.is_current(session)
            || self.in_flight.contains_key(&request)
        {
            return;
        }
        let text = if code == ErrorCode::OVERLOADED {
            format!(
                "more than {} messages in reassembly; wait for answers",
                self.cfg.max_in_flight
            )
        } else {
            format!(
                "request exceeds the server's max message of {} bytes",
                self.cfg.max_message
            )
        };
        self.queue_error(request, code, &text);
    }

    fn on_message(&mut self, session: u32, message: Message) {
        if let Message::Hello(hello) = message {
            return self.on_hello(session, hello);
        }
        let frame_type = message.frame_type();
        let Some(current) = self.current else {
            // FR-HS-4: before a session only HELLO is acted on.
            self.events.push_back(ServerEvent::Discarded {
                frame_type,
                reason: DiscardReason::NoSession { session },
            });
            return;
        };
        if current.id != session {
            self.events.push_back(ServerEvent::Discarded {
                frame_type,
                reason: DiscardReason::ForeignSession { session },
            });
            return;
        }
        match message {
            Message::Request { request, call } => self.on_request(current, request, call),
            Message::Notify { call } => {
                if self.state == SessionState::Draining {
                    self.events.push_back(ServerEvent::Discarded {
                        frame_type,
                        reason: DiscardReason::ShuttingDown,
                    });
                } else {
                    self.events.push_back(ServerEvent::Notify { session, call });
                }
            }
            Message::Cancel { request } => self.on_cancel(session, request),
            Message::Ping { opaque } => {
                // FR-PING-1
                let pong = Message::Pong { opaque };
                if pong
                    .encode(session, current.max_frame, &mut self.tx)
                    .is_err()
                {
                    debug_assert!(false, "PONG always fits");
                }
            }
            Message::Pong { .. } => {
                self.events.push_back(ServerEvent::Discarded {
                    frame_type,
                    reason: DiscardReason::Unsolicited,
                });
            }
            Message::Goodbye(goodbye) => {
                // FR-BYE-1: drop queued calls and unwritten answers.
                self.end(EndReason::Goodbye {
                    code: GoodbyeCode(goodbye.code),
                });
            }
            // FR-TYPE-5, FR-ERR-2: WELCOME, RESPONSE and ERROR travel from server to client only.
            _ => self.violation("a frame type that only the server sends"),
        }
    }

    fn on_request(&mut self, current: Current, request: u32, call: Call) {
        if self.state == SessionState::Draining {
            // FR-BYE-2 (1): not started, answered SHUTTING_DOWN.
            self.queue_error(
                request,
                ErrorCode::SHUTTING_DOWN,
                "the server is shutting down; reconnect and retry",
            );
            return;
        }
        if self.in_flight.contains_key(&request) {
            // FR-CALL-1 broken: the client reused an outstanding Request ID.
            self.violation("request id reused while its call is outstanding");
            return;
        }
        if self.in_flight.len() >= self.cfg.max_in_flight as usize {
            // FR-CALL-4
            let text = format!(
                "more than {} calls in flight; wait for answers",
                self.cfg.max_in_flight
            );
            self.queue_error(request, ErrorCode::OVERLOADED, &text);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.insert(
            request,
            InFlight {
                seq,
                started: false,
                cancel_requested: false,
            },
        );
        self.last_request = request;
        let reply = ReplyTo {
            session: current.id,
            request,
            seq,
            max_frame: current.max_frame,
            peer_max_message: current.peer_max_message,
        };
        self.events.push_back(ServerEvent::Call {
            request,
            call,
            reply,
        });
    }

    fn on_cancel(&mut self, session: u32, request: u32) {
        let Some(flight) = self.in_flight.get_mut(&request) else {
            return; // FR-CANCEL-2: unknown Request ID, ignored
        };
        if flight.started {
            if !flight.cancel_requested {
                flight.cancel_requested = true;
                self.events
                    .push_back(ServerEvent::Cancel { session, request });
            }
            return;
        }
        // FR-CANCEL-2: not started: never start it, answer CANCELLED.
        let seq = flight.seq;
        self.in_flight.remove(&request);
        self.events
            .retain(|e| !matches!(e, ServerEvent::Call { reply, .. } if reply.seq == seq));
        self.queue_error(request, ErrorCode::CANCELLED, "cancelled before it started");
        if self.state == SessionState::Draining {
            self.maybe_finish_drain();
        }
    }

    fn on_hello(&mut self, session: u32, hello: Hello) {
        if let Some(current) = self.current {
            if current.id == session {
                return self.violation("HELLO repeated within the session");
            }
            // FR-SESS-1: the previous client is gone.
            self.end(EndReason::Replaced { by: session });
        }
        let refusal = if self.state == SessionState::Closed {
            Some((
                GoodbyeCode::SHUTTING_DOWN,
                "the server is shutting down".to_owned(),
            ))
        } else {
            check_hello(&hello, &self.cfg.encodings)
        };
        if let Some((code, text)) = refusal {
            // FR-HS-2: GOODBYE with the client's Session ID, within the bootstrap 512 octets.
            queue_goodbye(session, code, 0, &text, MIN_MAX_FRAME, &mut self.tx);
            self.events
                .push_back(ServerEvent::HandshakeRejected { session, code });
            return;
        }
        let welcome = Welcome {
            version: VERSION,
            max_frame: self.cfg.max_frame as u16, // clamped to u16 in new()
            max_message: self.cfg.max_message,
            max_in_flight: self.cfg.max_in_flight,
            server_pid: self.cfg.server_pid,
            instance_id: self.cfg.instance_id,
            encoding: hello.encoding.clone(),
            options: Vec::new(),
        };
        if Message::Welcome(welcome)
            .encode(session, MIN_MAX_FRAME, &mut self.tx)
            .is_err()
        {
            debug_assert!(
                false,
                "WELCOME with a checked encoding name fits 512 octets"
            );
        }
        self.current = Some(Current {
            id: session,
            max_frame: self.cfg.max_frame.min(usize::from(hello.max_frame)),
            peer_max_message: hello.max_message,
        });
        self.last_request = 0;
        self.state = SessionState::Established;
        self.events
            .push_back(ServerEvent::SessionStarted { session, hello });
    }

    /// FR-ERR-2: GOODBYE `PROTOCOL_ERROR` after what is queued, then end the session.
    fn violation(&mut self, reason: &'static str) {
        if let Some(current) = self.current {
            queue_goodbye(
                current.id,
                GoodbyeCode::PROTOCOL_ERROR,
                self.last_request,
                reason,
                current.max_frame,
                &mut self.tx,
            );
        }
        self.end(EndReason::ProtocolViolation { reason });
    }

    fn maybe_finish_drain(&mut self) {
        if self.state == SessionState::Draining && self.in_flight.is_empty() {
            if let Some(current) = self.current {
                // FR-BYE-2 (3): Last Request ID is the last REQUEST started.
                queue_goodbye(
                    current.id,
                    GoodbyeCode::SHUTTING_DOWN,
                    self.last_request,
                    "the server is shutting down",
                    current.max_frame,
                    &mut self.tx,
                );
            }
            self.end(EndReason::ShutDown);
        }
    }

    /// Ends the current session: forgets its calls and partial messages, drops its unwritten
    /// frames unless the reason sends a GOODBYE after them, and moves to IDLE (CLOSED if draining).
    fn end(&mut self, reason: EndReason) {
        let Some(current) = self.current.take() else {
            return;
        };
        match reason {
            // The GOODBYE is already queued after the session's frames.
            EndReason::ProtocolViolation { .. } | EndReason::ShutDown => {}
            EndReason::SlowReader => {
                self.tx.clear();
                queue_goodbye(
                    current.id,
                    GoodbyeCode::SLOW_READER,
                    self.last_request,
                    "answers were not read within the write timeout",
                    current.max_frame,
                    &mut self.tx,
                );
            }
            // FR-SESS-2, FR-BYE-1: nothing more is written for this session.
            _ => self.tx.clear(),
        }
        self.in_flight.clear();
        let id = current.id;
        self.events.retain(|e| match e {
            ServerEvent::Call { reply, .. } => reply.session != id,
            ServerEvent::Notify { session, .. } | ServerEvent::Cancel { session, .. } => {
                *session != id
            }
            _ => true,
        });
        self.receiver.drop_session(id);
        self.refused.clear();
        self.last_request = 0;
        self.state = if matches!(self.state, SessionState::Draining | SessionState::Closed) {
            SessionState::Closed
        } else {
            SessionState::Idle
        };
        self.events.push_back(ServerEvent::SessionEnded {
            session: id,
            reason,
        });
    }

    fn queue_error(&mut self, request: u32, code: ErrorCode, text: &str) {
        if let Some(current) = self.current {
            if encode_error_frame(
                current.id,
                request,
                code,
                text,
                current.max_frame,
                &mut self.tx,
            )
            .is_err()
            {
                debug_assert!(false, "short ERROR always encodes");
            }
        }
    }
}

/// FR-HS-2: the reason to refuse a HELLO, in the spec's order, or `None` to accept it.
fn check_hello(hello: &Hello, encodings: &[String]) -> Option<(GoodbyeCode, String)> {
    if !(hello.min_version..=hello.max_version).contains(&VERSION) {
        let text = format!(
            "no common version: the client offers {}..={}, the server supports {VERSION}..={VERSION}",
            hello.min_version, hello.max_version
        );
        return Some((GoodbyeCode::VERSION_UNSUPPORTED, text));
    }
    if usize::from(hello.max_frame) < MIN_MAX_FRAME || hello.max_message < MIN_MAX_MESSAGE {
        let text = format!(
            "max frame {} or max message {} below the minimum of {MIN_MAX_FRAME} and {MIN_MAX_MESSAGE}",
            hello.max_frame, hello.max_message
        );
        return Some((GoodbyeCode::LIMITS_UNACCEPTABLE, text));
    }
    if !encodings.contains(&hello.encoding) {
        let text = format!(
            "encoding not served; the server accepts {}",
            encodings.join(", ")
        );
        return Some((GoodbyeCode::ENCODING_UNSUPPORTED, text));
    }
    if let Some(HelloOption { option_type, .. }) =
        hello.options.iter().find(|o| o.option_type < 0x80)
    {
        let text = format!("unknown critical option {option_type:#04x}");
        return Some((GoodbyeCode::UNSUPPORTED_OPTION, text));
    }
    None
}

/// Cuts `text` to at most [`MAX_TEXT`] octets at a character boundary.
fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn encode_error_frame(
    session: u32,
    request: u32,
    code: ErrorCode,
    text: &str,
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    crate::encode_error(session, request, code.0, clip(text), &[], max_frame, out).map(|_| ())
}

fn queue_goodbye(
    session: u32,
    code: GoodbyeCode,
    last_request: u32,
    text: &str,
    max_frame: usize,
    out: &mut Vec<u8>,
) {
    let goodbye = Goodbye {
        code: code.0,
        last_request,
        message: clip(text).to_owned(),
    };
    if crate::encode_goodbye(session, &goodbye, max_frame, out).is_err() {
        debug_assert!(false, "a GOODBYE with a clipped message fits 512 octets");
    }
}

mod types;

pub use types::{
    DiscardReason, EndReason, ReplyTo, ServerEvent, ServerSessionConfig, SessionState,
};

#[cfg(test)]
mod tests;
