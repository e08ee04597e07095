//! The FIFO-RPC/1 wire protocol, with no I/O.
//!
//! This crate turns messages into frames and frames back into messages, exactly as
//! `spec/FRAMING.md` says. It is *pure*: it makes no system call, starts no thread, reads no clock
//! and contains no `unsafe`. Opening, reading and writing the FIFOs, deadlines and the session state
//! machines live in the crates that drive it (`fifo-rpc-fifo`, `fifo-rpc-client`,
//! `fifo-rpc-server`).
//!
//! What it contains:
//!
//! * **Frames** (spec §4): [`encode_frame`], [`FrameHeader`], [`FrameRef`], the constants
//!   ([`MAGIC`], [`FRAME_OVERHEAD`], [`MIN_MAX_FRAME`], ...) and the type registry [`frame_type`].
//! * **Decoding** (spec §5): [`FrameDecoder`], a push parser that checks each frame in the spec's
//!   order and recovers by skipping or scanning; it never allocates per frame.
//! * **Fragmentation** (spec §7): [`encode_message`] and [`Reassembler`].
//! * **Messages** (spec §6): [`Message`], [`Hello`], [`Welcome`], [`Goodbye`], [`Call`], and the
//!   hot-path encoders [`encode_request`], [`encode_response`], [`encode_error`],
//!   [`encode_notify`] that write straight into the caller's buffer.
//! * **The receiver** (spec §13.1): [`Receiver`], which combines the three and yields [`Event`]s.
//! * **Registries** (spec §11): [`ErrorCode`], [`GoodbyeCode`], and [`ProtocolError::name`].
//! * **Bodies** (spec §10): the [`payload`] module, the only one that knows `bincode`.
//!
//! What it does not do: choose Session or Request IDs, enforce which message may come when (that is
//! the session's job, spec §8), or touch a file descriptor.
//!
//! ```
//! use fifo_rpc_protocol::{encode_request, payload, Event, Message, Receiver, ReceiverConfig};
//!
//! // The client encodes a call: REQUEST echo("hi") in session 1, request 1.
//! let body = payload::encode("hi", 1 << 20)?;
//! let mut wire = Vec::new();
//! encode_request(1, 1, "echo", &body, 4096, &mut wire)?;
//!
//! // The server pushes the bytes as they come from the FIFO, here one octet at a time.
//! let mut rx = Receiver::new(ReceiverConfig::default());
//! let mut events = Vec::new();
//! for byte in &wire {
//!     rx.push(std::slice::from_ref(byte));
//!     events.extend(std::iter::from_fn(|| rx.poll_event()));
//! }
//!
//! let [Event::Message { session: 1, message: Message::Request { request: 1, call } }] = &events[..] else {
//!     panic!("expected one request, got {events:?}");
//! };
//! assert_eq!(call.method(), "echo");
//! let text: String = payload::decode(call.body(), 1 << 20)?;
//! assert_eq!(text, "hi");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod codes;
mod decoder;
mod encode;
mod error;
mod fragment;
mod fragmenter;
mod frame;
mod message;
pub mod payload;
mod receiver;
pub mod session;

#[doc(hidden)]
pub mod fuzzing;

pub use codes::{ErrorCode, GoodbyeCode};
pub use decoder::FrameDecoder;
pub use encode::{encode_error, encode_goodbye, encode_notify, encode_request, encode_response};
pub use error::ProtocolError;
pub use fragment::{Reassembled, Reassembler};
pub use fragmenter::{encode_message, Fragmenter};
pub use frame::{
    encode_extension, encode_frame, flags, frame_type, Extension, Extensions, FrameHeader,
    FrameRef, CRC_LEN, FRAME_OVERHEAD, HEADER_LEN, MAGIC, MAX_EXTENSIONS_LEN, MAX_FRAME_LIMIT,
    MIN_FRAME_LEN, MIN_MAX_FRAME, MIN_MAX_MESSAGE, VERSION,
};
pub use message::{Call, Goodbye, Hello, HelloOption, Message, Welcome};
pub use receiver::{Event, Receiver, ReceiverConfig};
