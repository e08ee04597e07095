//! Fragmentation (spec §7): [`Fragmenter`] splits one message into frames a few at a time, so a
//! large message can be written while it is encoded; [`encode_message`] encodes all of it at once.

use crate::error::ProtocolError;
use crate::frame::{
    flags, frame_type, put_crc, put_header, FrameHeader, FRAME_OVERHEAD, MAX_FRAME_LIMIT, VERSION,
};

/// The frames of one message, produced on demand.
///
/// The payload is the concatenation of the `parts` handed to each
/// [`encode_next`](Self::encode_next) call; they must be the same parts, of the total length given
/// to [`new`](Self::new), every time. Every fragment but the last is filled to the frame limit and
/// carries MORE (FR-FRAG-1); a payload that fits is one frame. The frames are exactly those
/// [`encode_message`] would append, whatever the steps: a sender can write the first frames of a
/// 16 MiB message before it has encoded the rest, and keep only a small buffer of encoded frames.
///
/// ```
/// use fifo_rpc_protocol::{encode_message, frame_type, Fragmenter};
/// let body = vec![7u8; 10_000];
/// let mut f = Fragmenter::new(frame_type::RESPONSE, 1, 9, body.len(), 4096).unwrap();
/// assert_eq!(f.frames_left(), 3);
/// let mut wire = Vec::new();
/// let mut chunk = Vec::new();
/// while !f.is_done() {
///     chunk.clear();
///     f.encode_next(&[&body], 4096, &mut chunk); // one frame at a time
///     assert!(chunk.len() <= 4096);
///     wire.extend_from_slice(&chunk);
/// }
/// let mut whole = Vec::new();
/// encode_message(frame_type::RESPONSE, 1, 9, &[&body], 4096, &mut whole).unwrap();
/// assert_eq!(wire, whole);
/// ```
#[derive(Debug, Clone)]
pub struct Fragmenter {
    header: FrameHeader,
    /// Payload octets per frame.
    capacity: usize,
    /// Payload octets in all.
    total: usize,
    /// Payload octets already encoded.
    done: usize,
    frames_left: usize,
}

impl Fragmenter {
    /// The frames of a message of `total` payload octets, each at most `max_frame` octets.
    ///
    /// # Errors
    ///
    /// Local misuse: [`ProtocolError::InvalidSession`] for Session ID 0,
    /// [`ProtocolError::InvalidFrameType`] for an unknown critical type,
    /// [`ProtocolError::InvalidRequestId`] for a Request ID that breaks FR-TYPE-3,
    /// [`ProtocolError::EncodeTooLarge`] when a type that cannot be fragmented does not fit in one
    /// frame (or `max_frame` leaves no room for payload).
    pub fn new(
        frame_type: u8,
        session: u32,
        request: u32,
        total: usize,
        max_frame: usize,
    ) -> Result<Self, ProtocolError> {
        if session == 0 {
            return Err(ProtocolError::InvalidSession);
        }
        if !(frame_type::is_assigned(frame_type) || frame_type::is_ignorable(frame_type)) {
            return Err(ProtocolError::InvalidFrameType { frame_type });
        }
        if !frame_type::request_id_ok(frame_type, request) {
            return Err(ProtocolError::InvalidRequestId {
                frame_type,
                request,
            });
        }
        let max = max_frame.min(MAX_FRAME_LIMIT);
        let capacity = max.saturating_sub(FRAME_OVERHEAD);
        let fragmentable =
            frame_type::is_fragmentable(frame_type) || frame_type::is_ignorable(frame_type);
        if total > capacity && (capacity == 0 || !fragmentable) {
            return Err(ProtocolError::EncodeTooLarge {
                len: total + FRAME_OVERHEAD,
                max,
            });
        }
        let frames_left = if total == 0 {
            1
        } else {
            total.div_ceil(capacity)
        };
        Ok(Self {
            header: FrameHeader {
                version: VERSION,
                frame_type,
                flags: 0,
                session,
                request,
            },
            capacity,
            total,
            done: 0,
            frames_left,
        })
    }

    /// Payload octets of the whole message (the `total` given to [`new`](Self::new)).
    pub fn payload_len(&self) -> usize {
        self.total
    }

    /// Frames not yet encoded.
    pub fn frames_left(&self) -> usize {
        self.frames_left
    }

    /// `true` once every frame has been encoded.
    pub fn is_done(&self) -> bool {
        self.frames_left == 0
    }

    /// Octets, headers included, of the frames not yet encoded.
    pub fn octets_left(&self) -> usize {
        self.total - self.done + self.frames_left * FRAME_OVERHEAD
    }

    /// Appends the next frames to `out`: as many whole frames as fit in `limit` octets, and at
    /// least one while any is left. Returns how many it appended (0 once done).
    ///
    /// # Panics
    ///
    /// If `parts` hold fewer octets than the `total` given to [`new`](Self::new).
    pub fn encode_next(&mut self, parts: &[&[u8]], limit: usize, out: &mut Vec<u8>) -> usize {
        debug_assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), self.total);
        // Find where the next payload octet is: part `index`, offset `skip`.
        let mut skip = self.done;
        let mut index = 0;
        while index < parts.len() && skip >= parts[index].len() {
            skip -= parts[index].len();
            index += 1;
        }
        let mut current: &[u8] = parts.get(index).map_or(&[], |p| &p[skip..]);
        let mut frames = 0;
        let mut used = 0;
        while self.frames_left > 0 {
            let n = (self.total - self.done).min(self.capacity);
            if frames > 0 && used + n + FRAME_OVERHEAD > limit {
                break;
            }
            self.done += n;
            self.frames_left -= 1;
            self.header.flags = if self.frames_left > 0 { flags::MORE } else { 0 };
            let start = out.len();
            put_header(&self.header, FRAME_OVERHEAD + n, 0, out);
            let mut need = n;
            while need > 0 {
                while current.is_empty() {
                    index += 1;
                    current = parts[index];
                }
                let take = need.min(current.len());
                out.extend_from_slice(&current[..take]);
                current = &current[take..];
                need -= take;
            }
            put_crc(start, out);
            frames += 1;
            used += n + FRAME_OVERHEAD;
        }
        frames
    }
}

/// Appends the frames of one message to `out` and returns how many frames it wrote.
///
/// The payload is the concatenation of `parts`, which are copied straight into the frames. Every
/// fragment but the last is filled to `max_frame` and carries MORE (FR-FRAG-1); a payload that
/// fits is sent as one frame. `out` is reserved once, so nothing else is allocated. To encode a
/// large message a few frames at a time, use [`Fragmenter`].
///
/// # Errors
///
/// As [`Fragmenter::new`], with nothing appended.
///
/// ```
/// use fifo_rpc_protocol::{encode_message, frame_type};
/// let mut out = Vec::new();
/// let body = vec![7u8; 1000];
/// let frames = encode_message(frame_type::RESPONSE, 1, 9, &[&body], 512, &mut out).unwrap();
/// assert_eq!(frames, 3); // 492 + 492 + 16 payload octets
/// assert_eq!(out.len(), 1000 + 3 * 20);
/// ```
pub fn encode_message(
    frame_type: u8,
    session: u32,
    request: u32,
    parts: &[&[u8]],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<usize, ProtocolError> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut fragmenter = Fragmenter::new(frame_type, session, request, total, max_frame)?;
    out.reserve(fragmenter.octets_left());
    Ok(fragmenter.encode_next(parts, usize::MAX, out))
}
