//! ServerSession tests: an in-memory client feeds frames built with the protocol encoders and
//! reads back what the session transmits, whole and one octet at a time.

use super::*;
use crate::{encode_frame, encode_notify, encode_request, encode_response, FrameHeader, Receiver};

const S: u32 = 0x2a;

fn cfg() -> ServerSessionConfig {
    ServerSessionConfig {
        max_frame: 4096,
        max_message: 1 << 16,
        max_in_flight: 4,
        server_pid: 4243,
        instance_id: 0x0123_4567_89ab_cdef,
        encodings: vec!["bincode1".into(), "raw".into()],
    }
}

fn hello_msg() -> Hello {
    Hello {
        min_version: 1,
        max_version: 1,
        max_frame: 4096,
        max_message: 1 << 20,
        client_pid: 4242,
        encoding: "bincode1".into(),
        options: vec![],
    }
}

fn hello(session: u32) -> Vec<u8> {
    hello_with(session, hello_msg())
}

fn hello_with(session: u32, h: Hello) -> Vec<u8> {
    let mut out = Vec::new();
    Message::Hello(h).encode(session, 512, &mut out).unwrap();
    out
}

fn request(session: u32, request: u32, method: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_request(session, request, method, body, 4096, &mut out).unwrap();
    out
}

fn message(session: u32, m: Message) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(session, 4096, &mut out).unwrap();
    out
}

/// Feeds `bytes` whole and returns the events and the decoded transmitted messages.
fn feed(server: &mut ServerSession, bytes: &[u8]) -> (Vec<ServerEvent>, Vec<(u32, Message)>) {
    server.handle_bytes(bytes);
    (drain(server), transmitted(server))
}

fn drain(server: &mut ServerSession) -> Vec<ServerEvent> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

/// Decodes everything the session queued for `pipe.out`.
fn transmitted(server: &mut ServerSession) -> Vec<(u32, Message)> {
    let mut wire = Vec::new();
    server.poll_transmit(&mut wire);
    let mut rx = Receiver::new(ReceiverConfig {
        max_frame: 4096,
        max_message: 1 << 20,
        max_partial: 8,
    });
    rx.push(&wire);
    std::iter::from_fn(|| rx.poll_event())
        .map(|e| match e {
            Event::Message { session, message } => (session, message),
            other => panic!("server sent something that is not a message: {other:?}"),
        })
        .collect()
}

/// An established session with `S`.
fn established() -> ServerSession {
    let mut server = ServerSession::new(cfg());
    let (events, sent) = feed(&mut server, &hello(S));
    assert!(matches!(
        events[..],
        [ServerEvent::SessionStarted { session: S, .. }]
    ));
    assert!(matches!(sent[..], [(S, Message::Welcome(_))]));
    server
}

/// Takes the one Call event out of `events`.
fn one_call(events: Vec<ServerEvent>) -> (Call, ReplyTo) {
    let mut calls: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Call { call, reply, .. } => Some((call, reply)),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 1, "exactly one call");
    calls.pop().unwrap()
}

fn error_code(m: &Message) -> Option<(u32, u16)> {
    match m {
        Message::Error { request, code, .. } => Some((*request, *code)),
        _ => None,
    }
}

fn goodbye_of(m: &Message) -> Option<&Goodbye> {
    match m {
        Message::Goodbye(g) => Some(g),
        _ => None,
    }
}

// FR-HS-2, FR-HS-3, FR-FRAME-7: HELLO is answered with WELCOME in the client's session, within
// 512 octets, advertising the server's limits.
#[test]
fn fr_hs_2_hello_is_answered_with_welcome() {
    let mut server = ServerSession::new(cfg());
    assert_eq!(server.state(), SessionState::Idle);
    server.handle_bytes(&hello(S));
    let mut wire = Vec::new();
    assert!(server.poll_transmit(&mut wire).is_some());
    assert!(wire.len() <= 512);
    let mut rx = Receiver::new(ReceiverConfig::default());
    rx.push(&wire);
    let Some(Event::Message {
        session: S,
        message: Message::Welcome(w),
    }) = rx.poll_event()
    else {
        panic!("expected WELCOME")
    };
    assert_eq!(
        (w.version, w.max_frame, w.max_message, w.max_in_flight),
        (1, 4096, 1 << 16, 4)
    );
    assert_eq!(
        (w.server_pid, w.instance_id, w.encoding.as_str()),
        (4243, 0x0123_4567_89ab_cdef, "bincode1")
    );
    let Some(ServerEvent::SessionStarted { session: S, hello }) = server.poll_event() else {
        panic!()
    };
    assert_eq!(hello.client_pid, 4242);
    assert_eq!(server.state(), SessionState::Established);
    assert_eq!(server.session_id(), Some(S));
}

