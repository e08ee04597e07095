//! Unit tests of the frame decoder (spec §5).

use super::*;
use crate::frame::{encode_extension, encode_frame, flags, FRAME_OVERHEAD};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Frame(FrameHeader, Vec<u8>, Vec<u8>),
    Err(ProtocolError),
}

fn drain(d: &mut FrameDecoder, out: &mut Vec<Out>) {
    while let Some(r) = d.decode() {
        out.push(match r {
            Ok(f) => Out::Frame(f.header, f.extensions.to_vec(), f.payload.to_vec()),
            Err(e) => Out::Err(e),
        });
    }
}

/// Decodes `input` pushed in chunks of the given sizes (the rest in one chunk), then finishes.
fn run_chunks(input: &[u8], max_frame: usize, cuts: &[usize]) -> Vec<Out> {
    let mut d = FrameDecoder::new(max_frame);
    let mut out = Vec::new();
    let mut rest = input;
    for &c in cuts {
        let c = c.min(rest.len());
        d.push(&rest[..c]);
        rest = &rest[c..];
        drain(&mut d, &mut out);
    }
    d.push(rest);
    drain(&mut d, &mut out);
    if let Some(e) = d.finish() {
        out.push(Out::Err(e));
    }
    out
}

fn run(input: &[u8], max_frame: usize) -> Vec<Out> {
    run_chunks(input, max_frame, &[])
}

/// FR-DEC-1: whole input, every 2-way split and 1-octet chunks give the same results.
fn run_all_splits(input: &[u8], max_frame: usize) -> Vec<Out> {
    let whole = run(input, max_frame);
    for cut in 0..=input.len() {
        assert_eq!(
            run_chunks(input, max_frame, &[cut]),
            whole,
            "split at {cut}"
        );
    }
    let ones = vec![1; input.len()];
    assert_eq!(run_chunks(input, max_frame, &ones), whole, "1-octet chunks");
    whole
}

fn frame(t: u8, fl: u8, session: u32, request: u32, ext: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut h = FrameHeader::new(t, session, request);
    h.flags = fl;
    let mut out = Vec::new();
    encode_frame(&h, ext, payload, MAX_FRAME_LIMIT, &mut out).unwrap();
    out
}

fn ping(session: u32) -> Vec<u8> {
    frame(
        frame_type::PING,
        0,
        session,
        0,
        &[],
        &[1, 2, 3, 4, 5, 6, 7, 8],
    )
}

fn frame_out(bytes: &[u8]) -> Out {
    let mut d = FrameDecoder::new(MAX_FRAME_LIMIT);
    d.push(bytes);
    let f = d.decode().unwrap().unwrap();
    Out::Frame(f.header, f.extensions.to_vec(), f.payload.to_vec())
}

/// Recomputes the CRC after a header field was patched.
fn fix_crc(mut f: Vec<u8>) -> Vec<u8> {
    let n = f.len();
    let crc = crc32fast::hash(&f[..n - 4]);
    f[n - 4..].copy_from_slice(&crc.to_be_bytes());
    f
}

// FR-DEC-1, FR-DEC-2: spec §14.4 PING decodes; every strict prefix needs more bytes.
#[test]
fn decodes_spec_ping_and_prefixes_wait() {
    let f = ping(42);
    assert_eq!(
        run_all_splits(&f, 4096),
        [Out::Frame(
            FrameHeader::new(frame_type::PING, 42, 0),
            vec![],
            vec![1, 2, 3, 4, 5, 6, 7, 8]
        )]
    );
    for n in 1..f.len() {
        let mut d = FrameDecoder::new(4096);
        d.push(&f[..n]);
        assert!(d.decode().is_none(), "prefix {n}");
        assert_eq!(d.buffered(), n);
        assert!(
            matches!(d.finish(), Some(ProtocolError::TruncatedFrame { .. })),
            "FR-DEC-5"
        );
    }
}

// FR-DEC-1: several frames back to back, split anywhere.
#[test]
fn several_frames_any_split() {
    let mut input = ping(1);
    input.extend(frame(
        frame_type::RESPONSE,
        flags::MORE,
        1,
        9,
        &[],
        b"part one",
    ));
    input.extend(frame(0x9f, 0x80, 1, 3, &[0x8f, 1, 0xaa], b"grease"));
    input.extend(frame(frame_type::RESPONSE, 0, 1, 9, &[], &[]));
    let out = run_all_splits(&input, 4096);
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(|o| matches!(o, Out::Frame(..))));
    assert_eq!(
        out[2],
        Out::Frame(
            FrameHeader {
                version: 1,
                frame_type: 0x9f,
                flags: 0x80,
                session: 1,
                request: 3
            },
            vec![0x8f, 1, 0xaa],
            b"grease".to_vec()
        )
    );
}

