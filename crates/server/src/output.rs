//! [`Output`]: the server's write end of `pipe.out` and the backlog of frames waiting to go out.
//!
//! The server is the only writer of `pipe.out`, so it writes runs of whole frames of up to
//! [`WRITE_BATCH`] octets at once (FR-FRAME-10): a 16 MiB answer takes 256 writes, not 4,096.
//! When the pipe has less room, the kernel writes part of a run; the rest of the frame it cut
//! (`partial`) is written next, before anything else, so the stream is back at a frame boundary
//! before any other frame (a GOODBYE, say) follows. Large answers are encoded while they are
//! written ([`Output::write_streamed`]).
//!
//! Frames go out in the order they are handed over. A thread that finds nothing waiting writes its
//! frames itself, outside the server's lock ([`Output::begin_send`], [`send`],
//! [`Output::finish_send`]); frames handed over meanwhile are appended to the backlog, and the
//! sender writes them too before it lets go (write combining: one `write(2)` for the answers of
//! several workers). When the pipe is full the backlog waits for `POLLOUT`, which the I/O thread
//! polls while it keeps reading `pipe.in` (FR-FIFO-13).

use std::sync::Arc;
use std::time::Instant;

use fifo_rpc_fifo::{FifoError, FifoWriter, ServiceDir, WriteOutcome, PIPE_OUT};
use fifo_rpc_protocol::Fragmenter;

/// The most octets of whole frames written with one `write(2)` (at least one frame, and at least
/// `PIPE_BUF`).
pub(crate) const WRITE_BATCH: usize = 64 * 1024;

/// What a write left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteStatus {
    /// Everything handed over is in the pipe, or in the hands of a thread writing it.
    Flushed,
    /// Frames wait in the backlog; `blocked` if the pipe is full and the I/O thread must poll
    /// for `POLLOUT`.
    Pending { blocked: bool },
    /// `EPIPE`: the client's read end is gone. The writer is closed and the backlog dropped.
    PeerGone,
    /// No writer is open: the frames were dropped.
    Closed,
}

/// How a [`send`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendEnd {
    /// Everything was written.
    All,
    /// The pipe is full (`EAGAIN`, or a short write).
    Full,
    /// `EPIPE`.
    Gone,
}

/// What a [`send`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Octets written.
    pub(crate) done: usize,
    /// Octets of a frame cut by a short write that remain (never on Linux).
    pub(crate) partial: usize,
    pub(crate) end: SendEnd,
}

/// Frame length field at `at`.
fn frame_len(buf: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]])).max(1)
}

/// Length of the longest run of whole frames at the start of `buf` that fits in `limit` octets
/// (at least one frame, whatever its length). `buf` starts at a frame boundary.
fn whole_frames(buf: &[u8], limit: usize) -> usize {
    let mut end = 0;
    while end + 4 <= buf.len() {
        let next = (end + frame_len(buf, end)).min(buf.len());
        if end > 0 && next > limit {
            break;
        }
        end = next;
    }
    if end == 0 {
        buf.len()
    } else {
        end
    }
}

/// After a short write of `n` octets into `frames` (starting at a frame boundary), how many
/// octets of the cut frame remain.
fn partial_rest(frames: &[u8], n: usize) -> usize {
    let mut start = 0;
    while start + 4 <= frames.len() {
        let end = start + frame_len(frames, start);
        if end > n {
            return end.min(frames.len()) - n;
        }
        start = end;
    }
    0
}

