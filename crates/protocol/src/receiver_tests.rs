//! Unit tests of the receiver (spec §13.1).

use super::*;
use crate::encode::{encode_request, encode_response};
use crate::fragmenter::encode_message;
use crate::frame::{encode_frame, flags, FrameHeader};

fn cfg(max_frame: usize, max_message: u32) -> ReceiverConfig {
    ReceiverConfig {
        max_frame,
        max_message,
        max_partial: 8,
    }
}

fn events_chunked(config: ReceiverConfig, input: &[u8], chunk: usize, eof: bool) -> Vec<Event> {
    let mut rx = Receiver::new(config);
    let mut out = Vec::new();
    for c in input.chunks(chunk.max(1)) {
        rx.push(c);
        while let Some(e) = rx.poll_event() {
            out.push(e);
        }
    }
    if eof {
        rx.finish();
        while let Some(e) = rx.poll_event() {
            out.push(e);
        }
    }
    out
}

/// FR-DEC-1: the same events whole, split in two anywhere, and one octet at a time.
fn events(config: ReceiverConfig, input: &[u8]) -> Vec<Event> {
    let whole = events_chunked(config, input, input.len(), true);
    assert_eq!(
        events_chunked(config, input, 1, true),
        whole,
        "1-octet chunks"
    );
    for cut in 0..=input.len() {
        let mut rx = Receiver::new(config);
        let mut out = Vec::new();
        for part in [&input[..cut], &input[cut..]] {
            rx.push(part);
            while let Some(e) = rx.poll_event() {
                out.push(e);
            }
        }
        rx.finish();
        while let Some(e) = rx.poll_event() {
            out.push(e);
        }
        assert_eq!(out, whole, "split at {cut}");
    }
    whole
}

fn raw(t: u8, fl: u8, session: u32, request: u32, payload: &[u8]) -> Vec<u8> {
    let mut h = FrameHeader::new(t, session, request);
    h.flags = fl;
    let mut out = Vec::new();
    encode_frame(&h, &[], payload, 65535, &mut out).unwrap();
    out
}

fn err(e: ProtocolError) -> Event {
    Event::Error(e)
}

fn ping_event(session: u32) -> Event {
    Event::Message {
        session,
        message: Message::Ping { opaque: [0; 8] },
    }
}

// FR-TYPE-2: ignorable types are discarded whatever their flags and Request ID.
#[test]
fn ignorable_types_are_reported_ignored() {
    let mut input = raw(0x9f, flags::MORE, 1, 0, b"x");
    input.extend(raw(0x80, 0, 1, 99, b""));
    input.extend(raw(frame_type::PING, 0, 1, 0, &[0; 8]));
    assert_eq!(
        events(cfg(4096, 4096), &input),
        [
            Event::Ignored { frame_type: 0x9f },
            Event::Ignored { frame_type: 0x80 },
            ping_event(1),
        ]
    );
}

// FR-FRAME-14, FR-TYPE-3, FR-TYPE-4: per-frame and payload rules; each is reported and skipped.
#[test]
fn frame_rules_are_reported() {
    let mut input = raw(frame_type::PING, flags::MORE, 1, 0, &[0; 8]);
    input.extend(raw(frame_type::PING, flags::MORE, 1, 1, &[0; 8])); // request id is checked first
    input.extend(raw(frame_type::PING, 0, 1, 0, &[0; 7]));
    input.extend(raw(frame_type::CANCEL, 0, 1, 0, b""));
    input.extend(raw(frame_type::NOTIFY, 0, 1, 5, b"\x01x"));
    input.extend(raw(frame_type::REQUEST, flags::MORE, 1, 3, b"\x00"));
    input.extend(raw(frame_type::REQUEST, 0, 1, 3, b"body")); // reassembled: empty method
    input.extend(raw(frame_type::PING, 0x02, 1, 0, &[0; 8])); // reserved flag bits are ignored (FR-FRAME-13)
    assert_eq!(
        events(cfg(4096, 4096), &input),
        [
            err(ProtocolError::UnexpectedFragment {
                frame_type: frame_type::PING
            }),
            err(ProtocolError::BadRequestId {
                frame_type: frame_type::PING,
                request: 1
            }),
            Event::MalformedMessage {
                session: 1,
                request: 0,
                frame_type: frame_type::PING,
                error: ProtocolError::MalformedPayload {
                    frame_type: frame_type::PING,
                    reason: "opaque must be exactly 8 octets"
                },
            },
            err(ProtocolError::BadRequestId {
                frame_type: frame_type::CANCEL,
                request: 0
            }),
            err(ProtocolError::BadRequestId {
                frame_type: frame_type::NOTIFY,
                request: 5
            }),
            // The header is kept so that a server can answer BAD_REQUEST (FR-CALL-6).
            Event::MalformedMessage {
                session: 1,
                request: 3,
                frame_type: frame_type::REQUEST,
                error: ProtocolError::MalformedPayload {
                    frame_type: frame_type::REQUEST,
                    reason: "empty method name"
                },
            },
            ping_event(1),
        ]
    );
}

