//! Typed messages (spec §6) and their parsing from a complete (reassembled) payload.
//!
//! Encoding lives in [`crate::encode`].

use std::borrow::Cow;

use crate::error::ProtocolError;
use crate::frame::frame_type;

/// A HELLO or WELCOME option (spec §6.1). Version 1 defines none; `0x00`-`0x7F` are critical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HelloOption {
    /// Option Type.
    pub option_type: u8,
    /// Value (at most 65535 octets).
    pub value: Vec<u8>,
}

/// The HELLO payload (spec §6.1): the client's offer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hello {
    /// Lowest protocol version the client speaks.
    pub min_version: u8,
    /// Highest protocol version the client speaks.
    pub max_version: u8,
    /// The client's local MaxFrame.
    pub max_frame: u16,
    /// Largest reassembled message the client accepts.
    pub max_message: u32,
    /// The client's process id (informational).
    pub client_pid: u32,
    /// Name of the body encoding, 1 to 32 ASCII octets (for example `"bincode1"`).
    pub encoding: String,
    /// Options, in order.
    pub options: Vec<HelloOption>,
}

/// The WELCOME payload (spec §6.2): the server's answer to HELLO. The reserved octet is written
/// as 0 and ignored when read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Welcome {
    /// The agreed protocol version.
    pub version: u8,
    /// The server's local MaxFrame.
    pub max_frame: u16,
    /// Largest reassembled message the server accepts.
    pub max_message: u32,
    /// Most requests the client may have outstanding.
    pub max_in_flight: u32,
    /// The server's process id (informational).
    pub server_pid: u32,
    /// Random, new on every server start (FR-HS-3).
    pub instance_id: u64,
    /// The agreed body encoding, 1 to 32 ASCII octets.
    pub encoding: String,
    /// Options, in order.
    pub options: Vec<HelloOption>,
}

/// The GOODBYE payload (spec §6.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Goodbye {
    /// The reason, a [`GoodbyeCode`](crate::GoodbyeCode) value.
    pub code: u16,
    /// The last REQUEST the sender accepted, 0 if none.
    pub last_request: u32,
    /// For humans (at most 65535 octets).
    pub message: String,
}

/// A REQUEST or NOTIFY kept as its payload (Method Length, Method, Body) in one allocation; the
/// accessors borrow from it.
///
/// ```
/// use fifo_rpc_protocol::Call;
/// let call = Call::new("echo", b"body").unwrap();
/// assert_eq!(call.method(), "echo");
/// assert_eq!(call.body(), b"body");
/// assert_eq!(call.payload(), b"\x04echobody");
/// assert_eq!(call.into_body(), b"body");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Call {
    payload: Vec<u8>,
    method_len: u8,
}

impl Call {
    /// A call of `method` (1 to 255 octets of UTF-8) with `body`.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::EmptyField`] or [`ProtocolError::FieldTooLong`] for the method.
    pub fn new(method: &str, body: &[u8]) -> Result<Self, ProtocolError> {
        let method_len = method_len(method)?;
        let mut payload = Vec::with_capacity(1 + method.len() + body.len());
        payload.push(method_len);
        payload.extend_from_slice(method.as_bytes());
        payload.extend_from_slice(body);
        Ok(Self {
            payload,
            method_len,
        })
    }

    /// Parses a REQUEST or NOTIFY payload (spec §6.3), taking ownership without copying when
    /// `payload` is owned.
    fn parse(t: u8, payload: Cow<'_, [u8]>) -> Result<Self, ProtocolError> {
        let (&method_len, rest) = payload
            .split_first()
            .ok_or(malformed(t, "payload too short"))?;
        if method_len == 0 {
            return Err(malformed(t, "empty method name"));
        }
        let method = rest
            .get(..usize::from(method_len))
            .ok_or(malformed(t, "method runs past the end"))?;
        std::str::from_utf8(method).map_err(|_| malformed(t, "method is not valid UTF-8"))?;
        Ok(Self {
            payload: payload.into_owned(),
            method_len,
        })
    }

    /// The method name.
    pub fn method(&self) -> &str {
        let end = 1 + usize::from(self.method_len);
        std::str::from_utf8(&self.payload[1..end]).unwrap_or_default()
    }

    /// The body, in the session's encoding.
    pub fn body(&self) -> &[u8] {
        &self.payload[1 + usize::from(self.method_len)..]
    }

    /// The whole payload: Method Length, Method, Body.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The whole payload's buffer, to hand back to the reassembler once the call has run
    /// ([`Reassembler::recycle`](crate::Reassembler::recycle)).
    ///
    /// ```
    /// let call = fifo_rpc_protocol::Call::new("echo", b"hi")?;
    /// assert_eq!(call.into_payload(), b"\x04echohi");
    /// # Ok::<(), fifo_rpc_protocol::ProtocolError>(())
    /// ```
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The body, moved out of the payload.
    pub fn into_body(mut self) -> Vec<u8> {
        self.payload.drain(..1 + usize::from(self.method_len));
        self.payload
    }
}

