//! The frame (spec §4): constants, the header, a borrowed decoded frame and [`encode_frame`].
//!
//! ```text
//!  0      2        4     5    6     7      8          12         16      HL        FL-4   FL
//! +------+--------+-----+----+-----+------+----------+----------+-------+---------+------+
//! |F1 F0 | length | ver |type|flags|hdrlen| session  | request  | exts  | payload | CRC  |
//! +------+--------+-----+----+-----+------+----------+----------+-------+---------+------+
//! ```
//!
//! All header integers are big-endian; the CRC-32 (ISO-HDLC, as zlib) covers every octet before it.

use crate::error::ProtocolError;

/// The two octets every frame starts with (FR-FRAME-1).
pub const MAGIC: [u8; 2] = [0xF1, 0xF0];
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Length of the fixed header, without extensions.
pub const HEADER_LEN: usize = 16;
/// Length of the CRC-32 trailer.
pub const CRC_LEN: usize = 4;
/// Octets of a frame that are not payload when it has no extensions: header plus CRC.
pub const FRAME_OVERHEAD: usize = HEADER_LEN + CRC_LEN;
/// The smallest frame (FR-FRAME-2).
pub const MIN_FRAME_LEN: usize = FRAME_OVERHEAD;
/// The largest MaxFrame the 16-bit Frame Length field can express.
pub const MAX_FRAME_LIMIT: usize = u16::MAX as usize;
/// The smallest local MaxFrame, and the sending limit until the handshake is done (FR-FRAME-6, -7).
pub const MIN_MAX_FRAME: usize = 512;
/// The smallest Max Message a peer may advertise (FR-HS-2).
pub const MIN_MAX_MESSAGE: u32 = 4096;
/// The most octets of header extensions a frame can carry (Header Length is one octet).
pub const MAX_EXTENSIONS_LEN: usize = u8::MAX as usize - HEADER_LEN;

/// Frame types (spec §6).
pub mod frame_type {
    /// HELLO, client to server.
    pub const HELLO: u8 = 0x01;
    /// WELCOME, server to client.
    pub const WELCOME: u8 = 0x02;
    /// REQUEST, client to server.
    pub const REQUEST: u8 = 0x10;
    /// RESPONSE, server to client.
    pub const RESPONSE: u8 = 0x11;
    /// ERROR, server to client.
    pub const ERROR: u8 = 0x12;
    /// NOTIFY, either direction.
    pub const NOTIFY: u8 = 0x13;
    /// CANCEL, client to server.
    pub const CANCEL: u8 = 0x14;
    /// PING, either direction.
    pub const PING: u8 = 0x20;
    /// PONG, either direction.
    pub const PONG: u8 = 0x21;
    /// GOODBYE, either direction.
    pub const GOODBYE: u8 = 0x30;

    /// `true` for the types that version 1 assigns.
    pub const fn is_assigned(t: u8) -> bool {
        matches!(
            t,
            HELLO | WELCOME | REQUEST | RESPONSE | ERROR | NOTIFY | CANCEL | PING | PONG | GOODBYE
        )
    }

    /// `true` for `0x80`-`0xFF`, which a receiver discards without error (FR-TYPE-2).
    pub const fn is_ignorable(t: u8) -> bool {
        t >= 0x80
    }

    /// `true` for the types that may carry MORE (FR-FRAME-14).
    pub const fn is_fragmentable(t: u8) -> bool {
        matches!(t, REQUEST | RESPONSE | ERROR | NOTIFY)
    }

    /// `true` for the assigned types that carry a non-zero Request ID (FR-TYPE-3).
    pub const fn needs_request_id(t: u8) -> bool {
        matches!(t, REQUEST | RESPONSE | ERROR | CANCEL)
    }

