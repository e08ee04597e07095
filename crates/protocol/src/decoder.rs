//! [`FrameDecoder`]: finds and checks frames in a byte stream (spec §5).

use crate::error::ProtocolError;
use crate::frame::{
    check_extensions, frame_type, FrameHeader, FrameRef, CRC_LEN, HEADER_LEN, MAGIC,
    MAX_FRAME_LIMIT, MIN_FRAME_LEN, VERSION,
};

/// Smallest buffer the decoder allocates once it holds bytes.
const MIN_BUFFER: usize = 8 * 1024;

/// A push parser for frames: bytes go in with [`push`](Self::push) (or
/// [`buffer_mut`](Self::buffer_mut) + [`commit`](Self::commit)), frames and errors come out of
/// [`decode`](Self::decode), and [`finish`](Self::finish) signals the end of the stream.
///
/// It checks every frame in the order of spec §5 (FR-DEC-2) and recovers after an error by
/// *skipping* the frame (steps 6-11: the CRC vouched for the length) or by *scanning* for the next
/// `F1 F0` (steps 1-3 and 5, FR-DEC-4). Results do not depend on how the input is split
/// (FR-DEC-1). A length above the local MaxFrame is rejected as soon as the length field is
/// buffered, and the decoder never reserves memory from a length field (FR-FRAME-8).
///
/// Decoded frames borrow from the internal buffer; the decoder allocates only when its buffer
/// must grow, never per frame.
///
/// ```
/// use fifo_rpc_protocol::{encode_frame, frame_type, FrameDecoder, FrameHeader, ProtocolError};
/// let mut wire = b"stray".to_vec();
/// encode_frame(&FrameHeader::new(frame_type::PING, 7, 0), &[], &[0; 8], 512, &mut wire).unwrap();
///
/// let mut decoder = FrameDecoder::new(4096);
/// decoder.push(&wire);
/// assert_eq!(decoder.decode(), Some(Err(ProtocolError::BadMagic))); // then it scans silently
/// let frame = decoder.decode().unwrap().unwrap();
/// assert_eq!(frame.header.session, 7);
/// assert_eq!(frame.payload, &[0; 8]);
/// assert!(decoder.decode().is_none()); // needs more bytes
/// assert_eq!(decoder.finish(), None); // nothing left over
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// Initialised storage; the bytes of the stream not yet consumed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Length of the frame last returned by `decode`, consumed on the next call.
    consumed: usize,
    /// Resynchronising after an error at steps 1-3 or 5 (FR-DEC-4).
    scanning: bool,
    max_frame: usize,
}

