//! Encoding messages (spec §6) into frames: [`Message::encode`] for any message and hot-path
//! helpers ([`encode_request`], [`encode_response`], [`encode_error`], [`encode_notify`]) that write
//! straight from borrowed parts into `out`, without allocating anything else.

use crate::error::ProtocolError;
use crate::fragmenter::encode_message;
use crate::frame::frame_type;
use crate::message::{method_len, Goodbye, Hello, HelloOption, Message, Welcome};

/// Appends a REQUEST (fragmented as needed) and returns the number of frames.
///
/// # Errors
///
/// Local misuse: an empty method or one over 255 octets, Request ID 0, Session ID 0, a
/// `max_frame` below 21.
///
/// ```
/// use fifo_rpc_protocol::encode_request;
/// let mut out = Vec::new();
/// encode_request(1, 1, "echo", b"\x02\0\0\0\0\0\0\0hi", 4096, &mut out).unwrap();
/// assert_eq!(out.len(), 35); // spec §14.3
/// assert_eq!(&out[31..], &[0x22, 0x6f, 0x51, 0x0e]);
/// ```
pub fn encode_request(
    session: u32,
    request: u32,
    method: &str,
    body: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    encode_call(
        frame_type::REQUEST,
        session,
        request,
        method,
        body,
        max_frame,
        out,
    )
}

/// Appends a NOTIFY (fragmented as needed) and returns the number of frames.
///
/// # Errors
///
/// As [`encode_request`].
pub fn encode_notify(
    session: u32,
    method: &str,
    body: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    encode_call(frame_type::NOTIFY, session, 0, method, body, max_frame, out)
}

/// The layout REQUEST and NOTIFY share (spec §6.3): method length, method, body, written from the
/// three parts without joining them first.
fn encode_call(
    frame_type: u8,
    session: u32,
    request: u32,
    method: &str,
    body: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    let len = method_len(method)?;
    encode_message(
        frame_type,
        session,
        request,
        &[&[len], method.as_bytes(), body],
        max_frame,
        out,
    )
}

/// Appends a RESPONSE (fragmented as needed) and returns the number of frames.
///
/// # Errors
///
/// Local misuse: Request ID 0, Session ID 0, a `max_frame` below 21.
///
/// ```
/// use fifo_rpc_protocol::encode_response;
/// let mut out = Vec::new();
/// encode_response(1, 1, b"\x02\0\0\0\0\0\0\0hi", 4096, &mut out).unwrap();
/// assert_eq!(&out[26..], &[0xdc, 0xc8, 0x0a, 0x5e]); // spec §14.3
/// ```
pub fn encode_response(
    session: u32,
    request: u32,
    body: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    encode_message(
        frame_type::RESPONSE,
        session,
        request,
        &[body],
        max_frame,
        out,
    )
}

/// Appends an ERROR (fragmented as needed) and returns the number of frames.
///
/// # Errors
///
/// Local misuse: a `message` over 65535 octets, Request ID 0, Session ID 0, a `max_frame` below 21.
///
/// ```
/// use fifo_rpc_protocol::{encode_error, ErrorCode};
/// let mut out = Vec::new();
/// encode_error(1, 3, ErrorCode::METHOD_NOT_FOUND.0, "no such method", &[], 4096, &mut out).unwrap();
/// assert_eq!(out.len(), 20 + 4 + 14);
/// ```
pub fn encode_error(
    session: u32,
    request: u32,
    code: u16,
    message: &str,
    details: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    let len = u16_len("message", message.len())?;
    let ([c0, c1], [l0, l1]) = (code.to_be_bytes(), len.to_be_bytes());
    let head = [c0, c1, l0, l1];
    encode_message(
        frame_type::ERROR,
        session,
        request,
        &[&head, message.as_bytes(), details],
        max_frame,
        out,
    )
}

/// Appends a GOODBYE and returns the number of frames (1).
///
/// # Errors
///
/// Local misuse: a `message` over 65535 octets, Session ID 0, or a GOODBYE longer than `max_frame`
/// (it cannot be fragmented; before WELCOME the limit is 512, FR-FRAME-7).
pub fn encode_goodbye(
    session: u32,
    goodbye: &Goodbye,
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    let len = u16_len("message", goodbye.message.len())?;
    let mut head = [0u8; 8];
    head[..2].copy_from_slice(&goodbye.code.to_be_bytes());
    head[2..6].copy_from_slice(&goodbye.last_request.to_be_bytes());
    head[6..].copy_from_slice(&len.to_be_bytes());
    encode_message(
        frame_type::GOODBYE,
        session,
        0,
        &[&head, goodbye.message.as_bytes()],
        max_frame,
        out,
    )
}

