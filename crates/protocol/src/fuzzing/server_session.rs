//! Fuzz target `server_session`: a [`ServerSession`] driven by fuzzer-chosen operations.
//!
//! Input: `[max_frame: u16 BE, max_message / 4: u16 BE, max_in_flight: u8, op ...]`. Each op is
//! one octet and its operands: feed raw bytes, feed a message built by a fake client (HELLO of
//! one of four sessions, valid or not; REQUEST, possibly fragmented, cut short or corrupted;
//! NOTIFY, CANCEL, PING, PONG, GOODBYE, frames of the wrong direction, any frame) in any
//! chunking, `handle_drained`, `handle_eof`, `end_session`, `begin_shutdown`, and the driver's
//! side of a call: `start_call`, `complete`, `is_cancelled`, also with stale [`ReplyTo`]s.
//!
//! Invariants, checked after every operation against a model of the calls in flight:
//!
//! * no panic;
//! * `in_flight()` equals the calls handed out as [`ServerEvent::Call`] and neither completed
//!   nor answered `CANCELLED` by the session; `complete` returns `true` exactly once per call of
//!   the current session, `false` for every stale one (FR-CALL-2, FR-SESS-2);
//! * the session never answers, on its own, a call that is in flight (other than `CANCELLED`
//!   for one not started, FR-CANCEL-2, and `SHUTTING_DOWN` while draining, FR-BYE-2): one call,
//!   one terminal message;
//! * `Call` events belong to the established session and carry a non-zero Request ID; `Cancel`
//!   events only for started calls;
//! * after a session ended by the client (GOODBYE, EOF, replaced, `EPIPE`) nothing of it is
//!   transmitted (FR-SESS-2); a slow reader gets GOODBYE `SLOW_READER` only; a drain ends with
//!   GOODBYE `SHUTTING_DOWN` (FR-BYE-2); DRAINING always has a call in flight; CLOSED is final;
//! * everything transmitted is whole valid frames within the server's MaxFrame, handshake answers
//!   within 512 octets (FR-FRAME-7), and the answers the driver encodes with [`ReplyTo`] fit the
//!   agreed MaxFrame.

use super::input::Input;
use super::wire::{self, MAX_OPS};
use crate::codes::{ErrorCode, GoodbyeCode};
use crate::frame::{frame_type, MIN_MAX_FRAME};
use crate::message::{Goodbye, Message};
use crate::session::server::{
    EndReason, ReplyTo, ServerEvent, ServerSession, ServerSessionConfig, SessionState,
};

/// The Session IDs the fake clients use: few, so that replacement and foreign frames happen.
const SESSIONS: [u32; 4] = [1, 2, 0x2a, 0xdead_beef];

#[derive(Debug, Clone, Copy)]
struct Flight {
    reply: ReplyTo,
    started: bool,
    cancel_seen: bool,
    /// Handed out by the current operation: frames of this operation may precede it.
    fresh: bool,
}

/// What one operation did, as the events told.
struct Op {
    ended: Vec<(u32, EndReason)>,
    started: Vec<u32>,
    rejected: Vec<u32>,
    was_draining: bool,
    /// The session was ended by the driver (`end_session`).
    driver: bool,
}

struct Run<'a> {
    input: Input<'a>,
    session: ServerSession,
    current: Option<u32>,
    closed: bool,
    calls: Vec<Flight>,
    /// Replies that must no longer be accepted: completed, or of an ended session.
    stale: Vec<ReplyTo>,
}

pub(super) fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let config = ServerSessionConfig {
        max_frame: usize::from(input.u16()),
        max_message: u32::from(input.u16()) * 4,
        max_in_flight: u32::from(input.u8() % 8),
        server_pid: 7,
        instance_id: 0x1234,
        encodings: vec!["bincode1".to_owned(), "raw".to_owned()],
    };
    let mut run = Run {
        input,
        session: ServerSession::new(config),
        current: None,
        closed: false,
        calls: Vec::new(),
        stale: Vec::new(),
    };
    run.check_state();
    for _ in 0..MAX_OPS {
        if run.input.clone().rest().is_empty() {
            break;
        }
        run.step();
    }
    // The client goes away: nothing of its session may be left.
    run.session.handle_eof();
    run.after(None);
    assert_eq!(run.session.in_flight(), 0);
    assert!(run.session.session_id().is_none());
}