/// Writes `frames` as runs of whole frames of at most [`WRITE_BATCH`] octets (or one frame
/// larger than that), one `write(2)` each, until done or the pipe is full. The first `partial` octets finish a frame an earlier short
/// write cut. Needs no lock.
pub(crate) fn send(
    writer: &FifoWriter,
    pipe_buf: usize,
    frames: &[u8],
    partial: usize,
) -> Result<Sent, FifoError> {
    let mut done = 0;
    let mut partial = partial;
    while done < frames.len() {
        let chunk = if partial > 0 {
            partial.min(frames.len() - done)
        } else {
            whole_frames(&frames[done..], pipe_buf.max(WRITE_BATCH))
        };
        let n = match writer.write(&frames[done..done + chunk]) {
            Ok(WriteOutcome::Written(n)) => n,
            Ok(WriteOutcome::WouldBlock) => {
                return Ok(Sent {
                    done,
                    partial,
                    end: SendEnd::Full,
                })
            }
            Err(FifoError::PeerGone { .. }) => {
                return Ok(Sent {
                    done,
                    partial: 0,
                    end: SendEnd::Gone,
                })
            }
            Err(e) => return Err(e),
        };
        if n < chunk {
            // A short write: the pipe had room for part of a run longer than PIPE_BUF.
            partial = if partial > 0 {
                partial - n
            } else {
                partial_rest(&frames[done..], n)
            };
            return Ok(Sent {
                done: done + n,
                partial,
                end: SendEnd::Full,
            });
        }
        done += n;
        partial = 0;
    }
    Ok(Sent {
        done,
        partial: 0,
        end: SendEnd::All,
    })
}

/// How [`Output::send_direct`] dealt with frames.
enum Direct {
    /// Nothing was sent now: no writer, nothing to send, or the frames joined the backlog.
    Done(WriteStatus),
    /// The frames were sent directly; this is how far it got.
    Sent(Result<Sent, FifoError>),
}

/// The write end of `pipe.out` with its backlog.
#[derive(Debug)]
pub(crate) struct Output {
    writer: Option<Arc<FifoWriter>>,
    /// Frames waiting, in order, are `backlog[head..]`; their first `partial` octets finish a
    /// frame cut by a short write. Written octets are consumed by moving `head`, not the bytes:
    /// the buffer is compacted only once `head` passes half of it, or emptied when all is written.
    backlog: Vec<u8>,
    head: usize,
    partial: usize,
    /// The last write found the pipe full: wait for `POLLOUT`.
    blocked: bool,
    /// A thread is writing outside the lock; frames handed over meanwhile are appended.
    busy: bool,
    /// Incremented whenever unwritten frames are dropped (a session ended): a send that began
    /// before does not put its remainder back.
    epoch: u64,
    pipe_buf: usize,
    pipe_size: Option<usize>,
    /// When the blocked backlog last made progress; the write timeout counts from here.
    pub(crate) stalled_since: Option<Instant>,
    /// Close the writer once the backlog is flushed (after a final GOODBYE).
    pub(crate) close_when_flushed: bool,
    /// Frames of the session machine, staged between `poll_transmit` and `write`.
    pub(crate) staging: Vec<u8>,
    /// The rest of a large answer, not encoded yet: it follows `backlog`, and its next frames
    /// are encoded as the pipe drains ([`write_streamed`](Self::write_streamed)).
    tail: Option<Tail>,
    /// The body buffer of the last finished tail, swapped with the next one's.
    tail_spare: Vec<u8>,
}

/// A large answer being encoded while it is written.
#[derive(Debug)]
struct Tail {
    frames: Fragmenter,
    body: Vec<u8>,
}

/// Octets of frames a tail is encoded in at a time: they stay in cache until written.
const TAIL_CHUNK: usize = 64 * 1024;

impl Output {
    pub(crate) fn new(pipe_buf: usize, pipe_size: Option<usize>) -> Self {
        Self {
            writer: None,
            backlog: Vec::new(),
            head: 0,
            partial: 0,
            blocked: false,
            busy: false,
            epoch: 0,
            pipe_buf: pipe_buf.clamp(512, 1 << 16),
            pipe_size,
            stalled_since: None,
            close_when_flushed: false,
            staging: Vec::with_capacity(512),
            tail: None,
            tail_spare: Vec::new(),
        }
    }