impl Message {
    /// Appends the frames of this message (fragmented when needed) for `session` and returns how
    /// many frames it wrote.
    ///
    /// # Errors
    ///
    /// Local misuse: Session ID 0, a Request ID that breaks FR-TYPE-3, a field too long for its
    /// length field, or a message of a type that cannot be fragmented (HELLO, WELCOME, CANCEL, PING,
    /// PONG, GOODBYE) longer than `max_frame`. Nothing is appended on error.
    ///
    /// ```
    /// use fifo_rpc_protocol::{Goodbye, GoodbyeCode, Message};
    /// let bye = Message::Goodbye(Goodbye { code: GoodbyeCode::SHUTTING_DOWN.0, last_request: 7, message: String::new() });
    /// let mut out = Vec::new();
    /// bye.encode(42, 512, &mut out).unwrap();
    /// assert_eq!(&out[24..], &[0xd4, 0xf3, 0x40, 0xfd]); // spec §14.4
    /// ```
    pub fn encode(
        &self,
        session: u32,
        max_frame: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, ProtocolError> {
        let t = self.frame_type();
        match self {
            Self::Hello(hello) => {
                encode_message(t, session, 0, &[&hello_payload(hello)?], max_frame, out)
            }
            Self::Welcome(welcome) => {
                encode_message(t, session, 0, &[&welcome_payload(welcome)?], max_frame, out)
            }
            Self::Request { request, call } => {
                encode_message(t, session, *request, &[call.payload()], max_frame, out)
            }
            Self::Notify { call } => {
                encode_message(t, session, 0, &[call.payload()], max_frame, out)
            }
            Self::Response { request, body } => {
                encode_response(session, *request, body, max_frame, out)
            }
            Self::Error {
                request,
                code,
                message,
                details,
            } => encode_error(session, *request, *code, message, details, max_frame, out),
            Self::Cancel { request } => encode_message(t, session, *request, &[], max_frame, out),
            Self::Ping { opaque } | Self::Pong { opaque } => {
                encode_message(t, session, 0, &[opaque], max_frame, out)
            }
            Self::Goodbye(goodbye) => encode_goodbye(session, goodbye, max_frame, out),
        }
    }
}

/// The HELLO payload (spec §6.1).
fn hello_payload(hello: &Hello) -> Result<Vec<u8>, ProtocolError> {
    let mut p = Vec::with_capacity(13 + hello.encoding.len() + options_len(&hello.options));
    p.extend_from_slice(&[hello.min_version, hello.max_version]);
    p.extend_from_slice(&hello.max_frame.to_be_bytes());
    p.extend_from_slice(&hello.max_message.to_be_bytes());
    p.extend_from_slice(&hello.client_pid.to_be_bytes());
    put_encoding(&hello.encoding, &mut p)?;
    put_options(&hello.options, &mut p)?;
    Ok(p)
}

/// The WELCOME payload (spec §6.2).
fn welcome_payload(welcome: &Welcome) -> Result<Vec<u8>, ProtocolError> {
    let mut p = Vec::with_capacity(25 + welcome.encoding.len() + options_len(&welcome.options));
    p.extend_from_slice(&[welcome.version, 0]);
    p.extend_from_slice(&welcome.max_frame.to_be_bytes());
    p.extend_from_slice(&welcome.max_message.to_be_bytes());
    p.extend_from_slice(&welcome.max_in_flight.to_be_bytes());
    p.extend_from_slice(&welcome.server_pid.to_be_bytes());
    p.extend_from_slice(&welcome.instance_id.to_be_bytes());
    put_encoding(&welcome.encoding, &mut p)?;
    put_options(&welcome.options, &mut p)?;
    Ok(p)
}

fn options_len(options: &[HelloOption]) -> usize {
    options.iter().map(|o| 3 + o.value.len()).sum()
}

fn put_encoding(encoding: &str, p: &mut Vec<u8>) -> Result<(), ProtocolError> {
    if encoding.is_empty() {
        return Err(ProtocolError::EmptyField { field: "encoding" });
    }
    if !encoding.is_ascii() {
        return Err(ProtocolError::InvalidField {
            field: "encoding",
            reason: "not ASCII",
        });
    }
    if encoding.len() > 32 {
        return Err(ProtocolError::FieldTooLong {
            field: "encoding",
            len: encoding.len(),
            max: 32,
        });
    }
    p.push(encoding.len() as u8); // at most 32
    p.extend_from_slice(encoding.as_bytes());
    Ok(())
}

fn put_options(options: &[HelloOption], p: &mut Vec<u8>) -> Result<(), ProtocolError> {
    for option in options {
        let len = u16_len("option value", option.value.len())?;
        p.push(option.option_type);
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&option.value);
    }
    Ok(())
}

fn u16_len(field: &'static str, len: usize) -> Result<u16, ProtocolError> {
    u16::try_from(len).map_err(|_| ProtocolError::FieldTooLong {
        field,
        len,
        max: usize::from(u16::MAX),
    })
}