impl FrameDecoder {
    /// A decoder that accepts frames up to `max_frame` octets (the local MaxFrame; values above
    /// 65535 act as 65535).
    pub fn new(max_frame: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            end: 0,
            consumed: 0,
            scanning: false,
            max_frame: max_frame.min(MAX_FRAME_LIMIT),
        }
    }

    /// The local MaxFrame this decoder enforces.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Appends input bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.reserve_tail(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// A writable region of at least `min` octets (at least 1) at the end of the input, for reading
    /// straight into the decoder; report how many octets were written with [`commit`](Self::commit).
    ///
    /// ```
    /// use fifo_rpc_protocol::FrameDecoder;
    /// let mut decoder = FrameDecoder::new(4096);
    /// let spare = decoder.buffer_mut(4096);
    /// spare[0] = 0xf1; // as a read(2) would
    /// decoder.commit(1);
    /// assert_eq!(decoder.buffered(), 1);
    /// ```
    pub fn buffer_mut(&mut self, min: usize) -> &mut [u8] {
        self.reserve_tail(min.max(1));
        &mut self.buf[self.end..]
    }

    /// Marks `n` octets written into [`buffer_mut`](Self::buffer_mut) as input (clamped to the
    /// region's size).
    pub fn commit(&mut self, n: usize) {
        self.end += n.min(self.buf.len() - self.end);
    }

    /// Octets held that no frame or error has consumed yet.
    pub fn buffered(&self) -> usize {
        self.end - self.start - self.consumed
    }

    /// `true` while resynchronising after an error (FR-DEC-4).
    pub fn is_scanning(&self) -> bool {
        self.scanning
    }

    /// The next frame or error, or `None` when more bytes are needed.
    ///
    /// A returned frame borrows the buffer until the next call. After an error the decoder has
    /// already recovered (skipped or started scanning), so the caller just calls again.
    #[inline]
    pub fn decode(&mut self) -> Option<Result<FrameRef<'_>, ProtocolError>> {
        self.start += std::mem::take(&mut self.consumed);
        if self.scanning && !self.resync() {
            return None;
        }
        let avail = &self.buf[self.start..self.end];
        // Step 1: the magic, decided octet by octet.
        let Some(&first) = avail.first() else {
            self.start = 0;
            self.end = 0;
            return None;
        };
        if first != MAGIC[0] || avail.get(1).is_some_and(|&b| b != MAGIC[1]) {
            return Some(Err(self.scan_error(ProtocolError::BadMagic)));
        }
        let &[_, _, l0, l1] = avail.first_chunk::<4>()?;
        // Steps 2 and 3: the length, before anything else is buffered for the frame.
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len < MIN_FRAME_LEN {
            return Some(Err(self.scan_error(ProtocolError::FrameTooShort { len })));
        }
        if len > self.max_frame {
            let max = self.max_frame;
            return Some(Err(
                self.scan_error(ProtocolError::FrameTooLarge { len, max })
            ));
        }
        // Step 4: wait for the whole frame.
        let frame = avail.get(..len)?;
        // Step 5: the CRC.
        let (body, crc) = frame.split_at(len - CRC_LEN);
        let expected = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let actual = crc32fast::hash(body);
        if expected != actual {
            return Some(Err(
                self.scan_error(ProtocolError::BadChecksum { expected, actual })
            ));
        }
        // Steps 6-11: the boundary is trusted, so a failure skips the frame.
        match check_header(frame) {
            Ok((header, header_len)) => {
                self.consumed = len;
                let frame = &self.buf[self.start..self.start + len];
                Some(Ok(FrameRef {
                    header,
                    extensions: &frame[HEADER_LEN..header_len],
                    payload: &frame[header_len..len - CRC_LEN],
                }))
            }
            Err(err) => {
                self.start += len;
                Some(Err(err))
            }
        }
    }

    /// Signals the end of the stream (FR-DEC-5): returns `TRUNCATED_FRAME` if the decoder holds part
    /// of a frame and is not scanning, and empties the decoder either way, ready for a new stream.
    ///
    /// Call it once [`decode`](Self::decode) has returned `None`: bytes still held are dropped.
    pub fn finish(&mut self) -> Option<ProtocolError> {
        self.start += std::mem::take(&mut self.consumed);
        let held = &self.buf[self.start..self.end];
        let result = if self.scanning || held.is_empty() {
            None
        } else {
            let missing = match held.first_chunk::<4>() {
                Some(&[_, _, l0, l1]) => {
                    usize::from(u16::from_be_bytes([l0, l1])).saturating_sub(held.len())
                }
                None => MIN_FRAME_LEN - held.len(),
            };
            Some(ProtocolError::TruncatedFrame { missing })
        };
        self.reset();
        result
    }

    /// Gives up on an incomplete candidate frame (FR-DEC-7): returns `TRUNCATED_FRAME` and scans
    /// (FR-DEC-4) from the candidate's second octet, or `None` if the decoder holds no partial frame.
    ///
    /// Call it when the input FIFO has been drained (a non-blocking read found it empty) and
    /// [`decode`](Self::decode) returns `None`, on a FIFO whose writers write whole frames with
    /// one atomic `write(2)` each (`pipe.in`). Every octet of a legitimate frame entered the FIFO
    /// with that one write, so a candidate still incomplete once the FIFO is empty is stray bytes
    /// that happened to contain `F1 F0`: waiting for the rest of it would only delay the real
    /// frames buffered behind it.
    pub fn abandon_partial(&mut self) -> Option<ProtocolError> {
        self.start += std::mem::take(&mut self.consumed);
        if self.scanning || self.start == self.end {
            return None;
        }
        let held = &self.buf[self.start..self.end];
        let missing = match held.first_chunk::<4>() {
            Some(&[_, _, l0, l1]) => {
                usize::from(u16::from_be_bytes([l0, l1])).saturating_sub(held.len())
            }
            None => MIN_FRAME_LEN - held.len(),
        };
        Some(self.scan_error(ProtocolError::TruncatedFrame { missing }))
    }

    /// Drops every buffered octet and leaves scanning: the state of a new decoder (the buffer's
    /// memory is kept).
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.consumed = 0;
        self.scanning = false;
    }

    /// Records a step 1-3 or 5 error: drop the candidate's first octet and scan (FR-DEC-4).
    #[cold]
    fn scan_error(&mut self, err: ProtocolError) -> ProtocolError {
        self.start += 1;
        self.scanning = true;
        err
    }

    /// Discards octets up to the next `F1 F0`; `true` once the buffer starts with it. A lone
    /// trailing `F1` is kept and waits for the next octet.
    #[cold]
    fn resync(&mut self) -> bool {
        let avail = &self.buf[self.start..self.end];
        let mut from = 0;
        while let Some(pos) = avail[from..].iter().position(|&b| b == MAGIC[0]) {
            let at = from + pos;
            match avail.get(at + 1) {
                None => {
                    self.start += at;
                    return false;
                }
                Some(&b) if b == MAGIC[1] => {
                    self.start += at;
                    self.scanning = false;
                    return true;
                }
                Some(_) => from = at + 1,
            }
        }
        self.start = 0;
        self.end = 0;
        false
    }

    /// Makes room for `n` more octets after `end`, moving the held bytes to the front first.
    fn reserve_tail(&mut self, n: usize) {
        self.start += std::mem::take(&mut self.consumed);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buf.len() - self.end >= n {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let need = self.end + n;
        if self.buf.len() < need {
            let size = need.max(self.buf.len() * 2).max(MIN_BUFFER);
            self.buf.resize(size, 0);
        }
    }
}

