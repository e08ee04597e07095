//! Shared by the session targets: frames built from fuzzer bytes (mostly valid, so that the
//! fuzzer reaches deep session states without computing CRCs), chunked feeding, and checks of the
//! bytes a session hands its driver.

use super::input::{chunks, Input};
use crate::frame::{encode_frame, flags, frame_type, FrameHeader, MAX_FRAME_LIMIT, MIN_MAX_FRAME};
use crate::message::{Goodbye, Hello, HelloOption, Message, Welcome};
use crate::receiver::{Event, Receiver, ReceiverConfig};
use crate::{encode_message, FrameDecoder};

/// Most operations one input drives, so that every input runs in bounded time.
pub(super) const MAX_OPS: usize = 192;

/// A text of at most `max` octets (lossy UTF-8 of fuzzer bytes).
pub(super) fn text(bytes: &[u8], max: usize) -> String {
    let mut s = String::from_utf8_lossy(bytes).into_owned();
    while s.len() > max {
        s.pop();
    }
    s
}

/// A method name: usually a short valid one, sometimes empty or arbitrary.
pub(super) fn method(input: &mut Input<'_>) -> String {
    match input.u8() % 8 {
        0 => String::new(),
        1 => text(input.short_bytes(), 300),
        2 => "m".repeat(usize::from(input.u8()) + 1),
        _ => ["echo", "fail", "exit", "block"][usize::from(input.u8() % 4)].to_owned(),
    }
}

/// A body: fuzzer octets, or a long run of one octet (fragmentation without long inputs).
pub(super) fn body(input: &mut Input<'_>) -> Vec<u8> {
    match input.u8() % 4 {
        0 => vec![input.u8(); usize::from(input.u16())],
        _ => input.short_bytes().to_vec(),
    }
}

/// A MaxFrame for encoding: 512 ..= 65535, often small so that messages fragment.
pub(super) fn max_frame(input: &mut Input<'_>) -> usize {
    match input.u8() % 4 {
        0 => MIN_MAX_FRAME,
        1 => 4096,
        _ => MIN_MAX_FRAME + usize::from(input.u16()) % (MAX_FRAME_LIMIT - MIN_MAX_FRAME + 1),
    }
}

fn options(input: &mut Input<'_>) -> Vec<HelloOption> {
    (0..input.u8() % 3)
        .map(|_| HelloOption {
            option_type: input.u8(),
            value: input.short_bytes().to_vec(),
        })
        .collect()
}

/// A HELLO, valid unless the fuzzer asks otherwise.
pub(super) fn hello(input: &mut Input<'_>) -> Hello {
    let odd = input.u8();
    Hello {
        min_version: if odd & 1 != 0 { input.u8() } else { 1 },
        max_version: if odd & 2 != 0 { input.u8() } else { 1 },
        max_frame: if odd & 4 != 0 { input.u16() } else { 4096 },
        max_message: if odd & 8 != 0 { input.u32() } else { 1 << 20 },
        client_pid: input.u32(),
        encoding: match odd >> 4 & 3 {
            0 | 1 => "bincode1".to_owned(),
            2 => "raw".to_owned(),
            _ => text(input.short_bytes(), 32),
        },
        options: if odd & 0x40 != 0 {
            options(input)
        } else {
            Vec::new()
        },
    }
}

/// A WELCOME, valid unless the fuzzer asks otherwise; small Max In-flight so limits are hit.
pub(super) fn welcome(input: &mut Input<'_>) -> Welcome {
    let odd = input.u8();
    Welcome {
        version: if odd & 1 != 0 { input.u8() } else { 1 },
        max_frame: if odd & 2 != 0 { input.u16() } else { 4096 },
        max_message: if odd & 4 != 0 { input.u32() } else { 1 << 20 },
        max_in_flight: u32::from(input.u8() % 8),
        server_pid: input.u32(),
        instance_id: u64::from(input.u32()),
        encoding: if odd & 8 != 0 {
            text(input.short_bytes(), 32)
        } else {
            "bincode1".to_owned()
        },
        options: if odd & 0x10 != 0 {
            options(input)
        } else {
            Vec::new()
        },
    }
}

/// A GOODBYE with a fuzzer code.
pub(super) fn goodbye(input: &mut Input<'_>) -> Goodbye {
    Goodbye {
        code: u16::from(input.u8() % 10),
        last_request: input.u32(),
        message: text(input.short_bytes(), 100),
    }
}

/// Encodes `message` at a fuzzer MaxFrame; then, as the fuzzer decides, drops trailing
/// fragments (a peer that died mid-message) or flips one octet (corruption). Returns `false` if
/// it appended anything but whole, intact messages.
pub(super) fn encode_mangled(
    input: &mut Input<'_>,
    session: u32,
    message: &Message,
    out: &mut Vec<u8>,
) -> bool {
    let max = max_frame(input);
    let mut wire = Vec::new();
    if message.encode(session, max, &mut wire).is_err() {
        return true;
    }
    let intact = !mangle(input, &mut wire);
    out.extend_from_slice(&wire);
    intact
}

