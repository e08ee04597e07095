//! Reassembly (spec §7): [`Reassembler`] puts received fragments back together; splitting a
//! message into frames is in `fragmenter.rs`.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::error::ProtocolError;
use crate::frame::FrameHeader;

/// What [`Reassembler::push`] made of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembled<'a> {
    /// The message is complete: its payload, borrowed from the frame when it was not fragmented.
    Complete(Cow<'a, [u8]>),
    /// The fragment was buffered (or silently discarded as part of a refused message); more follow.
    Incomplete,
    /// The message was refused (`MESSAGE_TOO_LARGE`, FR-FRAG-3, or
    /// [`ProtocolError::TooManyPartialMessages`], FR-FRAG-7). Its remaining fragments are discarded
    /// up to the one with MORE clear; `last` is `true` when this fragment already was that one.
    Refused {
        /// The error to report, once.
        error: ProtocolError,
        /// `true` if no more fragments of the message will be discarded.
        last: bool,
    },
    /// The last fragment of a refused message arrived and was discarded (a server now answers it,
    /// FR-FRAG-5).
    DiscardEnd,
}

type Key = (u32, u32, u8);

#[derive(Debug, Clone)]
enum Slot {
    Partial(Vec<u8>),
    Discarding,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Arrival order of the first fragment (FR-FRAG-6).
    seq: u64,
    slot: Slot,
}

/// Reassembles fragmented messages keyed by (Session ID, Request ID, Type) (FR-FRAG-2), within
/// bounds: `max_message` octets per message (FR-FRAG-3) and `max_partial` messages at once
/// (FR-FRAG-7).
///
/// A refused message costs a key until its last fragment arrives; at most `max(max_partial, 16)`
/// such keys are kept (beyond that the oldest is forgotten).
///
/// ```
/// use std::borrow::Cow;
/// use fifo_rpc_protocol::{flags, frame_type, FrameHeader, Reassembled, Reassembler};
/// let mut r = Reassembler::new(4096, 8);
/// let mut first = FrameHeader::new(frame_type::RESPONSE, 1, 5);
/// first.flags = flags::MORE;
/// assert_eq!(r.push(&first, b"hel"), Reassembled::Incomplete);
/// let last = FrameHeader::new(frame_type::RESPONSE, 1, 5);
/// assert_eq!(r.push(&last, b"lo"), Reassembled::Complete(Cow::Owned(b"hello".to_vec())));
/// ```
#[derive(Debug, Clone)]
pub struct Reassembler {
    max_message: u32,
    max_partial: usize,
    entries: HashMap<Key, Entry>,
    next_seq: u64,
    partial: usize,
    discarding: usize,
    /// A buffer handed back with [`recycle`](Self::recycle), reused for the next fragmented
    /// message so a stream of large messages does not allocate (and fault in) a new buffer each.
    spare: Vec<u8>,
}

impl Reassembler {
    /// A reassembler for messages up to `max_message` octets, at most `max_partial` at once.
    pub fn new(max_message: u32, max_partial: usize) -> Self {
        Self {
            max_message,
            max_partial,
            entries: HashMap::new(),
            next_seq: 0,
            partial: 0,
            discarding: 0,
            spare: Vec::new(),
        }
    }

