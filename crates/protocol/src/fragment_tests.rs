//! Unit tests of fragmentation and reassembly (spec §7).

use super::*;
use crate::decoder::FrameDecoder;
use crate::fragmenter::encode_message;
use crate::frame::{flags, frame_type, MAX_FRAME_LIMIT};

/// Decodes `wire` into (header, payload) pairs, asserting every frame is valid.
fn frames(wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut d = FrameDecoder::new(MAX_FRAME_LIMIT);
    d.push(wire);
    let mut out = Vec::new();
    while let Some(r) = d.decode() {
        let f = r.unwrap();
        out.push((f.header, f.payload.to_vec()));
    }
    assert_eq!(d.finish(), None);
    out
}

fn header(t: u8, session: u32, request: u32, more: bool) -> FrameHeader {
    let mut h = FrameHeader::new(t, session, request);
    h.flags = if more { flags::MORE } else { 0 };
    h
}

// Spec §14.5: 10 008 octets at MaxFrame 4096 are 4076 (MORE), 4076 (MORE), 1856.
#[test]
fn fragmentation_arithmetic_of_spec_example() {
    let body: Vec<u8> = (0..10_008u32).map(|i| i as u8).collect();
    let mut out = Vec::new();
    let n = encode_message(
        frame_type::RESPONSE,
        1,
        1,
        &[&body[..3], &body[3..]],
        4096,
        &mut out,
    )
    .unwrap();
    assert_eq!(n, 3);
    let fs = frames(&out);
    let sizes: Vec<_> = fs.iter().map(|(h, p)| (p.len(), h.more())).collect();
    assert_eq!(sizes, [(4076, true), (4076, true), (1856, false)]);
    assert_eq!(
        fs.iter().flat_map(|(_, p)| p.clone()).collect::<Vec<_>>(),
        body
    );
    assert!(fs
        .iter()
        .all(|(h, _)| h.session == 1 && h.request == 1 && h.frame_type == frame_type::RESPONSE));
}

// FR-FRAG-1: a message of exactly one frame's capacity is one frame; one more octet is two; an
// empty message is one empty frame; parts are concatenated, empty parts included.
#[test]
fn fragment_boundaries() {
    for (len, want) in [(0, 1), (1, 1), (492, 1), (493, 2), (984, 2), (985, 3)] {
        let body = vec![1u8; len];
        let mut out = Vec::new();
        let n =
            encode_message(frame_type::NOTIFY, 3, 0, &[&[], &body, &[]], 512, &mut out).unwrap();
        assert_eq!(n, want, "len {len}");
        assert_eq!(out.len(), len + 20 * want);
        let fs = frames(&out);
        assert_eq!(fs.len(), want);
        assert!(fs.iter().all(|(h, _)| h.frame_type == frame_type::NOTIFY));
        assert!(!fs.last().unwrap().0.more());
        assert!(fs
            .iter()
            .take(want - 1)
            .all(|(h, p)| h.more() && p.len() == 492));
    }
}

// FR-FRAME-4, FR-TYPE-3, FR-FRAME-14: local misuse is refused and nothing is written.
#[test]
fn encode_message_refuses_misuse() {
    let mut out = Vec::new();
    let e = |r: Result<usize, ProtocolError>| r.unwrap_err();
    assert_eq!(
        e(encode_message(
            frame_type::PING,
            0,
            0,
            &[&[0; 8]],
            512,
            &mut out
        )),
        ProtocolError::InvalidSession
    );
    assert_eq!(
        e(encode_message(
            frame_type::REQUEST,
            1,
            0,
            &[b"x"],
            512,
            &mut out
        )),
        ProtocolError::InvalidRequestId {
            frame_type: frame_type::REQUEST,
            request: 0
        }
    );
    assert_eq!(
        e(encode_message(
            frame_type::GOODBYE,
            1,
            4,
            &[],
            512,
            &mut out
        )),
        ProtocolError::InvalidRequestId {
            frame_type: frame_type::GOODBYE,
            request: 4
        }
    );
    assert_eq!(
        e(encode_message(0x05, 1, 0, &[], 512, &mut out)),
        ProtocolError::InvalidFrameType { frame_type: 5 }
    );
    assert_eq!(
        e(encode_message(
            frame_type::HELLO,
            1,
            0,
            &[&[0; 493]],
            512,
            &mut out
        )),
        ProtocolError::EncodeTooLarge { len: 513, max: 512 }
    );
    assert_eq!(
        e(encode_message(
            frame_type::RESPONSE,
            1,
            1,
            &[b"x"],
            20,
            &mut out
        )),
        ProtocolError::EncodeTooLarge { len: 21, max: 20 }
    );
    assert!(out.is_empty());
    // An ignorable type may be fragmented and carry any Request ID (FR-TYPE-2).
    assert_eq!(
        encode_message(0x9f, 1, 77, &[&[0; 600]], 512, &mut out),
        Ok(2)
    );
}

