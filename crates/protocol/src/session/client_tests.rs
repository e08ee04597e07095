//! Unit tests of [`ClientSession`](super::ClientSession), with in-memory bytes.

use super::*;
use crate::{encode_error, encode_response, HelloOption};

const SID: u32 = 0x2a;

fn welcome(max_frame: u16, max_message: u32, max_in_flight: u32) -> Welcome {
    Welcome {
        version: 1,
        max_frame,
        max_message,
        max_in_flight,
        server_pid: 4243,
        instance_id: 0x0123_4567_89ab_cdef,
        encoding: "bincode1".into(),
        options: vec![],
    }
}

fn bytes_of(message: Message, session: u32) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(session, 65535, &mut out).unwrap();
    out
}

/// What the server would read: every message in `bytes`.
fn decode(bytes: &[u8]) -> Vec<(u32, Message)> {
    let mut rx = Receiver::new(ReceiverConfig {
        max_frame: 65535,
        max_message: u32::MAX,
        max_partial: 16,
    });
    rx.push(bytes);
    let mut out = Vec::new();
    while let Some(event) = rx.poll_event() {
        match event {
            Event::Message { session, message } => out.push((session, message)),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

fn events(s: &mut ClientSession) -> Vec<ClientEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// A session after HELLO and WELCOME (local MaxFrame 4096).
fn established(max_frame: u16, max_message: u32, max_in_flight: u32) -> ClientSession {
    let mut s = ClientSession::new(ClientSessionConfig::new(SID, 4096)).unwrap();
    s.hello(&mut Vec::new()).unwrap();
    let w = welcome(max_frame, max_message, max_in_flight);
    s.handle_bytes(&bytes_of(Message::Welcome(w.clone()), SID));
    assert_eq!(events(&mut s), [ClientEvent::Established(w)]);
    s
}

fn response(request: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_response(SID, request, body, 4096, &mut out).unwrap();
    out
}

fn reply(request: u32, body: &[u8]) -> ClientEvent {
    ClientEvent::Reply {
        request,
        outcome: CallOutcome::Ok(body.to_vec()),
    }
}

// FR-HS-1, FR-FRAME-7, FR-FRAME-4: HELLO first, within 512 octets, nothing else before WELCOME.
#[test]
fn hello_first_and_nothing_before_welcome() {
    assert_eq!(
        ClientSession::new(ClientSessionConfig::new(0, 4096)).unwrap_err(),
        ProtocolError::InvalidSession
    );
    let mut cfg = ClientSessionConfig::new(SID, 4096);
    cfg.client_pid = 4242;
    let mut s = ClientSession::new(cfg).unwrap();
    assert_eq!(s.state(), SessionState::New);
    let mut out = Vec::new();
    assert_eq!(
        s.start_call("echo", b"", &mut out),
        Err(ProtocolError::SessionNotEstablished)
    );
    s.hello(&mut out).unwrap();
    assert!(out.len() <= 512);
    let hello = Hello {
        min_version: 1,
        max_version: 1,
        max_frame: 4096,
        max_message: 16 << 20,
        client_pid: 4242,
        encoding: "bincode1".into(),
        options: vec![],
    };
    assert_eq!(decode(&out), [(SID, Message::Hello(hello))]);
    assert_eq!(s.state(), SessionState::Handshake);
    assert_eq!(s.hello(&mut out), Err(ProtocolError::SessionClosed));
    let before = out.len();
    assert_eq!(
        s.start_call("echo", b"", &mut out),
        Err(ProtocolError::SessionNotEstablished)
    );
    assert!(s.notify("n", b"", &mut out).is_err());
    assert!(!s.cancel(1, &mut out));
    assert_eq!(out.len(), before, "nothing but HELLO before WELCOME");
}

// FR-FRAME-6, FR-FRAME-7: the agreed MaxFrame is the smaller one; requests fragment to it.
#[test]
fn agreed_max_frame_is_the_smaller_and_requests_fragment_to_it() {
    let mut s = established(1024, 1 << 20, 8);
    assert_eq!(s.max_frame(), 1024);
    let body = vec![0xab; 5000];
    let mut out = Vec::new();
    let id = s.start_call("echo", &body, &mut out).unwrap();
    let mut pos = 0;
    let mut frames = 0;
    while pos < out.len() {
        let len = usize::from(u16::from_be_bytes([out[pos + 2], out[pos + 3]]));
        assert!(len <= 1024);
        pos += len;
        frames += 1;
    }
    assert_eq!(frames, (1 + 4 + 5000usize).div_ceil(1024 - 20));
    let [(SID, Message::Request { request, call })] = &decode(&out)[..] else {
        panic!()
    };
    assert_eq!(
        (*request, call.method(), call.body()),
        (id, "echo", &body[..])
    );
}

// FR-CALL-1: IDs count up from 1, wrap, skip 0 and outstanding IDs.
#[test]
fn request_ids_count_up_wrap_and_skip_outstanding() {
    let mut s = established(4096, 1 << 20, 100);
    let mut out = Vec::new();
    assert_eq!(s.start_call("a", b"", &mut out), Ok(1));
    assert_eq!(s.start_call("a", b"", &mut out), Ok(2));
    s.next_request = u32::MAX - 1;
    assert_eq!(s.start_call("a", b"", &mut out), Ok(u32::MAX - 1));
    assert_eq!(s.start_call("a", b"", &mut out), Ok(u32::MAX));
    assert_eq!(
        s.start_call("a", b"", &mut out),
        Ok(3),
        "0, 1 and 2 skipped"
    );
    s.handle_bytes(&response(1, b""));
    s.next_request = 1;
    assert_eq!(s.start_call("a", b"", &mut out), Ok(1), "1 is free again");
}

// FR-CALL-3, FR-DEC-1: answers matched by Request ID in any order, any read split.
#[test]
fn answers_match_by_id_in_any_order_even_byte_at_a_time() {
    let mut s = ClientSession::new(ClientSessionConfig::new(SID, 4096)).unwrap();
    let mut to_server = Vec::new();
    s.hello(&mut to_server).unwrap();
    let mut wire = bytes_of(Message::Welcome(welcome(4096, 1 << 20, 8)), SID);
    // The calls are started once WELCOME is in; the server then answers 3, 1, 2, the middle
    // one fragmented across frames.
    for (i, byte) in wire.clone().iter().enumerate() {
        s.handle_bytes(std::slice::from_ref(byte));
        let established = matches!(s.poll_event(), Some(ClientEvent::Established(_)));
        assert_eq!(established, i == wire.len() - 1);
    }
    for _ in 0..3 {
        s.start_call("echo", b"x", &mut to_server).unwrap();
    }
    wire.clear();
    wire.extend(response(3, b"three"));
    wire.extend(response(1, &[1; 9000]));
    wire.extend(response(2, b"two"));
    for byte in &wire {
        s.handle_bytes(std::slice::from_ref(byte));
    }
    assert_eq!(
        events(&mut s),
        [reply(3, b"three"), reply(1, &[1; 9000]), reply(2, b"two")]
    );
    assert_eq!(s.outstanding(), 0);
}

// FR-CALL-4: at most Max In-flight outstanding; cancelled calls count until answered.
#[test]
fn in_flight_limit_counts_cancelled_calls_until_answered() {
    let mut s = established(4096, 1 << 20, 2);
    let mut out = Vec::new();
    let a = s.start_call("m", b"", &mut out).unwrap();
    let b = s.start_call("m", b"", &mut out).unwrap();
    let len = out.len();
    assert_eq!(
        s.start_call("m", b"", &mut out),
        Err(ProtocolError::InFlightLimit { max: 2 })
    );
    assert_eq!(out.len(), len, "nothing appended on error");
    assert!(s.cancel(a, &mut out));
    assert_eq!(
        s.start_call("m", b"", &mut out),
        Err(ProtocolError::InFlightLimit { max: 2 })
    );
    s.handle_bytes(&response(b, b"ok"));
    let c = s.start_call("m", b"", &mut out).unwrap();
    assert_ne!(c, a, "a cancelled ID is not reused before its answer");
    s.handle_bytes(&response(a, b"late"));
    assert_eq!(events(&mut s), [reply(b, b"ok")]);
    assert!(s.start_call("m", b"", &mut out).is_ok());
}

// FR-FRAG-4: the client fails a request over the server's Max Message locally.
#[test]
fn request_over_server_max_message_fails_locally() {
    let mut s = established(4096, 4096, 8);
    let mut out = Vec::new();
    // 1 + 4 + 4091 = 4096 octets: exactly Max Message is allowed.
    assert!(s.start_call("echo", &[0; 4091], &mut out).is_ok());
    let len = out.len();
    assert_eq!(
        s.start_call("echo", &[0; 4092], &mut out),
        Err(ProtocolError::PeerMessageLimit {
            len: 4097,
            max: 4096
        })
    );
    assert_eq!(
        s.notify("echo", &[0; 4092], &mut out),
        Err(ProtocolError::PeerMessageLimit {
            len: 4097,
            max: 4096
        })
    );
    assert!(matches!(
        s.start_call("", b"", &mut out),
        Err(ProtocolError::EmptyField { .. })
    ));
    assert!(matches!(
        s.start_call(&"m".repeat(256), b"", &mut out),
        Err(ProtocolError::FieldTooLong { .. })
    ));
    assert_eq!(out.len(), len);
    assert_eq!(s.outstanding(), 1);
}

// FR-FRAG-1, FR-FRAG-4, FR-CALL-4: a streamed call is checked like any other, gets the next
// Request ID, encodes exactly the frames `start_call` would, and its answer is matched to it.
#[test]
fn streamed_call_encodes_the_same_frames_and_gets_its_answer() {
    let mut s = established(4096, 1 << 20, 2);
    let body: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    let mut whole = Vec::new();
    let first = s.start_call("put", &body, &mut whole).unwrap();
    let mut call = s.start_call_streamed("put", body.len()).unwrap();
    assert_eq!(call.request(), first + 1);
    let mut streamed = Vec::new();
    while !call.is_done() {
        let before = streamed.len();
        assert!(call.encode_next("put", &body, 8192, &mut streamed) >= 1);
        assert!(streamed.len() - before <= 8192);
    }
    match &decode(&streamed)[..] {
        [(SID, Message::Request { request, call: got })] => {
            assert_eq!(*request, call.request());
            assert_eq!((got.method(), got.body()), ("put", &body[..]));
        }
        other => panic!("one REQUEST expected: {other:?}"),
    }
    // Same bytes as the whole encoding apart from the Request ID (and so the CRC).
    let mut expected = Vec::new();
    crate::encode_request(SID, call.request(), "put", &body, 4096, &mut expected).unwrap();
    assert_eq!(streamed, expected);
    assert_eq!(s.outstanding(), 2);
    assert_eq!(
        s.start_call_streamed("put", 1).map(|c| c.request()),
        Err(ProtocolError::InFlightLimit { max: 2 })
    );
    s.handle_bytes(&response(call.request(), b"ok"));
    assert_eq!(events(&mut s), [reply(call.request(), b"ok")]);
    assert_eq!(
        s.start_call_streamed("put", (1 << 20) - 3)
            .map(|c| c.request()),
        Err(ProtocolError::PeerMessageLimit {
            len: (1 << 20) + 1,
            max: 1 << 20
        })
    );
    assert!(matches!(
        s.start_call_streamed("", 0),
        Err(ProtocolError::EmptyField { .. })
    ));
    assert_eq!(s.outstanding(), 1);
}

// FR-CANCEL-1, FR-CALL-5: CANCEL is sent once; the late answer and unknown answers are
// discarded without an event.
#[test]
fn cancel_sends_cancel_and_discards_the_late_answer() {
    let mut s = established(4096, 1 << 20, 8);
    let mut out = Vec::new();
    let id = s.start_call("slow", b"", &mut out).unwrap();
    out.clear();
    assert!(s.cancel(id, &mut out));
    assert_eq!(decode(&out), [(SID, Message::Cancel { request: id })]);
    assert!(!s.is_waiting(id));
    assert!(!s.cancel(id, &mut out), "cancelled once");
    let mut late = Vec::new();
    encode_error(
        SID,
        id,
        ErrorCode::CANCELLED.0,
        "cancelled",
        b"",
        4096,
        &mut late,
    )
    .unwrap();
    s.handle_bytes(&late);
    s.handle_bytes(&response(77, b"unknown"));
    assert_eq!(events(&mut s), []);
    assert_eq!(s.discarded_answers(), 2);
    assert_eq!(s.outstanding(), 0);
}

// FR-BYE-3: GOODBYE from the server fails outstanding calls as not processed.
#[test]
fn server_goodbye_fails_calls_as_not_processed() {
    let mut s = established(4096, 1 << 20, 8);
    let mut out = Vec::new();
    let a = s.start_call("m", b"", &mut out).unwrap();
    let b = s.start_call("m", b"", &mut out).unwrap();
    s.handle_bytes(&response(a, b"done"));
    let bye = Goodbye {
        code: GoodbyeCode::SHUTTING_DOWN.0,
        last_request: a,
        message: String::new(),
    };
    s.handle_bytes(&bytes_of(Message::Goodbye(bye.clone()), SID));
    assert_eq!(
        events(&mut s),
        [
            reply(a, b"done"),
            ClientEvent::Goodbye(bye.clone()),
            ClientEvent::Reply {
                request: b,
                outcome: CallOutcome::NotProcessed
            },
            ClientEvent::Closed {
                reason: CloseReason::Goodbye(bye)
            },
        ]
    );
    assert_eq!(s.state(), SessionState::Closed);
    assert_eq!(
        s.start_call("m", b"", &mut out),
        Err(ProtocolError::SessionClosed)
    );
    s.handle_eof();
    assert_eq!(events(&mut s), [], "EOF after GOODBYE changes nothing");
}

// FR-BYE-3: after a GOODBYE other than SHUTTING_DOWN the calls may have run: outcome unknown.
#[test]
fn other_server_goodbye_leaves_outcome_unknown() {
    let mut s = established(4096, 1 << 20, 8);
    let id = s.start_call("m", b"", &mut Vec::new()).unwrap();
    let bye = Goodbye {
        code: GoodbyeCode::SLOW_READER.0,
        last_request: id,
        message: "slow".into(),
    };
    s.handle_bytes(&bytes_of(Message::Goodbye(bye.clone()), SID));
    assert_eq!(
        events(&mut s),
        [
            ClientEvent::Goodbye(bye.clone()),
            ClientEvent::Reply {
                request: id,
                outcome: CallOutcome::Unknown
            },
            ClientEvent::Closed {
                reason: CloseReason::Goodbye(bye)
            },
        ]
    );
}

// FR-BYE-4, FR-FRAG-6: EOF fails outstanding calls as outcome unknown; a partial answer is
// reported truncated.
#[test]
fn eof_fails_calls_as_outcome_unknown() {
    let mut s = established(4096, 1 << 20, 8);
    let mut out = Vec::new();
    let a = s.start_call("m", b"", &mut out).unwrap();
    let b = s.start_call("m", b"", &mut out).unwrap();
    let partial = response(b, &[0; 5000]);
    s.handle_bytes(&partial[..4096]); // the first fragment only
    s.handle_eof();
    assert_eq!(
        events(&mut s),
        [
            ClientEvent::FramingError(ProtocolError::TruncatedMessage {
                session: SID,
                request: b
            }),
            ClientEvent::Reply {
                request: a,
                outcome: CallOutcome::Unknown
            },
            ClientEvent::Reply {
                request: b,
                outcome: CallOutcome::Unknown
            },
            ClientEvent::Closed {
                reason: CloseReason::PeerGone {
                    during_handshake: false
                }
            },
        ]
    );
    assert!(!s.goodbye(&mut out));
}

// FR-PING-1: PING is answered with PONG carrying the same opaque value.
#[test]
fn ping_is_answered_with_pong() {
    let mut s = established(4096, 1 << 20, 8);
    let opaque = [1, 2, 3, 4, 5, 6, 7, 8];
    s.handle_bytes(&bytes_of(Message::Ping { opaque }, SID));
    assert_eq!(events(&mut s), []);
    let mut out = Vec::new();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(decode(&out), [(SID, Message::Pong { opaque })]);
    assert!(!s.poll_transmit(&mut out));
    // And the client's own PING gets its PONG as an event.
    out.clear();
    s.ping(opaque, &mut out).unwrap();
    assert_eq!(decode(&out), [(SID, Message::Ping { opaque })]);
    s.handle_bytes(&bytes_of(Message::Pong { opaque }, SID));
    assert_eq!(events(&mut s), [ClientEvent::Pong { opaque }]);
}

// FR-HS-5: frames of another session are discarded, before and after WELCOME.
#[test]
fn foreign_session_frames_are_discarded() {
    let mut s = ClientSession::new(ClientSessionConfig::new(SID, 4096)).unwrap();
    s.hello(&mut Vec::new()).unwrap();
    s.handle_bytes(&bytes_of(Message::Welcome(welcome(4096, 1 << 20, 8)), 7));
    assert_eq!(events(&mut s), []);
    assert_eq!(s.state(), SessionState::Handshake);
    s.handle_bytes(&bytes_of(Message::Welcome(welcome(4096, 1 << 20, 8)), SID));
    assert!(matches!(events(&mut s)[..], [ClientEvent::Established(_)]));
    let mut out = Vec::new();
    let id = s.start_call("m", b"", &mut out).unwrap();
    let mut foreign = Vec::new();
    encode_response(7, id, b"not yours", 4096, &mut foreign).unwrap();
    s.handle_bytes(&foreign);
    s.handle_bytes(&bytes_of(
        Message::Request {
            request: 1,
            call: Call::new("x", b"").unwrap(),
        },
        7,
    ));
    assert_eq!(events(&mut s), []);
    assert_eq!(s.foreign_frames(), 3);
    assert!(s.is_waiting(id));
    assert_eq!(s.state(), SessionState::Established);
}

// FR-ERR-2, FR-TYPE-5: a message in the wrong direction ends the session with GOODBYE
// PROTOCOL_ERROR; the outstanding calls' outcome is unknown.
#[test]
fn wrong_direction_message_is_a_session_error() {
    let mut s = established(4096, 1 << 20, 8);
    let mut out = Vec::new();
    let id = s.start_call("m", b"", &mut out).unwrap();
    s.handle_bytes(&bytes_of(
        Message::Request {
            request: 5,
            call: Call::new("x", b"").unwrap(),
        },
        SID,
    ));
    let ev = events(&mut s);
    assert_eq!(
        ev[0],
        ClientEvent::Reply {
            request: id,
            outcome: CallOutcome::Unknown
        }
    );
    assert!(matches!(
        ev[1],
        ClientEvent::Closed {
            reason: CloseReason::ProtocolViolation {
                frame_type: frame_type::REQUEST,
                ..
            }
        }
    ));
    out.clear();
    assert!(s.poll_transmit(&mut out));
    let [(SID, Message::Goodbye(bye))] = &decode(&out)[..] else {
        panic!()
    };
    assert_eq!(GoodbyeCode(bye.code), GoodbyeCode::PROTOCOL_ERROR);
}

// FR-ERR-2: WELCOME twice, and an answer before WELCOME, are session errors.
#[test]
fn welcome_twice_and_answer_before_welcome_are_session_errors() {
    let mut s = established(4096, 1 << 20, 8);
    s.handle_bytes(&bytes_of(Message::Welcome(welcome(4096, 1 << 20, 8)), SID));
    assert!(matches!(
        events(&mut s)[..],
        [ClientEvent::Closed {
            reason: CloseReason::ProtocolViolation {
                frame_type: frame_type::WELCOME,
                ..
            }
        }]
    ));
    let mut s = ClientSession::new(ClientSessionConfig::new(SID, 4096)).unwrap();
    s.hello(&mut Vec::new()).unwrap();
    s.handle_bytes(&response(1, b"early"));
    assert!(matches!(
        events(&mut s)[..],
        [ClientEvent::Closed {
            reason: CloseReason::ProtocolViolation {
                frame_type: frame_type::RESPONSE,
                ..
            }
        }]
    ));
    assert!(s.poll_transmit(&mut Vec::new()));
}

// FR-HS-2: a WELCOME the client did not ask for (other encoding, critical option) is refused;
// a GOODBYE answering HELLO is a refusal.
#[test]
fn unacceptable_welcome_and_refusal() {
    let mut bad = welcome(4096, 1 << 20, 8);
    bad.encoding = "raw".into();
    let mut critical = welcome(4096, 1 << 20, 8);
    critical.options = vec![HelloOption {
        option_type: 0x01,
        value: vec![],
    }];
    for w in [bad, critical] {
        let mut s = ClientSession::new(ClientSessionConfig::new(SID, 4096)).unwrap();
        s.hello(&mut Vec::new()).unwrap();
        s.handle_bytes(&bytes_of(Message::Welcome(w), SID));
        assert!(matches!(
            events(&mut s)[..],
            [ClientEvent::Closed {
                reason: CloseReason::ProtocolViolation { .. }
            }]
        ));
    }
    let mut s = ClientSession::new(ClientSessionConfig::new(SID, 4096)).unwrap();
    s.hello(&mut Vec::new()).unwrap();
    let bye = Goodbye {
        code: GoodbyeCode::ENCODING_UNSUPPORTED.0,
        last_request: 0,
        message: "no".into(),
    };
    s.handle_bytes(&bytes_of(Message::Goodbye(bye.clone()), SID));
    assert_eq!(
        events(&mut s),
        [ClientEvent::Closed {
            reason: CloseReason::Rejected(bye)
        }]
    );
    let mut s = ClientSession::new(ClientSessionConfig::new(SID, 4096)).unwrap();
    s.hello(&mut Vec::new()).unwrap();
    s.handle_eof();
    assert_eq!(
        events(&mut s),
        [ClientEvent::Closed {
            reason: CloseReason::PeerGone {
                during_handshake: true
            }
        }]
    );
}

// FR-BYE-1: a local GOODBYE NO_ERROR ends the session; outstanding calls' outcome is unknown.
#[test]
fn local_goodbye() {
    let mut s = established(4096, 1 << 20, 8);
    let mut out = Vec::new();
    let id = s.start_call("m", b"", &mut out).unwrap();
    out.clear();
    assert!(s.goodbye(&mut out));
    let [(SID, Message::Goodbye(bye))] = &decode(&out)[..] else {
        panic!()
    };
    assert_eq!(GoodbyeCode(bye.code), GoodbyeCode::NO_ERROR);
    assert_eq!(
        events(&mut s),
        [
            ClientEvent::Reply {
                request: id,
                outcome: CallOutcome::Unknown
            },
            ClientEvent::Closed {
                reason: CloseReason::Local
            },
        ]
    );
    assert!(!s.goodbye(&mut out));
    s.handle_bytes(&response(id, b"late"));
    assert_eq!(events(&mut s), []);
}

// Spec §8.6, FR-DEC-4: stray bytes are a framing error, not the end of the session.
#[test]
fn framing_errors_do_not_end_the_session() {
    let mut s = established(4096, 1 << 20, 8);
    let id = s.start_call("m", b"", &mut Vec::new()).unwrap();
    s.handle_bytes(b"hello\n");
    s.handle_bytes(&response(id, b"fine"));
    assert_eq!(
        events(&mut s),
        [
            ClientEvent::FramingError(ProtocolError::BadMagic),
            reply(id, b"fine")
        ]
    );
}

// Spec §11.1: an unknown code below 1000 reads as INTERNAL; application codes stay.
#[test]
fn error_codes_are_normalised() {
    let mut s = established(4096, 1 << 20, 8);
    let mut out = Vec::new();
    let a = s.start_call("m", b"", &mut out).unwrap();
    let b = s.start_call("m", b"", &mut out).unwrap();
    let mut wire = Vec::new();
    encode_error(SID, a, 42, "odd", b"", 4096, &mut wire).unwrap();
    encode_error(SID, b, 1000, "app", b"\x01", 4096, &mut wire).unwrap();
    s.handle_bytes(&wire);
    let remote = |request, code, message: &str, details: &[u8]| ClientEvent::Reply {
        request,
        outcome: CallOutcome::Remote {
            code,
            message: message.into(),
            details: details.to_vec(),
        },
    };
    assert_eq!(
        events(&mut s),
        [
            remote(a, ErrorCode::INTERNAL, "odd", b""),
            remote(b, ErrorCode(1000), "app", b"\x01")
        ]
    );
}

// FR-FRAG-3: an answer over the client's Max Message ends its call instead of leaving it
// waiting for ever.
#[test]
fn answer_over_client_max_message_fails_the_call() {
    let mut cfg = ClientSessionConfig::new(SID, 4096);
    cfg.max_message = 4096;
    let mut s = ClientSession::new(cfg).unwrap();
    s.hello(&mut Vec::new()).unwrap();
    s.handle_bytes(&bytes_of(Message::Welcome(welcome(4096, 1 << 20, 8)), SID));
    events(&mut s);
    let id = s.start_call("big", b"", &mut Vec::new()).unwrap();
    s.handle_bytes(&response(id, &[0; 5000]));
    let too_large = ProtocolError::MessageTooLarge {
        session: SID,
        request: id,
        max: 4096,
    };
    assert_eq!(
        events(&mut s),
        [
            ClientEvent::Reply {
                request: id,
                outcome: CallOutcome::Dropped(too_large.clone())
            },
            ClientEvent::FramingError(too_large),
        ]
    );
    assert_eq!(s.outstanding(), 0);
}

// FR-CALL-7: NOTIFY goes out with Request ID 0 and comes in as an event.
#[test]
fn notify_both_ways() {
    let mut s = established(4096, 1 << 20, 8);
    let mut out = Vec::new();
    s.notify("log", b"line", &mut out).unwrap();
    let [(SID, Message::Notify { call })] = &decode(&out)[..] else {
        panic!()
    };
    assert_eq!((call.method(), call.body()), ("log", &b"line"[..]));
    let call = Call::new("tick", b"1").unwrap();
    s.handle_bytes(&bytes_of(Message::Notify { call: call.clone() }, SID));
    assert_eq!(events(&mut s), [ClientEvent::Notify(call)]);
    assert_eq!(s.outstanding(), 0);
}
