//! Unit tests of message payloads (spec §6) and their encoding.

use super::*;
use crate::decoder::FrameDecoder;
use crate::encode::{encode_error, encode_notify, encode_request};
use crate::frame::MAX_FRAME_LIMIT;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes one frame and parses its payload.
fn decode_one(wire: &[u8]) -> (u32, Message) {
    let mut d = FrameDecoder::new(MAX_FRAME_LIMIT);
    d.push(wire);
    let f = d.decode().unwrap().unwrap();
    assert!(!f.header.more());
    let (session, t, request, payload) = (
        f.header.session,
        f.header.frame_type,
        f.header.request,
        f.payload.to_vec(),
    );
    assert!(d.decode().is_none());
    (session, Message::parse(t, request, &payload).unwrap())
}

fn bincode_hi() -> Vec<u8> {
    hex("02 00 00 00 00 00 00 00 68 69")
}

fn hello() -> Hello {
    Hello {
        min_version: 1,
        max_version: 1,
        max_frame: 4096,
        max_message: 16 << 20,
        client_pid: 4242,
        encoding: "bincode1".into(),
        options: vec![],
    }
}

fn welcome() -> Welcome {
    Welcome {
        version: 1,
        max_frame: 4096,
        max_message: 16 << 20,
        max_in_flight: 1024,
        server_pid: 4243,
        instance_id: 0x0123_4567_89ab_cdef,
        encoding: "bincode1".into(),
        options: vec![],
    }
}