// FR-FRAG-1, FR-FRAG-2: interleaved messages reassemble independently, keyed by (session,
// request, type).
#[test]
fn interleaved_messages_reassemble() {
    let mut r = Reassembler::new(1 << 20, 8);
    let a = header(frame_type::RESPONSE, 1, 1, true);
    let b = header(frame_type::ERROR, 1, 1, true); // same ids, other type
    let c = header(frame_type::RESPONSE, 2, 1, true); // same request, other session
    assert_eq!(r.push(&a, b"a1"), Reassembled::Incomplete);
    assert_eq!(r.push(&b, b"b1"), Reassembled::Incomplete);
    assert_eq!(r.push(&c, b"c1"), Reassembled::Incomplete);
    assert_eq!(r.partial_messages(), 3);
    assert_eq!(
        r.push(&header(frame_type::ERROR, 1, 1, false), b"b2"),
        Reassembled::Complete(Cow::Owned(b"b1b2".to_vec()))
    );
    assert_eq!(
        r.push(&a, b""),
        Reassembled::Incomplete,
        "empty fragments are allowed"
    );
    assert_eq!(
        r.push(&header(frame_type::RESPONSE, 1, 1, false), b"a2"),
        Reassembled::Complete(Cow::Owned(b"a1a2".to_vec()))
    );
    // A single-frame message in between borrows its payload.
    assert_eq!(
        r.push(&header(frame_type::RESPONSE, 3, 3, false), b"z"),
        Reassembled::Complete(Cow::Borrowed(b"z"))
    );
    assert_eq!(
        r.push(&header(frame_type::RESPONSE, 2, 1, false), b"c2"),
        Reassembled::Complete(Cow::Owned(b"c1c2".to_vec()))
    );
    assert_eq!(r.partial_messages(), 0);
}

// FR-FRAG-3, FR-FRAG-5: MESSAGE_TOO_LARGE once, then discard up to and including the last fragment.
#[test]
fn too_large_reports_once_and_discards_until_last() {
    let mut r = Reassembler::new(10, 8);
    let more = header(frame_type::REQUEST, 1, 4, true);
    let last = header(frame_type::REQUEST, 1, 4, false);
    let err = ProtocolError::MessageTooLarge {
        session: 1,
        request: 4,
        max: 10,
    };
    assert_eq!(r.push(&more, b"123456"), Reassembled::Incomplete);
    assert_eq!(
        r.push(&more, b"78901"),
        Reassembled::Refused {
            error: err.clone(),
            last: false
        }
    );
    assert_eq!(r.partial_messages(), 0, "the buffer is freed");
    assert_eq!(
        r.push(&more, b"xxxxxxxxxxxxxxxxxx"),
        Reassembled::Incomplete
    );
    assert_eq!(r.push(&last, b"x"), Reassembled::DiscardEnd);
    // The next message with the same key is a new message.
    assert_eq!(
        r.push(&last, b"0123456789"),
        Reassembled::Complete(Cow::Borrowed(b"0123456789"))
    );
    // Too large on the first or only fragment.
    assert_eq!(
        r.push(&last, b"01234567890"),
        Reassembled::Refused {
            error: err.clone(),
            last: true
        }
    );
    assert_eq!(
        r.push(&more, b"01234567890"),
        Reassembled::Refused {
            error: err.clone(),
            last: false
        }
    );
    assert_eq!(r.push(&last, b""), Reassembled::DiscardEnd);
    // Growing past the limit on the last fragment: reported, nothing left to discard.
    assert_eq!(r.push(&more, b"12345"), Reassembled::Incomplete);
    assert_eq!(
        r.push(&last, b"123456"),
        Reassembled::Refused {
            error: err,
            last: true
        }
    );
    assert!(r.finish().is_empty());
}

// FR-FRAG-7: a bound on messages reassembled at once; the refused one is discarded to its end.
#[test]
fn max_partial_bound() {
    let mut r = Reassembler::new(1000, 2);
    for req in 1..=2 {
        assert_eq!(
            r.push(&header(frame_type::REQUEST, 1, req, true), b"x"),
            Reassembled::Incomplete
        );
    }
    let refused = r.push(&header(frame_type::REQUEST, 1, 3, true), b"x");
    assert_eq!(
        refused,
        Reassembled::Refused {
            error: ProtocolError::TooManyPartialMessages {
                session: 1,
                request: 3,
                max: 2
            },
            last: false
        }
    );
    assert_eq!(
        r.push(&header(frame_type::REQUEST, 1, 3, false), b"y"),
        Reassembled::DiscardEnd
    );
    assert_eq!(r.partial_messages(), 2);
}