/// Steps 6-11 of FR-DEC-2 on a frame whose length and CRC are already checked.
#[inline]
fn check_header(frame: &[u8]) -> Result<(FrameHeader, usize), ProtocolError> {
    let Some(&[_, _, _, _, version, t, flags, hl, s0, s1, s2, s3, r0, r1, r2, r3]) =
        frame.first_chunk::<HEADER_LEN>()
    else {
        return Err(ProtocolError::FrameTooShort { len: frame.len() });
    };
    if version != VERSION {
        return Err(ProtocolError::UnsupportedVersion { version });
    }
    let header_len = usize::from(hl);
    if header_len < HEADER_LEN || header_len > frame.len() - CRC_LEN {
        return Err(ProtocolError::BadHeaderLength {
            header_len,
            frame_len: frame.len(),
        });
    }
    if header_len > HEADER_LEN {
        check_extensions(&frame[HEADER_LEN..header_len])?;
    }
    if !(frame_type::is_assigned(t) || frame_type::is_ignorable(t)) {
        return Err(ProtocolError::UnknownCriticalType { frame_type: t });
    }
    let session = u32::from_be_bytes([s0, s1, s2, s3]);
    if session == 0 {
        return Err(ProtocolError::ZeroSession);
    }
    let request = u32::from_be_bytes([r0, r1, r2, r3]);
    Ok((
        FrameHeader {
            version,
            frame_type: t,
            flags,
            session,
            request,
        },
        header_len,
    ))
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
