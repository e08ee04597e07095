//! Fuzz target `client_session`: a [`ClientSession`] driven by fuzzer-chosen operations.
//!
//! Input: `[max_frame: u16 BE, session: u32 BE, max_message / 16: u16 BE, max_partial: u8,
//! op ...]`. Each op is one octet and its operands: `hello`, feed raw bytes, feed a message built
//! by a fake server (WELCOME, RESPONSE, ERROR, NOTIFY, PING, PONG, GOODBYE, frames of the wrong
//! direction, foreign sessions, cut or corrupted frames, in any chunking), `start_call`, `cancel`,
//! `notify`, `ping`, `goodbye`, `handle_eof`, or a correct answer to an outstanding call.
//!
//! Invariants, checked after every operation against a model of the calls:
//!
//! * no panic;
//! * every call that `start_call` started and that was not cancelled ends with exactly one
//!   [`ClientEvent::Reply`] (FR-CALL-2, FR-BYE-3, FR-BYE-4); no reply for a cancelled call
//!   (FR-CALL-5); no call is left waiting once [`ClientEvent::Closed`] came;
//! * `outstanding()` counts the waiting calls plus at most the cancelled ones, never more than
//!   the server's Max In-flight (FR-CALL-4); `is_waiting` agrees with the model;
//! * Request IDs are non-zero and never those of a waiting call (FR-CALL-1);
//! * everything the session asks its driver to write is whole valid frames of its own Session ID,
//!   within the MaxFrame in force (512 before WELCOME, FR-FRAME-7), and a refused operation
//!   appends nothing;
//! * a correct RESPONSE to a waiting call is delivered with its body unchanged;
//! * events follow the state machine: one `Established` at most, nothing but framing errors after
//!   `Closed`.

use std::collections::BTreeSet;

use super::input::Input;
use super::wire::{self, MAX_OPS};
use crate::error::ProtocolError;
use crate::frame::{frame_type, MIN_MAX_FRAME};
use crate::message::Message;
use crate::session::client::{
    CallOutcome, ClientEvent, ClientSession, ClientSessionConfig, SessionState,
};

/// What the calls should look like, kept beside the session.
#[derive(Debug, Default)]
struct Model {
    hello_sent: bool,
    established: bool,
    closed: bool,
    max_in_flight: u32,
    max_message_out: u32,
    /// Started, not cancelled, not answered.
    waiting: BTreeSet<u32>,
    /// Cancelled; outstanding until their answer arrives (which the model cannot see).
    cancelled: BTreeSet<u32>,
}

struct Run<'a> {
    input: Input<'a>,
    session: ClientSession,
    id: u32,
    max_message: u32,
    /// `false` once bytes that may leave a partial frame or message in the receiver were fed:
    /// from then on a correct answer may be swallowed by them, as on a real FIFO.
    clean: bool,
    model: Model,
}

pub(super) fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let max_frame = usize::from(input.u16());
    let id = input.u32().max(1);
    let mut config = ClientSessionConfig::new(id, max_frame);
    config.max_message = u32::from(input.u16()) * 16;
    config.max_partial = usize::from(input.u8() % 8);
    let max_message = config.max_message.max(crate::MIN_MAX_MESSAGE);
    let Ok(session) = ClientSession::new(config) else {
        unreachable!("a non-zero Session ID is accepted");
    };
    let mut run = Run {
        input,
        session,
        id,
        max_message,
        clean: true,
        model: Model::default(),
    };
    for _ in 0..MAX_OPS {
        if run.input.clone().rest().is_empty() {
            break;
        }
        run.step();
        run.check();
    }
    // Whatever happened, the end of the stream ends every call.
    run.session.handle_eof();
    run.check();
    assert_eq!(
        run.session.state() == SessionState::Closed,
        run.model.hello_sent
    );
    assert!(run.model.waiting.is_empty());
}