    /// `true` if `request` is allowed for the assigned type `t` (FR-TYPE-3). Unassigned types allow
    /// any Request ID.
    pub const fn request_id_ok(t: u8, request: u32) -> bool {
        if !is_assigned(t) {
            true
        } else if needs_request_id(t) {
            request != 0
        } else {
            request == 0
        }
    }

    /// The spec's name of an assigned type (`"REQUEST"`, ...), `None` otherwise.
    pub const fn name(t: u8) -> Option<&'static str> {
        Some(match t {
            HELLO => "HELLO",
            WELCOME => "WELCOME",
            REQUEST => "REQUEST",
            RESPONSE => "RESPONSE",
            ERROR => "ERROR",
            NOTIFY => "NOTIFY",
            CANCEL => "CANCEL",
            PING => "PING",
            PONG => "PONG",
            GOODBYE => "GOODBYE",
            _ => return None,
        })
    }
}

/// Frame flags (spec §4.3).
pub mod flags {
    /// Another fragment of this message follows (spec §7).
    pub const MORE: u8 = 0x01;
}

/// The fields of a frame header that are not lengths.
///
/// ```
/// use fifo_rpc_protocol::{frame_type, FrameHeader};
/// let header = FrameHeader::new(frame_type::PING, 42, 0);
/// assert_eq!(header.version, 1);
/// assert!(!header.more());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Version (1).
    pub version: u8,
    /// Type (spec §6).
    pub frame_type: u8,
    /// Flags (spec §4.3).
    pub flags: u8,
    /// Session ID.
    pub session: u32,
    /// Request ID.
    pub request: u32,
}

impl FrameHeader {
    /// A version 1 header without flags.
    pub const fn new(frame_type: u8, session: u32, request: u32) -> Self {
        Self {
            version: VERSION,
            frame_type,
            flags: 0,
            session,
            request,
        }
    }

    /// `true` if MORE is set.
    pub const fn more(&self) -> bool {
        self.flags & flags::MORE != 0
    }
}

/// One decoded frame, borrowing its extension area and payload from the decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The header fields.
    pub header: FrameHeader,
    /// The raw extension area (octets 16 .. Header Length), already checked well formed.
    pub extensions: &'a [u8],
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> FrameRef<'a> {
    /// The extensions of the frame, one by one.
    pub fn extension_iter(&self) -> Extensions<'a> {
        Extensions {
            rest: self.extensions,
        }
    }

    /// The octets the frame occupies on the wire.
    pub fn wire_len(&self) -> usize {
        FRAME_OVERHEAD + self.extensions.len() + self.payload.len()
    }
}

/// One header extension (spec §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Ext Type: `0x00`-`0x7F` critical, `0x80`-`0xFF` ignorable.
    pub ext_type: u8,
    /// Value.
    pub value: &'a [u8],
}

/// Iterator over the extensions of an extension area; stops at the first malformed one.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    rest: &'a [u8],
}

impl<'a> Extensions<'a> {
    /// Iterates over a raw extension area.
    pub fn new(area: &'a [u8]) -> Self {
        Self { rest: area }
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        let (&ext_type, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(len))?;
        self.rest = &rest[usize::from(len)..];
        Some(Extension { ext_type, value })
    }
}

/// Checks an extension area: FR-EXT-1 (`BAD_EXTENSION`), then FR-EXT-2
/// (`UNKNOWN_CRITICAL_EXTENSION`; version 1 understands no extension).
pub(crate) fn check_extensions(mut area: &[u8]) -> Result<(), ProtocolError> {
    let mut critical = None;
    while !area.is_empty() {
        let [ext_type, len, rest @ ..] = area else {
            return Err(ProtocolError::BadExtension);
        };
        let len = usize::from(*len);
        if rest.len() < len {
            return Err(ProtocolError::BadExtension);
        }
        if *ext_type < 0x80 && critical.is_none() {
            critical = Some(*ext_type);
        }
        area = &rest[len..];
    }
    match critical {
        Some(ext_type) => Err(ProtocolError::UnknownCriticalExtension { ext_type }),
        None => Ok(()),
    }
}