// FR-FRAME-7: the agreed MaxFrame is the smaller of the two, and answers are cut to it.
#[test]
fn fr_frame_7_agreed_max_frame_is_the_smaller() {
    let mut server = ServerSession::new(cfg());
    let h = Hello {
        max_frame: 600,
        ..hello_msg()
    };
    let (events, _) = feed(&mut server, &hello_with(S, h));
    assert!(matches!(events[..], [ServerEvent::SessionStarted { .. }]));
    let (_, reply) = one_call(feed(&mut server, &request(S, 1, "m", b"")).0);
    assert_eq!(reply.max_frame(), 600);
    let mut out = Vec::new();
    reply.encode_response(&[7; 2000], &mut out).unwrap();
    let mut at = 0;
    while at < out.len() {
        let len = usize::from(u16::from_be_bytes([out[at + 2], out[at + 3]]));
        assert!(len <= 600);
        at += len;
    }
}

// FR-HS-2: each refusal reason, in the client's session, and the session stays IDLE.
#[test]
fn fr_hs_2_refusals_send_goodbye_with_the_reason() {
    let cases = [
        (
            Hello {
                min_version: 2,
                max_version: 3,
                ..hello_msg()
            },
            GoodbyeCode::VERSION_UNSUPPORTED,
        ),
        (
            Hello {
                max_frame: 511,
                ..hello_msg()
            },
            GoodbyeCode::LIMITS_UNACCEPTABLE,
        ),
        (
            Hello {
                max_message: 4095,
                ..hello_msg()
            },
            GoodbyeCode::LIMITS_UNACCEPTABLE,
        ),
        (
            Hello {
                encoding: "json".into(),
                ..hello_msg()
            },
            GoodbyeCode::ENCODING_UNSUPPORTED,
        ),
        (
            Hello {
                options: vec![HelloOption {
                    option_type: 0x01,
                    value: vec![1],
                }],
                ..hello_msg()
            },
            GoodbyeCode::UNSUPPORTED_OPTION,
        ),
    ];
    for (h, code) in cases {
        let mut server = ServerSession::new(cfg());
        let mut wire = Vec::new();
        server.handle_bytes(&hello_with(9, h));
        server.poll_transmit(&mut wire);
        assert!(
            wire.len() <= 512,
            "FR-FRAME-7: a GOODBYE before WELCOME fits 512 octets"
        );
        let events = drain(&mut server);
        assert!(
            matches!(events[..], [ServerEvent::HandshakeRejected { session: 9, code: c }] if c == code)
        );
        let mut rx = Receiver::new(ReceiverConfig::default());
        rx.push(&wire);
        let Some(Event::Message {
            session: 9,
            message: Message::Goodbye(g),
        }) = rx.poll_event()
        else {
            panic!()
        };
        assert_eq!(GoodbyeCode(g.code), code);
        assert!(!g.message.is_empty());
        assert_eq!(server.state(), SessionState::Idle);
    }
    // An unknown ignorable option is fine.
    let mut server = ServerSession::new(cfg());
    let h = Hello {
        options: vec![HelloOption {
            option_type: 0x9f,
            value: vec![],
        }],
        ..hello_msg()
    };
    let (events, _) = feed(&mut server, &hello_with(9, h));
    assert!(matches!(
        events[..],
        [ServerEvent::SessionStarted { session: 9, .. }]
    ));
}

// FR-HS-4: before a session only HELLO is acted on; everything else is discarded and counted.
#[test]
fn fr_hs_4_frames_before_hello_are_discarded() {
    let mut server = ServerSession::new(cfg());
    let mut input = request(S, 1, "echo", b"x");
    input.extend(message(S, Message::Ping { opaque: [1; 8] }));
    let (events, sent) = feed(&mut server, &input);
    assert!(sent.is_empty());
    assert_eq!(events.len(), 2);
    for e in events {
        assert!(matches!(
            e,
            ServerEvent::Discarded {
                reason: DiscardReason::NoSession { session: S },
                ..
            }
        ));
    }
}

