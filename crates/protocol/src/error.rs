//! [`ProtocolError`]: what the peer's bytes did wrong, and what a local caller asked for that the
//! protocol cannot carry.

/// An error of the FIFO-RPC/1 protocol layer.
///
/// There are two groups of variants:
///
/// * **Receiver errors** (spec §11.3): the peer's bytes broke a framing or payload rule. They concern
///   bytes, not a session: a receiver reports them and carries on (FR-ERR-1). [`name`] returns the
///   spec's name, for example `"BAD_MAGIC"`.
/// * **Local misuse** ([`is_local`] returns `true`): the caller asked to encode something the wire
///   cannot carry (a frame over MaxFrame, a method name over 255 octets, Session ID 0, ...) or
///   that the session does not allow now (a call before WELCOME, beyond the peer's limits).
///   Nothing was sent.
///
/// [`name`]: ProtocolError::name
/// [`is_local`]: ProtocolError::is_local
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A candidate frame does not start with `F1 F0` (FR-DEC-2 step 1).
    #[error(
        "bytes that are not a frame (bad magic); the receiver resynchronises on the next frame"
    )]
    BadMagic,
    /// The Frame Length field is below 20 (FR-DEC-2 step 2).
    #[error("frame length {len} is below the minimum of 20 bytes")]
    FrameTooShort {
        /// The Frame Length field.
        len: usize,
    },
    /// The Frame Length field is above the local MaxFrame (FR-DEC-2 step 3, FR-FRAME-8).
    #[error("frame length {len} exceeds the local max frame of {max} bytes")]
    FrameTooLarge {
        /// The Frame Length field.
        len: usize,
        /// The local MaxFrame.
        max: usize,
    },
    /// The CRC-32 field does not match the frame (FR-DEC-2 step 5).
    #[error("frame checksum mismatch (expected {expected:#010x}, computed {actual:#010x})")]
    BadChecksum {
        /// The CRC-32 field of the frame.
        expected: u32,
        /// The CRC-32 computed over the frame.
        actual: u32,
    },
    /// The Version field is not 1 (FR-DEC-2 step 6).
    #[error(
        "frame of unsupported protocol version {version}; this implementation speaks version 1"
    )]
    UnsupportedVersion {
        /// The Version field.
        version: u8,
    },
    /// The Header Length field is outside `16..=Frame Length - 4` (FR-DEC-2 step 7).
    #[error("header length {header_len} does not fit a frame of {frame_len} bytes")]
    BadHeaderLength {
        /// The Header Length field.
        header_len: usize,
        /// The Frame Length field.
        frame_len: usize,
    },
    /// The header extensions do not fill the extension area exactly (FR-EXT-1).
    #[error("malformed header extensions")]
    BadExtension,
    /// A critical extension (type `0x00`-`0x7F`) that version 1 does not define (FR-EXT-2).
    #[error("unknown critical header extension {ext_type:#04x}")]
    UnknownCriticalExtension {
        /// The extension type.
        ext_type: u8,
    },
    /// An unassigned frame type in `0x00`-`0x7F` (FR-TYPE-1).
    #[error("unknown critical frame type {frame_type:#04x}")]
    UnknownCriticalType {
        /// The Type field.
        frame_type: u8,
    },
    /// A frame with Session ID 0 (FR-FRAME-4).
    #[error("frame with session id 0")]
    ZeroSession,
    /// The stream ended inside a frame (FR-DEC-5).
    #[error("stream ended inside a frame (at least {missing} bytes missing)")]
    TruncatedFrame {
        /// How many more octets the frame needed (a lower bound when the length was not yet known).
        missing: usize,
    },
    /// A Request ID that breaks FR-TYPE-3 for its type.
    #[error("frame type {frame_type:#04x} cannot carry request id {request}")]
    BadRequestId {
        /// The Type field.
        frame_type: u8,
        /// The Request ID field.
        request: u32,
    },
    /// A payload that does not match its type's layout (FR-TYPE-4).
    #[error("malformed payload for frame type {frame_type:#04x}: {reason}")]
    MalformedPayload {
        /// The message type.
        frame_type: u8,
        /// Which rule of the layout it breaks.
        reason: &'static str,
    },
    /// MORE set on a type that cannot be fragmented (FR-FRAME-14).
    #[error("fragment flag set on frame type {frame_type:#04x}, which cannot be fragmented")]
    UnexpectedFragment {
        /// The Type field.
        frame_type: u8,
    },
    /// A message grew past the local Max Message; its remaining fragments are discarded (FR-FRAG-3).
    #[error("message {request} of session {session:#010x} exceeds the max message of {max} bytes")]
    MessageTooLarge {
        /// The Session ID of the message.
        session: u32,
        /// The Request ID of the message.
        request: u32,
        /// The local Max Message.
        max: u32,
    },
    /// The stream ended with this message partly reassembled (FR-FRAG-6).
    #[error("stream ended inside message {request} of session {session:#010x}")]
    TruncatedMessage {
        /// The Session ID of the message.
        session: u32,
        /// The Request ID of the message.
        request: u32,
    },
    /// A new fragmented message arrived while the receiver already reassembled its configured
    /// maximum number of messages (FR-FRAG-7); the new message is discarded up to its last fragment.
    #[error("message {request} of session {session:#010x} refused: {max} messages are already being reassembled")]
    TooManyPartialMessages {
        /// The Session ID of the refused message.
        session: u32,
        /// The Request ID of the refused message.
        request: u32,
        /// The configured maximum of partial messages.
        max: usize,
    },
    /// Local misuse: the frame would exceed the MaxFrame it is encoded for (FR-FRAME-3).
    #[error(
        "a frame of {len} bytes exceeds the max frame of {max} bytes; send less or fragment it"
    )]
    EncodeTooLarge {
        /// The length the frame would have.
        len: usize,
        /// The MaxFrame it was encoded for.
        max: usize,
    },
    /// Local misuse: the header extensions exceed the 239 octets a header can hold.
    #[error("{len} bytes of header extensions exceed the maximum of 239")]
    ExtensionsTooLong {
        /// The length of the extension area.
        len: usize,
    },
    /// Local misuse: a length-prefixed field is longer than its length field can express.
    #[error("{field} is {len} bytes long; the maximum is {max}")]
    FieldTooLong {
        /// The field, as named in spec §6.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The longest the wire allows.
        max: usize,
    },
    /// Local misuse: a field that must not be empty (a method or encoding name) is empty.
    #[error("{field} must not be empty")]
    EmptyField {
        /// The field, as named in spec §6.
        field: &'static str,
    },
    /// Local misuse: a field's value cannot be carried (for example an encoding name that is not
    /// ASCII).
    #[error("{field} is {reason}")]
    InvalidField {
        /// The field, as named in spec §6.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Local misuse: a frame with Session ID 0 was asked for (FR-FRAME-4).
    #[error("session id 0 is reserved; use a non-zero session id")]
    InvalidSession,
    /// Local misuse: the Request ID breaks FR-TYPE-3 for the type.
    #[error("frame type {frame_type:#04x} cannot carry request id {request}; requests, responses, errors and cancels need a non-zero id, other types 0")]
    InvalidRequestId {
        /// The message type.
        frame_type: u8,
        /// The Request ID asked for.
        request: u32,
    },
    /// Local misuse: a message of an unknown critical type was asked for, or a type that cannot be
    /// fragmented does not fit in one frame.
    #[error("cannot encode a message of frame type {frame_type:#04x} this way")]
    InvalidFrameType {
        /// The message type.
        frame_type: u8,
    },
    /// Local misuse: a call before the session is established (FR-HS-1).
    #[error("the session is not established yet; wait for WELCOME before calling")]
    SessionNotEstablished,
    /// Local misuse: the session has ended.
    #[error("the session is closed; connect again")]
    SessionClosed,
    /// Local misuse: the peer's Max In-flight calls are outstanding (FR-CALL-4); cancelled calls
    /// count until their answers arrive.
    #[error("{max} calls are outstanding, the server's max in-flight; wait for an answer first")]
    InFlightLimit {
        /// The peer's Max In-flight.
        max: u32,
    },
    /// Local misuse: a message exceeds the peer's Max Message (FR-FRAG-4).
    #[error("a message of {len} bytes exceeds the peer's max message of {max} bytes; send less")]
    PeerMessageLimit {
        /// The length of the message (for a REQUEST: method length octet, method and body).
        len: u64,
        /// The peer's Max Message.
        max: u32,
    },
}