// FR-FRAG-1, FR-FRAG-2: a request fragmented at MaxFrame, interleaved with a ping and another call.
#[test]
fn reassembles_interleaved_fragments() {
    let body: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    assert_eq!(encode_request(7, 1, "upload", &body, 600, &mut a), Ok(4));
    assert_eq!(
        encode_request(7, 2, "upload", &body[..700], 600, &mut b),
        Ok(2)
    );
    let mut input = Vec::new();
    input.extend(&a[..600]);
    input.extend(&b[..600]);
    input.extend(raw(frame_type::PING, 0, 7, 0, &[0; 8]));
    input.extend(&a[600..]);
    input.extend(&b[600..]);
    let got = events(cfg(600, 1 << 20), &input);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], ping_event(7));
    let Event::Message {
        session: 7,
        message: Message::Request { request: 1, call },
    } = &got[1]
    else {
        panic!("{got:?}")
    };
    assert_eq!((call.method(), call.body()), ("upload", &body[..]));
    let Event::Message {
        message: Message::Request { request: 2, call },
        ..
    } = &got[2]
    else {
        panic!("{got:?}")
    };
    assert_eq!(call.body(), &body[..700]);
}

// FR-FRAG-3, FR-FRAG-5: one MESSAGE_TOO_LARGE, fragments discarded to the last one, which yields
// MessageDiscarded; the stream goes on.
#[test]
fn message_too_large_then_discarded() {
    let mut input = Vec::new();
    encode_response(1, 4, &[1; 5000], 512, &mut input).unwrap();
    input.extend(raw(frame_type::PING, 0, 1, 0, &[0; 8]));
    encode_response(1, 4, &[2; 4096], 512, &mut input).unwrap(); // exactly the limit: fine
    let got = events(cfg(512, 4096), &input);
    assert_eq!(
        got[..3],
        [
            err(ProtocolError::MessageTooLarge {
                session: 1,
                request: 4,
                max: 4096
            }),
            Event::MessageDiscarded {
                session: 1,
                request: 4,
                frame_type: frame_type::RESPONSE
            },
            ping_event(1),
        ]
    );
    assert_eq!(
        got[3],
        Event::Message {
            session: 1,
            message: Message::Response {
                request: 4,
                body: vec![2; 4096]
            }
        }
    );
    assert_eq!(got.len(), 4);
    // A single frame over Max Message: the error and the end of the discard at once.
    let single = raw(frame_type::RESPONSE, 0, 1, 4, &[0; 4097]);
    assert_eq!(
        events_chunked(cfg(65535, 4096), &single, 100, true),
        [
            err(ProtocolError::MessageTooLarge {
                session: 1,
                request: 4,
                max: 4096
            }),
            Event::MessageDiscarded {
                session: 1,
                request: 4,
                frame_type: frame_type::RESPONSE
            },
        ]
    );
}