// FR-HS-4: during a session, frames of another session are discarded.
#[test]
fn fr_hs_4_foreign_session_frames_are_discarded() {
    let mut server = established();
    let (events, sent) = feed(&mut server, &request(7, 1, "echo", b"x"));
    assert!(sent.is_empty());
    assert!(matches!(
        events[..],
        [ServerEvent::Discarded {
            frame_type: frame_type::REQUEST,
            reason: DiscardReason::ForeignSession { session: 7 }
        }]
    ));
    assert_eq!(server.in_flight(), 0);
}

// FR-CALL-2, FR-CALL-3: a call is handed out, answered through its ReplyTo, and completed once.
#[test]
fn fr_call_2_request_call_complete() {
    let mut server = established();
    let (events, sent) = feed(&mut server, &request(S, 5, "echo", b"hi"));
    assert!(sent.is_empty());
    let (call, reply) = one_call(events);
    assert_eq!((call.method(), call.body()), ("echo", &b"hi"[..]));
    assert_eq!(
        (reply.session(), reply.request(), reply.peer_max_message()),
        (S, 5, 1 << 20)
    );
    assert_eq!(server.in_flight(), 1);
    assert_eq!(server.last_request(), 5);
    assert!(server.start_call(&reply));
    let mut out = Vec::new();
    assert_eq!(reply.encode_response(call.body(), &mut out).unwrap(), None);
    assert!(server.complete(&reply));
    assert!(!server.complete(&reply), "exactly one terminal message");
    assert_eq!(server.in_flight(), 0);
    let mut rx = Receiver::new(ReceiverConfig::default());
    rx.push(&out);
    assert_eq!(
        rx.poll_event(),
        Some(Event::Message {
            session: S,
            message: Message::Response {
                request: 5,
                body: b"hi".to_vec()
            }
        })
    );
}

// FR-DEC-1: the same events and frames whether the input comes whole or one octet at a time.
#[test]
fn fr_dec_1_byte_at_a_time_gives_the_same_results() {
    let mut input = hello(S);
    input.extend(request(S, 1, "echo", &[3; 9000])); // fragmented
    input.extend(message(
        S,
        Message::Ping {
            opaque: *b"12345678",
        },
    ));
    input.extend(b"garbage");
    input.extend(request(S, 2, "fail", b"x"));
    input.extend(message(S, Message::Cancel { request: 2 }));
    let summarize = |events: Vec<ServerEvent>| -> Vec<String> {
        events
            .into_iter()
            .map(|e| match e {
                ServerEvent::Call { request, call, .. } => {
                    format!("call {request} {} {}", call.method(), call.body().len())
                }
                other => format!("{other:?}"),
            })
            .collect()
    };
    let mut whole = ServerSession::new(cfg());
    let (events, sent) = feed(&mut whole, &input);
    let expected = (summarize(events), sent);
    let mut bytewise = ServerSession::new(cfg());
    let mut events = Vec::new();
    let mut wire = Vec::new();
    for b in &input {
        bytewise.handle_bytes(std::slice::from_ref(b));
        bytewise.poll_transmit(&mut wire);
    }
    // Events are taken at the end, as in the whole run: a call handed to the driver before its
    // CANCEL arrives is "handed out", which legitimately differs.
    events.extend(drain(&mut bytewise));
    let mut rx = Receiver::new(ReceiverConfig::default());
    rx.push(&wire);
    let sent: Vec<_> = std::iter::from_fn(|| rx.poll_event())
        .map(|e| match e {
            Event::Message { session, message } => (session, message),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!((summarize(events), sent), expected);
    // What was expected: WELCOME, PONG, then CANCELLED for call 2 (not started).
    let kinds: Vec<u8> = expected.1.iter().map(|(_, m)| m.frame_type()).collect();
    assert_eq!(
        kinds,
        [frame_type::WELCOME, frame_type::PONG, frame_type::ERROR]
    );
    assert!(expected.0.iter().any(|e| e == "call 1 echo 9000"));
    assert!(expected.0.iter().any(|e| e.contains("BadMagic")));
}

// FR-CALL-4: a REQUEST beyond Max In-flight is answered OVERLOADED without running it.
#[test]
fn fr_call_4_overloaded_beyond_max_in_flight() {
    let mut server = established();
    let mut input = Vec::new();
    for r in 1..=5 {
        input.extend(request(S, r, "m", b""));
    }
    let (events, sent) = feed(&mut server, &input);
    let calls = events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Call { .. }))
        .count();
    assert_eq!(calls, 4);
    assert_eq!(sent.len(), 1);
    assert_eq!(error_code(&sent[0].1), Some((5, ErrorCode::OVERLOADED.0)));
    assert_eq!(server.in_flight(), 4);
}

