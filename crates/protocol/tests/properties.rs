//! Property tests: frame encode/decode round trips, fragmentation/reassembly identity, and
//! chunking invariance (FR-DEC-1).

use fifo_rpc_protocol::{
    encode_extension, encode_frame, encode_message, encode_request, encode_response, frame_type,
    Event, Fragmenter, FrameDecoder, FrameHeader, Message, ProtocolError, Receiver, ReceiverConfig,
    FRAME_OVERHEAD, MAX_FRAME_LIMIT,
};
use proptest::prelude::*;

const TYPES: &[u8] = &[
    0x01, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x21, 0x30, 0x80, 0x9f, 0xc4, 0xff,
];

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        prop::sample::select(TYPES),
        any::<u8>(),
        1..=u32::MAX,
        any::<u32>(),
    )
        .prop_map(|(t, flags, session, request)| FrameHeader {
            version: 1,
            frame_type: t,
            flags,
            session,
            request,
        })
}

/// An extension area of ignorable extensions, at most 239 octets.
fn extensions() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (0x80u8..=0xff, prop::collection::vec(any::<u8>(), 0..20)),
        0..8,
    )
    .prop_map(|exts| {
        let mut area = Vec::new();
        for (t, v) in exts {
            if area.len() + 2 + v.len() <= 239 {
                encode_extension(t, &v, &mut area).unwrap();
            }
        }
        area
    })
}

/// Splits `data` at the given cut points (taken modulo its length).
fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| if data.is_empty() { 0 } else { c % data.len() })
        .collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut last = 0;
    for p in points {
        pieces.push(&data[last..p]);
        last = p;
    }
    pieces.push(&data[last..]);
    pieces
}

#[derive(Debug, PartialEq)]
enum Out {
    Frame(FrameHeader, Vec<u8>, Vec<u8>),
    Err(ProtocolError),
}

fn decode_pieces(max_frame: usize, pieces: &[&[u8]]) -> Vec<Out> {
    let mut d = FrameDecoder::new(max_frame);
    let mut out = Vec::new();
    for piece in pieces {
        d.push(piece);
        while let Some(r) = d.decode() {
            out.push(match r {
                Ok(f) => Out::Frame(f.header, f.extensions.to_vec(), f.payload.to_vec()),
                Err(e) => Out::Err(e),
            });
        }
    }
    if let Some(e) = d.finish() {
        out.push(Out::Err(e));
    }
    out
}

fn receive(config: ReceiverConfig, pieces: &[&[u8]]) -> Vec<Event> {
    let mut rx = Receiver::new(config);
    let mut events = Vec::new();
    for piece in pieces {
        rx.push(piece);
        events.extend(std::iter::from_fn(|| rx.poll_event()));
    }
    rx.finish();
    events.extend(std::iter::from_fn(|| rx.poll_event()));
    events
}

/// One valid frame's octets.
fn valid_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        header(),
        extensions(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(h, ext, payload)| {
            let mut out = Vec::new();
            encode_frame(&h, &ext, &payload, MAX_FRAME_LIMIT, &mut out).unwrap();
            out
        })
}

/// A stream segment: a valid frame, stray bytes, or a frame cut short or corrupted.
fn segment() -> impl Strategy<Value = Vec<u8>> {
    let garbage =
        prop::collection::vec(prop_oneof![Just(0xf1u8), Just(0xf0u8), any::<u8>()], 0..40);
    let cut = (valid_frame(), any::<usize>()).prop_map(|(f, n)| f[..n % f.len()].to_vec());
    let flipped = (valid_frame(), any::<usize>(), 1u8..).prop_map(|(mut f, i, x)| {
        let n = f.len();
        f[i % n] ^= x;
        f
    });
    prop_oneof![4 => valid_frame(), 1 => garbage, 1 => cut, 1 => flipped]
}