/// Checks a method name for the wire (1..=255 octets) and returns its length octet.
pub(crate) fn method_len(method: &str) -> Result<u8, ProtocolError> {
    if method.is_empty() {
        return Err(ProtocolError::EmptyField { field: "method" });
    }
    u8::try_from(method.len()).map_err(|_| ProtocolError::FieldTooLong {
        field: "method",
        len: method.len(),
        max: 255,
    })
}

/// One complete message of any assigned type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Message {
    /// HELLO (client to server).
    Hello(Hello),
    /// WELCOME (server to client).
    Welcome(Welcome),
    /// REQUEST (client to server).
    Request {
        /// Request ID, non-zero.
        request: u32,
        /// Method and body.
        call: Call,
    },
    /// RESPONSE (server to client).
    Response {
        /// Request ID of the call answered.
        request: u32,
        /// The body.
        body: Vec<u8>,
    },
    /// ERROR (server to client).
    Error {
        /// Request ID of the call answered.
        request: u32,
        /// An [`ErrorCode`](crate::ErrorCode) value.
        code: u16,
        /// For humans.
        message: String,
        /// Opaque details, possibly empty.
        details: Vec<u8>,
    },
    /// NOTIFY (either direction; never answered).
    Notify {
        /// Method and body.
        call: Call,
    },
    /// CANCEL (client to server).
    Cancel {
        /// Request ID of the call to cancel.
        request: u32,
    },
    /// PING.
    Ping {
        /// Copied into the PONG.
        opaque: [u8; 8],
    },
    /// PONG.
    Pong {
        /// The PING's value.
        opaque: [u8; 8],
    },
    /// GOODBYE.
    Goodbye(Goodbye),
}

impl Message {
    /// The message's frame type.
    pub fn frame_type(&self) -> u8 {
        match self {
            Self::Hello(_) => frame_type::HELLO,
            Self::Welcome(_) => frame_type::WELCOME,
            Self::Request { .. } => frame_type::REQUEST,
            Self::Response { .. } => frame_type::RESPONSE,
            Self::Error { .. } => frame_type::ERROR,
            Self::Notify { .. } => frame_type::NOTIFY,
            Self::Cancel { .. } => frame_type::CANCEL,
            Self::Ping { .. } => frame_type::PING,
            Self::Pong { .. } => frame_type::PONG,
            Self::Goodbye(_) => frame_type::GOODBYE,
        }
    }

    /// The Request ID the message travels with (0 for types that are not request-scoped).
    pub fn request_id(&self) -> u32 {
        match self {
            Self::Request { request, .. }
            | Self::Response { request, .. }
            | Self::Error { request, .. }
            | Self::Cancel { request } => *request,
            _ => 0,
        }
    }

    /// Parses a complete message payload of type `frame_type` that travelled with Request ID
    /// `request` (FR-TYPE-3, FR-TYPE-4).
    ///
    /// # Errors
    ///
    /// `UNKNOWN_CRITICAL_TYPE` for a type version 1 does not assign (ignorable types included: a
    /// receiver discards those before parsing), `BAD_REQUEST_ID`, `MALFORMED_PAYLOAD`.
    ///
    /// ```
    /// use fifo_rpc_protocol::{frame_type, Message};
    /// let ping = Message::parse(frame_type::PING, 0, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    /// assert_eq!(ping, Message::Ping { opaque: [1, 2, 3, 4, 5, 6, 7, 8] });
    /// let err = Message::parse(frame_type::PING, 0, &[1, 2, 3]).unwrap_err();
    /// assert_eq!(err.name(), "MALFORMED_PAYLOAD");
    /// ```
    pub fn parse(frame_type: u8, request: u32, payload: &[u8]) -> Result<Self, ProtocolError> {
        Self::parse_cow(frame_type, request, Cow::Borrowed(payload))
    }

    /// As [`parse`](Self::parse), reusing the allocation of an owned payload for the body of a
    /// REQUEST, NOTIFY or RESPONSE.
    pub fn parse_owned(
        frame_type: u8,
        request: u32,
        payload: Vec<u8>,
    ) -> Result<Self, ProtocolError> {
        Self::parse_cow(frame_type, request, Cow::Owned(payload))
    }