// FR-CANCEL-2: a call not yet handed out is never started and answered CANCELLED.
#[test]
fn fr_cancel_2_cancel_before_the_call_is_polled() {
    let mut server = established();
    let mut input = request(S, 3, "slow", b"");
    input.extend(message(S, Message::Cancel { request: 3 }));
    let (events, sent) = feed(&mut server, &input);
    assert!(
        events.is_empty(),
        "the call never reaches the driver: {events:?}"
    );
    assert_eq!(error_code(&sent[0].1), Some((3, ErrorCode::CANCELLED.0)));
    assert_eq!(server.in_flight(), 0);
}

// FR-CANCEL-2: a call handed out but not started is not started (start_call says no).
#[test]
fn fr_cancel_2_cancel_before_start_call() {
    let mut server = established();
    let (call, reply) = one_call(feed(&mut server, &request(S, 3, "slow", b"")).0);
    let (events, sent) = feed(&mut server, &message(S, Message::Cancel { request: 3 }));
    assert!(events.is_empty());
    assert_eq!(error_code(&sent[0].1), Some((3, ErrorCode::CANCELLED.0)));
    assert!(!server.start_call(&reply));
    assert!(
        !server.complete(&reply),
        "CANCELLED was the one terminal message"
    );
    drop(call);
}

// FR-CANCEL-2: a running call is signalled (Cancel event, is_cancelled) and still answered once;
// CANCEL for an unknown Request ID is ignored.
#[test]
fn fr_cancel_2_running_call_is_signalled() {
    let mut server = established();
    let (_, reply) = one_call(feed(&mut server, &request(S, 3, "slow", b"")).0);
    assert!(server.start_call(&reply));
    assert!(!server.is_cancelled(&reply));
    let (events, sent) = feed(&mut server, &message(S, Message::Cancel { request: 3 }));
    assert!(sent.is_empty());
    assert!(matches!(
        events[..],
        [ServerEvent::Cancel {
            session: S,
            request: 3
        }]
    ));
    assert!(server.is_cancelled(&reply));
    assert!(server.complete(&reply));
    let (events, sent) = feed(&mut server, &message(S, Message::Cancel { request: 99 }));
    assert!(events.is_empty() && sent.is_empty());
}

// FR-PING-1: PING in a session is answered with PONG and the same opaque value.
#[test]
fn fr_ping_1_pong_echoes_opaque() {
    let mut server = established();
    let (_, sent) = feed(
        &mut server,
        &message(
            S,
            Message::Ping {
                opaque: *b"abcdefgh",
            },
        ),
    );
    assert_eq!(
        sent,
        [(
            S,
            Message::Pong {
                opaque: *b"abcdefgh"
            }
        )]
    );
}

// FR-CALL-7: NOTIFY is handed out and never answered.
#[test]
fn fr_call_7_notify_is_not_answered() {
    let mut server = established();
    let mut input = Vec::new();
    encode_notify(S, "tick", b"1", 4096, &mut input).unwrap();
    let (events, sent) = feed(&mut server, &input);
    assert!(sent.is_empty());
    assert!(
        matches!(&events[..], [ServerEvent::Notify { session: S, call }] if call.method() == "tick")
    );
    assert_eq!(server.in_flight(), 0);
}

// FR-SESS-1, FR-SESS-2: a HELLO with a new Session ID ends the old session; its calls can no
// longer be answered.
#[test]
fn fr_sess_1_new_hello_replaces_the_session() {
    let mut server = established();
    let (_, old) = one_call(feed(&mut server, &request(S, 1, "m", b"")).0);
    assert!(server.start_call(&old));
    let (events, sent) = feed(&mut server, &hello(77));
    assert!(matches!(
        events[..],
        [
            ServerEvent::SessionEnded {
                session: S,
                reason: EndReason::Replaced { by: 77 }
            },
            ServerEvent::SessionStarted { session: 77, .. }
        ]
    ));
    assert!(matches!(sent[..], [(77, Message::Welcome(_))]));
    assert!(server.is_cancelled(&old));
    assert!(!server.complete(&old), "FR-SESS-2");
    assert_eq!(server.session_id(), Some(77));
    // The new session reuses Request ID 1 without trouble.
    let (_, new) = one_call(feed(&mut server, &request(77, 1, "m", b"")).0);
    assert!(server.start_call(&new) && server.complete(&new));
}