    /// Opens the write end if it is not open. `Ok((false, _))`: no reader (`ENXIO`), the client
    /// is gone. A refused pipe size is returned as the second value, to be logged.
    pub(crate) fn open(
        &mut self,
        dir: &ServiceDir,
    ) -> Result<(bool, Option<FifoError>), FifoError> {
        if self.writer.is_some() {
            return Ok((true, None));
        }
        let Some(writer) = dir.open_writer(PIPE_OUT)? else {
            return Ok((false, None));
        };
        self.pipe_buf = writer.pipe_buf().clamp(512, 1 << 16);
        let refused = self.pipe_size.and_then(|n| set_pipe_size(&writer, n).err());
        self.writer = Some(Arc::new(writer));
        Ok((true, refused))
    }

    /// Closes the write end and drops the backlog.
    pub(crate) fn close(&mut self) {
        self.writer = None;
        self.drop_all();
        self.close_when_flushed = false;
    }

    /// Drops the frames not yet written (FR-SESS-2), except the rest of a frame cut by a short
    /// write, which keeps the stream at a frame boundary.
    pub(crate) fn discard_backlog(&mut self) {
        self.epoch += 1;
        self.drop_tail();
        if self.partial > 0 {
            self.compact();
            self.backlog.truncate(self.partial);
        } else {
            self.backlog.clear();
            self.head = 0;
            self.blocked = false;
            self.stalled_since = None;
        }
        self.shrink();
    }

    fn drop_all(&mut self) {
        self.epoch += 1;
        self.drop_tail();
        self.backlog.clear();
        self.head = 0;
        self.partial = 0;
        self.blocked = false;
        self.stalled_since = None;
        self.shrink();
    }

    /// `true` if frames wait in the backlog (encoded, or the tail of a large answer).
    pub(crate) fn has_backlog(&self) -> bool {
        self.has_encoded() || self.tail.is_some()
    }

    /// `true` if encoded frames wait.
    fn has_encoded(&self) -> bool {
        self.backlog.len() > self.head
    }

    /// Encodes the next frames of the tail behind the backlog, at most `limit` octets of them
    /// (at least one frame); the tail's body buffer is kept for the next one when it is done.
    fn refill(&mut self, limit: usize) {
        if self.tail.is_none() {
            return;
        }
        if self.head > self.backlog.len() / 2 {
            self.compact();
        }
        let Some(tail) = &mut self.tail else {
            return;
        };
        tail.frames
            .encode_next(&[&tail.body], limit, &mut self.backlog);
        if tail.frames.is_done() {
            if let Some(done) = self.tail.take() {
                self.keep_body(done.body);
            }
        }
    }

    /// Encodes all of the tail: something must go out after it.
    fn materialize(&mut self) {
        while self.tail.is_some() {
            self.refill(usize::MAX);
        }
    }

    fn drop_tail(&mut self) {
        if let Some(tail) = self.tail.take() {
            self.keep_body(tail.body);
        }
    }

    fn keep_body(&mut self, mut body: Vec<u8>) {
        body.clear();
        if body.capacity() > self.tail_spare.capacity() {
            self.tail_spare = body;
        }
    }