/// Sometimes cuts `wire` short or flips one octet; returns `true` if it did.
pub(super) fn mangle(input: &mut Input<'_>, wire: &mut Vec<u8>) -> bool {
    match input.u8() % 16 {
        0 if !wire.is_empty() => {
            let at = usize::from(input.u16()) % wire.len();
            wire[at] ^= input.u8() | 1;
            true
        }
        1 => {
            let keep = usize::from(input.u16()) % (wire.len() + 1);
            wire.truncate(keep);
            true
        }
        _ => false,
    }
}

/// Any frame the fuzzer describes: type, flags, request, extensions and payload.
pub(super) fn raw_frame(input: &mut Input<'_>, session: u32, out: &mut Vec<u8>) {
    let mut header = FrameHeader::new(input.u8(), session, input.u32());
    header.flags = input.u8() & (flags::MORE | 0x80);
    if input.u8() % 8 == 0 {
        header.version = input.u8();
    }
    let extensions = if input.u8() % 8 == 0 {
        input.short_bytes().to_vec()
    } else {
        Vec::new()
    };
    let payload = input.short_bytes().to_vec();
    let mut wire = Vec::new();
    if encode_frame(&header, &extensions, &payload, MAX_FRAME_LIMIT, &mut wire).is_ok() {
        let _ = mangle(input, &mut wire);
        out.extend_from_slice(&wire);
    }
}

/// One fragment of a fragmentable message with MORE set, never completed.
pub(super) fn dangling_fragment(input: &mut Input<'_>, session: u32, t: u8, out: &mut Vec<u8>) {
    let request = if t == frame_type::NOTIFY {
        0
    } else {
        input.u32().max(1)
    };
    let mut header = FrameHeader::new(t, session, request);
    header.flags = flags::MORE;
    let _ = encode_frame(&header, &[], input.short_bytes(), MAX_FRAME_LIMIT, out);
}

/// A message of type `t` with raw parts (fragmented answers and requests), possibly mangled;
/// returns `false` if it appended anything but whole, intact messages.
pub(super) fn message_parts(
    input: &mut Input<'_>,
    t: u8,
    session: u32,
    request: u32,
    parts: &[&[u8]],
    out: &mut Vec<u8>,
) -> bool {
    let max = max_frame(input);
    let mut wire = Vec::new();
    if encode_message(t, session, request, parts, max, &mut wire).is_err() {
        return true;
    }
    let intact = !mangle(input, &mut wire);
    out.extend_from_slice(&wire);
    intact
}

/// Feeds `wire` to `feed` whole, in fuzzer-chosen chunks, or one octet at a time.
pub(super) fn feed_chunked(input: &mut Input<'_>, wire: &[u8], mut feed: impl FnMut(&[u8])) {
    match input.u8() % 4 {
        0 => wire.chunks(1).for_each(&mut feed),
        1 => chunks(wire, input.u8()).for_each(&mut feed),
        _ => feed(wire),
    }
}

/// Checks octets a session handed its driver: whole, valid frames of `session` (if given), each
/// at most `max_frame` octets, and whole messages that a receiver takes without any error.
/// Returns the messages with their Session IDs.
pub(super) fn check_transmitted(
    wire: &[u8],
    session: Option<u32>,
    max_frame: usize,
    what: &str,
) -> Vec<(u32, Message)> {
    let mut decoder = FrameDecoder::new(MAX_FRAME_LIMIT);
    decoder.push(wire);
    while let Some(frame) = decoder.decode() {
        let frame = frame.unwrap_or_else(|e| panic!("{what}: an invalid frame was sent: {e}"));
        let len = frame.wire_len();
        assert!(
            len <= max_frame,
            "{what}: a frame of {len} octets exceeds MaxFrame {max_frame} (FR-FRAME-3)"
        );
        if let Some(s) = session {
            assert_eq!(
                frame.header.session, s,
                "{what}: a frame of another session"
            );
        }
    }
    assert!(
        decoder.finish().is_none(),
        "{what}: bytes sent end in the middle of a frame"
    );
    let mut rx = Receiver::new(ReceiverConfig {
        max_frame: MAX_FRAME_LIMIT,
        max_message: u32::MAX,
        max_partial: usize::MAX,
    });
    rx.push(wire);
    rx.finish();
    std::iter::from_fn(|| rx.poll_event())
        .filter_map(|event| match event {
            Event::Message { session, message } => Some((session, message)),
            Event::Ignored { .. } => None,
            other => panic!("{what}: the sent bytes are not whole valid messages: {other:?}"),
        })
        .collect()
}