// FR-BYE-1: the client's GOODBYE ends the session; queued calls and unwritten frames are dropped.
#[test]
fn fr_bye_1_client_goodbye_ends_the_session() {
    let mut server = established();
    let mut input = request(S, 1, "m", b"");
    input.extend(message(S, Message::Ping { opaque: [0; 8] }));
    let bye = Goodbye {
        code: 0,
        last_request: 1,
        message: String::new(),
    };
    input.extend(message(S, Message::Goodbye(bye)));
    let (events, sent) = feed(&mut server, &input);
    assert!(
        sent.is_empty(),
        "the PONG of an ended session is not written"
    );
    assert!(matches!(
        events[..],
        [ServerEvent::SessionEnded {
            session: S,
            reason: EndReason::Goodbye {
                code: GoodbyeCode::NO_ERROR
            }
        }]
    ));
    assert_eq!(server.state(), SessionState::Idle);
    let (events, _) = feed(&mut server, &request(S, 2, "m", b""));
    assert!(matches!(
        events[..],
        [ServerEvent::Discarded {
            reason: DiscardReason::NoSession { .. },
            ..
        }]
    ));
}

// FR-BYE-2, FR-EXIT-1: draining answers started calls, refuses new ones with SHUTTING_DOWN, then
// sends GOODBYE SHUTTING_DOWN with the last Request ID started, after the last answer.
#[test]
fn fr_bye_2_drain_then_goodbye() {
    let mut server = established();
    let (_, reply) = one_call(feed(&mut server, &request(S, 7, "exit", b"")).0);
    assert!(server.start_call(&reply));
    server.begin_shutdown();
    assert_eq!(server.state(), SessionState::Draining);
    assert!(transmitted(&mut server).is_empty());
    let (events, sent) = feed(&mut server, &request(S, 8, "echo", b""));
    assert!(events.is_empty());
    assert_eq!(
        error_code(&sent[0].1),
        Some((8, ErrorCode::SHUTTING_DOWN.0))
    );
    assert!(server.complete(&reply));
    let sent = transmitted(&mut server);
    let g = goodbye_of(&sent[0].1).expect("GOODBYE");
    assert_eq!(
        (sent[0].0, GoodbyeCode(g.code), g.last_request),
        (S, GoodbyeCode::SHUTTING_DOWN, 7)
    );
    assert!(matches!(
        drain(&mut server)[..],
        [ServerEvent::SessionEnded {
            session: S,
            reason: EndReason::ShutDown
        }]
    ));
    assert!(server.is_closed());
    // A HELLO after the end is refused.
    let (events, sent) = feed(&mut server, &hello(5));
    assert!(matches!(
        events[..],
        [ServerEvent::HandshakeRejected {
            session: 5,
            code: GoodbyeCode::SHUTTING_DOWN
        }]
    ));
    assert!(goodbye_of(&sent[0].1).is_some());
}

// FR-BYE-2: without calls in flight the GOODBYE goes at once; without a session, nothing is sent.
#[test]
fn fr_bye_2_shutdown_without_calls() {
    let mut server = established();
    server.begin_shutdown();
    assert!(server.is_closed());
    let sent = transmitted(&mut server);
    assert_eq!(
        goodbye_of(&sent[0].1).map(|g| (g.code, g.last_request)),
        Some((1, 0))
    );
    let mut idle = ServerSession::new(cfg());
    idle.begin_shutdown();
    assert!(idle.is_closed());
    assert!(transmitted(&mut idle).is_empty());
}

// FR-FIFO-14, FR-FRAG-6: end of stream ends the session and reports a message cut in the middle.
#[test]
fn fr_fifo_14_eof_ends_the_session_and_drops_partial_messages() {
    let mut server = established();
    let whole = request(S, 1, "echo", &[1; 6000]);
    server.handle_bytes(&whole[..4096]); // the first fragment only
    assert!(drain(&mut server).is_empty());
    server.handle_eof();
    let events = drain(&mut server);
    assert!(matches!(
        events[..],
        [
            ServerEvent::FramingError(ProtocolError::TruncatedMessage {
                session: S,
                request: 1
            }),
            ServerEvent::SessionEnded {
                session: S,
                reason: EndReason::Eof
            }
        ]
    ));
    assert_eq!(server.state(), SessionState::Idle);
    // The next client is served from a clean receiver.
    let (events, _) = feed(&mut server, &hello(8));
    assert!(matches!(
        events[..],
        [ServerEvent::SessionStarted { session: 8, .. }]
    ));
}