impl Run<'_> {
    fn step(&mut self) {
        let mut out = Vec::new();
        match self.input.u8() % 12 {
            0 => {
                let result = self.session.hello(&mut out);
                assert_eq!(result.is_ok(), !self.model.hello_sent, "hello: {result:?}");
                if result.is_ok() {
                    self.model.hello_sent = true;
                    let sent = wire::check_transmitted(&out, Some(self.id), MIN_MAX_FRAME, "HELLO");
                    assert!(matches!(&sent[..], [(_, Message::Hello(_))]), "{sent:?}");
                } else {
                    assert!(out.is_empty(), "a refused HELLO appended bytes");
                }
            }
            1 => {
                let bytes = self.input.short_bytes().to_vec();
                self.clean = false;
                self.feed(&bytes);
            }
            2 => {
                let bytes = self.server_message();
                self.feed(&bytes);
            }
            3 | 4 => self.start_call(),
            5 => self.cancel(),
            6 => {
                let method = wire::method(&mut self.input);
                let body = wire::body(&mut self.input);
                let result = self.session.notify(&method, &body, &mut out);
                self.check_refusal(&result, &out);
                if result.is_ok() {
                    let sent = self.check_out(&out, "NOTIFY");
                    assert!(
                        matches!(&sent[..], [(_, Message::Notify { call })] if call.method() == method && call.body() == body)
                    );
                }
            }
            7 => {
                let opaque = self.input.u32().to_be_bytes().repeat(2);
                let opaque: [u8; 8] = opaque.try_into().unwrap_or_default();
                let result = self.session.ping(opaque, &mut out);
                self.check_refusal(&result, &out);
                if result.is_ok() {
                    let sent = self.check_out(&out, "PING");
                    assert!(
                        matches!(&sent[..], [(_, Message::Ping { opaque: o })] if *o == opaque)
                    );
                }
            }
            8 => {
                let alive = self.model.hello_sent && !self.model.closed;
                assert_eq!(self.session.goodbye(&mut out), alive, "goodbye");
                if alive {
                    let sent = self.check_out(&out, "GOODBYE");
                    assert!(matches!(&sent[..], [(_, Message::Goodbye(g))] if g.code == 0));
                } else {
                    assert!(out.is_empty());
                }
            }
            9 => self.session.handle_eof(),
            _ => self.answer(),
        }
    }

    /// The MaxFrame the session must respect now.
    fn send_limit(&self) -> usize {
        if self.model.established {
            self.session.max_frame()
        } else {
            MIN_MAX_FRAME
        }
    }

    fn check_out(&self, out: &[u8], what: &str) -> Vec<(u32, Message)> {
        wire::check_transmitted(out, Some(self.id), self.send_limit(), what)
    }

    /// A refused operation appends nothing, and is refused for the right reason.
    fn check_refusal<T: std::fmt::Debug>(&self, result: &Result<T, ProtocolError>, out: &[u8]) {
        let Err(error) = result else {
            assert!(
                self.model.established && !self.model.closed,
                "accepted outside ESTABLISHED: {result:?}"
            );
            return;
        };
        assert!(
            out.is_empty(),
            "a refused operation appended bytes: {error:?}"
        );
        match error {
            ProtocolError::SessionNotEstablished => {
                assert!(!self.model.established && !self.model.closed)
            }
            ProtocolError::SessionClosed => assert!(self.model.closed),
            ProtocolError::InFlightLimit { max } => {
                assert_eq!(*max, self.model.max_in_flight);
                assert!(self.session.outstanding() as u64 >= u64::from(*max));
            }
            ProtocolError::PeerMessageLimit { len, max } => {
                assert!(len > &u64::from(*max));
                assert_eq!(*max, self.model.max_message_out);
            }
            _ => {}
        }
    }

    fn start_call(&mut self) {
        let method = wire::method(&mut self.input);
        let body = wire::body(&mut self.input);
        let mut out = Vec::new();
        let before = self.session.outstanding();
        let result = self.session.start_call(&method, &body, &mut out);
        self.check_refusal(&result, &out);
        let Ok(request) = result else {
            assert_eq!(self.session.outstanding(), before);
            return;
        };
        assert_ne!(request, 0, "FR-CALL-1: Request ID 0");
        assert!(
            !self.model.waiting.contains(&request),
            "FR-CALL-1: Request ID {request} reused while its call waits"
        );
        assert!(
            (before as u64) < u64::from(self.model.max_in_flight),
            "FR-CALL-4: a call started with {before} outstanding"
        );
        self.model.cancelled.remove(&request);
        self.model.waiting.insert(request);
        let sent = self.check_out(&out, "REQUEST");
        assert!(
            matches!(&sent[..], [(_, Message::Request { request: r, call })]
                if *r == request && call.method() == method && call.body() == body),
            "the REQUEST sent is not the call made"
        );
    }

    fn pick(&mut self, from_cancelled: bool) -> u32 {
        let set = if from_cancelled {
            &self.model.cancelled
        } else {
            &self.model.waiting
        };
        let n = self.input.u8();
        if set.is_empty() || n == 0xff {
            return self.input.u32();
        }
        *set.iter().nth(usize::from(n) % set.len()).unwrap_or(&0)
    }

    fn cancel(&mut self) {
        let request = self.pick(false);
        let mut out = Vec::new();
        let expected =
            self.model.established && !self.model.closed && self.model.waiting.contains(&request);
        assert_eq!(
            self.session.cancel(request, &mut out),
            expected,
            "cancel {request}"
        );
        if expected {
            self.model.waiting.remove(&request);
            self.model.cancelled.insert(request);
            assert!(!self.session.is_waiting(request));
            let sent = self.check_out(&out, "CANCEL");
            assert!(matches!(&sent[..], [(_, Message::Cancel { request: r })] if *r == request));
        } else {
            assert!(out.is_empty());
        }
    }

    /// A correct RESPONSE from the server for a waiting (or cancelled) call.
    fn answer(&mut self) {
        let from_cancelled = self.input.u8() % 4 == 0;
        let request = self.pick(from_cancelled);
        let body = wire::body(&mut self.input);
        let max = if self.model.established {
            self.session.max_frame()
        } else {
            MIN_MAX_FRAME
        };
        let mut bytes = Vec::new();
        if crate::encode_response(self.id, request.max(1), &body, max, &mut bytes).is_err() {
            return;
        }
        let waiting = self.clean
            && self.model.established
            && !self.model.closed
            && self.model.waiting.contains(&request);
        let events = self.feed(&bytes);
        if waiting && body.len() <= self.max_message as usize {
            assert!(
                events.iter().any(|e| matches!(e,
                    ClientEvent::Reply { request: r, outcome: CallOutcome::Ok(b) }
                        if *r == request && *b == body)),
                "a correct RESPONSE to waiting call {request} was not delivered intact"
            );
        }
    }

    /// A message from a fake server, mostly well formed, sometimes of a foreign session.
    fn server_message(&mut self) -> Vec<u8> {
        let input = &mut self.input;
        let session = if input.u8() % 8 == 0 {
            input.u32().max(1)
        } else {
            self.id
        };
        let mut out = Vec::new();
        let request = {
            let n = input.u8();
            let waiting: Vec<u32> = self.model.waiting.iter().copied().collect();
            if waiting.is_empty() || n == 0xff {
                input.u32().max(1)
            } else {
                waiting[usize::from(n) % waiting.len()]
            }
        };
        let message = match input.u8() % 12 {
            0 | 1 => Message::Welcome(wire::welcome(input)),
            2 => Message::Response {
                request,
                body: wire::body(input),
            },
            3 => Message::Error {
                request,
                code: input.u16(),
                message: wire::text(input.short_bytes(), 100),
                details: input.short_bytes().to_vec(),
            },
            4 => {
                let method = wire::method(input);
                let Ok(call) = crate::Call::new(&method, &wire::body(input)) else {
                    return out;
                };
                Message::Notify { call }
            }
            5 => Message::Ping {
                opaque: input
                    .u32()
                    .to_le_bytes()
                    .repeat(2)
                    .try_into()
                    .unwrap_or_default(),
            },
            6 => Message::Pong {
                opaque: [input.u8(); 8],
            },
            7 => Message::Goodbye(wire::goodbye(input)),
            8 => {
                // A type of the wrong direction, or any frame at all.
                match input.u8() % 4 {
                    0 => Message::Hello(wire::hello(input)),
                    1 => Message::Cancel { request },
                    _ => {
                        wire::raw_frame(input, session, &mut out);
                        self.clean = false;
                        return out;
                    }
                }
            }
            9 => {
                let t = [frame_type::RESPONSE, frame_type::ERROR, frame_type::NOTIFY]
                    [usize::from(input.u8() % 3)];
                wire::dangling_fragment(input, session, t, &mut out);
                self.clean = false;
                return out;
            }
            _ => {
                // A RESPONSE made of raw parts, possibly cut short mid-message.
                let body = wire::body(input);
                let t = frame_type::RESPONSE;
                self.clean &= wire::message_parts(input, t, session, request, &[&body], &mut out);
                return out;
            }
        };
        self.clean &= wire::encode_mangled(input, session, &message, &mut out);
        out
    }

    /// Feeds bytes as read from `pipe.out`; returns the events they caused (already checked).
    fn feed(&mut self, bytes: &[u8]) -> Vec<ClientEvent> {
        let session = &mut self.session;
        wire::feed_chunked(&mut self.input, bytes, |chunk| session.handle_bytes(chunk));
        self.drain()
    }

    /// Drains and checks the events and the frames the session wants sent.
    fn drain(&mut self) -> Vec<ClientEvent> {
        let events: Vec<ClientEvent> = std::iter::from_fn(|| self.session.poll_event()).collect();
        for event in &events {
            self.on_event(event);
        }
        let mut out = Vec::new();
        if self.session.poll_transmit(&mut out) {
            let sent = self.check_out(&out, "poll_transmit");
            for (_, message) in sent {
                assert!(
                    matches!(message, Message::Pong { .. } | Message::Goodbye(_)),
                    "the session sent {message:?} on its own"
                );
            }
        }
        events
    }

    fn on_event(&mut self, event: &ClientEvent) {
        let live = self.model.established && !self.model.closed;
        match event {
            ClientEvent::Established(welcome) => {
                assert!(self.model.hello_sent && !self.model.established && !self.model.closed);
                self.model.established = true;
                self.model.max_in_flight = welcome.max_in_flight;
                self.model.max_message_out = welcome.max_message;
            }
            ClientEvent::Reply { request, outcome } => {
                assert!(
                    self.model.waiting.remove(request),
                    "a reply for call {request}, which is not waiting (twice, cancelled or never started): {outcome:?}"
                );
            }
            ClientEvent::Notify(_) | ClientEvent::Pong { .. } | ClientEvent::Goodbye(_) => {
                assert!(live, "{event:?} outside ESTABLISHED");
            }
            ClientEvent::Closed { .. } => {
                assert!(self.model.hello_sent && !self.model.closed, "closed twice");
                assert!(
                    self.model.waiting.is_empty(),
                    "calls {:?} left without a reply when the session closed",
                    self.model.waiting
                );
                self.model.closed = true;
                self.model.cancelled.clear();
            }
            // The receiver may now be scanning or hold a false candidate frame.
            ClientEvent::FramingError(_) => self.clean = false,
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn check(&mut self) {
        self.drain();
        let s = &self.session;
        let m = &self.model;
        let expected = match (m.hello_sent, m.established, m.closed) {
            (_, _, true) => SessionState::Closed,
            (false, _, _) => SessionState::New,
            (true, false, _) => SessionState::Handshake,
            (true, true, _) => SessionState::Established,
        };
        assert_eq!(s.state(), expected);
        for &id in &m.waiting {
            assert!(s.is_waiting(id), "call {id} should be waiting");
        }
        let outstanding = s.outstanding();
        assert!(outstanding >= m.waiting.len());
        assert!(outstanding <= m.waiting.len() + m.cancelled.len());
        if m.closed {
            assert_eq!(outstanding, 0);
        }
        if m.established {
            assert!(outstanding as u64 <= u64::from(m.max_in_flight));
        }
    }
}
