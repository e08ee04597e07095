//! [`Receiver`]: the spec §13.1 receiver, turning a byte stream into [`Event`]s.

use std::borrow::Cow;
use std::collections::VecDeque;

use crate::decoder::FrameDecoder;
use crate::error::ProtocolError;
use crate::fragment::{Reassembled, Reassembler};
use crate::frame::{frame_type, FrameHeader, FrameRef, MAX_FRAME_LIMIT};
use crate::message::Message;

/// Limits of a [`Receiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiverConfig {
    /// The local MaxFrame: longer frames are `FRAME_TOO_LARGE` (FR-FRAME-8).
    pub max_frame: usize,
    /// The local Max Message: larger REQUEST, RESPONSE, ERROR and NOTIFY messages are
    /// `MESSAGE_TOO_LARGE` (FR-FRAG-3). Other types are limited by `max_frame` alone.
    pub max_message: u32,
    /// Most messages reassembled at once (FR-FRAG-7); a server uses Max In-flight + 1.
    pub max_partial: usize,
}

impl Default for ReceiverConfig {
    /// MaxFrame 4096 (Linux `PIPE_BUF`), Max Message 16 MiB, 1025 partial messages.
    fn default() -> Self {
        Self {
            max_frame: 4096,
            max_message: 16 << 20,
            max_partial: 1025,
        }
    }
}

/// What a [`Receiver`] made of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A complete, well-formed message (`{"message": M}` in the test vectors).
    Message {
        /// The Session ID it travelled with.
        session: u32,
        /// The message.
        message: Message,
    },
    /// A frame of an unassigned ignorable type was discarded (FR-TYPE-2; `{"ignored": T}`).
    Ignored {
        /// Its type.
        frame_type: u8,
    },
    /// The last fragment of a message refused with `MESSAGE_TOO_LARGE` (or
    /// [`ProtocolError::TooManyPartialMessages`]) arrived: the message is fully discarded, and a
    /// server now answers a refused REQUEST (FR-FRAG-5). This event is not part of the test vector
    /// format, which lists the error only.
    MessageDiscarded {
        /// The Session ID of the message.
        session: u32,
        /// The Request ID of the message.
        request: u32,
        /// The message type.
        frame_type: u8,
    },
    /// A complete message whose payload breaks its type's layout (FR-TYPE-4; `{"error":
    /// "MALFORMED_PAYLOAD"}` in the test vectors). The header is kept so that a server can answer a
    /// malformed REQUEST with ERROR `BAD_REQUEST` (FR-CALL-6), and a client can end the call
    /// whose answer was malformed.
    MalformedMessage {
        /// The Session ID it travelled with.
        session: u32,
        /// Its Request ID.
        request: u32,
        /// Its type.
        frame_type: u8,
        /// The `MALFORMED_PAYLOAD` error.
        error: ProtocolError,
    },
    /// A receiver error (spec §11.3; `{"error": "NAME"}`). The receiver has already recovered.
    Error(ProtocolError),
}

/// Frame decoder (§5), reassembler (§7) and payload parser (§6) in one: push bytes in, poll
/// events out.
///
/// Call order: [`push`](Self::push) (or [`buffer_mut`](Self::buffer_mut) +
/// [`commit`](Self::commit)) whenever bytes arrive, then [`poll_event`](Self::poll_event) until it
/// returns `None`. At the end of the stream call [`finish`](Self::finish) and drain
/// [`poll_event`](Self::poll_event) again: it reports `TRUNCATED_FRAME` (FR-DEC-5) and then one
/// `TRUNCATED_MESSAGE` per partial message (FR-FRAG-6), after which the receiver is empty and ready
/// for a new stream.
///
/// ```
/// use fifo_rpc_protocol::{encode_response, Event, Message, Receiver, ReceiverConfig};
/// let mut wire = Vec::new();
/// encode_response(9, 1, &[5; 3000], 512, &mut wire).unwrap(); // 7 fragments
///
/// let mut rx = Receiver::new(ReceiverConfig::default());
/// rx.push(&wire);
/// let Some(Event::Message { session: 9, message: Message::Response { request: 1, body } }) = rx.poll_event()
/// else { panic!("expected the response") };
/// assert_eq!(body, vec![5; 3000]);
/// assert_eq!(rx.poll_event(), None);
/// ```
#[derive(Debug, Clone)]
pub struct Receiver {
    config: ReceiverConfig,
    decoder: FrameDecoder,
    reassembler: Reassembler,
    pending: VecDeque<Event>,
    eof: bool,
}

impl Receiver {
    /// A receiver with the given limits.
    pub fn new(config: ReceiverConfig) -> Self {
        Self {
            config,
            decoder: FrameDecoder::new(config.max_frame.min(MAX_FRAME_LIMIT)),
            reassembler: Reassembler::new(config.max_message, config.max_partial),
            pending: VecDeque::new(),
            eof: false,
        }
    }

