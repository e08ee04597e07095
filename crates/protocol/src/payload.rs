//! The `bincode1` body encoding (spec §10.1): bincode 1.3 with fixed-width little-endian integers,
//! a size limit, and no trailing bytes.
//!
//! This is the only module that names `bincode`; its types never appear in a public signature.
//!
//! ```
//! use fifo_rpc_protocol::payload;
//! let body = payload::encode("hi", 1024).unwrap();
//! assert_eq!(body, b"\x02\0\0\0\0\0\0\0hi");
//! let back: String = payload::decode(&body, 1024).unwrap();
//! assert_eq!(back, "hi");
//! ```

use std::error::Error as StdError;
use std::fmt;

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The bincode options of `bincode1`.
fn options(limit: u64) -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(limit)
        .reject_trailing_bytes()
}

/// The `bincode1` options without a limit, for encoding: with a limit bincode makes a whole
/// sizing pass over the value before it writes it. The encoders check the written length against
/// the limit afterwards instead.
fn encode_options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// Initial capacity of the buffer [`encode`] writes into.
const ENCODE_START: usize = 256;

/// The error of a body that came out longer than `limit`.
fn limit_exceeded() -> PayloadError {
    PayloadError::new(Direction::Encode, Box::new(bincode::ErrorKind::SizeLimit))
}

/// Encodes `value` as a `bincode1` body of at most `limit` octets.
///
/// # Errors
///
/// [`PayloadErrorKind::LimitExceeded`] if the body would exceed `limit`;
/// [`PayloadErrorKind::Invalid`] if the value cannot be encoded (a sequence of unknown length, a
/// serializer error).
pub fn encode<T: Serialize + ?Sized>(value: &T, limit: u64) -> Result<Vec<u8>, PayloadError> {
    // Room for a small body up front: without a sizing pass, growing from empty would
    // reallocate several times for a typical small request.
    let mut out = Vec::with_capacity(ENCODE_START);
    encode_into(value, limit, &mut out)?;
    Ok(out)
}

/// Appends `value` as a `bincode1` body of at most `limit` octets to `out`; on error `out` is left
/// as it was.
///
/// # Errors
///
/// As [`encode`].
pub fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    limit: u64,
    out: &mut Vec<u8>,
) -> Result<(), PayloadError> {
    let start = out.len();
    // One pass, then the limit (the value is written even if it turns out too long).
    let result = encode_options()
        .serialize_into(&mut *out, value)
        .map_err(|e| PayloadError::new(Direction::Encode, e))
        .and_then(|()| {
            let len = u64::try_from(out.len() - start).unwrap_or(u64::MAX);
            if len > limit {
                Err(limit_exceeded())
            } else {
                Ok(())
            }
        });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The number of octets `value` encodes to, if at most `limit`.
///
/// # Errors
///
/// As [`encode`].
pub fn encoded_len<T: Serialize + ?Sized>(value: &T, limit: u64) -> Result<u64, PayloadError> {
    options(limit)
        .serialized_size(value)
        .map_err(|e| PayloadError::new(Direction::Encode, e))
}

/// Decodes a `bincode1` body of at most `limit` octets that must be exactly one value (FR-ENC-1).
/// Declared string and byte lengths are checked against the octets available before anything is
/// allocated for them.
///
/// # Errors
///
/// [`PayloadErrorKind::Truncated`], [`PayloadErrorKind::TrailingBytes`],
/// [`PayloadErrorKind::LimitExceeded`] or [`PayloadErrorKind::Invalid`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: u64) -> Result<T, PayloadError> {
    // bincode lifts the limit when it reads from a slice (the slice bounds every read), so the
    // limit is applied to the body as a whole.
    if u64::try_from(bytes.len()).map_or(true, |len| len > limit) {
        return Err(PayloadError::new(
            Direction::Decode,
            Box::new(bincode::ErrorKind::SizeLimit),
        ));
    }
    options(limit)
        .deserialize(bytes)
        .map_err(|e| PayloadError::new(Direction::Decode, e))
}

/// Whether a [`PayloadError`] happened while encoding or decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Turning a value into a body.
    Encode,
    /// Turning a body into a value.
    Decode,
}

/// What went wrong with a `bincode1` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PayloadErrorKind {
    /// The body ended before the value did.
    Truncated,
    /// Octets were left over after the value (FR-ENC-1).
    TrailingBytes,
    /// The body, or a length declared in it, exceeds the size limit.
    LimitExceeded,
    /// Octets that do not encode a value of the type (bad UTF-8, a bool other than 0 or 1, an
    /// unknown enum variant, ...) or a value that cannot be encoded.
    Invalid,
}

impl fmt::Display for PayloadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "the body ends before the value",
            Self::TrailingBytes => "octets are left over after the value",
            Self::LimitExceeded => "the size limit is exceeded",
            Self::Invalid => "the octets do not encode a value of this type",
        })
    }
}

/// A `bincode1` body could not be encoded or decoded. The underlying codec error is kept as the
/// [`source`](StdError::source).
#[derive(Debug, thiserror::Error)]
#[error("could not {verb} a bincode1 body: {kind}", verb = match .direction { Direction::Encode => "encode", Direction::Decode => "decode" })]
pub struct PayloadError {
    direction: Direction,
    kind: PayloadErrorKind,
    #[source]
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl PayloadError {
    fn new(direction: Direction, err: bincode::Error) -> Self {
        let kind = match &*err {
            bincode::ErrorKind::Io(_) => PayloadErrorKind::Truncated,
            bincode::ErrorKind::SizeLimit => PayloadErrorKind::LimitExceeded,
            // The text bincode 1.3.3 (pinned) uses for `reject_trailing_bytes`.
            bincode::ErrorKind::Custom(text) if text.contains("bytes remaining") => {
                PayloadErrorKind::TrailingBytes
            }
            _ => PayloadErrorKind::Invalid,
        };
        Self {
            direction,
            kind,
            source: err,
        }
    }

    /// Encoding or decoding.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// What went wrong.
    pub fn kind(&self) -> PayloadErrorKind {
        self.kind
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