impl ProtocolError {
    /// The error's name: for receiver errors the spec §11.3 name (`"BAD_MAGIC"`, ...), which the test
    /// vectors use; for local misuse and implementation limits a name in the same style.
    ///
    /// ```
    /// use fifo_rpc_protocol::ProtocolError;
    /// assert_eq!(ProtocolError::BadMagic.name(), "BAD_MAGIC");
    /// assert_eq!(ProtocolError::TruncatedFrame { missing: 3 }.name(), "TRUNCATED_FRAME");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Self::BadMagic => "BAD_MAGIC",
            Self::FrameTooShort { .. } => "FRAME_TOO_SHORT",
            Self::FrameTooLarge { .. } => "FRAME_TOO_LARGE",
            Self::BadChecksum { .. } => "BAD_CHECKSUM",
            Self::UnsupportedVersion { .. } => "UNSUPPORTED_VERSION",
            Self::BadHeaderLength { .. } => "BAD_HEADER_LENGTH",
            Self::BadExtension => "BAD_EXTENSION",
            Self::UnknownCriticalExtension { .. } => "UNKNOWN_CRITICAL_EXTENSION",
            Self::UnknownCriticalType { .. } => "UNKNOWN_CRITICAL_TYPE",
            Self::ZeroSession => "ZERO_SESSION",
            Self::TruncatedFrame { .. } => "TRUNCATED_FRAME",
            Self::BadRequestId { .. } => "BAD_REQUEST_ID",
            Self::MalformedPayload { .. } => "MALFORMED_PAYLOAD",
            Self::UnexpectedFragment { .. } => "UNEXPECTED_FRAGMENT",
            Self::MessageTooLarge { .. } => "MESSAGE_TOO_LARGE",
            Self::TruncatedMessage { .. } => "TRUNCATED_MESSAGE",
            Self::TooManyPartialMessages { .. } => "TOO_MANY_PARTIAL_MESSAGES",
            Self::EncodeTooLarge { .. } => "ENCODE_TOO_LARGE",
            Self::ExtensionsTooLong { .. } => "EXTENSIONS_TOO_LONG",
            Self::FieldTooLong { .. } => "FIELD_TOO_LONG",
            Self::EmptyField { .. } => "EMPTY_FIELD",
            Self::InvalidField { .. } => "INVALID_FIELD",
            Self::InvalidSession => "INVALID_SESSION",
            Self::InvalidRequestId { .. } => "INVALID_REQUEST_ID",
            Self::InvalidFrameType { .. } => "INVALID_FRAME_TYPE",
            Self::SessionNotEstablished => "SESSION_NOT_ESTABLISHED",
            Self::SessionClosed => "SESSION_CLOSED",
            Self::InFlightLimit { .. } => "IN_FLIGHT_LIMIT",
            Self::PeerMessageLimit { .. } => "PEER_MESSAGE_LIMIT",
        }
    }

    /// `true` for local misuse (an encode request the wire cannot carry), `false` for errors in
    /// received bytes.
    ///
    /// ```
    /// use fifo_rpc_protocol::ProtocolError;
    /// assert!(ProtocolError::InvalidSession.is_local());
    /// assert!(!ProtocolError::ZeroSession.is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Self::EncodeTooLarge { .. }
                | Self::ExtensionsTooLong { .. }
                | Self::FieldTooLong { .. }
                | Self::EmptyField { .. }
                | Self::InvalidField { .. }
                | Self::InvalidSession
                | Self::InvalidRequestId { .. }
                | Self::InvalidFrameType { .. }
                | Self::SessionNotEstablished
                | Self::SessionClosed
                | Self::InFlightLimit { .. }
                | Self::PeerMessageLimit { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spec §11.3: every receiver error name of the registry, spelled as the spec spells it.
    #[test]
    fn receiver_error_names_match_spec_registry() {
        let cases = [
            (ProtocolError::BadMagic, "BAD_MAGIC"),
            (ProtocolError::FrameTooShort { len: 3 }, "FRAME_TOO_SHORT"),
            (
                ProtocolError::FrameTooLarge { len: 9, max: 8 },
                "FRAME_TOO_LARGE",
            ),
            (
                ProtocolError::BadChecksum {
                    expected: 1,
                    actual: 2,
                },
                "BAD_CHECKSUM",
            ),
            (
                ProtocolError::UnsupportedVersion { version: 2 },
                "UNSUPPORTED_VERSION",
            ),
            (
                ProtocolError::BadHeaderLength {
                    header_len: 1,
                    frame_len: 20,
                },
                "BAD_HEADER_LENGTH",
            ),
            (ProtocolError::BadExtension, "BAD_EXTENSION"),
            (
                ProtocolError::UnknownCriticalExtension { ext_type: 1 },
                "UNKNOWN_CRITICAL_EXTENSION",
            ),
            (
                ProtocolError::UnknownCriticalType { frame_type: 3 },
                "UNKNOWN_CRITICAL_TYPE",
            ),
            (ProtocolError::ZeroSession, "ZERO_SESSION"),
            (
                ProtocolError::TruncatedFrame { missing: 1 },
                "TRUNCATED_FRAME",
            ),
            (
                ProtocolError::BadRequestId {
                    frame_type: 0x10,
                    request: 0,
                },
                "BAD_REQUEST_ID",
            ),
            (
                ProtocolError::MalformedPayload {
                    frame_type: 0x10,
                    reason: "x",
                },
                "MALFORMED_PAYLOAD",
            ),
            (
                ProtocolError::UnexpectedFragment { frame_type: 0x20 },
                "UNEXPECTED_FRAGMENT",
            ),
            (
                ProtocolError::MessageTooLarge {
                    session: 1,
                    request: 1,
                    max: 4096,
                },
                "MESSAGE_TOO_LARGE",
            ),
            (
                ProtocolError::TruncatedMessage {
                    session: 1,
                    request: 1,
                },
                "TRUNCATED_MESSAGE",
            ),
        ];
        for (err, name) in cases {
            assert_eq!(err.name(), name);
            assert!(!err.is_local(), "{name} is a receiver error");
            let text = err.to_string();
            assert!(!text.ends_with('.'), "{text}");
            assert!(
                text.chars().next().is_some_and(|c| c.is_lowercase()),
                "{text}"
            );
        }
    }

    #[test]
    fn local_errors_are_flagged_local() {
        let local = [
            ProtocolError::EncodeTooLarge { len: 600, max: 512 },
            ProtocolError::ExtensionsTooLong { len: 240 },
            ProtocolError::FieldTooLong {
                field: "method",
                len: 256,
                max: 255,
            },
            ProtocolError::EmptyField { field: "method" },
            ProtocolError::InvalidField {
                field: "encoding",
                reason: "not ASCII",
            },
            ProtocolError::InvalidSession,
            ProtocolError::InvalidRequestId {
                frame_type: 0x10,
                request: 0,
            },
            ProtocolError::InvalidFrameType { frame_type: 0x05 },
        ];
        for err in local {
            assert!(err.is_local(), "{err:?}");
            assert!(!err.to_string().ends_with('.'));
        }
    }
}
