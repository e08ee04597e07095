//! Spec §10.1: the `bincode1` layout table, checked octet by octet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;

const LIMIT: u64 = 1 << 20;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Encodes to exactly `want` and decodes back to the value.
fn check<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(value: T, want: &str) {
    let bytes = encode(&value, LIMIT).unwrap();
    assert_eq!(bytes, hex(want), "{value:?}");
    assert_eq!(decode::<T>(&bytes, LIMIT).unwrap(), value);
    assert_eq!(encoded_len(&value, LIMIT).unwrap(), bytes.len() as u64);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i16,
    label: String,
    tags: Vec<u8>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(u32),
    Rect { w: u8, h: u8 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Unit;

// Spec §10.1 examples: "hi" and Some(7u32).
#[test]
fn spec_examples() {
    check("hi".to_string(), "02 00 00 00 00 00 00 00 68 69");
    check(Some(7u32), "01 07 00 00 00");
    check(None::<u32>, "00");
}

// Spec §10.1: integers are fixed width, little-endian, two's complement; floats IEEE little-endian.
#[test]
fn integers_and_floats() {
    check(0xabu8, "ab");
    check(-1i8, "ff");
    check(0x1234u16, "34 12");
    check(-2i16, "fe ff");
    check(1u32, "01 00 00 00");
    check(0x0102_0304_0506_0708u64, "08 07 06 05 04 03 02 01");
    check(-1i64, "ff ff ff ff ff ff ff ff");
    check(1u128, "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    check(1.0f32, "00 00 80 3f");
    check(-2.0f64, "00 00 00 00 00 00 00 c0");
}

// Spec §10.1: bool, char, byte arrays, sequences, maps, tuples, fixed arrays, unit.
#[test]
fn compound_types() {
    check(true, "01");
    check(false, "00");
    check('é', "c3 a9");
    check(vec![1u8, 2, 3], "03 00 00 00 00 00 00 00 01 02 03");
    check(vec![1u16, 2], "02 00 00 00 00 00 00 00 01 00 02 00");
    check((1u8, 2u16), "01 02 00");
    check([7u8; 3], "07 07 07");
    check((), "");
    check(Unit, "");
    let map: BTreeMap<u8, bool> = [(1, true), (2, false)].into();
    check(map, "02 00 00 00 00 00 00 00 01 01 02 00");
}

// Spec §10.1: structs are their fields in order; enums a u32 variant index then the fields.
#[test]
fn structs_and_enums() {
    check(
        Point {
            x: -1,
            label: "a".into(),
            tags: vec![9],
        },
        "ff ff 01 00 00 00 00 00 00 00 61 01 00 00 00 00 00 00 00 09",
    );
    check(Shape::Empty, "00 00 00 00");
    check(Shape::Circle(5), "01 00 00 00 05 00 00 00");
    check(Shape::Rect { w: 2, h: 3 }, "02 00 00 00 02 03");
}

// FR-ENC-1: trailing octets, truncation, lengths past the end, invalid values, the limit.
#[test]
fn decode_rejects_bad_bodies() {
    let kind = |r: Result<String, PayloadError>| r.unwrap_err().kind();
    assert_eq!(
        kind(decode(&hex("01 00 00 00 00 00 00 00 61 62"), LIMIT)),
        PayloadErrorKind::TrailingBytes
    );
    assert_eq!(
        kind(decode(&hex("02 00 00 00 00 00 00 00 61"), LIMIT)),
        PayloadErrorKind::Truncated
    );
    assert_eq!(
        kind(decode(&hex("02 00 00"), LIMIT)),
        PayloadErrorKind::Truncated
    );
    // A huge declared length is an error, not an allocation.
    assert!(decode::<String>(&hex("ff ff ff ff ff ff ff 7f 61"), u64::MAX).is_err());
    assert!(decode::<Vec<u64>>(&hex("ff ff ff ff ff ff ff 7f 61"), u64::MAX).is_err());
    assert_eq!(
        kind(decode(&hex("ff ff ff ff ff ff ff 7f 61"), LIMIT)),
        PayloadErrorKind::Truncated
    );
    assert_eq!(
        kind(decode(&hex("01 00 00 00 00 00 00 00 ff"), LIMIT)),
        PayloadErrorKind::Invalid
    );
    assert_eq!(
        decode::<bool>(&hex("02"), LIMIT).unwrap_err().kind(),
        PayloadErrorKind::Invalid
    );
    assert_eq!(
        decode::<Shape>(&hex("03 00 00 00"), LIMIT)
            .unwrap_err()
            .kind(),
        PayloadErrorKind::Invalid
    );
    let err = decode::<String>(&hex("02 00 00 00 00 00 00 00 61 62"), 9).unwrap_err();
    assert_eq!(
        (err.kind(), err.direction()),
        (PayloadErrorKind::LimitExceeded, Direction::Decode)
    );
    assert_eq!(
        err.to_string(),
        "could not decode a bincode1 body: the size limit is exceeded"
    );
    assert!(
        StdError::source(&err).is_some(),
        "the codec error is kept as the source"
    );
}

// The limit bounds encoding too, and encode_into leaves `out` untouched on error.
#[test]
fn encode_respects_limit() {
    let err = encode("hello", 12).unwrap_err();
    assert_eq!(
        (err.kind(), err.direction()),
        (PayloadErrorKind::LimitExceeded, Direction::Encode)
    );
    assert_eq!(encode("hello", 13).unwrap().len(), 13);
    let mut out = vec![1, 2];
    assert!(encode_into("hello", 12, &mut out).is_err());
    assert_eq!(out, [1, 2]);
    encode_into(&7u16, 2, &mut out).unwrap();
    assert_eq!(out, [1, 2, 7, 0]);
}

// The limit is checked on the written body: a body of exactly the limit passes, one octet more
// fails with LimitExceeded (the same kind as before the check moved after encoding), for nested
// values too, and `out` keeps what it held before.
#[test]
fn encode_checks_limit_after_writing() {
    let value = (vec![1u8; 100], String::from("abc"));
    let len = encode(&value, LIMIT).unwrap().len() as u64;
    assert_eq!(len, 8 + 100 + 8 + 3);
    assert_eq!(encode(&value, len).unwrap().len() as u64, len);
    let err = encode(&value, len - 1).unwrap_err();
    assert_eq!(
        (err.kind(), err.direction()),
        (PayloadErrorKind::LimitExceeded, Direction::Encode)
    );
    assert_eq!(
        err.to_string(),
        "could not encode a bincode1 body: the size limit is exceeded"
    );
    assert!(StdError::source(&err).is_some());
    let mut out = vec![9; 5];
    let err = encode_into(&value, len - 1, &mut out).unwrap_err();
    assert_eq!(err.kind(), PayloadErrorKind::LimitExceeded);
    assert_eq!(out, [9; 5], "out is left as it was");
    encode_into(&value, len, &mut out).unwrap();
    assert_eq!(
        out.len() as u64,
        5 + len,
        "the limit counts only the new body"
    );
    assert_eq!(encode(&(), 0).unwrap(), Vec::<u8>::new());
}