    /// As [`parse`](Self::parse), for a payload that may be borrowed or owned.
    pub fn parse_cow(t: u8, request: u32, payload: Cow<'_, [u8]>) -> Result<Self, ProtocolError> {
        if !frame_type::is_assigned(t) {
            return Err(ProtocolError::UnknownCriticalType { frame_type: t });
        }
        if !frame_type::request_id_ok(t, request) {
            return Err(ProtocolError::BadRequestId {
                frame_type: t,
                request,
            });
        }
        Ok(match t {
            frame_type::REQUEST => Self::Request {
                request,
                call: Call::parse(t, payload)?,
            },
            frame_type::NOTIFY => Self::Notify {
                call: Call::parse(t, payload)?,
            },
            frame_type::RESPONSE => Self::Response {
                request,
                body: payload.into_owned(),
            },
            frame_type::CANCEL if payload.is_empty() => Self::Cancel { request },
            frame_type::CANCEL => return Err(malformed(t, "cancel payload must be empty")),
            frame_type::PING | frame_type::PONG => {
                let opaque = <[u8; 8]>::try_from(&payload[..])
                    .map_err(|_| malformed(t, "opaque must be exactly 8 octets"))?;
                if t == frame_type::PING {
                    Self::Ping { opaque }
                } else {
                    Self::Pong { opaque }
                }
            }
            frame_type::ERROR => parse_error(request, &payload)?,
            frame_type::GOODBYE => Self::Goodbye(parse_goodbye(&payload)?),
            frame_type::HELLO => Self::Hello(parse_hello(&payload)?),
            _ => Self::Welcome(parse_welcome(&payload)?),
        })
    }
}

pub(crate) fn malformed(frame_type: u8, reason: &'static str) -> ProtocolError {
    ProtocolError::MalformedPayload { frame_type, reason }
}

/// A big-endian cursor over a payload whose failures are `MALFORMED_PAYLOAD`.
struct Reader<'a> {
    rest: &'a [u8],
    t: u8,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, reason: &'static str) -> Result<&'a [u8], ProtocolError> {
        if self.rest.len() < n {
            return Err(malformed(self.t, reason));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let bytes = self.take(N, "payload too short")?;
        bytes
            .try_into()
            .map_err(|_| malformed(self.t, "payload too short"))
    }

    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, ProtocolError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, ProtocolError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, ProtocolError> {
        self.array().map(u64::from_be_bytes)
    }

    fn utf8(
        &mut self,
        n: usize,
        past_end: &'static str,
        invalid: &'static str,
    ) -> Result<String, ProtocolError> {
        let bytes = self.take(n, past_end)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| malformed(self.t, invalid))
    }

    /// Encoding Length (1..=32) and Encoding.
    fn encoding(&mut self) -> Result<String, ProtocolError> {
        let len = self.u8()?;
        if !(1..=32).contains(&len) {
            return Err(malformed(self.t, "encoding length is not in 1..=32"));
        }
        let name = self.take(usize::from(len), "encoding runs past the end")?;
        if !name.is_ascii() {
            return Err(malformed(self.t, "encoding is not ASCII"));
        }
        Ok(name.iter().map(|&b| char::from(b)).collect())
    }

    /// Options to the end of the payload (FR-HELLO-1).
    fn options(&mut self) -> Result<Vec<HelloOption>, ProtocolError> {
        let mut options = Vec::new();
        while !self.rest.is_empty() {
            let [option_type, l0, l1] = self
                .array()
                .map_err(|_| malformed(self.t, "option header runs past the end"))?;
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let value = self.take(len, "option value runs past the end")?.to_vec();
            options.push(HelloOption { option_type, value });
        }
        Ok(options)
    }

    fn end(&self) -> Result<(), ProtocolError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(malformed(self.t, "octets left over after the payload"))
        }
    }
}

fn parse_hello(payload: &[u8]) -> Result<Hello, ProtocolError> {
    let mut r = Reader {
        rest: payload,
        t: frame_type::HELLO,
    };
    Ok(Hello {
        min_version: r.u8()?,
        max_version: r.u8()?,
        max_frame: r.u16()?,
        max_message: r.u32()?,
        client_pid: r.u32()?,
        encoding: r.encoding()?,
        options: r.options()?,
    })
}

fn parse_welcome(payload: &[u8]) -> Result<Welcome, ProtocolError> {
    let mut r = Reader {
        rest: payload,
        t: frame_type::WELCOME,
    };
    let version = r.u8()?;
    let _reserved = r.u8()?;
    Ok(Welcome {
        version,
        max_frame: r.u16()?,
        max_message: r.u32()?,
        max_in_flight: r.u32()?,
        server_pid: r.u32()?,
        instance_id: r.u64()?,
        encoding: r.encoding()?,
        options: r.options()?,
    })
}

fn parse_error(request: u32, payload: &[u8]) -> Result<Message, ProtocolError> {
    let mut r = Reader {
        rest: payload,
        t: frame_type::ERROR,
    };
    let code = r.u16()?;
    let len = usize::from(r.u16()?);
    let message = r.utf8(
        len,
        "message runs past the end",
        "message is not valid UTF-8",
    )?;
    Ok(Message::Error {
        request,
        code,
        message,
        details: r.rest.to_vec(),
    })
}

fn parse_goodbye(payload: &[u8]) -> Result<Goodbye, ProtocolError> {
    let mut r = Reader {
        rest: payload,
        t: frame_type::GOODBYE,
    };
    let code = r.u16()?;
    let last_request = r.u32()?;
    let len = usize::from(r.u16()?);
    let message = r.utf8(
        len,
        "message runs past the end",
        "message is not valid UTF-8",
    )?;
    r.end()?;
    Ok(Goodbye {
        code,
        last_request,
        message,
    })
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