// FR-DEC-2 step 1, FR-DEC-4: stray text is one BAD_MAGIC, then the next frame is found.
#[test]
fn stray_bytes_scan_to_next_frame() {
    let mut input = b"hello\n".to_vec();
    input.extend(ping(5));
    input.extend(b"\xf1\xf1\xf0"); // F1 then a candidate F1 F0 ...
    input.extend(&ping(6)[2..]); // ... completed by the rest of a frame
    let out = run_all_splits(&input, 4096);
    assert_eq!(
        out,
        [
            Out::Err(ProtocolError::BadMagic),
            frame_out(&ping(5)),
            Out::Err(ProtocolError::BadMagic),
            frame_out(&ping(6)),
        ]
    );
}

// FR-DEC-4: "F1 41" fails at octet 1; a single trailing F1 while scanning waits; FR-DEC-5: octets
// held while scanning are dropped silently.
#[test]
fn scanning_details() {
    assert_eq!(
        run_all_splits(b"\xf1\x41", 4096),
        [Out::Err(ProtocolError::BadMagic)]
    );
    assert_eq!(
        run_all_splits(b"x\xf1", 4096),
        [Out::Err(ProtocolError::BadMagic)]
    );
    // Not scanning and holding a lone F1: a truncated frame.
    assert_eq!(
        run(b"\xf1", 4096),
        [Out::Err(ProtocolError::TruncatedFrame { missing: 19 })]
    );
    let mut d = FrameDecoder::new(4096);
    d.push(b"zz\xf1");
    assert_eq!(d.decode(), Some(Err(ProtocolError::BadMagic)));
    assert_eq!(d.decode(), None);
    assert!(d.is_scanning());
    assert_eq!(d.buffered(), 1, "the lone F1 is kept");
    d.push(&ping(3)[1..]);
    assert!(matches!(d.decode(), Some(Ok(f)) if f.header.session == 3));
}

// FR-DEC-2 steps 2 and 3: decided from the length field alone, then scan.
#[test]
fn length_checks_scan() {
    let short = b"\xf1\xf0\x00\x13";
    assert_eq!(
        run_all_splits(short, 4096),
        [Out::Err(ProtocolError::FrameTooShort { len: 19 })]
    );
    let mut d = FrameDecoder::new(512);
    d.push(b"\xf1\xf0\x02\x01");
    assert_eq!(
        d.decode(),
        Some(Err(ProtocolError::FrameTooLarge { len: 513, max: 512 }))
    );
    assert!(d.is_scanning());
    // FR-FRAME-8: exactly MaxFrame is accepted, one more is rejected.
    let big = frame(
        frame_type::RESPONSE,
        0,
        1,
        1,
        &[],
        &[7; 512 - FRAME_OVERHEAD],
    );
    assert!(matches!(run(&big, 512)[..], [Out::Frame(..)]));
    assert_eq!(
        run(&big, 511)[0],
        Out::Err(ProtocolError::FrameTooLarge { len: 512, max: 511 })
    );
    // A frame too large for the decoder is scanned over; the frame inside its bytes is found.
    let mut input = big.clone();
    input.extend(ping(2));
    let out = run_all_splits(&input, 511);
    assert_eq!(
        out,
        [
            Out::Err(ProtocolError::FrameTooLarge { len: 512, max: 511 }),
            frame_out(&ping(2))
        ]
    );
}

// FR-DEC-2 step 5, FR-DEC-4: a bad CRC scans from the second octet, so a frame that follows is found.
#[test]
fn bad_checksum_scans() {
    let mut bad = ping(1);
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    let mut input = bad.clone();
    input.extend(ping(2));
    let out = run_all_splits(&input, 4096);
    assert_eq!(out.len(), 2);
    assert!(matches!(
        out[0],
        Out::Err(ProtocolError::BadChecksum { .. })
    ));
    assert_eq!(out[1], frame_out(&ping(2)));
    // An embedded frame inside the bad frame's payload is found by the scan.
    let inner = ping(9);
    let mut outer = frame(frame_type::RESPONSE, 0, 1, 1, &[], &inner);
    let m = outer.len();
    outer[m - 2] ^= 1;
    let out = run_all_splits(&outer, 4096);
    assert!(matches!(
        out[0],
        Out::Err(ProtocolError::BadChecksum { .. })
    ));
    assert_eq!(out[1], frame_out(&inner));
    // The outer frame's CRC follows the inner frame: a new candidate, reported once.
    assert_eq!(out[2..], [Out::Err(ProtocolError::BadMagic)]);
}

