//! [`Output`]: the server's write end of `pipe.out` and the backlog of frames waiting for room.
//!
//! The server is the only writer of `pipe.out`, but every write it makes is still a run of whole
//! frames of at most `PIPE_BUF` octets: such a write is atomic, so it either goes in whole or
//! fails with `EAGAIN`, and the stream is always at a frame boundary (a GOODBYE can follow
//! anything). Answers that find the pipe full, or find older frames waiting, go to the backlog in
//! order; the I/O thread flushes it when `poll` reports `POLLOUT` (FR-FIFO-13).

use std::sync::Arc;
use std::time::Instant;

use fifo_rpc_fifo::{FifoError, FifoWriter, ServiceDir, WriteOutcome, PIPE_OUT};

/// What a write left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteStatus {
    /// Everything is in the pipe.
    Flushed,
    /// Some frames wait in the backlog; `new` if the backlog was empty before this call (the I/O
    /// thread must start polling for `POLLOUT`).
    Pending { new: bool },
    /// `EPIPE`: the client's read end is gone. The writer is closed and the backlog dropped.
    PeerGone,
    /// No writer is open: the frames were dropped.
    Closed,
}

/// Length of the longest run of whole frames at the start of `buf` that fits in `limit` octets
/// (at least one frame, whatever its length). `buf` starts at a frame boundary.
fn whole_frames(buf: &[u8], limit: usize) -> usize {
    let mut end = 0;
    while end + 4 <= buf.len() {
        let len = usize::from(u16::from_be_bytes([buf[end + 2], buf[end + 3]])).max(1);
        let next = (end + len).min(buf.len());
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

/// What one `write(2)` did.
enum Chunk {
    Written(usize),
    Full,
    PeerGone,
}

/// One `write(2)` of `chunk`.
fn write_chunk(writer: &FifoWriter, chunk: &[u8]) -> Result<Chunk, FifoError> {
    match writer.write(chunk) {
        Ok(WriteOutcome::Written(n)) => Ok(Chunk::Written(n)),
        Ok(WriteOutcome::WouldBlock) => Ok(Chunk::Full),
        Err(FifoError::PeerGone { .. }) => Ok(Chunk::PeerGone),
        Err(e) => Err(e),
    }
}

/// The write end of `pipe.out` with its backlog.
#[derive(Debug)]
pub(crate) struct Output {
    writer: Option<Arc<FifoWriter>>,
    backlog: Vec<u8>,
    /// Octets at the start of `backlog` already written.
    pos: usize,
    /// Octets of a frame at `backlog[pos..]` that a short write left unfinished (never on Linux,
    /// where a write of at most `PIPE_BUF` octets is all or nothing).
    partial: usize,
    pipe_buf: usize,
    pipe_size: Option<usize>,
    /// When the backlog last made no progress; the write timeout counts from here.
    pub(crate) stalled_since: Option<Instant>,
    /// Close the writer once the backlog is flushed (after a final GOODBYE).
    pub(crate) close_when_flushed: bool,
    /// Frames of the session machine, staged between `poll_transmit` and `write`.
    pub(crate) staging: Vec<u8>,
}

impl Output {
    pub(crate) fn new(pipe_buf: usize, pipe_size: Option<usize>) -> Self {
        Self {
            writer: None,
            backlog: Vec::new(),
            pos: 0,
            partial: 0,
            pipe_buf: pipe_buf.max(512),
            pipe_size,
            stalled_since: None,
            close_when_flushed: false,
            staging: Vec::with_capacity(512),
        }
    }

    /// Opens the write end if it is not open. `Ok(false)`: no reader (`ENXIO`), the client is
    /// gone. A refused pipe size is returned as the second value, to be logged.
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
        self.pipe_buf = writer.pipe_buf().clamp(512, self.pipe_buf.max(512));
        let refused = self.pipe_size.and_then(|n| set_pipe_size(&writer, n).err());
        self.writer = Some(Arc::new(writer));
        Ok((true, refused))
    }

    /// Closes the write end and drops the backlog (FR-SESS-2: nothing more for that session).
    pub(crate) fn close(&mut self) {
        self.writer = None;
        self.discard_backlog();
        self.close_when_flushed = false;
    }

    /// Drops the frames not yet written, except the rest of a frame cut by a short write.
    pub(crate) fn discard_backlog(&mut self) {
        if self.partial > 0 {
            let end = self.pos + self.partial;
            self.backlog.truncate(end);
        } else {
            self.backlog.clear();
            self.pos = 0;
            self.stalled_since = None;
        }
        self.shrink();
    }

    /// `true` if frames wait for room in the pipe.
    pub(crate) fn has_backlog(&self) -> bool {
        self.pos < self.backlog.len()
    }

    /// Octets waiting.
    pub(crate) fn backlog_len(&self) -> usize {
        self.backlog.len() - self.pos
    }

    /// A handle on the writer for polling `POLLOUT` without holding the state lock.
    pub(crate) fn writer_for_poll(&self) -> Option<Arc<FifoWriter>> {
        self.writer.clone()
    }

    /// Writes whole frames, in order after anything already waiting.
    pub(crate) fn write(&mut self, frames: &[u8]) -> Result<WriteStatus, FifoError> {
        if frames.is_empty() {
            return Ok(if self.has_backlog() {
                WriteStatus::Pending { new: false }
            } else {
                WriteStatus::Flushed
            });
        }
        let Some(writer) = self.writer.clone() else {
            return Ok(WriteStatus::Closed);
        };
        if self.has_backlog() {
            self.backlog.extend_from_slice(frames);
            return Ok(WriteStatus::Pending { new: false });
        }
        let mut done = 0;
        while done < frames.len() {
            let chunk = whole_frames(&frames[done..], self.pipe_buf);
            match write_chunk(&writer, &frames[done..done + chunk])? {
                Chunk::Written(n) if n == chunk => done += n,
                Chunk::Written(n) => {
                    // A short write (not on Linux): finish the frame later, from the backlog.
                    self.partial = partial_rest(&frames[done..], n);
                    done += n;
                    break;
                }
                Chunk::Full => break,
                Chunk::PeerGone => {
                    self.mark_gone();
                    return Ok(WriteStatus::PeerGone);
                }
            }
        }
        if done == frames.len() {
            return Ok(WriteStatus::Flushed);
        }
        self.backlog.clear();
        self.pos = 0;
        self.backlog.extend_from_slice(&frames[done..]);
        self.stalled_since = Some(Instant::now());
        Ok(WriteStatus::Pending { new: true })
    }

    /// Writes as much of the backlog as the pipe takes.
    pub(crate) fn flush(&mut self) -> Result<WriteStatus, FifoError> {
        let Some(writer) = self.writer.clone() else {
            return Ok(WriteStatus::Closed);
        };
        let mut progressed = false;
        while self.has_backlog() {
            let chunk = if self.partial > 0 {
                self.partial
            } else {
                whole_frames(&self.backlog[self.pos..], self.pipe_buf)
            };
            let n = match write_chunk(&writer, &self.backlog[self.pos..self.pos + chunk])? {
                Chunk::Written(n) => n,
                Chunk::Full => break,
                Chunk::PeerGone => {
                    self.mark_gone();
                    return Ok(WriteStatus::PeerGone);
                }
            };
            progressed |= n > 0;
            self.partial = if n == chunk {
                0
            } else if self.partial > 0 {
                self.partial - n
            } else {
                partial_rest(&self.backlog[self.pos..], n)
            };
            self.pos += n;
            if n < chunk {
                break;
            }
        }
        if !self.has_backlog() {
            self.backlog.clear();
            self.pos = 0;
            self.stalled_since = None;
            self.shrink();
            return Ok(WriteStatus::Flushed);
        }
        if progressed {
            self.stalled_since = Some(Instant::now());
        }
        Ok(WriteStatus::Pending { new: false })
    }

    /// `EPIPE`: the reader is gone; nothing more can be written.
    fn mark_gone(&mut self) {
        self.writer = None;
        self.partial = 0;
        self.backlog.clear();
        self.pos = 0;
        self.stalled_since = None;
        self.close_when_flushed = false;
    }

    /// Keeps a huge backlog buffer from holding memory after a burst.
    fn shrink(&mut self) {
        if self.backlog.is_empty() && self.backlog.capacity() > 1 << 20 {
            self.backlog = Vec::new();
        }
    }
}

/// After a short write of `n` octets into `frames`, how many octets of the cut frame remain.
fn partial_rest(frames: &[u8], n: usize) -> usize {
    let mut start = 0;
    while start + 4 <= frames.len() {
        let len = usize::from(u16::from_be_bytes([frames[start + 2], frames[start + 3]])).max(1);
        if start + len > n {
            return (start + len).min(frames.len()) - n;
        }
        start += len;
    }
    0
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_pipe_size(writer: &FifoWriter, bytes: usize) -> Result<usize, FifoError> {
    writer.set_pipe_size(bytes)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_pipe_size(_writer: &FifoWriter, _bytes: usize) -> Result<usize, FifoError> {
    Ok(0)
}