// Refused keys are bounded too: the oldest is forgotten.
#[test]
fn refused_keys_are_bounded() {
    let mut r = Reassembler::new(1, 0);
    for req in 1..=100 {
        assert!(matches!(
            r.push(&header(frame_type::REQUEST, 1, req, true), b"xy"),
            Reassembled::Refused { .. }
        ));
    }
    assert_eq!(r.entries.len(), 16);
    assert_eq!(
        r.push(&header(frame_type::REQUEST, 1, 100, false), b""),
        Reassembled::DiscardEnd
    );
    assert_eq!(
        r.push(&header(frame_type::REQUEST, 1, 1, false), b""),
        Reassembled::Complete(Cow::Borrowed(b""))
    );
}

// FR-FRAG-6: TRUNCATED_MESSAGE once per partial message, in first-fragment order.
#[test]
fn finish_reports_in_first_fragment_order() {
    let mut r = Reassembler::new(100, 8);
    for req in [7, 3, 9, 1] {
        r.push(&header(frame_type::RESPONSE, 2, req, true), b"x");
    }
    r.push(&header(frame_type::RESPONSE, 2, 3, true), b"more of 3");
    r.push(&header(frame_type::RESPONSE, 2, 9, false), b"end of 9");
    r.push(&header(frame_type::RESPONSE, 2, 5, true), &[0; 101]); // refused: not truncated later
    let got = r.finish();
    let want: Vec<_> = [7, 3, 1]
        .iter()
        .map(|&request| ProtocolError::TruncatedMessage {
            session: 2,
            request,
        })
        .collect();
    assert_eq!(got, want);
    assert!(r.finish().is_empty());
    assert_eq!(r.partial_messages(), 0);
}

// drop_session forgets one session's partial messages only.
#[test]
fn drop_session_is_scoped() {
    let mut r = Reassembler::new(100, 8);
    r.push(&header(frame_type::RESPONSE, 1, 1, true), b"a");
    r.push(&header(frame_type::RESPONSE, 2, 1, true), b"b");
    r.drop_session(1);
    assert_eq!(r.partial_messages(), 1);
    assert_eq!(
        r.push(&header(frame_type::RESPONSE, 1, 1, false), b"c"),
        Reassembled::Complete(Cow::Borrowed(b"c"))
    );
    assert_eq!(
        r.push(&header(frame_type::RESPONSE, 2, 1, false), b"c"),
        Reassembled::Complete(Cow::Owned(b"bc".to_vec()))
    );
}

// A recycled buffer is reused for the next fragmented message, never holds old octets, is
// bounded by max_message, and is released with the session.
#[test]
fn recycled_buffers_are_reused_clean_and_released() {
    let mut r = Reassembler::new(64, 8);
    r.recycle(Vec::with_capacity(1000)); // above max_message: not kept
    r.recycle(b"stale octets".to_vec());
    let first = header(frame_type::REQUEST, 1, 1, true);
    let last = header(frame_type::REQUEST, 1, 1, false);
    assert_eq!(r.push(&first, b"ab"), Reassembled::Incomplete);
    let Reassembled::Complete(done) = r.push(&last, b"cd") else {
        panic!("complete")
    };
    assert_eq!(&done[..], b"abcd", "no stale octets");
    let ptr = done.as_ptr();
    r.recycle(done.into_owned());
    assert_eq!(r.push(&first, b"ef"), Reassembled::Incomplete);
    let Reassembled::Complete(again) = r.push(&last, b"gh") else {
        panic!("complete")
    };
    assert_eq!((&again[..], again.as_ptr()), (&b"efgh"[..], ptr));
    r.recycle(again.into_owned());
    assert!(r.spare.capacity() >= 4);
    r.drop_session(1);
    assert_eq!(r.spare.capacity(), 0, "the spare went with the session");
    r.recycle(vec![0; 8]);
    r.clear();
    assert_eq!(r.spare.capacity(), 0, "and with a reset");
}

// A single-frame message is copied into a recycled buffer that fits (its owner then allocates
// nothing), and is borrowed as before when none fits.
#[test]
fn single_frame_messages_use_a_recycled_buffer_that_fits() {
    let mut r = Reassembler::new(1 << 20, 8);
    let one = header(frame_type::RESPONSE, 1, 1, false);
    assert_eq!(
        r.push(&one, b"abc"),
        Reassembled::Complete(Cow::Borrowed(b"abc"))
    );
    let spare = Vec::with_capacity(8);
    let ptr = spare.as_ptr();
    r.recycle(spare);
    assert_eq!(
        r.push(&one, &[7; 9]),
        Reassembled::Complete(Cow::Borrowed(&[7; 9][..])),
        "too small: not used"
    );
    let Reassembled::Complete(Cow::Owned(owned)) = r.push(&one, b"abcdefgh") else {
        panic!("the recycled buffer is used")
    };
    assert_eq!((owned.as_slice(), owned.as_ptr()), (&b"abcdefgh"[..], ptr));
    assert_eq!(
        r.push(&one, b"x"),
        Reassembled::Complete(Cow::Borrowed(b"x")),
        "it was taken"
    );
}