// FR-DEC-2 steps 6-11, FR-DEC-3: each error skips exactly the frame; the next one decodes.
#[test]
fn header_errors_skip_whole_frame() {
    let mut v2 = ping(1);
    v2[4] = 2;
    let mut hl_small = ping(1);
    hl_small[7] = 15;
    let mut hl_big = ping(1);
    hl_big[7] = 25; // frame length 28: at most 24
    let bad_ext = frame(frame_type::PING, 0, 1, 0, &[0x8f, 5, 1], &[0; 8]);
    let crit_ext = frame(frame_type::PING, 0, 1, 0, &[0x01, 0], &[0; 8]);
    let crit_type = frame(0x05, 0, 1, 0, &[], &[]);
    let zero_type = frame(0x00, 0, 1, 0, &[], &[]);
    let zero_session = frame(frame_type::PING, 0, 0, 0, &[], &[0; 8]);
    // Step order: version before header length before extensions before type before session.
    let mut all_wrong = frame(0x05, 0, 0, 0, &[0x01, 0], &[]);
    all_wrong[4] = 9;
    let cases = [
        (
            fix_crc(v2),
            ProtocolError::UnsupportedVersion { version: 2 },
        ),
        (
            fix_crc(hl_small),
            ProtocolError::BadHeaderLength {
                header_len: 15,
                frame_len: 28,
            },
        ),
        (
            fix_crc(hl_big),
            ProtocolError::BadHeaderLength {
                header_len: 25,
                frame_len: 28,
            },
        ),
        (bad_ext, ProtocolError::BadExtension),
        (
            crit_ext,
            ProtocolError::UnknownCriticalExtension { ext_type: 1 },
        ),
        (
            crit_type,
            ProtocolError::UnknownCriticalType { frame_type: 5 },
        ),
        (
            zero_type,
            ProtocolError::UnknownCriticalType { frame_type: 0 },
        ),
        (zero_session, ProtocolError::ZeroSession),
        (
            fix_crc(all_wrong),
            ProtocolError::UnsupportedVersion { version: 9 },
        ),
    ];
    for (bad, err) in cases {
        let mut input = bad.clone();
        input.extend(ping(7));
        let out = run_all_splits(&input, 4096);
        assert_eq!(out, [Out::Err(err.clone()), frame_out(&ping(7))], "{err:?}");
    }
    // Header length exactly Frame Length - 4 is allowed: all extensions, empty payload.
    let mut ext = Vec::new();
    encode_extension(0x80, &[0; 6], &mut ext).unwrap();
    let f = frame(frame_type::PING, 0, 1, 0, &ext, &[]);
    assert_eq!(f[7] as usize, f.len() - 4);
    assert!(matches!(run(&f, 4096)[..], [Out::Frame(..)]));
}

// FR-DEC-5: the number of missing octets, and nothing after a clean end.
#[test]
fn finish_reports_truncation() {
    let f = ping(1);
    let mut d = FrameDecoder::new(4096);
    d.push(&f[..10]);
    assert!(d.decode().is_none());
    assert_eq!(
        d.finish(),
        Some(ProtocolError::TruncatedFrame { missing: 18 })
    );
    assert_eq!(d.buffered(), 0);
    assert_eq!(d.finish(), None, "the decoder is empty after finish");
    d.push(&f);
    assert!(
        matches!(d.decode(), Some(Ok(_))),
        "a new stream decodes after finish"
    );
    assert!(d.decode().is_none());
    assert_eq!(d.finish(), None);
}

// FR-DEC-1: reading straight into the buffer gives the same frames as push.
#[test]
fn buffer_mut_and_commit() {
    let mut input = Vec::new();
    for s in 1..=50 {
        input.extend(ping(s));
    }
    let mut d = FrameDecoder::new(4096);
    let mut sessions = Vec::new();
    for chunk in input.chunks(37) {
        let spare = d.buffer_mut(chunk.len());
        assert!(spare.len() >= chunk.len());
        spare[..chunk.len()].copy_from_slice(chunk);
        d.commit(chunk.len());
        while let Some(r) = d.decode() {
            sessions.push(r.unwrap().header.session);
        }
    }
    assert_eq!(sessions, (1..=50).collect::<Vec<_>>());
    d.commit(usize::MAX); // clamped, no panic
}

// The buffer does not grow with the amount of data that passes through it.
#[test]
fn buffer_stays_bounded() {
    let f = frame(frame_type::RESPONSE, 0, 1, 1, &[], &[3; 1000]);
    let mut d = FrameDecoder::new(4096);
    for _ in 0..2000 {
        for chunk in f.chunks(333) {
            d.push(chunk);
            while let Some(r) = d.decode() {
                assert_eq!(r.unwrap().payload.len(), 1000);
            }
        }
    }
    assert!(d.buf.len() <= 16 * 1024, "buffer grew to {}", d.buf.len());
}