    /// The limits this receiver enforces.
    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    /// Appends input bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    /// A writable region of at least `min` octets for reading straight into the receiver; see
    /// [`FrameDecoder::buffer_mut`].
    pub fn buffer_mut(&mut self, min: usize) -> &mut [u8] {
        self.decoder.buffer_mut(min)
    }

    /// Marks `n` octets written into [`buffer_mut`](Self::buffer_mut) as input.
    pub fn commit(&mut self, n: usize) {
        self.decoder.commit(n);
    }

    /// Messages partly reassembled now.
    pub fn partial_messages(&self) -> usize {
        self.reassembler.partial_messages()
    }

    /// The next event, or `None` when more input (or [`finish`](Self::finish)) is needed.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.pending.pop_front() {
            return Some(event);
        }
        loop {
            let frame = match self.decoder.decode() {
                Some(Ok(frame)) => frame,
                Some(Err(err)) => return Some(Event::Error(err)),
                None => break,
            };
            if let Some(event) = handle_frame(&mut self.reassembler, &mut self.pending, frame) {
                return Some(event);
            }
        }
        if self.eof {
            self.eof = false;
            if let Some(err) = self.decoder.finish() {
                self.pending.push_back(Event::Error(err));
            }
            self.pending
                .extend(self.reassembler.finish().into_iter().map(Event::Error));
            return self.pending.pop_front();
        }
        None
    }

    /// Signals the end of the stream; the end-of-stream errors come out of
    /// [`poll_event`](Self::poll_event) after the events of the bytes already pushed.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// Gives up on an incomplete candidate frame once the input FIFO is drained (FR-DEC-7; see
    /// [`FrameDecoder::abandon_partial`]). Returns `true` if a candidate was abandoned: a
    /// `TRUNCATED_FRAME` error is then the next event, followed by whatever frames the scan finds
    /// in the octets that were held behind the candidate.
    pub fn abandon_partial(&mut self) -> bool {
        match self.decoder.abandon_partial() {
            Some(err) => {
                self.pending.push_back(Event::Error(err));
                true
            }
            None => false,
        }
    }

    /// Drops all buffered bytes, partial messages and queued events (a new stream).
    pub fn reset(&mut self) {
        self.decoder.reset();
        self.reassembler.clear();
        self.pending.clear();
        self.eof = false;
    }

    /// Drops the partial messages of one session (the session ended, FR-BYE-1).
    pub fn drop_session(&mut self, session: u32) {
        self.reassembler.drop_session(session);
    }

    /// Hands a message's buffer back for reuse ([`Reassembler::recycle`]).
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.reassembler.recycle(buf);
    }
}

/// The per-frame rules after the decoder, in the order of spec §5 (the paragraph after FR-DEC-6):
/// FR-TYPE-2, FR-TYPE-3, FR-FRAME-14, then FR-TYPE-4 for a type that cannot be fragmented, or
/// reassembly (§7) and FR-TYPE-4 on the complete message.
#[inline]
fn handle_frame(
    reassembler: &mut Reassembler,
    pending: &mut VecDeque<Event>,
    frame: FrameRef<'_>,
) -> Option<Event> {
    let header = frame.header;
    let t = header.frame_type;
    if frame_type::is_ignorable(t) {
        return Some(Event::Ignored { frame_type: t });
    }
    if !frame_type::request_id_ok(t, header.request) {
        return Some(Event::Error(ProtocolError::BadRequestId {
            frame_type: t,
            request: header.request,
        }));
    }
    let payload = if frame_type::is_fragmentable(t) {
        match reassembler.push(&header, frame.payload) {
            Reassembled::Complete(payload) => payload,
            Reassembled::Incomplete => return None,
            Reassembled::Refused { error, last } => {
                if last {
                    pending.push_back(discarded(&header));
                }
                return Some(Event::Error(error));
            }
            Reassembled::DiscardEnd => return Some(discarded(&header)),
        }
    } else if header.more() {
        return Some(Event::Error(ProtocolError::UnexpectedFragment {
            frame_type: t,
        }));
    } else {
        Cow::Borrowed(frame.payload)
    };
    Some(match Message::parse_cow(t, header.request, payload) {
        Ok(message) => Event::Message {
            session: header.session,
            message,
        },
        Err(error) => Event::MalformedMessage {
            session: header.session,
            request: header.request,
            frame_type: t,
            error,
        },
    })
}

fn discarded(header: &FrameHeader) -> Event {
    Event::MessageDiscarded {
        session: header.session,
        request: header.request,
        frame_type: header.frame_type,
    }
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;