    /// Hands back the buffer of a message (for example [`Call::into_payload`] once the call
    /// has run) for the next message to reuse: a fragmented one is reassembled into it, and a
    /// single-frame one that fits is copied into it instead of being returned borrowed, so its
    /// owner need not allocate. One buffer is kept, the largest; it is at most `max_message`
    /// octets and released by [`clear`](Self::clear) and [`drop_session`](Self::drop_session).
    ///
    /// [`Call::into_payload`]: crate::Call::into_payload
    ///
    /// ```
    /// use fifo_rpc_protocol::{flags, frame_type, FrameHeader, Reassembled, Reassembler};
    /// let mut r = Reassembler::new(1 << 20, 8);
    /// let mut first = FrameHeader::new(frame_type::REQUEST, 1, 7);
    /// first.flags = flags::MORE;
    /// let last = FrameHeader::new(frame_type::REQUEST, 1, 7);
    /// assert_eq!(r.push(&first, &[1; 3000]), Reassembled::Incomplete);
    /// let Reassembled::Complete(message) = r.push(&last, &[2; 3000]) else { panic!() };
    /// let buf = message.into_owned();
    /// let ptr = buf.as_ptr();
    /// r.recycle(buf);
    /// assert_eq!(r.push(&first, &[3; 3000]), Reassembled::Incomplete);
    /// let Reassembled::Complete(again) = r.push(&last, &[4; 3000]) else { panic!() };
    /// assert_eq!((again.as_ptr(), again.len()), (ptr, 6000), "the same buffer, reused");
    /// ```
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > self.spare.capacity() && buf.capacity() <= self.max_len() {
            buf.clear();
            self.spare = buf;
        }
    }

    /// Messages being reassembled now.
    pub fn partial_messages(&self) -> usize {
        self.partial
    }

    /// Takes one fragment of a fragmentable type (or any type, for a single-frame message).
    #[inline]
    pub fn push<'a>(&mut self, header: &FrameHeader, payload: &'a [u8]) -> Reassembled<'a> {
        let more = header.more();
        if self.entries.is_empty() && !more && payload.len() <= self.max_len() {
            if self.spare.capacity() >= payload.len().max(1) {
                // A buffer was handed back: the message gets it (its caller would otherwise
                // allocate one to own the payload).
                let mut buf = std::mem::take(&mut self.spare);
                buf.extend_from_slice(payload);
                return Reassembled::Complete(Cow::Owned(buf));
            }
            return Reassembled::Complete(Cow::Borrowed(payload));
        }
        self.push_slow(header, payload, more)
    }

    fn max_len(&self) -> usize {
        usize::try_from(self.max_message).unwrap_or(usize::MAX)
    }

    fn too_large(&self, key: Key) -> ProtocolError {
        ProtocolError::MessageTooLarge {
            session: key.0,
            request: key.1,
            max: self.max_message,
        }
    }

    fn push_slow<'a>(
        &mut self,
        header: &FrameHeader,
        payload: &'a [u8],
        more: bool,
    ) -> Reassembled<'a> {
        let key = (header.session, header.request, header.frame_type);
        let max_len = self.max_len();
        let Some(entry) = self.entries.get_mut(&key) else {
            if payload.len() > max_len {
                if more {
                    self.add_discarding(key);
                }
                return Reassembled::Refused {
                    error: self.too_large(key),
                    last: !more,
                };
            }
            if !more {
                return Reassembled::Complete(Cow::Borrowed(payload));
            }
            if self.partial >= self.max_partial {
                self.add_discarding(key);
                let (session, request) = (key.0, key.1);
                let error = ProtocolError::TooManyPartialMessages {
                    session,
                    request,
                    max: self.max_partial,
                };
                return Reassembled::Refused { error, last: false };
            }
            let want = payload.len().saturating_mul(2).min(max_len);
            let mut buf = if self.spare.capacity() >= want {
                std::mem::take(&mut self.spare)
            } else {
                Vec::with_capacity(want)
            };
            buf.extend_from_slice(payload);
            let seq = self.next_seq();
            self.entries.insert(
                key,
                Entry {
                    seq,
                    slot: Slot::Partial(buf),
                },
            );
            self.partial += 1;
            return Reassembled::Incomplete;
        };
        let buf = match &mut entry.slot {
            Slot::Discarding if more => return Reassembled::Incomplete,
            Slot::Discarding => {
                self.entries.remove(&key);
                self.discarding -= 1;
                return Reassembled::DiscardEnd;
            }
            Slot::Partial(buf) => buf,
        };
        let len = buf.len() + payload.len();
        if len > max_len {
            self.entries.remove(&key);
            self.partial -= 1;
            if more {
                self.add_discarding(key);
            }
            return Reassembled::Refused {
                error: self.too_large(key),
                last: !more,
            };
        }
        if len > buf.capacity() {
            let target = len.max(buf.capacity().saturating_mul(2).min(max_len));
            buf.reserve_exact(target - buf.len());
        }
        buf.extend_from_slice(payload);
        if more {
            return Reassembled::Incomplete;
        }
        self.partial -= 1;
        match self.entries.remove(&key) {
            Some(Entry {
                slot: Slot::Partial(buf),
                ..
            }) => Reassembled::Complete(Cow::Owned(buf)),
            _ => Reassembled::Incomplete,
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Remembers a refused message until its last fragment, forgetting the oldest refused one
    /// when too many are remembered.
    fn add_discarding(&mut self, key: Key) {
        if self.discarding >= self.max_partial.max(16) {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| matches!(e.slot, Slot::Discarding))
                .min_by_key(|(_, e)| e.seq)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.entries.remove(&k);
                self.discarding -= 1;
            }
        }
        let seq = self.next_seq();
        self.entries.insert(
            key,
            Entry {
                seq,
                slot: Slot::Discarding,
            },
        );
        self.discarding += 1;
    }

    /// End of stream (FR-FRAG-6): drops everything and returns one `TRUNCATED_MESSAGE` per message
    /// that was partly reassembled, in the order their first fragments arrived. Refused messages
    /// were already reported and are dropped silently.
    pub fn finish(&mut self) -> Vec<ProtocolError> {
        let mut partial: Vec<(u64, Key)> = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(e.slot, Slot::Partial(_)))
            .map(|(k, e)| (e.seq, *k))
            .collect();
        partial.sort_unstable();
        self.clear();
        partial
            .into_iter()
            .map(|(_, (session, request, _))| ProtocolError::TruncatedMessage { session, request })
            .collect()
    }

    /// Drops every partial and refused message of `session`.
    pub fn drop_session(&mut self, session: u32) {
        self.entries.retain(|k, _| k.0 != session);
        self.recount();
        self.spare = Vec::new();
    }

    /// Drops every partial and refused message.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.spare = Vec::new();
        self.partial = 0;
        self.discarding = 0;
    }

    fn recount(&mut self) {
        self.partial = self
            .entries
            .values()
            .filter(|e| matches!(e.slot, Slot::Partial(_)))
            .count();
        self.discarding = self.entries.len() - self.partial;
    }
}

#[cfg(test)]
#[path = "fragment_tests.rs"]
mod tests;