impl Run<'_> {
    fn step(&mut self) {
        let mut ended_by_driver = None;
        match self.input.u8() % 14 {
            0 => {
                let bytes = self.input.short_bytes().to_vec();
                self.feed(&bytes);
            }
            1..=4 => {
                let bytes = self.client_message();
                self.feed(&bytes);
            }
            5 => self.session.handle_drained(),
            6 => self.session.handle_eof(),
            7 => {
                let reason = match self.input.u8() % 4 {
                    0 => EndReason::SlowReader,
                    1 => EndReason::Eof,
                    2 => EndReason::ProtocolViolation { reason: "fuzz" },
                    _ => EndReason::PeerGone,
                };
                ended_by_driver = Some(reason);
                self.session.end_session(reason);
            }
            8 => self.session.begin_shutdown(),
            9 | 10 => self.start(),
            11 | 12 => self.complete(),
            _ => self.stale_reply(),
        }
        self.after(ended_by_driver);
    }

    fn pick(&mut self) -> Option<usize> {
        let n = usize::from(self.input.u8());
        (!self.calls.is_empty()).then(|| n % self.calls.len())
    }

    fn start(&mut self) {
        let Some(i) = self.pick() else { return };
        assert!(
            self.session.start_call(&self.calls[i].reply),
            "start_call refused a call in flight"
        );
        self.calls[i].started = true;
    }

    fn complete(&mut self) {
        let Some(i) = self.pick() else { return };
        let flight = self.calls[i];
        if !flight.started && self.input.u8() % 4 != 0 {
            return; // drivers start calls before completing them, mostly
        }
        let reply = flight.reply;
        let mut out = Vec::new();
        let body = wire::body(&mut self.input);
        let written = if self.input.u8() % 4 == 0 {
            let text = wire::text(self.input.short_bytes(), 300);
            reply
                .encode_error(ErrorCode(self.input.u16()), &text, &mut out)
                .is_ok()
        } else {
            reply.encode_response(&body, &mut out).is_ok()
        };
        assert!(written, "an answer could not be encoded");
        let sent =
            wire::check_transmitted(&out, Some(reply.session()), reply.max_frame(), "answer");
        assert!(reply.max_frame() <= self.session.config().max_frame);
        assert!(
            sent.iter().all(|(_, m)| m.request_id() == reply.request()),
            "an answer of another call"
        );
        assert!(
            self.session.complete(&reply),
            "complete refused a call in flight"
        );
        self.calls.remove(i);
        self.stale.push(reply);
    }

    /// A reply that must be refused: completed, or of a session that ended.
    fn stale_reply(&mut self) {
        if self.stale.is_empty() {
            return;
        }
        let reply = self.stale[usize::from(self.input.u8()) % self.stale.len()];
        assert!(
            self.session.is_cancelled(&reply),
            "a stale call reads as live"
        );
        assert!(!self.session.start_call(&reply), "a stale call was started");
        assert!(
            !self.session.complete(&reply),
            "a stale call was completed (FR-SESS-2)"
        );
    }

    /// A message of a fake client.
    fn client_message(&mut self) -> Vec<u8> {
        let input = &mut self.input;
        let session = SESSIONS[usize::from(input.u8() % 4)];
        let request = match self.calls.len() {
            0 => input.u32().max(1),
            n => {
                let k = usize::from(input.u8());
                if k < 0xf0 {
                    self.calls[k % n].reply.request()
                } else {
                    input.u32().max(1)
                }
            }
        };
        let mut out = Vec::new();
        let message = match input.u8() % 12 {
            0 | 1 => Message::Hello(wire::hello(input)),
            2..=4 => {
                // A REQUEST of raw parts: fragmented, cut short or corrupted as the input says.
                let method = wire::method(input);
                let body = wire::body(input);
                let len = [method.len().min(255) as u8];
                let parts: [&[u8]; 3] = [&len, method.as_bytes(), &body];
                let t = frame_type::REQUEST;
                wire::message_parts(input, t, session, request, &parts, &mut out);
                return out;
            }
            5 => {
                let Ok(call) = crate::Call::new(&wire::method(input), &wire::body(input)) else {
                    return out;
                };
                Message::Notify { call }
            }
            6 | 7 => Message::Cancel { request },
            8 => Message::Ping {
                opaque: [input.u8(); 8],
            },
            9 => match input.u8() % 3 {
                0 => Message::Goodbye(wire::goodbye(input)),
                1 => Message::Pong {
                    opaque: [input.u8(); 8],
                },
                _ => Message::Goodbye(Goodbye {
                    code: 0,
                    last_request: 0,
                    message: String::new(),
                }),
            },
            10 => match input.u8() % 4 {
                0 => Message::Welcome(wire::welcome(input)),
                1 => Message::Response {
                    request,
                    body: wire::body(input),
                },
                _ => {
                    wire::raw_frame(input, session, &mut out);
                    return out;
                }
            },
            _ => {
                let t = [frame_type::REQUEST, frame_type::NOTIFY][usize::from(input.u8() % 2)];
                wire::dangling_fragment(input, session, t, &mut out);
                return out;
            }
        };
        let _ = wire::encode_mangled(input, session, &message, &mut out);
        out
    }

    fn feed(&mut self, bytes: &[u8]) {
        let session = &mut self.session;
        wire::feed_chunked(&mut self.input, bytes, |chunk| session.handle_bytes(chunk));
        if self.input.u8() % 4 == 0 {
            self.session.handle_drained();
        }
    }

    /// Drains events and transmitted frames after one operation and checks them.
    fn after(&mut self, ended_by_driver: Option<EndReason>) {
        let was_draining = self.session.state() == SessionState::Draining;
        let mut ended: Vec<(u32, EndReason)> = Vec::new();
        let mut started: Vec<u32> = Vec::new();
        let mut rejected: Vec<u32> = Vec::new();
        while let Some(event) = self.session.poll_event() {
            match event {
                ServerEvent::SessionStarted { session, .. } => {
                    assert!(!self.closed, "a session started after CLOSED");
                    assert!(self.current.is_none(), "a session started over another");
                    assert!(self.calls.is_empty());
                    self.current = Some(session);
                    started.push(session);
                }
                ServerEvent::HandshakeRejected { session, .. } => rejected.push(session),
                ServerEvent::Call { request, reply, .. } => {
                    assert_ne!(request, 0);
                    assert_eq!(reply.request(), request);
                    assert_eq!(Some(reply.session()), self.current, "a call of no session");
                    // A call with this ID that the session answered CANCELLED in this operation.
                    let session = &self.session;
                    let (gone, kept): (Vec<Flight>, Vec<Flight>) =
                        self.calls.drain(..).partition(|f| {
                            f.reply.request() == request && session.is_cancelled(&f.reply)
                        });
                    self.calls = kept;
                    for flight in gone {
                        assert!(!flight.started, "a started call vanished");
                        self.stale.push(flight.reply);
                    }
                    assert!(
                        !self.calls.iter().any(|f| f.reply.request() == request),
                        "two calls in flight with Request ID {request}"
                    );
                    self.calls.push(Flight {
                        reply,
                        started: false,
                        cancel_seen: false,
                        fresh: true,
                    });
                }
                ServerEvent::Notify { session, .. } => {
                    assert_eq!(Some(session), self.current);
                }
                ServerEvent::Cancel { session, request } => {
                    assert_eq!(Some(session), self.current);
                    let flight = self
                        .calls
                        .iter_mut()
                        .find(|f| f.reply.request() == request)
                        .expect("Cancel event for a call not in flight");
                    assert!(flight.started, "Cancel event for a call not started");
                    assert!(!flight.cancel_seen, "Cancel event twice");
                    flight.cancel_seen = true;
                }
                ServerEvent::SessionEnded { session, reason } => {
                    assert_eq!(
                        Some(session),
                        self.current,
                        "the end of a session not current"
                    );
                    self.current = None;
                    self.stale.extend(self.calls.drain(..).map(|f| f.reply));
                    ended.push((session, reason));
                }
                ServerEvent::FramingError(_) | ServerEvent::Discarded { .. } => {}
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        if let Some(reason) = ended_by_driver {
            assert!(ended.iter().all(|(_, r)| *r == reason));
        }

        let mut tx = Vec::new();
        self.session.poll_transmit(&mut tx);
        let max = self.session.config().max_frame;
        let sent = wire::check_transmitted(&tx, None, max, "poll_transmit");
        let op = Op {
            ended,
            started,
            rejected,
            was_draining,
            driver: ended_by_driver.is_some(),
        };
        self.check_sent(&sent, &tx, &op);
        self.stale.truncate(1024);
        self.calls.iter_mut().for_each(|f| f.fresh = false);
        self.check_state();
    }

    fn check_sent(&mut self, sent: &[(u32, Message)], tx: &[u8], op: &Op) {
        let Op {
            ended,
            started,
            rejected,
            was_draining,
            driver,
        } = op;
        let (was_draining, driver) = (*was_draining, *driver);
        // Handshake answers within the bootstrap 512 octets (FR-FRAME-7).
        let mut decoder = crate::FrameDecoder::new(crate::MAX_FRAME_LIMIT);
        decoder.push(tx);
        while let Some(Ok(frame)) = decoder.decode() {
            if frame.header.frame_type == frame_type::WELCOME {
                assert!(frame.wire_len() <= MIN_MAX_FRAME);
            }
        }
        for (session, message) in sent {
            match message {
                Message::Welcome(_) => {
                    assert!(started.contains(session), "WELCOME without a new session");
                }
                Message::Error { request, code, .. } => {
                    let code = ErrorCode(*code);
                    if Some(*session) != self.current || ended.iter().any(|(s, _)| s == session) {
                        continue;
                    }
                    let pos = self
                        .calls
                        .iter()
                        .position(|f| f.reply.request() == *request);
                    match pos {
                        Some(i) if code == ErrorCode::CANCELLED => {
                            let flight = self.calls[i];
                            if self.session.is_cancelled(&flight.reply) && !flight.cancel_seen {
                                assert!(!flight.started, "CANCELLED for a started call");
                                self.calls.remove(i);
                                self.stale.push(flight.reply);
                            }
                        }
                        Some(_) if code == ErrorCode::SHUTTING_DOWN => {
                            assert!(
                                was_draining || self.session.state() != SessionState::Established,
                                "SHUTTING_DOWN outside a drain"
                            );
                        }
                        Some(i) if self.calls[i].fresh => {}
                        Some(_) => panic!(
                            "the session answered call {request} ({code}) while it is in flight"
                        ),
                        None => {}
                    }
                }
                Message::Response { .. } => panic!("the session sent a RESPONSE on its own"),
                Message::Goodbye(goodbye) => {
                    let code = GoodbyeCode(goodbye.code);
                    if rejected.contains(session) || started.contains(session) {
                        continue;
                    }
                    let by_end = ended.iter().find(|(s, _)| s == session).map(|(_, r)| *r);
                    match by_end {
                        Some(EndReason::SlowReader) => assert_eq!(code, GoodbyeCode::SLOW_READER),
                        Some(EndReason::ShutDown) => {
                            assert_eq!(code, GoodbyeCode::SHUTTING_DOWN)
                        }
                        Some(EndReason::ProtocolViolation { .. }) if !driver => {
                            assert_eq!(code, GoodbyeCode::PROTOCOL_ERROR)
                        }
                        _ => panic!(
                            "GOODBYE {code} of session {session:#x} that neither ended nor was refused"
                        ),
                    }
                }
                _ => {}
            }
        }
        // FR-SESS-2: nothing of a session the client ended is written, unless the same Session ID
        // came back in this operation.
        for (session, reason) in ended {
            if started.contains(session) || rejected.contains(session) {
                continue;
            }
            let of_it: Vec<&Message> = sent
                .iter()
                .filter(|(s, _)| s == session)
                .map(|(_, m)| m)
                .collect();
            match reason {
                EndReason::SlowReader => assert!(
                    matches!(&of_it[..], [Message::Goodbye(g)] if g.code == GoodbyeCode::SLOW_READER.0),
                    "a slow reader gets GOODBYE SLOW_READER alone: {of_it:?}"
                ),
                // The driver's own reasons other than SLOW_READER end it without a GOODBYE.
                _ if driver && *reason != EndReason::SlowReader => assert!(
                    of_it.is_empty(),
                    "frames written after end_session({reason}): {of_it:?}"
                ),
                EndReason::ShutDown | EndReason::ProtocolViolation { .. } => assert!(
                    matches!(of_it.last(), Some(Message::Goodbye(_))),
                    "the session's last frame is GOODBYE: {of_it:?}"
                ),
                _ => assert!(
                    of_it.is_empty(),
                    "FR-SESS-2: frames written for an ended session ({reason}): {of_it:?}"
                ),
            }
        }
    }

    fn check_state(&mut self) {
        let s = &self.session;
        let state = s.state();
        if self.closed {
            assert_eq!(state, SessionState::Closed, "CLOSED is final");
        }
        self.closed = state == SessionState::Closed;
        assert_eq!(s.session_id(), self.current);
        assert_eq!(
            s.in_flight(),
            self.calls.len(),
            "in_flight() disagrees with the calls handed out"
        );
        match state {
            SessionState::Idle | SessionState::Closed => {
                assert!(self.current.is_none());
                assert_eq!(s.in_flight(), 0);
            }
            SessionState::Draining => assert!(s.in_flight() > 0, "DRAINING with nothing in flight"),
            _ => assert!(self.current.is_some()),
        }
        for flight in &self.calls {
            assert_eq!(s.is_cancelled(&flight.reply), flight.cancel_seen);
        }
        if let Some(&reply) = self.stale.last() {
            assert!(s.is_cancelled(&reply));
        }
    }
}