// FR-FRAG-5: a fragmented REQUEST over Max Message is answered MESSAGE_TOO_LARGE after its last
// fragment, and the session goes on.
#[test]
fn fr_frag_5_request_over_max_message() {
    let mut server = established();
    let big = request(S, 4, "echo", &[0; 70_000]);
    // 18 fragments; the 17th passes 65536 octets, the 18th is the last.
    let (first, rest) = big.split_at(17 * 4096);
    let (events, sent) = feed(&mut server, first);
    assert!(sent.is_empty(), "not answered before the last fragment");
    assert!(matches!(
        events[..],
        [ServerEvent::FramingError(ProtocolError::MessageTooLarge {
            request: 4,
            ..
        })]
    ));
    let (events, sent) = feed(&mut server, rest);
    assert!(events.is_empty());
    assert_eq!(
        error_code(&sent[0].1),
        Some((4, ErrorCode::MESSAGE_TOO_LARGE.0))
    );
    let (_, reply) = one_call(feed(&mut server, &request(S, 5, "echo", b"ok")).0);
    assert_eq!(reply.request(), 5);
}

// FR-ERR-1, FR-DEC-6: bytes that are not frames are reported and skipped; the session goes on.
#[test]
fn fr_err_1_garbage_does_not_end_the_session() {
    let mut server = established();
    let mut input = b"hello\n".to_vec();
    input.extend(request(S, 1, "echo", b"x"));
    let (events, sent) = feed(&mut server, &input);
    assert!(sent.is_empty());
    assert!(matches!(
        events[0],
        ServerEvent::FramingError(ProtocolError::BadMagic)
    ));
    assert!(matches!(events[1], ServerEvent::Call { request: 1, .. }));
    assert_eq!(server.state(), SessionState::Established);
}

// FR-ERR-2, FR-TYPE-5: a frame only the server sends, read from the client, ends the session
// with GOODBYE PROTOCOL_ERROR; so does a Request ID reused while outstanding (FR-CALL-1).
#[test]
fn fr_err_2_session_rule_broken() {
    let mut server = established();
    let mut input = Vec::new();
    encode_response(S, 1, b"", 4096, &mut input).unwrap();
    let (events, sent) = feed(&mut server, &input);
    assert!(matches!(
        events[..],
        [ServerEvent::SessionEnded {
            reason: EndReason::ProtocolViolation { .. },
            ..
        }]
    ));
    assert_eq!(
        goodbye_of(&sent[0].1).map(|g| g.code),
        Some(GoodbyeCode::PROTOCOL_ERROR.0)
    );

    let mut server = established();
    let mut input = request(S, 1, "m", b"");
    input.extend(request(S, 1, "m", b""));
    let (events, sent) = feed(&mut server, &input);
    assert!(matches!(
        events.last(),
        Some(ServerEvent::SessionEnded {
            reason: EndReason::ProtocolViolation { .. },
            ..
        })
    ));
    assert!(
        !events.iter().any(|e| matches!(e, ServerEvent::Call { .. })),
        "the session's queued calls are dropped"
    );
    let g = goodbye_of(&sent[0].1).expect("GOODBYE");
    assert_eq!((g.code, g.last_request), (GoodbyeCode::PROTOCOL_ERROR.0, 1));
}

// FR-FRAG-4: an answer larger than the client's Max Message becomes ERROR MESSAGE_TOO_LARGE.
#[test]
fn fr_frag_4_response_over_client_max_message() {
    let mut server = ServerSession::new(cfg());
    feed(
        &mut server,
        &hello_with(
            S,
            Hello {
                max_message: 4096,
                ..hello_msg()
            },
        ),
    );
    let (_, reply) = one_call(feed(&mut server, &request(S, 1, "big", b"")).0);
    assert!(reply.fits(4096) && !reply.fits(4097));
    let mut out = Vec::new();
    assert_eq!(
        reply.encode_response(&[0; 5000], &mut out).unwrap(),
        Some(ErrorCode::MESSAGE_TOO_LARGE)
    );
    let mut rx = Receiver::new(ReceiverConfig::default());
    rx.push(&out);
    let Some(Event::Message { message, .. }) = rx.poll_event() else {
        panic!()
    };
    assert_eq!(
        error_code(&message),
        Some((1, ErrorCode::MESSAGE_TOO_LARGE.0))
    );
}