/// Appends one extension (Ext Type, Ext Length, Value) to an extension area being built.
///
/// Errors with [`ProtocolError::FieldTooLong`] if `value` is over 255 octets.
pub fn encode_extension(
    ext_type: u8,
    value: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let len = u8::try_from(value.len()).map_err(|_| ProtocolError::FieldTooLong {
        field: "extension value",
        len: value.len(),
        max: 255,
    })?;
    out.extend_from_slice(&[ext_type, len]);
    out.extend_from_slice(value);
    Ok(())
}

/// Appends one encoded frame to `out` and returns its length.
///
/// `extensions` is the raw extension area (see [`encode_extension`]); it is written as given. The
/// header fields are written as given too, so this can also build frames that a receiver rejects
/// (for tests); [`encode_message`](crate::encode_message) checks them.
///
/// # Errors
///
/// [`ProtocolError::ExtensionsTooLong`] if `extensions` is over 239 octets,
/// [`ProtocolError::EncodeTooLarge`] if the frame would be longer than `max_frame` (or 65535).
/// Nothing is appended on error.
///
/// ```
/// use fifo_rpc_protocol::{encode_frame, frame_type, FrameHeader};
/// let mut out = Vec::new();
/// let ping = FrameHeader::new(frame_type::PING, 42, 0);
/// let len = encode_frame(&ping, &[], &[1, 2, 3, 4, 5, 6, 7, 8], 512, &mut out).unwrap();
/// assert_eq!(len, 28);
/// assert_eq!(&out[24..], &[0x3e, 0x61, 0x31, 0x6a]); // the CRC-32 of spec §14.4
/// ```
pub fn encode_frame(
    header: &FrameHeader,
    extensions: &[u8],
    payload: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    if extensions.len() > MAX_EXTENSIONS_LEN {
        return Err(ProtocolError::ExtensionsTooLong {
            len: extensions.len(),
        });
    }
    let len = FRAME_OVERHEAD + extensions.len() + payload.len();
    let max = max_frame.min(MAX_FRAME_LIMIT);
    if len > max {
        return Err(ProtocolError::EncodeTooLarge { len, max });
    }
    let start = out.len();
    out.reserve(len);
    put_header(header, len, extensions.len(), out);
    out.extend_from_slice(extensions);
    out.extend_from_slice(payload);
    put_crc(start, out);
    Ok(len)
}

/// Writes the 16-octet fixed header of a frame of `len` octets with `ext_len` octets of extensions.
/// The caller guarantees `len <= 65535` and `ext_len <= 239`.
#[inline]
pub(crate) fn put_header(header: &FrameHeader, len: usize, ext_len: usize, out: &mut Vec<u8>) {
    let len = len as u16; // callers bound len by MAX_FRAME_LIMIT
    let hl = (HEADER_LEN + ext_len) as u8; // callers bound ext_len by MAX_EXTENSIONS_LEN
    let s = header.session.to_be_bytes();
    let r = header.request.to_be_bytes();
    let l = len.to_be_bytes();
    out.extend_from_slice(&[
        MAGIC[0],
        MAGIC[1],
        l[0],
        l[1],
        header.version,
        header.frame_type,
        header.flags,
        hl,
        s[0],
        s[1],
        s[2],
        s[3],
        r[0],
        r[1],
        r[2],
        r[3],
    ]);
}