// FR-DEC-5, FR-FRAG-6: at the end, TRUNCATED_FRAME, then TRUNCATED_MESSAGE in first-fragment order.
#[test]
fn end_of_stream_reports_truncation() {
    let mut input = Vec::new();
    for request in [5, 2] {
        encode_message(
            frame_type::RESPONSE,
            3,
            request,
            &[&[0; 1000]],
            512,
            &mut input,
        )
        .unwrap();
        input.truncate(input.len() - (1000 + 60 - 512)); // keep the first fragment only
    }
    let ping = raw(frame_type::PING, 0, 1, 0, &[0; 8]);
    input.extend(&ping[..10]);
    assert_eq!(
        events(cfg(512, 4096), &input),
        [
            err(ProtocolError::TruncatedFrame { missing: 18 }),
            err(ProtocolError::TruncatedMessage {
                session: 3,
                request: 5
            }),
            err(ProtocolError::TruncatedMessage {
                session: 3,
                request: 2
            }),
        ]
    );
    // Without finish, nothing is reported.
    assert!(events_chunked(cfg(512, 4096), &input, 7, false).is_empty());
}

// After finish the receiver starts a new stream; reset and drop_session forget partial messages.
#[test]
fn finish_reset_and_drop_session() {
    let mut rx = Receiver::new(cfg(512, 4096));
    rx.push(&raw(frame_type::RESPONSE, flags::MORE, 1, 1, b"a"));
    rx.push(&raw(frame_type::RESPONSE, flags::MORE, 2, 1, b"b"));
    assert_eq!(rx.poll_event(), None);
    assert_eq!(rx.partial_messages(), 2);
    rx.drop_session(1);
    assert_eq!(rx.partial_messages(), 1);
    rx.finish();
    assert_eq!(
        rx.poll_event(),
        Some(err(ProtocolError::TruncatedMessage {
            session: 2,
            request: 1
        }))
    );
    assert_eq!(rx.poll_event(), None);
    rx.push(&raw(frame_type::PING, 0, 1, 0, &[0; 8]));
    assert_eq!(rx.poll_event(), Some(ping_event(1)));
    rx.push(&raw(frame_type::RESPONSE, flags::MORE, 1, 1, b"a"));
    rx.push(b"\xf1\xf0\x00");
    assert_eq!(rx.poll_event(), None);
    rx.reset();
    rx.finish();
    assert_eq!(
        rx.poll_event(),
        None,
        "reset forgot the partial frame and message"
    );
}

// FR-DEC-7: stray bytes that look like the start of a long frame hold up the real frames behind
// them until the FIFO is found drained; abandoning the candidate then releases those frames.
#[test]
fn abandon_partial_releases_frames_held_behind_a_false_candidate() {
    let mut input = vec![0xF1, 0xF0, 0x0F, 0xA0, 0x01]; // claims 4000 octets
    let mut req = Vec::new();
    encode_request(7, 1, "echo", b"body", 4096, &mut req).unwrap();
    input.extend_from_slice(&req);

    let mut rx = Receiver::new(cfg(4096, 1 << 20));
    rx.push(&input);
    assert_eq!(
        rx.poll_event(),
        None,
        "the false candidate waits for 4000 octets"
    );
    // The driver read until the FIFO was empty: the candidate cannot be a frame.
    assert!(rx.abandon_partial());
    assert!(matches!(
        rx.poll_event(),
        Some(Event::Error(ProtocolError::TruncatedFrame { .. }))
    ));
    match rx.poll_event() {
        Some(Event::Message {
            session: 7,
            message: Message::Request { request: 1, call },
        }) => {
            assert_eq!(call.method(), "echo");
            assert_eq!(call.body(), b"body");
        }
        other => panic!("expected the request held behind the candidate, got {other:?}"),
    }
    assert_eq!(rx.poll_event(), None);
    // Nothing partial left: abandoning again is a no-op.
    assert!(!rx.abandon_partial());
}

// FR-DEC-7: a complete stream or a decoder already scanning has nothing to abandon.
#[test]
fn abandon_partial_is_a_no_op_without_a_partial_frame() {
    let mut rx = Receiver::new(cfg(4096, 1 << 20));
    assert!(!rx.abandon_partial());
    rx.push(&raw(0x20, 0, 1, 0, &[0; 8]));
    assert_eq!(rx.poll_event(), Some(ping_event(1)));
    assert!(!rx.abandon_partial());
    rx.push(b"hello\n"); // BAD_MAGIC, then scanning
    assert!(matches!(
        rx.poll_event(),
        Some(Event::Error(ProtocolError::BadMagic))
    ));
    assert!(!rx.abandon_partial());
}
