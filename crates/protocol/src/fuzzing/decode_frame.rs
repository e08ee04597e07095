//! Fuzz target `decode_frame`: input is `[max_frame: u16 BE, chunk seed: u8, stream ...]`.

use super::input::{chunks, Input};
use crate::error::ProtocolError;
use crate::frame::{encode_frame, frame_type, FrameHeader, FRAME_OVERHEAD, VERSION};
use crate::FrameDecoder;

#[derive(Debug, PartialEq, Eq)]
enum Out {
    Frame(FrameHeader, Vec<u8>, Vec<u8>),
    Err(ProtocolError),
}

fn decode_all<'a>(max_frame: usize, pieces: impl Iterator<Item = &'a [u8]>) -> Vec<Out> {
    let mut decoder = FrameDecoder::new(max_frame);
    let mut out = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        while let Some(result) = decoder.decode() {
            out.push(match result {
                Ok(f) => Out::Frame(f.header, f.extensions.to_vec(), f.payload.to_vec()),
                Err(e) => Out::Err(e),
            });
        }
    }
    if let Some(e) = decoder.finish() {
        out.push(Out::Err(e));
    }
    out
}

pub(super) fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let max_frame = usize::from(input.u16()).max(FRAME_OVERHEAD);
    let seed = input.u8();
    let stream = input.rest();

    let whole = decode_all(max_frame, std::iter::once(stream));
    assert_eq!(
        decode_all(max_frame, chunks(stream, seed)),
        whole,
        "FR-DEC-1: chunking changed the results"
    );
    assert_eq!(
        decode_all(max_frame, stream.chunks(1)),
        whole,
        "FR-DEC-1: 1-octet chunks changed the results"
    );

    for out in &whole {
        let Out::Frame(header, extensions, payload) = out else {
            continue;
        };
        assert_eq!(header.version, VERSION);
        assert_ne!(header.session, 0);
        assert!(
            frame_type::is_assigned(header.frame_type)
                || frame_type::is_ignorable(header.frame_type)
        );
        let mut wire = Vec::new();
        let len = encode_frame(header, extensions, payload, max_frame, &mut wire)
            .expect("a decoded frame re-encodes");
        assert!(len <= max_frame);
        assert_eq!(
            decode_all(max_frame, std::iter::once(&wire[..])),
            [Out::Frame(*header, extensions.clone(), payload.clone())]
        );
    }
}