/// Appends the CRC-32 of `out[start..]` (FR-FRAME-12).
#[inline]
pub(crate) fn put_crc(start: usize, out: &mut Vec<u8>) {
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // FR-FRAME-12: the CRC is CRC-32/ISO-HDLC; check value from spec §4.2.
    #[test]
    fn crc_is_iso_hdlc() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    // FR-FRAME-1, FR-FRAME-2, FR-FRAME-12: spec §14.3 RESPONSE example, byte for byte.
    #[test]
    fn encodes_spec_response_example() {
        let mut out = Vec::new();
        let h = FrameHeader::new(frame_type::RESPONSE, 1, 1);
        let body = hex("02 00 00 00 00 00 00 00 68 69");
        let n = encode_frame(&h, &[], &body, 4096, &mut out).unwrap();
        let want = hex("f1 f0 00 1e 01 11 00 10 00 00 00 01 00 00 00 01
             02 00 00 00 00 00 00 00 68 69 dc c8 0a 5e");
        assert_eq!(n, 30);
        assert_eq!(out, want);
    }

    // FR-FRAME-3: the encoder refuses a frame over max_frame and appends nothing.
    #[test]
    fn refuses_frame_over_max_frame() {
        let mut out = vec![9];
        let h = FrameHeader::new(frame_type::RESPONSE, 1, 1);
        let err = encode_frame(&h, &[], &[0; 493], 512, &mut out).unwrap_err();
        assert_eq!(err, ProtocolError::EncodeTooLarge { len: 513, max: 512 });
        assert_eq!(out, [9]);
        assert_eq!(encode_frame(&h, &[], &[0; 492], 512, &mut out), Ok(512));
        let err = encode_frame(&h, &[0; 240], &[], 4096, &mut out).unwrap_err();
        assert_eq!(err, ProtocolError::ExtensionsTooLong { len: 240 });
    }

    // FR-EXT-1, FR-EXT-2: extension area checks.
    #[test]
    fn extension_checks() {
        assert_eq!(check_extensions(&[]), Ok(()));
        assert_eq!(check_extensions(&[0x8f, 0]), Ok(()));
        assert_eq!(check_extensions(&[0x8f, 2, 1, 2, 0xff, 0]), Ok(()));
        assert_eq!(check_extensions(&[0x8f]), Err(ProtocolError::BadExtension));
        assert_eq!(
            check_extensions(&[0x8f, 3, 1, 2]),
            Err(ProtocolError::BadExtension)
        );
        assert_eq!(
            check_extensions(&[0x8f, 0, 7]),
            Err(ProtocolError::BadExtension)
        );
        assert_eq!(
            check_extensions(&[0x05, 0]),
            Err(ProtocolError::UnknownCriticalExtension { ext_type: 5 })
        );
        // A malformed area is BAD_EXTENSION even if a critical extension came first (step 8 before 9).
        assert_eq!(
            check_extensions(&[0x05, 0, 0x80]),
            Err(ProtocolError::BadExtension)
        );
        let mut area = Vec::new();
        encode_extension(0x9f, b"ab", &mut area).unwrap();
        encode_extension(0x80, b"", &mut area).unwrap();
        let exts: Vec<_> = Extensions::new(&area).collect();
        assert_eq!(
            exts,
            [
                Extension {
                    ext_type: 0x9f,
                    value: b"ab"
                },
                Extension {
                    ext_type: 0x80,
                    value: b""
                }
            ]
        );
        assert!(encode_extension(1, &[0; 256], &mut area).is_err());
    }

    // FR-TYPE-1, FR-TYPE-3, FR-FRAME-14: type classification.
    #[test]
    fn type_classification() {
        use frame_type::*;
        for t in 0..=255u8 {
            assert_eq!(is_assigned(t), name(t).is_some());
            if is_fragmentable(t) {
                assert!(is_assigned(t));
            }
        }
        assert!(request_id_ok(REQUEST, 1) && !request_id_ok(REQUEST, 0));
        assert!(request_id_ok(CANCEL, 1) && !request_id_ok(CANCEL, 0));
        assert!(request_id_ok(NOTIFY, 0) && !request_id_ok(NOTIFY, 1));
        assert!(request_id_ok(0x9f, 7) && request_id_ok(0x9f, 0));
        assert!(!is_fragmentable(CANCEL) && is_fragmentable(NOTIFY));
    }
}