    /// `true` if the backlog waits for `POLLOUT`.
    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked && self.has_backlog()
    }

    /// `true` while a thread writes outside the lock.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy
    }

    /// Octets waiting.
    pub(crate) fn backlog_len(&self) -> usize {
        self.backlog.len() - self.head + self.tail.as_ref().map_or(0, |t| t.frames.octets_left())
    }

    /// Marks the first `n` waiting octets written by moving `head`; the bytes stay where they
    /// are (see [`append`](Self::append)).
    fn consume(&mut self, n: usize) {
        self.head += n;
        if self.head >= self.backlog.len() {
            self.backlog.clear();
            self.head = 0;
        }
    }

    /// Appends frames behind those waiting. The written octets in front are dropped first once
    /// they are more than half the buffer, so it stays bounded by about twice what waits and
    /// each octet is moved at most about once; a backlog that is only written is never moved.
    fn append(&mut self, frames: &[u8]) {
        self.materialize();
        if self.head > self.backlog.len() / 2 {
            self.compact();
        }
        self.backlog.extend_from_slice(frames);
    }

    /// Moves the waiting octets to the start of the buffer.
    fn compact(&mut self) {
        if self.head > 0 {
            self.backlog.drain(..self.head);
            self.head = 0;
        }
    }

    /// A handle on the writer for polling `POLLOUT` without holding the state lock.
    pub(crate) fn writer_for_poll(&self) -> Option<Arc<FifoWriter>> {
        self.writer.clone()
    }

    /// Writes whole frames under the lock, in order after anything waiting or being written.
    pub(crate) fn write(&mut self, frames: &[u8]) -> Result<WriteStatus, FifoError> {
        match self.send_direct(frames) {
            Direct::Done(status) => Ok(status),
            Direct::Sent(sent) => self.settle(frames, sent, self.epoch),
        }
    }

    /// The start of [`write`](Self::write) and [`write_owned`](Self::write_owned): frames that
    /// cannot go out now (no writer, a backlog or another thread's write in front) are dealt
    /// with here; otherwise they are sent at once.
    fn send_direct(&mut self, frames: &[u8]) -> Direct {
        let Some(writer) = self.writer.clone() else {
            return Direct::Done(WriteStatus::Closed);
        };
        if frames.is_empty() {
            return Direct::Done(self.status());
        }
        if self.busy || self.has_backlog() {
            self.append(frames);
            return Direct::Done(self.status());
        }
        Direct::Sent(send(&writer, self.pipe_buf, frames, 0))
    }

    /// As [`write`](Self::write), but when the pipe fills and nothing else waits, the unsent
    /// rest is not copied: `frames` becomes the backlog and the caller gets the backlog's empty
    /// buffer back in exchange. A large answer then costs no second buffer of its size.
    pub(crate) fn write_owned(&mut self, frames: &mut Vec<u8>) -> Result<WriteStatus, FifoError> {
        let sent = match self.send_direct(frames) {
            Direct::Done(status) => return Ok(status),
            Direct::Sent(sent) => sent,
        };
        if let Ok(Sent {
            done,
            partial,
            end: SendEnd::Full,
        }) = sent
        {
            // Nothing waits and nobody else writes (checked above, under the lock): the rest
            // of `frames` is the whole backlog.
            self.backlog.clear();
            std::mem::swap(&mut self.backlog, frames);
            self.head = done;
            self.partial = partial;
            if !self.blocked {
                self.stalled_since = Some(Instant::now());
            }
            self.blocked = true;
            return Ok(self.status());
        }
        self.settle(frames, sent, self.epoch)
    }

    /// Writes a large RESPONSE whose frames are encoded while they are written, [`TAIL_CHUNK`]
    /// octets at a time: what the pipe has no room for stays unencoded (the tail) and is encoded
    /// as [`flush`](Self::flush) drains it, so the client reads the first frames while the rest
    /// is encoded. `body` is taken over; the caller gets an empty buffer back (the last tail's,
    /// so a stream of large answers swaps two buffers and allocates nothing). Behind frames
    /// that wait, or another thread's write, the answer is encoded whole instead.
    pub(crate) fn write_streamed(
        &mut self,
        frames: Fragmenter,
        body: &mut Vec<u8>,
    ) -> Result<WriteStatus, FifoError> {
        debug_assert_eq!(
            frames.payload_len(),
            body.len(),
            "the body the frames were made for"
        );
        if self.writer.is_none() {
            return Ok(WriteStatus::Closed);
        }
        let busy = self.busy || self.has_backlog();
        let mut taken = std::mem::take(&mut self.tail_spare);
        std::mem::swap(&mut taken, body);
        self.materialize();
        self.tail = Some(Tail {
            frames,
            body: taken,
        });
        if busy {
            self.materialize();
            return Ok(self.status());
        }
        self.flush()
    }

    /// Starts a write outside the lock if nothing waits and nobody writes: returns the writer,
    /// `PIPE_BUF` and the epoch for [`send`] and [`finish_send`](Self::finish_send).
    pub(crate) fn begin_send(&mut self) -> Option<(Arc<FifoWriter>, usize, u64)> {
        if self.busy || self.has_backlog() {
            return None;
        }
        let writer = self.writer.clone()?;
        self.busy = true;
        Some((writer, self.pipe_buf, self.epoch))
    }

    /// Takes the backlog for writing outside the lock (into `buf`), if it is not blocked and
    /// nobody writes. Returns the writer, `PIPE_BUF`, the partial-frame count and the epoch.
    pub(crate) fn take_backlog(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> Option<(Arc<FifoWriter>, usize, usize, u64)> {
        if self.busy || self.blocked || !self.has_backlog() {
            return None;
        }
        let writer = self.writer.clone()?;
        self.materialize();
        self.compact();
        buf.clear();
        std::mem::swap(buf, &mut self.backlog);
        let partial = std::mem::take(&mut self.partial);
        self.busy = true;
        Some((writer, self.pipe_buf, partial, self.epoch))
    }

    /// Ends a write outside the lock: what `send` did not write goes back to the front of the
    /// backlog, unless the frames were dropped meanwhile (`epoch` changed).
    pub(crate) fn finish_send(
        &mut self,
        frames: &[u8],
        sent: Result<Sent, FifoError>,
        epoch: u64,
    ) -> Result<WriteStatus, FifoError> {
        self.busy = false;
        if self.writer.is_none() {
            return Ok(WriteStatus::Closed);
        }
        self.settle(frames, sent, epoch)
    }

    /// Writes the backlog under the lock (the I/O thread on `POLLOUT`).
    pub(crate) fn flush(&mut self) -> Result<WriteStatus, FifoError> {
        let Some(writer) = self.writer.clone() else {
            return Ok(WriteStatus::Closed);
        };
        if self.busy || !self.has_backlog() {
            return Ok(self.status());
        }
        loop {
            if !self.has_encoded() {
                self.refill(TAIL_CHUNK);
            }
            // Written in place: what is written is consumed from the front, the rest stays put.
            let sent = send(
                &writer,
                self.pipe_buf,
                &self.backlog[self.head..],
                self.partial,
            )?;
            match sent.end {
                SendEnd::Gone => {
                    self.mark_gone();
                    return Ok(WriteStatus::PeerGone);
                }
                SendEnd::All => {
                    self.consume(sent.done);
                    self.partial = 0;
                    if self.tail.is_some() {
                        continue; // the next frames of a large answer
                    }
                    self.blocked = false;
                    self.stalled_since = None;
                }
                SendEnd::Full => {
                    self.consume(sent.done);
                    self.partial = sent.partial;
                    if !self.blocked || sent.done > 0 {
                        // Progress (or a new stall): the write timeout counts from now.
                        self.stalled_since = Some(Instant::now());
                    }
                    self.blocked = true;
                }
            }
            return Ok(self.status());
        }
    }

    /// Applies the result of a send of `frames`.
    fn settle(
        &mut self,
        frames: &[u8],
        sent: Result<Sent, FifoError>,
        epoch: u64,
    ) -> Result<WriteStatus, FifoError> {
        let sent = sent?;
        match sent.end {
            SendEnd::Gone => {
                self.mark_gone();
                Ok(WriteStatus::PeerGone)
            }
            SendEnd::All => {
                if !self.has_backlog() {
                    self.blocked = false;
                    self.stalled_since = None;
                }
                Ok(self.status())
            }
            SendEnd::Full => {
                if epoch == self.epoch {
                    self.put_front(&frames[sent.done..]);
                    self.partial = sent.partial;
                } else if sent.partial > 0 {
                    // The frames were dropped, but the stream must not stay inside a frame.
                    self.put_front(&frames[sent.done..sent.done + sent.partial]);
                    self.partial = sent.partial;
                }
                if self.has_backlog() {
                    if !self.blocked {
                        self.stalled_since = Some(Instant::now());
                    }
                    self.blocked = true;
                }
                Ok(self.status())
            }
        }
    }

    /// Puts the unwritten rest of a send back in front of the frames waiting (one copy).
    fn put_front(&mut self, rest: &[u8]) {
        if !self.has_encoded() {
            self.backlog.clear();
            self.head = 0;
            self.backlog.extend_from_slice(rest);
        } else if rest.len() <= self.head {
            let start = self.head - rest.len();
            self.backlog[start..self.head].copy_from_slice(rest);
            self.head = start;
        } else {
            self.compact();
            self.backlog.splice(0..0, rest.iter().copied());
        }
    }

    fn status(&self) -> WriteStatus {
        if self.has_backlog() {
            WriteStatus::Pending {
                blocked: self.blocked,
            }
        } else {
            WriteStatus::Flushed
        }
    }

    /// `EPIPE`: the reader is gone; nothing more can be written.
    fn mark_gone(&mut self) {
        self.writer = None;
        self.drop_all();
        self.close_when_flushed = false;
    }

    /// Keeps a huge backlog buffer from holding memory once its session is over (the buffer
    /// is kept while the session lasts: the next large answer reuses it).
    fn shrink(&mut self) {
        if self.backlog.is_empty() && self.backlog.capacity() > 1 << 20 {
            self.backlog = Vec::new();
        }
        if self.tail_spare.capacity() > 1 << 20 {
            self.tail_spare = Vec::new();
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_pipe_size(writer: &FifoWriter, bytes: usize) -> Result<usize, FifoError> {
    writer.set_pipe_size(bytes)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_pipe_size(_writer: &FifoWriter, _bytes: usize) -> Result<usize, FifoError> {
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(lens: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for &len in lens {
            let start = out.len();
            out.resize(start + len, 0);
            out[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
        }
        out
    }

    // FR-FRAME-9, FR-FRAME-10: writes are runs of whole frames within the limit (PIPE_BUF for a
    // FIFO with other writers, WRITE_BATCH for pipe.out), or one frame.
    #[test]
    fn whole_frames_fit_the_limit() {
        let buf = frames(&[1000, 1000, 1000, 2000, 30]);
        assert_eq!(whole_frames(&buf, 4096), 3000);
        assert_eq!(whole_frames(&buf[3000..], 4096), 2030);
        assert_eq!(
            whole_frames(&frames(&[5000]), 4096),
            5000,
            "one frame goes whole"
        );
        assert_eq!(whole_frames(&buf, 1000), 1000);
    }

    // FR-FRAME-10: after a write the kernel cut, the rest of the cut frame is what comes next.
    #[test]
    fn partial_rest_counts_the_cut_frame() {
        let buf = frames(&[100, 200]);
        assert_eq!(partial_rest(&buf, 50), 50);
        assert_eq!(partial_rest(&buf, 150), 150);
        assert_eq!(partial_rest(&buf, 300), 0);
    }

    // A large answer that does not fit the pipe becomes the backlog without a copy, and every
    // octet still arrives in order, in runs of whole frames.
    #[test]
    fn write_owned_hands_the_unsent_rest_over_and_delivers_everything() {
        use fifo_rpc_protocol::{encode_frame, frame_type, FrameHeader};

        let (_tmp, mut reader, mut out) = opened();
        let mut answer = Vec::new();
        for request in 1..=100u32 {
            let header = FrameHeader::new(frame_type::RESPONSE, 7, request);
            let payload = vec![request as u8; 4000];
            encode_frame(&header, &[], &payload, 4096, &mut answer).unwrap();
        }
        let expected = answer.clone();
        let ptr = answer.as_ptr();
        let status = out.write_owned(&mut answer).unwrap();
        assert_eq!(status, WriteStatus::Pending { blocked: true });
        assert!(
            answer.is_empty(),
            "the caller got the empty backlog buffer back"
        );
        assert_eq!(
            out.backlog.as_ptr(),
            ptr,
            "the answer's buffer is the backlog now"
        );
        assert!(out.backlog_len() < expected.len());
        let got = drain(&mut reader, &mut out, expected.len());
        assert_eq!(got, expected);
        assert!(!out.has_backlog());
    }

    /// A service directory (with the server lock) with a 64 KiB `pipe.out`, its reader, and an
    /// open [`Output`].
    fn opened() -> (
        (tempfile::TempDir, fifo_rpc_fifo::ServerLock),
        fifo_rpc_fifo::FifoReader,
        Output,
    ) {
        use fifo_rpc_fifo::ServerLock;
        let tmp = tempfile::tempdir().unwrap();
        let dir = ServiceDir::create_or_verify(tmp.path().join("svc")).unwrap();
        let lock = ServerLock::acquire(&dir).unwrap();
        lock.reclaim_and_create().unwrap();
        let reader = dir.open_reader(PIPE_OUT).unwrap();
        let mut out = Output::new(4096, Some(64 * 1024));
        assert!(out.open(&dir).unwrap().0);
        ((tmp, lock), reader, out)
    }

    /// Reads `pipe.out` until `want` octets came, flushing `out` whenever the pipe is empty.
    fn drain(reader: &mut fifo_rpc_fifo::FifoReader, out: &mut Output, want: usize) -> Vec<u8> {
        use fifo_rpc_fifo::ReadOutcome;
        let mut got = Vec::new();
        let mut buf = vec![0; 48 * 1024];
        for _ in 0..1_000_000 {
            if got.len() >= want {
                break;
            }
            match reader.read(&mut buf).unwrap() {
                ReadOutcome::Data(n) => got.extend_from_slice(&buf[..n]),
                ReadOutcome::WouldBlock => {
                    out.flush().unwrap();
                }
                ReadOutcome::Eof => panic!("end of stream"),
            }
        }
        got
    }

    // FR-FRAG-1, FR-FRAME-10: a 1 MiB answer through a 64 KiB pipe is encoded while it is
    // written: what the pipe has no room for stays unencoded, the caller's buffer is swapped
    // for the previous answer's, and the octets are exactly those of the whole encoding, in
    // writes of up to WRITE_BATCH octets that the kernel may cut (the cut frame's rest goes first).
    #[test]
    fn write_streamed_encodes_as_the_pipe_drains_and_sends_the_exact_frames() {
        use fifo_rpc_protocol::{encode_message, frame_type, Fragmenter};

        let (_tmp, mut reader, mut out) = opened();
        for round in 0..2u8 {
            let body: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8 ^ round).collect();
            let mut expected = Vec::new();
            encode_message(frame_type::RESPONSE, 7, 9, &[&body], 4096, &mut expected).unwrap();
            let frames = Fragmenter::new(frame_type::RESPONSE, 7, 9, body.len(), 4096).unwrap();
            let mut given = body.clone();
            let ptr = given.as_ptr();
            let status = out.write_streamed(frames, &mut given).unwrap();
            assert_eq!(status, WriteStatus::Pending { blocked: true });
            assert!(given.is_empty(), "the caller gets an empty buffer back");
            if round == 1 {
                assert!(
                    given.capacity() >= 1 << 20,
                    "the first answer's buffer, reused"
                );
            }
            let tail = out.tail.as_ref().expect("the rest is not encoded yet");
            assert_eq!(
                tail.body.as_ptr(),
                ptr,
                "the body was taken over, not copied"
            );
            assert!(
                out.backlog.len() <= 2 * TAIL_CHUNK,
                "{} octets encoded",
                out.backlog.len()
            );
            assert!(out.backlog_len() > 0 && out.backlog_len() < expected.len());
            let got = drain(&mut reader, &mut out, expected.len());
            assert!(got == expected, "round {round}: the stream differs");
            assert!(!out.has_backlog());
            assert!(out.tail.is_none());
        }
    }

    // Frames handed over while a large answer is still being encoded go out after all of it,
    // and a streamed answer behind waiting frames goes after them: order is kept both ways.
    #[test]
    fn frames_around_a_streamed_answer_keep_their_order() {
        use fifo_rpc_protocol::{
            encode_frame, encode_message, frame_type, Fragmenter, FrameHeader,
        };

        let (_tmp, mut reader, mut out) = opened();
        let small = |request: u32| {
            let mut f = Vec::new();
            let header = FrameHeader::new(frame_type::RESPONSE, 7, request);
            encode_frame(&header, &[], &[request as u8; 100], 4096, &mut f).unwrap();
            f
        };
        let big = |request: u32| {
            let body = vec![request as u8; 300_000];
            let mut f = Vec::new();
            encode_message(frame_type::RESPONSE, 7, request, &[&body], 4096, &mut f).unwrap();
            (body, f)
        };
        let mut expected = Vec::new();
        // 1: a streamed answer that does not fit; 2: a small answer handed over meanwhile.
        let (body1, frames1) = big(1);
        let f1 = Fragmenter::new(frame_type::RESPONSE, 7, 1, body1.len(), 4096).unwrap();
        out.write_streamed(f1, &mut body1.clone()).unwrap();
        assert!(out.tail.is_some());
        expected.extend_from_slice(&frames1);
        let s2 = small(2);
        out.write(&s2).unwrap();
        assert!(
            out.tail.is_none(),
            "encoded whole, so that answer 2 follows it"
        );
        expected.extend_from_slice(&s2);
        // 3: a streamed answer behind frames that wait: encoded whole behind them.
        let (body3, frames3) = big(3);
        let f3 = Fragmenter::new(frame_type::RESPONSE, 7, 3, body3.len(), 4096).unwrap();
        out.write_streamed(f3, &mut body3.clone()).unwrap();
        assert!(out.tail.is_none());
        expected.extend_from_slice(&frames3);
        let got = drain(&mut reader, &mut out, expected.len());
        assert!(got == expected, "the order changed");
    }

    // A session that ends drops the unencoded rest of a large answer with the backlog, but
    // finishes a frame a write cut, so the next frames start at a frame boundary.
    #[test]
    fn discarding_drops_the_tail_and_keeps_the_stream_whole() {
        use fifo_rpc_protocol::{encode_frame, frame_type, Fragmenter, FrameDecoder, FrameHeader};

        let (_tmp, mut reader, mut out) = opened();
        let body = vec![5u8; 1 << 20];
        let f = Fragmenter::new(frame_type::RESPONSE, 7, 1, body.len(), 4096).unwrap();
        out.write_streamed(f, &mut body.clone()).unwrap();
        out.discard_backlog();
        assert!(out.tail.is_none());
        let mut goodbye = Vec::new();
        let header = FrameHeader::new(frame_type::GOODBYE, 7, 0);
        encode_frame(&header, &[], &[0, 0, 0], 4096, &mut goodbye).unwrap();
        out.write(&goodbye).unwrap();
        // Read until the backlog is gone and the pipe is empty.
        let mut all = Vec::new();
        let mut buf = vec![0; 48 * 1024];
        for _ in 0..100_000 {
            match reader.read(&mut buf).unwrap() {
                fifo_rpc_fifo::ReadOutcome::Data(n) => all.extend_from_slice(&buf[..n]),
                _ if out.has_backlog() => drop(out.flush().unwrap()),
                _ => break,
            }
        }
        let mut d = FrameDecoder::new(4096);
        d.push(&all);
        let mut last = None;
        let mut count = 0;
        while let Some(frame) = d.decode() {
            let frame = frame.expect("only whole, valid frames");
            last = Some(frame.header.frame_type);
            count += 1;
        }
        assert!(count >= 2, "some answer frames, then GOODBYE");
        assert_eq!(last, Some(frame_type::GOODBYE));
    }
}