proptest! {
    // FR-FRAME-1, -2, -12, FR-DEC-2: any valid frame decodes to exactly what was encoded, however split.
    #[test]
    fn frame_round_trip(h in header(), ext in extensions(), payload in prop::collection::vec(any::<u8>(), 0..2000),
                        cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        let mut wire = Vec::new();
        let len = encode_frame(&h, &ext, &payload, MAX_FRAME_LIMIT, &mut wire).unwrap();
        prop_assert_eq!(len, wire.len());
        prop_assert_eq!(len, FRAME_OVERHEAD + ext.len() + payload.len());
        let want = vec![Out::Frame(h, ext.clone(), payload.clone())];
        prop_assert_eq!(&decode_pieces(len, &[&wire]), &want);
        prop_assert_eq!(&decode_pieces(len, &split(&wire, &cuts)), &want);
        prop_assert_eq!(
            decode_pieces(len - 1, &[&wire])[0].clone_err(),
            Some(ProtocolError::FrameTooLarge { len, max: len - 1 })
        );
    }

    // FR-DEC-1: a stream of frames, stray bytes, cut and corrupted frames gives the same results
    // whole, in arbitrary chunks and one octet at a time, at the frame and at the receiver level.
    #[test]
    fn chunking_never_changes_results(segments in prop::collection::vec(segment(), 0..12),
                                      cuts in prop::collection::vec(any::<usize>(), 0..12),
                                      max_frame in prop_oneof![Just(4096usize), 20usize..400]) {
        let stream = segments.concat();
        let ones: Vec<&[u8]> = stream.chunks(1).collect();
        let whole = decode_pieces(max_frame, &[&stream]);
        prop_assert_eq!(&decode_pieces(max_frame, &split(&stream, &cuts)), &whole);
        prop_assert_eq!(&decode_pieces(max_frame, &ones), &whole);
        let config = ReceiverConfig { max_frame, max_message: 1000, max_partial: 3 };
        let events = receive(config, &[&stream]);
        prop_assert_eq!(&receive(config, &split(&stream, &cuts)), &events);
        prop_assert_eq!(&receive(config, &ones), &events);
    }

    // FR-DEC-4: frames separated by stray bytes without F1 are all found.
    #[test]
    fn frames_survive_stray_bytes(frames in prop::collection::vec((1..=u32::MAX, any::<[u8; 8]>()), 1..6),
                                  strays in prop::collection::vec(prop::collection::vec(0u8..0xf0, 0..30), 6)) {
        let mut stream = Vec::new();
        for (i, (session, opaque)) in frames.iter().enumerate() {
            stream.extend(&strays[i]);
            Message::Ping { opaque: *opaque }.encode(*session, 512, &mut stream).unwrap();
        }
        let got: Vec<Event> = receive(ReceiverConfig::default(), &[&stream])
            .into_iter()
            .filter(|e| !matches!(e, Event::Error(ProtocolError::BadMagic)))
            .collect();
        let want: Vec<Event> = frames.iter().map(|(session, opaque)| Event::Message { session: *session, message: Message::Ping { opaque: *opaque } }).collect();
        prop_assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    // FR-FRAG-1: fragment then reassemble is the identity, for messages up to 300 KiB and small
    // MaxFrames; every frame but the last is full and carries MORE.
    #[test]
    fn fragment_reassemble_identity(len in 0usize..300 * 1024, seed in any::<u8>(), max_frame in 21usize..1500,
                                    request in 1..=u32::MAX, as_request in any::<bool>()) {
        let body: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed)).collect();
        let mut wire = Vec::new();
        let frames = if as_request {
            encode_request(7, request, "m", &body, max_frame, &mut wire).unwrap()
        } else {
            encode_response(7, request, &body, max_frame, &mut wire).unwrap()
        };
        let msg_len = body.len() + if as_request { 2 } else { 0 };
        let capacity = max_frame - FRAME_OVERHEAD;
        prop_assert_eq!(frames, msg_len.div_ceil(capacity).max(1));
        prop_assert_eq!(wire.len(), msg_len + frames * FRAME_OVERHEAD);
        let config = ReceiverConfig { max_frame, max_message: 1 << 20, max_partial: 1 };
        let events = receive(config, &[&wire]);
        prop_assert_eq!(events.len(), 1);
        match &events[0] {
            Event::Message { session: 7, message: Message::Request { request: r, call } } => {
                prop_assert!(as_request);
                prop_assert_eq!(*r, request);
                prop_assert_eq!(call.body(), &body[..]);
            }
            Event::Message { session: 7, message: Message::Response { request: r, body: got } } => {
                prop_assert!(!as_request);
                prop_assert_eq!(*r, request);
                prop_assert_eq!(got, &body);
            }
            other => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    // FR-FRAG-1: a Fragmenter driven in steps of any size, over the payload cut into any parts,
    // appends exactly the frames `encode_message` does, each step whole frames within its limit.
    #[test]
    fn fragmenter_steps_equal_whole_encoding(len in 0usize..100 * 1024, max_frame in 21usize..4096,
                                             cuts in prop::collection::vec(any::<usize>(), 0..4),
                                             steps in prop::collection::vec(0usize..20_000, 1..8)) {
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let parts = split(&body, &cuts);
        let mut whole = Vec::new();
        let frames = encode_message(frame_type::RESPONSE, 3, 5, &parts, max_frame, &mut whole).unwrap();
        let mut f = Fragmenter::new(frame_type::RESPONSE, 3, 5, body.len(), max_frame).unwrap();
        prop_assert_eq!(f.frames_left(), frames);
        prop_assert_eq!(f.payload_len(), body.len());
        prop_assert_eq!(f.octets_left(), whole.len());
        let mut wire = Vec::new();
        let mut appended = 0;
        for limit in steps.iter().cycle() {
            if f.is_done() {
                break;
            }
            let before = wire.len();
            let n = f.encode_next(&parts, *limit, &mut wire);
            prop_assert!(n >= 1);
            prop_assert!(n == 1 || wire.len() - before <= *limit, "{} octets over {}", wire.len() - before, limit);
            appended += n;
            prop_assert_eq!(f.octets_left(), whole.len() - wire.len());
        }
        prop_assert_eq!(appended, frames);
        prop_assert_eq!(f.encode_next(&parts, usize::MAX, &mut wire), 0);
        prop_assert_eq!(wire, whole);
    }

    // FR-FRAG-2: fragments of several messages interleaved in any order (each message's own order
    // kept) reassemble independently.
    #[test]
    fn interleaved_messages_reassemble(sizes in prop::collection::vec(0usize..5000, 1..6),
                                       order in prop::collection::vec(any::<usize>(), 0..200),
                                       max_frame in 21usize..600) {
        let mut queues: Vec<Vec<Vec<u8>>> = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let body = vec![i as u8; *size];
            let mut wire = Vec::new();
            encode_message(frame_type::RESPONSE, 1, i as u32 + 1, &[&body], max_frame, &mut wire).unwrap();
            let mut d = FrameDecoder::new(max_frame);
            d.push(&wire);
            let mut frames = Vec::new();
            let mut at = 0;
            while let Some(Ok(f)) = d.decode() {
                let n = f.wire_len();
                frames.push(wire[at..at + n].to_vec());
                at += n;
            }
            frames.reverse();
            queues.push(frames);
        }
        let mut stream = Vec::new();
        let mut picks = order.into_iter();
        while queues.iter().any(|q| !q.is_empty()) {
            let live: Vec<usize> = (0..queues.len()).filter(|&i| !queues[i].is_empty()).collect();
            let i = live[picks.next().unwrap_or(0) % live.len()];
            stream.extend(queues[i].pop().unwrap());
        }
        let config = ReceiverConfig { max_frame, max_message: 1 << 20, max_partial: 8 };
        let mut got: Vec<(u32, usize)> = receive(config, &[&stream]).into_iter().map(|e| match e {
            Event::Message { message: Message::Response { request, body }, .. } => {
                assert!(body.iter().all(|&b| u32::from(b) + 1 == request));
                (request, body.len())
            }
            other => panic!("unexpected {other:?}"),
        }).collect();
        got.sort_unstable();
        let want: Vec<(u32, usize)> = sizes.iter().enumerate().map(|(i, s)| (i as u32 + 1, *s)).collect();
        prop_assert_eq!(got, want);
    }
}

trait CloneErr {
    fn clone_err(&self) -> Option<ProtocolError>;
}

impl CloneErr for Out {
    fn clone_err(&self) -> Option<ProtocolError> {
        match self {
            Out::Err(e) => Some(e.clone()),
            Out::Frame(..) => None,
        }
    }
}