// FR-BYE-5: the driver ends the session as a slow reader; only GOODBYE SLOW_READER is queued.
#[test]
fn slow_reader_end_queues_only_goodbye() {
    let mut server = established();
    feed(&mut server, &message(S, Message::Ping { opaque: [0; 8] })); // PONG transmitted already
    server.handle_bytes(&message(S, Message::Ping { opaque: [1; 8] })); // PONG queued, not taken
    drain(&mut server);
    server.end_session(EndReason::SlowReader);
    let sent = transmitted(&mut server);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        goodbye_of(&sent[0].1).map(|g| g.code),
        Some(GoodbyeCode::SLOW_READER.0)
    );
    assert!(matches!(
        drain(&mut server)[..],
        [ServerEvent::SessionEnded {
            reason: EndReason::SlowReader,
            ..
        }]
    ));
}

// FR-TYPE-2: an ignorable frame type is discarded without error, even in a session.
#[test]
fn fr_type_2_ignorable_frames_are_discarded() {
    let mut server = established();
    let mut input = Vec::new();
    encode_frame(
        &FrameHeader::new(0x9f, S, 3),
        &[],
        b"grease",
        4096,
        &mut input,
    )
    .unwrap();
    let (events, sent) = feed(&mut server, &input);
    assert!(sent.is_empty());
    assert!(matches!(
        events[..],
        [ServerEvent::Discarded {
            frame_type: 0x9f,
            reason: DiscardReason::Ignorable
        }]
    ));
}

// FR-DEC-7: stray bytes that look like the start of a frame are abandoned once pipe.in is
// drained, so they do not hold up the frames behind them.
#[test]
fn fr_dec_7_drained_input_abandons_a_stray_candidate() {
    let mut server = established();
    let (events, _) = feed(&mut server, &[0xf1, 0xf0, 0x01, 0x00]); // "a 256-octet frame"
    assert!(events.is_empty(), "waiting for the rest of the candidate");
    server.handle_drained();
    let events = drain(&mut server);
    assert!(
        matches!(
            events[..],
            [ServerEvent::FramingError(
                ProtocolError::TruncatedFrame { .. }
            )]
        ),
        "{events:?}"
    );
    let (_, reply) = one_call(feed(&mut server, &request(S, 1, "echo", b"x")).0);
    assert_eq!(reply.request(), 1);
    // Nothing buffered: draining again reports nothing.
    server.handle_drained();
    assert!(drain(&mut server).is_empty());
}

// FR-CALL-6, FR-TYPE-4: a REQUEST whose payload is malformed is answered BAD_REQUEST and the
// session goes on; a malformed NOTIFY is only reported (FR-CALL-7).
#[test]
fn fr_call_6_malformed_request_is_answered_bad_request() {
    let mut server = established();
    let mut input = Vec::new();
    let empty_method = [0u8, b'x'];
    encode_frame(
        &FrameHeader::new(frame_type::REQUEST, S, 9),
        &[],
        &empty_method,
        4096,
        &mut input,
    )
    .unwrap();
    encode_frame(
        &FrameHeader::new(frame_type::NOTIFY, S, 0),
        &[],
        &empty_method,
        4096,
        &mut input,
    )
    .unwrap();
    let (events, sent) = feed(&mut server, &input);
    assert!(matches!(
        events[..],
        [
            ServerEvent::FramingError(ProtocolError::MalformedPayload {
                frame_type: frame_type::REQUEST,
                ..
            }),
            ServerEvent::FramingError(ProtocolError::MalformedPayload {
                frame_type: frame_type::NOTIFY,
                ..
            })
        ]
    ));
    assert_eq!(sent.len(), 1);
    assert_eq!(error_code(&sent[0].1), Some((9, ErrorCode::BAD_REQUEST.0)));
    assert_eq!(server.state(), SessionState::Established);
    let (_, reply) = one_call(feed(&mut server, &request(S, 10, "echo", b"")).0);
    assert_eq!(reply.request(), 10);
}
