//! Fuzz target `roundtrip`: input is `[variant: u8, max_frame: u16 BE, session: u32 BE,
//! request: u32 BE, fields ...]`.

use super::input::Input;
use crate::frame::MAX_FRAME_LIMIT;
use crate::message::{Call, Goodbye, Hello, HelloOption, Message, Welcome};
use crate::receiver::{Event, Receiver, ReceiverConfig};

fn text(bytes: &[u8], max: usize) -> String {
    let mut s = String::from_utf8_lossy(bytes).into_owned();
    while s.len() > max {
        s.pop();
    }
    s
}

fn options(input: &mut Input<'_>) -> Vec<HelloOption> {
    (0..input.u8() % 4)
        .map(|_| HelloOption {
            option_type: input.u8(),
            value: input.short_bytes().to_vec(),
        })
        .collect()
}

/// Builds a message from fuzzer bytes; `None` when the bytes describe one the API refuses.
fn message(input: &mut Input<'_>, variant: u8, request: u32) -> Option<Message> {
    let request = request.max(1);
    Some(match variant % 10 {
        0 => Message::Hello(Hello {
            min_version: input.u8(),
            max_version: input.u8(),
            max_frame: input.u16(),
            max_message: input.u32(),
            client_pid: input.u32(),
            encoding: text(input.short_bytes(), 32),
            options: options(input),
        }),
        1 => Message::Welcome(Welcome {
            version: input.u8(),
            max_frame: input.u16(),
            max_message: input.u32(),
            max_in_flight: input.u32(),
            server_pid: input.u32(),
            instance_id: u64::from(input.u32()) << 32 | u64::from(input.u32()),
            encoding: text(input.short_bytes(), 32),
            options: options(input),
        }),
        2 => Message::Request {
            request,
            call: Call::new(&text(input.short_bytes(), 255), input.rest()).ok()?,
        },
        3 => Message::Notify {
            call: Call::new(&text(input.short_bytes(), 255), input.rest()).ok()?,
        },
        4 => Message::Response {
            request,
            body: input.rest().to_vec(),
        },
        5 => Message::Error {
            request,
            code: input.u16(),
            message: text(input.short_bytes(), 255),
            details: input.rest().to_vec(),
        },
        6 => Message::Cancel { request },
        7 => Message::Ping {
            opaque: input.u32().to_be_bytes().repeat(2).try_into().ok()?,
        },
        8 => Message::Pong {
            opaque: input.u32().to_le_bytes().repeat(2).try_into().ok()?,
        },
        _ => Message::Goodbye(Goodbye {
            code: input.u16(),
            last_request: input.u32(),
            message: text(input.rest(), 1000),
        }),
    })
}

pub(super) fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let variant = input.u8();
    let max_frame = usize::from(input.u16());
    let session = input.u32();
    let request = input.u32();
    let Some(message) = message(&mut input, variant, request) else {
        return;
    };

    let mut wire = Vec::new();
    let Ok(frames) = message.encode(session, max_frame, &mut wire) else {
        assert!(wire.is_empty(), "a refused encode appends nothing");
        return;
    };
    assert!(frames >= 1);
    let config = ReceiverConfig {
        max_frame: MAX_FRAME_LIMIT,
        max_message: u32::MAX,
        max_partial: 1,
    };
    for chunk in [wire.len().max(1), 1] {
        let mut rx = Receiver::new(config);
        let mut events = Vec::new();
        for piece in wire.chunks(chunk) {
            rx.push(piece);
            events.extend(std::iter::from_fn(|| rx.poll_event()));
        }
        rx.finish();
        events.extend(std::iter::from_fn(|| rx.poll_event()));
        assert_eq!(
            events,
            [Event::Message {
                session,
                message: message.clone()
            }],
            "round trip"
        );
    }
}