/// Spec §14: every worked example encodes byte for byte and decodes back.
#[test]
fn spec_examples_encode_and_decode() {
    let examples: Vec<(u32, Message, &str)> = vec![
        (42, Message::Hello(hello()), "f1 f0 00 29 01 01 00 10 00 00 00 2a 00 00 00 00 01 01 10 00 01 00 00 00
            00 00 10 92 08 62 69 6e 63 6f 64 65 31 09 ea 0c c8"),
        (42, Message::Welcome(welcome()), "f1 f0 00 35 01 02 00 10 00 00 00 2a 00 00 00 00 01 00 10 00 01 00 00 00
            00 00 04 00 00 00 10 93 01 23 45 67 89 ab cd ef 08 62 69 6e 63 6f 64 65 31 fa 95 e4 b3"),
        (1, Message::Request { request: 1, call: Call::new("echo", &bincode_hi()).unwrap() },
            "f1 f0 00 23 01 10 00 10 00 00 00 01 00 00 00 01 04 65 63 68 6f 02 00 00 00 00 00 00 00 68 69 22 6f 51 0e"),
        (1, Message::Response { request: 1, body: bincode_hi() },
            "f1 f0 00 1e 01 11 00 10 00 00 00 01 00 00 00 01 02 00 00 00 00 00 00 00 68 69 dc c8 0a 5e"),
        (42, Message::Goodbye(Goodbye { code: 1, last_request: 7, message: String::new() }),
            "f1 f0 00 1c 01 30 00 10 00 00 00 2a 00 00 00 00 00 01 00 00 00 07 00 00 d4 f3 40 fd"),
        (42, Message::Ping { opaque: [1, 2, 3, 4, 5, 6, 7, 8] },
            "f1 f0 00 1c 01 20 00 10 00 00 00 2a 00 00 00 00 01 02 03 04 05 06 07 08 3e 61 31 6a"),
    ];
    for (session, message, wire) in examples {
        let wire = hex(wire);
        let mut out = Vec::new();
        assert_eq!(message.encode(session, 512, &mut out), Ok(1));
        assert_eq!(out, wire, "{message:?}");
        assert_eq!(decode_one(&wire), (session, message));
    }
}

// FR-TYPE-4: every type survives encode, frame decode and parse.
#[test]
fn every_type_round_trips() {
    let mut h = hello();
    h.options = vec![
        HelloOption {
            option_type: 0x81,
            value: vec![1, 2],
        },
        HelloOption {
            option_type: 0x01,
            value: vec![],
        },
    ];
    let mut w = welcome();
    w.options = vec![HelloOption {
        option_type: 0x9f,
        value: vec![9; 300],
    }];
    w.encoding = "raw".into();
    let messages = [
        Message::Hello(h),
        Message::Welcome(w),
        Message::Request {
            request: 9,
            call: Call::new("m", b"").unwrap(),
        },
        Message::Request {
            request: u32::MAX,
            call: Call::new(&"é".repeat(127), b"body").unwrap(),
        },
        Message::Response {
            request: 3,
            body: vec![],
        },
        Message::Error {
            request: 4,
            code: 1000,
            message: "boom".into(),
            details: vec![0xde, 0xad],
        },
        Message::Error {
            request: 4,
            code: 3,
            message: String::new(),
            details: vec![],
        },
        Message::Notify {
            call: Call::new("log", b"line").unwrap(),
        },
        Message::Cancel { request: 77 },
        Message::Pong { opaque: [8; 8] },
        Message::Goodbye(Goodbye {
            code: 2,
            last_request: 0,
            message: "bye".into(),
        }),
    ];
    for m in messages {
        let mut out = Vec::new();
        m.encode(5, 4096, &mut out).unwrap();
        assert_eq!(decode_one(&out), (5, m.clone()));
        let (_, parsed) = decode_one(&out);
        assert_eq!(parsed.frame_type(), m.frame_type());
        assert_eq!(parsed.request_id(), m.request_id());
    }
}

// The hot-path helpers write the same octets as Message::encode.
#[test]
fn helpers_match_message_encode() {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    encode_request(3, 4, "echo", b"xyz", 512, &mut a).unwrap();
    Message::Request {
        request: 4,
        call: Call::new("echo", b"xyz").unwrap(),
    }
    .encode(3, 512, &mut b)
    .unwrap();
    assert_eq!(a, b);
    a.clear();
    b.clear();
    encode_notify(3, "n", &[1; 700], 512, &mut a).unwrap();
    Message::Notify {
        call: Call::new("n", &[1; 700]).unwrap(),
    }
    .encode(3, 512, &mut b)
    .unwrap();
    assert_eq!(a, b);
    a.clear();
    encode_error(3, 4, 7, "busy", b"d", 512, &mut a).unwrap();
    assert_eq!(&a[16..a.len() - 4], b"\x00\x07\x00\x04busyd");
}

// FR-TYPE-4 (§6.3): method rules.
#[test]
fn call_payload_rules() {
    let t = frame_type::REQUEST;
    let err = |p: &[u8]| Message::parse(t, 1, p).unwrap_err();
    assert_eq!(err(b""), malformed(t, "payload too short"));
    assert_eq!(err(b"\x00body"), malformed(t, "empty method name"));
    assert_eq!(err(b"\x05echo"), malformed(t, "method runs past the end"));
    assert_eq!(
        err(b"\x02\xff\xfe"),
        malformed(t, "method is not valid UTF-8")
    );
    let n = Message::parse(frame_type::NOTIFY, 0, b"\x00").unwrap_err();
    assert_eq!(n, malformed(frame_type::NOTIFY, "empty method name"));
    // An empty body is fine.
    assert!(Message::parse(t, 1, b"\x04echo").is_ok());
    assert_eq!(
        Call::new("", b""),
        Err(ProtocolError::EmptyField { field: "method" })
    );
    assert_eq!(
        Call::new(&"x".repeat(256), b""),
        Err(ProtocolError::FieldTooLong {
            field: "method",
            len: 256,
            max: 255
        })
    );
    assert!(Call::new(&"x".repeat(255), b"").is_ok());
}

// FR-TYPE-4 (§6.5 to §6.8): ERROR, CANCEL, PING/PONG, GOODBYE layouts.
#[test]
fn fixed_payload_rules() {
    use frame_type::*;
    let cases: [(u8, u32, &[u8], &str); 12] = [
        (ERROR, 1, b"\x00\x01\x00", "payload too short"),
        (ERROR, 1, b"\x00\x01\x00\x03ab", "message runs past the end"),
        (
            ERROR,
            1,
            b"\x00\x01\x00\x01\xff",
            "message is not valid UTF-8",
        ),
        (CANCEL, 1, b"\x00", "cancel payload must be empty"),
        (PING, 0, b"1234567", "opaque must be exactly 8 octets"),
        (PONG, 0, b"123456789", "opaque must be exactly 8 octets"),
        (
            GOODBYE,
            0,
            b"\x00\x00\x00\x00\x00\x00\x00",
            "payload too short",
        ),
        (
            GOODBYE,
            0,
            b"\x00\x00\x00\x00\x00\x00\x00\x01",
            "message runs past the end",
        ),
        (
            GOODBYE,
            0,
            b"\x00\x00\x00\x00\x00\x00\x00\x00x",
            "octets left over after the payload",
        ),
        (
            GOODBYE,
            0,
            b"\x00\x00\x00\x00\x00\x00\x00\x01\xc3",
            "message is not valid UTF-8",
        ),
        (
            HELLO,
            0,
            b"\x01\x01\x10\x00\x00\x00\x10\x00\x00\x00\x00\x01",
            "payload too short",
        ),
        (WELCOME, 0, &[0; 24], "payload too short"),
    ];
    for (t, request, payload, reason) in cases {
        assert_eq!(
            Message::parse(t, request, payload),
            Err(malformed(t, reason)),
            "{t:#x} {reason}"
        );
    }
    // ERROR details run to the end.
    let e = Message::parse(ERROR, 1, b"\x03\xe8\x00\x01xdetails").unwrap();
    assert_eq!(
        e,
        Message::Error {
            request: 1,
            code: 1000,
            message: "x".into(),
            details: b"details".to_vec()
        }
    );
}

// FR-TYPE-4 (§6.1, §6.2), FR-HELLO-1: encoding length and options fill the payload exactly.
#[test]
fn hello_payload_rules() {
    let t = frame_type::HELLO;
    let fixed = hex("01 01 10 00 01 00 00 00 00 00 10 92");
    let with = |tail: &str| [fixed.clone(), hex(tail)].concat();
    let err = |tail: &str| Message::parse(t, 0, &with(tail)).unwrap_err();
    assert_eq!(err("00"), malformed(t, "encoding length is not in 1..=32"));
    assert_eq!(
        err(&format!("21{}", "61".repeat(33))),
        malformed(t, "encoding length is not in 1..=32")
    );
    assert_eq!(err("03 61 62"), malformed(t, "encoding runs past the end"));
    assert_eq!(err("01 ff"), malformed(t, "encoding is not ASCII"));
    assert_eq!(err("02 c3 a9"), malformed(t, "encoding is not ASCII"));
    assert_eq!(
        err("01 61 81"),
        malformed(t, "option header runs past the end")
    );
    assert_eq!(
        err("01 61 81 00"),
        malformed(t, "option header runs past the end")
    );
    assert_eq!(
        err("01 61 81 00 02 01"),
        malformed(t, "option value runs past the end")
    );
    let ok = Message::parse(
        t,
        0,
        &with(&format!("20{} 81 00 01 07 01 00 00", "61".repeat(32))),
    )
    .unwrap();
    let Message::Hello(h) = ok else {
        panic!("not a hello: {ok:?}")
    };
    assert_eq!(h.encoding.len(), 32);
    assert_eq!(
        h.options,
        [
            HelloOption {
                option_type: 0x81,
                value: vec![7]
            },
            HelloOption {
                option_type: 1,
                value: vec![]
            }
        ]
    );
    // WELCOME: the reserved octet is ignored.
    let mut w = Vec::new();
    Message::Welcome(welcome()).encode(1, 512, &mut w).unwrap();
    let mut payload = w[16..w.len() - 4].to_vec();
    payload[1] = 0xff;
    assert_eq!(
        Message::parse(frame_type::WELCOME, 0, &payload),
        Ok(Message::Welcome(welcome()))
    );
}

// FR-TYPE-3: Request ID rules, checked before the payload.
#[test]
fn request_id_rules() {
    use frame_type::*;
    for (t, bad) in [
        (REQUEST, 0),
        (RESPONSE, 0),
        (ERROR, 0),
        (CANCEL, 0),
        (HELLO, 1),
        (WELCOME, 2),
        (NOTIFY, 3),
        (PING, 4),
        (PONG, 5),
        (GOODBYE, 6),
    ] {
        assert_eq!(
            Message::parse(t, bad, b""),
            Err(ProtocolError::BadRequestId {
                frame_type: t,
                request: bad
            })
        );
    }
    assert_eq!(
        Message::parse(0x9f, 0, b""),
        Err(ProtocolError::UnknownCriticalType { frame_type: 0x9f })
    );
}

// Local misuse on encode: lengths the wire cannot carry, and HELLO over the 512 bootstrap limit.
#[test]
fn encode_refuses_what_the_wire_cannot_carry() {
    let mut out = Vec::new();
    let mut h = hello();
    h.encoding = String::new();
    assert_eq!(
        Message::Hello(h.clone()).encode(1, 512, &mut out),
        Err(ProtocolError::EmptyField { field: "encoding" })
    );
    h.encoding = "x".repeat(33);
    assert_eq!(
        Message::Hello(h.clone()).encode(1, 512, &mut out),
        Err(ProtocolError::FieldTooLong {
            field: "encoding",
            len: 33,
            max: 32
        })
    );
    h.encoding = "é".into();
    assert_eq!(
        Message::Hello(h.clone()).encode(1, 512, &mut out),
        Err(ProtocolError::InvalidField {
            field: "encoding",
            reason: "not ASCII"
        })
    );
    h.encoding = "raw".into();
    h.options = vec![HelloOption {
        option_type: 0x80,
        value: vec![0; 600],
    }];
    assert_eq!(
        Message::Hello(h).encode(1, 512, &mut out),
        Err(ProtocolError::EncodeTooLarge {
            len: 20 + 13 + 3 + 3 + 600,
            max: 512
        })
    );
    let long = "x".repeat(65536);
    assert!(matches!(
        encode_error(1, 1, 9, &long, b"", 4096, &mut out),
        Err(ProtocolError::FieldTooLong {
            field: "message",
            len: 65536,
            ..
        })
    ));
    assert!(out.is_empty());
}
